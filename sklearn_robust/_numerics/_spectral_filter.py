"""Randomised spectral filtering (RandEigen): the maths behind ``RandEigenMean``.

Everything here takes arrays and an explicit ``numpy.random.Generator`` and does no
validation. The data matrix ``X`` (numpy or torch, any device) is only ever read in column
chunks; the filtering loop itself works on a small float64 representation of the rows:

* ``"gram"``: the exact n x n Gram matrix of the centred rows, computed once;
* ``"rows"``: the centred rows themselves (exact, when d is smaller than n);
* ``"jl"``: a Johnson-Lindenstrauss sketch ``Z = (X - x_ref) R / sqrt(k)`` (n x k), with the
  Gaussian ``R`` generated chunk by chunk and never held whole.

Numerics. Before any product the rows are centred on a reference row (an approximate medoid
found on a column subsample, so it is an inlier whenever most rows are) -- this keeps the
centred Gram accurate when the data sit far from the origin -- and divided by a common power
of two close to the rows' typical magnitude, so the representation is in units of the data
whatever their scale (1e-300 or 1e300 alike). Rows whose magnitude is far from the typical one
(more than 2**50 away) get their own power-of-two factor for the products, undone in float64
afterwards (saturating for rows more than 2**200 away, which are outliers by any standard).
Half-precision inputs are read in float32. Every factor is a power of two, so scaling the data
by a power of two changes nothing but the units.

The filter (:func:`spectral_filter`) alternates a spectral test, which says whether the
survivors' dominant eigenvalue stands out of the clean bulk, with two tail tests, which say
which rows stand out and how many: the survivors' projections on the dominant eigenvector
(standardised symmetrically, and one side at a time against the other) and their distances to
the survivors' mean. A tail is trimmed only by its *excess* over what
Gaussian inliers put there, so a group of outliers is removed while the honest tail it hides in
stays. A final re-admission pass (:func:`rand_eigen_filter`) filters again from all rows with
only the removed rows removable, which returns honest rows removed while outliers distorted the
statistics of the first rounds.
"""

import math
from functools import lru_cache

import numpy as np
from scipy import linalg, stats

from sklearn_robust._counts import count_from_fraction
from sklearn_robust._numerics._backend import (
    is_torch,
    n_threads,
    over_column_ranges,
    rows_max_abs,
)
from sklearn_robust._validation import no_finite_row_message

# Rows whose magnitude bound lies more than 2**50 from the common scale get their own power of
# two (|x| <= 2**50 -> x^2 * d << 3e38 in float32 products); factors beyond 2**200 saturate.
_WINDOW = 50
_SATURATE = 200
_MEDOID_COLUMNS = 2048
_MEDOID_WORK = 2**31
# MAD -> standard deviation of a Gaussian.
_MAD_TO_STD = 1.482602218505602
# Slack of the tail-count test, in Poisson standard deviations of the expected count: with
# m = 100 Gaussian inliers a single row is trimmed only beyond ~3.7 robust standard deviations.
_TAIL_SLACK = 3.0
# Near-duplicates: a pair of rows closer than this fraction of the median pairwise distance
# (squared) when honest rows' distances concentrate (high dimension); exact copies otherwise.
_DUPLICATE_FRACTION = 0.25
# Efficiency of the MAD relative to the standard deviation at the Gaussian: a scale estimated
# from m rows is as noisy as a standard deviation from about 0.37 m, so standardised values
# have Student tails with that many degrees of freedom.
_MAD_EFFICIENCY = 0.37
# Relative spread of the cube-rooted distances below which they count as concentrated.
_CONCENTRATED = 0.05
# survivors_mean sums whole rows (one call per row) from this many features on.
_ROW_SUM_FEATURES = 4096
_ROW_SUM_COLUMNS = 65536  # 512 KiB of float64 accumulator
# The Gram is taken about the origin and re-centred when the rows' offset from the origin is
# at most this factor of their spread (see _gram_without_centring).
_OFFSET_RATIO = 8.0
# The distance test needs this many features (see _filter_round).
_MIN_DISTANCE_FEATURES = 8


