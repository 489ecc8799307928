"""TMA, DBA and MPA (the RandEigen paper's attack list) and HiDRA's paper configuration."""

import numpy as np
import pytest
import torch
from _poisoning_checks import assert_partial_knowledge_uses_only_controlled_rows
from sklearn.base import clone
from sklearn.datasets import load_digits

from sklearn_robust.adversaries import DBA, MPA, TMA, HiDRA
from sklearn_robust.adversaries._mpa import _alternating_minimization
from sklearn_robust.estimators import (
    CoordinateMedian,
    FederatedClassifier,
    FilteringMean,
    RandEigenMean,
    SampleMean,
    TrimmedMean,
)
from sklearn_robust.metrics import attack_success_rate
from sklearn_robust.nets import MLPModule


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X[:600] / 16.0, y[:600], X[600:900] / 16.0, y[600:900]


FED = {"n_clients": 10, "n_byzantine": 2, "n_rounds": 8, "batch_size": 16, "random_state": 0}


def _honest(n=30, d=12, seed=0):
    rng = np.random.RandomState(seed)
    return rng.normal(loc=rng.choice([-1.0, 1.0], size=d), scale=0.5, size=(n, d))


# ------------------------------------------------------------------------------------- TMA


def test_tma_full_knowledge_draws_beyond_the_honest_extremes():
    X = _honest()
    X[:, 0] = np.abs(X[:, 0]) + 0.1  # every honest value positive, mean up
    X[:, 1] = -np.abs(X[:, 1]) - 0.1  # every honest value negative, mean down
    bad = np.arange(24, 30)
    Xp = TMA(b=2.0, random_state=0).fit_poison(X, byzantine=bad)
    low, high = X.min(axis=0), X.max(axis=0)
    up = X.mean(axis=0) >= 0
    rows = Xp[bad]
    # independent restatement of Fang et al.'s intervals
    lo = np.where(up, np.where(low > 0, low / 2, 2 * low), high)
    hi = np.where(up, low, np.where(high > 0, 2 * high, high / 2))
    assert np.all(rows >= lo - 1e-12) and np.all(rows <= hi + 1e-12)
    # below the honest minimum where the clients move up, above the maximum elsewhere
    assert np.all(rows[:, up] <= low[up] + 1e-12) and np.all(rows[:, ~up] >= high[~up] - 1e-12)
    assert len({tuple(r) for r in rows}) == len(bad)  # independent draws per row
    np.testing.assert_array_equal(Xp[:24], X[:24])


def test_tma_partial_knowledge_uses_three_to_four_stds():
    X = _honest(seed=1)
    bad = np.arange(20, 30)
    Xp = TMA(knowledge="partial", random_state=0).fit_poison(X, byzantine=bad)
    mu, sd = X[bad].mean(axis=0), X[bad].std(axis=0, ddof=1)
    z = (Xp[bad] - mu) / sd
    up = mu >= 0
    assert np.all((z[:, up] >= -4 - 1e-9) & (z[:, up] <= -3 + 1e-9))
    assert np.all((z[:, ~up] >= 3 - 1e-9) & (z[:, ~up] <= 4 + 1e-9))
    assert_partial_knowledge_uses_only_controlled_rows(TMA(random_state=0), _honest(n=15))


def test_tma_is_scale_equivariant_and_seeded():
    X = _honest(seed=2)
    a = TMA(random_state=3).fit_poison(X)
    np.testing.assert_allclose(TMA(random_state=3).fit_poison(7.5 * X), 7.5 * a, rtol=1e-12)
    np.testing.assert_array_equal(TMA(random_state=3).fit_poison(X), a)
    assert not np.allclose(TMA(random_state=4).fit_poison(X), a)
    with pytest.raises(ValueError, match="'b' parameter"):
        TMA(b=1.0).fit_poison(X)


def test_tma_drags_trimmed_mean_and_median_against_the_honest_direction():
    X = _honest(n=50, d=40, seed=3)
    Xp = TMA(n_byzantine=10, random_state=0).fit_poison(X)
    direction = np.sign(X.mean(axis=0))
    for aggregator in (TrimmedMean(trim=0.2), CoordinateMedian()):
        clean = clone(aggregator).fit(X).location_
        attacked = clone(aggregator).fit(Xp).location_
        # every coordinate moves against the descent direction
        assert np.all((attacked - clean) * direction <= 1e-12)
        assert np.mean((attacked - clean) * direction < 0) > 0.9


# ------------------------------------------------------------------------------------- DBA


