"""The plain mean: the unsecured reference of the robust means."""

import numpy as np

from sklearn_robust._numerics._robust_means import sample_mean
from sklearn_robust._robust_mean_base import BaseRobustMean


class SampleMean(BaseRobustMean):
    """Plain (non-robust) mean of the rows, the unsecured reference.

    The rows are averaged coordinate by coordinate, accumulating in float64 whatever the
    input dtype. A single row far away moves the estimate arbitrarily: this is the baseline
    every robust mean is compared with.

    Attributes
    ----------
    location_ : ndarray of shape (n_features,)
        Mean of the rows without NaN or inf (float64).

    support_ : ndarray of shape (n_samples,), dtype=bool
        True for every row without NaN or inf: all of them enter the mean. Rows holding
        NaN or inf are left out (False).

    n_features_in_ : int
        Number of features seen during :term:`fit`.

    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during :term:`fit`. Defined only when `X` has feature names
        that are all strings.

    See Also
    --------
    CoordinateMedian : Coordinate-wise median.
    TrimmedMean : Coordinate-wise trimmed mean.
    GeometricMedian : Point minimising the sum of Euclidean distances.

    Notes
    -----
    ``support_`` is always set (all finite rows True) so that every robust mean of the
    library exposes the same attributes. The breakdown point of the mean is 0: one
    arbitrary row suffices to make its bias unbounded.

    References
    ----------
    .. [1] P. J. Huber and E. M. Ronchetti, "Robust Statistics", 2nd ed., Wiley, 2009.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_robust.estimators import SampleMean
    >>> X = np.array([[0.0, 1.0], [2.0, 3.0], [4.0, 100.0]])
    >>> SampleMean().fit(X).location_
    array([ 2.        , 34.66666667])
    """

    _parameter_constraints = {}

    def _fit(self, X, random_state):
        return {
            "location_": sample_mean(X),
            "support_": np.ones(X.shape[0], dtype=bool),
        }
