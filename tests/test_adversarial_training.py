"""AdversarialTrainingClassifier: adversarial training in rounds, plain and block-wise."""

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.svm import LinearSVC
from sklearn.utils.estimator_checks import check_param_validation, parametrize_with_checks

from sklearn_robust._differentiable import differentiable_forward
from sklearn_robust.adversaries import BlockNoise, PGDAttack, SignFlip
from sklearn_robust.base import check_blocks
from sklearn_robust.datasets import make_block_manifold
from sklearn_robust.estimators import MLPFusionClassifier
from sklearn_robust.estimators._adversarial_training import (
    AdversarialTrainingClassifier,
    _craft,
)

# Cheap settings for scikit-learn's checks (the default MLP and 50-step PGD take minutes).
CHECKED = AdversarialTrainingClassifier(
    LogisticRegression(), attack=PGDAttack(max_iter=5), n_rounds=1
)


@parametrize_with_checks([CHECKED])
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


def test_param_validation():
    check_param_validation("AdversarialTrainingClassifier", clone(CHECKED))


def _data(n_samples=600, seed=0):
    """Three agents of two columns on a linear manifold with noise; train and test halves."""
    X, y = make_block_manifold(
        n_samples, n_blocks=3, block_width=2, noise=0.1, random_state=seed, return_X_y=True
    )
    half = n_samples // 2
    return X[:half], y[:half], X[half:], y[half:]


def _l2_attack(**params):
    """PGD with an l2 budget of 0.5 on the last of three agents."""
    return PGDAttack(
        blocks=3, agents=-1, norm="l2", epsilon=0.5, step_size=0.125, max_iter=10, **params
    )


def _robust_accuracy(model, attack, X, y):
    """Accuracy of ``model`` on ``X`` attacked white-box against ``model`` itself."""
    X_adv = clone(attack).fit(X).attack(X, y, estimator=model)
    return model.score(X_adv, y)


class RecordingLogisticRegression(LogisticRegression):
    """A LogisticRegression that records the data of every fit (in a class-level list)."""

    fits = []

    def fit(self, X, y, sample_weight=None):
        type(self).fits.append((np.array(X, copy=True), np.array(y, copy=True)))
        return super().fit(X, y, sample_weight=sample_weight)


@pytest.fixture
def recording():
    RecordingLogisticRegression.fits = []
    yield RecordingLogisticRegression
    RecordingLogisticRegression.fits = []


# --------------------------------------------------------------------------------------------
# Robustness
# --------------------------------------------------------------------------------------------


def test_improves_accuracy_under_budgeted_pgd():
    X, y, X_test, y_test = _data()
    attack = _l2_attack()
    plain = LogisticRegression().fit(X, y)
    at = AdversarialTrainingClassifier(
        LogisticRegression(), attack=attack, n_rounds=3, random_state=0
    ).fit(X, y)
    plain_robust = _robust_accuracy(plain, attack, X_test, y_test)
    at_robust = _robust_accuracy(at, attack, X_test, y_test)
    # Measured: plain 0.667, adversarially trained 0.847 (clean 0.967 and 0.927).
    assert plain_robust < 0.75
    assert at_robust > plain_robust + 0.12
    assert at.score(X_test, y_test) > 0.88
    # The training history shows the same: the final model resists attacks on itself.
    hist = at.history_
    assert hist[-1]["adversarial_accuracy"] > hist[0]["adversarial_accuracy"] + 0.1


def test_improves_mlp_under_targeted_unprojected_pgd():
    # The paper's setting: unprojected targeted PGD on the last agent, an MLP fusion model.
    X, y, X_test, y_test = _data()
    mlp = MLPFusionClassifier(
        hidden_layer_sizes=(16,), lr=1e-2, max_epochs=30, weight_decay=1e-3, random_state=0
    )
    attack = PGDAttack(
        blocks=3, agents=-1, targeted=True, target_class=1, step_size=1.0, max_iter=20
    )
    plain = clone(mlp).fit(X, y)
    at = AdversarialTrainingClassifier(mlp, attack=attack, n_rounds=3, random_state=0).fit(X, y)
    plain_robust = _robust_accuracy(plain, attack, X_test, y_test)
    at_robust = _robust_accuracy(at, attack, X_test, y_test)
    # Measured: plain 0.50 (every row of class 0 is pushed to class 1), trained 0.81.
    assert plain_robust < 0.6
    assert at_robust > plain_robust + 0.2
    assert at.score(X_test, y_test) > 0.9


