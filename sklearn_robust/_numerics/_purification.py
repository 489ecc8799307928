"""CoPur purification: the paper's block-sparse (l2,1) objective, solved batched over rows.

For one row ``h`` with observed blocks ``Omega`` and an autoencoder ``D o E``:

1. initial point, over the latent code ``z`` (the output stays on the decoder's range)::

       z* = argmin_z  sum_{i in Omega} || [h - D(z)]_i ||_2

2. purification, over the feature vector ``l``, started from ``D(E(D(z*)))``::

       l^ = argmin_l  sum_{i in Omega} || [h - l]_i ||_2  +  tau * sum_i || [D(E(l)) - l]_i ||_2

3. output ``D(E(l^))``.

Optionally (``threshold``), stage 1 is followed by sequential trimming of the blocks judged
corrupted (see :func:`purify_batch`): a debiasing step in the spirit of the relaxed lasso.
The l2,1 fit ignores an outlying block only when the clean blocks can be fitted exactly;
with an imperfect autoencoder every block, corrupted or not, pulls on the solution with a
unit-norm gradient, so a corrupted block still drags it. Once a block is judged corrupted,
re-fitting without it removes that drag.

Everything here works on a batch of rows at once (torch tensors in, tensors out; no
validation): block norms are one matmul with the column-to-block one-hot matrix, block norms
are smoothed (``sqrt(s + eps^2) - eps``: no NaN gradient at a zero residual), and each row has
its own Adam state, its own step size (reduced when the row stops improving) and its own
convergence flag, so converged rows leave the active set and cost nothing. Each stage returns
the best iterate a row ever reached, not its last one.

Coordinates are normalised: the latent code by the per-dimension scale of the training codes,
the feature vector by the per-column scale of the training data, so ``lr`` is a fraction of a
typical value whatever the units of the embeddings.
"""

import math

import torch

# Adam constants (Kingma & Ba defaults).
_BETA1 = 0.9
_BETA2 = 0.999
_ADAM_EPS = 1e-8
# Step-size schedule: a row whose best objective improved by less than ``tol`` (relative)
# over the last ``_WINDOW`` iterations restarts from its best point, without momentum, with
# its step size multiplied by ``_DECAY``; it has converged once its step size fell below
# ``sqrt(tol) / 2`` times the initial one (Adam moves each coordinate by about the step
# size, so ``tol`` also sets the final precision).
_WINDOW = 5
_DECAY = 0.5


def smoothed_block_norms(residual, onehot, eps):
    """Per-block Euclidean norms of ``residual`` (n, d), smoothed at zero: shape (n, M).

    ``sqrt(||r_i||^2 + eps^2) - eps``: equal to the norm up to ``eps``, zero at zero, and
    with a gradient that is finite everywhere.
    """
    squared = (residual * residual) @ onehot
    return torch.sqrt(squared + eps * eps) - eps


