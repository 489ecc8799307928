"""make_robust_scorer: scoring a fitted estimator on attacked data."""

import pickle

import numpy as np
import pytest
from sklearn.base import BaseEstimator, clone
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, get_scorer
from sklearn.model_selection import cross_validate
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_robust.adversaries import BlockNoise, PGDAttack, SignFlip
from sklearn_robust.metrics import make_robust_scorer

N_BLOCKS, WIDTH = 3, 2


def _data(n_samples=240, seed=0):
    """Two nearly separable classes; every block of 2 columns is equally informative."""
    rng = np.random.RandomState(seed)
    centers = rng.normal(size=(2, N_BLOCKS * WIDTH))
    centers -= centers.mean(axis=0)
    for block in range(N_BLOCKS):
        part = centers[:, block * WIDTH : (block + 1) * WIDTH]
        part *= 0.75 / np.sqrt(np.mean(np.sum(part**2, axis=1)))
    y = rng.randint(2, size=n_samples)
    X = centers[y] + rng.normal(scale=0.5, size=(n_samples, N_BLOCKS * WIDTH))
    return X, y


def _attack():
    # The unbounded raw-gradient attack moves little on rows the model is very sure of: a
    # regularised classifier (below) and steps of 2.0 let it flip nearly every row.
    return PGDAttack(blocks=N_BLOCKS, step_size=2.0, max_iter=50)


def _classifier():
    return LogisticRegression(C=0.03)


@pytest.fixture(scope="module")
def fitted():
    X, y = _data()
    pipe = Pipeline([("scale", StandardScaler()), ("clf", _classifier())]).fit(X, y)
    assert pipe.score(X, y) > 0.95
    return X, y, pipe


def test_attack_at_a_named_step_attacks_that_steps_input(fitted):
    X, y, pipe = fitted
    # What at="clf" means: the scaled features are attacked, through the classifier alone.
    Z = pipe["scale"].transform(X)
    Z_adv = clone(_attack()).fit(Z).attack(Z, y, estimator=pipe["clf"])
    expected = accuracy_score(y, pipe["clf"].predict(Z_adv))
    assert expected < 0.2
    for at in ("clf", 1, -1):
        assert make_robust_scorer(_attack(), at=at)(pipe, X, y) == expected
    # at=0 attacks the raw input, through the scaler too (the adaptive attack).
    X_adv = _attack().fit(X).attack(X, y, estimator=pipe)
    assert make_robust_scorer(_attack())(pipe, X, y) == pipe.score(X_adv, y) < 0.2
    # scoring: a name, a scorer callable, or None for the final step's score method.
    proba_scorer = get_scorer("neg_log_loss")
    assert make_robust_scorer(_attack(), scoring=proba_scorer, at="clf")(
        pipe, X, y
    ) == proba_scorer(pipe["clf"], Z_adv, y)
    assert make_robust_scorer(_attack(), scoring=None, at="clf")(pipe, X, y) == expected


def test_attack_none_uses_the_adversary_step_of_the_pipeline():
    X, y = _data(seed=1)
    attacked = Pipeline(
        [("attack", _attack()), ("scale", StandardScaler()), ("clf", _classifier())]
    ).fit(X, y)
    clean = Pipeline([("scale", StandardScaler()), ("clf", _classifier())]).fit(X, y)
    # The adversary step lets the training data through: the model is trained clean.
    np.testing.assert_array_equal(attacked["clf"].coef_, clean["clf"].coef_)
    assert clean.score(X, y) > 0.95
    # At scoring time the step attacks the fitted steps after it (white-box, through the
    # scaler), instead of the transform a white-box attack refuses.
    X_adv = attacked["attack"].attack(X, y, estimator=attacked[1:])
    robust = make_robust_scorer()(attacked, X, y)
    assert robust == attacked[1:].score(X_adv, y)
    assert robust < 0.2


def test_sample_weight_reaches_the_inner_scorer(fitted):
    X, y, pipe = fitted
    weight = np.random.RandomState(0).uniform(size=len(y))
    scorer = make_robust_scorer(_attack(), at="clf")
    Z = pipe["scale"].transform(X)
    Z_adv = _attack().fit(Z).attack(Z, y, estimator=pipe["clf"])
    expected = accuracy_score(y, pipe["clf"].predict(Z_adv), sample_weight=weight)
    assert scorer(pipe, X, y, sample_weight=weight) == expected
    assert expected != scorer(pipe, X, y)
    assert scorer._accept_sample_weight()


