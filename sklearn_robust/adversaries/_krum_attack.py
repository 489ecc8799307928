"""The attack on Krum of Fang et al. (2020)."""

import numbers

import numpy as np
from sklearn.utils._param_validation import Interval, StrOptions

from sklearn_robust._adversary_base import BasePoisoningAdversary, _fill_poisoning_doc
from sklearn_robust._numerics._poisoning import _krum_attack_rows


@_fill_poisoning_doc
class KrumAttack(BasePoisoningAdversary):
    """Fang et al.'s attack on Krum: the largest step against the mean that Krum still picks.

    The first byzantine row is ``w1 = ref - lambda * s``, with ``ref`` the mean of the honest
    rows the adversary knows and ``s = sign(ref)`` the direction in which the honest updates
    move the model; the other byzantine rows are drawn uniformly in a small ball around
    ``w1``, so that they make ``w1`` look central to Krum. ``lambda`` starts at the upper
    bound of the paper (below) and is halved until :class:`~sklearn_robust.estimators.Krum`,
    told the true number ``c`` of byzantine rows, selects a crafted row, or until it falls
    below ``lambda_min`` times its start.

    With ``m`` clients, ``d`` features and the benign rows ``w_i`` Krum sees, the start is

    ``lambda_0 = min_i sum_{l in G_i} ||w_l - w_i|| / ((m - 2c - 1) sqrt(d))
    + max_i ||w_i - ref|| / sqrt(d)``

    with ``G_i`` the ``m - c - 2`` benign rows nearest to ``w_i``.

    Parameters
    ----------
    n_byzantine : int or float, default=0.2
        Number of byzantine rows (int), or their fraction of the rows (float in [0, 1),
        rounded down). Ignored when ``byzantine`` is passed to :meth:`fit_poison`.

    knowledge : {"full", "partial"}, default="full"
        ``"full"``: an omniscient adversary computes ``ref`` from all honest rows and
        simulates Krum on the rows it will actually see (the honest rows of the other
        clients and the crafted ones). ``"partial"``: it knows only the honest rows of the
        clients it controls; they give ``ref`` and stand in for the other clients' rows in
        the simulation (Krum then sees ``c`` of them and the ``c`` crafted rows).

    lambda_min : float, default=1e-5
        The halving stops before ``lambda`` falls below ``lambda_min * lambda_0``. In
        ``(0, 1]``; 1 tries ``lambda_0`` only.

    epsilon : float, default=1e-3
        Radius of the ball around ``w1`` in which the other byzantine rows are drawn,
        relative to the root-mean-square distance of the known honest rows to ``ref``.
        0 makes all byzantine rows equal.

    random_state : int, RandomState instance or None, default=None
        Seed of the draws in the ball (taken once, before the search).

    Attributes
    ----------
    lambda_ : float
        The last ``lambda`` tried, in the units of ``X``: ``w1 = ref - lambda_ * s``. 0.0
        when there is no byzantine row.

    krum_selects_byzantine_ : bool
        Whether Krum selects a crafted row at ``lambda_``. With full knowledge this is what
        ``Krum(n_byzantine=n_byzantine_).fit(X_poisoned)`` does; with partial knowledge it
        is the outcome of the adversary's simulation. False when there is no byzantine row.

    {poisoning_attributes}

    See Also
    --------
    MinMax : Distance-constrained attack that does not target one defense.
    IPM : Inner-product manipulation, a scaled negative mean.
    sklearn_robust.estimators.Krum : The defense this attack targets.

    Notes
    -----
    Fang et al. craft local *models* around the global model of the previous round; the
    rows here are *updates*, and ``ref`` is the mean of the known honest updates, so ``w1``
    moves from where the honest updates would take the model against their own direction.

    When no ``lambda`` makes Krum select a crafted row, the rows of the smallest ``lambda``
    tried (between ``lambda_min * lambda_0`` and ``2 * lambda_min * lambda_0``) are
    returned and ``krum_selects_byzantine_`` is False; they are then close to ``ref``. The
    simulation uses the library's Krum kernel on the poisoned matrix in the dtype of ``X``,
    with ties going to the first row. Under partial knowledge the controlled clients' honest
    rows come first in the simulated matrix.

    Counts that leave the bound undefined are clipped: the neighbour count to
    ``[1, n_benign - 1]`` and ``m - 2c - 1`` to at least 1 (always the case under partial
    knowledge, where ``m = 2c``). The attack is equivariant to scalings of ``X`` by
    ``c > 0`` (by any ``c != 0`` when ``epsilon=0``) but not to translations: ``s`` is
    measured from the origin, the zero update.

    References
    ----------
    .. [1] M. Fang, X. Cao, J. Jia and N. Gong, "Local Model Poisoning Attacks to
       Byzantine-Robust Federated Learning", USENIX Security 2020.
    .. [2] P. Blanchard, E. M. El Mhamdi, R. Guerraoui and J. Stainer, "Machine Learning
       with Adversaries: Byzantine Tolerant Gradient Descent", NeurIPS 2017.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_robust.adversaries import KrumAttack
    >>> from sklearn_robust.estimators import Krum
    >>> X = np.random.RandomState(0).normal(loc=1.0, size=(20, 5))
    >>> attack = KrumAttack(n_byzantine=4, random_state=0)
    >>> X_poisoned = attack.fit_poison(X)
    >>> attack.krum_selects_byzantine_
    True
    >>> krum = Krum(n_byzantine=4).fit(X_poisoned)
    >>> bool(krum.support_[attack.byzantine_mask_].any())
    True
    """

    _parameter_constraints = {
        **BasePoisoningAdversary._parameter_constraints,
        "knowledge": [StrOptions({"full", "partial"})],
        "lambda_min": [Interval(numbers.Real, 0, 1, closed="right")],
        "epsilon": [Interval(numbers.Real, 0, None, closed="left")],
    }

    def __init__(
        self,
        *,
        n_byzantine=0.2,
        knowledge="full",
        lambda_min=1e-5,
        epsilon=1e-3,
        random_state=None,
    ):
        self.n_byzantine = n_byzantine
        self.knowledge = knowledge
        self.lambda_min = lambda_min
        self.epsilon = epsilon
        self.random_state = random_state

    def _fit_poison(self, X, byzantine):
        # kept when there is no byzantine row to craft
        self.lambda_ = 0.0
        self.krum_selects_byzantine_ = False
        return super()._fit_poison(X, byzantine)

    def _craft(self, X, byzantine, random_state):
        if self.knowledge == "partial":
            own = X[byzantine]
            X_sim = np.concatenate([own, own])
            sim_bad = np.repeat([False, True], own.shape[0])
        else:
            X_sim, sim_bad = X, byzantine
        rows, lam, selected = _krum_attack_rows(
            self._known_rows(X, byzantine),
            X_sim,
            sim_bad,
            float(self.lambda_min),
            float(self.epsilon),
            random_state,
        )
        self.lambda_ = float(lam)
        self.krum_selects_byzantine_ = bool(selected)
        return rows