def _minimize_rows(objective, x0, *, lr, max_iter, tol):
    """Minimise a per-row objective with per-row Adam, step-size decay and convergence.

    Parameters
    ----------
    objective : callable
        ``objective(x, rows) -> (n_active,)`` tensor; ``x`` holds the active rows' variables
        and ``rows`` their indices into the batch (to select their data).
    x0 : tensor of shape (n, p)
        Starting point (normalised coordinates).
    lr : float
        Initial step size of every row.
    max_iter : int
        Iteration cap.
    tol : float
        Relative improvement of a row's best objective over ``_WINDOW`` iterations below
        which its step size decays; rows converge after enough decays.

    Returns
    -------
    x_best : tensor of shape (n, p)
        Best iterate of each row.
    f_best : tensor of shape (n,)
        Objective at ``x_best``.
    n_iter : tensor of shape (n,), int
        Iterations each row ran.
    """
    n = x0.shape[0]
    device = x0.device
    x_best = x0.detach().clone()
    with torch.no_grad():
        f_best = objective(x_best, torch.arange(n, device=device)).detach()
    n_iter = torch.zeros(n, dtype=torch.long, device=device)
    # State of the active rows only: rows that converge are written back and dropped, so
    # an iteration costs nothing for them and no per-iteration gather/scatter is needed.
    rows = torch.arange(n, device=device)
    x = x_best.clone()
    m = torch.zeros_like(x)
    v = torch.zeros_like(x)
    step = torch.full((n,), float(lr), dtype=x.dtype, device=device)
    fb, xb = f_best.clone(), x_best.clone()
    f_check = fb.clone()
    min_step = lr * min(math.sqrt(tol) / 2, 0.5)
    it = 0
    for it in range(1, max_iter + 1):
        if rows.numel() == 0:
            break
        # The solver needs autograd even when its caller runs under torch.no_grad() (an
        # attack checking candidates, a user's evaluation loop).
        with torch.enable_grad():
            x.requires_grad_(True)
            f = objective(x, rows)
            (grad,) = torch.autograd.grad(f.sum(), x)
        with torch.no_grad():
            x = x.detach()
            f = f.detach()
            # Keep the point just evaluated if it is the row's best so far.
            better = f < fb
            fb = torch.where(better, f, fb)
            xb = torch.where(better.unsqueeze(1), x, xb)
            grad = torch.nan_to_num(grad, nan=0.0, posinf=0.0, neginf=0.0)
            m.mul_(_BETA1).add_(grad, alpha=1 - _BETA1)
            v.mul_(_BETA2).addcmul_(grad, grad, value=1 - _BETA2)
            # Every active row started at iteration 1: one bias correction for all.
            scale = (step / (1 - _BETA1**it)).unsqueeze(1)
            x = x - scale * m / (torch.sqrt(v / (1 - _BETA2**it)) + _ADAM_EPS)
            if it % _WINDOW == 0:
                stalled = (f_check - fb) <= tol * fb.abs().clamp_min(torch.finfo(x.dtype).tiny)
                step = torch.where(stalled, step * _DECAY, step)
                # A stalled row restarts from its best point without momentum: Adam's
                # momentum otherwise carries it on, away from the best point, at any step.
                restart = stalled.unsqueeze(1)
                x = torch.where(restart, xb, x)
                m = torch.where(restart, torch.zeros_like(m), m)
                f_check = fb
                done = step < min_step
                if bool(done.any()):
                    finished = rows[done]
                    x_best[finished] = xb[done]
                    f_best[finished] = fb[done]
                    n_iter[finished] = it
                    keep = ~done
                    rows, x, m, v, step, fb, xb, f_check = (
                        t[keep] for t in (rows, x, m, v, step, fb, xb, f_check)
                    )
    if rows.numel():
        # Rows stopped by the cap: their last iterate may be their best one.
        with torch.no_grad():
            f_last = objective(x, rows).detach()
            better = f_last < fb
            x_best[rows] = torch.where(better.unsqueeze(1), x, xb)
            f_best[rows] = torch.where(better, f_last, fb)
            n_iter[rows] = it
    return x_best, f_best, n_iter


