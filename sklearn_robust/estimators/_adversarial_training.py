"""AdversarialTrainingClassifier: adversarial training on the agents' embeddings, in rounds."""

import numbers

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin, MetaEstimatorMixin, _fit_context, clone
from sklearn.pipeline import Pipeline
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import HasMethods, Interval
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data
from tqdm.auto import tqdm

from sklearn_robust._differentiable import _forward, check_differentiable
from sklearn_robust.adversaries import PGDAttack
from sklearn_robust.estimators._fusion_classifier import MLPFusionClassifier
from sklearn_robust.nets._utils import non_finite_net_state

_SEED_MAX = np.iinfo(np.int32).max

# --------------------------------------------------------------------------------------------
# Maths and plumbing: arrays in, arrays out, an explicit generator, no validation.
# --------------------------------------------------------------------------------------------


def _fill_random_states(estimator, rng):
    """Set every ``random_state`` parameter of ``estimator`` that is None (nested ones too)
    to an int drawn from ``rng``; ints and generators the user chose are kept."""
    params = estimator.get_params(deep=True)
    seeds = {
        key: int(rng.randint(_SEED_MAX))
        for key in sorted(params)
        if (key == "random_state" or key.endswith("__random_state")) and params[key] is None
    }
    if seeds:
        estimator.set_params(**seeds)
    return estimator


def _draw_blocks(n_samples, n_blocks, rng):
    """One block index per row, uniformly among ``n_blocks``."""
    return rng.randint(n_blocks, size=n_samples)


def _craft(estimator, attack, X, y, block_wise, rng):
    """Adversarial copies of the rows of ``X`` against the fitted ``estimator``.

    ``attack`` is an unfitted inference-time adversary (it is cloned, never fitted itself).
    Without ``block_wise`` a clone is fitted on ``X`` and attacks every row on its own
    ``agents``. With ``block_wise`` each row gets one block drawn uniformly from the attack's
    layout; the rows are grouped by block and each group is attacked by a clone restricted
    to that block (``agents=[b]``), fitted on all of ``X``. Returns ``(X_adv, chosen)``,
    ``chosen`` the block of each row (None without ``block_wise``). ``X`` is not modified.
    """
    if not block_wise:
        adversary = _fill_random_states(clone(attack), rng).fit(X, y)
        return adversary.attack(X, y, estimator=estimator), None
    template = clone(attack).fit(X, y)
    chosen = _draw_blocks(X.shape[0], template.layout_.n_blocks, rng)
    X_adv = np.array(X, copy=True)
    for block in np.unique(chosen):
        rows = np.flatnonzero(chosen == block)
        adversary = _fill_random_states(clone(attack).set_params(agents=[int(block)]), rng)
        adversary.fit(X, y)
        X_adv[rows] = adversary.attack(X[rows], y[rows], estimator=estimator)
    return X_adv, chosen


def _non_finite_state(estimator, depth=0):
    """Where a fitted estimator holds NaN or inf, as text, or None when all is finite.

    Looks at torch networks (parameters, buffers, skorch's recorded losses), at the steps of
    a pipeline, and at the fitted floating arrays and nested estimators of any estimator
    (``coef_``, ``net_``, ``estimator_``, ...), a few levels deep.
    """
    if depth > 3:
        return None
    if hasattr(estimator, "module_") and hasattr(estimator, "history"):  # a skorch net
        return non_finite_net_state(estimator)
    if isinstance(estimator, torch.nn.Module):
        for name, tensor in [*estimator.named_parameters(), *estimator.named_buffers()]:
            if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
                return f"weights ({name})"
        return None
    if isinstance(estimator, Pipeline):
        for name, step in estimator.steps:
            where = _non_finite_state(step, depth + 1)
            if where is not None:
                return f"step {name!r}: {where}"
        return None
    if not isinstance(estimator, BaseEstimator):
        return None
    for name, value in sorted(vars(estimator).items()):
        if not name.endswith("_") or name.startswith("_"):
            continue
        values = value if isinstance(value, list) else [value]
        for item in values:
            if isinstance(item, np.ndarray) and item.dtype.kind in "fc":
                if not np.isfinite(item).all():
                    return name
            elif isinstance(item, (BaseEstimator, torch.nn.Module)) or hasattr(item, "module_"):
                where = _non_finite_state(item, depth + 1)
                if where is not None:
                    return f"{name}: {where}"
    return None


