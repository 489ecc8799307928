"""PGDAttack and the differentiable-forward protocol."""

import numpy as np
import pytest
import torch
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.ensemble import RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression, RidgeClassifier, SGDClassifier
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import MaxAbsScaler, MinMaxScaler, StandardScaler
from sklearn.svm import LinearSVC
from skorch import NeuralNetBinaryClassifier, NeuralNetClassifier

from sklearn_robust._differentiable import (
    differentiable_forward,
    forward_device,
    is_differentiable,
)
from sklearn_robust.adversaries import PGDAttack

N_BLOCKS, WIDTH = 3, 2
ATTACKED = slice(4, 6)  # the last block, attacked by default


def _blocks_data(n_samples=300, n_classes=2, seed=0, labels=None, spread=0.75):
    """Nearly separable classes; every block of 2 columns carries the same class information.

    The class centres are random, then rescaled block by block so that in every block they
    lie at root-mean-square distance ``spread`` from their mean (the noise has std 0.5): no
    block is uninformative by the luck of the seed, so attacking any one block matters. With
    the default, a linear model is right on about 99% of the rows, and a few rows lie within
    a small budget of the boundary (so that budgeted attacks can flip some rows and not all).
    """
    rng = np.random.RandomState(seed)
    centers = rng.normal(size=(n_classes, N_BLOCKS * WIDTH))
    centers -= centers.mean(axis=0)
    for block in range(N_BLOCKS):
        part = centers[:, block * WIDTH : (block + 1) * WIDTH]
        part *= spread / np.sqrt(np.mean(np.sum(part**2, axis=1)))
    y = rng.randint(n_classes, size=n_samples)
    X = centers[y] + rng.normal(scale=0.5, size=(n_samples, N_BLOCKS * WIDTH))
    if labels is not None:
        y = np.asarray(labels)[y]
    return X, y


# The unprojected attack of the paper (norm=None) steps by ``step_size`` times the raw
# gradient of the cross-entropy, which vanishes on rows a model is very sure of (like
# exp(-margin)). Its strength tests therefore attack models that are not over-confident: a
# regularised logistic regression and nets trained with weight decay. Against a nearly
# unregularised model of these well-separated classes, 50 steps of 2.0 cannot move the
# confidently classified rows at all (the paper tunes its step to its data, too).
STEP = 2.0


def _soft_logistic():
    """A logistic regression whose probabilities are not saturated on ``_blocks_data``."""
    return LogisticRegression(C=0.1)


class _Module(torch.nn.Module):
    """A small MLP initialised from a local generator (no global seeding)."""

    def __init__(self, n_in=N_BLOCKS * WIDTH, n_out=2, softmax=True, seed=0):
        super().__init__()
        self.hidden = torch.nn.Linear(n_in, 16)
        self.out = torch.nn.Linear(16, n_out)
        self.softmax = softmax
        generator = torch.Generator().manual_seed(seed)
        for layer in (self.hidden, self.out):
            torch.nn.init.normal_(layer.weight, std=0.3, generator=generator)
            torch.nn.init.zeros_(layer.bias)

    def forward(self, X):
        out = self.out(torch.relu(self.hidden(X)))
        return torch.softmax(out, dim=-1) if self.softmax else out.squeeze(-1)


def _skorch_classifier(X, y):
    net = NeuralNetClassifier(
        _Module,
        max_epochs=60,
        lr=0.1,
        batch_size=len(X),
        train_split=None,
        optimizer=torch.optim.Adam,
        optimizer__weight_decay=0.1,  # not over-confident: see STEP
        verbose=0,
    )
    return net.fit(X.astype(np.float32), y.astype(np.int64))


