"""Inference-time feature attacks: MissingBlocks, FeatureFlip, BlockNoise, CombinedAttack."""

from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from sklearn.base import clone
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from sklearn_robust._numerics._feature_attacks import _noise_values
from sklearn_robust.adversaries import (
    BlockNoise,
    CombinedAttack,
    FeatureFlip,
    MissingBlocks,
    SignFlip,
)
from sklearn_robust.base import BaseInferenceAdversary, is_adversary

ATTACKS = {
    "missing": MissingBlocks,
    "flip": FeatureFlip,
    "noise": BlockNoise,
}


def _bits(a):
    """Integer view of a float array: equality is bit-for-bit (NaN and -0.0 included)."""
    a = np.asarray(a)
    return a.view(f"i{a.dtype.itemsize}")


def _data(n_samples=20, n_features=6, seed=0, dtype=np.float64):
    rng = np.random.RandomState(seed)
    return (rng.standard_normal((n_samples, n_features)) * np.arange(1, n_features + 1)).astype(
        dtype
    )


def _make(kind, **params):
    if kind == "noise":
        params.setdefault("random_state", 0)
    return ATTACKS[kind](**params)


# --------------------------------------------------------------------------------------------
# Contract shared by the three block attacks
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(ATTACKS))
@pytest.mark.parametrize(
    "blocks, agents, expected_columns",
    [
        (3, None, [4, 5]),
        ([1, 3, 2], 1, [1, 2, 3]),
        ([1, 3, 2], [0, 2], [0, 4, 5]),
        ([[5, 0], [1, 3], [2, 4]], 0, [0, 5]),
        ([[5, 0], [1, 3], [2, 4]], -2, [1, 3]),
        (None, [0, -1], [0, 5]),
    ],
)
def test_only_attacked_columns_change(kind, blocks, agents, expected_columns):
    X = _data()
    attack = _make(kind, blocks=blocks, agents=agents).fit(X)
    np.testing.assert_array_equal(attack.attacked_columns_, expected_columns)
    out = attack.transform(X)
    others = np.setdiff1d(np.arange(X.shape[1]), expected_columns)
    np.testing.assert_array_equal(_bits(out[:, others]), _bits(X[:, others]))
    # Every attacked value of every row is changed (the data has no zeros or NaN).
    assert not np.any(out[:, expected_columns] == X[:, expected_columns])


