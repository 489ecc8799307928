"""Hostile input for every public inference-time object (issue 11): property-based.

Covered: every inference-time adversary (MissingBlocks, FeatureFlip, BlockNoise,
CombinedAttack, PGDAttack, AdaptivePGDAttack, ThresholdAwareAttack, BlockReplacementAttack,
EnsembleAttack), CoPurTransformer, ManifoldProjection, RandomizedSmoothingClassifier,
RandomizedAblationClassifier, AdversarialTrainingClassifier, BlockEmbedder and
MLPFusionClassifier.

Inputs are honest rows with hostile blocks (NaN, partly NaN, +-inf, 1e38, the float32 and
float64 limits, subnormals, tiny scales, zeros), duplicate rows, float32 or float64, numpy,
lists or pandas; training sets with duplicate rows, constant columns, one huge row or a tiny
scale, several widths and the fewest rows accepted. The contracts:

* **finite output, or a ValueError that names the problem** (no other exception, no NaN
  where the contract says none: defenses and classifiers return finite values and valid
  labels; adversaries create NaN only where an agent is missing, and leave every column
  they do not attack bit for bit);
* **the input is never modified**;
* **same seed, same output**.

The example budget comes from the hypothesis profile (tests/conftest.py: "ci" by default,
``HYPOTHESIS_PROFILE=dev`` for a longer local run).
"""

import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from sklearn_robust.adversaries import (
    AdaptivePGDAttack,
    BlockNoise,
    BlockReplacementAttack,
    CombinedAttack,
    EnsembleAttack,
    FeatureFlip,
    MissingBlocks,
    PGDAttack,
    ThresholdAwareAttack,
)
from sklearn_robust.estimators import (
    AdversarialTrainingClassifier,
    BlockEmbedder,
    CoPurTransformer,
    ManifoldProjection,
    MLPFusionClassifier,
    RandomizedAblationClassifier,
    RandomizedSmoothingClassifier,
)
from sklearn_robust.nets import AutoencoderNet

N_BLOCKS, WIDTH = 3, 2
N_FEATURES = N_BLOCKS * WIDTH
F32, F64 = np.finfo(np.float32), np.finfo(np.float64)

# Hostile values a block (or part of one) may take.
HOSTILE = {
    "nan": np.nan,
    "inf": np.inf,
    "-inf": -np.inf,
    "1e38": 1e38,
    "-1e38": -1e38,
    "f32max": float(F32.max),
    "f64max": float(F64.max),
    "-f64max": -float(F64.max),
    "subnormal": 5e-324,
    "tiny": 1e-300,
    "zero": 0.0,
}
KINDS = ["clean", "clean", "partial-nan", "scale-1e-30", "scale-1e30", *HOSTILE]


def _honest(n, seed=0):
    """Two classes, every block informative: the rows the hostile ones are made from."""
    rng = np.random.RandomState(seed)
    y = rng.randint(2, size=n)
    centers = np.array([[-1.0] * N_FEATURES, [1.0] * N_FEATURES])
    return centers[y] + rng.normal(scale=0.7, size=(n, N_FEATURES)), y


X_TRAIN, Y_TRAIN = _honest(80)
X_POOL, Y_POOL = _honest(40, seed=1)


@st.composite
def hostile_inputs(draw, max_rows=5):
    """``(X, y, container)``: honest rows with hostile blocks, in some dtype and container."""
    n = draw(st.integers(1, max_rows))
    rows = draw(st.lists(st.integers(0, len(X_POOL) - 1), min_size=n, max_size=n))
    X = X_POOL[rows].copy()
    y = Y_POOL[rows].copy()
    for i in range(n):
        for b in range(N_BLOCKS):
            kind = draw(st.sampled_from(KINDS))
            cols = slice(b * WIDTH, (b + 1) * WIDTH)
            if kind == "partial-nan":
                X[i, b * WIDTH] = np.nan
            elif kind == "scale-1e-30":
                X[i, cols] *= 1e-30
            elif kind == "scale-1e30":
                X[i, cols] *= 1e30
            elif kind in HOSTILE:
                X[i, cols] = HOSTILE[kind]
    if n > 1 and draw(st.booleans()):
        X[-1], y[-1] = X[0], y[0]  # duplicate rows
    dtype = draw(st.sampled_from([np.float64, np.float32]))
    with np.errstate(over="ignore"):
        X = X.astype(dtype)  # beyond float32's range: +-inf, as a sender's overflow would be
    container = draw(st.sampled_from(["numpy", "list", "pandas"]))
    return X, y, container


