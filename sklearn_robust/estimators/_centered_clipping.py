"""Centred clipping (Karimireddy, He and Jaggi, 2021)."""

import numbers

import numpy as np
from sklearn.utils._param_validation import Interval

from sklearn_robust._numerics._robust_means import centered_clipping, coordinate_median
from sklearn_robust._robust_mean_base import BaseRobustMean


class CenteredClipping(BaseRobustMean):
    """Centred clipping: iteratively average the rows clipped around the current estimate.

    Starting from ``v = center``, ``n_iter`` times::

        v <- v + mean_i clip(x_i - v, radius),   clip(u, r) = u * min(1, r / ||u||)

    Parameters
    ----------
    radius : float, default=None
        Clipping radius (units of ``X``). None chooses it from the data: the median
        Euclidean distance of the rows to the starting point, which makes the estimator
        scale-equivariant (half the rows are never clipped in the first iteration).

    n_iter : int, default=10
        Number of clipping iterations ``L``. The paper uses ``L = 1`` started from the
        previous (momentum) aggregate; started from the coordinate-wise median a few
        iterations suffice.

    center : array-like of shape (n_features,), default=None
        Starting point, e.g. the previous round's aggregate in federated training. None
        starts from the coordinate-wise median of the rows.

    Attributes
    ----------
    location_ : ndarray of shape (n_features,)
        The estimate after ``n_iter`` iterations (float64).

    support_ : ndarray of shape (n_samples,), dtype=bool
        True for every row without NaN or inf: all of them enter the estimate (far rows
        with a clipped, bounded influence).

    radius_ : float
        The clipping radius used.

    n_features_in_ : int
        Number of features seen during :term:`fit`.

    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during :term:`fit`. Defined only when `X` has feature names
        that are all strings.

    See Also
    --------
    GeometricMedian : The limit of small radii.
    SampleMean : The limit of large radii.

    Notes
    -----
    Each byzantine row moves the estimate by at most ``radius / n`` per iteration. With
    ``radius=None`` and ``center=None`` the estimator is equivariant to translations and
    scalings of ``X``; a fixed ``radius`` or ``center`` is in the units of ``X`` and
    breaks that equivariance by design. Iterated to convergence, the update is gradient
    descent on a Huber loss of the distances, so the estimate lies between the mean and
    the geometric median.

    References
    ----------
    .. [1] S. P. Karimireddy, L. He and M. Jaggi, "Learning from History for Byzantine
       Robust Optimization", ICML 2021.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_robust.estimators import CenteredClipping
    >>> X = np.array([[0.0, 0.0], [2.0, 0.0], [0.0, 2.0], [2.0, 2.0], [100.0, 100.0]])
    >>> cc = CenteredClipping().fit(X)
    >>> cc.radius_
    2.0
    >>> cc.location_.round(4)
    array([1.3536, 1.3536])
    """

    _parameter_constraints = {
        "radius": [Interval(numbers.Real, 0, None, closed="neither"), None],
        "n_iter": [Interval(numbers.Integral, 1, None, closed="left")],
        "center": ["array-like", None],
    }

    def __init__(self, *, radius=None, n_iter=10, center=None):
        self.radius = radius
        self.n_iter = n_iter
        self.center = center

    def _fit(self, X, random_state):
        if self.center is None:
            center = coordinate_median(X)
        else:
            center = np.asarray(self.center, dtype=np.float64)
            if center.shape != (X.shape[1],) or not np.isfinite(center).all():
                raise ValueError(
                    f"center must be a finite array of shape ({X.shape[1]},) matching the "
                    f"number of features of X; got shape {center.shape}. Pass one value per "
                    "column, or center=None to start from the coordinate-wise median."
                )
        location, radius = centered_clipping(X, self.radius, self.n_iter, center)
        return {
            "location_": location,
            "support_": np.ones(X.shape[0], dtype=bool),
            "radius_": float(radius),
        }