def test_dba_splits_the_trigger_across_attackers():
    attack = DBA(target_class=5, triggers=[[0, 1], [2], [5, 6]], poison_fraction=1.0)
    X, y = np.zeros((3, 8)), np.array([1, 2, 3])
    for rank, columns in [(0, [0, 1]), (1, [2]), (2, [5, 6]), (3, [0, 1]), (4, [2])]:
        Xp, yp = attack.poison_data(X, y, attacker_index=rank)
        assert np.array_equal(np.flatnonzero(Xp[0]), columns)
        assert (yp == 5).all()
    assert (X == 0).all()  # not modified
    np.testing.assert_array_equal(np.flatnonzero(attack.apply_trigger(X)[0]), [0, 1, 2, 5, 6])
    default = DBA().poison_data(np.zeros((2, 64)), np.array([1, 2]), attacker_index=1)[0]
    assert np.array_equal(np.flatnonzero(default.max(axis=0)), [61])  # 4 parts of 1 column
    poisoned = attack.fit_poison(np.ones((10, 2)), byzantine=[0, 1])
    assert attack.boost_ == 5.0 and (poisoned[:2] == 5.0).all()


def test_dba_bad_triggers():
    X, y = np.zeros((2, 4)), np.array([0, 1])
    with pytest.raises(ValueError, match="disjoint"):
        DBA(triggers=[[0, 1], [1]]).poison_data(X, y)
    with pytest.raises(ValueError, match="outside"):
        DBA(triggers=[[0], [9]]).poison_data(X, y)
    with pytest.raises(ValueError, match="non-empty"):
        DBA(triggers=[[]]).apply_trigger(X)
    with pytest.raises(ValueError, match="attacker_index"):
        DBA(triggers=[[0]]).poison_data(X, y, attacker_index=-1)


_RANKS = []


class _RankRecordingDBA(DBA):
    def poison_data(self, X, y, random_state=None, *, attacker_index=0):
        _RANKS.append(attacker_index)
        return super().poison_data(X, y, random_state, attacker_index=attacker_index)


def test_dba_in_federated_training(digits):
    X, y, X_test, y_test = digits
    _RANKS.clear()
    attack = _RankRecordingDBA(target_class=0, triggers=[[0, 1, 8, 9], [3, 4, 11, 12]])
    mean = FederatedClassifier(aggregator=SampleMean(), adversary=attack, **FED).fit(X, y)
    assert _RANKS == [0, 1]  # each byzantine client gets its own rank, in client order
    robust = FederatedClassifier(aggregator=RandEigenMean(), adversary=attack, **FED).fit(X, y)
    assert attack_success_rate(mean, X_test, y_test, attack) > 0.5
    assert attack_success_rate(robust, X_test, y_test, attack) < 0.1


# ------------------------------------------------------------------------------------- MPA


def test_mpa_on_a_matrix_boosts_the_deviation():
    X = _honest(n=10, d=5, seed=4)
    Xp = MPA(boost=3.0).fit_poison(X, byzantine=[8, 9])
    mean = X.mean(axis=0)
    np.testing.assert_allclose(Xp[8:], mean + 3.0 * (X[8:] - mean), rtol=1e-12)
    update = np.arange(5.0)
    Xp = MPA().fit_poison(X, byzantine=[8, 9], malicious_update=update)
    np.testing.assert_array_equal(Xp[8:], np.tile(update, (2, 1)))
    np.testing.assert_array_equal(Xp[:8], X[:8])
    with pytest.raises(ValueError, match="malicious_update must have shape"):
        MPA().fit_poison(X, byzantine=[9], malicious_update=np.zeros(4))


def _small_module():
    """A small MLP with weights from a local generator (the same at every call)."""
    module = MLPModule(6, 3, hidden_layer_sizes=(4,))
    n = sum(p.numel() for p in module.parameters())
    weights = 0.5 * torch.randn(n, generator=torch.Generator().manual_seed(0))
    torch.nn.utils.vector_to_parameters(weights, module.parameters())
    return module, weights


def _local_update(attack, rho=None, updates=None):
    module, params = _small_module()
    rng = np.random.RandomState(0)
    X = torch.as_tensor(rng.normal(size=(12, 6)), dtype=torch.float32)
    y = torch.as_tensor(rng.randint(0, 3, size=12))
    updates = rng.normal(size=(5, params.numel())) if updates is None else updates
    if rho is not None:
        attack = clone(attack).set_params(rho=rho)
    return attack.local_update(
        module, params, X, y, classes=np.arange(3), updates=updates,
        byzantine=np.array([False, False, False, True, True]),
        previous_aggregate=torch.zeros_like(params), lr=0.1, batch_size=4, local_epochs=2,
        generator=torch.Generator().manual_seed(0),
    ), updates


