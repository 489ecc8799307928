"""Randomised spectral filtering (RandEigen): the maths behind ``RandEigenMean``.

Everything here takes arrays and an explicit ``numpy.random.Generator`` and does no
validation. The data matrix ``X`` (numpy or torch, any device) is only ever read in column
chunks; the filtering loop itself works on a small float64 representation of the rows:

* ``"gram"``: the exact n x n Gram matrix of the centred rows, computed once;
* ``"jl"``: a Johnson-Lindenstrauss sketch ``Z = (X - x_ref) R / sqrt(k)`` (n x k), with the
  Gaussian ``R`` generated chunk by chunk and never held whole.

Numerics. Before any product the rows are centred on a reference row (an approximate medoid
found on a column subsample, so it is an inlier whenever most rows are) -- this keeps the
centred Gram accurate when the data sit far from the origin -- and rows whose magnitude would
overflow or underflow float32 products are rescaled by an exact power of two, undone in
float64. Values up to float32's maximum therefore give finite results.
"""

import math

import numpy as np
from scipy import linalg

from sklearn_robust._numerics._backend import is_torch, rows_max_abs

# Rows whose centred magnitude bound lies outside [_LOW, _HIGH] are rescaled by a power of two
# before float32 products, so no square overflows (|x| <= 1e15 -> x^2 * d << 3e38) or
# underflows.
_LOW, _HIGH = 2.0**-50, 2.0**50
_MEDOID_COLUMNS = 2048


