"""Hull points: copies of the honest rows at the edge of the honest distribution."""

import numbers

from sklearn.utils._param_validation import Interval, StrOptions

from sklearn_robust._adversary_base import BasePoisoningAdversary, _fill_poisoning_doc
from sklearn_robust._numerics._poisoning import _hull_point_rows


@_fill_poisoning_doc
class HullPoints(BasePoisoningAdversary):
    """Byzantine rows copy the honest rows farthest along the honest top eigenvector.

    The byzantine rows duplicate the ``n_byzantine`` honest rows with the largest projections
    on the top eigenvector of the honest sample covariance -- vertices of the honest convex
    hull -- moved ``extrapolation`` times their deviation from the mean further out. With
    ``extrapolation=0`` every byzantine row is an honest row: no test on single rows can tell
    them apart, yet the duplicated tail biases the mean towards it.

    Parameters
    ----------
    n_byzantine : int or float, default=0.2
        Number of byzantine rows (int), or their fraction of the rows (float in [0, 1),
        rounded down). Ignored when ``byzantine`` is passed to :meth:`fit_poison`.
    knowledge : {"full", "partial"}, default="full"
        ``"full"``: choose among all honest rows; ``"partial"``: among the honest rows of the
        clients the adversary controls.
    extrapolation : float, default=0.0
        How far beyond the copied rows the byzantine rows go, in units of their deviation
        from the mean (0: exact copies).
    random_state : int, RandomState instance or None, default=None
        Unused (the attack is deterministic); present for API consistency.

    Attributes
    ----------
    {poisoning_attributes}

    See Also
    --------
    Mimic : Every byzantine row copies the same honest row.

    Notes
    -----
    With more byzantine rows than known honest rows, the copies repeat. Equivariant to
    translations and positive scalings of ``X``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_robust.adversaries import HullPoints
    >>> X = np.array([[0.0], [1.0], [2.0], [3.0], [10.0]])
    >>> HullPoints(n_byzantine=1).fit_poison(X)[:, 0]  # the last row copies the extreme one
    array([ 0.,  1.,  2.,  3., 10.])
    """

    _parameter_constraints = {
        **BasePoisoningAdversary._parameter_constraints,
        "knowledge": [StrOptions({"full", "partial"})],
        "extrapolation": [Interval(numbers.Real, 0, None, closed="left")],
    }

    def __init__(self, *, n_byzantine=0.2, knowledge="full", extrapolation=0.0, random_state=None):
        self.n_byzantine = n_byzantine
        self.knowledge = knowledge
        self.extrapolation = extrapolation
        self.random_state = random_state

    def _craft(self, X, byzantine, random_state):
        return _hull_point_rows(
            self._known_rows(X, byzantine), int(byzantine.sum()), float(self.extrapolation)
        )