class _ZeroImpute(TransformerMixin, BaseEstimator):
    """Test-local differentiable transformer implementing the protocol: NaN -> 0."""

    def fit(self, X, y=None):
        self.n_features_in_ = X.shape[1]
        return self

    def transform(self, X):
        return np.nan_to_num(np.asarray(X, dtype=float), nan=0.0)

    def _torch_forward(self, X):
        return torch.where(torch.isnan(X), torch.zeros_like(X), X)


@pytest.fixture(scope="module")
def binary():
    X, y = _blocks_data()
    return X, y, _soft_logistic().fit(X, y)


# --------------------------------------------------------------------------------------------
# Strength
# --------------------------------------------------------------------------------------------


def test_untargeted_unbounded_attack_lowers_accuracy(binary):
    X, y, clf = binary
    assert clf.score(X, y) > 0.97
    attack = PGDAttack(blocks=N_BLOCKS, step_size=STEP, max_iter=50).fit(X)
    X_adv = attack.attack(X, y, estimator=clf)
    assert clf.score(X_adv, y) < 0.2


def test_untargeted_attack_through_scaler_pipeline():
    X, y = _blocks_data(seed=1)
    pipe = make_pipeline(StandardScaler(), _soft_logistic()).fit(X, y)
    assert pipe.score(X, y) > 0.97
    X_adv = PGDAttack(blocks=N_BLOCKS, step_size=STEP).fit(X).attack(X, y, estimator=pipe)
    assert pipe.score(X_adv, y) < 0.2


def test_untargeted_attack_on_skorch_net_leaves_the_net_unchanged():
    X, y = _blocks_data(seed=2)
    net = _skorch_classifier(X, y)
    assert net.score(X.astype(np.float32), y) > 0.95
    before = {k: v.clone() for k, v in net.module_.state_dict().items()}
    # Training leaves the last step's gradients in ``.grad``; the attack must not touch them.
    grads_before = [None if p.grad is None else p.grad.clone() for p in net.module_.parameters()]
    # The attack evaluates in eval mode and gives every submodule its own mode back.
    net.module_.train(True)
    net.module_.out.train(False)
    X_adv = PGDAttack(blocks=N_BLOCKS, step_size=STEP).fit(X).attack(X, y, estimator=net)
    # (Checked before scoring: skorch's own predict leaves the module in eval mode.)
    assert net.module_.training and net.module_.hidden.training
    assert not net.module_.out.training
    assert net.score(X_adv.astype(np.float32), y) < 0.2
    for name, value in net.module_.state_dict().items():
        assert torch.equal(value, before[name]), name
    for p, grad in zip(net.module_.parameters(), grads_before, strict=True):
        assert (p.grad is None) if grad is None else torch.equal(p.grad, grad)


def test_targeted_attack_reaches_the_target_class():
    X, y = _blocks_data(n_classes=3, seed=3, labels=["cat", "dog", "emu"])
    clf = LogisticRegression().fit(X, y)
    assert clf.score(X, y) > 0.95
    attack = PGDAttack(
        blocks=N_BLOCKS, targeted=True, target_class="dog", step_size=0.5, max_iter=50
    ).fit(X)
    X_adv = attack.attack(X, y, estimator=clf)
    assert np.mean(clf.predict(X_adv) == "dog") > 0.9
    assert np.mean(clf.predict(X) == "dog") < 0.5
    # Another target moves the predictions elsewhere: the label really is mapped.
    X_emu = attack.set_params(target_class="emu").attack(X, estimator=clf)
    assert np.mean(clf.predict(X_emu) == "emu") > 0.9


def test_y_none_attacks_the_models_own_predictions(binary):
    X, y, clf = binary
    attack = PGDAttack(blocks=N_BLOCKS, step_size=0.3, max_iter=10).fit(X)
    y_flipped = y.copy()
    y_flipped[:20] = 1 - y_flipped[:20]  # labels that disagree with the model
    np.testing.assert_array_equal(
        attack.attack(X, estimator=clf), attack.attack(X, clf.predict(X), estimator=clf)
    )
    assert not np.array_equal(
        attack.attack(X, estimator=clf), attack.attack(X, y_flipped, estimator=clf)
    )