def _check_finite_round(estimator, X_adv, owner, r, attack):
    """Stop adversarial training at a non-finite attack output or a diverged base model."""
    if X_adv is not None and not np.isfinite(X_adv).all():
        rows = np.flatnonzero(~np.isfinite(X_adv).all(axis=1))
        raise ValueError(
            f"{owner}: in round {r} the attack {type(attack).__name__} returned NaN or inf in "
            f"{rows.size} adversarial rows; training stopped instead of fitting on them. Bound "
            "the attack (eps, clip) or check its settings."
        )
    where = _non_finite_state(estimator)
    if where is not None:
        what = "the clean fit" if r == 0 else f"round {r}"
        raise ValueError(
            f"{owner}: training diverged at {what}: the base classifier "
            f"{type(estimator).__name__}'s {where} became NaN or inf; training stopped "
            "instead of returning a broken model. Lower its learning rate, bound the attack "
            "(eps, clip), or rescale the features."
        )


def _accuracy(estimator, X, y):
    return float(np.mean(estimator.predict(X) == y))


# --------------------------------------------------------------------------------------------
# Estimator
# --------------------------------------------------------------------------------------------


def _estimator_has(attr):
    """``available_if`` check: the fitted base estimator, else the unfitted one, has ``attr``."""

    def check(self):
        if hasattr(self, "estimator_"):
            return hasattr(self.estimator_, attr)
        base = MLPFusionClassifier() if self.estimator is None else self.estimator
        return hasattr(base, attr)

    return check