def default_chunk_size(n_samples, itemsize=4, block_bytes=2**24):
    """Columns per chunk so that one float64 block of the rows stays near 16 MiB."""
    del itemsize
    return int(max(256, block_bytes // (8 * max(n_samples, 1))))


def jl_components(n_features):
    """The paper's sketch width k = min(floor(100 ln d), d)."""
    return int(min(max(1, math.floor(100.0 * math.log(max(n_features, 2)))), n_features))


def column_sample(X, rows, n_columns=_MEDOID_COLUMNS):
    """``X[rows]`` on evenly spaced columns, in float64 on the CPU (a small copy).

    At most ``n_columns`` columns, fewer past ~1000 rows so that the n x n distances on them
    stay near a fraction of a second (2**31 multiply-adds), never under 256.
    """
    d = X.shape[1]
    n_columns = int(max(256, min(n_columns, _MEDOID_WORK // max(1, len(rows)) ** 2)))
    step = max(1, d // n_columns)
    # Column subsample first (a view), then the rows: only the small block is copied.
    if is_torch(X):
        import torch

        sub = X[:, ::step][torch.as_tensor(rows, device=X.device)]
        return sub.detach().to("cpu").double().numpy()
    return np.asarray(X[:, ::step][rows], dtype=np.float64)


def _reference_row(X, rows, sample=None):
    """Index (into ``X``) of an approximate medoid of ``X[rows]``, from a column subsample.

    The row minimising the median squared distance to the others is an inlier when fewer than
    half of the rows are outliers; computed on :func:`column_sample` (or the ``sample`` of it
    already taken), so its cost does not grow with d.
    """
    sub = column_sample(X, rows) if sample is None else sample
    # Rescale each column so squared distances cannot overflow even near float64's maximum.
    scale = np.abs(sub).max(axis=0)
    scale[~(scale > 0)] = 1.0
    sub = sub / scale
    sq = np.einsum("ij,ij->i", sub, sub)
    dist = sq[:, None] + sq[None, :] - 2.0 * sub @ sub.T
    np.fill_diagonal(dist, np.inf)
    return rows[int(np.argmin(np.median(dist, axis=1)))]


def _pow2_exponent(value):
    """Integer e with 2**e close to ``value`` (> 0), elementwise."""
    return np.frexp(np.asarray(value, dtype=np.float64))[1].astype(np.int64) - 1


def _split_pow2(exponents):
    """Two float64 arrays whose product is ``2**exponents`` without overflowing on the way."""
    half = exponents // 2
    return np.ldexp(1.0, half), np.ldexp(1.0, exponents - half)


class _Centred:
    """Reads column chunks of ``2**e_i * (X[rows] - x_ref) / unit`` without overflow.

    ``unit`` is a power of two near the rows' median magnitude bound; ``e_i`` is 0 for rows
    within 2**50 of it, else the exponent bringing the row's bound near ``unit``. Chunks come
    in float32 (half-precision inputs) or the input's dtype.
    """

    def __init__(self, X, rows, ref, max_abs, chunk_size):
        self.X, self.rows, self.ref, self.chunk_size = X, rows, ref, chunk_size
        self.torch = is_torch(X)
        # |x_ij - x_ref,j| <= max|x_i| + max|x_ref|: the bound that decides the rescaling.
        bound = max_abs[rows] + max_abs[ref]
        self.max_abs_rows = max_abs[rows]
        positive = bound[bound > 0]
        self.unit_exp = int(_pow2_exponent(np.median(positive))) if positive.size else 0
        rel = np.zeros(bound.size, dtype=np.int64)
        rel[bound > 0] = _pow2_exponent(bound[bound > 0]) - self.unit_exp
        self.row_exp = np.where(np.abs(rel) > _WINDOW, -rel, 0).astype(np.int64)
        self.rescaled = np.flatnonzero(self.row_exp != 0)
        # In-window rows are computed in the working dtype, scaled by 2**-unit_exp, when that
        # factor is harmless there; otherwise every row goes through float64.
        self.wide_all = abs(self.unit_exp) > 60
        if self.torch:
            import torch

            self.dtype = X.dtype if X.dtype in (torch.float32, torch.float64) else torch.float32
            exps = self.row_exp - self.unit_exp
            self._factors_t = [torch.as_tensor(f, device=X.device) for f in _split_pow2(exps)]
        else:
            self.dtype = X.dtype if X.dtype in (np.float32, np.float64) else np.dtype(np.float32)
            self._factors = _split_pow2(self.row_exp - self.unit_exp)
        self._buffer = None

    def undo(self):
        """Per-row float64 factors that bring the representation back to units of ``unit``."""
        return np.ldexp(1.0, np.clip(-self.row_exp, -_SATURATE, _SATURATE))

    def chunks(self):
        X, rows, d = self.X, self.rows, self.X.shape[1]
        full = len(rows) == X.shape[0]
        for start in range(0, d, self.chunk_size):
            stop = min(d, start + self.chunk_size)
            block = X[:, start:stop] if full else X[rows, start:stop]
            ref = X[self.ref, start:stop]
            if self.torch:
                yield start, stop, self._torch_chunk(block, ref)
            else:
                yield start, stop, self._numpy_chunk(block, ref)

    def _numpy_chunk(self, block, ref):
        if self.wide_all:
            wide = block.astype(np.float64) - ref.astype(np.float64)
            for factor in self._factors:
                wide *= factor[:, None]
            return wide.astype(self.dtype, copy=False)
        # One buffer serves every chunk (each consumer uses a chunk before asking for the
        # next): no page faults of a fresh n x chunk allocation per chunk.
        size = block.shape[0] * block.shape[1]
        if self._buffer is None or self._buffer.size < size:
            self._buffer = np.empty(size, dtype=self.dtype)
        centred = self._buffer[:size].reshape(block.shape)
        # Rows near the dtype's max overflow here; they are recomputed in float64 below.
        factor = self.dtype.type(math.ldexp(1.0, -self.unit_exp)) if self.unit_exp else None

        def part(first, last):
            out = centred[:, first:last]
            with np.errstate(over="ignore", invalid="ignore"):
                np.subtract(block[:, first:last], ref[first:last], out=out, dtype=self.dtype)
                if factor is not None:
                    out *= factor

        # The element-wise pass on several cores (the product that follows uses them all).
        over_column_ranges(part, block.shape[1], n_threads(size))
        idx = self.rescaled
        if idx.size:
            wide = block[idx].astype(np.float64) - ref.astype(np.float64)
            for factor in self._factors:
                wide *= factor[idx, None]
            centred[idx] = wide.astype(self.dtype)
        return centred

    def _torch_chunk(self, block, ref):
        import torch

        block = block.detach()
        ref = ref.detach()
        if self.wide_all:
            wide = block.double() - ref.double()
            for factor in self._factors_t:
                wide = wide * factor[:, None]
            return wide.to(self.dtype)
        centred = block.to(self.dtype) - ref.to(self.dtype)
        if self.unit_exp:
            centred = centred * math.ldexp(1.0, -self.unit_exp)
        idx = self.rescaled
        if idx.size:
            idx_t = torch.as_tensor(idx, device=centred.device)
            wide = block[idx_t].double() - ref.double()
            for factor in self._factors_t:
                wide = wide * factor[idx_t, None]
            centred[idx_t] = wide.to(self.dtype)
        return centred


def _offset_ratio(raw_diag, centred_diag):
    """How far the rows sit from the origin next to their spread about the reference row.

    ``max_i |x_i|^2 / (|x_i - x_ref|^2 + median_j |x_j - x_ref|^2)``: the factor by which the
    rounding of a Gram about the origin grows once it is re-centred on the reference row.
    """
    spread = np.median(centred_diag)
    if not (np.all(np.isfinite(raw_diag)) and spread > 0):
        return np.inf
    return float(np.max(raw_diag / (centred_diag + spread)))


def _recentre(G, ref_pos):
    """Gram about the origin -> Gram about row ``ref_pos`` (in float64)."""
    g = G[:, ref_pos].copy()
    return G - g[:, None] - g[None, :] + g[ref_pos]


def _gram_without_centring(X, rows, ref, reader, chunk_size, sample=None):
    """The centred Gram from the Gram about the origin, when that loses nothing that matters.

    Centring costs a full pass that writes a copy of every chunk. When the rows sit near the
    origin next to their spread (model updates, gradients: the offset ratio, estimated first
    on a column subsample and then checked on the exact diagonals, is at most
    ``_OFFSET_RATIO``), ``G_c = G - g 1' - 1 g' + g_ref`` with ``g`` the Gram's column of the
    reference row is as accurate as centring first up to that factor, and the products read
    ``X`` directly. Only for numpy float32/float64 rows that need no scaling to stay far from
    overflow and underflow; returns None otherwise (or when the check fails), and the caller
    centres.
    """
    if reader.torch or reader.wide_all or reader.rescaled.size or X.dtype != reader.dtype:
        return None
    info = np.finfo(X.dtype)
    limit = (info.maxexp - 40) // 2  # |x| <= 2**limit: x^2 * d cannot overflow
    if not reader.max_abs_rows.max() <= math.ldexp(1.0, limit):
        return None
    if not abs(reader.unit_exp) < limit:  # typical squares far above the subnormals
        return None
    ref_pos = int(np.flatnonzero(rows == ref)[0])
    sub = column_sample(X, rows) if sample is None else sample
    sub_raw = np.einsum("ij,ij->i", sub, sub)
    sub_centred = sub - sub[ref_pos]
    if not _offset_ratio(sub_raw, np.einsum("ij,ij->i", sub_centred, sub_centred)) <= (
        _OFFSET_RATIO / 2
    ):
        return None
    m = len(rows)
    full = m == X.shape[0]
    G = np.zeros((m, m), dtype=np.float64)
    for start in range(0, X.shape[1], chunk_size):
        block = X[:, start : start + chunk_size] if full else X[rows, start : start + chunk_size]
        G += block @ block.T
    centred = _recentre(G, ref_pos)
    if not _offset_ratio(np.diag(G), np.diag(centred)) <= _OFFSET_RATIO:
        return None
    # In the reader's units (2**unit_exp), like the centred products: exact.
    return np.ldexp(centred, -2 * reader.unit_exp)


def centred_gram(X, rows, ref, max_abs, chunk_size, sample=None):
    """Exact Gram of the centred rows, in float64 and in units of a common power of two.

    Returns ``(G, reader)``: ``G`` already has the per-row factors undone (see
    :class:`_Centred`). ``sample``: the :func:`column_sample` of ``X[rows]`` if already taken.
    """
    reader = _Centred(X, rows, ref, max_abs, chunk_size)
    G = _gram_without_centring(X, rows, ref, reader, chunk_size, sample)
    if G is not None:
        return G, reader
    m = len(rows)
    if reader.torch:
        import torch

        G = torch.zeros((m, m), dtype=torch.float64, device=X.device)
        for _, _, block in reader.chunks():
            G += (block @ block.T).double()
        G = G.cpu().numpy()
    else:
        G = np.zeros((m, m), dtype=np.float64)
        for _, _, block in reader.chunks():
            G += block @ block.T
    undo = reader.undo()
    if reader.rescaled.size:
        G *= np.outer(undo, undo)
    return G, reader


def jl_sketch(X, rows, ref, max_abs, n_components, chunk_size, rng):
    """Sketch ``Z = (X_r - x_ref) R / sqrt(k)`` with Gaussian R made chunk by chunk.

    The block of ``R`` for chunk number i comes from a generator seeded by (seed, i): only
    one ``chunk_size x k`` block exists at a time. (So the sketch, like any random projection,
    depends on ``chunk_size`` as well as on the seed.) Returns ``(Z, reader)`` like
    :func:`centred_gram`.
    """
    k = n_components
    # One block of R is (chunk x k): keep it near 16 MiB of float32 whatever k is.
    chunk_size = max(256, min(chunk_size, 2**22 // k))
    reader = _Centred(X, rows, ref, max_abs, chunk_size)
    seed = int(rng.integers(2**63 - 1))
    m = len(rows)
    Z = np.zeros((m, k), dtype=np.float64)
    if reader.torch:
        import torch

        Zt = torch.zeros((m, k), dtype=torch.float64, device=X.device)
    for index, (start, stop, block) in enumerate(reader.chunks()):
        chunk_rng = np.random.default_rng([seed, index])
        R = chunk_rng.standard_normal((stop - start, k), dtype=np.float32)
        if reader.torch:
            R_t = torch.from_numpy(R).to(device=X.device, dtype=block.dtype)
            Zt += (block @ R_t).double()
        else:
            Z += block @ R.astype(block.dtype, copy=False)
    if reader.torch:
        Z = Zt.cpu().numpy()
    Z /= math.sqrt(k)
    if reader.rescaled.size:
        Z *= reader.undo()[:, None]
    return Z, reader


def centred_rows(X, rows, ref, max_abs, chunk_size):
    """The centred rows themselves in float64 (exact mode when d is smaller than n)."""
    reader = _Centred(X, rows, ref, max_abs, chunk_size)
    Z = np.empty((len(rows), X.shape[1]), dtype=np.float64)
    for start, stop, block in reader.chunks():
        Z[:, start:stop] = block.cpu().double().numpy() if reader.torch else block
    if reader.rescaled.size:
        Z *= reader.undo()[:, None]
    return Z, reader


# --------------------------------------------------------------------------------------------
# The filter on the representation
# --------------------------------------------------------------------------------------------


@lru_cache(maxsize=4096)
def mp_edge_ratio(a, b, j):
    """Upper Marchenko-Pastur edge over the (j+1)-th largest eigenvalue's expected level.

    For the sample covariance of isotropic Gaussian rows whose ``a`` non-zero eigenvalues
    follow the Marchenko-Pastur law of aspect ratio ``a / b`` (``a <= b``): the ratio a clean
    dominant eigenvalue bears to the (j+1)-th largest one (``j`` counted from 0), from the
    law's quantile function. 1 when ``a == 1``.
    """
    if a <= 1 or j <= 0:
        return 1.0
    c = a / b
    lo, hi = (1.0 - math.sqrt(c)) ** 2, (1.0 + math.sqrt(c)) ** 2
    x = np.linspace(lo, hi, 2049)
    dens = np.sqrt(np.maximum((hi - x) * (x - lo), 0.0)) / np.maximum(x, 1e-300)
    cdf = np.concatenate([[0.0], np.cumsum(0.5 * (dens[1:] + dens[:-1]) * np.diff(x))])
    cdf /= cdf[-1]
    level = float(np.interp(1.0 - (j + 0.5) / a, cdf, x))
    return hi / max(level, 1e-12 * hi)


def _tail_excess(distance, n_rows):
    """Excess of a one-sided tail over what inliers put there.

    ``distance`` holds the positive distances, in robust standard deviations, of the rows on
    one side. For each threshold at a row's distance, the count of rows at or beyond it is
    compared with the expected inlier count ``e = n_rows * P(T > t)`` plus a slack of
    ``_TAIL_SLACK * sqrt(e)``, ``T`` a Student variable whose degrees of freedom account for
    the noise of a MAD estimated from ``n_rows`` rows (Gaussian as ``n_rows`` grows). Returns
    ``(excess, threshold)``: the largest whole excess and the threshold where it is reached
    (``(0, inf)`` when no tail is overpopulated).
    """
    if distance.size == 0:
        return 0, math.inf
    ordered = np.sort(distance)[::-1]
    count = np.arange(1, ordered.size + 1)
    dof = max(1.0, _MAD_EFFICIENCY * n_rows)
    expected = n_rows * stats.t.sf(ordered, dof)
    excess = count - expected - _TAIL_SLACK * np.sqrt(expected)
    best = int(np.argmax(excess))
    whole = int(math.floor(excess[best] + 0.5))
    if whole <= 0:
        return 0, math.inf
    return min(whole, best + 1), float(ordered[best])


# Normal probabilities at -1.5 and -0.5 standard deviations: the two quantiles of one side
# that fit a Gaussian to it (see _one_sided_standardise).
_SIDE_LEVELS = (float(stats.norm.cdf(-1.5)), float(stats.norm.cdf(-0.5)))


def _one_sided_standardise(values, floor):
    """Each tail of ``values`` standardised by a Gaussian fitted to the *other* side.

    For the upper tail, centre and scale come from the lower quantiles at -1.5 and -0.5
    standard deviations (their gap is one standard deviation; the centre lies half of it
    above the upper of the two); for the lower tail, mirrored. A group of outliers on one
    side drags the median towards it and widens the MAD, so that :func:`_robust_standardise`
    sees it at barely more than one standard deviation; the opposite side, made of inliers,
    keeps their centre and spread. The scale is at most the MAD's (never less sensitive than
    the symmetric fit) and at least ``floor``, the spread a clean spectrum allows along the
    dominant direction (never more sensitive than the inliers' own spread there). A side
    whose spread is below half of ``floor`` is not a Gaussian side of inliers (copies or a
    tight group fill it) and fits nothing.
    Returns a list of arrays, one per tail that could be fitted, positive on that tail.
    """
    a, b = _SIDE_LEVELS
    lo1, lo2, hi2, hi1 = np.quantile(values, [a, b, 1.0 - b, 1.0 - a])
    mad = _MAD_TO_STD * float(np.median(np.abs(values - np.median(values))))
    out = []
    for spread, centre, sign in ((lo2 - lo1, lo2 + 0.5 * (lo2 - lo1), 1.0),
                                 (hi1 - hi2, hi2 - 0.5 * (hi1 - hi2), -1.0)):
        if not float(spread) >= 0.5 * floor:
            continue
        scale = min(mad, max(floor, float(spread)))
        if scale > 0 and math.isfinite(scale) and math.isfinite(centre):
            out.append(sign * (values - centre) / scale)
    return out


# Score of a row that differs from a majority of identical rows (see _robust_standardise).
_FAR_SCORE = 1e12


def _robust_standardise(values):
    """``(values - median) / (1.4826 MAD)``, the MAD taken over distinct values.

    A group of rows sharing one value (copies, or crafted rows at equal distances) would
    otherwise shrink the MAD and make every other row look far; counted once it cannot. The
    standard deviation stands in for a zero MAD.
    """
    centre = np.median(values)
    dev = values - centre
    ordered = np.sort(values)
    # Values equal to their predecessor up to 1e-9 relative count once.
    new_value = np.ones(ordered.size, dtype=bool)
    new_value[1:] = np.abs(np.diff(ordered)) > 1e-9 * np.maximum(
        np.abs(ordered[1:]), np.abs(ordered[:-1])
    )
    distinct = ordered[new_value]
    # A group of equal values holding more than half the rows is honest (fewer than half
    # are byzantine): its zero spread is the honest spread, and every other row is far
    # beyond any honest one (a large finite score, so that removal weights stay finite).
    starts = np.flatnonzero(new_value)
    runs = np.diff(np.append(starts, ordered.size))
    if runs.size and 2 * int(runs.max()) > ordered.size and runs.size > 1:
        group = ordered[starts[int(np.argmax(runs))]]
        tol = 1e-9 * max(abs(float(group)), np.finfo(np.float64).tiny)
        far = np.abs(values - group) > tol
        return np.where(far, np.sign(values - group) * _FAR_SCORE, 0.0)
    scale = _MAD_TO_STD * np.median(np.abs(distinct - centre))
    if not scale > 0:
        scale = math.sqrt(float(np.mean(dev**2)))
    if not scale > 0:
        return np.zeros_like(values)
    return dev / scale


# Above this size, the eigenvalues and the top eigenvector of a symmetric matrix are computed
# separately (divide and conquer for the values, one MRRR vector): about half the time of one
# subset decomposition returning every requested vector, of which the filter uses only one.
_SPLIT_EIGEN_SIZE = 256


def _top_eigenpairs(S, n_top):
    """The ``n_top`` largest eigenvalues of symmetric ``S`` (descending) and a function
    returning a unit eigenvector of the largest (computed on first call only: the filter
    needs it only when the spectrum is not clean)."""
    size = S.shape[0]
    if size >= _SPLIT_EIGEN_SIZE and n_top > 1:
        values = linalg.eigh(S, eigvals_only=True, driver="evd", check_finite=False)[::-1]

        def vector():
            found = _lanczos_top_vector(S, values[0])
            if found is None:
                _, V = linalg.eigh(S, subset_by_index=[size - 1, size - 1], check_finite=False)
                found = V[:, 0]
            return found

        return values[:n_top], vector
    values, V = linalg.eigh(S, subset_by_index=[size - n_top, size - 1], check_finite=False)
    return values[::-1], lambda: V[:, -1]


def _lanczos_top_vector(S, top_value):
    """Unit eigenvector of the largest eigenvalue of symmetric PSD ``S`` by Lanczos from a
    fixed start (the diagonal), or None when it does not reproduce ``top_value`` (computed
    by a dense solver) to 1e-10 relative, so the caller falls back to a dense solver."""
    from scipy.sparse.linalg import ArpackError, eigsh

    start = np.diag(S).copy()
    if not np.any(start > 0) or not top_value > 0:
        return None
    try:
        value, vector = eigsh(S, k=1, which="LA", v0=start)
    except ArpackError:
        return None
    vector = vector[:, 0]
    rayleigh = float(vector @ (S @ vector))
    if not (abs(float(value[0]) - top_value) <= 1e-10 * top_value
            and abs(rayleigh - top_value) <= 1e-10 * top_value):
        return None
    return vector


def _median_off_diagonal(pairs):
    """Median of each row of the square ``pairs`` without its diagonal entry (like
    ``nanmedian`` with a NaN diagonal, by partial sorts)."""
    m = pairs.shape[0]
    if m < 2:
        return np.zeros(m)
    work = pairs.copy()
    np.fill_diagonal(work, -np.inf)  # always sorted first, so the others are positions 1..m-1
    lo, hi = 1 + (m - 2) // 2, 1 + (m - 1) // 2
    part = np.partition(work, [lo, hi] if hi != lo else [lo], axis=1)
    return (part[:, lo] + part[:, hi]) / 2 if hi != lo else part[:, lo].copy()


class _PairDistances:
    """Squared distances between all rows of a representation, computed once on first use.

    They are measured about the reference row (the raw Gram or the raw rows), so they do not
    depend on which rows survive: every round (and the re-admission pass) reads its survivors'
    block of the same matrix instead of recomputing it.
    """

    def __init__(self, rep, kind):
        self.rep, self.kind, self._pairs = rep, kind, None

    def among(self, idx):
        if self._pairs is None:
            raw = self.rep if self.kind == "gram" else self.rep @ self.rep.T
            diag = np.diag(raw)
            self._pairs = np.maximum(diag[:, None] + diag[None, :] - 2.0 * raw, 0.0)
        if idx.size == self._pairs.shape[0]:
            return self._pairs
        return self._pairs[np.ix_(idx, idx)]


class _Survivors:
    """Statistics of the current survivors of a representation, computed once per round."""

    def __init__(self, rep, kind, idx, all_pairs):
        self.rep, self.kind, self.idx = rep, kind, idx
        self._all_pairs = all_pairs
        m = idx.size
        if kind == "gram":
            S = rep[np.ix_(idx, idx)]
            # Distances come from the Gram about the reference row (an inlier), never from
            # the centred one: centring on a mean that a huge row drags would cancel them.
            self.raw_gram = S
            row_mean = S.mean(axis=0)
            self.gram = S - row_mean[None, :] - row_mean[:, None] + row_mean.mean()
            self.rows = None
        else:
            Z = rep[idx]
            self.raw_rows = Z
            self.rows = Z - Z.mean(axis=0)
            self.gram = self.rows @ self.rows.T if self.rows.shape[1] >= m else None
            self.raw_gram = Z @ Z.T if self.gram is not None else None
        self.m = m
        self._pairs = None
        self._medians = None

    def top(self, n_top):
        """Top eigenvalues (descending, covariance units) and a function returning the
        projections on the first eigenvector (computed when called)."""
        m = self.m
        if self.gram is not None:
            size = m
            n_top = max(1, min(n_top, size))
            w, top_vector = _top_eigenpairs(self.gram, n_top)
            w = np.maximum(w, 0.0) / m
            # Projections of the rows about the reference row, not about the mean: with
            # G the Gram about the reference and u a top eigenvector of the centred one,
            # (G u) / sqrt(lambda m) -- equal up to a constant, and free of the cancellation
            # that centring on a mean dragged by a huge row would cause.
            root = math.sqrt(w[0] * m)

            def projections():
                return self.raw_gram @ top_vector() / root if root > 0 else np.zeros(m)

        else:
            cov = self.rows.T @ self.rows
            size = cov.shape[0]
            n_top = max(1, min(n_top, size))
            w, top_vector = _top_eigenpairs(cov, n_top)
            w = np.maximum(w, 0.0) / m

            def projections():
                return self.raw_rows @ top_vector()  # about the reference row (see above)

        return w, projections

    def without(self, positions):
        """The statistics of these survivors less ``positions`` (indices into them)."""
        keep = np.ones(self.m, dtype=bool)
        keep[positions] = False
        return _Survivors(self.rep, self.kind, self.idx[keep], self._all_pairs)

    def sq_norms(self):
        """Squared distance of each survivor to the survivors' mean."""
        if self.gram is not None:
            return np.maximum(np.diag(self.gram).copy(), 0.0)
        return np.einsum("ij,ij->i", self.rows, self.rows)

    def all_pair_sq_distances(self):
        """The (m, m) matrix of squared distances between survivors (cached)."""
        if self._pairs is None:
            self._pairs = self._all_pairs.among(self.idx)
        return self._pairs

    def median_sq_distances(self):
        """Median squared distance of each survivor to the others: a distance to the bulk
        that, unlike the distance to the mean, no far row can move (cached)."""
        if self._medians is None:
            self._medians = _median_off_diagonal(self.all_pair_sq_distances())
        return self._medians


def _duplicate_extras(stats, candidates, high_dimensional):
    """Mask over ``candidates``: rows with a (near-)duplicate among the survivors that is
    closer to the bulk (ties: earlier row), i.e. the extra copies of a group, and
    every row of a group of three or more.

    Honest rows in high dimension are never near each other (their pairwise distances
    concentrate around the median); exact copies are the only duplicates counted otherwise.
    """
    if candidates.size == 0 or stats.m < 3:
        return np.zeros(candidates.size, dtype=bool)
    sq_all = stats.all_pair_sq_distances()
    upper = sq_all[np.triu_indices(stats.m, 1)]
    median = float(np.median(upper))
    if not median > 0:
        return np.zeros(candidates.size, dtype=bool)
    fraction = 1e-9
    if high_dimensional:
        spread = _MAD_TO_STD * float(np.median(np.abs(upper - median)))
        fraction = max(fraction, min(_DUPLICATE_FRACTION, 1.0 - 8.0 * spread / median))
    close = sq_all[candidates] <= fraction * median
    close[np.arange(candidates.size), candidates] = False
    norms = stats.median_sq_distances()
    order = np.lexsort((np.arange(stats.m), norms))  # closest to the bulk first
    rank = np.empty(stats.m, dtype=np.int64)
    rank[order] = np.arange(stats.m)
    extras = np.array(
        [bool(np.any(rank[np.flatnonzero(row)] < rank[c])) for row, c in zip(close, candidates)]
    )
    # A group of three copies or more is removed whole: such a point mass is crafted (at most
    # one of its rows, a mimicked original, is honest), while two copies may be an honest row
    # and its copy.
    return extras | (close.sum(axis=1) >= 2)


def _select(stats, candidates, weights, n_remove, rng, high_dimensional):
    """At most ``n_remove`` of ``candidates``.

    When the candidates hold extra copies of (near-)duplicate rows, only those go this round:
    copies inflate the tail and its excess, so the statistics are recomputed without them
    before any other row is judged. Otherwise ``n_remove`` rows are drawn at random with
    probability proportional to ``weights`` (without replacement).
    """
    extras = _duplicate_extras(stats, candidates, high_dimensional)
    if extras.any():
        return candidates[extras][:n_remove]
    pool, w = candidates, weights
    rest = n_remove
    w = np.where(w > 0, w, np.finfo(np.float64).tiny)
    # Efraimidis-Spirakis: the largest keys u**(1/w) are a weighted draw without replacement.
    keys = np.log(rng.random(pool.size)) / w
    return pool[np.argsort(-keys, kind="stable")[:rest]]


def _spectrum(stats, n_features, n_outliers):
    """``(spectral, lam, level, projections)`` of the survivors: whether the spectral test
    applies, the dominant eigenvalue, the level a clean spectrum's top eigenvalue reaches
    (the (q+1)-th eigenvalue times the Marchenko-Pastur ratio, 0 when the test does not
    apply) and the function returning the projections on the dominant eigenvector."""
    m = stats.m
    a = min(m - 1, n_features)
    b = max(m - 1, n_features)
    # The spectral certificate needs a clean bulk below the q+1 directions outliers may hold.
    spectral = 2 * (n_outliers + 1) <= a
    w, projections = stats.top(n_outliers + 1 if spectral else 1)
    level = float(w[n_outliers]) * mp_edge_ratio(a, b, n_outliers) if spectral else 0.0
    return spectral, float(w[0]), level, projections


# A group found by the one-sided test leaves only when removing it takes away at least this
# fraction of the dominant eigenvalue's excess over the clean level (see _filter_round).
_EXPLAINED_EXCESS = 0.5
# The one-sided test looks for a group inside the inliers' spread: a fraction f of the rows at
# c inlier standard deviations lifts the dominant eigenvalue by about f (1 - f) c^2 times the
# clean level. It runs up to c = _ONE_SIDED_REACH; a group farther out is what the symmetric
# tests see, and a larger excess is the inliers' own anisotropy (model updates).
_ONE_SIDED_REACH = 3.0


def _filter_round(stats, n_features, n_outliers, tol, removable, removal, rng):
    """One round: ``("converged" | "flat", None)`` or ``("remove", positions)``."""
    m = stats.m
    spectral, lam, level, projections = _spectrum(stats, n_features, n_outliers)
    high_dimensional = n_features >= m
    clean = lam <= 0.0 or (spectral and lam <= (1.0 + tol) * level)
    best = (0, None, None)
    # Rows far from the bulk (cube root: a chi-square is close to Gaussian there).
    # Distances to the bulk are tested only where honest ones concentrate: many features
    # (the cube root of a chi-square with k >= 8 is close to Gaussian) and cube roots varying
    # by less than _CONCENTRATED, as for noise in high dimension. Heavy-tailed honest rows
    # (per-sample gradients, whose norms spread over orders of magnitude) would fill the
    # upper tail with their informative rows; there only the projections are tested.
    tests = []
    if n_features >= _MIN_DISTANCE_FEATURES:
        root = np.cbrt(stats.median_sq_distances())
        centre = float(np.median(root))
        spread = _MAD_TO_STD * float(np.median(np.abs(root - centre)))
        if centre > 0 and spread < _CONCENTRATED * centre:
            norm_t = _robust_standardise(root)
            # Both tails: rows abnormally close to the bulk are crafted too (copies of a
            # point near the mean), and removing them costs little bias.
            tests = [norm_t, -norm_t]
    one_sided = []
    if not clean:
        values = projections()
        proj_t = _robust_standardise(values)
        tests += [proj_t, -proj_t]
        f = min(n_outliers, m) / m
        if spectral and lam <= level * (1.0 + _ONE_SIDED_REACH**2 * f * (1.0 - f)):
            # A group on one side (a cluster inside the inliers' spread along the dominant
            # direction) is judged against the other side, no tighter than a clean spectrum.
            one_sided = _one_sided_standardise(values, math.sqrt(max(level, 0.0)))
    for t in tests + one_sided:
        side = np.flatnonzero((t > 0) & removable)
        excess, threshold = _tail_excess(t[side], m)
        if excess > best[0]:
            cand = side[t[side] >= threshold]
            if any(t is o for o in one_sided) and (
                excess > n_outliers
                or not _explains_excess(stats, cand, n_features, n_outliers, lam, level)
            ):
                # A group of outliers is at most n_outliers rows and is what lifts the
                # dominant eigenvalue; inliers skewed along an anisotropic direction look
                # one-sided too, but removing their tail leaves the excess where it was.
                continue
            best = (excess, cand, t[cand])
    if best[0] == 0:
        return ("converged" if clean or not spectral else "flat"), lam, None
    excess, cand, dist = best
    weights = dist**2 if removal == "squared" else dist
    return "remove", lam, _select(stats, cand, weights, excess, rng, high_dimensional)


def _explains_excess(stats, cand, n_features, n_outliers, lam, level):
    """Whether removing the survivors at ``cand`` takes away at least
    ``_EXPLAINED_EXCESS`` of the dominant eigenvalue's relative excess over the clean level."""
    if cand.size == 0 or cand.size >= stats.m - 2 or not level > 0:
        return False
    spectral, lam_rest, level_rest, _ = _spectrum(stats.without(cand), n_features, n_outliers)
    if not (spectral and level_rest > 0):
        return False
    return lam_rest / level_rest - 1.0 <= (1.0 - _EXPLAINED_EXCESS) * (lam / level - 1.0)


def spectral_filter(
    rep,
    kind,
    n_features,
    *,
    n_outliers,
    removal,
    max_removed,
    tol,
    max_iter,
    rng,
    removable=None,
    all_pairs=None,
):
    """The filtering loop on a Gram matrix (``kind="gram"``) or on rows (``"rows"``).

    Each round works on the survivors:

    1. *spectral test*: the dominant eigenvalue is clean when ``lambda_1 <= (1 + tol) *
       r * lambda_(q+1)``, with q the outliers that may remain (at most ``n_outliers`` and
       the removals still allowed) and ``r`` the Marchenko-Pastur ratio of a clean top
       eigenvalue to the (q+1)-th one at the survivors' aspect ratio. At most q outliers span
       at most q directions, so by interlacing ``lambda_(q+1)`` is a level the inliers reach
       by themselves; ``r`` calibrates the test to the spread of a clean spectrum. The test
       needs ``2 (q + 1) <= min(m - 1, d)`` eigenvalues (else it is skipped);
    2. *tail tests*: the survivors' median distances to the others (cube-rooted, both tails,
       where those distances concentrate as noise in high dimension does) and, when the
       spectral test fails, their projections on the dominant eigenvector (each side), are
       robustly standardised (median, MAD); the projections are also standardised one tail at
       a time by a Gaussian fitted to the other side (:func:`_one_sided_standardise`, scale
       between the clean spectrum's level and the MAD), so that a group on one side, which
       drags the median and widens the MAD, is judged against the inliers' own spread (while
       the excess is what such a group within ``_ONE_SIDED_REACH`` inlier standard
       deviations can add; it leaves only when it is at most ``n_outliers`` rows and carries
       at least half of the dominant eigenvalue's excess, see :func:`_explains_excess`). A
       tail is *overpopulated* when it holds more rows
       than Gaussian inliers would plus a slack. The largest excess found is removed from its
       tail: extra copies of (near-)duplicate rows first, the rest drawn at random with
       probability proportional to the squared (or absolute) standardised distance;
    3. the loop stops ``"converged"`` when the spectrum is clean (or cannot be tested) and no
       tail is overpopulated, ``"flat"`` when the spectrum is not clean but no group of rows
       stands out, or on ``max_iter`` rounds / ``max_removed`` removals.

    Every test is invariant to scaling and translating the rows.

    Returns
    -------
    alive : ndarray of bool, shape (n,)
    eigenvalues : list of float
        Dominant eigenvalue of the survivors' covariance at each round (in units of the
        representation).
    n_iter : int
        Rounds that computed a spectrum.
    stop_reason : str
    """
    n = rep.shape[0]
    all_pairs = _PairDistances(rep, kind) if all_pairs is None else all_pairs
    alive = np.ones(n, dtype=bool)
    removable = np.ones(n, dtype=bool) if removable is None else removable
    n_outliers_max = max(1, int(n_outliers))
    removed = 0
    eigenvalues = []
    stop_reason = "max_iter"
    n_iter = 0
    limit = max_iter if max_iter is not None else max_removed + 1
    while n_iter < limit:
        remaining = max_removed - removed
        if remaining <= 0:
            stop_reason = "max_removed"
            break
        idx = np.flatnonzero(alive)
        if idx.size < 2:
            stop_reason = "converged"
            break
        n_iter += 1
        stats = _Survivors(rep, kind, idx, all_pairs)
        status, lam, positions = _filter_round(
            stats,
            n_features,
            min(remaining, n_outliers_max),
            tol,
            removable[idx],
            removal,
            rng,
        )
        eigenvalues.append(lam)
        if status != "remove":
            stop_reason = status
            break
        positions = positions[:remaining]
        alive[idx[positions]] = False
        removed += positions.size
    return alive, eigenvalues, n_iter, stop_reason


def survivors_mean(X, alive_rows, chunk_size, unit_exp=0, out_dtype=None):
    """Mean of ``X[alive_rows]`` accumulated in float64, chunk by chunk (no row copy).

    Values are divided by ``2**unit_exp`` before they are summed (exact), so sums of values
    near float64's maximum do not overflow. The result is float64, or, for numpy ``X`` and a
    numpy ``out_dtype``, may already be of that dtype (rounded once from the float64 mean).
    """
    count = alive_rows.size
    every_row = count == X.shape[0]
    down = _split_pow2(np.array([-unit_exp]))
    up = _split_pow2(np.array([unit_exp]))
    if is_torch(X):
        import torch

        idx = torch.as_tensor(alive_rows, device=X.device)
        out = torch.empty(X.shape[1], dtype=torch.float64, device=X.device)
        for start in range(0, X.shape[1], chunk_size):
            block = X[:, start : start + chunk_size].detach()
            block = (block if every_row else block[idx]).double()
            block = block * float(down[0][0]) * float(down[1][0])
            total = block.sum(dim=0) / count
            out[start : start + chunk_size] = total * float(up[0][0]) * float(up[1][0])
        return out
    if X.shape[1] >= _ROW_SUM_FEATURES and (not unit_exp or X.dtype.itemsize < 8):
        # Row by row into a float64 accumulator that stays in cache (exact float64 sums in
        # row order, like the chunked sum below): several times faster for wide rows than a
        # casting sum over axis 0 of a column chunk. Rows narrower than float64 cannot
        # overflow float64 when summed, so they need no working unit.
        out = np.empty(X.shape[1], dtype=np.float64 if out_dtype is None else out_dtype)

        def part(first, last):
            buffer = np.empty(min(_ROW_SUM_COLUMNS, last - first), dtype=np.float64)
            for start in range(first, last, _ROW_SUM_COLUMNS):
                stop = min(last, start + _ROW_SUM_COLUMNS)
                acc = buffer[: stop - start]
                acc[:] = 0.0
                for i in alive_rows:
                    np.add(acc, X[i, start:stop], out=acc)
                # Divided straight into the output's dtype: no full-size float64 temporary.
                np.divide(acc, count, out=out[start:stop], casting="same_kind")

        # Column ranges on several cores; each column is summed in the same row order.
        over_column_ranges(part, X.shape[1], n_threads(count * X.shape[1]))
        return out
    out = np.empty(X.shape[1], dtype=np.float64)
    for start in range(0, X.shape[1], chunk_size):
        block = X[:, start : start + chunk_size]
        block = block if every_row else block[alive_rows]
        if unit_exp:
            block = np.ldexp(block.astype(np.float64), -unit_exp)
        total = block.sum(axis=0, dtype=np.float64) / count
        out[start : start + chunk_size] = np.ldexp(total, unit_exp) if unit_exp else total
    return out


def rand_eigen_filter(
    X,
    *,
    eps,
    projection,
    n_components,
    removal,
    max_removed,
    tol,
    max_iter,
    chunk_size,
    rng,
    readmit=True,
    out_dtype=None,
    owner="rand_eigen_mean",
):
    """RandEigen on ``X`` (numpy or torch). Returns a dict of results (numpy where small).

    ``location`` follows ``X``'s kind and device (float64, or ``out_dtype`` where
    :func:`survivors_mean` can write it directly); ``support`` is a bool mask over all
    rows; rows with NaN or inf are never in it.
    """
    n, d = X.shape
    max_abs = rows_max_abs(X, chunk_size)
    finite = np.isfinite(max_abs)
    rows = np.flatnonzero(finite)
    m = rows.size
    if m == 0:
        raise ValueError(no_finite_row_message(owner, n))
    # Rows with NaN or inf are byzantine by construction: they count toward both budgets.
    excluded = n - m
    n_outliers = max(0, count_from_fraction(eps, n) - excluded)
    if max_removed is None:
        max_removed = max(0, count_from_fraction(2.0 * eps, n) - excluded)
    if n_outliers == 0:
        max_removed = 0
    # Never fewer than half of the finite rows (and at least one) survive.
    max_removed = int(max(0, min(max_removed, m - max(1, math.ceil(m / 2)))))
    k = jl_components(d) if n_components is None else int(min(n_components, d))
    if projection == "auto":
        projection = "gram" if (m <= k or d <= k) else "jl"
    unit_exp = 0
    if m == 1 or max_removed == 0:
        alive_rows, eigenvalues, n_iter, stop_reason = rows, [], 0, "max_removed"
        positive = max_abs[rows][max_abs[rows] > 0]
        unit_exp = int(_pow2_exponent(np.median(positive))) if positive.size else 0
    else:
        sample = column_sample(X, rows)  # one subsample for the medoid and the Gram check
        ref = _reference_row(X, rows, sample)
        if projection == "gram" and d < m:
            rep, reader = centred_rows(X, rows, ref, max_abs, chunk_size)
            kind, n_features = "rows", d
        elif projection == "gram":
            rep, reader = centred_gram(X, rows, ref, max_abs, chunk_size, sample)
            kind, n_features = "gram", d
        else:
            rep, reader = jl_sketch(X, rows, ref, max_abs, k, chunk_size, rng)
            kind, n_features = "rows", k
        unit_exp = reader.unit_exp
        options = dict(
            n_outliers=n_outliers,
            removal=removal,
            tol=tol,
            max_iter=max_iter,
            rng=rng,
            all_pairs=_PairDistances(rep, kind),
        )
        alive, eigenvalues, n_iter, stop_reason = spectral_filter(
            rep, kind, n_features, max_removed=max_removed, **options
        )
        if readmit and not alive.all():
            # Re-admission: filter again from every row, only the removed ones removable.
            readmitted, more, n_more, _ = spectral_filter(
                rep,
                kind,
                n_features,
                max_removed=int((~alive).sum()),
                removable=~alive,
                **options,
            )
            alive = readmitted
            eigenvalues = list(eigenvalues) + list(more)
            n_iter += n_more
        alive_rows = rows[alive]
    support = np.zeros(n, dtype=bool)
    support[alive_rows] = True
    return {
        "location": survivors_mean(X, alive_rows, chunk_size, unit_exp, out_dtype),
        "support": support,
        "eigenvalues": np.asarray(eigenvalues, dtype=np.float64),
        "n_iter": n_iter,
        "stop_reason": stop_reason,
        "projection": projection,
        "n_components": k if projection == "jl" else None,
        "max_removed": max_removed,
    }