# --------------------------------------------------------------------------------------------
# What may change
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("norm, epsilon", [(None, None), ("l2", 1.0), ("inf", 0.5)])
def test_only_attacked_columns_change_and_input_is_untouched(binary, norm, epsilon):
    X, y, clf = binary
    X_orig = X.copy()
    attack = PGDAttack(blocks=N_BLOCKS, agents=[0, 2], norm=norm, epsilon=epsilon).fit(X)
    X_adv = attack.attack(X, y, estimator=clf)
    np.testing.assert_array_equal(attack.attacked_columns_, [0, 1, 4, 5])
    # Unattacked columns bit-identical (gradient masked), attacked ones moved in every row.
    assert X_adv[:, 2:4].tobytes() == X[:, 2:4].tobytes()
    assert np.all(np.any(X_adv[:, [0, 1, 4, 5]] != X[:, [0, 1, 4, 5]], axis=1))
    np.testing.assert_array_equal(X, X_orig)


@pytest.mark.parametrize("norm, ord_", [("l2", 2), ("inf", np.inf)])
@pytest.mark.parametrize("epsilon", [0.3, 1.5])
def test_budget_is_respected_and_reached(binary, norm, ord_, epsilon):
    X, y, clf = binary
    attack = PGDAttack(
        blocks=N_BLOCKS, agents=[1, 2], norm=norm, epsilon=epsilon, step_size=0.2, max_iter=30
    ).fit(X)
    X_adv = attack.attack(X, y, estimator=clf)
    sizes = np.linalg.norm(X_adv[:, 2:] - X[:, 2:], ord=ord_, axis=1)
    assert sizes.max() <= epsilon + 1e-6
    # Linear model: the attack runs to the boundary of the ball in every row.
    np.testing.assert_allclose(sizes, epsilon, rtol=1e-5)
    assert clf.score(X_adv, y) < clf.score(X, y)


def test_budgeted_attack_on_float32_data_keeps_dtype_and_budget(binary):
    X, y, clf = binary
    X32 = X.astype(np.float32)
    attack = PGDAttack(blocks=N_BLOCKS, norm="l2", epsilon=0.7, step_size=0.2).fit(X32)
    X_adv = attack.attack(X32, y, estimator=clf)
    assert X_adv.dtype == np.float32
    sizes = np.linalg.norm(X_adv.astype(np.float64) - X32, axis=1)
    assert sizes.max() <= 0.7 + 1e-6
    assert attack.attack(X, y, estimator=clf).dtype == np.float64


def test_larger_budget_is_stronger(binary):
    X, y, clf = binary
    scores = [
        clf.score(
            PGDAttack(blocks=N_BLOCKS, norm="l2", epsilon=eps, step_size=0.25)
            .fit(X)
            .attack(X, y, estimator=clf),
            y,
        )
        for eps in (0.5, 2.0, 8.0)
    ]
    assert scores[0] > scores[1] > scores[2]


def test_zero_step_size_changes_nothing(binary):
    X, y, clf = binary
    for norm, epsilon in [(None, None), ("l2", 1.0), ("inf", 1.0)]:
        attack = PGDAttack(blocks=N_BLOCKS, step_size=0.0, norm=norm, epsilon=epsilon).fit(X)
        assert attack.attack(X, y, estimator=clf).tobytes() == X.tobytes()


