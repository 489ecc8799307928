"""Metrics for robust aggregation: bias of an estimate against the honest rows."""

import numpy as np
from scipy import linalg
from sklearn.utils._param_validation import validate_params
from sklearn.utils.validation import check_array

__all__ = ["aggregation_bias", "normalized_bias"]


def _check_pair(location, X_honest):
    X_honest = check_array(X_honest, dtype=np.float64, ensure_min_samples=2)
    location = np.asarray(location, dtype=np.float64)
    if location.shape != (X_honest.shape[1],):
        raise ValueError(
            f"location must have shape ({X_honest.shape[1]},) to match X_honest's "
            f"{X_honest.shape[1]} columns; got shape {location.shape}."
        )
    return location, X_honest


@validate_params(
    {"location": ["array-like"], "X_honest": ["array-like"]},
    prefer_skip_nested_validation=True,
)
def aggregation_bias(location, X_honest):
    """Euclidean distance between an aggregate and the mean of the honest rows.

    Parameters
    ----------
    location : array-like of shape (n_features,)
        The aggregate (e.g. ``estimator.location_``).
    X_honest : array-like of shape (n_honest, n_features)
        The honest rows; their mean is the target.

    Returns
    -------
    bias : float
        ``||location - mean(X_honest)||_2``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_robust.metrics import aggregation_bias
    >>> aggregation_bias(np.array([3.0, 4.0]), np.zeros((5, 2)))
    5.0
    """
    location, X_honest = _check_pair(location, X_honest)
    return float(np.linalg.norm(location - X_honest.mean(axis=0)))


@validate_params(
    {"location": ["array-like"], "X_honest": ["array-like"]},
    prefer_skip_nested_validation=True,
)
def normalized_bias(location, X_honest):
    """Bias divided by the honest rows' largest standard deviation along any direction.

    ``||location - mu|| / sqrt(lambda_max(Cov(X_honest)))`` with ``mu`` the honest mean and
    ``Cov`` the (biased, 1/n) covariance of the honest rows. Scale-free: an error of 1 is as
    large as one standard deviation of the honest updates along their most variable
    direction, the unit in which strong robust means bound their error (O(sqrt(eps)) for
    eps contamination).

    Parameters
    ----------
    location : array-like of shape (n_features,)
        The aggregate.
    X_honest : array-like of shape (n_honest, n_features)
        The honest rows.

    Returns
    -------
    bias : float
        Normalized bias (inf when the honest rows are all equal and the aggregate differs).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_robust.metrics import normalized_bias
    >>> X = np.array([[-1.0, 0.0], [1.0, 0.0]])   # std 1 along the first axis
    >>> round(normalized_bias(np.array([0.0, 2.0]), X), 6)
    2.0
    """
    location, X_honest = _check_pair(location, X_honest)
    centred = X_honest - X_honest.mean(axis=0)
    n, d = centred.shape
    small = centred @ centred.T if n <= d else centred.T @ centred
    lam = max(float(linalg.eigvalsh(small, subset_by_index=[small.shape[0] - 1] * 2)[0]), 0.0)
    bias = float(np.linalg.norm(location - X_honest.mean(axis=0)))
    if lam == 0.0:
        return 0.0 if bias == 0.0 else float("inf")
    return bias / float(np.sqrt(lam / n))
