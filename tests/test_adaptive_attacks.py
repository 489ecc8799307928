"""The adaptive-attack suite: AdaptivePGDAttack, ThresholdAwareAttack, BlockReplacementAttack,
EnsembleAttack, and the new PGDAttack options (restarts, box, best iterate).

Tiny models only: a purifier with a small autoencoder on a synthetic 4-agent manifold, and
linear classifiers. The full-size evaluation is benchmarks/copur_adaptive.py.
"""

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.ensemble import RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_robust._numerics._pgd import adaptive_perturbation, margins
from sklearn_robust.adversaries import (
    AdaptivePGDAttack,
    BlockReplacementAttack,
    EnsembleAttack,
    FeatureFlip,
    PGDAttack,
    ThresholdAwareAttack,
    default_attack_suite,
)
from sklearn_robust.datasets import make_block_manifold
from sklearn_robust.estimators import CoPurTransformer
from sklearn_robust.metrics import make_robust_scorer
from sklearn_robust.nets import AutoencoderNet

N_BLOCKS, WIDTH = 4, 3
ATTACKED = slice(9, 12)  # the last agent's columns


def _data(n=240, seed=0):
    data = make_block_manifold(
        n, n_blocks=N_BLOCKS, block_width=WIDTH, latent_dim=2, noise=0.05, random_state=seed
    )
    return data.data, data.target


@pytest.fixture(scope="module")
def linear():
    X, y = _data()
    return X, y, LogisticRegression(C=100.0).fit(X, y)


@pytest.fixture(scope="module")
def purified():
    """A fitted [CoPur, scaler, logistic regression] pipeline and its data."""
    X, y = _data(300)
    X_train, X_test, y_train, y_test = X[:240], X[240:], y[:240], y[240:]
    ae = AutoencoderNet(module__latent_dim=2, max_epochs=60, random_state=0)
    model = make_pipeline(
        CoPurTransformer(blocks=N_BLOCKS, autoencoder=ae, max_iter=40, random_state=0),
        StandardScaler(),
        LogisticRegression(),
    ).fit(X_train, y_train)
    return X_train, X_test, y_train, y_test, model


def _model_margins(model, X, y):
    proba = model.predict_proba(X)
    index = np.searchsorted(model.classes_, y)
    rows = np.arange(len(y))
    own = proba[rows, index]
    other = proba.copy()
    other[rows, index] = -np.inf
    return other.max(axis=1) - own


# --------------------------------------------------------------------------------------------
# PGDAttack: restarts, box, best iterate, huge steps
# --------------------------------------------------------------------------------------------


def test_pgd_best_iterate_is_never_worse_than_the_last_one(linear):
    X, y, _ = linear
    # A model that is not linear, so the loss is not monotone along the path.
    clf = make_pipeline(StandardScaler(), LogisticRegression()).fit(X ** 2, y)
    model = make_pipeline(_Square(), clf)
    base = PGDAttack(blocks=N_BLOCKS, norm="inf", epsilon=0.6, step_size=0.4, max_iter=10)
    best = clone(base).fit(X).attack(X, y, estimator=model)
    last = clone(base).set_params(keep_best=False).fit(X).attack(X, y, estimator=model)
    m_best, m_last = _model_margins(model, best, y), _model_margins(model, last, y)
    assert np.all(m_best >= m_last - 1e-6)
    assert np.any(m_best > m_last + 1e-3)  # it matters on this model
    # ... and never worse than the clean row itself.
    assert np.all(m_best >= _model_margins(model, X, y) - 1e-6)


class _Square(StandardScaler):
    """x -> x**2, differentiable (a non-convex front end for the tests)."""

    def fit(self, X, y=None):
        self.n_features_in_ = X.shape[1]
        return self

    def transform(self, X):
        return np.asarray(X) ** 2

    def _torch_forward(self, X):
        return X**2


def test_pgd_restarts_are_at_least_as_strong_and_reproducible(linear):
    X, y, clf = linear
    one = PGDAttack(blocks=N_BLOCKS, norm="l2", epsilon=0.3, step_size=0.1, max_iter=5,
                    random_state=0).fit(X)
    many = clone(one).set_params(n_restarts=4).fit(X)
    m_one = _model_margins(clf, one.attack(X, y, estimator=clf), y)
    m_many = _model_margins(clf, many.attack(X, y, estimator=clf), y)
    assert np.all(m_many >= m_one - 1e-9)  # the first run is the same, more runs add options
    again = many.attack(X, y, estimator=clf)
    np.testing.assert_array_equal(many.attack(X, y, estimator=clf), again)


