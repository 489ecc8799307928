"""local_torch_rng: every random draw from the given generator, the global RNG untouched."""

import pytest
import torch
from torch import nn
from torch.func import vmap

from sklearn_robust.nets import local_torch_rng


def _draws(seed):
    g = torch.Generator().manual_seed(seed)
    with local_torch_rng(g):
        a = torch.rand(5)
        b = torch.empty(3).normal_()
        w = nn.init.kaiming_uniform_(torch.empty(4, 4))
        d = nn.functional.dropout(torch.ones(200), p=0.5, training=True)
        c = nn.functional.dropout2d(torch.ones(2, 8, 3, 3), p=0.5, training=True)
    return a, b, w, d, c


def test_same_generator_same_draws_and_global_state_untouched():
    state = torch.get_rng_state()
    first, second, other = _draws(0), _draws(0), _draws(1)
    assert torch.equal(torch.get_rng_state(), state)
    for x, y, z in zip(first, second, other):
        assert torch.equal(x, y)
        assert not torch.equal(x, z)


def test_dropout_keeps_its_law():
    _, _, _, d, c = _draws(0)
    # Inverted dropout: kept values are scaled by 1 / (1 - p), about half are kept.
    assert set(d.unique().tolist()) <= {0.0, 2.0} and 60 < int((d > 0).sum()) < 140
    # Channel dropout: each (sample, channel) map is all kept or all dropped.
    per_channel = c.flatten(2)
    assert torch.all(per_channel.min(dim=2).values == per_channel.max(dim=2).values)


@pytest.mark.parametrize("p", [0.5])
def test_dropout_under_vmap_draws_per_sample(p):
    g = torch.Generator().manual_seed(0)
    x = torch.ones(6, 100)
    with local_torch_rng(g):
        out = vmap(lambda v: nn.functional.dropout(v, p=p, training=True),
                   randomness="different")(x)
    masks = out > 0
    assert not all(torch.equal(masks[0], masks[i]) for i in range(1, 6))