def test_random_start_is_reproducible_and_seeded(binary):
    X, y, clf = binary

    def run(seed):
        attack = PGDAttack(
            blocks=N_BLOCKS,
            norm="inf",
            epsilon=0.4,
            step_size=0.05,
            max_iter=2,
            random_start=True,
            random_state=seed,
        )
        return attack.fit(X).attack(X, y, estimator=clf)

    np.testing.assert_array_equal(run(0), run(0))
    assert not np.array_equal(run(0), run(1))
    # Without random start the seed plays no role.
    no_start = [
        PGDAttack(blocks=N_BLOCKS, norm="inf", epsilon=0.4, max_iter=2, random_state=s)
        .fit(X)
        .attack(X, y, estimator=clf)
        for s in (0, 1)
    ]
    np.testing.assert_array_equal(*no_start)
    assert np.abs(run(0)[:, ATTACKED] - X[:, ATTACKED]).max() <= 0.4 + 1e-6


def test_random_start_l2_stays_in_the_ball(binary):
    X, y, clf = binary
    attack = PGDAttack(
        blocks=N_BLOCKS, norm="l2", epsilon=0.5, step_size=0.0, random_start=True, random_state=0
    ).fit(X)
    X_adv = attack.attack(X, y, estimator=clf)
    sizes = np.linalg.norm(X_adv - X, axis=1)
    assert sizes.max() <= 0.5 + 1e-6
    assert sizes.min() > 0  # the start is random, not the clean point


# --------------------------------------------------------------------------------------------
# through="final" vs "all"
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def scaled_pipeline():
    X, y = _blocks_data(seed=4)
    X = X * np.array([1.0, 1.0, 1.0, 1.0, 1.0, 20.0])  # last column on a very different scale
    pipe = Pipeline([("scale", StandardScaler()), ("clf", LogisticRegression())]).fit(X, y)
    return X, y, pipe


def test_through_final_ignores_the_steps_before_the_final_one(scaled_pipeline):
    X, y, pipe = scaled_pipeline
    params = dict(blocks=N_BLOCKS, norm="l2", epsilon=1.5, step_size=0.3, max_iter=20)
    final = PGDAttack(through="final", **params).fit(X).attack(X, y, estimator=pipe)
    # Exactly the attack crafted on the classifier alone, as if X were its input.
    bare = PGDAttack(**params).fit(X).attack(X, y, estimator=pipe["clf"])
    np.testing.assert_array_equal(final, bare)
    adaptive = PGDAttack(through="all", **params).fit(X).attack(X, y, estimator=pipe)
    assert not np.allclose(final, adaptive)


def test_through_all_is_at_least_as_strong_as_final(scaled_pipeline):
    X, y, pipe = scaled_pipeline
    params = dict(blocks=N_BLOCKS, norm="l2", epsilon=1.5, step_size=0.3, max_iter=20)
    sign = np.where(y == pipe.classes_[1], 1.0, -1.0)
    margins = {}
    for through in ("all", "final"):
        X_adv = PGDAttack(through=through, **params).fit(X).attack(X, y, estimator=pipe)
        margins[through] = sign * pipe.decision_function(X_adv)
    # The adaptive attack follows the true gradient: it lowers every row's margin at least
    # as much, and strictly more on average.
    assert np.all(margins["all"] <= margins["final"] + 1e-9)
    assert margins["all"].mean() < margins["final"].mean() - 0.1


def test_through_final_allows_a_non_differentiable_head():
    X, y = _blocks_data(seed=5)
    pipe = make_pipeline(SimpleImputer(), _soft_logistic()).fit(X, y)
    with pytest.raises(TypeError, match="SimpleImputer.*'simpleimputer'"):
        PGDAttack(blocks=N_BLOCKS).fit(X).attack(X, y, estimator=pipe)
    attack = PGDAttack(blocks=N_BLOCKS, step_size=STEP, through="final").fit(X)
    X_adv = attack.attack(X, y, estimator=pipe)
    assert pipe.score(X_adv, y) < 0.5