@pytest.mark.parametrize("clip", ["data", (-0.5, 0.5), (None, 0.0)])
def test_pgd_clip_keeps_the_attacked_entries_in_the_box(linear, clip):
    X, y, clf = linear
    attack = PGDAttack(blocks=N_BLOCKS, step_size=5.0, max_iter=10, clip=clip).fit(X)
    X_adv = attack.attack(X, y, estimator=clf)
    part = X_adv[:, ATTACKED]
    if clip == "data":
        low, high = X[:, ATTACKED].min(axis=0), X[:, ATTACKED].max(axis=0)
        np.testing.assert_array_equal(attack.clip_low_, low)
    else:
        low = -np.inf if clip[0] is None else clip[0]
        high = clip[1]
        clean = X[:, ATTACKED]
        # entries that start outside the box may only move into it
        low = np.minimum(low, clean)
        high = np.maximum(high, clean)
    assert np.all(part >= low - 1e-12) and np.all(part <= high + 1e-12)
    assert np.any(X_adv[:, ATTACKED] != X[:, ATTACKED])


def test_pgd_clip_errors(linear):
    X, y, clf = linear
    with pytest.raises(ValueError, match="pair"):
        PGDAttack(blocks=N_BLOCKS, clip=(0.0,)).fit(X)
    with pytest.raises(ValueError, match="one value per attacked column"):
        PGDAttack(blocks=N_BLOCKS, clip=([0.0, 1.0], 2.0)).fit(X)
    with pytest.raises(ValueError, match="low bound exceeds"):
        PGDAttack(blocks=N_BLOCKS, clip=(1.0, 0.0)).fit(X)


@pytest.mark.parametrize("norm, epsilon", [(None, None), ("l2", 1.0), ("inf", 1.0), ("l2", 1e308)])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_pgd_huge_step_size_never_gives_nan(linear, norm, epsilon, dtype):
    X, y, clf = linear
    X = X.astype(dtype)
    attack = PGDAttack(blocks=N_BLOCKS, step_size=1e308, max_iter=3, norm=norm, epsilon=epsilon,
                       random_start=norm is not None, random_state=0).fit(X)
    X_adv = attack.attack(X, y, estimator=clf)
    assert not np.isnan(X_adv).any()
    assert X_adv.dtype == dtype
    if norm is not None and epsilon < 1e300:
        ord_ = 2 if norm == "l2" else np.inf
        sizes = np.linalg.norm(X_adv[:, ATTACKED].astype(np.float64) - X[:, ATTACKED], ord=ord_,
                               axis=1)
        assert sizes.max() <= epsilon * (1 + 1e-6)


# --------------------------------------------------------------------------------------------
# AdaptivePGDAttack
# --------------------------------------------------------------------------------------------


def test_adaptive_pgd_beats_raw_gradient_pgd_on_a_confident_model(linear):
    X, y, clf = linear  # C=100: confident, raw-gradient steps barely move the rows
    raw = PGDAttack(blocks=N_BLOCKS, step_size=0.5, max_iter=30).fit(X)
    adaptive = AdaptivePGDAttack(blocks=N_BLOCKS, max_iter=30, random_state=0).fit(X)
    acc_raw = clf.score(raw.attack(X, y, estimator=clf), y)
    acc_adaptive = clf.score(adaptive.attack(X, y, estimator=clf), y)
    assert acc_adaptive < acc_raw - 0.2, (acc_raw, acc_adaptive)
    assert acc_adaptive <= 0.1


def test_adaptive_pgd_touches_only_the_attacked_agent_and_keeps_the_input(linear):
    X, y, clf = linear
    X_orig = X.copy()
    X_adv = AdaptivePGDAttack(blocks=N_BLOCKS, agents=[1], max_iter=5).fit(X).attack(
        X, y, estimator=clf
    )
    np.testing.assert_array_equal(X, X_orig)
    changed = np.any(X_adv != X, axis=0)
    np.testing.assert_array_equal(np.flatnonzero(changed), [3, 4, 5])


def test_adaptive_pgd_epsilon_is_a_ball_per_attacked_block(linear):
    X, y, clf = linear
    attack = AdaptivePGDAttack(blocks=N_BLOCKS, agents=[0, 3], epsilon=0.4, max_iter=10,
                               n_restarts=2, random_state=0).fit(X)
    X_adv = attack.attack(X, y, estimator=clf)
    for cols in (slice(0, 3), ATTACKED):
        assert np.linalg.norm(X_adv[:, cols] - X[:, cols], axis=1).max() <= 0.4 + 1e-9