class AdversarialTrainingClassifier(MetaEstimatorMixin, ClassifierMixin, BaseEstimator):
    """Adversarial training of a classifier on the agents' embeddings, in rounds.

    A baseline defense of the CoPur paper [1]_: the fusion classifier is trained on clean rows
    together with adversarial rows crafted against it by an inference-time attack, usually
    :class:`~sklearn_robust.adversaries.PGDAttack` -- unprojected (``norm=None``, the paper's
    attack), targeted or untargeted, or budgeted (``norm='l2'`` or ``'inf'``, Madry et al.
    [2]_). The attack perturbs only its attacked agents' blocks, so the model learns to resist
    corrupted agents.

    scikit-learn estimators are fitted as a whole, with no hook per mini-batch, so training
    runs in rounds:

    1. a clone of ``estimator`` is fitted on the clean rows ``(X, y)``;
    2. for each of ``n_rounds`` rounds, a clone of ``attack`` crafts an adversarial copy
       ``X_adv`` of every training row against the current model, and the model is refitted
       on the clean rows and the adversarial rows, all labelled with ``y``: the adversarial
       rows of every round so far (``accumulate=True``), or of this round only
       (``accumulate=False``).

    The labels of the adversarial rows are always the true labels: an untargeted attack
    pushes each row away from its label ``y``, a targeted one towards the attack's
    ``target_class``, and the model learns to predict ``y`` on both.

    With ``block_wise=True`` (the paper's "block AT"), each training row has **one** block,
    drawn uniformly at random in every round among all blocks of the attack's ``blocks``
    layout, perturbed by the attack restricted to that block (the attack's ``agents`` is then
    ignored).

    Parameters
    ----------
    estimator : classifier, default=None
        Base classifier, cloned in :meth:`fit`. For a white-box attack (PGD) it must be
        differentiable (see :mod:`sklearn_robust._differentiable`): an
        :class:`MLPFusionClassifier`, a linear classifier such as ``LogisticRegression``, a
        skorch net, or a Pipeline of scalers ending in one. None means
        ``MLPFusionClassifier()`` (one hidden layer of 60 units, the paper's NUS-WIDE fusion
        model).
    attack : inference-time adversary, default=None
        The attack the model is trained against, cloned for every round (and every block
        with ``block_wise``); any inference-time adversary of
        :mod:`sklearn_robust.adversaries` works, a black-box one (e.g. ``BlockNoise``) giving
        noise augmentation. None means ``PGDAttack()``: the paper's unprojected untargeted
        PGD (50 steps of 0.1 times the raw gradient) on the last block of its ``blocks``,
        which, with ``blocks=None``, is the **last column** alone. Pass
        ``PGDAttack(blocks=..., agents=...)`` to say which agents are attacked.
    block_wise : bool, default=False
        Perturb one randomly chosen block of each training row (drawn among all blocks of the
        attack's layout) instead of the attack's ``agents``.
    n_rounds : int, default=3
        Number of adversarial rounds after the clean fit; 0 gives the plain classifier.
    accumulate : bool, default=True
        Refit each round on the clean rows and the adversarial rows of **all** rounds so far
        (``(r + 1) * n_samples`` rows in round ``r``). With False, on the clean rows and this
        round's adversarial rows only (``2 * n_samples`` rows), as mini-batch adversarial
        training does; see the Notes for why that oscillates when each round trains from
        scratch.
    random_state : int, RandomState instance or None, default=None
        Seed of the blocks drawn with ``block_wise`` and of the seeds given to the ``random_state``
        parameters of the base classifier and the attack (nested ones included) that are
        None; parameters the user set are kept. An int makes :meth:`fit` reproducible.
    verbose : int, default=0
        Show a progress bar over the rounds when positive.

    Attributes
    ----------
    estimator_ : classifier
        The fitted clone of the base classifier (fitted last on the clean and adversarial
        rows of the last round).
    attack_ : inference-time adversary
        A clone of the attack fitted on the training data (the template of the clones used
        for crafting).
    history_ : list of dict
        One entry per fitted model, ``n_rounds + 1`` in all: ``"round"`` (0 is the clean
        fit), ``"n_train"`` (rows it was fitted on), ``"clean_accuracy"`` (its accuracy on
        the clean training rows) and ``"adversarial_accuracy"`` (its accuracy on adversarial
        copies of the training rows crafted against it, with ``block_wise`` as set; those of
        model ``r < n_rounds`` are the new adversarial rows of round ``r + 1``).
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    n_features_in_ : int
        Number of features seen during :meth:`fit`.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during :meth:`fit`, defined only when ``X`` has feature names
        that are all strings.

    See Also
    --------
    sklearn_robust.adversaries.PGDAttack : The white-box attack trained against.
    RandomizedSmoothingClassifier : Another baseline defense: Gaussian randomized smoothing.
    CoPurTransformer : Purification of missing or arbitrarily corrupted agents.

    Notes
    -----
    Every round refits the **same** clone ``estimator_`` and never changes its parameters
    (except ``random_state`` parameters left None, seeded once before the clean fit). No
    ``warm_start`` is forced: a base classifier built with ``warm_start=True`` (e.g. a
    skorch net's ``warm_start``) then continues each round from the previous round's
    weights, the usual fine-tuning of adversarial training; otherwise each round trains from
    scratch, which does not depend on the estimator offering ``warm_start``.

    Trained from scratch on the clean rows and the last round's adversarial rows only
    (``accumulate=False``), a model becomes robust to the attacks on its predecessor, not
    to those on itself, and alternates between two states from round to round (in one
    experiment -- a logistic regression, ``make_block_manifold`` with three blocks of two
    columns, PGD with an l2 budget of 0.5 on the last block -- robust test accuracy went
    0.67, 0.83, 0.63, 0.83, ... over the rounds). Keeping the adversarial rows of every
    round (the default) trains on the attacks against all the models so far, and the robust
    accuracy rises steadily (0.67, 0.83, 0.82, 0.85, 0.85 on the same data) at the cost of a
    training set that grows by ``n_samples`` rows per round.

    An untargeted attack needs the labels ``y``; the training rows are attacked with their
    true labels. Adversarial rows are crafted once per round against the model of the round
    before (not per mini-batch as in [2]_), so ``n_rounds`` trades the cost of training
    against how closely the rows follow the model. One extra attack after the last round
    fills ``history_``.

    The classifier is differentiable when its base is (``_torch_forward``), so a white-box
    attack can be crafted against the adversarially trained model itself:
    ``PGDAttack(...).fit(X).attack(X, y, estimator=clf)``.

    Inputs must be finite, as for the fusion classifier: put a
    :class:`~sklearn_robust.estimators.CoPurTransformer` first for missing agents.

    References
    ----------
    .. [1] J. Liu, C. Xie, O. Koyejo and B. Li, "CoPur: Certifiably Robust Collaborative
       Inference via Feature Purification", NeurIPS 2022.
    .. [2] A. Madry, A. Makelov, L. Schmidt, D. Tsipras and A. Vladu, "Towards Deep Learning
       Models Resistant to Adversarial Attacks", ICLR 2018.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn_robust.adversaries import PGDAttack
    >>> from sklearn_robust.datasets import make_block_manifold
    >>> from sklearn_robust.estimators import AdversarialTrainingClassifier
    >>> X, y = make_block_manifold(300, n_blocks=3, block_width=2, noise=0.1, random_state=0,
    ...                            return_X_y=True)
    >>> attack = PGDAttack(blocks=3, agents=-1, norm="l2", epsilon=1.0, step_size=0.25,
    ...                    max_iter=10)
    >>> clf = AdversarialTrainingClassifier(LogisticRegression(), attack=attack, n_rounds=2,
    ...                                     random_state=0).fit(X, y)
    >>> len(clf.history_)
    3
    >>> X_adv = attack.fit(X).attack(X, y, estimator=clf)
    >>> plain = LogisticRegression().fit(X, y)
    >>> X_adv_plain = attack.attack(X, y, estimator=plain)
    >>> bool(clf.score(X_adv, y) > plain.score(X_adv_plain, y))
    True
    """

    _parameter_constraints = {
        "estimator": [HasMethods(["fit", "predict"]), None],
        "attack": [HasMethods(["fit"]), None],
        "block_wise": ["boolean"],
        "n_rounds": [Interval(numbers.Integral, 0, None, closed="left")],
        "accumulate": ["boolean"],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        estimator=None,
        *,
        attack=None,
        block_wise=False,
        n_rounds=3,
        accumulate=True,
        random_state=None,
        verbose=0,
    ):
        self.estimator = estimator
        self.attack = attack
        self.block_wise = block_wise
        self.n_rounds = n_rounds
        self.accumulate = accumulate
        self.random_state = random_state
        self.verbose = verbose

    def _checked_parts(self):
        """Unfitted clones of the base classifier and of the attack, checked together."""
        attack = PGDAttack() if self.attack is None else self.attack
        if getattr(attack, "_adversary_phase", None) != "inference" or not hasattr(
            attack, "attack"
        ):
            kind = getattr(attack, "_adversary_phase", None)
            what = f"a {kind} adversary" if kind else "not an inference-time adversary"
            raise ValueError(
                f"attack must be an inference-time adversary of sklearn_robust.adversaries "
                f"(with attack(X, y, estimator=...)), e.g. PGDAttack(blocks=..., agents=...); "
                f"got {type(attack).__name__}, {what}."
            )
        base = MLPFusionClassifier() if self.estimator is None else self.estimator
        if getattr(attack, "_white_box", False):
            try:
                check_differentiable(base)
            except TypeError as exc:
                raise TypeError(
                    f"{type(self).__name__} crafts the white-box attack "
                    f"{type(attack).__name__} against its estimator, which must be "
                    f"differentiable: {exc}"
                ) from exc
        return clone(base), clone(attack)

    # The base classifier and the attack are validated by their own fit.
    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y):
        """Fit the base classifier on clean data, then on clean and adversarial rows.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Finite training features (the agents' embeddings). Never modified.
        y : array-like of shape (n_samples,)
            Class labels: the labels of the clean and of the adversarial rows.

        Returns
        -------
        self : AdversarialTrainingClassifier
            The fitted classifier.

        Raises
        ------
        ValueError
            If an attack returns NaN or inf, or the base classifier's training diverges (NaN
            or inf in its weights, fitted arrays or recorded losses, checked after the clean
            fit and every round): training stops, naming the round, instead of returning a
            broken model.
        """
        X, y = validate_data(self, X, y, dtype=[np.float64, np.float32])
        check_classification_targets(y)
        base, attack = self._checked_parts()
        rng = check_random_state(self.random_state)
        estimator = _fill_random_states(base, rng)
        attack_ = clone(attack).fit(X, y)  # checks the attack's settings before training

        owner = type(self).__name__
        estimator.fit(X, y)
        _check_finite_round(estimator, None, owner, 0, attack)
        history = []
        X_train = [X]  # clean rows, then adversarial rows (all rounds' or the last round's)
        rounds = tqdm(
            range(self.n_rounds + 1), desc="adversarial training", disable=not self.verbose
        )
        for r in rounds:
            X_adv, _ = _craft(estimator, attack, X, y, self.block_wise, rng)
            if not np.isfinite(X_adv).all():
                _check_finite_round(estimator, X_adv, owner, r + 1, attack)
            history.append(
                {
                    "round": r,
                    "n_train": X.shape[0] * len(X_train),
                    "clean_accuracy": _accuracy(estimator, X, y),
                    "adversarial_accuracy": _accuracy(estimator, X_adv, y),
                }
            )
            if r == self.n_rounds:
                break
            X_train = [*X_train, X_adv] if self.accumulate else [X, X_adv]
            estimator.fit(np.concatenate(X_train), np.tile(y, len(X_train)))
            _check_finite_round(estimator, None, owner, r + 1, attack)

        self.estimator_ = estimator
        self.attack_ = attack_
        self.history_ = history
        self.classes_ = np.asarray(estimator.classes_)
        return self

    def _validated(self, X):
        check_is_fitted(self)
        return validate_data(self, X, reset=False, dtype=[np.float64, np.float32])

    def predict(self, X):
        """Predicted class labels of the adversarially trained classifier.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Finite features.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            The base classifier's predictions.
        """
        X = self._validated(X)
        return self.estimator_.predict(X)

    @available_if(_estimator_has("predict_proba"))
    def predict_proba(self, X):
        """Class probabilities (only if the base classifier has ``predict_proba``).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Finite features.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            The base classifier's probabilities, columns ordered like ``classes_``.
        """
        X = self._validated(X)
        return self.estimator_.predict_proba(X)

    @available_if(_estimator_has("decision_function"))
    def decision_function(self, X):
        """Decision scores (only if the base classifier has ``decision_function``).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Finite features.

        Returns
        -------
        scores : ndarray of shape (n_samples,) or (n_samples, n_classes)
            The base classifier's scores (1-D for a binary problem).
        """
        X = self._validated(X)
        return self.estimator_.decision_function(X)

    def _torch_forward(self, X):
        """Logits (or binary decision scores) of the fitted base classifier, differentiably.

        Delegates to the base classifier's forward pass (see
        :func:`sklearn_robust._differentiable.differentiable_forward`), so white-box attacks
        can target the adversarially trained model; a non-differentiable base raises a
        TypeError naming it.

        Parameters
        ----------
        X : torch.Tensor of shape (n_samples, n_features)
            Floating inputs, any dtype and device.

        Returns
        -------
        out : torch.Tensor of shape (n_samples, n_classes) or (n_samples,)
            What the base classifier's forward pass returns.
        """
        check_is_fitted(self)
        return _forward(self.estimator_, X)