def test_accumulate_false_trains_on_clean_and_last_round(recording):
    X, y, _, _ = _data(200)
    at = AdversarialTrainingClassifier(
        recording(), attack=_l2_attack(), n_rounds=3, accumulate=False, random_state=0
    ).fit(X, y)
    sizes = [fit[0].shape[0] for fit in recording.fits]
    assert sizes == [100, 200, 200, 200]
    assert [h["n_train"] for h in at.history_] == sizes
    for X_fit, _ in recording.fits[1:]:
        np.testing.assert_array_equal(X_fit[:100], X)


def test_accumulate_keeps_every_round(recording):
    X, y, _, _ = _data(200)
    at = AdversarialTrainingClassifier(
        recording(), attack=_l2_attack(), n_rounds=3, random_state=0
    ).fit(X, y)
    sizes = [fit[0].shape[0] for fit in recording.fits]
    assert sizes == [100, 200, 300, 400]
    assert [h["round"] for h in at.history_] == [0, 1, 2, 3]
    assert [h["n_train"] for h in at.history_] == sizes
    last_X, last_y = recording.fits[-1]
    # Each round's adversarial rows are kept as they were crafted.
    np.testing.assert_array_equal(last_X[:300], recording.fits[-2][0])
    np.testing.assert_array_equal(last_y, np.tile(y, 4))
    for h in at.history_:
        assert set(h) == {"round", "n_train", "clean_accuracy", "adversarial_accuracy"}
        assert 0.0 <= h["adversarial_accuracy"] <= h["clean_accuracy"] <= 1.0


def test_adversarial_rows_differ_only_on_attacked_agent(recording):
    X, y, _, _ = _data(200)
    AdversarialTrainingClassifier(recording(), attack=_l2_attack(), n_rounds=1, random_state=0).fit(
        X, y
    )
    X_fit, y_fit = recording.fits[-1]
    X_adv = X_fit[100:]
    np.testing.assert_array_equal(X_adv[:, :4], X[:, :4])
    assert (np.linalg.norm(X_adv[:, 4:] - X[:, 4:], axis=1) > 1e-3).mean() > 0.9
    assert np.linalg.norm(X_adv - X, axis=1).max() <= 0.5 + 1e-6
    np.testing.assert_array_equal(y_fit, np.tile(y, 2))


def test_targeted_training_keeps_true_labels(recording):
    X, y, _, _ = _data(200)
    attack = PGDAttack(blocks=3, targeted=True, target_class=1, step_size=1.0, max_iter=5)
    AdversarialTrainingClassifier(recording(C=0.1), attack=attack, n_rounds=2).fit(X, y)
    X_fit, y_fit = recording.fits[-1]
    np.testing.assert_array_equal(y_fit, np.tile(y, 3))
    # The attack pushed rows of class 0 towards class 1: their last block moved.
    moved = np.linalg.norm(X_fit[100:200, 4:] - X[:, 4:], axis=1) > 1e-6
    assert moved[y == 0].mean() > 0.9


# --------------------------------------------------------------------------------------------
# Block-wise adversarial training
# --------------------------------------------------------------------------------------------


def _changed_blocks(X_adv, X, layout):
    """Boolean (n_samples, n_blocks): which blocks of each row the attack changed."""
    return np.stack([(X_adv[:, ix] != X[:, ix]).any(axis=1) for ix in layout.indices], axis=1)


# Unequal widths; random start inside an l-inf ball so that every chosen block moves.
BLOCKS = [2, 3, 1]
BLOCK_ATTACK = PGDAttack(
    blocks=BLOCKS, norm="inf", epsilon=0.3, step_size=0.1, max_iter=3, random_start=True
)


