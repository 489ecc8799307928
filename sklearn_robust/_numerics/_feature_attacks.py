"""Kernels of the inference-time feature attacks: arrays in, arrays out, no validation.

The classes in :mod:`sklearn_robust.adversaries` choose the attacked rows with
:func:`_attacked_rows` and the attacked columns from their block layout, then replace the
sub-matrix ``X[rows][:, columns]`` of their private copy by what a kernel here returns.

Conventions shared by all kernels:

* Replacement values have the dtype of the data they replace (float32 stays float32); values
  too large for that dtype become ``+-inf``, which the defences treat as a corrupted block.
* No kernel ever produces NaN from non-NaN input: NaN means "the agent sent nothing" and only
  :func:`_missing_values` creates it. Products that could read ``0 * inf`` are resolved
  explicitly.
"""

import numpy as np

from sklearn_robust._counts import count_from_fraction

__all__ = []


def _attacked_rows(n_samples, fraction, random_state):
    """Sorted indices of the rows an attack corrupts.

    Parameters
    ----------
    n_samples : int
        Number of rows of the data (at least 1).
    fraction : float
        Fraction of the rows attacked, in (0, 1]. ``1.0`` attacks every row and draws nothing
        from ``random_state``; otherwise ``floor(fraction * n_samples)`` rows (at least one)
        are drawn uniformly without replacement.
    random_state : numpy.random.RandomState
        Generator of the draw.

    Returns
    -------
    rows : ndarray of shape (n_attacked,), dtype=intp
        Row indices, increasing.
    """
    if fraction >= 1:
        return np.arange(n_samples, dtype=np.intp)
    count = max(1, count_from_fraction(fraction, n_samples))  # the library's one rule
    chosen = random_state.choice(n_samples, size=count, replace=False)
    return np.sort(chosen).astype(np.intp)


def _missing_values(shape, dtype):
    """NaN block values: the attacked agents send nothing."""
    return np.full(shape, np.nan, dtype=dtype)


def _flip_values(H, amplification):
    """The CoPur flip attack on the attacked sub-matrix: ``-amplification * H``.

    Values whose product overflows the dtype become ``+-inf``; NaN (missing) stays NaN. With
    ``amplification == 0`` the agent sends zeros, also where ``H`` is infinite (instead of
    the ``0 * inf = NaN`` of plain arithmetic).
    """
    H = np.asarray(H)
    with np.errstate(over="ignore", invalid="ignore"):
        out = (-float(amplification)) * H
    if amplification == 0:
        out[np.isinf(H)] = 0
    return out.astype(H.dtype, copy=False)


def _column_std(X):
    """Per-column standard deviation of ``X`` ignoring NaN, with safe fallbacks (float64).

    The population standard deviation (``ddof=0``) of each column's observed values, computed
    on the column divided by its largest absolute value (so that squares of huge values
    cannot overflow) and multiplied back. A column whose standard deviation is zero or
    undefined (constant, or with no observed value) gets the root mean square of the other
    columns' standard deviations, or 1.0 when every column is degenerate; the result is
    therefore finite and positive everywhere.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Finite values or NaN (missing).

    Returns
    -------
    std : ndarray of shape (n_features,), dtype=float64
    """
    X = np.asarray(X, dtype=np.float64)
    observed = ~np.isnan(X)
    count = observed.sum(axis=0)
    magnitude = np.where(observed, np.abs(X), 0.0).max(axis=0, initial=0.0)
    magnitude = np.where(magnitude > 0, magnitude, 1.0)
    Z = np.where(observed, X / magnitude, 0.0)
    n = np.maximum(count, 1)
    mean = Z.sum(axis=0) / n
    var = np.where(observed, (Z - mean) ** 2, 0.0).sum(axis=0) / n
    std = magnitude * np.sqrt(var)
    valid = np.isfinite(std) & (std > 0) & (count > 0)
    if valid.all():
        return std
    if valid.any():
        top = std[valid].max()
        fallback = top * np.sqrt(np.mean((std[valid] / top) ** 2))
    else:
        fallback = 1.0
    return np.where(valid, std, fallback)


def _noise_values(n_rows, std, scale, distribution, random_state, dtype):
    """Replacement values ``scale * std_j * noise`` of an unbounded-noise attack.

    Parameters
    ----------
    n_rows : int
        Number of attacked rows.
    std : ndarray of shape (n_columns,)
        Positive, finite scale of each attacked column (see :func:`_column_std`).
    scale : float
        Magnitude relative to ``std``, in (0, inf]. ``inf`` gives ``+-inf`` values.
    distribution : {"gaussian", "uniform", "constant"}
        ``noise`` is standard normal, uniform in [-1, 1], or the constant +1.
    random_state : numpy.random.RandomState
        Generator of the noise (unused for "constant").
    dtype : numpy dtype
        Dtype of the result; values beyond its range become ``+-inf``.

    Returns
    -------
    values : ndarray of shape (n_rows, n_columns)
        Never NaN: where ``scale * std_j`` is infinite the value is ``+inf`` or ``-inf`` by
        the sign of the noise (``+inf`` for a zero draw).
    """
    shape = (n_rows, np.asarray(std).size)
    if distribution == "gaussian":
        noise = random_state.standard_normal(shape)
    elif distribution == "uniform":
        noise = random_state.uniform(-1.0, 1.0, size=shape)
    else:
        noise = np.ones(shape)
    with np.errstate(over="ignore", invalid="ignore"):
        factor = float(scale) * np.asarray(std, dtype=np.float64)
        values = factor * noise
        values = np.where(np.isinf(factor), np.where(noise < 0, -np.inf, np.inf), values)
        return values.astype(dtype)
