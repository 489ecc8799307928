"""Kernels of the poisoning adversaries: arrays in, arrays out, no validation.

Every function receives the honest rows the adversary may look at (``X_known``, shape
``(n_known, n_features)``) and returns the byzantine rows, shape ``(n_features,)`` when they
are all equal or ``(n_bad, n_features)`` otherwise, as float64.

Conventions shared by all kernels:

* Statistics are computed in float64 on ``X_known / a`` with ``a = max |X_known|`` and the
  result is multiplied back by ``a``. Every attack here is positively homogeneous of degree 1
  in the data, so this changes nothing mathematically, but keeps sums of squares from
  overflowing (finite input never yields NaN).
* Per-coordinate standard deviations use ``ddof=1`` (the sample standard deviation). With a
  single known row it is undefined and taken as 0: the attack then degenerates to (a
  function of) that row.
"""

import numpy as np
from scipy.stats import norm

__all__ = []


def _magnitude(X):
    """Largest absolute value of ``X`` as a float (1.0 when ``X`` is all zeros)."""
    a = float(np.max(np.abs(X))) if X.size else 0.0
    return a if a > 0 else 1.0


def _mean_std(X):
    """Coordinate-wise mean and sample std (ddof=1; zeros for a single row), float64."""
    X = np.asarray(X, dtype=np.float64)
    mean = X.mean(axis=0)
    if X.shape[0] < 2:
        return mean, np.zeros_like(mean)
    return mean, X.std(axis=0, ddof=1)


def _rms_std(std):
    """Quadratic mean of per-coordinate standard deviations, sqrt(mean_j std_j**2)."""
    return float(np.sqrt(np.mean(std**2)))


def _alie_z_max(n_samples, n_byzantine):
    """z_max of Baruch et al. (2019): the largest undetected shift in units of std.

    ``s = floor(n/2 + 1) - f`` honest clients must "side" with the attacker and
    ``z = Phi^{-1}((n - s) / n)``. When ``f`` is a majority ``s <= 0``; it is clipped to 1 so
    that ``z`` stays finite.
    """
    s = max(int(np.floor(n_samples / 2 + 1)) - int(n_byzantine), 1)
    return float(norm.ppf((n_samples - s) / n_samples))


def _alie_rows(X_known, z):
    """A little is enough: ``mean - z * std`` of the known rows."""
    a = _magnitude(X_known)
    mean, std = _mean_std(X_known / a)
    return a * (mean - z * std)


def _ipm_rows(X_known, epsilon):
    """Inner-product manipulation: ``-epsilon * mean`` of the known rows."""
    a = _magnitude(X_known)
    return a * (-epsilon * np.asarray(X_known / a, dtype=np.float64).mean(axis=0))


def _sign_flip_rows(X_bad, scale):
    """Each byzantine row becomes ``-scale`` times its own honest row."""
    return -scale * np.asarray(X_bad, dtype=np.float64)


def _gaussian_noise_rows(X_known, n_bad, scale, random_state):
    """``mean + scale * rms_std * N(0, I)``, one independent draw per byzantine row."""
    a = _magnitude(X_known)
    mean, std = _mean_std(X_known / a)
    noise = random_state.standard_normal(size=(n_bad, X_known.shape[1]))
    return a * (mean + (scale * _rms_std(std)) * noise)


def _constant_shift_rows(X_known, shift, direction):
    """``mean + shift * rms_std * sqrt(d) * u`` with ``u`` the unit ``direction``.

    ``direction=None`` is the normalised all-ones vector: every coordinate then moves by
    ``shift * rms_std``. The shift has norm ``shift * sqrt(trace(cov))``.
    """
    d = X_known.shape[1]
    if direction is None:
        u = np.full(d, 1.0 / np.sqrt(d))
    else:
        u = np.asarray(direction, dtype=np.float64)
        u = u / np.max(np.abs(u))
        u = u / np.linalg.norm(u)
    a = _magnitude(X_known)
    mean, std = _mean_std(X_known / a)
    return a * (mean + (shift * _rms_std(std) * np.sqrt(d)) * u)


def _top_covariance_eigenvalue(X):
    """Largest eigenvalue of the sample covariance (ddof=1) of the rows of ``X``.

    Works on the smaller of the two Gram matrices of the centred rows; 0 for one row.
    """
    n = X.shape[0]
    if n < 2:
        return 0.0
    Xc = X - X.mean(axis=0)
    gram = Xc @ Xc.T if n <= X.shape[1] else Xc.T @ Xc
    return max(float(np.linalg.eigvalsh(gram)[-1]), 0.0) / (n - 1)


def _hidra_magnitude(eps, expansion, sigma):
    """HiDRA's distance ``c`` from the mean (Choudhary et al., 2024).

    ``c = sqrt(1 / (eps**2 + (1 - eps)**2 * eps)) * sqrt((sqrt(expansion) - 1) * sigma)``,
    with ``eps`` the byzantine fraction and ``sigma`` the filtering threshold variance.
    """
    return float(
        np.sqrt(1.0 / (eps**2 + (1.0 - eps) ** 2 * eps))
        * np.sqrt((np.sqrt(expansion) - 1.0) * sigma)
    )


def _unit_direction(v):
    """``v / ||v||``; the normalised all-ones vector when ``v`` is zero."""
    a = np.max(np.abs(v)) if v.size else 0.0
    if a == 0:
        return np.full(v.shape, 1.0 / np.sqrt(v.size))
    v = v / a
    return v / np.linalg.norm(v)


def _hidra_rows(X_known, eps, expansion, chunk_size, sigma=None):
    """HiDRA: per chunk of ``chunk_size`` coordinates, ``mean_c - c * mean_c / ||mean_c||``.

    ``sigma`` is the filtering threshold variance, shared by all chunks; when None each
    chunk uses the largest eigenvalue of the sample covariance of its known rows.
    Returns one row (all byzantine rows are equal).
    """
    a = _magnitude(X_known)
    Xs = np.asarray(X_known / a, dtype=np.float64)
    # in units of a: sigma scales as a**2, so c as a (computed before dividing: no overflow)
    c_fixed = None if sigma is None else _hidra_magnitude(eps, expansion, sigma) / a
    d = Xs.shape[1]
    out = np.empty(d, dtype=np.float64)
    for start in range(0, d, chunk_size):
        chunk = Xs[:, start : start + chunk_size]
        mean = chunk.mean(axis=0)
        if c_fixed is None:
            c = _hidra_magnitude(eps, expansion, _top_covariance_eigenvalue(chunk))
        else:
            c = c_fixed
        out[start : start + chunk_size] = mean - c * _unit_direction(mean)
    return a * out