def test_through_final_refuses_a_final_step_of_another_width():
    X, y = _blocks_data(seed=5)
    # The classifier sees 4 columns, the attack 6.
    narrow = make_pipeline(_ColumnSubset(), _soft_logistic()).fit(X, y)
    attack = PGDAttack(blocks=N_BLOCKS, agents=1, step_size=STEP).fit(X)
    X_adv = attack.attack(X, y, estimator=narrow)
    assert narrow.score(X_adv, y) < 0.5
    with pytest.raises(ValueError, match="expects 4 features, but X has 6"):
        PGDAttack(blocks=N_BLOCKS, through="final").fit(X).attack(X, y, estimator=narrow)


class _ColumnSubset(TransformerMixin, BaseEstimator):
    """Keeps the first 4 columns (differentiably)."""

    def fit(self, X, y=None):
        return self

    def transform(self, X):
        return np.asarray(X)[:, :4]

    def _torch_forward(self, X):
        return X[:, :4]


# --------------------------------------------------------------------------------------------
# Missing and corrupted blocks
# --------------------------------------------------------------------------------------------


def test_missing_blocks_stay_missing_and_other_rows_are_attacked():
    X, y = _blocks_data(seed=6)
    pipe = make_pipeline(_ZeroImpute(), _soft_logistic()).fit(X, y)
    X_nan = X.copy()
    X_nan[:10, 0:2] = np.nan  # unattacked block missing
    X_nan[10:20, 4:6] = np.nan  # attacked block missing
    X_nan[20:30, 4] = np.nan  # attacked block partly missing: the whole block is missing
    attack = PGDAttack(blocks=N_BLOCKS, step_size=STEP).fit(X)
    X_adv = attack.attack(X_nan, y, estimator=pipe)
    np.testing.assert_array_equal(np.isnan(X_adv), np.isnan(X_nan))
    # Rows whose attacked block is missing are returned as they are.
    assert X_adv[10:30].tobytes() == X_nan[10:30].tobytes()
    # Rows with another block missing are still attacked (gradient through the imputer).
    assert np.all(np.any(X_adv[:10, ATTACKED] != X_nan[:10, ATTACKED], axis=1))
    assert pipe.score(X_adv[30:], y[30:]) < 0.2


@pytest.mark.parametrize("random_start", [False, True])
def test_rows_the_model_cannot_evaluate_are_left_alone(binary, random_start):
    X, y, clf = binary
    X_nan = X.copy()
    X_nan[:5, 0] = np.nan  # LogisticRegression's forward gives NaN logits for these rows
    X_nan[5:8, 4] = np.inf  # corrupted attacked entry: infinite logits, the whole row stays
    attack = PGDAttack(
        blocks=N_BLOCKS, step_size=0.5, random_start=random_start, random_state=0
    ).fit(X)
    X_adv = attack.attack(X_nan, y, estimator=clf)
    assert X_adv[:8].tobytes() == X_nan[:8].tobytes()
    assert not np.isnan(X_adv[5:]).any()
    assert np.all(np.any(X_adv[8:, ATTACKED] != X[8:, ATTACKED], axis=1))


# --------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------


def test_transform_refuses_and_points_to_make_robust_scorer(binary):
    X, y, clf = binary
    attack = PGDAttack(blocks=N_BLOCKS).fit(X)
    with pytest.raises(ValueError, match="make_robust_scorer"):
        attack.transform(X)
    with pytest.raises(ValueError, match="white-box.*make_robust_scorer"):
        attack.attack(X, y)
    # fit_transform is the training pass: data untouched.
    np.testing.assert_array_equal(PGDAttack(blocks=N_BLOCKS).fit_transform(X), X)


def test_non_differentiable_estimator_is_named(binary):
    X, y, _ = binary
    forest = RandomForestClassifier(n_estimators=5, random_state=0).fit(X, y)
    attack = PGDAttack(blocks=N_BLOCKS).fit(X)
    with pytest.raises(TypeError, match="RandomForestClassifier has no differentiable forward"):
        attack.attack(X, y, estimator=forest)
    pipe = make_pipeline(StandardScaler(), forest)
    with pytest.raises(TypeError, match="'randomforestclassifier'"):
        attack.attack(X, y, estimator=pipe)
    assert not is_differentiable(pipe)


