"""Coordinate-wise trimmed mean."""

import numbers

import numpy as np
from sklearn.utils._param_validation import Interval

from sklearn_robust._numerics._robust_means import trimmed_mean
from sklearn_robust._robust_mean_base import BaseRobustMean


class TrimmedMean(BaseRobustMean):
    """Coordinate-wise trimmed mean of the rows.

    In each coordinate the ``k`` smallest and the ``k`` largest values are removed and the
    remaining ``n - 2k`` values are averaged (in float64), over the rows without NaN or inf.
    ``k = floor(trim * n)`` over all ``n`` rows, minus the rows holding NaN or inf (they are
    outliers already, see the Notes).

    Parameters
    ----------
    trim : float, default=0.2
        Fraction of the rows cut at *each* end of every coordinate, in ``[0, 0.5)``.
        ``trim=0`` gives the plain mean.

    Attributes
    ----------
    location_ : ndarray of shape (n_features,)
        Coordinate-wise trimmed mean (float64).

    support_ : ndarray of shape (n_samples,), dtype=bool
        True for every row without NaN or inf. Values are trimmed coordinate by
        coordinate, so no row as a whole is removed.

    n_trimmed_ : int
        Number of values ``k`` removed at each end of every coordinate.

    n_features_in_ : int
        Number of features seen during :term:`fit`.

    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during :term:`fit`. Defined only when `X` has feature names
        that are all strings.

    See Also
    --------
    CoordinateMedian : The limit ``trim -> 0.5``.
    SampleMean : ``trim=0``.

    Notes
    -----
    ``floor(trim * n)`` follows the library's one rule for counts from fractions (the product
    is rounded to 9 decimals before the floor, so ``trim=0.29`` trims 29 of 100 rows, as
    ``ALIE(n_byzantine=0.29)`` poisons 29, where :func:`scipy.stats.trim_mean`'s plain
    floor trims 28). Rows with NaN or inf count toward it: with ``t`` of them only
    ``k - t`` finite values are trimmed at each end, so an attack of infinite rows does not
    also cost ``k`` honest values per end. On finite input and products that are not within
    1e-9 of an integer it agrees with :func:`scipy.stats.trim_mean` value for value. The
    estimate is robust to fewer than ``k`` adversarial rows per coordinate; set ``trim`` at
    least to the expected fraction of byzantine rows.

    References
    ----------
    .. [1] D. Yin, Y. Chen, K. Ramchandran and P. Bartlett, "Byzantine-Robust Distributed
       Learning: Towards Optimal Statistical Rates", ICML 2018.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_robust.estimators import TrimmedMean
    >>> X = np.array([[0.0, 1.0], [2.0, 3.0], [4.0, 100.0], [3.0, 2.0], [1.0, -50.0]])
    >>> TrimmedMean(trim=0.2).fit(X).location_
    array([2., 2.])
    """

    _parameter_constraints = {
        "trim": [Interval(numbers.Real, 0, 0.5, closed="left")],
    }

    def __init__(self, *, trim=0.2):
        self.trim = trim

    def _fit(self, X, random_state):
        n_trimmed = self._byzantine_count(self.trim, X.shape[0])
        return {
            "location_": trimmed_mean(X, n_trimmed),
            "support_": np.ones(X.shape[0], dtype=bool),
            "n_trimmed_": n_trimmed,
        }
