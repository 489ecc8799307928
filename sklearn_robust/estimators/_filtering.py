"""FILTERING (Diakonikolas et al.) applied chunk by chunk as in Zhu et al. (2023)."""

import numbers

from sklearn.utils._param_validation import Interval

from sklearn_robust._numerics._robust_means import filtering_mean
from sklearn_robust._robust_mean_base import BaseRobustMean


class FilteringMean(BaseRobustMean):
    """Spectral FILTERING robust mean, run independently on chunks of coordinates.

    The coordinates are cut into consecutive chunks of ``chunk_size``. In each chunk, for
    at most ``2 * floor(eps * n)`` rounds: compute the top eigenpair ``(lambda, v)`` of the
    weighted covariance of the rows still in play; stop when
    ``lambda <= sqrt(expansion) * sigma``; otherwise multiply the weight of each row by
    ``1 - tau_i / tau_max``, with ``tau_i`` its squared projection on ``v`` -- the worst row
    gets weight zero and is dropped. The chunk's estimate is the weighted mean of its rows.

    Parameters
    ----------
    eps : float, default=0.2
        Assumed fraction of byzantine rows, in ``[0, 0.5)``; it sets the number of rounds
        ``2 * floor(eps * n)`` per chunk (``eps=0`` gives the plain mean).

    sigma : float, default=None
        Upper bound on the largest eigenvalue of the honest rows' covariance within one
        chunk (a variance: units of ``X`` squared). None estimates it in each chunk as the
        Marchenko-Pastur edge ``s2 * (1 + sqrt(d_c / n))**2``, with ``d_c`` the chunk width,
        ``n`` the number of rows and ``s2`` the median over the chunk's coordinates of the
        robust variance ``(1.4826 * MAD)**2``.

    expansion : float, default=20
        The stopping threshold is ``sqrt(expansion) * sigma``.

    chunk_size : int, default=1000
        Number of consecutive coordinates filtered together.

    Attributes
    ----------
    location_ : ndarray of shape (n_features,)
        Concatenation of the chunks' weighted means (float64).

    support_ : ndarray of shape (n_samples,), dtype=bool
        Rows never dropped (weight exactly zero) in any chunk; rows holding NaN or inf are
        False. Down-weighting is multiplicative, so an outlier can end a chunk with a
        negligible but non-zero weight and stay in the support: ``weights_`` tells.

    n_removed_ : int
        Number of rows without NaN or inf that some chunk dropped (``support_`` False).

    weights_ : ndarray of shape (n_chunks, n_finite_samples)
        Final weights of the finite rows (in order) in each chunk; each row sums to one and
        ``location_`` restricted to chunk ``c`` is ``weights_[c] @ X_finite[:, chunk c]``.

    sigma_ : ndarray of shape (n_chunks,)
        The clean-variance bound used in each chunk.

    n_features_in_ : int
        Number of features seen during :term:`fit`.

    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during :term:`fit`. Defined only when `X` has feature names
        that are all strings.

    See Also
    --------
    NoRegretMean : Soft-weight variant with Krum pre-pruning.
    MultiKrum : Distance-based selection of rows.

    Notes
    -----
    The eigenpair comes from an exact symmetric eigensolver
    (:func:`scipy.linalg.eigh` restricted to the top eigenvalue), applied to whichever
    is smaller: the ``d_c x d_c`` weighted covariance, or the ``n x n`` weighted centred
    Gram matrix of the chunk (the same non-zero spectrum); the Gram matrix is computed
    once per chunk, so a round costs ``O(n^3)`` rather than ``O(n^2 d_c)``. Rows are
    centred at the chunk's coordinate-wise median before any product.

    The default ``sigma`` is exact for isotropic honest rows. When the honest rows have a
    few strongly correlated or high-variance coordinates in a chunk, their top eigenvalue
    exceeds it and the filter drops honest rows (up to the round cap): pass ``sigma``
    explicitly in that case. With ``sigma=None`` the estimator is equivariant to
    translations and scalings of ``X``; a fixed ``sigma`` is in units of ``X`` squared.
    The filter never drops all rows of a chunk.
    ``weights_`` stores ``n_chunks * n_samples`` floats: keep ``chunk_size`` in the
    hundreds or more for very wide ``X``.

    References
    ----------
    .. [1] I. Diakonikolas, G. Kamath, D. M. Kane, J. Li, A. Moitra and A. Stewart,
       "Being Robust (in High Dimensions) Can Be Practical", ICML 2017.
    .. [2] B. Zhu, L. Wang, Q. Pang, S. Wang, J. Jiao, D. Song and M. I. Jordan,
       "Byzantine-Robust Federated Learning with Optimal Statistical Rates", AISTATS 2023.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_robust.estimators import FilteringMean
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(20, 5))
    >>> X[:4] += 50.0
    >>> filt = FilteringMean(eps=0.2).fit(X)
    >>> filt.n_removed_
    2
    >>> filt.weights_.shape
    (1, 20)
    >>> bool(filt.weights_[0, :4].max() < 0.01)
    True
    >>> bool(abs(filt.location_).max() < 1.0)
    True
    """

    _parameter_constraints = {
        "eps": [Interval(numbers.Real, 0, 0.5, closed="left")],
        "sigma": [Interval(numbers.Real, 0, None, closed="left"), None],
        "expansion": [Interval(numbers.Real, 0, None, closed="neither")],
        "chunk_size": [Interval(numbers.Integral, 1, None, closed="left")],
    }

    def __init__(self, *, eps=0.2, sigma=None, expansion=20, chunk_size=1000):
        self.eps = eps
        self.sigma = sigma
        self.expansion = expansion
        self.chunk_size = chunk_size

    def _fit(self, X, random_state):
        location, weights, sigmas = filtering_mean(
            X, self.eps, self.sigma, self.expansion, self.chunk_size,
            n_outliers=self._byzantine_count(self.eps, X.shape[0]),
        )
        support = (weights > 0).all(axis=0)
        return {
            "location_": location,
            "support_": support,
            "n_removed_": int((~support).sum()),
            "weights_": weights,
            "sigma_": sigmas,
        }