def test_settings_errors(binary):
    X, y, clf = binary
    with pytest.raises(ValueError, match="norm='l2' needs a budget: epsilon is None"):
        PGDAttack(norm="l2").fit(X)
    with pytest.raises(ValueError, match="norm='inf' needs a budget"):
        PGDAttack(norm="inf").fit(X)
    with pytest.raises(ValueError, match="targeted=True needs target_class"):
        PGDAttack(targeted=True).fit(X)
    attack = PGDAttack(blocks=N_BLOCKS, targeted=True, target_class=7).fit(X)
    with pytest.raises(ValueError, match=r"target_class \[7\] not among.*classes_ \[0, 1\]"):
        attack.attack(X, estimator=clf)
    attack = PGDAttack(blocks=N_BLOCKS).fit(X)
    with pytest.raises(ValueError, match=r"labels \[5\] not among"):
        attack.attack(X, np.full(len(X), 5), estimator=clf)
    with pytest.raises(ValueError, match="y must have shape"):
        attack.attack(X, y[:-1], estimator=clf)
    with pytest.raises(ValueError, match="no classes_"):
        attack.attack(X, y, estimator=StandardScaler().fit(X))
    with pytest.raises(Exception, match="not fitted"):
        attack.attack(X, y, estimator=LogisticRegression())


def test_wrong_logit_width_is_reported(binary):
    X, y, _ = binary

    class _BadClassifier(LogisticRegression):
        def _torch_forward(self, X):
            return torch.zeros((X.shape[0], 5), dtype=X.dtype)

    bad = _BadClassifier().fit(X, y)
    with pytest.raises(ValueError, match=r"returned shape \(300, 5\).*2 classes"):
        PGDAttack(blocks=N_BLOCKS).fit(X).attack(X, y, estimator=bad)