def _wrap(X, container):
    if container == "list":
        return X.tolist()
    if container == "pandas":
        return pd.DataFrame(X)
    return X


def _unwrap(X):
    return np.asarray(X.to_numpy() if isinstance(X, pd.DataFrame) else X, dtype=np.float64)


def _same(a, b):
    return np.array_equal(_unwrap(a), _unwrap(b), equal_nan=True)


def _call(fn, *args, **kwargs):
    """Run ``fn``; a ValueError must name what is wrong with the input."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # rows with every block missing warn, by contract
        try:
            return fn(*args, **kwargs), None
        except ValueError as error:
            message = str(error)
            assert len(message) > 20, message
            return None, error


# --------------------------------------------------------------------------------------------
# Fitted objects (tiny networks: the properties concern input handling, not accuracy)
# --------------------------------------------------------------------------------------------


def _tiny_ae(**params):
    return AutoencoderNet(max_epochs=3, batch_size=32, **params)


def _fusion(**params):
    return MLPFusionClassifier(hidden_layer_sizes=(8,), max_epochs=5, batch_size=32, **params)


@pytest.fixture(scope="module")
def defended():
    """A CoPur pipeline (differentiable) that the white-box attacks attack."""
    return make_pipeline(
        CoPurTransformer(blocks=N_BLOCKS, autoencoder=_tiny_ae(), max_iter=10, random_state=0),
        LogisticRegression(),
    ).fit(X_TRAIN, Y_TRAIN)


ADVERSARIES = {
    "MissingBlocks": MissingBlocks(blocks=N_BLOCKS, agents=[1]),
    "FeatureFlip": FeatureFlip(blocks=N_BLOCKS, agents=[1]),
    "BlockNoise": BlockNoise(blocks=N_BLOCKS, agents=[1], random_state=0),
    "CombinedAttack": CombinedAttack(
        [("missing", MissingBlocks(blocks=N_BLOCKS, agents=[0])),
         ("flip", FeatureFlip(blocks=N_BLOCKS, agents=[2]))]
    ),
    "PGDAttack": PGDAttack(blocks=N_BLOCKS, agents=[1], max_iter=3, n_restarts=2,
                           random_start=True, random_state=0),
    "AdaptivePGDAttack": AdaptivePGDAttack(blocks=N_BLOCKS, agents=[1], max_iter=3,
                                           random_state=0),
    "ThresholdAwareAttack": ThresholdAwareAttack(blocks=N_BLOCKS, agents=[1], max_iter=2,
                                                 fractions=(1.0,), random_state=0),
    "BlockReplacementAttack": BlockReplacementAttack(blocks=N_BLOCKS, agents=[1],
                                                     n_candidates=3, random_state=0),
    "EnsembleAttack": EnsembleAttack(
        [("flip", FeatureFlip()), ("pgd", AdaptivePGDAttack(max_iter=2, n_restarts=1)),
         ("replacement", BlockReplacementAttack(n_candidates=2))],
        blocks=N_BLOCKS, agents=[1], random_state=0,
    ),
}
WHITE_BOX = {"PGDAttack", "AdaptivePGDAttack", "ThresholdAwareAttack",
             "BlockReplacementAttack", "EnsembleAttack"}


@pytest.fixture(scope="module")
def adversaries():
    return {name: clone(a).fit(X_TRAIN, Y_TRAIN) for name, a in ADVERSARIES.items()}


def _make_defenses(random_state=0):
    embedder = BlockEmbedder(blocks=N_BLOCKS, embedding_dim=2, max_epochs=5, batch_size=32,
                             random_state=random_state)
    return {
        "CoPurTransformer": CoPurTransformer(
            blocks=N_BLOCKS, autoencoder=_tiny_ae(), max_iter=10, random_state=random_state
        ),
        "CoPurTransformer(consistency)": CoPurTransformer(
            blocks=N_BLOCKS, autoencoder=_tiny_ae(), max_iter=10, output="replace",
            detection="consistency", random_state=random_state,
        ),
        "ManifoldProjection": ManifoldProjection(
            blocks=N_BLOCKS, autoencoder=_tiny_ae(), random_state=random_state
        ),
        "BlockEmbedder": embedder,
        "MLPFusionClassifier": _fusion(random_state=random_state),
        "RandomizedSmoothingClassifier": RandomizedSmoothingClassifier(
            _fusion(), n_samples=8, n_samples_certify=16, random_state=random_state
        ),
        "RandomizedAblationClassifier": RandomizedAblationClassifier(
            _fusion(), blocks=N_BLOCKS, n_keep=1, subsets="all", random_state=random_state
        ),
        "AdversarialTrainingClassifier": AdversarialTrainingClassifier(
            _fusion(), attack=PGDAttack(blocks=N_BLOCKS, max_iter=2), n_rounds=1,
            random_state=random_state,
        ),
    }


@pytest.fixture(scope="module")
def defenses():
    return {
        name: est.fit(X_TRAIN, Y_TRAIN) for name, est in _make_defenses().items()
    }


def _outputs(estimator, X):
    """What an estimator returns on ``X``: transform output, or predictions (+ scores)."""
    if hasattr(estimator, "predict"):
        out = {"predict": estimator.predict(X)}
        if hasattr(estimator, "predict_proba"):
            out["predict_proba"] = estimator.predict_proba(X)
        if hasattr(estimator, "certify"):
            out["certify"] = np.column_stack(estimator.certify(X)).astype(np.float64)
        return out
    return {"transform": estimator.transform(X)}


def _check_outputs(name, estimator, X, out):
    X = _unwrap(X)
    if "transform" in out:
        values = np.asarray(out["transform"], dtype=np.float64)
        assert values.shape[0] == X.shape[0]
        if name == "BlockEmbedder":
            # NaN exactly for missing agents; a corrupted agent may give +-inf (documented)
            missing = estimator.layout_.observed(X)
            out_block = np.repeat(np.arange(N_BLOCKS), estimator.blocks_out_)
            np.testing.assert_array_equal(np.isnan(values), ~missing[:, out_block])
        else:
            assert np.isfinite(values).all(), name
        return
    assert set(np.unique(out["predict"])) <= set(estimator.classes_)
    if "predict_proba" in out:
        proba = out["predict_proba"]
        assert np.isfinite(proba).all() and np.allclose(proba.sum(axis=1), 1.0)


# --------------------------------------------------------------------------------------------
# Properties
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(ADVERSARIES))
@given(case=hostile_inputs())
def test_adversaries_on_hostile_input(adversaries, defended, name, case):
    X, y, container = case
    attack = adversaries[name]
    data = _wrap(X, container)
    before = _unwrap(data)
    kwargs = {"estimator": defended} if name in WHITE_BOX else {}
    out, error = _call(attack.attack, data, y, **kwargs)
    assert _same(data, before)  # never modified in place
    if error is not None:
        return
    again, _ = _call(attack.attack, data, y, **kwargs)
    np.testing.assert_array_equal(out, again)  # same seed, same attack
    # a list of floats is read as float64; arrays and frames keep their dtype
    assert out.dtype == (np.float64 if container == "list" else X.dtype)
    assert out.shape == X.shape
    attacked = attack.attacked_columns_
    others = np.setdiff1d(np.arange(N_FEATURES), attacked)
    np.testing.assert_array_equal(out[:, others], X[:, others])  # only its agents change
    # NaN only where an agent sends nothing: missing on input, or blanked by the attack
    nan_out = np.isnan(out)
    blanked = np.zeros_like(nan_out)
    if name == "MissingBlocks":
        blanked[:, attacked] = True
    elif name == "CombinedAttack":
        blanked[:, :WIDTH] = True  # its first attack blanks agent 0
    missing_in = attack.layout_.column_mask(~attack.layout_.observed(X))
    assert not (nan_out & ~blanked & ~missing_in).any(), name


@pytest.mark.parametrize("name", list(_make_defenses()))
@given(case=hostile_inputs())
def test_defenses_on_hostile_input(defenses, name, case):
    X, _, container = case
    estimator = defenses[name]
    data = _wrap(X, container)
    before = _unwrap(data)
    out, error = _call(_outputs, estimator, data)
    assert _same(data, before)
    if error is not None:
        # Only what the object documents it refuses: non-finite input for the classifiers
        # that need finite features.
        assert any(word in str(error) for word in ("NaN", "infinity", "inf")), str(error)
        return
    _check_outputs(name, estimator, data, out)
    again, _ = _call(_outputs, estimator, data)
    for key in out:
        np.testing.assert_array_equal(out[key], again[key])  # same seed, same output


@st.composite
def hostile_training_sets(draw):
    """Training sets: fewest rows up, widths, duplicates, constant columns, extreme rows."""
    n_blocks = draw(st.integers(2, 3))
    width = draw(st.integers(1, 2))
    n = draw(st.sampled_from([8, 12, 40]))
    rng = np.random.RandomState(draw(st.integers(0, 3)))
    y = np.arange(n) % 2
    X = rng.normal(size=(n, n_blocks * width)) + y[:, None]
    kind = draw(st.sampled_from(
        ["plain", "duplicates", "constant", "huge-row", "f64-row", "tiny-scale", "float32"]
    ))
    if kind == "duplicates":
        X[n // 2 :] = X[: n - n // 2]
        y[n // 2 :] = y[: n - n // 2]
    elif kind == "constant":
        X[:, 0] = 3.0
    elif kind == "huge-row":
        X[0, 0] = 1e38
    elif kind == "f64-row":
        X[0, -1] = float(F64.max) / 2
    elif kind == "tiny-scale":
        X = X * 1e-300
    elif kind == "float32":
        X = X.astype(np.float32)
    return X, y, n_blocks


FIT_SIDE = ["CoPurTransformer", "ManifoldProjection", "BlockEmbedder", "MLPFusionClassifier",
            "RandomizedSmoothingClassifier", "RandomizedAblationClassifier"]


def _fresh(name, n_blocks, random_state=0):
    estimator = _make_defenses(random_state)[name]
    if "blocks" in estimator.get_params():
        estimator.set_params(blocks=n_blocks)
    return estimator


@pytest.mark.parametrize("name", FIT_SIDE)
@given(case=hostile_training_sets(), test=hostile_inputs(max_rows=3))
def test_fitting_on_hostile_training_sets(name, case, test):
    X, y, n_blocks = case
    before = X.copy()
    estimator, error = _call(_fresh(name, n_blocks).fit, X, y)
    np.testing.assert_array_equal(X, before)
    if error is not None:
        return
    # honest rows of the same width, then hostile ones
    X_test = np.vstack([X[:2], np.resize(test[0], (test[0].shape[0], X.shape[1]))])
    X_test = X_test.astype(X.dtype)
    out, error = _call(_outputs, estimator, X_test)
    if error is not None:
        assert any(word in str(error) for word in ("NaN", "infinity", "inf")), str(error)
        return
    _check_outputs_any_width(name, estimator, X_test, out)
    twin = _fresh(name, n_blocks).fit(X, y)  # same seed, same model, same output
    again, _ = _call(_outputs, twin, X_test)
    for key in out:
        np.testing.assert_array_equal(out[key], again[key])


def _check_outputs_any_width(name, estimator, X, out):
    if "transform" in out:
        values = np.asarray(out["transform"], dtype=np.float64)
        # the first two rows are honest training rows: every object reads them finitely
        assert np.isfinite(values[:2]).all(), name
        if name == "BlockEmbedder":
            missing = estimator.layout_.observed(X)
            out_block = np.repeat(np.arange(estimator.layout_.n_blocks), estimator.blocks_out_)
            np.testing.assert_array_equal(np.isnan(values), ~missing[:, out_block])
        else:
            assert np.isfinite(values).all(), name
        return
    assert set(np.unique(out["predict"])) <= set(estimator.classes_)
    if "predict_proba" in out:
        assert np.isfinite(out["predict_proba"]).all()


# --------------------------------------------------------------------------------------------
# Regression tests of the bugs issue 11 reported for these objects
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("cls", [CoPurTransformer, ManifoldProjection])
@pytest.mark.parametrize("huge", [1e38, 3e300])
def test_one_huge_training_row_never_gives_nan(cls, huge):
    # Before: clip_max_ landed beyond float32 (or the std overflowed to inf), so inf reached
    # the float32 network and the output was NaN.
    X = X_TRAIN.copy()
    X[0, 0] = huge
    estimator = cls(blocks=N_BLOCKS, autoencoder=_tiny_ae(), random_state=0).fit(X)
    assert np.isfinite(estimator.scale_).all()
    assert np.isfinite(estimator.clip_max_).all() and np.isfinite(estimator.clip_min_).all()
    H = X_POOL[:6].copy()
    H[0, :WIDTH] = np.inf
    H[1, WIDTH:] = 1e38
    H[2, :WIDTH] = np.nan
    H[3, -1] = -float(F64.max)
    for data in (X_POOL[:6], H, H.astype(np.float32)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = estimator.transform(data)
        assert np.isfinite(out).all()
        assert out.dtype == data.dtype


def test_ordinary_data_keep_the_unit_one():
    # The working unit only changes for data whose clip bounds do not fit float32's
    # arithmetic: ordinary data compute exactly as before.
    estimator = CoPurTransformer(blocks=N_BLOCKS, autoencoder=_tiny_ae(), random_state=0)
    assert estimator.fit(X_TRAIN).unit_ == 1.0
    assert estimator.fit(X_TRAIN * 1e10).unit_ == 1.0


# --------------------------------------------------------------------------------------------
# device= goes through check_device; a diverged training run stops with a ValueError
# --------------------------------------------------------------------------------------------


def _tiny_fusion(**params):
    return MLPFusionClassifier(max_epochs=2, random_state=0, **params)


# Every device= of the inference-time side, directly or through the base classifier it wraps.
DEVICE_OWNERS = {
    "CoPurTransformer": lambda d: CoPurTransformer(blocks=N_BLOCKS, device=d),
    "ManifoldProjection": lambda d: ManifoldProjection(blocks=N_BLOCKS, device=d),
    "AutoencoderNet": lambda d: _tiny_ae(device=d),
    "MLPFusionClassifier": lambda d: _tiny_fusion(device=d),
    "BlockEmbedder": lambda d: BlockEmbedder(blocks=N_BLOCKS, max_epochs=2, device=d),
    "RandomizedSmoothingClassifier": lambda d: RandomizedSmoothingClassifier(
        _tiny_fusion(device=d), random_state=0
    ),
    "RandomizedAblationClassifier": lambda d: RandomizedAblationClassifier(
        _tiny_fusion(device=d), blocks=N_BLOCKS, random_state=0
    ),
    "AdversarialTrainingClassifier": lambda d: AdversarialTrainingClassifier(
        _tiny_fusion(device=d), attack=PGDAttack(blocks=N_BLOCKS, max_iter=2), n_rounds=1
    ),
}


def _fit(estimator):
    if isinstance(estimator, (CoPurTransformer, ManifoldProjection, AutoencoderNet)):
        return estimator.fit(X_TRAIN)
    return estimator.fit(X_TRAIN, Y_TRAIN)


@pytest.mark.parametrize("name", sorted(DEVICE_OWNERS))
def test_bogus_device_is_a_value_error_naming_the_fix(name):
    estimator = DEVICE_OWNERS[name]("bogus")
    with pytest.raises(ValueError, match=r"device='bogus' is not a torch device; pass 'cpu'"):
        _fit(estimator)


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available here")
@pytest.mark.parametrize("name", sorted(DEVICE_OWNERS))
def test_cuda_without_cuda_is_a_value_error_naming_the_fix(name):
    with pytest.raises(ValueError, match=r"device='cuda' needs CUDA.*pass device='cpu'"):
        _fit(DEVICE_OWNERS[name]("cuda"))


def test_diverged_fusion_training_stops_with_a_value_error():
    # lr=1e30 sends Adam's first steps to NaN weights: before, fit returned that net and
    # every prediction blamed the input ("values too large").
    with pytest.raises(ValueError, match=r"MLPFusionClassifier: training diverged, .*weights"):
        _tiny_fusion(lr=1e30).fit(X_TRAIN, Y_TRAIN)
    with pytest.raises(ValueError, match=r"BlockEmbedder: training diverged"):
        BlockEmbedder(blocks=N_BLOCKS, lr=1e30, max_epochs=2, random_state=0).fit(
            X_TRAIN, Y_TRAIN
        )


class _DivergesOnHugeRows(LogisticRegression):
    """A base classifier whose training blows up on rows of huge scale (as an optimiser whose
    step is too large for them does), leaving NaN coefficients without raising."""

    def fit(self, X, y):
        super().fit(np.clip(X, -1e3, 1e3), y)
        if np.abs(X).max() > 1e3:
            self.coef_ = np.full_like(self.coef_, np.nan)
        return self


def test_adversarial_training_stops_when_its_model_diverges():
    at = AdversarialTrainingClassifier(
        _DivergesOnHugeRows(),
        attack=BlockNoise(blocks=N_BLOCKS, agents=[0], scale=1e6, random_state=0),
        n_rounds=2,
        random_state=0,
    )
    with pytest.raises(ValueError, match=r"training diverged at round 1: .*coef_ became NaN"):
        at.fit(X_TRAIN, Y_TRAIN)
    assert not hasattr(at, "estimator_")
    # The same with a torch base classifier whose own training diverges at the clean fit.
    at = AdversarialTrainingClassifier(_tiny_fusion(lr=1e30), attack=PGDAttack(blocks=N_BLOCKS))
    with pytest.raises(ValueError, match=r"training diverged"):
        at.fit(X_TRAIN, Y_TRAIN)
