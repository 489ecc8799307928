"""The evaluation suite: per row, the strongest of several adaptive attacks."""

import numpy as np
from sklearn.base import _fit_context, clone
from sklearn.utils import Bunch, check_random_state
from sklearn.utils.metaestimators import _BaseComposition
from sklearn.utils.validation import check_is_fitted, validate_data

from sklearn_robust._adversary_base import (
    BaseInferenceAdversary,
    _fill_inference_doc,
    _resolve_agents,
    is_adversary,
)
from sklearn_robust._differentiable import is_differentiable
from sklearn_robust._layout import check_blocks
from sklearn_robust.adversaries._adaptive import (
    _better,
    _labels,
    _require_estimator,
    _Verdict,
)
from sklearn_robust.adversaries._adaptive_pgd import AdaptivePGDAttack
from sklearn_robust.adversaries._block_replacement import BlockReplacementAttack
from sklearn_robust.adversaries._feature_flip import FeatureFlip
from sklearn_robust.adversaries._pgd import PGDAttack
from sklearn_robust.adversaries._threshold_aware import ThresholdAwareAttack

# Members that differentiate through the model: skipped when it is not differentiable.
_GRADIENT_ATTACKS = (PGDAttack, AdaptivePGDAttack)


def default_attack_suite():
    """The members of :class:`EnsembleAttack` when ``attacks=None``: ``[(name, attack)]``.

    * ``"pgd"`` -- :class:`PGDAttack`, 30 raw-gradient steps of 0.5 through the whole
      model, last iterate: the library's adaptive attack before the suite existed, kept so
      that the suite is never weaker than it;
    * ``"flip"`` -- :class:`FeatureFlip` x10, the CoPur paper's attack;
    * ``"adaptive_margin"`` and ``"adaptive_ce"`` -- :class:`AdaptivePGDAttack` with the
      margin loss (2 runs) and the cross-entropy (1 run), unbounded;
    * ``"threshold"`` -- :class:`ThresholdAwareAttack` at 0.5, 1 and 2 times the
      purifier's detection threshold, every iterate accepted by the purifier;
    * ``"replacement"`` -- :class:`BlockReplacementAttack`, 100 genuine blocks of other
      inputs per row and a line search.

    Returns
    -------
    attacks : list of (str, estimator) tuples
        Unfitted attacks; their ``blocks``, ``agents`` and ``random_state`` are set by the
        ensemble.

    Examples
    --------
    >>> from sklearn_robust.adversaries import default_attack_suite
    >>> [name for name, _ in default_attack_suite()]
    ['pgd', 'flip', 'adaptive_margin', 'adaptive_ce', 'threshold', 'replacement']
    """
    return [
        ("pgd", PGDAttack(step_size=0.5, max_iter=30, keep_best=False)),
        ("flip", FeatureFlip(amplification=10)),
        ("adaptive_margin", AdaptivePGDAttack(loss="margin", n_restarts=2)),
        ("adaptive_ce", AdaptivePGDAttack(loss="ce", n_restarts=1)),
        ("threshold", ThresholdAwareAttack()),
        ("replacement", BlockReplacementAttack()),
    ]


