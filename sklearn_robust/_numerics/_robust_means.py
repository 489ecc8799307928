"""Kernels of the baseline robust means: arrays in, arrays out, no validation.

Every function takes a finite 2-D float array ``X`` of shape ``(n_samples, n_features)``
(float32 or float64, never modified) and works in float64. Large inputs are processed in
blocks of columns converted one at a time to float64, so a float32 matrix of 100 x 1e6 never
has a full float64 copy in memory.

Values are divided by a power of two (exact) before any sum or product: per column for the
coordinate-wise estimators, by one scale of the whole matrix (or of one chunk) for the
geometric ones. Sums and squares then neither overflow for values near the float64 maximum
nor underflow for tiny ones, and the results are exactly scale-equivariant under powers of
two.

Geometry (pairwise distances, distances to a moving estimate) is computed from the Gram
matrix of the rows *centred at a point among them* (the coordinate-wise median for the
geometric median, an approximate medoid row for pairwise distances): a common offset of the
rows cancels before any product is formed, so large translations do not destroy the small
distances between honest rows.

None of these kernels draws random numbers, so none takes a generator.
"""

import math
from contextlib import nullcontext

import numpy as np
from scipy.linalg import eigh
from threadpoolctl import threadpool_limits

from sklearn_robust._counts import count_from_fraction
from sklearn_robust._numerics._spectral_filter import _reference_row

# Width of the column blocks: at most this many bytes of float64 per block.
_BLOCK_BYTES = 1 << 25
# Chunked spectral filters run one eigenproblem of this size or less single-threaded:
# waking BLAS threads for a 100 x 100 matrix costs more than the solve itself.
_SMALL_EIGH = 512


