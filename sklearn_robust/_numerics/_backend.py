"""Array-namespace helpers: decide once between numpy and torch, follow the input's device."""

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

# Column-parallel passes over X pay off from this many elements on (a thread handoff costs
# tens of microseconds; one pass over 2**20 float32 values costs a few hundred).
_PARALLEL_ELEMENTS = 2**20
_MAX_THREADS = 8
_POOLS = {}


def _torch_or_none():
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a hard dependency
        return None
    return torch


def is_torch(array):
    """True for a ``torch.Tensor`` (without importing torch when it is not loaded)."""
    torch = _torch_or_none()
    return torch is not None and isinstance(array, torch.Tensor)


def get_namespace(*arrays):
    """Return ``"torch"`` or ``"numpy"`` for the given arrays; refuse a mix of both."""
    kinds = {("torch" if is_torch(a) else "numpy") for a in arrays if a is not None}
    if len(kinds) > 1:
        names = sorted({type(a).__module__ + "." + type(a).__name__ for a in arrays})
        raise TypeError(
            f"Inputs mix numpy arrays and torch tensors ({', '.join(names)}); convert them "
            "to one kind first."
        )
    return kinds.pop() if kinds else "numpy"


def to_numpy_float64(array):
    """A small array (Gram, sketch, vector) as float64 numpy on the CPU."""
    if is_torch(array):
        return array.detach().to("cpu").double().numpy()
    return np.asarray(array, dtype=np.float64)


def n_threads(n_elements):
    """Threads for one memory-bound pass over ``n_elements`` values (1 for small inputs).

    Follows torch's intra-op thread count, which respects ``OMP_NUM_THREADS`` and the limits
    joblib sets in its workers, so a pass never uses more cores than torch's own kernels.
    """
    if n_elements < _PARALLEL_ELEMENTS:
        return 1
    torch = _torch_or_none()
    wanted = torch.get_num_threads() if torch is not None else (os.cpu_count() or 1)
    affinity = getattr(os, "sched_getaffinity", None)  # Linux only
    cores = len(affinity(0)) if affinity is not None else (os.cpu_count() or 1)
    return int(max(1, min(wanted, cores, _MAX_THREADS)))


def _pool(n_workers):
    # One pool per process: threads do not survive a fork, so a forked child gets its own.
    key = (os.getpid(), n_workers)
    pool = _POOLS.get(key)
    if pool is None:
        pool = _POOLS[key] = ThreadPoolExecutor(n_workers, thread_name_prefix="sklearn_robust")
    return pool


def over_column_ranges(fn, n_columns, n_parts):
    """``[fn(start, stop) for each of n_parts contiguous column ranges]``, run in parallel.

    numpy releases the GIL in its array loops, so memory-bound passes over disjoint column
    ranges run on several cores. The calling thread runs the first range itself; ranges are
    aligned to 64 columns so no two threads write the same cache line.
    """
    n_parts = int(max(1, min(n_parts, n_columns // 64)))
    if n_parts == 1:
        return [fn(0, n_columns)]
    step = -(-n_columns // n_parts)
    step += -step % 64
    bounds = [(a, min(n_columns, a + step)) for a in range(0, n_columns, step)]
    futures = [_pool(len(bounds) - 1).submit(fn, a, b) for a, b in bounds[1:]]
    first = fn(*bounds[0])
    return [first, *(f.result() for f in futures)]


def rows_max_abs(X, chunk_size):
    """Per-row max |x_ij| over column chunks (NaN or inf for rows holding non-finite values).

    Never materialises a full-size temporary: at most one ``n x chunk_size`` block at a time.
    """
    torch_in = is_torch(X)
    n, d = X.shape
    if torch_in:
        import torch

        out = torch.zeros(n, dtype=torch.float64, device=X.device)
        nan_rows = torch.zeros(n, dtype=torch.bool, device=X.device)
        for start in range(0, d, chunk_size):
            block = X[:, start : start + chunk_size]
            nan_rows |= torch.isnan(block).any(dim=1)
            out = torch.maximum(out, block.abs().amax(dim=1).double())
        out[nan_rows] = float("nan")
        return out.cpu().numpy()

    def part(first, last):
        out = np.zeros(n, dtype=np.float64)
        for start in range(first, last, chunk_size):
            block = X[:, start : min(last, start + chunk_size)]
            # np.max propagates NaN, so a NaN anywhere in a row makes its maximum NaN.
            np.maximum(out, np.abs(block).max(axis=1), out=out)
        return out

    # np.maximum propagates NaN too, so combining the ranges keeps NaN rows NaN.
    return np.maximum.reduce(over_column_ranges(part, d, n_threads(n * d)))