def test_block_wise_perturbs_exactly_one_block_per_row(recording):
    X, y, _, _ = _data(400)
    AdversarialTrainingClassifier(
        recording(), attack=BLOCK_ATTACK, block_wise=True, n_rounds=2, random_state=0
    ).fit(X, y)
    layout = check_blocks(BLOCKS, X.shape[1])
    n = X.shape[0]
    X_fit = recording.fits[-1][0]
    for r in (1, 2):  # the adversarial rows of both rounds
        changed = _changed_blocks(X_fit[r * n : (r + 1) * n], X, layout)
        np.testing.assert_array_equal(changed.sum(axis=1), 1)
        counts = changed.sum(axis=0)
        # Uniform choice among the three blocks, whatever their widths.
        assert (counts > n / 3 - 45).all(), counts
    first, second = (_changed_blocks(X_fit[r * n : (r + 1) * n], X, layout) for r in (1, 2))
    assert not np.array_equal(first, second)  # a fresh draw every round


def test_craft_block_wise_reports_chosen_blocks():
    X, y, _, _ = _data(300)
    model = LogisticRegression().fit(X, y)
    X_before = X.copy()
    X_adv, chosen = _craft(model, BLOCK_ATTACK, X, y, True, np.random.RandomState(0))
    np.testing.assert_array_equal(X, X_before)
    changed = _changed_blocks(X_adv, X, check_blocks(BLOCKS, X.shape[1]))
    np.testing.assert_array_equal(np.argmax(changed, axis=1), chosen)
    np.testing.assert_array_equal(changed.sum(axis=1), 1)
    # Within its block, each row respects the budget.
    assert np.abs(X_adv - X).max() <= 0.3 + 1e-6


def test_block_wise_ignores_the_attacks_agents():
    X, y, _, _ = _data(300)
    model = LogisticRegression().fit(X, y)
    attack = clone(BLOCK_ATTACK).set_params(agents=0)
    X_adv, chosen = _craft(model, attack, X, y, True, np.random.RandomState(0))
    assert set(np.unique(chosen)) == {0, 1, 2}
    changed = _changed_blocks(X_adv, X, check_blocks(BLOCKS, X.shape[1]))
    assert changed[:, 2].any()


# --------------------------------------------------------------------------------------------
# API
# --------------------------------------------------------------------------------------------


def test_fit_does_not_modify_inputs():
    X, y, _, _ = _data(200)
    X_before, y_before = X.copy(), y.copy()
    X.setflags(write=False)
    attack = _l2_attack()
    base = LogisticRegression()
    at = AdversarialTrainingClassifier(base, attack=attack, n_rounds=2, block_wise=True)
    params_before = at.get_params(deep=True)
    at.fit(X, y)
    np.testing.assert_array_equal(X, X_before)
    np.testing.assert_array_equal(y, y_before)
    assert at.get_params(deep=True) == params_before
    assert not hasattr(attack, "layout_") and not hasattr(base, "coef_")


def test_reproducible_with_random_state():
    X, y, _, _ = _data(200)
    # The MLP's and the attack's random_state are None: the meta-estimator seeds them.
    mlp = MLPFusionClassifier(hidden_layer_sizes=(8,), lr=1e-2, max_epochs=5)
    attack = clone(BLOCK_ATTACK)

    def fit(seed):
        return AdversarialTrainingClassifier(
            mlp, attack=attack, block_wise=True, n_rounds=1, random_state=seed
        ).fit(X, y)

    a, b, c = fit(0), fit(0), fit(1)
    assert a.history_ == b.history_
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))
    assert not np.array_equal(a.predict_proba(X), c.predict_proba(X))
    assert mlp.random_state is None and attack.random_state is None
    assert a.estimator_.random_state is not None


def test_defaults_are_mlp_and_pgd():
    X, y, _, _ = _data(100)
    at = AdversarialTrainingClassifier(n_rounds=0, random_state=0)
    assert not hasattr(at, "decision_function")
    at.fit(X, y)
    assert isinstance(at.estimator_, MLPFusionClassifier)
    assert isinstance(at.attack_, PGDAttack)
    # PGDAttack() has one block per column and attacks the last one.
    np.testing.assert_array_equal(at.attack_.attacked_columns_, [X.shape[1] - 1])
    assert len(at.history_) == 1
    assert at.predict_proba(X).shape == (50, 2)


def test_n_rounds_zero_is_the_plain_classifier():
    X, y, X_test, _ = _data(200)
    at = AdversarialTrainingClassifier(LogisticRegression(), attack=_l2_attack(), n_rounds=0)
    at.fit(X, y)
    plain = LogisticRegression().fit(X, y)
    np.testing.assert_allclose(at.decision_function(X_test), plain.decision_function(X_test))


