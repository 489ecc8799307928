"""Inner-product manipulation (IPM), Xie et al. (2020)."""

import numbers

from sklearn.utils._param_validation import Interval, StrOptions

from sklearn_robust._adversary_base import BasePoisoningAdversary, _fill_poisoning_doc
from sklearn_robust._numerics._poisoning import _ipm_rows


@_fill_poisoning_doc
class IPM(BasePoisoningAdversary):
    """Inner-product manipulation: byzantine rows are ``-epsilon`` times the honest mean.

    Every byzantine row equals ``-epsilon * mean``, with ``mean`` the mean of the honest rows
    the adversary knows. A small ``epsilon`` keeps the byzantine rows close to the honest
    ones while making the inner product of the aggregate with the true mean (the descent
    direction, in federated training) small or negative.

    Parameters
    ----------
    n_byzantine : int or float, default=0.2
        Number of byzantine rows (int), or their fraction of the rows (float in [0, 1),
        rounded down). Ignored when ``byzantine`` is passed to :meth:`fit_poison`.

    knowledge : {"full", "partial"}, default="full"
        ``"full"``: an omniscient adversary computes the mean of all honest rows.
        ``"partial"``: only of the honest rows of the clients it controls.

    epsilon : float, default=0.1
        Non-negative factor of the negated mean. The paper uses small values (0.1) against
        median-type aggregators and large ones (e.g. 100) against Krum-type ones.

    random_state : int, RandomState instance or None, default=None
        Unused (the attack is deterministic); present for API consistency.

    Attributes
    ----------
    {poisoning_attributes}

    See Also
    --------
    SignFlip : Each byzantine client sends its own negated update.
    ALIE : Mean shifted by a few standard deviations.

    Notes
    -----
    The origin matters (it is the zero update): the attack is equivariant to scalings of
    ``X`` by any ``c`` but not to translations.

    References
    ----------
    .. [1] C. Xie, O. Koyejo and I. Gupta, "Fall of Empires: Breaking Byzantine-tolerant SGD
       by Inner Product Manipulation", UAI 2020.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_robust.adversaries import IPM
    >>> X = np.array([[1.0, 2.0], [3.0, 2.0], [5.0, 2.0], [7.0, 2.0]])
    >>> attack = IPM(n_byzantine=2, epsilon=0.5)
    >>> X_poisoned = attack.fit_poison(X)
    >>> attack.byzantine_mask_
    array([False, False,  True,  True])
    >>> X_poisoned
    array([[ 1.,  2.],
           [ 3.,  2.],
           [-2., -1.],
           [-2., -1.]])
    """

    _parameter_constraints = {
        **BasePoisoningAdversary._parameter_constraints,
        "knowledge": [StrOptions({"full", "partial"})],
        "epsilon": [Interval(numbers.Real, 0, None, closed="left")],
    }

    def __init__(self, *, n_byzantine=0.2, knowledge="full", epsilon=0.1, random_state=None):
        self.n_byzantine = n_byzantine
        self.knowledge = knowledge
        self.epsilon = epsilon
        self.random_state = random_state

    def _craft(self, X, byzantine, random_state):
        return _ipm_rows(self._known_rows(X, byzantine), float(self.epsilon))
