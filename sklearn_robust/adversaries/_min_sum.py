"""MinSum, the AGR-agnostic attack of Shejwalkar & Houmansadr (2021)."""

from sklearn_robust._adversary_base import _fill_poisoning_doc
from sklearn_robust.adversaries._min_max import _AGRAgnosticAttack


@_fill_poisoning_doc
class MinSum(_AGRAgnosticAttack):
    """MinSum: the farthest shift whose sum of squared distances to honest rows stays typical.

    Every byzantine row equals ``mean + gamma * p``, with ``mean`` the mean of the honest
    rows the adversary knows and ``p`` a fixed perturbation direction. ``gamma`` is the
    largest value such that the sum of squared distances from the byzantine row to the known
    honest rows is at most the largest such sum of a known honest row:
    ``sum_i ||mean + gamma p - x_i||**2 <= max_i sum_j ||x_i - x_j||**2``. The byzantine
    rows then score no worse than the worst honest row under any defense that ranks rows by
    their squared distances to the others, without knowing the defense.

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
    MinMax : The same attack with a largest-distance constraint.
    KrumAttack : Fang et al.'s attack tailored to Krum.
    ALIE : A fixed shift of a few standard deviations.

    Notes
    -----
    ``gamma`` is found with the paper's search (Algorithm 1), as in :class:`MinMax`: start
    at ``gamma_init`` with a step of ``gamma_init / 2``, halve the step at every iteration,
    move up when the constraint holds and down when it does not, and return the last
    ``gamma`` for which it held. The constraint holds at 0 (the mean minimises the sum of
    squared distances) and is convex in ``gamma``. When it holds at every candidate the
    search ends just under ``2 * gamma_init`` and a
    :class:`~sklearn.exceptions.ConvergenceWarning` asks for a larger ``gamma_init``.

    Since the offsets ``x_i - mean`` sum to zero, the constraint reads
    ``n * gamma**2 * ||p||**2 <= max_i sum_j ||x_i - x_j||**2 - sum_i ||x_i - mean||**2``;
    the search is kept for fidelity to the paper. The bound is the largest honest sum, as
    the paper states it; comparing with the smallest one instead, as some implementations
    do, gives a smaller ``gamma``.

    The search runs on ``X_known / max |X_known|``: ``gamma_init`` and ``tol`` are in those
    units for ``"unit_vec"`` and ``"sign"`` and dimensionless for ``"std"``. With
    ``perturbation="std"`` the attack is equivariant to translations and positive scalings
    of ``X``; with ``"unit_vec"`` and ``"sign"`` to scalings by any ``c != 0`` only. With
    partial knowledge and a single byzantine row the byzantine row keeps its honest value.

    References
    ----------
    .. [1] V. Shejwalkar and A. Houmansadr, "Manipulating the Byzantine: Optimizing Model
       Poisoning Attacks and Defenses for Federated Learning", NDSS 2021.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_robust.adversaries import MinSum
    >>> X = np.array([[0.0, 1.0], [2.0, 1.0], [4.0, 3.0], [6.0, 3.0], [3.0, 2.0]])
    >>> attack = MinSum(n_byzantine=1)
    >>> X_poisoned = attack.fit_poison(X)
    >>> round(attack.gamma_, 3)
    1.291
    >>> mean, std = X.mean(axis=0), X.std(axis=0, ddof=1)
    >>> bool(np.allclose(X_poisoned[-1], mean - attack.gamma_ * std))
    True
    """

    _criterion = "min-sum"

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