def default_chunk_size(n_samples, itemsize=4, block_bytes=2**24):
    """Columns per chunk so that one float64 block of the rows stays near 16 MiB."""
    del itemsize
    return int(max(256, block_bytes // (8 * max(n_samples, 1))))


def jl_components(n_features):
    """The paper's sketch width k = min(floor(100 ln d), d)."""
    return int(min(max(1, math.floor(100.0 * math.log(max(n_features, 2)))), n_features))


def _reference_row(X, rows, n_columns=_MEDOID_COLUMNS):
    """Index (into ``X``) of an approximate medoid of ``X[rows]``, from a column subsample.

    The row minimising the median squared distance to the others is an inlier when fewer than
    half of the rows are outliers; computed in float64 on at most ``n_columns`` evenly spaced
    columns, so its cost does not grow with d.
    """
    d = X.shape[1]
    step = max(1, d // n_columns)
    # Column subsample first (a view), then the rows: only the small block is copied.
    if is_torch(X):
        import torch

        sub = X[:, ::step][torch.as_tensor(rows, device=X.device)]
        sub = sub.detach().to("cpu").double().numpy()
    else:
        sub = np.asarray(X[:, ::step][rows], dtype=np.float64)
    # Rescale each column so squared distances cannot overflow even for values near 3e38.
    scale = np.abs(sub).max(axis=0)
    scale[scale == 0] = 1.0
    sub = sub / scale
    sq = np.einsum("ij,ij->i", sub, sub)
    dist = sq[:, None] + sq[None, :] - 2.0 * sub @ sub.T
    np.fill_diagonal(dist, np.inf)
    return rows[int(np.argmin(np.median(dist, axis=1)))]


def _power_of_two_scales(bound):
    """1.0 for rows whose bound lies in [_LOW, _HIGH], else 2**-e bringing the bound near 1."""
    scales = np.ones_like(bound)
    off = (bound > _HIGH) | ((bound < _LOW) & (bound > 0))
    if off.any():
        scales[off] = np.exp2(-np.ceil(np.log2(bound[off])))
    return scales


class _Centred:
    """Reads column chunks of ``a * (X[rows] - x_ref)`` in float32/float64 without overflow."""

    def __init__(self, X, rows, ref, max_abs, chunk_size):
        self.X, self.rows, self.ref, self.chunk_size = X, rows, ref, chunk_size
        self.torch = is_torch(X)
        # |x_ij - x_ref,j| <= max|x_i| + max|x_ref|: the bound that decides the rescaling.
        bound = max_abs[rows] + max_abs[ref]
        self.scales = _power_of_two_scales(bound)
        self.rescaled = np.flatnonzero(self.scales != 1.0)
        if self.torch:
            import torch

            self._scales_t = torch.as_tensor(self.scales, device=X.device)

    def chunks(self):
        X, rows, d = self.X, self.rows, self.X.shape[1]
        full = len(rows) == X.shape[0]
        for start in range(0, d, self.chunk_size):
            stop = min(d, start + self.chunk_size)
            block = X[:, start:stop] if full else X[rows, start:stop]
            ref = X[self.ref, start:stop]
            # Rows near float32's max overflow here; they are recomputed in float64 below.
            with np.errstate(over="ignore", invalid="ignore"):
                centred = block - ref
            if self.rescaled.size:
                centred = self._rescale(centred, block, ref)
            yield start, stop, centred

    def _rescale(self, centred, block, ref):
        idx = self.rescaled
        if self.torch:
            import torch

            idx_t = torch.as_tensor(idx, device=centred.device)
            wide = block[idx_t].double() - ref.double()
            centred[idx_t] = (wide * self._scales_t[idx_t, None]).to(centred.dtype)
            return centred
        wide = block[idx].astype(np.float64) - ref.astype(np.float64)
        centred[idx] = (wide * self.scales[idx, None]).astype(centred.dtype)
        return centred


def centred_gram(X, rows, ref, max_abs, chunk_size):
    """Exact Gram of the centred (and power-of-two rescaled) rows, in float64.

    Returns ``(G, scales)`` with ``G = diag(scales) (X_r - x_ref)(X_r - x_ref)^T diag(scales)``;
    the true Gram is ``G / outer(scales, scales)`` (computed by the caller only where needed).
    """
    reader = _Centred(X, rows, ref, max_abs, chunk_size)
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
    return G, reader.scales


def jl_sketch(X, rows, ref, max_abs, n_components, chunk_size, rng):
    """Sketch ``Z = (X_r - x_ref) R / sqrt(k)`` with Gaussian R made chunk by chunk.

    The block of ``R`` for chunk number i comes from a generator seeded by (seed, i): only
    one ``chunk_size x k`` block exists at a time. (So the sketch, like any random projection,
    depends on ``chunk_size`` as well as on the seed.) Returns ``(Z, scales)`` like
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
    return Z, reader.scales


def centred_rows(X, rows, ref, max_abs, chunk_size):
    """The centred rows themselves in float64 (exact mode when d is smaller than n)."""
    reader = _Centred(X, rows, ref, max_abs, chunk_size)
    Z = np.empty((len(rows), X.shape[1]), dtype=np.float64)
    for start, stop, block in reader.chunks():
        Z[:, start:stop] = block.cpu().double().numpy() if reader.torch else block
    return Z, reader.scales


def _top_spectrum(rep, alive, kind, n_top):
    """Top ``n_top`` eigenvalues (descending) of the survivors' covariance and the rows'
    projections on the dominant eigenvector.

    ``rep`` is the Gram (kind ``"gram"``) or the sketch (kind ``"sketch"``) of all rows.
    """
    idx = np.flatnonzero(alive)
    m = idx.size
    if kind == "gram":
        S = rep[np.ix_(idx, idx)]
        row_mean = S.mean(axis=0)
        S = S - row_mean[None, :] - row_mean[:, None] + row_mean.mean()
        basis = None
    else:
        Zs = rep[idx]
        Zs = Zs - Zs.mean(axis=0)
        if m <= Zs.shape[1]:
            S, basis = Zs @ Zs.T, None
        else:
            S, basis = Zs.T @ Zs, Zs
    size = S.shape[0]
    # The centred survivors span at most min(m - 1, columns) directions.
    n_top = max(1, min(n_top, size, m - 1, rep.shape[1]))
    w, V = linalg.eigh(S, subset_by_index=[size - n_top, size - 1], check_finite=False)
    w = np.maximum(w[::-1], 0.0) / m
    v = V[:, -1]
    if basis is None:
        # Rows' projections on the dominant direction are sqrt(lambda_gram) * u.
        proj = v * math.sqrt(w[0] * m)
    else:
        proj = basis @ v
    return w, proj


def spectral_filter(
    rep,
    kind,
    *,
    eps,
    removal,
    max_removed,
    tol,
    max_iter,
    rng,
):
    """The randomised filtering loop on a Gram matrix or a sketch of n rows.

    Each round computes the survivors' covariance spectrum, then

    1. stops (``"converged"``) when the dominant eigenvalue no longer stands out of the clean
       bulk: ``lambda_1 <= (1 + tol) * lambda_(q+1)``, q the removals still allowed. At most q
       outliers remain, they span at most q directions, so by interlacing ``lambda_(q+1)`` is
       a level the remaining inliers alone reach; the test is invariant to scale and
       translation;
    2. stops (``"flat"``) when more than ``1 - 2 eps`` of the survivors score above half the
       maximum (no row stands out along the dominant direction);
    3. otherwise removes each survivor independently with probability ``score / max score``
       (score = squared or absolute projection on the dominant eigenvector), keeping the
       highest-scoring ones when the draw exceeds the remaining budget.

    The loop also ends on ``max_iter`` rounds (``"max_iter"``) or when ``max_removed`` rows
    are gone (``"max_removed"``).

    Returns
    -------
    alive : ndarray of bool, shape (n,)
    eigenvalues : list of float
        Dominant eigenvalue of the survivors' covariance at each round (in units of the
        representation, i.e. of the rescaled rows).
    n_iter : int
        Rounds that computed a spectrum.
    stop_reason : str
    """
    n = rep.shape[0]
    alive = np.ones(n, dtype=bool)
    removed = 0
    eigenvalues = []
    stop_reason = "max_iter"
    n_iter = 0
    limit = max_iter if max_iter is not None else max_removed + 1
    while n_iter < limit:
        remaining = max_removed - removed
        n_iter += 1
        w, proj = _top_spectrum(rep, alive, kind, remaining + 1)
        eigenvalues.append(float(w[0]))
        if remaining <= 0:
            stop_reason = "max_removed"
            break
        if w[0] <= (1.0 + tol) * w[-1] or w[0] == 0.0:
            stop_reason = "converged"
            break
        scores = proj**2 if removal == "squared" else np.abs(proj)
        top = scores.max()
        if np.mean(scores > 0.5 * top) > 1.0 - 2.0 * eps:
            stop_reason = "flat"
            break
        # The top-scoring row has probability one, so every round removes at least one row.
        draw = rng.random(scores.size) < scores / top
        if draw.sum() > remaining:
            keep = np.argsort(-np.where(draw, scores, -np.inf), kind="stable")[:remaining]
            draw[:] = False
            draw[keep] = True
        idx = np.flatnonzero(alive)
        alive[idx[draw]] = False
        removed += int(draw.sum())
    return alive, eigenvalues, n_iter, stop_reason


def survivors_mean(X, alive_rows, chunk_size):
    """Mean of ``X[alive_rows]`` accumulated in float64, chunk by chunk (no row copy)."""
    count = alive_rows.size
    every_row = count == X.shape[0]
    if is_torch(X):
        import torch

        idx = torch.as_tensor(alive_rows, device=X.device)
        out = torch.empty(X.shape[1], dtype=torch.float64, device=X.device)
        for start in range(0, X.shape[1], chunk_size):
            block = X[:, start : start + chunk_size]
            block = (block if every_row else block[idx]).double()
            out[start : start + chunk_size] = block.sum(dim=0) / count
        return out
    out = np.empty(X.shape[1], dtype=np.float64)
    for start in range(0, X.shape[1], chunk_size):
        block = X[:, start : start + chunk_size]
        block = block if every_row else block[alive_rows]
        out[start : start + chunk_size] = block.sum(axis=0, dtype=np.float64) / count
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
):
    """RandEigen on ``X`` (numpy or torch). Returns a dict of results (numpy where small).

    ``location`` follows ``X``'s kind and device (float64); ``support`` is a bool mask over
    all rows; rows with NaN or inf are never in it.
    """
    n, d = X.shape
    max_abs = rows_max_abs(X, chunk_size)
    finite = np.isfinite(max_abs)
    rows = np.flatnonzero(finite)
    m = rows.size
    if m == 0:
        raise ValueError(
            f"All {n} rows of X contain NaN or inf; at least one finite row is needed."
        )
    if max_removed is None:
        max_removed = int(math.floor(2.0 * eps * m))
    # Never fewer than half of the finite rows (and at least one) survive.
    max_removed = int(max(0, min(max_removed, m - max(1, math.ceil(m / 2)))))
    k = jl_components(d) if n_components is None else int(min(n_components, d))
    if projection == "auto":
        projection = "gram" if (m <= k or d <= k) else "jl"
    if m == 1 or max_removed == 0:
        alive_rows, eigenvalues, n_iter, stop_reason = rows, [], 0, "max_removed"
    else:
        ref = _reference_row(X, rows)
        if projection == "gram" and d < m:
            rep, scales = centred_rows(X, rows, ref, max_abs, chunk_size)
            kind = "sketch"
        elif projection == "gram":
            rep, scales = centred_gram(X, rows, ref, max_abs, chunk_size)
            kind = "gram"
        else:
            rep, scales = jl_sketch(X, rows, ref, max_abs, k, chunk_size, rng)
            kind = "sketch"
        if np.any(scales != 1.0):
            rep = rep / scales[:, None] if kind == "sketch" else rep / np.outer(scales, scales)
        alive, eigenvalues, n_iter, stop_reason = spectral_filter(
            rep,
            kind,
            eps=eps,
            removal=removal,
            max_removed=max_removed,
            tol=tol,
            max_iter=max_iter,
            rng=rng,
        )
        alive_rows = rows[alive]
    support = np.zeros(n, dtype=bool)
    support[alive_rows] = True
    return {
        "location": survivors_mean(X, alive_rows, chunk_size),
        "support": support,
        "eigenvalues": np.asarray(eigenvalues, dtype=np.float64),
        "n_iter": n_iter,
        "stop_reason": stop_reason,
        "projection": projection,
        "n_components": k if projection == "jl" else None,
        "max_removed": max_removed,
    }