def test_delegated_methods_and_torch_forward():
    X, y, X_test, _ = _data(200)
    at = AdversarialTrainingClassifier(
        LogisticRegression(), attack=_l2_attack(), n_rounds=1, random_state=0
    ).fit(X, y)
    base = at.estimator_
    np.testing.assert_array_equal(at.classes_, base.classes_)
    np.testing.assert_array_equal(at.predict(X_test), base.predict(X_test))
    np.testing.assert_allclose(at.predict_proba(X_test), base.predict_proba(X_test))
    # The protocol's output: the binary decision function, 1-D like decision_function.
    out = at._torch_forward(torch.as_tensor(X_test))
    assert out.shape == (X_test.shape[0],)
    np.testing.assert_allclose(out.numpy(), at.decision_function(X_test), rtol=1e-10)
    logits = differentiable_forward(at, torch.as_tensor(X_test))
    np.testing.assert_allclose(logits[:, 1].numpy(), at.decision_function(X_test), rtol=1e-10)
    # Without predict_proba on the base, neither has the meta-estimator.
    svc = AdversarialTrainingClassifier(LinearSVC(), attack=_l2_attack(), n_rounds=1)
    assert not hasattr(svc.fit(X, y), "predict_proba")


def test_clone_and_grid_search():
    X, y, _, _ = _data(300)
    at = AdversarialTrainingClassifier(LogisticRegression(), attack=_l2_attack(), random_state=0)
    cloned = clone(at)
    assert cloned.get_params()["attack__epsilon"] == 0.5
    search = GridSearchCV(at, {"n_rounds": [0, 2], "attack__epsilon": [0.25, 0.5]}, cv=3).fit(X, y)
    assert len(search.cv_results_["params"]) == 4
    assert search.best_estimator_.attack_.epsilon in (0.25, 0.5)
    assert at.attack.epsilon == 0.5  # the search set parameters on clones only


def test_black_box_attack_needs_no_gradient():
    # Noise augmentation with a black-box attack: any classifier works.
    X, y, _, _ = _data(200)
    attack = BlockNoise(blocks=3, scale=0.5, random_state=0)
    at = AdversarialTrainingClassifier(
        RandomForestClassifier(n_estimators=5), attack=attack, n_rounds=1, random_state=0
    ).fit(X, y)
    assert at.history_[-1]["n_train"] == 200


# --------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------


def test_non_differentiable_estimator_raises_at_fit():
    X, y, _, _ = _data(100)
    at = AdversarialTrainingClassifier(RandomForestClassifier(), attack=_l2_attack())
    with pytest.raises(TypeError, match="crafts the white-box attack PGDAttack") as info:
        at.fit(X, y)
    assert "RandomForestClassifier has no differentiable forward pass" in str(info.value)
    assert not hasattr(at, "estimator_")


@pytest.mark.parametrize("attack", [SignFlip(), LogisticRegression()])
def test_attack_must_be_an_inference_adversary(attack):
    X, y, _, _ = _data(100)
    at = AdversarialTrainingClassifier(LogisticRegression(), attack=attack)
    with pytest.raises(ValueError, match="attack must be an inference-time adversary"):
        at.fit(X, y)


def test_targeted_attack_without_target_class():
    X, y, _, _ = _data(100)
    attack = PGDAttack(blocks=3, targeted=True)
    at = AdversarialTrainingClassifier(LogisticRegression(), attack=attack, n_rounds=1)
    with pytest.raises(ValueError, match="targeted=True needs target_class"):
        at.fit(X, y)


def test_target_class_not_a_class():
    X, y, _, _ = _data(100)
    attack = PGDAttack(blocks=3, targeted=True, target_class=7)
    at = AdversarialTrainingClassifier(LogisticRegression(), attack=attack, n_rounds=1)
    with pytest.raises(ValueError, match=r"target_class \[7\] not among"):
        at.fit(X, y)


def test_invalid_nested_attack_parameter_is_validated():
    X, y, _, _ = _data(100)
    at = AdversarialTrainingClassifier(LogisticRegression(), attack=PGDAttack(max_iter=0))
    with pytest.raises(ValueError, match="max_iter"):
        at.fit(X, y)