def _column_blocks(n_samples, n_features, block_bytes=_BLOCK_BYTES):
    """Yield slices of columns whose float64 block holds at most ``block_bytes``."""
    width = max(1, block_bytes // (8 * max(n_samples, 1)))
    for start in range(0, n_features, width):
        yield slice(start, min(start + width, n_features))


def _block64(X, cols, scale=1.0):
    """Columns ``cols`` of ``X`` divided by ``scale`` as a new float64 array (safe to modify).

    ``scale`` is a power of two (scalar or one per column), so the division is exact.
    """
    return np.divide(X[:, cols], scale, dtype=np.float64)


def _pow2_floor(value):
    """Largest power of two not above ``value`` (elementwise); 1.0 where ``value`` is 0."""
    value = np.asarray(value, dtype=np.float64)
    positive = np.isfinite(value) & (value > 0)
    exponent = np.frexp(np.where(positive, value, 1.0))[1]
    return np.where(positive, np.ldexp(1.0, exponent - 1), 1.0)


def _matrix_scale(X):
    """One power of two close to ``max |X|`` (1.0 for a zero matrix)."""
    n_samples, n_features = X.shape
    largest = 0.0
    for cols in _column_blocks(n_samples, n_features):
        block = X[:, cols]
        # max and min instead of |block|: no temporary (NaN propagates alike).
        largest = max(largest, abs(float(block.max())), abs(float(block.min())))
    return float(_pow2_floor(largest))


def _scaled_columns(X, cols):
    """Columns ``cols`` of ``X`` in float64, each divided by a power of two near its max."""
    raw = X[:, cols]
    scale = _pow2_floor(np.abs(raw).max(axis=0))
    return np.divide(raw, scale, dtype=np.float64), scale


# --------------------------------------------------------------------------------------
# Coordinate-wise estimators
# --------------------------------------------------------------------------------------


def sample_mean(X):
    """Plain mean of the rows, accumulated in float64."""
    n_samples, n_features = X.shape
    out = np.empty(n_features, dtype=np.float64)
    for cols in _column_blocks(n_samples, n_features):
        # Summed as they are (a float64 sum of float32 values cannot overflow); only the
        # columns whose float64 sum overflows are summed again after a power-of-two scaling.
        out[cols] = _mean_of_rows(X[:, cols], 0, n_samples)
    return out


def _sorted_blocks(X):
    """Yield ``(cols, block)``: column blocks of ``X`` sorted along the rows, in X's dtype.

    Sorting is exact in any floating dtype (no rounding), and numpy's vectorised sort of a
    native float32 or float64 block is several times faster than a partition of its float64
    copy; the arithmetic on the sorted values is done in float64 by the callers.
    """
    n_samples, n_features = X.shape
    itemsize = max(X.dtype.itemsize, 1)
    for cols in _column_blocks(n_samples, n_features, _BLOCK_BYTES * 8 // itemsize):
        yield cols, np.sort(X[:, cols], axis=0)


def _mean_of_rows(block, start, stop):
    """Float64 mean of rows ``start:stop`` of ``block``, column by column, never overflowing.

    Only a float64 column with values near its largest finite can overflow the float64 sum;
    those columns are summed again after an exact power-of-two division.
    """
    middle = block[start:stop]
    with np.errstate(over="ignore", invalid="ignore"):
        out = middle.mean(axis=0, dtype=np.float64)
    bad = ~np.isfinite(out)
    if bad.any():
        scaled, scale = _scaled_columns(middle, np.flatnonzero(bad))
        out[bad] = scaled.mean(axis=0) * scale
    return out


def coordinate_median(X):
    """Coordinate-wise median (mean of the two middle values for an even count)."""
    n_samples, n_features = X.shape
    lo, hi = (n_samples - 1) // 2, n_samples // 2
    out = np.empty(n_features, dtype=np.float64)
    for cols, block in _sorted_blocks(X):
        low = block[lo].astype(np.float64)
        if lo == hi:
            out[cols] = low
            continue
        high = block[hi].astype(np.float64)
        with np.errstate(over="ignore", invalid="ignore"):
            middle = 0.5 * (low + high)
        # Near the largest float64 the sum overflows: halve first there.
        bad = ~np.isfinite(middle)
        middle[bad] = 0.5 * low[bad] + 0.5 * high[bad]
        out[cols] = middle
    return out


def trimmed_mean(X, n_trim):
    """Coordinate-wise mean after removing the ``n_trim`` smallest and largest values.

    ``2 * n_trim`` must be smaller than the number of rows.
    """
    n_samples, n_features = X.shape
    if n_trim == 0:
        return sample_mean(X)
    out = np.empty(n_features, dtype=np.float64)
    for cols, block in _sorted_blocks(X):
        out[cols] = _mean_of_rows(block, n_trim, n_samples - n_trim)
    return out


def _mad_variance(Y):
    """Per-column robust variance ``(1.4826 * MAD)**2`` of a block centred at its median."""
    mad = np.median(np.abs(Y), axis=0)
    return (1.4826 * mad) ** 2


# --------------------------------------------------------------------------------------
# Geometry through a centred Gram matrix
# --------------------------------------------------------------------------------------


def centred_gram(X, center, scale=1.0):
    """Gram matrix of ``X / scale - center`` in float64, built block by block.

    ``center`` is in the units of ``X / scale``.
    """
    n_samples, n_features = X.shape
    gram = np.zeros((n_samples, n_samples), dtype=np.float64)
    for cols in _column_blocks(n_samples, n_features):
        block = _block64(X, cols, scale)
        block -= center[cols]
        gram += block @ block.T
    return gram


def combine_rows(X, center, coef, scale=1.0):
    """``center + coef @ (X / scale - center)`` in float64, block by block."""
    n_samples, n_features = X.shape
    out = np.empty(n_features, dtype=np.float64)
    for cols in _column_blocks(n_samples, n_features):
        block = _block64(X, cols, scale)
        block -= center[cols]
        out[cols] = center[cols] + coef @ block
    return out


def _squared_distances_from_gram(gram):
    """Pairwise squared distances from a Gram matrix, clipped at zero, zero diagonal."""
    diag = np.diag(gram)
    dist = diag[:, None] + diag[None, :] - 2.0 * gram
    np.maximum(dist, 0.0, out=dist)
    np.fill_diagonal(dist, 0.0)
    return dist


def _scaled_sq_distances(X):
    """Squared distances between the rows of ``X / scale`` and the power of two ``scale``.

    The Gram is centred on an approximate medoid row (found on a column subsample, so an
    inlier whenever most rows are): a data point near the honest rows cancels their common
    offset as well as the coordinate median would, without sorting every column.
    """
    scale = _matrix_scale(X)
    center = X[_reference_row(X, np.arange(X.shape[0]))] / scale
    return _squared_distances_from_gram(centred_gram(X, center, scale)), scale


def pairwise_sq_distances(X):
    """Squared Euclidean distances between the rows of ``X`` (shape (n, n), >= 0)."""
    sq_dist, scale = _scaled_sq_distances(X)
    with np.errstate(over="ignore"):  # inf where the square is not representable
        return sq_dist * scale * scale


def krum_scores(sq_dist, n_neighbours):
    """Krum score of each row: sum of its ``n_neighbours`` smallest squared distances.

    ``sq_dist`` is the (n, n) matrix of squared distances; a row is not its own neighbour.
    ``n_neighbours`` must lie in [1, n - 1].
    """
    dist = np.array(sq_dist, dtype=np.float64, copy=True)
    np.fill_diagonal(dist, np.inf)
    nearest = np.partition(dist, n_neighbours - 1, axis=1)[:, :n_neighbours]
    return nearest.sum(axis=1)


def krum(X, n_byzantine, n_selected):
    """Krum / Multi-Krum selection.

    Scores use ``n - n_byzantine - 2`` neighbours, clipped to ``[1, n - 1]``; the
    ``n_selected`` rows with the smallest scores are selected (ties: first rows first).

    Returns
    -------
    selected : ndarray of int, shape (n_selected,)
        Indices of the selected rows, best first.
    scores : ndarray of shape (n_samples,)
        Krum scores in units of ``X`` squared (inf where that overflows float64; the
        selection itself is made on rescaled scores and is unaffected).
    """
    n_samples = X.shape[0]
    sq_dist, scale = _scaled_sq_distances(X)
    n_neighbours = min(max(n_samples - n_byzantine - 2, 1), n_samples - 1)
    scores = krum_scores(sq_dist, n_neighbours)
    selected = np.argsort(scores, kind="stable")[:n_selected]
    with np.errstate(over="ignore"):  # inf where the square is not representable
        return selected, scores * scale * scale


# Rows farther than this many median distances from the coordinate median are moved in, along
# their ray, to that distance before Weiszfeld's iterations: the geometric median only sees
# the directions of far rows, and moving a row along its ray (up to an angle of 1 / _FAR_CLIP
# with the ray from the estimate) changes nothing else, while no product can overflow.
_FAR_CLIP = 1e6


def _ray_scaled_rows(X, center):
    """Per-row power-of-two scales of ``X - center`` and the norms of the scaled rows.

    The distance of row i to ``center`` is ``scale[i] * norm[i]``; computing it that way
    never overflows, whatever the magnitude of the row.
    """
    n_samples, n_features = X.shape
    largest = np.zeros(n_samples)
    blocks = list(_column_blocks(n_samples, n_features))
    for cols in blocks:
        with np.errstate(over="ignore", invalid="ignore"):
            dev = np.abs(np.subtract(X[:, cols], center[cols], dtype=np.float64))
        block_largest = dev.max(axis=1)
        if not np.isfinite(block_largest).all():  # a difference overflowed float64
            block_largest = np.nan_to_num(dev, posinf=np.finfo(np.float64).max).max(axis=1)
        np.maximum(largest, block_largest, out=largest)
    scale = _pow2_floor(largest)
    sq = np.zeros(n_samples)
    for cols in blocks:
        dev = np.subtract(X[:, cols], center[cols], dtype=np.float64)
        dev /= scale[:, None]
        sq += np.einsum("ij,ij->i", dev, dev)
    return scale, np.sqrt(sq)


def geometric_median(X, max_iter, tol, smoothing):
    """Smoothed Weiszfeld iterations for the geometric median of the rows.

    The estimate always has the form ``m + coef @ (Z - m)`` with ``m`` the coordinate median
    and ``Z`` the rows, those farther than ``_FAR_CLIP`` median distances from ``m`` moved in
    along their ray to that distance (exact for the geometric median up to an angle of
    ``1 / _FAR_CLIP``; no product overflows, so one row at 1e300 moves the estimate no more
    than a row at 1e20 would). Every iteration costs O(n**2) once the Gram matrix of
    ``Z - m`` is known. Distances are floored at ``smoothing * spread``, ``spread`` being the
    median distance of the rows to ``m`` (scale-equivariant, and no far row can inflate it:
    with the root-mean-square distance one row at 1e20 raised the floor until every weight
    was equal and the estimate was the plain mean). Iterations stop when the step is at most
    ``tol`` times the harmonic mean of the rows' distances to the current estimate (a
    typical distance that far rows do not inflate).

    Returns
    -------
    location : ndarray of shape (n_features,)
    coef : ndarray of shape (n_samples,)
        Weights (summing to one) of the rows in the final Weiszfeld step.
    n_iter : int
    converged : bool
    """
    n_samples, n_features = X.shape
    median = coordinate_median(X)
    blocks = list(_column_blocks(n_samples, n_features))
    raw = None
    if X.dtype.itemsize <= 4:
        # Float32 or narrower: squared differences summed over any d neither overflow nor
        # underflow float64, so one Gram of X - m gives the rows' distances (its diagonal)
        # and, rescaled, the Gram the iterations need: two passes over X fewer.
        raw = np.zeros((n_samples, n_samples))
        for cols in blocks:
            block = np.subtract(X[:, cols], median[cols], dtype=np.float64)
            raw += block @ block.T
        scale = np.ones(n_samples)
        norm = np.sqrt(np.maximum(np.diag(raw), 0.0))
    else:
        scale, norm = _ray_scaled_rows(X, median)
    with np.errstate(over="ignore", divide="ignore"):
        log_dist = np.log2(scale) + np.log2(norm)  # -inf for rows at the median
    finite_logs = log_dist[np.isfinite(log_dist)]
    if finite_logs.size == 0:
        # Every row equals the coordinate median.
        return median, np.full(n_samples, 1.0 / n_samples), 0, True
    at_median = ~np.isfinite(log_dist)
    if 2 * int(at_median.sum()) > n_samples:
        # More than half the rows are one point (the coordinate median): the sum of the unit
        # vectors towards the others is shorter than its multiplicity, so that point is the
        # geometric median, exactly.
        return median, at_median / at_median.sum(), 0, True
    log_spread = float(np.median(np.where(np.isfinite(log_dist), log_dist, -np.inf)))
    if not np.isfinite(log_spread):  # half the rows at the median
        log_spread = float(np.median(finite_logs))
    unit_exp = int(np.floor(log_spread))
    # Multiplier of the scaled rows: scale_i * f_i / 2**unit_exp, with f_i <= 1 the clip.
    log_clip = np.minimum(0.0, log_spread + math.log2(_FAR_CLIP) - log_dist)
    log_clip[~np.isfinite(log_dist)] = 0.0
    mult = np.exp2(np.log2(scale) + log_clip - unit_exp)
    if raw is not None:
        gram = raw * np.outer(mult, mult)
    else:
        gram = np.zeros((n_samples, n_samples))
        for cols in blocks:
            block = np.subtract(X[:, cols], median[cols], dtype=np.float64)
            block /= scale[:, None]
            block *= mult[:, None]
            gram += block @ block.T
    diag = np.diag(gram).copy()
    spread = math.exp2(log_spread - unit_exp)
    floor = smoothing * spread
    coef = np.zeros(n_samples)
    converged = False
    n_iter = 0
    while n_iter < max_iter:
        n_iter += 1
        g_coef = gram @ coef
        sq = diag - 2.0 * g_coef + coef @ g_coef
        dist = np.sqrt(np.maximum(sq, 0.0))
        weights = 1.0 / np.maximum(dist, floor)
        new_coef = weights / weights.sum()
        delta = new_coef - coef
        step = math.sqrt(max(float(delta @ gram @ delta), 0.0))
        coef = new_coef
        if step <= tol * n_samples / float(weights.sum()):
            converged = True
            break
    location = np.empty(n_features)
    row_weights = coef * mult * math.ldexp(1.0, unit_exp)
    for cols in blocks:
        block = np.subtract(X[:, cols], median[cols], dtype=np.float64)
        # Row by row, scaled first: coef_i * 2**unit * mult_i * ((x_i - m) / scale_i).
        if raw is None:
            block /= scale[:, None]
        location[cols] = median[cols] + row_weights @ block
    return location, coef, n_iter, converged


def centered_clipping(X, radius, n_iter, center):
    """Centred clipping (Karimireddy et al., 2021) started at ``center``.

    ``n_iter`` times: ``v <- v + mean_i(clip(x_i - v, radius))`` where ``clip`` rescales a
    vector to norm ``radius`` when it is longer. ``radius=None`` uses the median distance of
    the rows to ``center``. Distances are computed directly (block by block, float64).

    Returns
    -------
    location : ndarray of shape (n_features,)
    radius : float
        The clipping radius used.
    """
    n_samples, n_features = X.shape
    blocks = list(_column_blocks(n_samples, n_features))
    center = np.asarray(center, dtype=np.float64)
    unit = max(_matrix_scale(X), float(_pow2_floor(np.abs(center).max())))
    v = center / unit

    def distances(v):
        sq = np.zeros(n_samples)
        for cols in blocks:
            block = _block64(X, cols, unit)
            block -= v[cols]
            sq += np.einsum("ij,ij->i", block, block)
        return np.sqrt(sq)

    dist = distances(v)
    radius = float(np.median(dist)) if radius is None else radius / unit
    for it in range(n_iter):
        if it:
            dist = distances(v)
        factor = np.ones(n_samples)
        far = dist > radius
        factor[far] = radius / dist[far]
        factor /= n_samples
        step = np.empty(n_features)
        for cols in blocks:
            block = _block64(X, cols, unit)
            block -= v[cols]
            step[cols] = factor @ block
        v += step
    return v * unit, radius * unit


# --------------------------------------------------------------------------------------
# Spectral filters (FILTERING and NO-REGRET), chunk by chunk
# --------------------------------------------------------------------------------------


def marchenko_pastur_sigma(Y, n_samples):
    """Default clean-variance bound of a chunk ``Y`` centred at its coordinate median.

    ``s2 * (1 + sqrt(d_c / n))**2`` -- the Marchenko-Pastur edge of the sample covariance
    of ``n`` isotropic rows of per-coordinate variance ``s2`` in ``d_c`` dimensions, where
    ``s2`` is the median over the chunk's coordinates of the robust variance
    ``(1.4826 * MAD)**2``.
    """
    s2 = float(np.median(_mad_variance(Y)))
    return s2 * (1.0 + math.sqrt(Y.shape[1] / n_samples)) ** 2


def _top_eigenpair(sym):
    """Largest eigenvalue and its unit eigenvector of a symmetric matrix."""
    k = sym.shape[0]
    if k == 1:
        return float(sym[0, 0]), np.ones(1)
    val, vec = eigh(sym, subset_by_index=[k - 1, k - 1], check_finite=False)
    return float(val[0]), vec[:, 0]


def weighted_top_direction(Y, coef, gram=None):
    """Top eigenvalue of the weighted covariance of ``Y`` and the rows' projections.

    The covariance is ``sum_i coef_i (y_i - mu)(y_i - mu)^T`` with ``mu = coef @ Y`` and
    ``coef`` summing to one. With ``gram`` (``Y @ Y.T``) the same eigenpair is obtained
    from the n x n weighted centred Gram matrix instead of the d x d covariance; pick the
    smaller of the two.

    Returns
    -------
    lam : float
        Largest eigenvalue (0 when the rows coincide).
    proj : ndarray of shape (n_rows,)
        ``(y_i - mu) . v`` with ``v`` the top eigenvector (zeros when ``lam <= 0``).
    """
    root = np.sqrt(coef)
    if gram is None:
        centred = Y - coef @ Y
        scaled = centred * root[:, None]
        lam, vec = _top_eigenpair(scaled.T @ scaled)
        if lam <= 0.0:
            return max(lam, 0.0), np.zeros(Y.shape[0])
        return lam, centred @ vec
    g_coef = gram @ coef
    centred_gram_ = gram - g_coef[:, None] - g_coef[None, :] + coef @ g_coef
    weighted = centred_gram_ * root[:, None] * root[None, :]
    weighted = 0.5 * (weighted + weighted.T)
    lam, vec = _top_eigenpair(weighted)
    if lam <= 0.0:
        return max(lam, 0.0), np.zeros(Y.shape[0])
    return lam, centred_gram_ @ (root * vec) / math.sqrt(lam)


def _small_problem_blas(size):
    """Single-threaded BLAS for many small eigenproblems (threads only add latency there)."""
    if size <= _SMALL_EIGH:
        return threadpool_limits(limits=1, user_api="blas")
    return nullcontext()


def _chunk_slices(n_features, chunk_size):
    return [slice(s, min(s + chunk_size, n_features)) for s in range(0, n_features, chunk_size)]


def _prepared_chunk(X, cols, sigma, n_samples):
    """One chunk, rescaled by a power of two ``unit`` and centred at its median.

    Returns ``Y`` (the rescaled, centred chunk), its median and sigma in the same units,
    and ``unit``: the chunk in units of ``X`` is ``unit * (Y + median)``.
    """
    raw = X[:, cols]
    unit = float(_pow2_floor(np.abs(raw).max()))
    Y = np.divide(raw, unit, dtype=np.float64)
    # The median of the raw chunk (a sort in its own dtype, several times faster than a
    # partition of the float64 copy), divided by the power of two: exactly np.median(Y).
    med = coordinate_median(raw) / unit
    Y -= med
    if sigma is None:
        chunk_sigma = marchenko_pastur_sigma(Y, n_samples)
    else:
        chunk_sigma = float(sigma) / unit / unit
    return Y, med, chunk_sigma, unit


def filter_chunk(Y, n_rounds, threshold):
    """FILTERING on one chunk ``Y``: weights of the rows after at most ``n_rounds`` rounds.

    Each round computes the top eigenpair of the weighted covariance of the rows still in
    play; it stops when the eigenvalue is at most ``threshold``, otherwise multiplies each
    weight by ``1 - tau_i / tau_max`` (``tau_i`` the squared projection on the top
    eigenvector), which drops the worst row(s). The filter never drops every row.

    Returns
    -------
    weights : ndarray of shape (n_rows,)
        Non-negative, summing to one; zero for dropped rows.
    n_rounds_done : int
        Rounds that removed rows.
    """
    n_rows, width = Y.shape
    gram = Y @ Y.T if width > n_rows else None
    weights = np.full(n_rows, 1.0 / n_rows)
    done = 0
    for _ in range(n_rounds):
        alive = np.flatnonzero(weights > 0)
        coef = weights[alive] / weights[alive].sum()
        sub_gram = None if gram is None else gram[np.ix_(alive, alive)]
        lam, proj = weighted_top_direction(Y[alive], coef, sub_gram)
        if lam <= threshold:
            break
        tau = proj**2
        tau_max = tau.max()
        if not tau_max > 0.0:
            break
        new = coef * (1.0 - tau / tau_max)
        new[tau >= tau_max] = 0.0
        total = new.sum()
        if not total > 0.0:
            break
        weights[:] = 0.0
        weights[alive] = new / total
        done += 1
    return weights, done


def filtering_mean(X, eps, sigma, expansion, chunk_size, n_outliers=None):
    """FILTERING (Diakonikolas et al.) per chunk of ``chunk_size`` coordinates.

    Each chunk is filtered independently for at most ``2 * n_outliers`` rounds
    (``n_outliers=None``: ``floor(eps * n)``) with the
    stopping threshold ``sqrt(expansion) * sigma``; ``sigma=None`` uses
    :func:`marchenko_pastur_sigma` of the chunk.

    Returns
    -------
    location : ndarray of shape (n_features,)
        Concatenation of the chunks' weighted means.
    weights : ndarray of shape (n_chunks, n_samples)
    sigmas : ndarray of shape (n_chunks,)
    """
    n_samples, n_features = X.shape
    if n_outliers is None:
        n_outliers = count_from_fraction(eps, n_samples)
    n_rounds = 2 * int(n_outliers)
    chunks = _chunk_slices(n_features, chunk_size)
    location = np.empty(n_features)
    weights = np.empty((len(chunks), n_samples))
    sigmas = np.empty(len(chunks))
    with _small_problem_blas(min(n_samples, chunk_size)):
        for c, cols in enumerate(chunks):
            Y, med, chunk_sigma, unit = _prepared_chunk(X, cols, sigma, n_samples)
            weights[c], _ = filter_chunk(Y, n_rounds, math.sqrt(expansion) * chunk_sigma)
            location[cols] = (med + weights[c] @ Y) * unit
            with np.errstate(over="ignore"):
                sigmas[c] = chunk_sigma * unit * unit if sigma is None else sigma
    return location, weights, sigmas


def project_capped_simplex_kl(q, cap):
    """KL (relative-entropy) projection of positive ``q`` onto the capped simplex.

    The set is ``{p : sum p = 1, 0 <= p_i <= cap}`` (non-empty when ``cap * len(q) >= 1``).
    The projection is ``p_i = min(cap, s * q_i)`` with ``s`` such that ``sum p = 1``
    (Herbster and Warmuth, 2001): the largest entries are capped, the rest rescaled.
    """
    m = q.shape[0]
    order = np.argsort(-q, kind="stable")
    q_sorted = q[order]
    tail = np.cumsum(q_sorted[::-1])[::-1]  # tail[k] = sum of q_sorted[k:]
    n_capped = np.arange(m)
    rest = 1.0 - n_capped * cap
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = rest / tail
        valid = (rest > 0) & (scale * q_sorted <= cap * (1.0 + 1e-12))
    k = int(np.argmax(valid)) if valid.any() else m - 1
    p_sorted = np.empty(m)
    p_sorted[:k] = cap
    p_sorted[k:] = q_sorted[k:] * (max(rest[k], 0.0) / tail[k])
    p = np.empty(m)
    p[order] = p_sorted
    return p


def no_regret_chunk(Y, gram, eps, threshold, n_pruned=None):
    """NO-REGRET on one chunk ``Y`` (rows centred at the chunk median), ``gram = Y @ Y.T``.

    1. Krum pre-pruning: the ``n_pruned`` rows (None: ``floor(eps * n)``) with the largest
       Krum scores (sum of
       squared distances to the ``n - f - 2`` nearest rows) are dropped.
    2. Soft weights ``w`` start uniform over the ``m`` kept rows; for at most
       ``floor(2 * eps * m)`` rounds, while the top eigenvalue of the weighted covariance
       exceeds ``threshold``: ``w_i <- w_i * (1 - eta * tau_i)`` with ``tau_i`` the squared
       projection on the top eigenvector and ``eta = 1 / (2 * max squared distance between
       kept rows)`` (so each factor is at least 1/2), followed by the KL projection onto
       ``{sum w = 1, w_i <= 1 / ((1 - eps) m)}``.

    Returns
    -------
    weights : ndarray of shape (n_rows,)
        Summing to one; zero for the pruned rows.
    kept : ndarray of bool, shape (n_rows,)
    """
    n_rows, width = Y.shape
    if n_pruned is None:
        n_pruned = count_from_fraction(eps, n_rows)
    # Keep at least one row (a single finite row is the estimate itself).
    n_pruned = min(int(n_pruned), n_rows - 1)
    kept = np.ones(n_rows, dtype=bool)
    sq_dist = _squared_distances_from_gram(gram)
    if n_pruned:
        n_neighbours = min(max(n_rows - n_pruned - 2, 1), n_rows - 1)
        scores = krum_scores(sq_dist, n_neighbours)
        worst = np.argsort(scores, kind="stable")[n_rows - n_pruned :]
        kept[worst] = False
    idx = np.flatnonzero(kept)
    m = idx.shape[0]
    coef = np.full(m, 1.0 / m)
    weights = np.zeros(n_rows)
    max_sq = float(sq_dist[np.ix_(idx, idx)].max()) if m > 1 else 0.0
    if max_sq > 0.0:
        eta = 0.5 / max_sq
        cap = 1.0 / ((1.0 - eps) * m)
        Yk = Y[idx]
        sub_gram = gram[np.ix_(idx, idx)] if width > m else None
        for _ in range(count_from_fraction(2 * eps, m)):
            lam, proj = weighted_top_direction(Yk, coef, sub_gram)
            if lam <= threshold:
                break
            coef = project_capped_simplex_kl(coef * (1.0 - eta * proj**2), cap)
    weights[idx] = coef
    return weights, kept


def no_regret_mean(X, eps, sigma, expansion, chunk_size, n_pruned=None):
    """NO-REGRET (Zhu et al., 2023) per chunk of ``chunk_size`` coordinates.

    Returns
    -------
    location : ndarray of shape (n_features,)
    weights : ndarray of shape (n_chunks, n_samples)
    kept : ndarray of bool, shape (n_samples,)
        Rows that survived Krum pre-pruning in every chunk.
    sigmas : ndarray of shape (n_chunks,)
    """
    n_samples, n_features = X.shape
    chunks = _chunk_slices(n_features, chunk_size)
    location = np.empty(n_features)
    weights = np.empty((len(chunks), n_samples))
    sigmas = np.empty(len(chunks))
    kept_all = np.ones(n_samples, dtype=bool)
    with _small_problem_blas(min(n_samples, chunk_size)):
        for c, cols in enumerate(chunks):
            Y, med, chunk_sigma, unit = _prepared_chunk(X, cols, sigma, n_samples)
            threshold = math.sqrt(expansion) * chunk_sigma
            weights[c], kept = no_regret_chunk(Y, Y @ Y.T, eps, threshold, n_pruned)
            kept_all &= kept
            location[cols] = (med + weights[c] @ Y) * unit
            with np.errstate(over="ignore"):
                sigmas[c] = chunk_sigma * unit * unit if sigma is None else sigma
    return location, weights, kept_all, sigmas