def purify_batch(
    h,
    observed,
    onehot,
    encode,
    decode,
    *,
    z_center,
    z_scale,
    x_scale,
    tau,
    lr,
    max_iter,
    tol,
    eps,
    threshold=None,
    fill=None,
    consistency_threshold=None,
):
    """Run both CoPur stages on a batch of rows, with optional block trimming.

    Parameters
    ----------
    h : tensor of shape (n, d)
        Received features: finite (missing blocks already replaced by any finite value,
        corrupted values already clipped to a finite range).
    observed : tensor of shape (n, M), float 0/1
        1 where a block was received.
    onehot : tensor of shape (d, M)
        Column-to-block assignment.
    encode, decode : callable
        The autoencoder's halves, tensors in and out.
    z_center : tensor of shape (k,)
        A central latent code (the code of the training mean): the fallback start of stage 1.
    z_scale : tensor of shape (k,)
        Scale of each latent dimension (normalises the stage-1 variable).
    x_scale : tensor of shape (d,)
        Scale of each feature (normalises the stage-2 variable).
    tau : float
        Weight of the manifold term of stage 2.
    lr, max_iter, tol : float, int, float
        Optimiser settings of both stages (see :func:`_minimize_rows`).
    eps : float
        Smoothing of the block norms.
    threshold : tensor of shape (M,) or None, default=None
        Block residual above which a block is judged corrupted. When given, stage 1 is
        followed by *sequential trimming*: while a row's worst kept block (largest residual
        relative to ``threshold``) exceeds its threshold and fewer than half of the row's
        observed blocks would be dropped, that block leaves the data term and stage 1 is
        re-solved for the row, warm-started. Stage 2 then uses the kept blocks only. None
        solves the paper's objective over every observed block.
    fill : tensor of shape (d,) or None, default=None
        Values standing in for a trimmed block (the training mean) when stage 1 restarts
        from the code of the row with its trimmed blocks filled; needed with ``threshold``.
    consistency_threshold : tensor of shape (M,) or None, default=None
        When given, after trimming, every kept block is compared with its reconstruction
        from the *other* kept blocks (stage 1 re-solved without it): the leave-one-out
        residual ``||h_i - D(z_{-i})_i||``, which the block itself cannot influence. While
        a row's largest leave-one-out residual exceeds its threshold and the row may still
        drop a block (fewer than half of its observed blocks dropped, trimming included),
        that block leaves the data term and the residuals are recomputed.

    Returns
    -------
    l_hat : tensor of shape (n, d)
        Stage-2 solution.
    output : tensor of shape (n, d)
        ``D(E(l_hat))``.
    n_iter : tensor of shape (n, 2)
        Iterations of each stage (stage 1 counts its re-solves).
    kept : tensor of shape (n, M), float 0/1
        Observed blocks left in the data term (``observed`` without trimming).
    loo : tensor of shape (n, M)
        Leave-one-out residual of each observed block: for a kept block, against the fit of
        the row's other kept blocks; for a block left out of the data term, against the fit
        of the kept blocks. NaN without ``consistency_threshold``, for missing blocks, and
        for the block of a row that keeps a single block.
    """
    n = h.shape[0]
    device = h.device
    kept = observed.clone()

    def fit_on(u, rows, mask):
        """Sum of the smoothed residual norms of the blocks in ``mask`` (rows' own masks)."""
        residual = h.index_select(0, rows) - decode(u * z_scale)
        return (smoothed_block_norms(residual, onehot, eps) * mask).sum(dim=1)

    def data_fit(u, rows):
        return fit_on(u, rows, kept.index_select(0, rows))

    def best_start(candidates, rows, mask):
        """Per row, the candidate code with the smallest data fit on the blocks in ``mask``."""
        with torch.no_grad():
            fits = torch.stack([fit_on(u, rows, mask) for u in candidates])
            pick = fits.argmin(dim=0)
            stacked = torch.stack(candidates)
            return stacked[pick, torch.arange(rows.numel(), device=device)]

    # Start stage 1 from whichever fits the observed blocks better: the code of the received
    # row (right when it is clean) or the centre code ``z_center`` (right when corruption has
    # thrown the row's own code far away).
    rows = torch.arange(n, device=device)
    with torch.no_grad():
        u_own = encode(h) / z_scale
    u0 = best_start([u_own, (z_center / z_scale).expand_as(u_own)], rows, kept)

    u_star, _, iter1 = _minimize_rows(data_fit, u0, lr=lr, max_iter=max_iter, tol=tol)

    budget = torch.div(observed.sum(dim=1) - 1, 2, rounding_mode="floor")
    n_dropped = torch.zeros(n, dtype=budget.dtype, device=device)
    if threshold is not None:
        u_star, iter1 = _trim_blocks(
            h, observed, kept, onehot, encode, decode, fit_on, best_start, u_star, iter1,
            n_dropped, budget,
            z_scale=z_scale, threshold=threshold, fill=fill, lr=lr, max_iter=max_iter, tol=tol,
        )
    loo = torch.full(kept.shape, float("nan"), dtype=h.dtype, device=device)
    if consistency_threshold is not None:
        u_star, loo = _consistency_trim(
            h, kept, onehot, decode, fit_on, u_star, iter1, n_dropped, budget,
            z_scale=z_scale, threshold=consistency_threshold, lr=lr, max_iter=max_iter, tol=tol,
        )
        # A block left out of the data term (trimmed, or dropped as inconsistent) is compared
        # with the fit of the kept blocks, which it did not influence: its leave-one-out
        # residual.
        with torch.no_grad():
            residual = h - decode(u_star * z_scale)
            left_out = torch.sqrt((residual * residual) @ onehot)
        loo = torch.where((observed > 0) & (kept == 0), left_out, loo)

    with torch.no_grad():
        w0 = decode(encode(decode(u_star * z_scale))) / x_scale

    def purification(w, rows):
        feats = w * x_scale
        data = smoothed_block_norms(h.index_select(0, rows) - feats, onehot, eps)
        manifold = smoothed_block_norms(decode(encode(feats)) - feats, onehot, eps)
        return (data * kept.index_select(0, rows)).sum(dim=1) + tau * manifold.sum(dim=1)

    w_hat, _, iter2 = _minimize_rows(purification, w0, lr=lr, max_iter=max_iter, tol=tol)
    with torch.no_grad():
        l_hat = w_hat * x_scale
        output = decode(encode(l_hat))
    return l_hat, output, torch.stack([iter1, iter2], dim=1), kept, loo


