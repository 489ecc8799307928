"""Mimic: every byzantine row copies one honest row."""

import numbers

from sklearn.utils._param_validation import Interval, StrOptions

from sklearn_robust._adversary_base import BasePoisoningAdversary, _fill_poisoning_doc
from sklearn_robust._numerics._poisoning import _mimic_rows


@_fill_poisoning_doc
class Mimic(BasePoisoningAdversary):
    """Every byzantine row copies the honest row farthest along the honest top eigenvector.

    Karimireddy, He and Jaggi's mimic attack: the byzantine clients all send one honest
    client's update, over-weighting it. Which client to copy follows their heuristic: the one
    with the largest projection on the direction of largest honest variance (here the top
    eigenvector of the honest sample covariance). ``extrapolation`` moves the copies that many
    times the copied row's deviation further out.

    Parameters
    ----------
    n_byzantine : int or float, default=0.2
        Number of byzantine rows (int), or their fraction of the rows (float in [0, 1),
        rounded down). Ignored when ``byzantine`` is passed to :meth:`fit_poison`.
    knowledge : {"full", "partial"}, default="full"
        ``"full"``: copy among all honest rows; ``"partial"``: among the honest rows of the
        clients the adversary controls.
    extrapolation : float, default=0.0
        How far beyond the copied row the byzantine rows go, in units of its deviation from
        the mean (0: exact copies).
    random_state : int, RandomState instance or None, default=None
        Unused (the attack is deterministic); present for API consistency.

    Attributes
    ----------
    {poisoning_attributes}

    See Also
    --------
    HullPoints : Copies of several extreme honest rows.

    Notes
    -----
    ByzFL's ``Mimic`` copies a fixed client (index ``epsilon``); this one copies the
    client Karimireddy et al. single out. Equivariant to translations and positive scalings
    of ``X``.

    References
    ----------
    .. [1] S. P. Karimireddy, L. He and M. Jaggi, "Byzantine-Robust Learning on
       Heterogeneous Datasets via Bucketing", ICLR 2022.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_robust.adversaries import Mimic
    >>> X = np.array([[0.0], [1.0], [2.0], [3.0], [10.0]])
    >>> Mimic(n_byzantine=2).fit_poison(X)[:, 0]
    array([ 0.,  1.,  2., 10., 10.])
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
        return _mimic_rows(self._known_rows(X, byzantine), float(self.extrapolation))
