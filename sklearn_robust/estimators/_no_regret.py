"""NO-REGRET robust mean (Zhu et al., 2023) applied chunk by chunk."""

import numbers

from sklearn.utils._param_validation import Interval

from sklearn_robust._numerics._robust_means import no_regret_mean
from sklearn_robust._robust_mean_base import BaseRobustMean


class NoRegretMean(BaseRobustMean):
    """NO-REGRET robust mean: Krum pre-pruning, then multiplicative soft weights.

    The coordinates are cut into consecutive chunks of ``chunk_size``. In each chunk:

    1. *Krum pre-pruning*: the ``f = floor(eps * n)`` rows (the library's rule for counts,
       minus the rows holding NaN or inf, which are outliers already) with the largest Krum
       scores
       (sum of squared distances to the ``n - f - 2`` nearest rows) are dropped.
    2. *No-regret weights*: weights start uniform over the ``m`` kept rows; for at most
       ``floor(2 * eps * m)`` rounds, while the top eigenvalue ``lambda`` of the weighted
       covariance exceeds ``sqrt(expansion) * sigma``, each weight is multiplied by
       ``1 - eta * tau_i`` (``tau_i`` the squared projection of the row on the top
       eigenvector, ``eta`` half the inverse of the largest squared distance between kept
       rows) and the weights are projected, in Kullback-Leibler divergence, onto the capped
       simplex ``{w : sum w = 1, w_i <= 1 / ((1 - eps) m)}``.

    The chunk's estimate is the weighted mean of its rows.

    Parameters
    ----------
    eps : float, default=0.2
        Assumed fraction of byzantine rows, in ``[0, 0.5)``. Sets the number of rows pruned
        by Krum, the number of rounds and the weight cap.

    sigma : float, default=None
        Upper bound on the largest eigenvalue of the honest rows' covariance within one
        chunk (units of ``X`` squared). None estimates it in each chunk as the
        Marchenko-Pastur edge ``s2 * (1 + sqrt(d_c / n))**2`` (see :class:`FilteringMean`).

    expansion : float, default=20
        The stopping threshold is ``sqrt(expansion) * sigma``.

    chunk_size : int, default=1000
        Number of consecutive coordinates processed together.

    Attributes
    ----------
    location_ : ndarray of shape (n_features,)
        Concatenation of the chunks' weighted means (float64).

    support_ : ndarray of shape (n_samples,), dtype=bool
        Rows kept by Krum pre-pruning in every chunk (soft weights never reach zero);
        rows holding NaN or inf are False.

    weights_ : ndarray of shape (n_chunks, n_finite_samples)
        Final weights of the finite rows (in order) in each chunk: zero for pruned rows,
        each row sums to one, and ``location_`` restricted to chunk ``c`` is
        ``weights_[c] @ X_finite[:, chunk c]``.

    sigma_ : ndarray of shape (n_chunks,)
        The clean-variance bound used in each chunk.

    n_features_in_ : int
        Number of features seen during :term:`fit`.

    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during :term:`fit`. Defined only when `X` has feature names
        that are all strings.

    See Also
    --------
    FilteringMean : Hard-removal variant.
    Krum : The pre-pruning score.

    Notes
    -----
    The KL projection onto the capped simplex has the closed form
    ``w_i = min(cap, s * q_i)`` with ``s`` normalising the sum (Herbster and Warmuth,
    2001). Because ``eta * tau_i <= 1/2``, weights shrink by at most half per round and
    never vanish. Krum scores use squared distances, as in Blanchard et al. (2017). With
    ``sigma=None`` the estimator is equivariant to translations and scalings of ``X``.
    The same caveat as :class:`FilteringMean` holds for the default ``sigma`` when honest
    rows are strongly correlated within a chunk.
    ``weights_`` stores ``n_chunks * n_samples`` floats: keep ``chunk_size`` in the
    hundreds or more for very wide ``X``.

    References
    ----------
    .. [1] B. Zhu, L. Wang, Q. Pang, S. Wang, J. Jiao, D. Song and M. I. Jordan,
       "Byzantine-Robust Federated Learning with Optimal Statistical Rates", AISTATS 2023.
    .. [2] M. Herbster and M. K. Warmuth, "Tracking the Best Linear Predictor", JMLR 2001.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_robust.estimators import NoRegretMean
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(20, 5))
    >>> X[:4] += 50.0
    >>> nr = NoRegretMean(eps=0.2).fit(X)
    >>> nr.support_[:4]
    array([False, False, False, False])
    >>> bool(abs(nr.location_).max() < 1.0)
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
        location, weights, kept, sigmas = no_regret_mean(
            X, self.eps, self.sigma, self.expansion, self.chunk_size,
            n_pruned=self._byzantine_count(self.eps, X.shape[0]),
        )
        return {
            "location_": location,
            "support_": kept,
            "weights_": weights,
            "sigma_": sigmas,
        }