# Blocks tried per trimming round: the two worst. The worst block alone is not always the
# corrupted one: the l2,1 fit is dragged towards a corrupted block, which can push a clean
# block's residual above the corrupted block's (relative to their thresholds).
_TRIM_CANDIDATES = 4


def _trim_blocks(
    h, observed, kept, onehot, encode, decode, fit_on, best_start, u_star, iter1, n_dropped,
    budget, *, z_scale, threshold, fill, lr, max_iter, tol,
):
    """Sequential trimming after stage 1 (see :func:`purify_batch`); updates ``kept``.

    Each round, every row whose worst kept block is above its threshold (and that may still
    drop a block: fewer than half of its observed blocks dropped) re-solves stage 1 without
    each of its (up to) two worst blocks above threshold, and keeps the re-solve whose kept
    blocks fit best relative to their thresholds. Updates ``n_dropped`` in place. Returns
    the new codes and iteration counts.
    """
    n, n_blocks = kept.shape
    device = h.device

    def ratios(u, rows, mask):
        with torch.no_grad():
            residual = h.index_select(0, rows) - decode(u * z_scale)
            ratio = torch.sqrt((residual * residual) @ onehot) / threshold
            return torch.where(mask > 0, ratio, torch.zeros_like(ratio))

    all_rows = torch.arange(n, device=device)
    for _ in range(n_blocks):
        ratio = ratios(u_star, all_rows, kept)
        top, order = ratio.topk(min(_TRIM_CANDIDATES, n_blocks), dim=1)
        trim = (top[:, 0] > 1) & (n_dropped < budget)
        if not bool(trim.any()):
            break
        sub = torch.nonzero(trim).squeeze(1)
        local = torch.arange(sub.numel(), device=device)
        best_score = torch.full((sub.numel(),), float("inf"), dtype=h.dtype, device=device)
        best_u = u_star.index_select(0, sub).clone()
        best_block = order[sub, 0].clone()
        for j in range(top.shape[1]):
            candidate = order[sub, j]
            valid = top[sub, j] > 1
            if not bool(valid.any()):
                break
            mask = kept.index_select(0, sub).clone()
            mask[local, candidate] = 0
            # Restart from the better of the current code (dragged by the dropped block)
            # and the code of the row with its dropped blocks filled.
            with torch.no_grad():
                dropped = (observed.index_select(0, sub) - mask) @ onehot.T > 0
                u_fill = encode(torch.where(dropped, fill, h.index_select(0, sub))) / z_scale
            start = best_start([u_star.index_select(0, sub), u_fill], sub, mask)
            u_c, _, it = _minimize_rows(
                lambda u, r, sub=sub, mask=mask: fit_on(u, sub.index_select(0, r), mask[r]),
                start,
                lr=lr,
                max_iter=max_iter,
                tol=tol,
            )
            iter1[sub] += torch.where(valid, it, torch.zeros_like(it))
            score = ratios(u_c, sub, mask).sum(dim=1)
            take = valid & (score < best_score)
            best_score = torch.where(take, score, best_score)
            best_u = torch.where(take.unsqueeze(1), u_c, best_u)
            best_block = torch.where(take, candidate, best_block)
        kept[sub, best_block] = 0
        n_dropped[sub] += 1
        u_star[sub] = best_u
    return u_star, iter1