def test_the_scorer_pickles(fitted):
    X, y, pipe = fitted
    scorer = make_robust_scorer(_attack(), at="clf")
    restored = pickle.loads(pickle.dumps(scorer))
    assert repr(restored) == repr(scorer)
    assert "at='clf'" in repr(scorer) and "PGDAttack" in repr(scorer)
    assert restored(pipe, X, y) == scorer(pipe, X, y)
    assert pickle.loads(pickle.dumps(make_robust_scorer())).attack is None


def test_input_is_not_modified(fitted):
    X, y, pipe = fitted
    X_nan = X.copy()
    X_nan[:3, 4:] = np.nan  # a missing attacked block
    X_orig, y_orig = X.copy(), y.copy()
    X_nan_orig = X_nan.copy()
    make_robust_scorer(_attack(), at="clf")(pipe, X, y)
    make_robust_scorer(_attack())(pipe, X, y)
    attacked = Pipeline([("attack", _attack()), ("clf", _classifier())]).fit(X, y)
    make_robust_scorer()(attacked, X, y)
    make_robust_scorer(BlockNoise(blocks=N_BLOCKS, random_state=0))(pipe, X_nan[3:], y[3:])
    np.testing.assert_array_equal(X, X_orig)
    np.testing.assert_array_equal(y, y_orig)
    np.testing.assert_array_equal(X_nan, X_nan_orig)


class _NotAnAdversary(BaseEstimator):
    """Has fit and attack, but is no inference-time adversary."""

    def fit(self, X, y=None):
        return self

    def attack(self, X, y=None, estimator=None):
        return X


def test_errors(fitted):
    X, y, pipe = fitted
    with pytest.raises(ValueError, match=r"Pipeline has none \(steps: \['scale', 'clf'\]\)"):
        make_robust_scorer()(pipe, X, y)
    with pytest.raises(ValueError, match=r"at='nope' is not a step.*\['scale', 'clf'\]"):
        make_robust_scorer(_attack(), at="nope")(pipe, X, y)
    with pytest.raises(ValueError, match=r"at=2 is out of range for a pipeline of 2 steps"):
        make_robust_scorer(_attack(), at=2)(pipe, X, y)
    with pytest.raises(ValueError, match=r"LogisticRegression, not a Pipeline: only at=0"):
        make_robust_scorer(_attack(), at=1)(pipe["clf"], X, y)
    with pytest.raises(ValueError, match="attack is None"):
        make_robust_scorer(at="clf")
    with pytest.raises(ValueError, match="inference-time adversary.*got _NotAnAdversary"):
        make_robust_scorer(_NotAnAdversary())
    with pytest.raises(ValueError, match="'attack' parameter"):
        make_robust_scorer(SignFlip())  # a poisoning adversary has no attack method
    with pytest.raises(ValueError, match="no_such_metric"):
        make_robust_scorer(_attack(), scoring="no_such_metric")


def test_works_in_cross_validate_with_a_dict_of_scorers():
    X, y = _data(seed=2)
    pipe = Pipeline([("scale", StandardScaler()), ("clf", _classifier())])
    scores = cross_validate(
        pipe,
        X,
        y,
        cv=3,
        scoring={
            "clean": "accuracy",
            "robust": make_robust_scorer(_attack(), at="clf"),
            "noise": make_robust_scorer(
                BlockNoise(blocks=N_BLOCKS, scale=1e3, random_state=0), at="clf"
            ),
        },
        error_score="raise",
    )
    assert np.all(scores["test_clean"] > 0.9)
    assert np.all(scores["test_robust"] < 0.3)
    # A black-box attack (huge noise on one block) hurts too, without gradients.
    assert np.all(scores["test_noise"] < scores["test_clean"])

    attacked = Pipeline(
        [("attack", _attack()), ("scale", StandardScaler()), ("clf", _classifier())]
    )
    scores = cross_validate(
        attacked, X, y, cv=3, scoring={"robust": make_robust_scorer()}, error_score="raise"
    )
    assert np.all(scores["test_robust"] < 0.3)
