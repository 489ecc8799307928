"""Sign-flipping attack."""

import numbers

from sklearn.utils._param_validation import Interval

from sklearn_robust._adversary_base import BasePoisoningAdversary, _fill_poisoning_doc
from sklearn_robust._numerics._poisoning import _sign_flip_rows


@_fill_poisoning_doc
class SignFlip(BasePoisoningAdversary):
    """Sign flipping: each byzantine client sends its own update negated and scaled.

    Every byzantine row becomes ``-scale`` times its own honest row. The attack needs no
    knowledge of the other clients.

    Parameters
    ----------
    n_byzantine : int or float, default=0.2
        Number of byzantine rows (int), or their fraction of the rows (float in [0, 1),
        rounded down). Ignored when ``byzantine`` is passed to :meth:`fit_poison`.

    scale : float, default=1.0
        Non-negative factor applied to the negated row.

    random_state : int, RandomState instance or None, default=None
        Unused (the attack is deterministic); present for API consistency.

    Attributes
    ----------
    {poisoning_attributes}

    See Also
    --------
    IPM : All byzantine rows equal a scaled negative mean of the honest rows.
    GaussianNoise : Byzantine rows are the mean plus large Gaussian noise.

    Notes
    -----
    The attack is equivariant to scalings of ``X`` by any ``c`` but not to translations
    (the sign is taken with respect to the origin, the zero update).

    References
    ----------
    .. [1] L. Li, W. Xu, T. Chen, G. B. Giannakis and Q. Ling, "RSA: Byzantine-Robust
       Stochastic Aggregation Methods for Distributed Learning from Heterogeneous Datasets",
       AAAI 2019.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_robust.adversaries import SignFlip
    >>> X = np.arange(12, dtype=float).reshape(4, 3)
    >>> attack = SignFlip(n_byzantine=1, scale=2.0)
    >>> X_poisoned = attack.fit_poison(X)
    >>> attack.byzantine_mask_
    array([False, False, False,  True])
    >>> X_poisoned[-1]
    array([-18., -20., -22.])
    """

    _parameter_constraints = {
        **BasePoisoningAdversary._parameter_constraints,
        "scale": [Interval(numbers.Real, 0, None, closed="left")],
    }

    def __init__(self, *, n_byzantine=0.2, scale=1.0, random_state=None):
        self.n_byzantine = n_byzantine
        self.scale = scale
        self.random_state = random_state

    def _craft(self, X, byzantine, random_state):
        return _sign_flip_rows(X[byzantine], float(self.scale))
