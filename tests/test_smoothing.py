"""Tests of the randomized smoothing and randomized ablation classifiers.

scikit-learn's estimator checks run on both from tests/test_common.py.
"""

import numpy as np
import pytest
from scipy.stats import norm
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV

from sklearn_robust.datasets import make_block_manifold
from sklearn_robust.estimators._randomized_ablation import (
    RandomizedAblationClassifier,
    _random_keep_masks,
)
from sklearn_robust.estimators._randomized_smoothing import (
    RandomizedSmoothingClassifier,
    _certified_radius,
    _clopper_pearson_lower,
)


class Recorder(ClassifierMixin, BaseEstimator):
    """Classifier that records the data it is fitted on and asked to predict."""

    def fit(self, X, y):
        self.classes_ = np.unique(y)
        self.fit_X_ = np.array(X, copy=True)
        self.predict_X_ = []
        return self

    def predict(self, X):
        self.predict_X_.append(np.array(X, copy=True))
        return self.classes_[(X[:, 0] > 0).astype(int)]


def _two_blobs(n=200, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    X = rng.standard_normal((n, 2)) * 0.5
    X[:, 0] += np.where(y == 1, 2.0, -2.0)
    return X, y


# --------------------------------------------------------------------------------------------
# RandomizedSmoothingClassifier
# --------------------------------------------------------------------------------------------


def test_clopper_pearson_lower_bound():
    # all successes: alpha ** (1 / n); none: 0; and it is below the empirical proportion
    assert _clopper_pearson_lower(100, 100, 0.01) == pytest.approx(0.01 ** (1 / 100))
    assert _clopper_pearson_lower(0, 100, 0.01) == 0.0
    assert 0.4 < _clopper_pearson_lower(500, 1000, 0.001) < 0.5
    top, radius, p_lower = _certified_radius(
        np.array([[3, 7], [5, 5]]), np.array([[100, 900], [500, 500]]), 2.0, 0.001
    )
    assert top.tolist() == [1, 0]
    assert radius[0] == pytest.approx(2.0 * norm.ppf(p_lower[0]))
    assert radius[1] == 0.0  # p_lower < 1/2: abstain


@pytest.fixture(scope="module")
def linear_smoother():
    X, y = _two_blobs()
    clf = RandomizedSmoothingClassifier(
        sigma=1.0, n_samples=100, n_samples_certify=10000, random_state=0
    ).fit(X, y)
    w = clf.estimator_.coef_.ravel()
    b = clf.estimator_.intercept_[0]
    return clf, w, b


def test_certified_radius_matches_linear_closed_form(linear_smoother):
    # For a linear base classifier the exact radius is the distance to the boundary,
    # |w.x + b| / ||w|| (Cohen et al., Section 3.1); the certificate is a lower bound on it.
    clf, w, b = linear_smoother
    rng = np.random.default_rng(1)
    distances = np.linspace(0.3, 2.0, 20)
    signs = rng.choice([-1.0, 1.0], distances.size)
    along = rng.standard_normal(distances.size)
    unit = w / np.linalg.norm(w)
    ortho = np.array([-unit[1], unit[0]])
    X = (-b / np.dot(w, w)) * w + np.outer(signs * distances, unit) + np.outer(along, ortho)
    true = np.abs(X @ w + b) / np.linalg.norm(w)
    np.testing.assert_allclose(true, distances)
    y_pred, radius = clf.certify(X)
    np.testing.assert_array_equal(y_pred, clf.classes_[(X @ w + b > 0).astype(int)])
    assert np.all(radius <= true * 1.001)
    ratio = radius / true
    assert ratio.min() > 0.85, ratio  # measured: 0.93 to 0.98
    assert ratio[distances >= 1.0].min() > 0.9, ratio


def test_certified_prediction_survives_perturbations(linear_smoother):
    clf, w, b = linear_smoother
    X = np.array([[-1.5, 0.3], [1.0, -0.4], [0.9, 1.0]])
    y_pred, radius = clf.certify(X)
    assert np.all(radius > 0.3)
    rng = np.random.default_rng(2)
    precise = clone(clf).set_params(n_samples=5000).fit(*_two_blobs())
    for x, label, r in zip(X, y_pred, radius, strict=True):
        directions = rng.standard_normal((8, 2))
        # the worst case for a linear model: straight towards the decision boundary
        directions[0] = -np.sign(x @ w + b) * w
        directions /= np.linalg.norm(directions, axis=1, keepdims=True)
        perturbed = x + 0.95 * r * directions
        # exact smoothed prediction (sign of the margin) and the Monte Carlo one
        assert np.all(np.sign(perturbed @ w + b) == np.sign(x @ w + b))
        assert np.all(precise.predict(perturbed) == label)


def test_abstains_on_the_decision_boundary(linear_smoother):
    clf, w, b = linear_smoother
    on_boundary = (-b / np.dot(w, w)) * w + np.array([[0.0, 0.0], [-w[1], w[0]]])
    _, radius = clf.certify(on_boundary)
    np.testing.assert_array_equal(radius, 0.0)
    proba = clf.predict_proba(on_boundary)
    assert np.all(np.abs(proba[:, 0] - 0.5) < 0.2)


def test_predict_proba_are_vote_frequencies_and_predict_their_argmax():
    X, y = _two_blobs()
    clf = RandomizedSmoothingClassifier(sigma=2.0, n_samples=37, random_state=0).fit(X, y)
    proba = clf.predict_proba(X[:20])
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_allclose(proba * 37, np.round(proba * 37))
    assert 0 < proba.min() and proba.max() < 1  # sigma=2: the votes do split
    np.testing.assert_array_equal(clf.predict(X[:20]), clf.classes_[proba.argmax(axis=1)])
    y_cert, _ = clf.certify(X[:20])
    np.testing.assert_array_equal(y_cert, clf.predict(X[:20]))


def test_block_variant_noises_only_chosen_columns():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((10, 6))
    y = np.arange(10) % 2
    clf = RandomizedSmoothingClassifier(
        Recorder(),
        blocks=[2, 3, 1],
        noise_blocks=[1],
        n_noise_copies=3,
        n_samples=7,
        random_state=0,
    ).fit(X, y)
    np.testing.assert_array_equal(clf.noise_columns_, [2, 3, 4])
    seen = clf.estimator_.fit_X_
    assert seen.shape == (30, 6)
    quiet = [0, 1, 5]
    np.testing.assert_array_equal(seen[:, quiet], np.tile(X, (3, 1))[:, quiet])
    assert np.all(seen[:, 2:5] != np.tile(X, (3, 1))[:, 2:5])
    clf.predict(X)
    (batch,) = clf.estimator_.predict_X_
    expected = np.repeat(X, 7, axis=0)
    np.testing.assert_array_equal(batch[:, quiet], expected[:, quiet])
    noise = batch[:, 2:5] - expected[:, 2:5]
    assert np.all(noise != 0)
    assert 0.1 < noise.std() < 0.5  # sigma=0.25
    # every row gets its own draws: no two rows share one
    per_row = noise.reshape(10, 7, 3)
    for i in range(10):
        for j in range(i):
            assert not np.isclose(per_row[i][:, None, :], per_row[j][None, :, :]).all(axis=2).any()


def test_rows_get_independent_noise_and_fail_independently():
    # Identical rows on the decision boundary: with one noise matrix for all rows they would
    # get identical votes (and fail together); with independent draws per row they do not.
    X, y = _two_blobs()
    clf = RandomizedSmoothingClassifier(sigma=1.0, n_samples=40, random_state=0).fit(X, y)
    w, b = clf.estimator_.coef_.ravel(), clf.estimator_.intercept_[0]
    boundary = np.tile((-b / np.dot(w, w)) * w, (200, 1))
    votes = clf.predict_proba(boundary)[:, 1] * 40
    assert np.unique(votes).size > 5
    # The votes of each row are Binomial(40, 1/2), independent across rows.
    assert abs(votes.mean() - 20) < 4 * np.sqrt(10 / 200)
    assert 0.6 * 10 < votes.var() < 1.5 * 10


def test_linear_certificate_holds_at_rate_one_minus_alpha_over_seeds():
    # For a linear base classifier the smoothed prediction is the linear one and the exact
    # radius is the distance to the boundary. CERTIFY's radius exceeds it (or certifies
    # the wrong class) only when the Clopper-Pearson bound fails, which happens with
    # probability at most alpha per row; with independent noise per row the failures are
    # independent Bernoulli draws, so their count over rows and seeds is binomial.
    X, y = _two_blobs()
    alpha, n_seeds, n_rows = 0.1, 20, 40
    clf = RandomizedSmoothingClassifier(
        sigma=1.0, n_samples=20, n_samples_certify=100, alpha=alpha, random_state=0
    ).fit(X, y)
    w, b = clf.estimator_.coef_.ravel(), clf.estimator_.intercept_[0]
    unit = w / np.linalg.norm(w)
    distances = np.linspace(0.05, 1.5, n_rows)
    points = (-b / np.dot(w, w)) * w + np.outer(distances, unit)
    failures = 0
    certified = 0
    for seed in range(n_seeds):
        # Another seed also changes the base model (its noise augmentation): each seed's
        # certificate is checked against that seed's own linear boundary.
        smoothed = clone(clf).set_params(random_state=seed).fit(X, y)
        y_pred, radius = smoothed.certify(points)
        w_s, b_s = smoothed.estimator_.coef_.ravel(), smoothed.estimator_.intercept_[0]
        true_radius = np.abs(points @ w_s + b_s) / np.linalg.norm(w_s)
        truth = clf.classes_[(points @ w_s + b_s > 0).astype(int)]
        bad = (radius > 0) & ((y_pred != truth) | (radius > true_radius))
        failures += int(bad.sum())
        certified += int((radius > 0).sum())
    n = n_seeds * n_rows
    # At most alpha of the rows, up to binomial fluctuation (3 standard deviations).
    assert failures <= alpha * n + 3 * np.sqrt(n * alpha * (1 - alpha)), failures
    assert certified > n / 2  # the test exercises the certificate, it does not abstain


def test_batching_does_not_change_votes():
    X, y = _two_blobs()
    clf = RandomizedSmoothingClassifier(sigma=1.0, n_samples=50, random_state=3).fit(X, y)
    recorder = RandomizedSmoothingClassifier(
        Recorder(), n_samples=50, batch_size=16, random_state=3
    ).fit(X, y)
    recorder.predict(X[:5])
    assert max(len(b) for b in recorder.estimator_.predict_X_) <= 16
    expected = clf.predict_proba(X[:30])
    for batch_size in (1, 7, 120):
        got = clone(clf).set_params(batch_size=batch_size).fit(X, y).predict_proba(X[:30])
        np.testing.assert_array_equal(got, expected)


def test_smoothing_reproducible_and_input_unchanged():
    X, y = _two_blobs()
    X_copy, y_copy = X.copy(), y.copy()
    clf = RandomizedSmoothingClassifier(sigma=1.5, n_samples=30, random_state=0)
    a = clf.fit(X, y).predict_proba(X)
    _, r_a = clf.certify(X[:10])
    b = clone(clf).fit(X, y).predict_proba(X)
    _, r_b = clone(clf).fit(X, y).certify(X[:10])
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(r_a, r_b)
    np.testing.assert_array_equal(X, X_copy)
    np.testing.assert_array_equal(y, y_copy)
    c = clone(clf).set_params(random_state=1).fit(X, y).predict_proba(X)
    assert not np.array_equal(a, c)


def test_smoothing_grid_search_over_sigma():
    X, y = _two_blobs(120)
    search = GridSearchCV(
        RandomizedSmoothingClassifier(LogisticRegression(), n_samples=10, random_state=0),
        {"sigma": [0.1, 1.0], "estimator__C": [0.5]},
        cv=3,
    ).fit(X, y)
    assert search.best_params_["sigma"] in (0.1, 1.0)
    assert search.best_estimator_.estimator_.C == 0.5
    assert isinstance(clone(search.best_estimator_).estimator, LogisticRegression)


@pytest.mark.parametrize(
    "params, match",
    [
        ({"noise_blocks": [3]}, r"noise_blocks must hold block indices in \[0, 3\).*\[3\]"),
        ({"noise_blocks": [0, 0]}, "lists a block more than once"),
        ({"noise_blocks": []}, "non-empty 1-D list of block indices"),
        ({"blocks": 4}, "not divisible by 4"),
        ({"sigma": 0.0}, "'sigma' parameter"),
    ],
)
def test_smoothing_errors(params, match):
    X, y = _two_blobs(20)
    X = np.hstack([X, X[:, :1]])
    clf = RandomizedSmoothingClassifier(blocks=[1, 1, 1]).set_params(**params)
    with pytest.raises(ValueError, match=match):
        clf.fit(X, y)


def test_smoothing_refuses_nan():
    X, y = _two_blobs(20)
    clf = RandomizedSmoothingClassifier(random_state=0).fit(X, y)
    X[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        clf.predict(X)


# --------------------------------------------------------------------------------------------
# RandomizedAblationClassifier
# --------------------------------------------------------------------------------------------


def test_ablated_agents_are_zero_with_indicator_zero():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((12, 6)) + 5.0  # no zero by chance
    X[0, 4:6] = np.nan  # agent 2 missing in row 0
    y = np.arange(12) % 2
    clf = RandomizedAblationClassifier(
        Recorder(),
        blocks=[2, 2, 2],
        n_keep=2,
        n_samples=9,
        n_ablation_copies=2,
        random_state=0,
    ).fit(X, y)
    seen_fit = clf.estimator_.fit_X_
    clf.predict(X)
    (seen_predict,) = clf.estimator_.predict_X_
    sources = [(seen_fit, np.tile(X, (2, 1))), (seen_predict, np.repeat(X, 9, axis=0))]
    for seen, rows in sources:
        assert seen.shape == (rows.shape[0], 9)
        assert not np.isnan(seen).any()
        indicators = seen[:, 6:]
        assert set(np.unique(indicators)) <= {0.0, 1.0}
        for agent, cols in enumerate([[0, 1], [2, 3], [4, 5]]):
            kept = indicators[:, agent] == 1
            np.testing.assert_array_equal(seen[kept][:, cols], rows[kept][:, cols])
            np.testing.assert_array_equal(seen[~kept][:, cols], 0.0)
        # exactly n_keep agents kept, except where the missing agent was drawn
        n_kept = indicators.sum(axis=1)
        missing = np.isnan(rows).any(axis=1)
        assert np.all(n_kept[~missing] == 2)
        assert np.all(n_kept[missing] <= 2) and np.all(indicators[missing, 2] == 0)
        assert (n_kept[missing] == 1).any()


def test_ablation_fill_mean():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((20, 4)) + 3.0
    y = np.arange(20) % 2
    clf = RandomizedAblationClassifier(
        Recorder(), blocks=2, n_keep=1, fill="mean", random_state=0
    ).fit(X, y)
    np.testing.assert_allclose(clf.fill_values_, X.mean(axis=0))
    seen = clf.estimator_.fit_X_
    ablated_first = seen[:, 4] == 0
    assert 0 < ablated_first.sum() < 20
    means = np.broadcast_to(X.mean(axis=0)[:2], (ablated_first.sum(), 2))
    np.testing.assert_allclose(seen[ablated_first][:, :2], means)


def test_votes_change_only_where_the_corrupted_agent_is_kept():
    # An agent changed arbitrarily can only move the votes of the subsets that keep it:
    # |proba(X) - proba(X')| <= fraction of subsets containing it (Levine & Feizi's bound).
    data = make_block_manifold(200, n_blocks=4, noise=0.1, random_state=0)
    X, y = data.data, data.target
    clf = RandomizedAblationClassifier(
        blocks=data.blocks, n_keep=1, n_samples=40, random_state=0
    ).fit(X, y)
    masks = _random_keep_masks(40, 4, 1, clf._generator())
    share = masks[:, 0].mean()
    assert 0 < share < 0.5
    X_att = X.copy()
    X_att[:, :6] = np.random.default_rng(0).standard_normal((200, 6)) * 1e3
    change = np.abs(clf.predict_proba(X_att) - clf.predict_proba(X))
    assert change.max() <= share + 1e-12
    assert change.max() > 0  # the bound is attained for some rows
    # a missing agent (NaN) is always ablated: accuracy stays high
    X_missing = X.copy()
    X_missing[:, :6] = np.nan
    assert clf.score(X_missing, y) > 0.85


def test_ablation_more_robust_to_one_flipped_agent():
    data = make_block_manifold(600, n_blocks=4, noise=0.1, random_state=0)
    X, y = data.data, data.target
    X_train, X_test, y_train, y_test = X[:400], X[400:], y[:400], y[400:]
    base = LogisticRegression().fit(X_train, y_train)
    ablation = RandomizedAblationClassifier(
        blocks=data.blocks, n_keep=1, n_samples=200, n_ablation_copies=5, random_state=0
    ).fit(X_train, y_train)
    assert base.score(X_test, y_test) > 0.9
    assert ablation.score(X_test, y_test) > 0.85
    flipped_base, flipped_ablation = [], []
    for agent in range(4):
        X_att = X_test.copy()
        cols = slice(6 * agent, 6 * agent + 6)
        X_att[:, cols] = -10.0 * X_att[:, cols]
        flipped_base.append(base.score(X_att, y_test))
        flipped_ablation.append(ablation.score(X_att, y_test))
    # measured: base 0.17 to 0.31, ablation 0.96 to 0.985
    assert min(flipped_ablation) > 0.9, flipped_ablation
    assert max(flipped_base) < 0.5, flipped_base
    assert np.mean(flipped_ablation) > np.mean(flipped_base) + 0.2, (
        flipped_ablation,
        flipped_base,
    )


def test_ablation_reproducible_and_input_unchanged():
    data = make_block_manifold(100, n_blocks=4, noise=0.1, random_state=0)
    X, y = data.data.copy(), data.target
    X[3, :6] = np.nan
    X_copy = X.copy()
    clf = RandomizedAblationClassifier(blocks=4, n_keep=2, n_samples=15, random_state=0)
    a = clf.fit(X, y).predict_proba(X)
    b = clone(clf).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(X, X_copy)
    np.testing.assert_allclose(a * 15, np.round(a * 15))
    c = clone(clf).set_params(random_state=1).fit(X, y).predict_proba(X)
    assert not np.array_equal(a, c)
    # batching does not change the votes
    d = clone(clf).set_params(batch_size=4).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(a, d)


def test_ablation_n_keep_fraction():
    X = np.random.default_rng(0).standard_normal((20, 10))
    y = np.arange(20) % 2
    # The library's one rule (count_from_fraction): rounded down, at least one agent.
    assert RandomizedAblationClassifier(blocks=5, n_keep=0.5).fit(X, y).n_keep_ == 2
    assert RandomizedAblationClassifier(blocks=5, n_keep=0.6).fit(X, y).n_keep_ == 3
    assert RandomizedAblationClassifier(blocks=5, n_keep=0.01).fit(X, y).n_keep_ == 1
    assert RandomizedAblationClassifier(blocks=5, n_keep=1.0).fit(X, y).n_keep_ == 5


@pytest.mark.parametrize(
    "params, match",
    [
        ({"n_keep": 5}, r"n_keep=5 asks to keep more agents than the 4"),
        ({"n_keep": 0}, "'n_keep' parameter"),
        ({"fill": "median"}, "'fill' parameter"),
        ({"blocks": [5, 5]}, "sum to 10"),
    ],
)
def test_ablation_errors(params, match):
    X = np.random.default_rng(0).standard_normal((20, 8))
    y = np.arange(20) % 2
    clf = RandomizedAblationClassifier(blocks=4).set_params(**params)
    with pytest.raises(ValueError, match=match):
        clf.fit(X, y)


def test_ablation_refuses_inf():
    X = np.random.default_rng(0).standard_normal((20, 4))
    y = np.arange(20) % 2
    X[0, 0] = np.inf
    with pytest.raises(ValueError, match="infinity"):
        RandomizedAblationClassifier(blocks=2).fit(X, y)


# --------------------------------------------------------------------------------------------
# Certified mode: every subset votes, and certify() counts the agents a prediction withstands
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def certified_ablation():
    data = make_block_manifold(500, n_blocks=4, noise=0.3, random_state=0)
    X, y = data.data, data.target
    clf = RandomizedAblationClassifier(
        blocks=data.blocks, n_keep=1, subsets="all", n_ablation_copies=4, random_state=0
    ).fit(X[:300], y[:300])
    return X[300:], y[300:], clf, data.blocks


def test_all_subsets_vote_once_and_ignore_the_seed(certified_ablation):
    X, y, clf, _ = certified_ablation
    proba = clf.predict_proba(X)
    np.testing.assert_allclose(proba * 4, np.round(proba * 4))  # C(4, 1) = 4 votes
    other = clone(clf).set_params(random_state=5)
    other.estimator_, other.classes_ = clf.estimator_, clf.classes_
    for attribute in ("layout_", "n_blocks_", "n_keep_", "fill_values_", "n_features_in_"):
        setattr(other, attribute, getattr(clf, attribute))
    np.testing.assert_array_equal(other.predict_proba(X), proba)


def _brute_force_certificate(clf, x):
    """Largest t such that no choice of the votes of t agents' subsets changes predict."""
    masks = clf._masks()
    votes = []
    for mask in masks:
        keep = mask[None, :] & clf.layout_.observed(x[None, :])
        from sklearn_robust.estimators._randomized_ablation import _ablate

        row = _ablate(x[None, :], keep, clf.layout_.block_of_column, clf.fill_values_)
        votes.append(int(np.searchsorted(clf.classes_, clf.estimator_.predict(row))[0]))
    votes = np.array(votes)
    n_classes = clf.classes_.size
    top = int(np.argmax(np.bincount(votes, minlength=n_classes)))
    import itertools

    certified = 0
    for t in range(1, clf.n_blocks_ + 1):
        for corrupted in itertools.combinations(range(clf.n_blocks_), t):
            touched = np.flatnonzero(masks[:, list(corrupted)].any(axis=1))
            for assignment in itertools.product(range(n_classes), repeat=touched.size):
                changed = votes.copy()
                changed[touched] = assignment
                if np.argmax(np.bincount(changed, minlength=n_classes)) != top:
                    return certified
        certified = t
    return certified


def test_exact_certificate_matches_a_brute_force_adversary(certified_ablation):
    X, y, clf, _ = certified_ablation
    y_pred, n_agents = clf.certify(X[:60])
    np.testing.assert_array_equal(y_pred, clf.predict(X[:60]))
    expected = [_brute_force_certificate(clf, x) for x in X[:60]]
    np.testing.assert_array_equal(n_agents, expected)
    assert 0 < (n_agents >= 1).mean() < 1  # both kinds of rows are exercised


def test_certified_rows_resist_any_corruption_of_one_agent(certified_ablation):
    X, y, clf, blocks = certified_ablation
    y_pred, n_agents = clf.certify(X)
    safe = n_agents >= 1
    rng = np.random.default_rng(0)
    starts = np.cumsum([0] + list(blocks))
    for agent in range(4):
        cols = slice(starts[agent], starts[agent + 1])
        for values in (
            rng.standard_normal((X.shape[0], blocks[agent])) * 1e6,
            -10 * X[:, cols],
            X[rng.permutation(X.shape[0])][:, cols],
            np.full((X.shape[0], blocks[agent]), np.nan),
        ):
            X_att = X.copy()
            X_att[:, cols] = values
            np.testing.assert_array_equal(clf.predict(X_att)[safe], y_pred[safe])


def test_random_subsets_certificate_follows_levine_feizi():
    data = make_block_manifold(400, n_blocks=4, noise=0.05, random_state=0)
    X, y = data.data, data.target
    clf = RandomizedAblationClassifier(
        blocks=data.blocks, n_keep=1, n_samples=50, n_samples_certify=400, alpha=0.01,
        n_ablation_copies=4, random_state=0,
    ).fit(X[:300], y[:300])
    y_pred, n_agents = clf.certify(X[300:])
    np.testing.assert_array_equal(y_pred, clf.predict(X[300:]))
    # with k = 1 of M = 4, Delta_1 = 1/4, Delta_2 = 1/2 and Delta_3 = 3/4: one agent needs
    # p_lower > 3/4, two agents p_lower > 1 (impossible)
    assert set(np.unique(n_agents)) <= {0, 1}
    assert (n_agents == 1).any()
    proba = clf.predict_proba(X[300:])
    assert np.all(proba.max(axis=1)[n_agents == 1] > 0.75)
