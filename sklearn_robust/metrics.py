"""Metrics: bias of a robust aggregate, and scorers of robust accuracy under attack."""

import numbers
from inspect import signature

import numpy as np
from scipy import linalg
from sklearn.base import clone
from sklearn.metrics import check_scoring, get_scorer
from sklearn.pipeline import Pipeline
from sklearn.utils._param_validation import HasMethods, Interval, validate_params
from sklearn.utils.validation import check_array

from sklearn_robust._adversary_base import is_adversary
from sklearn_robust._differentiable import _is_passthrough

__all__ = ["aggregation_bias", "attack_success_rate", "make_robust_scorer", "normalized_bias"]


def _check_pair(location, X_honest):
    X_honest = check_array(X_honest, dtype=np.float64, ensure_min_samples=2)
    location = np.asarray(location, dtype=np.float64)
    if location.shape != (X_honest.shape[1],):
        raise ValueError(
            f"location must have shape ({X_honest.shape[1]},) to match X_honest's "
            f"{X_honest.shape[1]} columns; got shape {location.shape}."
        )
    return location, X_honest


@validate_params(
    {"location": ["array-like"], "X_honest": ["array-like"]},
    prefer_skip_nested_validation=True,
)
def aggregation_bias(location, X_honest):
    """Euclidean distance between an aggregate and the mean of the honest rows.

    Parameters
    ----------
    location : array-like of shape (n_features,)
        The aggregate (e.g. ``estimator.location_``).
    X_honest : array-like of shape (n_honest, n_features)
        The honest rows; their mean is the target.

    Returns
    -------
    bias : float
        ``||location - mean(X_honest)||_2``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_robust.metrics import aggregation_bias
    >>> aggregation_bias(np.array([3.0, 4.0]), np.zeros((5, 2)))
    5.0
    """
    location, X_honest = _check_pair(location, X_honest)
    return float(np.linalg.norm(location - X_honest.mean(axis=0)))


@validate_params(
    {"location": ["array-like"], "X_honest": ["array-like"]},
    prefer_skip_nested_validation=True,
)
def normalized_bias(location, X_honest):
    """Bias divided by the honest rows' largest standard deviation along any direction.

    ``||location - mu|| / sqrt(lambda_max(Cov(X_honest)))`` with ``mu`` the honest mean and
    ``Cov`` the (biased, 1/n) covariance of the honest rows. Scale-free: an error of 1 is as
    large as one standard deviation of the honest updates along their most variable
    direction, the unit in which strong robust means bound their error (O(sqrt(eps)) for
    eps contamination).

    Parameters
    ----------
    location : array-like of shape (n_features,)
        The aggregate.
    X_honest : array-like of shape (n_honest, n_features)
        The honest rows.

    Returns
    -------
    bias : float
        Normalized bias (inf when the honest rows are all equal and the aggregate differs).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_robust.metrics import normalized_bias
    >>> X = np.array([[-1.0, 0.0], [1.0, 0.0]])   # std 1 along the first axis
    >>> round(normalized_bias(np.array([0.0, 2.0]), X), 6)
    2.0
    """
    location, X_honest = _check_pair(location, X_honest)
    centred = X_honest - X_honest.mean(axis=0)
    n, d = centred.shape
    small = centred @ centred.T if n <= d else centred.T @ centred
    lam = max(float(linalg.eigvalsh(small, subset_by_index=[small.shape[0] - 1] * 2)[0]), 0.0)
    bias = float(np.linalg.norm(location - X_honest.mean(axis=0)))
    if lam == 0.0:
        return 0.0 if bias == 0.0 else float("inf")
    return bias / float(np.sqrt(lam / n))


@validate_params(
    {
        "estimator": [HasMethods(["predict"])],
        "X": ["array-like"],
        "y": ["array-like"],
        "backdoor": [HasMethods(["apply_trigger"])],
    },
    prefer_skip_nested_validation=True,
)
def attack_success_rate(estimator, X, y, backdoor):
    """Fraction of triggered inputs that a backdoored model classifies as the target.

    The rows of ``X`` whose label is not ``backdoor.target_class`` get the trigger
    (``backdoor.apply_trigger``); the attack succeeds on a row when ``estimator`` then
    predicts the target class. Lower is better for the defender; a clean model scores about
    its rate of confusing the triggered inputs with the target class.

    Parameters
    ----------
    estimator : fitted estimator with ``predict``
        The model to test, e.g. a fitted
        :class:`~sklearn_robust.estimators.FederatedClassifier`.
    X : array-like of shape (n_samples, n_features)
        Clean test inputs. Never modified.
    y : array-like of shape (n_samples,)
        Their true labels.
    backdoor : :class:`~sklearn_robust.adversaries.Backdoor`
        The attack whose trigger and target class are tested.

    Returns
    -------
    asr : float
        Attack success rate in [0, 1].

    Raises
    ------
    ValueError
        If ``X`` and ``y`` do not match, or every row already has the target label.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.dummy import DummyClassifier
    >>> from sklearn_robust.adversaries import Backdoor
    >>> from sklearn_robust.metrics import attack_success_rate
    >>> X, y = np.zeros((4, 2)), np.array([0, 1, 1, 1])
    >>> always_one = DummyClassifier(strategy="constant", constant=1).fit(X, y)
    >>> attack_success_rate(always_one, X, y, Backdoor(target_class=1))
    1.0
    """
    X = check_array(X, dtype=[np.float64, np.float32])
    y = np.asarray(y)
    if y.shape != (X.shape[0],):
        raise ValueError(f"y must have shape ({X.shape[0]},) to match X's rows; got {y.shape}.")
    target = backdoor.target_class
    others = y != target
    if not others.any():
        raise ValueError(
            f"every row of y has the target class {target!r}; the attack success rate needs "
            "rows of other classes."
        )
    predicted = estimator.predict(backdoor.apply_trigger(X[others]))
    return float(np.mean(predicted == target))


