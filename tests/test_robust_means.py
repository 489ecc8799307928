"""Tests of the baseline robust means (SampleMean ... NoRegretMean) and their kernels."""

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import optimize, stats
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning

from sklearn_robust._counts import count_from_fraction
from sklearn_robust._numerics._robust_means import (
    filter_chunk,
    krum_scores,
    pairwise_sq_distances,
    project_capped_simplex_kl,
    weighted_top_direction,
)
from sklearn_robust.adversaries import ALIE
from sklearn_robust.estimators import (
    CenteredClipping,
    CoordinateMedian,
    FilteringMean,
    GeometricMedian,
    Krum,
    MultiKrum,
    NoRegretMean,
    RandEigenMean,
    SampleMean,
    TrimmedMean,
)

ALL = [
    SampleMean(),
    CoordinateMedian(),
    TrimmedMean(),
    GeometricMedian(),
    Krum(),
    MultiKrum(),
    CenteredClipping(),
    FilteringMean(),
    NoRegretMean(),
]
ROBUST = ALL[1:]


def _ids(estimators):
    return [type(est).__name__ for est in estimators]


def _planted(seed=42, n=60, d=20, n_bad=12, shift=50.0):
    """Standard normal rows; the first ``n_bad`` rows shifted by ``shift`` in every coordinate."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    X[:n_bad] += shift
    return X


# --------------------------------------------------------------------------------------
# Exact values on small arrays
# --------------------------------------------------------------------------------------


def test_sample_mean_accumulates_in_float64():
    rng = np.random.default_rng(0)
    X = (rng.random((5000, 3)) + 1e3).astype(np.float32)
    location = SampleMean().fit(X).location_
    assert location.dtype == np.float64
    np.testing.assert_allclose(location, X.astype(np.float64).mean(axis=0), rtol=1e-14)


@pytest.mark.parametrize("n", [5, 6])
def test_coordinate_median_matches_numpy(n):
    rng = np.random.default_rng(n)
    X = rng.normal(size=(n, 4))
    np.testing.assert_array_equal(CoordinateMedian().fit(X).location_, np.median(X, axis=0))


def test_coordinate_median_tiny():
    X = np.array([[1.0, -1.0], [3.0, 10.0], [2.0, 1e9], [100.0, 0.0]])
    np.testing.assert_array_equal(CoordinateMedian().fit(X).location_, [2.5, 5.0])


@pytest.mark.parametrize("n", [7, 10, 11, 100])
@pytest.mark.parametrize("trim", [0.0, 0.1, 0.25, 0.29, 0.49])
def test_trimmed_mean_matches_scipy(n, trim):
    rng = np.random.default_rng(n)
    X = rng.standard_cauchy(size=(n, 3))
    est = TrimmedMean(trim=trim).fit(X)
    # The library's rule for counts rounds before flooring (0.29 * 100 gives 29, scipy's plain
    # floor 28); scipy is told the same count, as (k + 1/2) / n, to compare the values.
    k = count_from_fraction(trim, n)
    assert est.n_trimmed_ == k
    expected = stats.trim_mean(X, (k + 0.5) / n, axis=0)
    np.testing.assert_allclose(est.location_, expected, rtol=1e-12)


def test_counts_from_fractions_agree_across_the_library():
    # One rule: TrimmedMean(trim=f/n) trims f, NoRegretMean(eps) prunes what ALIE poisons.
    for n in range(2, 300):
        for f in range(0, n // 2):
            assert count_from_fraction(f / n, n) == f
    X = np.random.default_rng(0).normal(size=(100, 4))
    assert TrimmedMean(trim=0.29).fit(X).n_trimmed_ == 29
    assert ALIE(n_byzantine=0.29).fit(X).n_byzantine_ == 29
    assert (~NoRegretMean(eps=0.07).fit(X).support_).sum() == 7
    X49 = np.random.default_rng(1).normal(size=(49, 4))
    assert TrimmedMean(trim=1 / 49).fit(X49).n_trimmed_ == 1


def test_non_finite_rows_count_toward_the_byzantine_budget():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(100, 50))
    X[80:] = np.inf  # ByzFL's Inf attack: the 20 byzantine rows are already out
    honest = X[:80]
    assert TrimmedMean(trim=0.2).fit(X).n_trimmed_ == 0
    for est in [MultiKrum(n_byzantine=0.2), NoRegretMean(eps=0.2), FilteringMean(eps=0.2),
                RandEigenMean(eps=0.2, random_state=0)]:
        est.fit(X)
        assert est.support_[:80].all(), type(est).__name__
        np.testing.assert_allclose(est.location_, honest.mean(axis=0), rtol=1e-10)


def test_trimmed_mean_tiny():
    X = np.array([[0.0, 1.0], [2.0, 3.0], [4.0, 100.0], [3.0, 2.0], [1.0, -50.0]])
    np.testing.assert_array_equal(TrimmedMean(trim=0.2).fit(X).location_, [2.0, 2.0])


def _sum_of_distances(X, z):
    return np.linalg.norm(X - z, axis=1).sum()


def test_geometric_median_minimises_sum_of_distances():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(9, 3))
    X[0] += 30.0
    est = GeometricMedian(tol=1e-10, max_iter=2000).fit(X)
    ref = optimize.minimize(
        lambda z: _sum_of_distances(X, z),
        np.median(X, axis=0),
        method="Nelder-Mead",
        options={"xatol": 1e-10, "fatol": 1e-12, "maxiter": 20000},
    )
    np.testing.assert_allclose(est.location_, ref.x, atol=1e-6)
    best = _sum_of_distances(X, est.location_)
    assert best <= ref.fun + 1e-9
    for direction in np.eye(3):
        for step in (1e-3, -1e-3):
            assert best < _sum_of_distances(X, est.location_ + step * direction)
    # Not the coordinate median, nor the mean.
    assert np.linalg.norm(est.location_ - np.median(X, axis=0)) > 1e-3
    np.testing.assert_allclose(est.weights_ @ X, est.location_, atol=1e-12)
    assert 1 <= est.n_iter_ <= 2000


def test_geometric_median_tiny():
    X = np.array([[0.0, 0.0], [2.0, 0.0], [0.0, 1.0], [100.0, 100.0]])
    np.testing.assert_allclose(GeometricMedian().fit(X).location_, [2 / 3, 2 / 3], atol=1e-6)


def test_geometric_median_rotation_equivariant():
    rng = np.random.default_rng(5)
    X = rng.normal(size=(15, 4))
    X[:3] += 20.0
    Q, _ = np.linalg.qr(rng.normal(size=(4, 4)))
    a = GeometricMedian().fit(X).location_
    b = GeometricMedian().fit(X @ Q).location_
    np.testing.assert_allclose(b, a @ Q, atol=1e-6)


def test_geometric_median_convergence_warning():
    X = _planted(n=20, d=5, n_bad=4)
    with pytest.warns(ConvergenceWarning, match="max_iter=1"):
        est = GeometricMedian(max_iter=1).fit(X)
    assert est.n_iter_ == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        GeometricMedian().fit(X)


def test_geometric_median_identical_rows():
    X = np.tile([1.0, -2.0, 3.0], (5, 1))
    np.testing.assert_array_equal(GeometricMedian().fit(X).location_, X[0])


def _brute_krum_scores(X, n_byzantine):
    n = X.shape[0]
    k = n - n_byzantine - 2
    scores = []
    for i in range(n):
        d = sorted(float(np.sum((X[i] - X[j]) ** 2)) for j in range(n) if j != i)
        scores.append(sum(d[:k]))
    return np.array(scores)


def test_krum_picks_planted_row():
    rng = np.random.default_rng(7)
    honest = rng.normal(size=(9, 6))
    planted = honest.mean(axis=0)
    X = np.vstack([rng.normal(loc=40.0, size=(3, 6)), honest[:5], planted, honest[5:]])
    krum = Krum(n_byzantine=3).fit(X)
    assert np.flatnonzero(krum.support_).tolist() == [8]
    np.testing.assert_array_equal(krum.location_, planted)
    np.testing.assert_allclose(krum.scores_, _brute_krum_scores(X, 3), rtol=1e-9)
    assert krum.n_byzantine_ == 3
    assert Krum(n_byzantine=0.25).fit(X).n_byzantine_ == 3


def test_krum_tiny():
    X = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.2, 0.1], [9.0, 9.0]])
    krum = Krum(n_byzantine=1).fit(X)
    np.testing.assert_array_equal(krum.location_, [0.2, 0.1])
    np.testing.assert_allclose(krum.scores_, [1.05, 1.65, 1.85, 0.7, 290.0])


def test_krum_distances_survive_large_offset():
    rng = np.random.default_rng(8)
    X = rng.normal(size=(12, 50))
    shifted = X + 1e8
    np.testing.assert_allclose(
        pairwise_sq_distances(shifted), pairwise_sq_distances(X), rtol=1e-6, atol=1e-5
    )
    assert np.array_equal(Krum().fit(shifted).support_, Krum().fit(X).support_)
    dup = np.vstack([X[:3], X[:3]]) * 1e5
    dist = pairwise_sq_distances(dup)
    assert (dist >= 0).all()
    assert np.all(np.diag(dist[:3, 3:]) == 0)


def test_multikrum_selects_best_scores():
    X = _planted(seed=1, n=20, d=5, n_bad=4)
    mk = MultiKrum(n_byzantine=4).fit(X)
    scores = _brute_krum_scores(X, 4)
    expected = np.zeros(20, dtype=bool)
    expected[np.argsort(scores)[:16]] = True
    np.testing.assert_array_equal(mk.support_, expected)
    assert not mk.support_[:4].any()
    assert mk.n_selected_ == 16
    np.testing.assert_allclose(mk.location_, X[expected].mean(axis=0), rtol=1e-12)
    mk3 = MultiKrum(n_byzantine=4, n_selected=3).fit(X)
    assert mk3.support_.sum() == 3
    np.testing.assert_array_equal(mk3.support_, np.isin(np.arange(20), np.argsort(scores)[:3]))
    krum = Krum(n_byzantine=4).fit(X)
    np.testing.assert_array_equal(
        MultiKrum(n_byzantine=4, n_selected=1).fit(X).support_, krum.support_
    )


def test_krum_scores_kernel_excludes_self():
    sq = np.array([[0.0, 1.0, 4.0], [1.0, 0.0, 9.0], [4.0, 9.0, 0.0]])
    np.testing.assert_array_equal(krum_scores(sq, 1), [1.0, 1.0, 4.0])
    np.testing.assert_array_equal(krum_scores(sq, 2), [5.0, 10.0, 13.0])


def test_centered_clipping_single_step_by_hand():
    X = np.array([[0.0, 0.0], [3.0, 4.0], [0.0, 1.0]])
    center = np.array([0.0, 0.0])
    cc = CenteredClipping(radius=2.5, n_iter=1, center=center).fit(X)
    # distances 0, 5, 1: the second row is clipped to norm 2.5.
    expected = (np.array([0.0, 0.0]) + np.array([1.5, 2.0]) + np.array([0.0, 1.0])) / 3
    np.testing.assert_allclose(cc.location_, expected, rtol=1e-15)
    assert cc.radius_ == 2.5


def test_centered_clipping_limits():
    X = _planted(n=20, d=5, n_bad=4)
    big = CenteredClipping(radius=1e12, n_iter=1).fit(X)
    np.testing.assert_allclose(big.location_, X.mean(axis=0), atol=1e-10)
    default = CenteredClipping().fit(X)
    median = np.median(X, axis=0)
    assert default.radius_ == pytest.approx(np.median(np.linalg.norm(X - median, axis=1)))
    moved = CenteredClipping(n_iter=1).fit(X).location_
    assert np.linalg.norm(moved - median) <= default.radius_ + 1e-12


def _naive_filter(X, eps, sigma, expansion):
    """FILTERING on one chunk, written plainly with the d x d covariance."""
    n = X.shape[0]
    w = np.full(n, 1.0 / n)
    for _ in range(2 * int(eps * n)):
        a = w / w.sum()
        mu = a @ X
        cov = (X - mu).T @ ((X - mu) * a[:, None])
        vals, vecs = np.linalg.eigh(cov)
        if vals[-1] <= np.sqrt(expansion) * sigma:
            break
        tau = ((X - mu) @ vecs[:, -1]) ** 2
        tau[w == 0] = 0.0
        w = w * (1 - tau / tau.max())
        w[np.argmax(tau)] = 0.0
        w /= w.sum()
    return w @ X, w


@pytest.mark.parametrize("d", [5, 50])  # covariance route (d <= n) and Gram route (d > n)
def test_filtering_matches_naive_reference(d):
    rng = np.random.default_rng(d)
    X = rng.normal(size=(30, d))
    X[:6] += rng.normal(scale=3.0, size=(6, d)) + 2.0
    sigma = 0.5
    filt = FilteringMean(eps=0.2, sigma=sigma, expansion=20, chunk_size=1000).fit(X)
    ref_loc, ref_w = _naive_filter(X, 0.2, sigma, 20)
    np.testing.assert_allclose(filt.location_, ref_loc, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(filt.weights_[0], ref_w, atol=1e-10)
    np.testing.assert_array_equal(filt.support_, ref_w > 0)
    assert filt.n_removed_ == int((ref_w == 0).sum()) > 0


def test_weighted_top_direction_gram_equals_covariance():
    rng = np.random.default_rng(11)
    Y = rng.normal(size=(8, 20))
    coef = rng.random(8)
    coef /= coef.sum()
    lam_c, proj_c = weighted_top_direction(Y, coef)
    lam_g, proj_g = weighted_top_direction(Y, coef, Y @ Y.T)
    assert lam_g == pytest.approx(lam_c, rel=1e-10)
    np.testing.assert_allclose(np.abs(proj_g), np.abs(proj_c), rtol=1e-8)


def test_filtering_chunks_are_independent():
    X = _planted(seed=4, n=30, d=25, n_bad=6, shift=5.0)
    filt = FilteringMean(chunk_size=10).fit(X)
    assert filt.weights_.shape == (3, 30)
    assert filt.sigma_.shape == (3,)
    np.testing.assert_allclose(filt.weights_.sum(axis=1), 1.0)
    for c, cols in enumerate([slice(0, 10), slice(10, 20), slice(20, 25)]):
        alone = FilteringMean(chunk_size=10).fit(X[:, cols])
        np.testing.assert_allclose(filt.location_[cols], alone.location_, rtol=1e-12)
        np.testing.assert_allclose(filt.location_[cols], filt.weights_[c] @ X[:, cols])


def test_filter_chunk_never_drops_everything():
    Y = np.array([[1.0], [-1.0], [1.0], [-1.0]])  # every row has the same score
    weights, _ = filter_chunk(Y, n_rounds=4, threshold=0.0)
    assert weights.sum() == pytest.approx(1.0)
    assert (weights > 0).any()


def test_kl_projection_onto_capped_simplex():
    rng = np.random.default_rng(2)
    q = rng.random(8) ** 3 + 1e-3
    cap = 1.0 / (0.75 * 8)
    p = project_capped_simplex_kl(q, cap)
    assert p.sum() == pytest.approx(1.0)
    assert (p <= cap * (1 + 1e-12)).all() and (p > 0).all()
    assert (p == cap).any()

    def kl(x):
        x = np.maximum(x, 1e-300)
        return float(np.sum(x * np.log(x / q)))

    ref = optimize.minimize(
        kl,
        np.full(8, 1 / 8),
        method="SLSQP",
        bounds=[(1e-12, cap)] * 8,
        constraints=[{"type": "eq", "fun": lambda x: x.sum() - 1.0}],
        options={"ftol": 1e-14, "maxiter": 500},
    )
    np.testing.assert_allclose(p, ref.x, atol=1e-6)
    assert kl(p) <= ref.fun + 1e-10
    # Uncapped input is only rescaled.
    np.testing.assert_allclose(project_capped_simplex_kl(np.ones(4), 0.5), 0.25)


def test_no_regret_soft_weights_downweight_survivors_of_pruning():
    X = _planted(n=60, d=20, n_bad=12, shift=10.0)
    nr = NoRegretMean(eps=0.1).fit(X)  # Krum prunes only ceil(6) rows: 6 outliers survive
    w = nr.weights_[0]
    assert nr.support_.sum() == 54
    m = 54
    assert w.max() <= 1 / ((1 - 0.1) * m) * (1 + 1e-12)
    assert w.sum() == pytest.approx(1.0)
    assert np.all(w[~nr.support_] == 0)
    survivors = nr.support_[:12]
    assert survivors.any()
    assert w[:12][survivors].max() < 0.2 * w[12:].min()
    np.testing.assert_allclose(nr.location_, w @ X, atol=1e-12)
    assert np.linalg.norm(nr.location_) < 0.1 * np.linalg.norm(X.mean(axis=0))


# --------------------------------------------------------------------------------------
# Properties shared by every estimator
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("estimator", ALL, ids=_ids(ALL))
@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    scale=st.floats(1e-6, 1e6),
    shift=st.floats(-100.0, 100.0),
)
def test_scale_and_translation_equivariance(estimator, seed, scale, shift):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(15, 4))
    X[:3] += rng.normal(scale=10.0, size=(3, 4))
    direction = rng.normal(size=4)
    offset = scale * shift * direction
    base = clone(estimator).fit(X)
    moved = clone(estimator).fit(scale * X + offset)
    # Relative 1e-6 of the honest spread (1) plus what the offset itself costs.
    tol = 1e-6 * scale * (1.0 + abs(shift) * np.abs(direction).max())
    np.testing.assert_allclose(moved.location_, scale * base.location_ + offset, rtol=0, atol=tol)
    np.testing.assert_array_equal(moved.support_, base.support_)


@pytest.mark.parametrize("estimator", ALL, ids=_ids(ALL))
@pytest.mark.parametrize("power", [-1000, -500, 500, 1020])
def test_extreme_magnitudes_stay_finite_and_equivariant(estimator, power):
    # Sums and squares at 2**1020 overflow and at 2**-1000 underflow without rescaling.
    X = _planted(n=12, d=4, n_bad=2, shift=5.0)
    scale = 2.0**power
    base = clone(estimator).fit(X)
    big = clone(estimator).fit(X * scale)
    assert np.isfinite(big.location_).all()
    np.testing.assert_allclose(big.location_ / scale, base.location_, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(big.support_, base.support_)


@pytest.mark.parametrize("estimator", ROBUST, ids=_ids(ROBUST))
def test_planted_contamination_bias(estimator):
    X = _planted()
    reference = np.linalg.norm(SampleMean().fit(X).location_)
    bias = np.linalg.norm(clone(estimator).fit(X).location_)
    assert reference > 40
    assert bias < 0.1 * reference


@pytest.mark.parametrize("estimator", [MultiKrum(), FilteringMean(), NoRegretMean()])
def test_spectral_and_multikrum_remove_planted_rows(estimator):
    X = _planted()
    est = clone(estimator).fit(X)
    assert np.linalg.norm(est.location_) < 0.03 * np.linalg.norm(X.mean(axis=0))
    if hasattr(est, "weights_"):
        assert est.weights_[:, :12].max() < 1e-3
        assert est.weights_[:, 12:].min() > 1e-3
    if not isinstance(est, FilteringMean):
        assert not est.support_[:12].any()
    assert est.support_[12:].sum() >= 44


def test_filtering_support_and_n_removed():
    X = _planted()
    filt = FilteringMean().fit(X)
    assert filt.n_removed_ == int((~filt.support_).sum())
    assert 0 < filt.n_removed_ <= 2 * int(0.2 * 60)
    assert not filt.support_[:12].all()
    assert filt.support_[12:].sum() >= 44


@pytest.mark.parametrize("estimator", ALL, ids=_ids(ALL))
def test_non_finite_rows_are_ignored(estimator):
    rng = np.random.default_rng(9)
    X = rng.normal(size=(25, 6))
    X[:4] += 20.0
    X_bad = np.insert(X, [2, 10, 10, 25], 0.0, axis=0)  # new rows 2, 11, 12 and 28
    X_bad[2, 0] = np.nan
    X_bad[11, 3] = np.inf
    X_bad[12, :] = -np.inf
    X_bad[28, :] = np.nan
    finite = np.isfinite(X_bad).all(axis=1)
    assert np.flatnonzero(~finite).tolist() == [2, 11, 12, 28]
    dirty = clone(estimator).fit(X_bad)
    assert np.isfinite(dirty.location_).all()
    assert dirty.support_.shape == (29,)
    assert not dirty.support_[~finite].any()
    if isinstance(estimator, (TrimmedMean, Krum, FilteringMean, NoRegretMean)):
        # Estimators with a byzantine budget (floor(0.2 * 29) = 5 rows) spend 4 of it on the
        # non-finite rows, which are byzantine by construction: 1 is left for the 25 others.
        assert dirty._byzantine_count(0.2, 25) == 1
        if isinstance(estimator, TrimmedMean):
            assert dirty.n_trimmed_ == 1
        if isinstance(estimator, Krum):
            assert dirty.n_byzantine_ == 1
        return
    # The others never look at a budget: the non-finite rows simply do not exist for them.
    clean = clone(estimator).fit(X)
    np.testing.assert_allclose(dirty.location_, clean.location_, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(dirty.support_[finite], clean.support_)


@pytest.mark.parametrize("estimator", ALL, ids=_ids(ALL))
def test_all_non_finite_rows_rejected(estimator):
    X = np.full((4, 3), np.nan)
    with pytest.raises(ValueError, match="at least one row without NaN or inf"):
        clone(estimator).fit(X)


@pytest.mark.parametrize("estimator", ALL, ids=_ids(ALL))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_input_not_modified(estimator, dtype):
    X = _planted(n=20, d=7, n_bad=4).astype(dtype)
    X[5, 2] = np.nan
    X_copy = X.copy()
    X.setflags(write=False)
    clone(estimator).fit(X)
    np.testing.assert_array_equal(X, X_copy)


@pytest.mark.parametrize("estimator", ALL, ids=_ids(ALL))
def test_float32_input(estimator):
    X = _planted(n=40, d=12, n_bad=8, shift=20.0)
    est32 = clone(estimator).fit(X.astype(np.float32))
    est64 = clone(estimator).fit(X.astype(np.float32).astype(np.float64))
    assert est32.location_.dtype == np.float64
    assert est32.location_.shape == (12,)
    assert est32.n_features_in_ == 12
    np.testing.assert_allclose(est32.location_, est64.location_, atol=1e-5)
    np.testing.assert_array_equal(est32.support_, est64.support_)


@pytest.mark.parametrize("estimator", ALL, ids=_ids(ALL))
def test_fitted_attributes(estimator):
    X = _planted(n=10, d=3, n_bad=2)
    est = clone(estimator).fit(X)
    assert est.location_.shape == (3,) and est.location_.dtype == np.float64
    assert est.support_.shape == (10,) and est.support_.dtype == bool
    assert est.support_.any()
    assert est.n_features_in_ == 3


# --------------------------------------------------------------------------------------
# Parameter errors
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "estimator, match",
    [
        (TrimmedMean(trim=0.5), "'trim' parameter"),
        (TrimmedMean(trim=-0.1), "'trim' parameter"),
        (GeometricMedian(max_iter=0), "'max_iter' parameter"),
        (GeometricMedian(tol=-1.0), "'tol' parameter"),
        (GeometricMedian(smoothing=0.0), "'smoothing' parameter"),
        (Krum(n_byzantine=0.5), "'n_byzantine' parameter"),
        (Krum(n_byzantine=-1), "'n_byzantine' parameter"),
        (MultiKrum(n_selected=0), "'n_selected' parameter"),
        (CenteredClipping(radius=0.0), "'radius' parameter"),
        (CenteredClipping(n_iter=0), "'n_iter' parameter"),
        (FilteringMean(eps=0.5), "'eps' parameter"),
        (FilteringMean(sigma=-1.0), "'sigma' parameter"),
        (FilteringMean(expansion=0), "'expansion' parameter"),
        (FilteringMean(chunk_size=0), "'chunk_size' parameter"),
        (NoRegretMean(eps=0.6), "'eps' parameter"),
        (NoRegretMean(chunk_size=1.5), "'chunk_size' parameter"),
    ],
)
def test_invalid_parameters(estimator, match):
    X = _planted(n=10, d=3, n_bad=2)
    with pytest.raises(ValueError, match=match):
        estimator.fit(X)


def test_data_dependent_parameter_errors():
    X = _planted(n=10, d=3, n_bad=2)
    with pytest.raises(ValueError, match=r"n_byzantine=10 gives 10 byzantine rows out of 10"):
        Krum(n_byzantine=10).fit(X)
    with pytest.raises(ValueError, match=r"n_selected=11 exceeds the 10 rows"):
        MultiKrum(n_selected=11).fit(X)
    with pytest.raises(ValueError, match=r"center must be a finite array of shape \(3,\)"):
        CenteredClipping(center=[0.0, 1.0]).fit(X)
    with pytest.raises(ValueError, match=r"center must be a finite array"):
        CenteredClipping(center=[0.0, np.nan, 1.0]).fit(X)


def test_parameters_stored_unchanged():
    center = [0.0, 1.0, 2.0]
    cc = CenteredClipping(center=center).fit(_planted(n=10, d=3, n_bad=2))
    assert cc.center is center
    mk = MultiKrum().fit(_planted(n=10, d=3, n_bad=2))
    assert mk.n_selected is None and mk.n_byzantine == 0.2


def test_filtering_default_threshold_sees_a_shift_the_paper_threshold_lets_through():
    # 20 of 100 rows shifted along one direction so that the top eigenvalue is ~3.6x the
    # clean edge: under sqrt(20) = 4.5x (the reference's expansion) FILTERING stops at once
    # and equals the mean; the default sqrt(8) = 2.8x filters them out.
    rng = np.random.default_rng(0)
    X = rng.normal(size=(100, 1000))
    u = rng.normal(size=1000)
    u /= np.linalg.norm(u)
    X[:20] = X[20:].mean(axis=0) + 16.8 * u + rng.normal(size=(20, 1000))
    honest = X[20:].mean(axis=0)
    mean_bias = np.linalg.norm(X.mean(axis=0) - honest)
    paper = np.linalg.norm(FilteringMean(expansion=20).fit(X).location_ - honest)
    default = np.linalg.norm(FilteringMean().fit(X).location_ - honest)
    assert paper == pytest.approx(mean_bias, rel=1e-6)
    assert default < 0.4 * mean_bias


@settings(max_examples=30, deadline=None)
@given(
    st.integers(2, 30),
    st.integers(1, 40),
    st.sampled_from([np.float32, np.float64]),
    st.integers(0, 2**31 - 1),
)
def test_chunk_median_by_sort_is_numpys_median_of_the_rescaled_chunk(n, width, dtype, seed):
    # FILTERING and NO-REGRET centre each chunk at its median: the sort of the raw chunk
    # must give exactly np.median of the float64 rescaled chunk (ties and even n included).
    from sklearn_robust._numerics._robust_means import _prepared_chunk

    rng = np.random.default_rng(seed)
    X = (rng.standard_normal((n, width + 3)) * 10.0 ** rng.integers(-20, 20)).astype(dtype)
    X[rng.integers(0, n)] = X[0]
    cols = slice(1, width + 1)
    Y, med, _, unit = _prepared_chunk(X, cols, 1.0, n)
    expected = np.median(np.divide(X[:, cols], unit, dtype=np.float64), axis=0)
    np.testing.assert_array_equal(med, expected)
    np.testing.assert_array_equal(Y, np.divide(X[:, cols], unit, dtype=np.float64) - expected)
