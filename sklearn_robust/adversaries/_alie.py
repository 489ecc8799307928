"""A little is enough (ALIE), Baruch et al. (2019)."""

import numbers

from sklearn.utils._param_validation import Interval, StrOptions

from sklearn_robust._adversary_base import BasePoisoningAdversary, _fill_poisoning_doc
from sklearn_robust._numerics._poisoning import _alie_rows, _alie_z_max


@_fill_poisoning_doc
class ALIE(BasePoisoningAdversary):
    """A little is enough: byzantine rows sit ``z`` standard deviations below the mean.

    Every byzantine row equals ``mean - z * std``, with ``mean`` and ``std`` the
    coordinate-wise mean and sample standard deviation of the honest rows the adversary
    knows. The shift is small in every coordinate, so coordinate-wise defenses (median,
    trimmed mean) and distance-based ones (Krum) keep the byzantine rows, yet it adds up over
    many coordinates.

    Parameters
    ----------
    n_byzantine : int or float, default=0.2
        Number of byzantine rows (int), or their fraction of the rows (float in [0, 1),
        rounded down). Ignored when ``byzantine`` is passed to :meth:`fit_poison`.

    knowledge : {"full", "partial"}, default="full"
        ``"full"``: an omniscient adversary computes ``mean`` and ``std`` from all honest
        rows. ``"partial"``: only from the honest rows of the clients it controls.

    z : float, default=None
        Shift in standard deviations, ``>= 0``. None uses the paper's ``z_max``: with ``n``
        rows of which ``f`` are byzantine, ``s = floor(n / 2 + 1) - f`` and
        ``z = Phi^{-1}((n - s) / n)`` (``Phi`` the standard normal CDF). When ``f`` is a
        majority ``s <= 0``; it is clipped to 1 so that ``z`` stays finite.

    random_state : int, RandomState instance or None, default=None
        Unused (the attack is deterministic); present for API consistency.

    Attributes
    ----------
    {poisoning_attributes}

    See Also
    --------
    IPM : Inner-product manipulation, a scaled negative mean.
    HiDRA : Shift calibrated against spectral filtering in high dimensions.
    ConstantShift : Mean plus a fixed shift in standard deviations.

    Notes
    -----
    The sample standard deviation (``ddof=1``) is used. With partial knowledge and a single
    byzantine row it is undefined and taken as 0, so the byzantine row keeps its honest
    value. With ``n = 100`` rows and ``f = 20`` byzantine ones, ``z_max = Phi^{-1}(0.69)``
    (about 0.496).

    The attack is equivariant to translations and positive scalings of ``X``:
    ``fit_poison(c * X + b) == c * fit_poison(X) + b`` for ``c > 0``.

    References
    ----------
    .. [1] G. Baruch, M. Baruch and Y. Goldberg, "A Little Is Enough: Circumventing Defenses
       For Distributed Learning", NeurIPS 2019.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_robust.adversaries import ALIE
    >>> X = np.array([[0.0, 1.0], [2.0, 1.0], [4.0, 1.0], [6.0, 1.0]])
    >>> attack = ALIE(n_byzantine=1, z=1.0)
    >>> X_poisoned = attack.fit_poison(X)
    >>> attack.byzantine_mask_
    array([False, False, False,  True])
    >>> X_poisoned[-1].round(3)
    array([0.418, 1.   ])
    """

    _parameter_constraints = {
        **BasePoisoningAdversary._parameter_constraints,
        "knowledge": [StrOptions({"full", "partial"})],
        "z": [Interval(numbers.Real, 0, None, closed="left"), None],
    }

    def __init__(self, *, n_byzantine=0.2, knowledge="full", z=None, random_state=None):
        self.n_byzantine = n_byzantine
        self.knowledge = knowledge
        self.z = z
        self.random_state = random_state

    def _craft(self, X, byzantine, random_state):
        if self.z is None:
            z = _alie_z_max(X.shape[0], int(byzantine.sum()))
        else:
            z = float(self.z)
        return _alie_rows(self._known_rows(X, byzantine), z)