def leave_one_out_residuals(h, kept, onehot, decode, fit_on, u_star, *, z_scale, lr, max_iter,
                            tol, rows=None):
    """``||h_i - D(z_{-i})_i||`` for every kept block ``i`` of the rows ``rows``.

    ``z_{-i}`` is stage 1 re-solved on the row's other kept blocks, warm-started at the
    row's code ``u_star``; all the (row, block) problems are solved in one batch. Blocks
    not kept, and rows keeping a single block, get NaN. Returns ``(residuals, n_iter)``
    for the selected rows, shape ``(n_rows, M)`` and ``(n_rows,)``.
    """
    device = h.device
    if rows is None:
        rows = torch.arange(kept.shape[0], device=device)
    sub_kept = kept.index_select(0, rows)
    out = torch.full(sub_kept.shape, float("nan"), dtype=h.dtype, device=device)
    n_iter = torch.zeros(rows.numel(), dtype=torch.long, device=device)
    eligible = (sub_kept > 0) & (sub_kept.sum(dim=1, keepdim=True) >= 2)
    local, block = torch.nonzero(eligible, as_tuple=True)
    if local.numel() == 0:
        return out, n_iter
    problem_rows = rows.index_select(0, local)
    masks = sub_kept.index_select(0, local).clone()
    masks[torch.arange(local.numel(), device=device), block] = 0
    u_c, _, it = _minimize_rows(
        lambda u, r: fit_on(u, problem_rows.index_select(0, r), masks[r]),
        u_star.index_select(0, problem_rows),
        lr=lr,
        max_iter=max_iter,
        tol=tol,
    )
    with torch.no_grad():
        residual = h.index_select(0, problem_rows) - decode(u_c * z_scale)
        norms = torch.sqrt((residual * residual) @ onehot)
        out[local, block] = norms[torch.arange(local.numel(), device=device), block]
    n_iter.index_add_(0, local, it)
    return out, n_iter


def _consistency_trim(
    h, kept, onehot, decode, fit_on, u_star, iter1, n_dropped, budget, *, z_scale, threshold,
    lr, max_iter, tol,
):
    """Drop, one at a time, the kept block least consistent with the others (see
    :func:`purify_batch`); updates ``kept``, ``iter1`` and ``n_dropped`` in place.

    Returns the new codes and the final leave-one-out residuals ``(n, M)``.
    """
    n_blocks = kept.shape[1]
    settings = {"z_scale": z_scale, "lr": lr, "max_iter": max_iter, "tol": tol}
    loo, it = leave_one_out_residuals(h, kept, onehot, decode, fit_on, u_star, **settings)
    iter1 += it
    for _ in range(n_blocks):
        ratio = torch.nan_to_num(loo / threshold, nan=0.0)
        worst_ratio, worst = ratio.max(dim=1)
        drop = (worst_ratio > 1) & (n_dropped < budget)
        if not bool(drop.any()):
            break
        sub = torch.nonzero(drop).squeeze(1)
        kept[sub, worst[sub]] = 0
        n_dropped[sub] += 1
        mask = kept.index_select(0, sub)
        u_new, _, it = _minimize_rows(
            lambda u, r, sub=sub, mask=mask: fit_on(u, sub.index_select(0, r), mask[r]),
            u_star.index_select(0, sub),
            lr=lr,
            max_iter=max_iter,
            tol=tol,
        )
        iter1[sub] += it
        u_star[sub] = u_new
        loo_sub, it = leave_one_out_residuals(
            h, kept, onehot, decode, fit_on, u_star, rows=sub, **settings
        )
        iter1[sub] += it
        loo[sub] = loo_sub
    return u_star, loo