def test_mpa_local_update_stealth_and_knowledge():
    rng = np.random.RandomState(1)
    attack = MPA(target_inputs=rng.normal(size=(2, 6)), target_labels=[2, 1])
    free, updates = _local_update(attack, rho=0.0)
    stealthy, _ = _local_update(attack, rho=2.0)
    reference = updates.mean(axis=0)
    # the stealth term pulls the update towards the estimated honest update
    assert np.linalg.norm(stealthy - reference) < 0.5 * np.linalg.norm(free - reference)
    # partial knowledge: the previous aggregate, not this round's honest updates
    partial = clone(attack).set_params(knowledge="partial")
    a, _ = _local_update(partial, updates=updates)
    b, _ = _local_update(partial, updates=updates + 5.0)
    np.testing.assert_array_equal(a, b)
    c, _ = _local_update(attack, updates=updates + 5.0)
    assert not np.allclose(c, _local_update(attack, updates=updates)[0])


def test_mpa_needs_its_targets():
    with pytest.raises(ValueError, match="needs target_inputs and target_labels"):
        _local_update(MPA())
    with pytest.raises(ValueError, match="not one of the classes"):
        _local_update(MPA(target_inputs=np.zeros((1, 6)), target_labels=[7]))
    with pytest.raises(ValueError, match="one label per row"):
        _local_update(MPA(target_inputs=np.zeros((2, 6)), target_labels=[1]))


def test_mpa_in_federated_training(digits):
    X, y, X_test, y_test = digits
    attack = MPA(target_inputs=X_test[:3], target_labels=(y_test[:3] + 1) % 10, n_mal_steps=20)
    mean = FederatedClassifier(aggregator=SampleMean(), adversary=attack, **FED).fit(X, y)
    robust = FederatedClassifier(aggregator=RandEigenMean(), adversary=attack, **FED).fit(X, y)
    assert mean.adversary_.success_rate(mean) == 1.0
    assert robust.adversary_.success_rate(robust) == 0.0
    assert robust.score(X_test, y_test) > 0.8


def test_alternating_minimization_boosts_the_targeted_step():
    module, params = _small_module()
    X_t = torch.ones((1, 6))
    y_t = torch.tensor([2])
    empty = torch.zeros((0, 6)), torch.zeros(0, dtype=torch.int64)
    common = {"lr": 0.1, "batch_size": 4, "local_epochs": 1, "n_mal_steps": 3, "rho": 0.0,
              "generator": torch.Generator().manual_seed(0)}
    once = _alternating_minimization(module, params, *empty, X_t, y_t, torch.zeros_like(params),
                                     boost=1.0, **common)
    boosted = _alternating_minimization(module, params, *empty, X_t, y_t,
                                        torch.zeros_like(params), boost=4.0, **common)
    torch.testing.assert_close(boosted, 4.0 * once)


# ---------------------------------------------------------------------------- HiDRA vs FILTERING


def test_hidra_at_the_filters_threshold_is_not_detected_and_biases_every_chunk():
    rng = np.random.RandomState(0)
    n, d, chunk = 100, 3000, 1000
    X = 0.05 + 0.01 * rng.standard_normal((n, d))
    sigma = max(
        np.linalg.eigvalsh(np.cov(X[:, s : s + chunk], rowvar=False))[-1]
        for s in range(0, d, chunk)
    )
    Xp = HiDRA(n_byzantine=20, sigma=sigma).fit_poison(X)
    filt = FilteringMean(eps=0.2, sigma=sigma, expansion=20, chunk_size=chunk).fit(Xp)
    assert filt.support_[80:].all()  # the published magnitude stays under the threshold
    np.testing.assert_allclose(filt.weights_, 1.0 / n)  # not even down-weighted
    eps = 0.2
    c = np.sqrt(1 / (eps**2 + (1 - eps) ** 2 * eps)) * np.sqrt((np.sqrt(20) - 1) * sigma)
    # so FILTERING returns the plain mean of the poisoned rows, whose byzantine rows sit at
    # distance c from the honest mean, against its direction, in every chunk
    np.testing.assert_allclose(filt.location_, Xp.mean(axis=0), rtol=1e-10)
    for s in range(0, d, chunk):
        mu = X[:, s : s + chunk].mean(axis=0)
        shift = Xp[-1, s : s + chunk] - mu
        assert np.linalg.norm(shift) == pytest.approx(c, rel=1e-9)
        assert shift @ mu == pytest.approx(-c * np.linalg.norm(mu), rel=1e-9)
    # twice the magnitude is caught: the filter drops the byzantine rows
    louder = HiDRA(n_byzantine=20, sigma=4 * sigma).fit_poison(X)
    paper = FilteringMean(eps=0.2, sigma=sigma, expansion=20, chunk_size=chunk)
    assert not paper.fit(louder).support_[80:].any()