@pytest.mark.parametrize("kind", sorted(ATTACKS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fit_transform_is_clean_and_transform_attacks(kind, dtype):
    X = _data(dtype=dtype)
    X_before = X.copy()
    attack = _make(kind, blocks=3)
    clean = attack.fit_transform(X)
    assert clean is not X and clean.dtype == dtype
    np.testing.assert_array_equal(_bits(clean), _bits(X))
    attacked = attack.transform(X)
    assert attacked.dtype == dtype
    assert not np.array_equal(attacked, X, equal_nan=True)
    np.testing.assert_array_equal(_bits(X), _bits(X_before))


@pytest.mark.parametrize("kind", sorted(ATTACKS))
def test_is_an_inference_adversary(kind):
    attack = _make(kind)
    assert is_adversary(attack)
    assert attack._adversary_phase == "inference"
    assert not attack._white_box


def _layouts(n_features):
    """Strategy: a random partition of ``n_features`` columns as widths or index arrays."""

    @st.composite
    def layout(draw):
        cuts = set()
        if n_features > 1:
            cuts = draw(st.sets(st.integers(1, n_features - 1), max_size=n_features - 1))
        edges = [0, *sorted(cuts), n_features]
        widths = [b - a for a, b in zip(edges[:-1], edges[1:])]
        if not draw(st.booleans()):
            return widths
        perm = draw(st.permutations(range(n_features)))
        return [list(perm[a:b]) for a, b in zip(edges[:-1], edges[1:])]

    return layout()


@st.composite
def _attack_case(draw):
    n_samples = draw(st.integers(1, 8))
    n_features = draw(st.integers(1, 7))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    finite = st.floats(allow_nan=False, allow_infinity=False, width=32)
    X_fit = draw(hnp.arrays(dtype, (n_samples, n_features), elements=finite))
    anything = st.floats(width=32, allow_nan=True, allow_infinity=True)
    X = draw(hnp.arrays(dtype, (n_samples, n_features), elements=anything))
    blocks = draw(_layouts(n_features))
    n_blocks = len(blocks)
    agents = draw(
        st.one_of(
            st.none(),
            st.just("all"),
            st.integers(-n_blocks, n_blocks - 1),
            st.lists(st.integers(0, n_blocks - 1), min_size=1, max_size=3),
        )
    )
    kind = draw(st.sampled_from(["missing", "flip", "noise", "combined"]))
    rows = draw(st.sampled_from([1.0, 0.5, 0.01]))
    seed = draw(st.integers(0, 2**16))
    if kind == "combined":
        attack = CombinedAttack(
            [
                ("missing", MissingBlocks(blocks=blocks, agents=0, rows=rows, random_state=seed)),
                ("noise", BlockNoise(blocks=blocks, agents=agents, scale=np.inf)),
            ]
        )
    else:
        extra = {}
        if kind == "noise":
            extra = {
                "scale": draw(st.sampled_from([1.0, 1e6, 1e300, np.inf])),
                "distribution": draw(st.sampled_from(["gaussian", "uniform", "constant"])),
            }
        attack = ATTACKS[kind](blocks=blocks, agents=agents, rows=rows, random_state=seed, **extra)
    return kind, attack, X_fit, X


@settings(max_examples=150, deadline=None)
@given(_attack_case())
def test_property_input_never_mutated_and_no_nan_created(case):
    kind, attack, X_fit, X = case
    X_fit_before, X_before = X_fit.copy(), X.copy()
    clean = attack.fit_transform(X_fit)
    out = attack.transform(X)
    # Inputs are untouched, bit for bit.
    np.testing.assert_array_equal(_bits(X_fit), _bits(X_fit_before))
    np.testing.assert_array_equal(_bits(X), _bits(X_before))
    np.testing.assert_array_equal(_bits(clean), _bits(X_fit))
    assert out.shape == X.shape and out.dtype == X.dtype
    # Outside the attacked columns nothing changes.
    others = np.setdiff1d(np.arange(X.shape[1]), attack.attacked_columns_)
    np.testing.assert_array_equal(_bits(out[:, others]), _bits(X[:, others]))
    # Only MissingBlocks creates NaN; the other attacks never turn a value into NaN.
    if kind in ("flip", "noise"):
        assert not (np.isnan(out) & ~np.isnan(X)).any()
    if kind == "noise" and attack.rows == 1.0:
        assert not np.isnan(out[:, attack.attacked_columns_]).any()


# --------------------------------------------------------------------------------------------
# agents, rows and layouts
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "agents, expected_blocks",
    [
        (None, [3]),
        (1, [1]),
        (-2, [2]),
        (0.5, [2, 3]),
        (0.3, [3]),
        (1.0, [0, 1, 2, 3]),
        ([2, 0, 2], [0, 2]),
        ("all", [0, 1, 2, 3]),
    ],
)
def test_agents_semantics(agents, expected_blocks):
    X = _data(n_features=8)
    attack = FeatureFlip(blocks=4, agents=agents).fit(X)
    np.testing.assert_array_equal(attack.attacked_blocks_, expected_blocks)
    expected_columns = np.concatenate([[2 * b, 2 * b + 1] for b in expected_blocks])
    np.testing.assert_array_equal(attack.attacked_columns_, expected_columns)
    changed = np.flatnonzero(np.any(attack.transform(X) != X, axis=0))
    np.testing.assert_array_equal(changed, expected_columns)


@pytest.mark.parametrize(
    "agents, match",
    [
        (4, r"agents \[4\] are out of range for a layout of 4 blocks"),
        (-5, r"agents \[-5\] are out of range"),
        ([0, 7], r"agents \[7\] are out of range"),
        (0.2, "rounds down to no agent"),
    ],
)
def test_agents_errors(agents, match):
    with pytest.raises(ValueError, match=match):
        MissingBlocks(blocks=4, agents=agents).fit(_data(n_features=8))


def _attacked_rows(attack, X):
    return np.flatnonzero(np.any(attack.transform(X) != X, axis=1))


@pytest.mark.parametrize("kind", ["flip", "noise"])
@pytest.mark.parametrize("rows, count", [(0.3, 30), (0.29, 29), (0.5, 50), (0.001, 1), (1.0, 100)])
def test_rows_fraction_exact_count(kind, rows, count):
    X = _data(n_samples=100)
    attack = _make(kind, blocks=3, rows=rows, random_state=0).fit(X)
    assert _attacked_rows(attack, X).size == count


def test_missing_blocks_rows_fraction():
    X = _data(n_samples=50)
    out = MissingBlocks(blocks=3, agents=[0, 2], rows=0.2, random_state=3).fit(X).transform(X)
    nan_rows = np.flatnonzero(np.isnan(out).any(axis=1))
    assert nan_rows.size == 10
    # In attacked rows exactly the attacked blocks are NaN; other rows are intact.
    np.testing.assert_array_equal(np.isnan(out[nan_rows]).sum(axis=0), [10, 10, 0, 0, 10, 10])
    intact = np.setdiff1d(np.arange(50), nan_rows)
    np.testing.assert_array_equal(out[intact], X[intact])


@pytest.mark.parametrize("kind", sorted(ATTACKS))
def test_rows_reproducible_with_seed_and_different_across_seeds(kind):
    X = _data(n_samples=100)
    attack = _make(kind, blocks=3, rows=0.5, random_state=7).fit(X)
    first = attack.transform(X)
    np.testing.assert_array_equal(first, attack.transform(X))
    np.testing.assert_array_equal(first, clone(attack).fit(X).transform(X))
    other = clone(attack).set_params(random_state=8).fit(X)
    second = other.transform(X)
    rows_first = np.flatnonzero(np.any(first != X, axis=1))
    rows_second = np.flatnonzero(np.any(second != X, axis=1))
    assert rows_first.size == rows_second.size == 50
    assert not np.array_equal(rows_first, rows_second)


@pytest.mark.parametrize("kind", sorted(ATTACKS))
def test_unequal_widths_and_index_arrays_agree(kind):
    X = _data(n_features=7)
    by_widths = _make(kind, blocks=[2, 4, 1], agents=1).fit(X)
    permutation = [[1, 0], [5, 2, 4, 3], [6]]
    by_index = _make(kind, blocks=permutation, agents=1).fit(X)
    np.testing.assert_array_equal(by_widths.attacked_columns_, [2, 3, 4, 5])
    np.testing.assert_array_equal(by_index.attacked_columns_, [2, 3, 4, 5])
    np.testing.assert_array_equal(by_widths.transform(X), by_index.transform(X))

    scattered = _make(kind, blocks=[[0, 6], [1, 3, 5], [2, 4]], agents=0).fit(X)
    np.testing.assert_array_equal(scattered.attacked_columns_, [0, 6])
    changed = np.flatnonzero(np.any(scattered.transform(X) != X, axis=0))
    np.testing.assert_array_equal(changed, [0, 6])


@pytest.mark.parametrize(
    "blocks, match",
    [
        ([2, 3], r"block widths \[2, 3\] sum to 5, but the data has 6 columns"),
        (4, "n_features=6 is not divisible by 4"),
        ([[0, 1], [2, 3]], r"columns \[4, 5\] are in no block"),
        ([[0, 1, 2], [2, 3, 4, 5]], r"columns \[2\] appear in blocks 0 and 1"),
        ([[0, 1, 2], [3, 4, 9]], r"column indices \[9\] out of range"),
    ],
)
@pytest.mark.parametrize("kind", sorted(ATTACKS))
def test_layout_not_matching_the_data_raises(kind, blocks, match):
    with pytest.raises(ValueError, match=match):
        _make(kind, blocks=blocks).fit(_data())


@pytest.mark.parametrize("kind", sorted(ATTACKS))
def test_transform_with_other_number_of_features_raises(kind):
    attack = _make(kind, blocks=3).fit(_data())
    with pytest.raises(ValueError, match="6 features"):
        attack.transform(_data(n_features=4))


@pytest.mark.parametrize(
    "params",
    [
        {"rows": 0.0},
        {"rows": 1.5},
        {"agents": "some"},
        {"amplification": -1.0},
        {"amplification": np.inf},
    ],
)
def test_invalid_parameters_are_refused(params):
    with pytest.raises(ValueError, match="must be"):
        FeatureFlip(**params).fit(_data())


@pytest.mark.parametrize("params", [{"scale": 0.0}, {"scale": -1.0}, {"distribution": "cauchy"}])
def test_invalid_noise_parameters_are_refused(params):
    with pytest.raises(ValueError, match="must be"):
        BlockNoise(**params).fit(_data())


# --------------------------------------------------------------------------------------------
# The attacks themselves
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("amplification", [10.0, 1.0, 2.5])
def test_flip_is_exact(dtype, amplification):
    X = _data(dtype=dtype)
    out = FeatureFlip(blocks=[2, 4], amplification=amplification).fit(X).transform(X)
    expected = X.copy()
    expected[:, 2:] = -dtype(amplification) * X[:, 2:]
    assert out.dtype == dtype
    np.testing.assert_array_equal(out, expected)


def test_flip_paper_default_is_minus_ten():
    X = _data()
    out = FeatureFlip(blocks=3).fit(X).transform(X)
    np.testing.assert_array_equal(out[:, 4:], -10.0 * X[:, 4:])


def test_flip_keeps_nan_overflows_to_inf_and_zero_amplification_never_nan():
    X = np.array([[1.0, np.nan, 3e38, -np.inf]], dtype=np.float32)
    with np.errstate(all="raise"):  # no floating-point warning escapes
        out = FeatureFlip(agents="all").fit(np.zeros((2, 4))).transform(X)
    np.testing.assert_array_equal(out, np.array([[-10.0, np.nan, -np.inf, np.inf]], np.float32))
    zero = FeatureFlip(agents="all", amplification=0.0).fit(np.zeros((2, 4))).transform(X)
    np.testing.assert_array_equal(np.isnan(zero), [[False, True, False, False]])
    np.testing.assert_array_equal(zero[0, [0, 2, 3]], [0.0, 0.0, 0.0])


def test_missing_blocks_sets_exactly_the_attacked_cells_to_nan():
    X = _data(dtype=np.float32)
    out = MissingBlocks(blocks=[1, 2, 3], agents=[0, 2]).fit(X).transform(X)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(np.isnan(out).all(axis=0), [1, 0, 0, 1, 1, 1])
    np.testing.assert_array_equal(np.isnan(out).any(axis=0), [1, 0, 0, 1, 1, 1])
    np.testing.assert_array_equal(out[:, 1:3], X[:, 1:3])


def test_noise_constant_is_scale_times_column_std():
    X = _data(n_samples=200)
    attack = BlockNoise(blocks=3, agents="all", scale=1e3, distribution="constant").fit(X)
    std = X.std(axis=0)
    np.testing.assert_allclose(attack.feature_std_, std, rtol=1e-12)
    out = attack.transform(X)
    np.testing.assert_allclose(out, np.broadcast_to(1e3 * std, X.shape), rtol=1e-12)


@pytest.mark.parametrize("distribution", ["gaussian", "uniform"])
def test_noise_magnitude_is_relative_to_clean_column_std(distribution):
    rng = np.random.RandomState(0)
    column_scales = np.array([1e-3, 1.0, 1e4])
    X_fit = rng.standard_normal((500, 3)) * column_scales
    attack = BlockNoise(agents="all", scale=50.0, distribution=distribution, random_state=0)
    attack.fit(X_fit)
    out = attack.transform(np.zeros((4000, 3)))
    # Divided by scale * std_j the values follow N(0, 1) or U(-1, 1).
    z = out / (50.0 * attack.feature_std_)
    expected_std = 1.0 if distribution == "gaussian" else 1 / np.sqrt(3)
    np.testing.assert_allclose(z.std(axis=0), expected_std, rtol=0.06)
    np.testing.assert_allclose(z.mean(axis=0), 0.0, atol=0.06)
    if distribution == "uniform":
        assert np.abs(z).max() <= 1.0
    np.testing.assert_allclose(attack.feature_std_ / column_scales, 1.0, rtol=0.1)


def test_noise_depends_on_fitted_statistics_not_on_the_attacked_data():
    X_fit = _data(n_samples=100)
    attack = BlockNoise(blocks=3, random_state=0).fit(X_fit)
    a = attack.transform(np.zeros((5, 6)))
    b = attack.transform(np.full((5, 6), 1e9))
    np.testing.assert_array_equal(a[:, 4:], b[:, 4:])


def test_noise_infinite_scale_gives_signed_inf_never_nan():
    X = _data(n_samples=200)
    for distribution, signs in [("gaussian", {-1, 1}), ("uniform", {-1, 1}), ("constant", {1})]:
        attack = BlockNoise(blocks=3, scale=np.inf, distribution=distribution, random_state=0)
        out = attack.fit(X).transform(X)
        assert np.isinf(out[:, 4:]).all()
        assert set(np.unique(np.sign(out[:, 4:])).tolist()) == signs
        assert np.isfinite(out[:, :4]).all()


def test_noise_kernel_zero_draw_times_infinite_scale_is_inf_not_nan():
    # A draw of exactly 0 is rare enough never to show up through the public API; a stub
    # generator forces it: 0 * inf must give +inf, not NaN.
    zeros = SimpleNamespace(
        standard_normal=np.zeros, uniform=lambda low, high, size: np.zeros(size)
    )
    for distribution in ("gaussian", "uniform"):
        values = _noise_values(3, np.array([1.0, 1e300]), np.inf, distribution, zeros, np.float32)
        assert values.dtype == np.float32
        np.testing.assert_array_equal(values, np.full((3, 2), np.inf, dtype=np.float32))


def test_noise_zero_variance_and_empty_columns_get_a_finite_positive_std():
    X = _data(n_samples=30, n_features=4)
    X[:, 1] = 5.0  # constant
    X[:, 2] = np.nan  # never observed
    std_others = X[:, [0, 3]].std(axis=0)
    rms = np.sqrt(np.mean(std_others**2))
    attack = BlockNoise(agents="all", scale=np.inf, distribution="gaussian", random_state=0)
    attack.fit(X)
    np.testing.assert_allclose(attack.feature_std_, [std_others[0], rms, rms, std_others[1]])
    assert not np.isnan(attack.transform(X)).any()
    finite = BlockNoise(agents="all", scale=2.0, distribution="constant").fit(X).transform(X)
    np.testing.assert_allclose(finite[0], 2.0 * attack.feature_std_)


def test_noise_on_constant_data_uses_unit_std():
    X = np.ones((10, 3))
    attack = BlockNoise(agents="all", scale=7.0, distribution="constant").fit(X)
    np.testing.assert_array_equal(attack.feature_std_, [1.0, 1.0, 1.0])
    np.testing.assert_array_equal(attack.transform(X), np.full((10, 3), 7.0))


def test_noise_nan_aware_std_and_huge_values_do_not_overflow():
    X = np.array([[1e300, 1.0], [-1e300, np.nan], [np.nan, 3.0]])
    attack = BlockNoise(agents="all", scale=1e10, distribution="constant").fit(X)
    np.testing.assert_allclose(attack.feature_std_, [1e300, 1.0])
    with np.errstate(all="raise"):
        out = attack.transform(X)
    np.testing.assert_array_equal(out[:, 0], np.inf)  # 1e310 overflows to inf, not NaN
    np.testing.assert_allclose(out[:, 1], 1e10)


def test_noise_float32_overflow_gives_inf_and_same_draws_as_float64():
    X = _data(n_samples=50)
    attack = BlockNoise(blocks=3, scale=1e6, random_state=0).fit(X)
    out64 = attack.transform(X)
    out32 = attack.transform(X.astype(np.float32))
    assert out32.dtype == np.float32
    np.testing.assert_allclose(out32[:, 4:], out64[:, 4:], rtol=1e-6)
    huge = BlockNoise(blocks=3, scale=1e300, random_state=0).fit(X)
    with np.errstate(all="raise"):
        out = huge.transform(X.astype(np.float32))
    assert np.isinf(out[:, 4:]).all() and not np.isnan(out).any()


# --------------------------------------------------------------------------------------------
# Pipelines and pandas
# --------------------------------------------------------------------------------------------


def test_pipeline_trains_clean_and_predicts_attacked():
    X, y = make_classification(
        n_samples=400, n_features=8, n_informative=8, n_redundant=0, random_state=0
    )
    pipe = Pipeline(
        [("attack", FeatureFlip(blocks=4, agents=[2, 3])), ("clf", LogisticRegression())]
    ).fit(X, y)
    alone = LogisticRegression().fit(X, y)
    np.testing.assert_array_equal(pipe[-1].coef_, alone.coef_)
    np.testing.assert_array_equal(pipe[-1].intercept_, alone.intercept_)
    clean_accuracy = alone.score(X, y)
    attacked_accuracy = pipe.score(X, y)
    np.testing.assert_array_equal(
        pipe.predict(X), alone.predict(FeatureFlip(blocks=4, agents=[2, 3]).fit(X).transform(X))
    )
    assert clean_accuracy > 0.8
    assert attacked_accuracy < clean_accuracy - 0.2


@pytest.mark.parametrize("kind", sorted(ATTACKS))
def test_set_output_pandas(kind):
    pd = pytest.importorskip("pandas")
    X = pd.DataFrame(_data(), columns=[f"agent{j // 2}_{j % 2}" for j in range(6)])
    attack = _make(kind, blocks=3).set_output(transform="pandas").fit(X)
    out = attack.transform(X)
    assert isinstance(out, pd.DataFrame)
    assert list(out.columns) == list(X.columns)
    np.testing.assert_array_equal(out.iloc[:, :4].to_numpy(), X.iloc[:, :4].to_numpy())
    assert not np.array_equal(out.iloc[:, 4:].to_numpy(), X.iloc[:, 4:].to_numpy())
    clean = attack.fit_transform(X)
    assert isinstance(clean, pd.DataFrame)
    pd.testing.assert_frame_equal(clean, X)
    np.testing.assert_array_equal(attack.get_feature_names_out(), X.columns)


# --------------------------------------------------------------------------------------------
# CombinedAttack
# --------------------------------------------------------------------------------------------


def _table2_attack():
    return CombinedAttack(
        [
            ("missing", MissingBlocks(blocks=3, agents=0)),
            ("flip", FeatureFlip(blocks=3, agents=-1, amplification=3.0)),
        ]
    )


def test_combined_applies_attacks_in_order_and_unions_blocks():
    X = _data()
    combined = _table2_attack()
    clean = combined.fit_transform(X)
    np.testing.assert_array_equal(clean, X)
    out = combined.transform(X)
    assert np.isnan(out[:, :2]).all()
    np.testing.assert_array_equal(out[:, 2:4], X[:, 2:4])
    np.testing.assert_array_equal(out[:, 4:], -3.0 * X[:, 4:])
    np.testing.assert_array_equal(combined.attacked_blocks_, [0, 2])
    np.testing.assert_array_equal(combined.attacked_columns_, [0, 1, 4, 5])
    assert combined.layout_ == combined.attacks_[0][1].layout_
    assert combined.n_features_in_ == 6
    assert is_adversary(combined) and combined._adversary_phase == "inference"
    assert isinstance(combined, BaseInferenceAdversary)


def test_combined_order_matters_on_the_same_block():
    X = _data()
    noise = BlockNoise(blocks=3, scale=5.0, distribution="constant")
    missing = MissingBlocks(blocks=3)
    noise_last = CombinedAttack([("missing", missing), ("noise", noise)]).fit(X).transform(X)
    missing_last = CombinedAttack([("noise", noise), ("missing", missing)]).fit(X).transform(X)
    assert np.isfinite(noise_last).all()
    assert np.isnan(missing_last[:, 4:]).all()


def test_combined_default_is_a_single_feature_flip():
    X = _data()
    combined = CombinedAttack().fit(X)
    np.testing.assert_array_equal(combined.transform(X), FeatureFlip().fit(X).transform(X))
    assert combined.attacks is None
    assert [name for name, _ in combined.attacks_] == ["flip"]


def test_combined_clone_and_nested_params():
    combined = _table2_attack()
    params = combined.get_params()
    assert params["flip__amplification"] == 3.0
    assert params["missing__agents"] == 0
    assert params["flip"] is combined.attacks[1][1]
    assert set(combined.get_params(deep=False)) == {"attacks"}

    combined.set_params(flip__amplification=7.0, missing__agents=1)
    assert combined.attacks[1][1].amplification == 7.0
    cloned = clone(combined)
    assert cloned.attacks[1][1] is not combined.attacks[1][1]
    assert cloned.get_params()["flip__amplification"] == 7.0
    assert cloned.get_params()["missing__agents"] == 1

    X = _data()
    out = cloned.fit(X).transform(X)
    assert np.isnan(out[:, 2:4]).all()
    np.testing.assert_array_equal(out[:, 4:], -7.0 * X[:, 4:])
    # The user's attacks are not fitted: fit works on clones.
    assert not hasattr(cloned.attacks[0][1], "layout_")

    cloned.set_params(flip=BlockNoise(blocks=3, scale=np.inf, distribution="constant"))
    out = cloned.fit(X).transform(X)
    assert np.isposinf(out[:, 4:]).all()


def test_combined_grid_search_style_set_params_on_clone():
    combined = _table2_attack()
    for amplification in (1.0, 10.0):
        est = clone(combined).set_params(flip__amplification=amplification)
        X = _data()
        np.testing.assert_array_equal(est.fit(X).transform(X)[:, 4:], -amplification * X[:, 4:])
    assert combined.attacks[1][1].amplification == 3.0


@pytest.mark.parametrize(
    "attacks, match",
    [
        ([], "needs at least one attack"),
        ([("flip", FeatureFlip()), ("flip", MissingBlocks())], "not unique"),
        ([("a__b", FeatureFlip())], "must not contain __"),
        ([("poison", SignFlip())], "'poison' is SignFlip.*a poisoning adversary"),
        ([("clf", LogisticRegression())], "'clf' is LogisticRegression.*not an adversary"),
        ([("flip", FeatureFlip)], "is the class FeatureFlip; pass an instance"),
        ([FeatureFlip()], r"list of \(name, attack\) tuples"),
    ],
)
def test_combined_invalid_attacks(attacks, match):
    with pytest.raises(ValueError, match=match):
        CombinedAttack(attacks).fit(_data())


def test_combined_layouts_must_agree():
    combined = CombinedAttack(
        [("missing", MissingBlocks(blocks=3)), ("flip", FeatureFlip(blocks=[2, 4]))]
    )
    with pytest.raises(ValueError, match="same block layout.*Pass the same blocks"):
        combined.fit(_data())


def test_combined_does_not_mutate_input_and_keeps_dtype():
    X = _data(dtype=np.float32)
    X_before = X.copy()
    out = _table2_attack().fit(X).transform(X)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(_bits(X), _bits(X_before))


def test_combined_set_output_pandas_with_feature_names():
    pd = pytest.importorskip("pandas")
    X = pd.DataFrame(_data(), columns=list("abcdef"))
    combined = _table2_attack().set_output(transform="pandas").fit(X)
    out = combined.transform(X)
    assert isinstance(out, pd.DataFrame) and list(out.columns) == list("abcdef")
    assert out[["a", "b"]].isna().all().all()
    np.testing.assert_array_equal(combined.feature_names_in_, list("abcdef"))


class _ShiftByModel(BaseInferenceAdversary):
    """A white-box stand-in: adds ``estimator.shift`` to the attacked blocks."""

    _white_box = True

    def __init__(self, *, blocks=None, agents=None, random_state=None):
        self.blocks = blocks
        self.agents = agents
        self.random_state = random_state

    def _attack(self, X, y, random_state, estimator):
        if estimator is None:
            raise ValueError("needs the estimator")
        X[:, self.attacked_columns_] += estimator.shift + (0 if y is None else y[:, None])
        return X


def test_combined_forwards_estimator_and_y_to_white_box_attacks():
    X = _data(n_samples=4)
    y = np.array([0.0, 1.0, 0.0, 2.0])
    combined = CombinedAttack(
        [("missing", MissingBlocks(blocks=3, agents=0)), ("shift", _ShiftByModel(blocks=3))]
    ).fit(X)
    assert combined._white_box
    with pytest.raises(ValueError, match="white-box attack"):
        combined.transform(X)
    out = combined.attack(X, y, estimator=SimpleNamespace(shift=100.0))
    np.testing.assert_allclose(out[:, 4:], X[:, 4:] + 100.0 + y[:, None])
    assert np.isnan(out[:, :2]).all()
    assert not _table2_attack().fit(X)._white_box