# --------------------------------------------------------------------------------------------
# Robust scoring
# --------------------------------------------------------------------------------------------


def _is_inference_adversary(step):
    return is_adversary(step) and getattr(step, "_adversary_phase", None) == "inference"


def _pipeline_steps(estimator):
    """(name, step) pairs: a Pipeline's steps, or one unnamed step for any other estimator."""
    if isinstance(estimator, Pipeline):
        return list(estimator.steps)
    return [(None, estimator)]


def _resolve_at(at, estimator):
    """Index of the step whose input is attacked, from an int position or a step name."""
    steps = _pipeline_steps(estimator)
    if not isinstance(estimator, Pipeline):
        if isinstance(at, str) or at != 0:
            raise ValueError(
                f"at={at!r} picks a step of a Pipeline, but the estimator is a "
                f"{type(estimator).__name__}, not a Pipeline: only at=0 (attack its input) is "
                "valid."
            )
        return 0
    names = [name for name, _ in steps]
    if isinstance(at, str):
        if at not in names:
            raise ValueError(
                f"at={at!r} is not a step of the pipeline; its steps are {names}. Pass one of "
                "these names or an int position."
            )
        return names.index(at)
    if not -len(steps) <= at < len(steps):
        raise ValueError(
            f"at={at} is out of range for a pipeline of {len(steps)} steps {names} (valid: "
            f"{-len(steps)} to {len(steps) - 1})."
        )
    return at % len(steps)


def _rest(estimator, start):
    """The fitted steps from position ``start`` on (a Pipeline slice sharing them)."""
    if isinstance(estimator, Pipeline):
        return estimator[start:]
    return estimator


class _RobustScorer:
    """Scorer ``(estimator, X, y) -> float`` of a fitted estimator on attacked data.

    Built by :func:`make_robust_scorer`; a module-level class so it pickles (joblib workers).
    """

    def __init__(self, attack, scoring, at):
        self.attack = attack
        self.scoring = scoring
        self.at = at

    def __repr__(self):
        return f"make_robust_scorer({self.attack!r}, scoring={self.scoring!r}, at={self.at!r})"

    def _accept_sample_weight(self):
        # Asked by scikit-learn's multi-metric scoring before it passes sample_weight.
        inner = get_scorer(self.scoring)
        if inner is None:
            return True
        if hasattr(inner, "_accept_sample_weight"):
            return inner._accept_sample_weight()
        try:
            params = signature(inner).parameters
        except (TypeError, ValueError):  # pragma: no cover - builtins without a signature
            return False
        return "sample_weight" in params or any(p.kind == p.VAR_KEYWORD for p in params.values())

    def __call__(self, estimator, X, y_true, **kwargs):
        steps = _pipeline_steps(estimator)
        at = None if self.attack is None else _resolve_at(self.at, estimator)
        Z = X
        attacked = at is not None
        last = len(steps) - 1
        for i, (_, step) in enumerate(steps):
            if i == at:
                adversary = clone(self.attack).fit(Z, y_true)
                Z = adversary.attack(Z, y_true, estimator=_rest(estimator, i))
            if i == last:
                break
            if _is_passthrough(step):
                continue
            if _is_inference_adversary(step):
                Z = step.attack(Z, y_true, estimator=_rest(estimator, i + 1))
                attacked = True
            else:
                Z = step.transform(Z)
        if not attacked:
            raise ValueError(
                "make_robust_scorer() without an attack scores with the inference adversary "
                f"steps of the pipeline, but {type(estimator).__name__} has none (steps: "
                f"{[name for name, _ in steps]}). Pass an attack, e.g. "
                "make_robust_scorer(PGDAttack(...)), or put an adversary step in the pipeline."
            )
        final = steps[-1][1]
        return check_scoring(final, scoring=self.scoring)(final, Z, y_true, **kwargs)


