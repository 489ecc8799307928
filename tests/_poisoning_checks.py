"""Shared by the poisoning tests: equivariance cases and checks, the knowledge check."""

import numpy as np
from hypothesis import strategies as st
from sklearn.base import clone


def equivariance_case(data):
    """Draw honest rows X (n x d), a byzantine count f, a knowledge mode and a generator."""
    seed = data.draw(st.integers(0, 2**16), label="seed")
    n = data.draw(st.integers(3, 12), label="n")
    d = data.draw(st.integers(1, 8), label="d")
    f = data.draw(st.integers(1, n - 1), label="f")
    knowledge = data.draw(st.sampled_from(["full", "partial"]), label="knowledge")
    rng = np.random.RandomState(seed)
    X = rng.normal(loc=rng.normal(size=d), scale=rng.uniform(0.1, 3, size=d), size=(n, d))
    return X, f, knowledge, d, rng


def assert_equivariant(adv, X, c, b, rel=1e-9):
    """``fit_poison(c * X + b) == c * fit_poison(X) + b``, to ``rel`` of the magnitudes."""
    Xp = clone(adv).fit_poison(X)
    Xt = clone(adv).fit_poison(c * X + b)
    atol = rel * (abs(c) * np.max(np.abs(Xp)) + np.max(np.abs(b)) + 1e-300)
    np.testing.assert_allclose(Xt, c * Xp + b, rtol=1e-8, atol=atol)


def assert_partial_knowledge_uses_only_controlled_rows(adversary, X):
    """A partial-knowledge adversary ignores the rows it does not control; a full one not."""
    n = X.shape[0]  # 15 in both callers
    byzantine = np.array([2, 9, 14])
    others = np.setdiff1d(np.arange(n), byzantine)
    X_changed = X.copy()
    X_changed[others] = 5.0 * X_changed[others] + 3.0
    partial = clone(adversary).set_params(knowledge="partial")
    a = partial.fit_poison(X, byzantine=byzantine)
    b = partial.fit_poison(X_changed, byzantine=byzantine)
    np.testing.assert_array_equal(a[byzantine], b[byzantine])
    # the omniscient adversary does look at the other rows (the check is not vacuous)
    full = clone(adversary).set_params(knowledge="full")
    a = full.fit_poison(X, byzantine=byzantine)
    b = full.fit_poison(X_changed, byzantine=byzantine)
    assert not np.allclose(a[byzantine], b[byzantine])