# --------------------------------------------------------------------------------------------
# The differentiable-forward protocol
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "scaler", [StandardScaler(), StandardScaler(with_mean=False), MinMaxScaler(), MaxAbsScaler()]
)
def test_forward_of_scalers_matches_transform(binary, scaler):
    X, _, _ = binary
    scaler.fit(X)
    out = differentiable_forward(scaler, torch.as_tensor(X))
    assert out.dtype == torch.float64
    np.testing.assert_allclose(out.numpy(), scaler.transform(X), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(
    "make_clf",
    [
        LogisticRegression,
        lambda: LinearSVC(random_state=0),
        RidgeClassifier,
        lambda: SGDClassifier(random_state=0),
    ],
)
@pytest.mark.parametrize("n_classes", [2, 3])
def test_forward_of_linear_classifiers_matches_decision_function(make_clf, n_classes):
    X, y = _blocks_data(n_classes=n_classes, seed=7)
    clf = make_clf().fit(X, y)
    logits = differentiable_forward(clf, torch.as_tensor(X, dtype=torch.float32))
    assert logits.shape == (len(X), n_classes)
    scores = clf.decision_function(X)
    expected = np.column_stack([np.zeros(len(X)), scores]) if n_classes == 2 else scores
    np.testing.assert_allclose(logits.numpy(), expected, rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(clf.classes_[logits.argmax(1).numpy()], clf.predict(X))


def test_forward_of_binary_logistic_gives_its_probabilities(binary):
    X, _, clf = binary
    proba = torch.softmax(differentiable_forward(clf, torch.as_tensor(X)), dim=1)
    np.testing.assert_allclose(proba.numpy(), clf.predict_proba(X), rtol=1e-10)


def test_forward_of_skorch_nets():
    X, y = _blocks_data(seed=8)
    net = _skorch_classifier(X, y)
    X64 = torch.as_tensor(X)  # float64 in, cast to the module's float32 inside
    logits = differentiable_forward(net, X64)
    proba = net.predict_proba(X.astype(np.float32))
    np.testing.assert_allclose(torch.softmax(logits, 1).detach().numpy(), proba, atol=1e-5)
    X_req = X64.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(differentiable_forward(net, X_req)[:, 1].sum(), X_req)
    assert grad.dtype == torch.float64 and torch.all(grad.abs().sum(1) > 0)
    assert forward_device(net) == torch.device("cpu")

    binary_net = NeuralNetBinaryClassifier(
        _Module,
        module__n_out=1,
        module__softmax=False,
        max_epochs=30,
        lr=0.1,
        batch_size=len(X),
        train_split=None,
        optimizer=torch.optim.Adam,
        optimizer__weight_decay=0.1,
        verbose=0,
    ).fit(X.astype(np.float32), y.astype(np.float32))
    logits = differentiable_forward(binary_net, X64).detach()
    assert logits.shape == (len(X), 2)
    np.testing.assert_array_equal(
        logits.argmax(1).numpy(), binary_net.predict(X.astype(np.float32))
    )
    X_adv = PGDAttack(blocks=N_BLOCKS, step_size=STEP).fit(X).attack(X, y, estimator=binary_net)
    assert binary_net.score(X_adv.astype(np.float32), y) < 0.2


def test_forward_of_pipeline_chains_steps_and_gradients_flow(binary):
    X, y, _ = binary
    pipe = make_pipeline(StandardScaler(), "passthrough", LogisticRegression()).fit(X, y)
    X_t = torch.as_tensor(X[:7], dtype=torch.float32).requires_grad_(True)
    logits = differentiable_forward(pipe, X_t)
    np.testing.assert_allclose(
        logits[:, 1].detach().numpy(), pipe.decision_function(X[:7]), rtol=1e-4, atol=1e-5
    )
    (grad,) = torch.autograd.grad(logits[:, 1].sum(), X_t)
    expected = pipe[-1].coef_[0] / pipe[0].scale_
    np.testing.assert_allclose(grad.numpy(), np.tile(expected, (7, 1)), rtol=1e-5)
    assert is_differentiable(pipe)


def test_forward_refuses_numpy_input(binary):
    X, _, clf = binary
    with pytest.raises(TypeError, match="floating torch.Tensor; got numpy.ndarray"):
        differentiable_forward(clf, X)


class _InnerSolver(TransformerMixin, BaseEstimator):
    """Identity whose forward pass runs autograd itself, as CoPur's purification does."""

    def fit(self, X, y=None):
        self.n_features_in_ = X.shape[1]
        self.n_forward_ = 0
        return self

    def transform(self, X):
        return np.asarray(X, dtype=float)

    def _torch_forward(self, X):
        self.n_forward_ += 1
        z = X.detach().clone().requires_grad_(True)
        (solution,) = torch.autograd.grad((z * z).sum() / 2, z)  # argmin of a solve: X itself
        return X + (solution - X).detach()  # its value, with a straight-through gradient


def test_attack_runs_autograd_enabled_forward_passes_only(binary):
    X, y, clf = binary
    pipe = make_pipeline(_InnerSolver(), clone(clf)).fit(X, y)
    attack = PGDAttack(
        blocks=N_BLOCKS, step_size=STEP, max_iter=7, random_start=True, random_state=0
    ).fit(X)
    # The identity step changes nothing: the attack through it is the attack on clf alone.
    np.testing.assert_array_equal(
        attack.attack(X, y, estimator=pipe), attack.attack(X, y, estimator=pipe[-1])
    )
    # One forward pass per step, plus one to score the last iterate (to keep each row's
    # best), and none besides (a purifier's pass is costly).
    assert pipe[0].n_forward_ == 8
    last = clone(attack).set_params(keep_best=False).fit(X)
    pipe[0].n_forward_ = 0
    last.attack(X, y, estimator=pipe)
    assert pipe[0].n_forward_ == 7
