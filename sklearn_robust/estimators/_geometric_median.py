"""Geometric (spatial) median by smoothed Weiszfeld iterations."""

import numbers
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils._param_validation import Interval

from sklearn_robust._numerics._robust_means import geometric_median
from sklearn_robust._robust_mean_base import BaseRobustMean


class GeometricMedian(BaseRobustMean):
    """Geometric median: the point minimising the sum of Euclidean distances to the rows.

    Computed by the smoothed Weiszfeld algorithm (Weiszfeld, 1937; Pillutla et al., 2022):
    starting from the coordinate-wise median, the estimate is repeatedly replaced by the
    average of the rows weighted by the inverse of their distances to it, distances being
    floored at ``smoothing`` times the data scale.

    Parameters
    ----------
    max_iter : int, default=200
        Maximum number of Weiszfeld iterations.

    tol : float, default=1e-7
        Relative tolerance: iterations stop when the step is at most ``tol`` times the
        harmonic mean of the rows' distances to the current estimate (a typical distance
        that far outliers do not inflate).

    smoothing : float, default=1e-8
        Distances are floored at ``smoothing * scale``, with ``scale`` the median distance of
        the rows to their coordinate-wise median (robust: no far row can raise the floor).
        Relative to the data, so the estimator is scale-equivariant; it keeps the weights
        finite when the estimate lands on a row.

    Attributes
    ----------
    location_ : ndarray of shape (n_features,)
        The geometric median of the rows without NaN or inf (float64).

    support_ : ndarray of shape (n_samples,), dtype=bool
        True for every row without NaN or inf (all of them enter the estimate, with the
        weights in ``weights_``).

    weights_ : ndarray of shape (n_finite_samples,)
        Weights (summing to one) of the finite rows, in order, in the last Weiszfeld step:
        ``location_`` is their weighted average.

    n_iter_ : int
        Number of Weiszfeld iterations run.

    n_features_in_ : int
        Number of features seen during :term:`fit`.

    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during :term:`fit`. Defined only when `X` has feature names
        that are all strings.

    See Also
    --------
    CoordinateMedian : Coordinate-wise median (cheaper, not rotation-equivariant).
    CenteredClipping : A Huber-type estimate between the mean and the geometric median.

    Notes
    -----
    The geometric median has breakdown point 1/2 and is equivariant to translations,
    scalings and rotations of ``X``. Each iteration works on the n x n Gram matrix of the
    rows centred at their coordinate-wise median, computed once in O(n^2 d): iterations
    then cost O(n^2) whatever the dimension, and a large common offset of the rows does
    not spoil the distances. Rows farther than 1e6 median distances are moved in along
    their ray to that distance first (the geometric median only sees their direction; the
    error is an angle of 1e-6), so that one row at 1e300 shifts the estimate no more than
    one at 1e20: its bias from a single row is bounded. A
    :class:`~sklearn.exceptions.ConvergenceWarning` is raised when ``max_iter`` iterations
    do not reach ``tol``.

    References
    ----------
    .. [1] E. Weiszfeld, "Sur le point pour lequel la somme des distances de n points
       donnés est minimum", Tohoku Mathematical Journal, 1937.
    .. [2] K. Pillutla, S. M. Kakade and Z. Harchaoui, "Robust Aggregation for Federated
       Learning", IEEE Transactions on Signal Processing, 2022.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_robust.estimators import GeometricMedian
    >>> X = np.array([[0.0, 0.0], [2.0, 0.0], [0.0, 1.0], [100.0, 100.0]])
    >>> GeometricMedian().fit(X).location_.round(4)
    array([0.6667, 0.6667])
    """

    _parameter_constraints = {
        "max_iter": [Interval(numbers.Integral, 1, None, closed="left")],
        "tol": [Interval(numbers.Real, 0, None, closed="left")],
        "smoothing": [Interval(numbers.Real, 0, None, closed="neither")],
    }

    def __init__(self, *, max_iter=200, tol=1e-7, smoothing=1e-8):
        self.max_iter = max_iter
        self.tol = tol
        self.smoothing = smoothing

    def _fit(self, X, random_state):
        location, weights, n_iter, converged = geometric_median(
            X, self.max_iter, self.tol, self.smoothing
        )
        if not converged:
            warnings.warn(
                f"GeometricMedian did not converge in max_iter={self.max_iter} iterations "
                f"(tol={self.tol}). Increase max_iter or tol.",
                ConvergenceWarning,
                stacklevel=3,
            )
        return {
            "location_": location,
            "support_": np.ones(X.shape[0], dtype=bool),
            "weights_": weights,
            "n_iter_": n_iter,
        }