def test_adaptive_pgd_scale_follows_the_data(linear):
    X, y, clf = linear
    scaled = LogisticRegression(C=100.0).fit(X * 1e3, y)
    a = AdaptivePGDAttack(blocks=N_BLOCKS, max_iter=20, random_state=0).fit(X)
    b = AdaptivePGDAttack(blocks=N_BLOCKS, max_iter=20, random_state=0).fit(X * 1e3)
    np.testing.assert_allclose(b.block_scale_, 1e3 * a.block_scale_)
    assert abs(clf.score(a.attack(X, y, estimator=clf), y)
               - scaled.score(b.attack(X * 1e3, y, estimator=scaled), y)) < 0.05


def test_adaptive_kernel_acceptance_is_enforced_at_every_iterate():
    # A linear model whose best direction is forbidden by the acceptance test: the kernel
    # must stay where accept says yes.
    torch_w = torch.tensor([[1.0, 0.0], [-1.0, 0.0]], dtype=torch.float64)

    def forward(Z):
        return Z.double() @ torch_w.T

    X = torch.zeros((5, 2), dtype=torch.float32)
    seen = []

    def accept(delta, rows):
        seen.append(delta.clone())
        return delta[:, 0] <= 0.3  # never beyond 0.3 on the first coordinate

    delta = adaptive_perturbation(
        forward, X, torch.tensor([0, 1]), torch.ones((5, 2), dtype=torch.bool),
        torch.zeros(5, dtype=torch.long), targeted=False, loss="margin", step_size=0.5,
        max_iter=10, n_restarts=1, onehot=torch.ones((2, 1)), scale=1.0, radius=None,
        low=None, high=None,
        accept=accept, generator=torch.Generator().manual_seed(0),
    )
    assert torch.all(delta[:, 0] <= 0.3 + 1e-12)
    assert torch.all(delta[:, 0] < 0)  # it found the allowed direction instead
    m = margins(forward(X + delta.float()), torch.zeros(5, dtype=torch.long), False)
    assert torch.all(m > 0)


# --------------------------------------------------------------------------------------------
# ThresholdAwareAttack
# --------------------------------------------------------------------------------------------


def test_threshold_aware_stays_unflagged_and_hurts(purified):
    X_train, X_test, _, y_test, model = purified
    attack = ThresholdAwareAttack(blocks=N_BLOCKS, max_iter=8, random_state=0).fit(X_train)
    X_adv = attack.attack(X_test, y_test, estimator=model)
    _, details = model[0].purify(X_adv, return_details=True)
    moved = np.any(X_adv != X_test, axis=1)
    assert moved.any()
    assert not details.corrupted[moved, 3].any()  # every row it moved passes the check
    assert model.score(X_adv, y_test) < model.score(X_test, y_test)
    np.testing.assert_array_equal(X_adv[:, :9], X_test[:, :9])


def test_threshold_aware_without_a_purifier_uses_block_norms(linear):
    X, y, clf = linear
    attack = ThresholdAwareAttack(blocks=N_BLOCKS, fractions=(0.5,), max_iter=10).fit(X)
    X_adv = attack.attack(X, y, estimator=clf)
    radius = 0.5 * attack.block_scale_[0]
    assert np.linalg.norm(X_adv[:, ATTACKED] - X[:, ATTACKED], axis=1).max() <= radius + 1e-9
    with pytest.raises(ValueError, match="positive finite"):
        ThresholdAwareAttack(blocks=N_BLOCKS, fractions=(0.0,)).fit(X)


# --------------------------------------------------------------------------------------------
# BlockReplacementAttack
# --------------------------------------------------------------------------------------------


def test_replacement_sends_genuine_blocks_or_points_of_the_line_search(linear):
    X, y, clf = linear
    attack = BlockReplacementAttack(blocks=N_BLOCKS, n_candidates=10, line_search=(),
                                    random_state=0).fit(X[:120])
    X_adv = attack.attack(X[120:], y[120:], estimator=clf)
    pool = attack.pool_[:, ATTACKED]
    moved = np.any(X_adv[:, ATTACKED] != X[120:, ATTACKED], axis=1)
    assert moved.mean() > 0.5
    # without line search every moved block is a genuine block of the pool
    for row in X_adv[moved][:, ATTACKED]:
        assert np.any(np.all(pool == row, axis=1))
    np.testing.assert_array_equal(X_adv[:, :9], X[120:, :9])
    assert clf.score(X_adv, y[120:]) < clf.score(X[120:], y[120:])


