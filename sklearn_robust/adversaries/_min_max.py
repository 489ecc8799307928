"""MinMax, the AGR-agnostic attack of Shejwalkar & Houmansadr (2021)."""

import numbers
import warnings

from sklearn.exceptions import ConvergenceWarning
from sklearn.utils._param_validation import Interval, StrOptions

from sklearn_robust._adversary_base import BasePoisoningAdversary, _fill_poisoning_doc
from sklearn_robust._numerics._poisoning import _agr_agnostic_rows


class _AGRAgnosticAttack(BasePoisoningAdversary):
    """Shared machinery of MinMax and MinSum; subclasses set ``_criterion``."""

    _criterion = None

    _parameter_constraints = {
        **BasePoisoningAdversary._parameter_constraints,
        "knowledge": [StrOptions({"full", "partial"})],
        "perturbation": [StrOptions({"unit_vec", "sign", "std"})],
        "gamma_init": [Interval(numbers.Real, 0, None, closed="neither")],
        "tol": [Interval(numbers.Real, 0, None, closed="neither")],
    }

    def _fit_poison(self, X, byzantine):
        if self.tol >= self.gamma_init:
            raise ValueError(
                f"tol={self.tol!r} must be smaller than gamma_init={self.gamma_init!r}, "
                "otherwise the search stops before trying any gamma. Lower tol or raise "
                "gamma_init."
            )
        self.gamma_ = 0.0  # kept when there is no byzantine row to craft
        return super()._fit_poison(X, byzantine)

    def _craft(self, X, byzantine, random_state):
        gamma_init = float(self.gamma_init)
        row, self.gamma_, saturated = _agr_agnostic_rows(
            self._known_rows(X, byzantine),
            self._criterion,
            self.perturbation,
            gamma_init,
            float(self.tol),
        )
        if saturated:
            warnings.warn(
                f"{type(self).__name__}: the constraint held at every gamma tried, so the "
                f"search stopped at its ceiling (just under 2 * gamma_init = {2 * gamma_init}) "
                "and a larger gamma may still be allowed. Raise gamma_init "
                f"(got {self.gamma_init!r}).",
                ConvergenceWarning,
                stacklevel=6,
            )
        return row


@_fill_poisoning_doc
class MinMax(_AGRAgnosticAttack):
    """MinMax: the farthest shift whose largest distance to an honest row stays typical.

    Every byzantine row equals ``mean + gamma * p``, with ``mean`` the mean of the honest
    rows the adversary knows and ``p`` a fixed perturbation direction. ``gamma`` is the
    largest value such that the largest distance from the byzantine row to a known honest
    row is at most the largest distance between two known honest rows:
    ``max_i ||mean + gamma p - x_i|| <= max_{i,j} ||x_i - x_j||``. The byzantine rows are
    thus no farther from the honest ones than the honest ones are from each other, which
    keeps them inside distance-based defenses (Krum, Bulyan) without knowing the defense.

    Parameters
    ----------
    n_byzantine : int or float, default=0.2
        Number of byzantine rows (int), or their fraction of the rows (float in [0, 1),
        rounded down). Ignored when ``byzantine`` is passed to :meth:`fit_poison`.

    knowledge : {"full", "partial"}, default="full"
        ``"full"``: an omniscient adversary computes ``mean``, ``p`` and the distances from
        all honest rows. ``"partial"``: only from the honest rows of the clients it
        controls.

    perturbation : {"unit_vec", "sign", "std"}, default="std"
        Direction ``p``: ``"unit_vec"`` is ``-mean / ||mean||`` (the normalised all-ones
        vector replaces it when the mean is zero), ``"sign"`` is ``-sign(mean)`` and
        ``"std"`` is ``-std``, the coordinate-wise sample standard deviation (``ddof=1``)
        of the known rows. ``"std"`` is the strongest in the paper's evaluation.

    gamma_init : float, default=10.0
        First ``gamma`` tried, ``> 0``. The search never goes beyond ``2 * gamma_init``
        (see Notes).

    tol : float, default=1e-5
        The search stops when the last feasible ``gamma`` and the next candidate are at
        most ``tol`` apart, so ``gamma_`` is within ``2 * tol`` of the largest feasible
        value. Must be smaller than ``gamma_init``.

    random_state : int, RandomState instance or None, default=None
        Unused (the attack is deterministic); present for API consistency.

    Attributes
    ----------
    gamma_ : float
        The ``gamma`` found: the byzantine rows equal ``mean + gamma_ * p``. Dimensionless
        for ``perturbation="std"``, in the units of ``X`` for ``"unit_vec"`` and
        ``"sign"``. 0.0 when there is no byzantine row or ``p`` is zero.

    {poisoning_attributes}

    See Also
    --------
    MinSum : The same attack with a sum-of-squared-distances constraint.
    KrumAttack : Fang et al.'s attack tailored to Krum.
    ALIE : A fixed shift of a few standard deviations.

    Notes
    -----
    ``gamma`` is found with the paper's search (Algorithm 1): start at ``gamma_init`` with
    a step of ``gamma_init / 2``, halve the step at every iteration, move up when the
    constraint holds and down when it does not, and return the last ``gamma`` for which it
    held. The constraint is convex in ``gamma`` and holds at 0 (the mean is no farther from
    any row than the farthest row), so the feasible values form an interval and the search
    is a bisection once a candidate failed. When the constraint holds at every candidate the
    search ends just under ``2 * gamma_init``: a
    :class:`~sklearn.exceptions.ConvergenceWarning` then asks for a larger ``gamma_init``.

    The search runs on ``X_known / max |X_known|`` (so sums of squares cannot overflow):
    ``gamma_init`` and ``tol`` are in those units for ``"unit_vec"`` and ``"sign"``, whose
    ``p`` has a fixed size, and dimensionless for ``"std"``. Distances come from the Gram
    matrix of the known rows centred at their mean.

    With ``perturbation="std"`` the attack is equivariant to translations and positive
    scalings of ``X``; with ``"unit_vec"`` and ``"sign"`` it is equivariant to scalings by
    any ``c != 0`` but not to translations (``p`` points towards the origin, the zero
    update). With partial knowledge and a single byzantine row the known distances are all
    zero and the byzantine row keeps its honest value.

    References
    ----------
    .. [1] V. Shejwalkar and A. Houmansadr, "Manipulating the Byzantine: Optimizing Model
       Poisoning Attacks and Defenses for Federated Learning", NDSS 2021.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_robust.adversaries import MinMax
    >>> X = np.array([[0.0, 1.0], [2.0, 1.0], [4.0, 3.0], [6.0, 3.0], [3.0, 2.0]])
    >>> attack = MinMax(n_byzantine=1)
    >>> X_poisoned = attack.fit_poison(X)
    >>> attack.byzantine_mask_
    array([False, False, False, False,  True])
    >>> round(attack.gamma_, 3)
    1.294
    >>> mean, std = X.mean(axis=0), X.std(axis=0, ddof=1)
    >>> bool(np.allclose(X_poisoned[-1], mean - attack.gamma_ * std))
    True
    """

    _criterion = "min-max"

    def __init__(
        self,
        *,
        n_byzantine=0.2,
        knowledge="full",
        perturbation="std",
        gamma_init=10.0,
        tol=1e-5,
        random_state=None,
    ):
        self.n_byzantine = n_byzantine
        self.knowledge = knowledge
        self.perturbation = perturbation
        self.gamma_init = gamma_init
        self.tol = tol
        self.random_state = random_state