@validate_params(
    {
        "attack": [HasMethods(["fit", "attack"]), None],
        "scoring": [str, callable, None],
        "at": [Interval(numbers.Integral, None, None, closed="neither"), str],
    },
    prefer_skip_nested_validation=True,
)
def make_robust_scorer(attack=None, *, scoring="accuracy", at=0):
    """Make a scorer of a fitted estimator's performance on attacked data.

    The scorer has the signature ``scorer(estimator, X, y)`` of scikit-learn's scorers, so it
    goes wherever they do: ``cross_validate(..., scoring={"clean": "accuracy", "robust":
    make_robust_scorer(attack)})``, ``GridSearchCV(..., refit="robust")``. It never
    modifies ``X``, and it pickles (parallel searches run it in worker processes).

    * **With an attack** (any inference-time adversary, white-box or not): the fitted
      estimator is split at pipeline position ``at``: ``head`` are the steps before it and
      ``tail`` the steps from ``at`` on. The scorer computes ``Z = head.transform(X)``, fits a
      clone of ``attack`` on ``Z`` (so its layout and statistics are those of the data it
      attacks), attacks it with ``attack.attack(Z, y, estimator=tail)`` (a white-box attack
      differentiates through ``tail``) and scores ``tail`` on the attacked ``Z``.
    * **Without an attack** (``attack=None``): the inference adversary steps already in the
      Pipeline are used. The pipeline runs forward step by step and each adversary step
      is applied with ``step.attack(Z, y, estimator=<the steps after it>)`` instead of
      ``transform``, so a white-box :class:`~sklearn_robust.adversaries.PGDAttack` placed in a
      Pipeline attacks the fitted steps that follow it.

    In both modes adversary steps inside the pipeline are applied that way (other steps with
    ``transform``), and the final step is scored with ``scoring`` on what reaches it.

    Parameters
    ----------
    attack : inference-time adversary or None, default=None
        The attack (an unfitted or fitted ``BaseInferenceAdversary``; it is cloned and fitted
        on the data it attacks at each call). None uses the adversary steps of the pipeline.

    scoring : str, callable or None, default="accuracy"
        How the attacked predictions are scored: a scorer name (see
        :func:`sklearn.metrics.get_scorer_names`), a scorer callable
        ``(estimator, X, y) -> float``, or None for the final step's ``score`` method.

    at : int or str, default=0
        Where the attack enters the pipeline: the position (negative counts from the end) or
        name of the first step that sees attacked data. ``0`` attacks the pipeline's input;
        ``at="clf"`` attacks the features that reach the step named ``"clf"``. For an
        estimator that is not a Pipeline only ``0`` is valid. Only used with an ``attack``.

    Returns
    -------
    scorer : callable
        ``scorer(estimator, X, y, **kwargs) -> float``; keyword arguments (such as
        ``sample_weight``) go to the inner scorer.

    Raises
    ------
    ValueError
        If ``attack`` is not an inference-time adversary, ``scoring`` names no scorer, or
        ``at`` is given without an attack. At call time: if ``at`` is no step of the
        estimator, or if ``attack=None`` and the pipeline holds no adversary step.

    See Also
    --------
    sklearn_robust.adversaries.PGDAttack : White-box gradient attack.

    Examples
    --------
    Score a fitted pipeline under an attack of the scaled features (the classifier's input):

    >>> import numpy as np
    >>> from sklearn.datasets import make_classification
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.pipeline import Pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from sklearn_robust.adversaries import PGDAttack
    >>> from sklearn_robust.metrics import make_robust_scorer
    >>> X, y = make_classification(n_samples=200, n_features=6, random_state=0)
    >>> pipe = Pipeline([("scale", StandardScaler()), ("clf", LogisticRegression())])
    >>> pipe = pipe.fit(X, y)
    >>> scorer = make_robust_scorer(PGDAttack(blocks=3, step_size=1.0), at="clf")
    >>> scorer
    make_robust_scorer(PGDAttack(blocks=3, step_size=1.0), scoring='accuracy', at='clf')
    >>> bool(pipe.score(X, y) > 0.9), bool(scorer(pipe, X, y) < 0.5)
    (True, True)

    Or put the attack in the pipeline: it trains on clean data, and the scorer applies it to
    the fitted steps after it:

    >>> from sklearn.model_selection import cross_validate
    >>> attacked = Pipeline([
    ...     ("attack", PGDAttack(blocks=3, step_size=1.0)),
    ...     ("scale", StandardScaler()),
    ...     ("clf", LogisticRegression()),
    ... ])
    >>> scores = cross_validate(attacked, X, y, cv=3, scoring={"robust": make_robust_scorer()})
    >>> bool(scores["test_robust"].mean() < 0.5)
    True
    """
    if attack is not None and not _is_inference_adversary(attack):
        raise ValueError(
            f"attack must be an inference-time adversary (a BaseInferenceAdversary such as "
            f"PGDAttack or FeatureFlip); got {type(attack).__name__}. Poisoning adversaries "
            "attack training, not scoring."
        )
    if attack is None and not (isinstance(at, numbers.Integral) and at == 0):
        raise ValueError(
            f"at={at!r} says where an attack enters the pipeline, but attack is None: the "
            "pipeline's own adversary steps are used where they stand. Pass an attack, or "
            "drop at."
        )
    if isinstance(scoring, str):
        get_scorer(scoring)  # an unknown name fails now, not inside a search
    return _RobustScorer(attack, scoring, at)