def test_replacement_line_search_helps_and_missing_blocks_stay_missing(linear):
    X, y, _ = linear
    clf = make_pipeline(SimpleImputer(), LogisticRegression(C=100.0)).fit(X, y)
    H = X[120:].copy()
    H[:5, ATTACKED] = np.nan
    plain = BlockReplacementAttack(blocks=N_BLOCKS, n_candidates=5, line_search=(),
                                   random_state=0).fit(X[:120])
    searched = clone(plain).set_params(line_search=(0.5, 1.5, 2.0)).fit(X[:120])
    a, b = plain.attack(H, y[120:], estimator=clf), searched.attack(H, y[120:], estimator=clf)
    assert np.isnan(a[:5, ATTACKED]).all() and np.isnan(b[:5, ATTACKED]).all()
    assert np.all(_model_margins(clf, b[5:], y[125:]) >= _model_margins(clf, a[5:], y[125:]) - 1e-9)


def test_replacement_needs_complete_rows_and_works_without_gradients(linear):
    X, y, _ = linear
    with pytest.raises(ValueError, match="complete, finite rows"):
        BlockReplacementAttack(blocks=N_BLOCKS).fit(np.full_like(X, np.nan))
    forest = RandomForestClassifier(n_estimators=10, random_state=0).fit(X, y)
    X_adv = BlockReplacementAttack(blocks=N_BLOCKS, n_candidates=10, random_state=0).fit(X).attack(
        X, y, estimator=forest
    )
    assert forest.score(X_adv, y) < forest.score(X, y)


# --------------------------------------------------------------------------------------------
# EnsembleAttack
# --------------------------------------------------------------------------------------------


def test_ensemble_keeps_per_row_the_strongest_member(linear):
    X, y, clf = linear
    members = [
        ("flip", FeatureFlip(amplification=3)),
        ("pgd", AdaptivePGDAttack(max_iter=5, epsilon=0.3)),
        ("replacement", BlockReplacementAttack(n_candidates=5)),
    ]
    ensemble = EnsembleAttack(members, blocks=N_BLOCKS, agents=[3], random_state=0).fit(X)
    X_adv, details = ensemble.attack(X, y, estimator=clf, return_details=True)
    accuracy = clf.score(X_adv, y)
    assert accuracy <= min(details.accuracy.values()) + 1e-12
    # every row comes from the member named in `winner` (or is the clean row)
    for name, member in ensemble.attacks_:
        rows = details.winner == name
        if rows.any():
            np.testing.assert_array_equal(X_adv[rows], member.attack(X, y, estimator=clf)[rows])
    np.testing.assert_array_equal(X_adv[details.winner == "none"], X[details.winner == "none"])
    # the ensemble sets every member's agents
    assert all(m.agents == [3] for _, m in ensemble.attacks_)
    # same seed, same attack
    again = clone(ensemble).fit(X).attack(X, y, estimator=clf)
    np.testing.assert_array_equal(X_adv, again)


def test_ensemble_skips_gradient_members_on_a_model_without_gradients(linear):
    X, y, _ = linear
    forest = RandomForestClassifier(n_estimators=10, random_state=0).fit(X, y)
    ensemble = EnsembleAttack(
        [
            ("pgd", AdaptivePGDAttack(max_iter=3)),
            ("replacement", BlockReplacementAttack(n_candidates=5)),
        ],
        blocks=N_BLOCKS, random_state=0,
    ).fit(X)
    X_adv, details = ensemble.attack(X, y, estimator=forest, return_details=True)
    assert "pgd" in details.skipped and np.isnan(details.accuracy["pgd"])
    assert forest.score(X_adv, y) < forest.score(X, y)


def test_ensemble_through_make_robust_scorer_and_errors(purified):
    X_train, X_test, _, y_test, model = purified
    small = [
        ("flip", FeatureFlip()),
        ("pgd", AdaptivePGDAttack(max_iter=3, n_restarts=1)),
    ]
    scorer = make_robust_scorer(EnsembleAttack(small, blocks=N_BLOCKS, random_state=0))
    robust = scorer(model, X_test, y_test)
    assert 0.0 <= robust <= model.score(X_test, y_test)
    with pytest.raises(ValueError, match="at least one attack"):
        EnsembleAttack([], blocks=N_BLOCKS).fit(X_train)
    with pytest.raises(ValueError, match="not an inference-time adversary"):
        EnsembleAttack([("x", LogisticRegression())], blocks=N_BLOCKS).fit(X_train)
    with pytest.raises(ValueError, match="white-box attack"):
        EnsembleAttack(small, blocks=N_BLOCKS).fit(X_train).transform(X_test)


def test_default_suite_is_complete_and_each_member_documents_its_knowledge():
    names = [name for name, _ in default_attack_suite()]
    assert names == ["pgd", "flip", "adaptive_margin", "adaptive_ce", "threshold", "replacement"]
    for cls in (AdaptivePGDAttack, ThresholdAwareAttack, BlockReplacementAttack, EnsembleAttack,
                PGDAttack):
        assert "Knowledge model" in cls.__doc__, cls.__name__
