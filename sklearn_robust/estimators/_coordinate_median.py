"""Coordinate-wise median."""

import numpy as np

from sklearn_robust._numerics._robust_means import coordinate_median
from sklearn_robust._robust_mean_base import BaseRobustMean


class CoordinateMedian(BaseRobustMean):
    """Coordinate-wise median of the rows.

    Each coordinate of ``location_`` is the median of that coordinate over the rows (the
    mean of the two middle values when the number of rows is even), computed in float64.

    Attributes
    ----------
    location_ : ndarray of shape (n_features,)
        Coordinate-wise median of the rows without NaN or inf (float64).

    support_ : ndarray of shape (n_samples,), dtype=bool
        True for every row without NaN or inf. The median selects values coordinate by
        coordinate, not rows, so every finite row is considered in the support.

    n_features_in_ : int
        Number of features seen during :term:`fit`.

    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during :term:`fit`. Defined only when `X` has feature names
        that are all strings.

    See Also
    --------
    TrimmedMean : Coordinate-wise trimmed mean.
    GeometricMedian : Multivariate (spatial) median.
    SampleMean : The non-robust reference.

    Notes
    -----
    The coordinate-wise median has breakdown point 1/2 in each coordinate, but its bias
    under a fraction ``eps`` of adversarial rows grows like ``eps * sqrt(d)`` in dimension
    ``d`` (each coordinate can be pushed by ``O(eps)`` standard deviations), which attacks
    such as ALIE exploit. It is equivariant to translations and to scalings of ``X``.

    References
    ----------
    .. [1] D. Yin, Y. Chen, K. Ramchandran and P. Bartlett, "Byzantine-Robust Distributed
       Learning: Towards Optimal Statistical Rates", ICML 2018.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_robust.estimators import CoordinateMedian
    >>> X = np.array([[0.0, 1.0], [2.0, 3.0], [4.0, 100.0], [3.0, 2.0]])
    >>> CoordinateMedian().fit(X).location_
    array([2.5, 2.5])
    """

    _parameter_constraints = {}

    def _fit(self, X, random_state):
        return {
            "location_": coordinate_median(X),
            "support_": np.ones(X.shape[0], dtype=bool),
        }
