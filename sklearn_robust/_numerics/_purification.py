"""CoPur purification: the paper's block-sparse (l2,1) objective, solved batched over rows.

For one row ``h`` with observed blocks ``Omega`` and an autoencoder ``D o E``:

1. initial point, over the latent code ``z`` (the output stays on the decoder's range)::

       z* = argmin_z  sum_{i in Omega} || [h - D(z)]_i ||_2

2. purification, over the feature vector ``l``, started from ``D(E(D(z*)))``::

       l^ = argmin_l  sum_{i in Omega} || [h - l]_i ||_2  +  tau * sum_i || [D(E(l)) - l]_i ||_2

3. output ``D(E(l^))``.

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

import torch

# Adam constants (Kingma & Ba defaults).
_BETA1 = 0.9
_BETA2 = 0.999
_ADAM_EPS = 1e-8
# Step-size schedule: a row whose best objective improved by less than ``tol`` (relative)
# over the last ``_WINDOW`` iterations has its step size multiplied by ``_DECAY``; it has
# converged once its step size fell below ``_MIN_LR_RATIO`` times the initial one.
_WINDOW = 10
_DECAY = 0.5
_MIN_LR_RATIO = 1e-3


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
    x = x0.detach().clone()
    x_best = x.clone()
    with torch.no_grad():
        f_best = objective(x, torch.arange(n, device=device)).detach()
    f_check = f_best.clone()
    m = torch.zeros_like(x)
    v = torch.zeros_like(x)
    step_size = torch.full((n,), float(lr), dtype=x.dtype, device=device)
    steps = torch.zeros(n, dtype=torch.long, device=device)
    n_iter = torch.zeros(n, dtype=torch.long, device=device)
    active = torch.arange(n, device=device)
    min_step = lr * _MIN_LR_RATIO
    for it in range(1, max_iter + 1):
        if active.numel() == 0:
            break
        xa = x.index_select(0, active).requires_grad_(True)
        fa = objective(xa, active)
        (grad,) = torch.autograd.grad(fa.sum(), xa)
        fa = fa.detach()
        with torch.no_grad():
            # Record the point just evaluated if it is the row's best so far.
            better = fa < f_best.index_select(0, active)
            if better.any():
                rows = active[better]
                f_best[rows] = fa[better]
                x_best[rows] = xa.detach()[better]
            grad = torch.nan_to_num(grad, nan=0.0, posinf=0.0, neginf=0.0)
            steps[active] += 1
            t = steps.index_select(0, active).to(x.dtype).unsqueeze(1)
            ma = _BETA1 * m.index_select(0, active) + (1 - _BETA1) * grad
            va = _BETA2 * v.index_select(0, active) + (1 - _BETA2) * grad * grad
            m[active] = ma
            v[active] = va
            m_hat = ma / (1 - _BETA1**t)
            v_hat = va / (1 - _BETA2**t)
            update = step_size.index_select(0, active).unsqueeze(1) * m_hat
            x[active] = xa.detach() - update / (torch.sqrt(v_hat) + _ADAM_EPS)
            n_iter[active] = it
            if it % _WINDOW == 0:
                fb = f_best.index_select(0, active)
                fc = f_check.index_select(0, active)
                stalled = (fc - fb) <= tol * fb.abs().clamp_min(torch.finfo(x.dtype).tiny)
                step_size[active[stalled]] *= _DECAY
                f_check[active] = fb
                done = step_size.index_select(0, active) < min_step
                active = active[~done]
    # Evaluate the last iterate too: it may be the best one.
    with torch.no_grad():
        f_last = objective(x, torch.arange(n, device=device)).detach()
        better = f_last < f_best
        f_best = torch.where(better, f_last, f_best)
        x_best[better] = x[better]
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
):
    """Run both CoPur stages on a batch of rows.

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

    Returns
    -------
    l_hat : tensor of shape (n, d)
        Stage-2 solution.
    output : tensor of shape (n, d)
        ``D(E(l_hat))``.
    n_iter : tensor of shape (n, 2)
        Iterations of each stage.
    """
    def data_fit(u, rows):
        residual = h.index_select(0, rows) - decode(u * z_scale)
        norms = smoothed_block_norms(residual, onehot, eps)
        return (norms * observed.index_select(0, rows)).sum(dim=1)

    with torch.no_grad():
        # Start stage 1 from whichever fits the observed blocks better: the code of the
        # received row (right when it is clean) or the centre code ``z_center`` (right when
        # corruption has thrown the row's own code far away).
        rows = torch.arange(h.shape[0], device=h.device)
        u_own = encode(h) / z_scale
        u_center = (z_center / z_scale).expand_as(u_own)
        own_better = data_fit(u_own, rows) <= data_fit(u_center, rows)
        u0 = torch.where(own_better.unsqueeze(1), u_own, u_center)

    u_star, _, iter1 = _minimize_rows(data_fit, u0, lr=lr, max_iter=max_iter, tol=tol)
    with torch.no_grad():
        w0 = decode(encode(decode(u_star * z_scale))) / x_scale

    def purification(w, rows):
        feats = w * x_scale
        data = smoothed_block_norms(h.index_select(0, rows) - feats, onehot, eps)
        manifold = smoothed_block_norms(decode(encode(feats)) - feats, onehot, eps)
        return (data * observed.index_select(0, rows)).sum(dim=1) + tau * manifold.sum(dim=1)

    w_hat, _, iter2 = _minimize_rows(purification, w0, lr=lr, max_iter=max_iter, tol=tol)
    with torch.no_grad():
        l_hat = w_hat * x_scale
        output = decode(encode(l_hat))
    return l_hat, output, torch.stack([iter1, iter2], dim=1)
