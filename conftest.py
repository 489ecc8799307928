"""pytest set-up for the Python blocks of README.md and docs/*.md (pytest-markdown-docs).

They are collected because ``pyproject.toml`` lists both in ``testpaths`` and passes
``--markdown-docs``; every ```python block runs on its own, ```python notest opts one out.
"""

import pytest


@pytest.fixture(autouse=True)
def _markdown_blocks_on_one_thread(request):
    """Run each README / docs block with one torch, BLAS and OpenMP thread, as the notebooks do.

    The blocks train small networks: on a 2-core machine shared with other jobs, two torch
    threads per process wait on each other and the same block runs several times slower.
    The thread counts are restored afterwards; other tests are left alone.
    """
    if request.node.get_closest_marker("markdown-docs") is None:
        yield
        return
    import torch
    from threadpoolctl import threadpool_limits

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with threadpool_limits(limits=1):
            yield
    finally:
        torch.set_num_threads(previous)