@_fill_inference_doc
class EnsembleAttack(_BaseComposition, BaseInferenceAdversary):
    """Per row, the strongest of several attacks: the library's evaluation suite.

    A defense is worth its worst case, and no single attack finds it: gradients fail where
    the purifier trims, bounded attacks fail where it does not, on-manifold replacements
    fail where the agents are redundant. This attack runs every member on the same rows and
    keeps, **for each row**, the member's output that the defended model gets wrong (the
    one with the largest margin of a wrong class if several do; the one closest to wrong if
    none does). With ``attacks=None`` the members are :func:`default_attack_suite`, the
    strongest attacks the library has against purification defenses; score a defense
    with ``make_robust_scorer(EnsembleAttack(blocks=..., agents=...))``.

    The ensemble defines the threat: every member is cloned with the ensemble's ``blocks``
    and ``agents`` (so they all attack the same agents), and members left with
    ``random_state=None`` get seeds drawn from the ensemble's ``random_state``.

    Parameters
    ----------
    attacks : list of (str, estimator) tuples or None, default=None
        The member attacks (inference-time adversaries), each named so that its parameters
        are reachable as ``<name>__<parameter>``. None means :func:`default_attack_suite`.

    {inference_parameters}

    random_state : int, RandomState instance or None, default=None
        Seeds of the members left without one.

    Attributes
    ----------
    attacks_ : list of (str, estimator) tuples
        The fitted clones of the members.

    {inference_attributes}

    See Also
    --------
    default_attack_suite : The default members.
    sklearn_robust.metrics.make_robust_scorer : Score a fitted pipeline under an attack.

    Notes
    -----
    *Knowledge model.* The union of the members': white-box knowledge of the fitted
    defended model, its gradients (through the purifier, straight-through where it is not
    differentiable), its detection thresholds and rule, queries of its predictions and
    probabilities on the attacked rows, and a pool of genuine clean rows (the data given to
    :meth:`fit`). The per-row choice uses the defended model's own predictions on the
    attacked rows (for a randomized defense with a fixed ``random_state``, its own noise):
    an upper bound on what an attacker knows, which is what a worst case needs. Control:
    the attacked agents' blocks only, with no bound.

    Members that need gradients (:class:`PGDAttack`, :class:`AdaptivePGDAttack`,
    :class:`ThresholdAwareAttack`) are skipped, and reported so by ``attack(...,
    return_details=True)``, when the model is not differentiable. The ensemble is
    untargeted: it lowers accuracy.

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn_robust.adversaries import (AdaptivePGDAttack, EnsembleAttack,
    ...                                         FeatureFlip)
    >>> X, y = make_classification(n_samples=200, n_features=6, random_state=0)
    >>> clf = LogisticRegression().fit(X, y)
    >>> ensemble = EnsembleAttack(
    ...     [("flip", FeatureFlip()), ("pgd", AdaptivePGDAttack(max_iter=10))],
    ...     blocks=3, agents=[2], random_state=0).fit(X)
    >>> X_adv, details = ensemble.attack(X, y, estimator=clf, return_details=True)
    >>> details.accuracy["flip"] >= clf.score(X_adv, y)
    True
    >>> sorted(details.accuracy)
    ['flip', 'pgd']
    """

    _white_box = True

    _parameter_constraints = {
        **BaseInferenceAdversary._parameter_constraints,
        "attacks": [list, None],
    }

    def __init__(self, attacks=None, *, blocks=None, agents=None, random_state=None):
        self.attacks = attacks
        self.blocks = blocks
        self.agents = agents
        self.random_state = random_state

    def get_params(self, deep=True):
        """Get the parameters of this attack and, with ``deep=True``, of its members.

        Parameters
        ----------
        deep : bool, default=True
            If True, also return the members' parameters as ``<name>__<parameter>``.

        Returns
        -------
        params : dict
            Parameter names mapped to their values.
        """
        return self._get_params("attacks", deep=deep)

    def set_params(self, **params):
        """Set the parameters of this attack or of its members.

        Parameters
        ----------
        **params : keyword arguments
            ``attacks``, ``blocks``, ``agents``, ``random_state``, a member's name or
            ``<name>__<parameter>``.

        Returns
        -------
        self : EnsembleAttack
            This attack.
        """
        self._set_params("attacks", **params)
        return self

    def _checked_attacks(self):
        attacks = default_attack_suite() if self.attacks is None else self.attacks
        if not attacks:
            raise ValueError(
                "EnsembleAttack needs at least one attack; got attacks=[]. Pass a list of "
                "(name, attack) tuples, or None for the default suite."
            )
        for item in attacks:
            if not (isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str)):
                raise ValueError(
                    "attacks must be a list of (name, attack) tuples with str names; got "
                    f"the item {item!r}."
                )
        self._validate_names([name for name, _ in attacks])
        for name, attack in attacks:
            phase = getattr(attack, "_adversary_phase", None)
            if isinstance(attack, type) or not is_adversary(attack) or phase != "inference":
                raise ValueError(
                    f"attack {name!r} is {attack!r}, not an inference-time adversary "
                    "instance; EnsembleAttack combines attacks such as AdaptivePGDAttack() "
                    "or BlockReplacementAttack()."
                )
        return attacks

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y=None):
        """Fit a clone of every member on the clean data, attacking the ensemble's agents.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Clean features (the pool of the on-manifold member). NaN marks missing blocks.
        y : array-like of shape (n_samples,), default=None
            Labels; passed to each member's ``fit``.

        Returns
        -------
        self : object
            The fitted attack.
        """
        X = validate_data(self, X, dtype=[np.float64, np.float32], ensure_all_finite="allow-nan")
        self.layout_ = check_blocks(self.blocks, X.shape[1])
        self.attacked_blocks_ = _resolve_agents(self.agents, self.layout_.n_blocks)
        self.attacked_columns_ = self.layout_.columns(self.attacked_blocks_)
        rng = check_random_state(self.random_state)
        fitted = []
        for name, attack in self._checked_attacks():
            member = clone(attack)
            params = member.get_params(deep=False)
            update = {"blocks": self.blocks, "agents": self.agents}
            if "random_state" in params and params["random_state"] is None:
                update["random_state"] = int(rng.randint(np.iinfo(np.int32).max))
            member.set_params(**{k: v for k, v in update.items() if k in params})
            fitted.append((name, member.fit(X, y)))
        self.attacks_ = fitted
        return self

    def _fit(self, X, y):  # pragma: no cover - fit is overridden
        raise AssertionError("unreachable")

    def attack(self, X, y=None, *, estimator=None, return_details=False):
        """Return, per row, the strongest member's attack on ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Features to attack. Never modified.
        y : array-like of shape (n_samples,), default=None
            True labels; None uses the model's predictions on ``X``.
        estimator : fitted classifier
            The defended model (e.g. a Pipeline ``[purifier, scaler, classifier]``).
        return_details : bool, default=False
            Also return a :class:`~sklearn.utils.Bunch` with ``accuracy`` (each member's
            accuracy on its own output, NaN for a skipped member), ``winner`` (per row, the
            name of the member whose output was kept, ``"none"`` where no member beat the
            clean row) and ``skipped`` (members not run, with the reason).

        Returns
        -------
        X_attacked : ndarray of shape (n_samples, n_features)
            The attacked rows.
        details : Bunch
            Only with ``return_details=True``.
        """
        check_is_fitted(self)
        X = validate_data(
            self, X, reset=False, dtype=[np.float64, np.float32], ensure_all_finite=False,
            copy=True,
        )
        classes = _require_estimator(self, estimator)
        labels = _labels(self, estimator, X, y, classes)
        y_used = classes[labels]
        verdict = _Verdict(estimator, labels, classes)
        best = X.copy()
        best_success, best_margin = verdict(X)
        winner = np.full(X.shape[0], "none", dtype=object)
        accuracy, skipped = {}, {}
        differentiable = is_differentiable(estimator)
        for name, member in self.attacks_:
            if isinstance(member, _GRADIENT_ATTACKS) and not differentiable:
                accuracy[name] = np.nan
                skipped[name] = "the model is not differentiable"
                continue
            candidate = member.attack(X, y_used, estimator=estimator)
            success, margin = verdict(candidate)
            accuracy[name] = float(1.0 - success.mean()) if success.size else np.nan
            take = _better(success, margin, best_success, best_margin)
            best[take] = candidate[take]
            best_success = np.where(take, success, best_success)
            best_margin = np.where(take, margin, best_margin)
            winner[take] = name
        if not return_details:
            return best
        return best, Bunch(accuracy=accuracy, winner=winner, skipped=skipped)

    def _attack(self, X, y, random_state, estimator):  # pragma: no cover - attack overridden
        raise AssertionError("unreachable")
