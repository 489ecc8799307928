"""Gradient attacks on feature blocks: (projected) gradient ascent, batched over rows.

Tensors in, tensors out, an explicit ``torch.Generator``, no validation.
"""

import torch
from torch.nn import functional as F


def _row_norms(delta):
    """Euclidean norm of each row (over the attacked columns)."""
    return torch.linalg.vector_norm(delta, ord=2, dim=1, keepdim=True)


def _project(delta, norm, epsilon):
    """Project each row of ``delta`` onto the ``norm`` ball of radius ``epsilon``.

    ``norm=None`` is the unbounded attack: nothing to project.
    """
    if norm is None:
        return delta
    if norm == "inf":
        return torch.clamp(delta, -epsilon, epsilon)
    norms = _row_norms(delta)
    # min(1, eps / ||delta||), written so that a zero row stays zero (no 0/0).
    factor = epsilon / torch.clamp(norms, min=epsilon) if epsilon > 0 else torch.zeros_like(norms)
    return delta * factor


def _ascent_direction(grad, norm):
    """The step direction: raw gradient, unit-l2 gradient per row, or its sign."""
    if norm is None:
        return grad
    if norm == "inf":
        return torch.sign(grad)
    norms = _row_norms(grad)
    return torch.where(norms > 0, grad / torch.where(norms > 0, norms, 1.0), 0.0)


def _random_start(free, norm, epsilon, step_size, generator):
    """A random initial perturbation on the free entries.

    Uniform in the ``inf`` ball; uniform in the ``l2`` ball of each row's free entries
    (Gaussian direction, radius ``epsilon * U**(1/k)``); uniform in
    ``[-step_size, step_size]`` per entry for the unbounded attack.
    """
    n, k = free.shape
    if norm == "l2":
        direction = torch.randn((n, k), generator=generator, dtype=torch.float64)
        direction = direction * free.cpu()
        dims = free.sum(dim=1, keepdim=True).cpu().clamp(min=1).double()
        radius = epsilon * torch.rand((n, 1), generator=generator, dtype=torch.float64) ** (
            1.0 / dims
        )
        start = _ascent_direction(direction, "l2") * radius
    else:
        half_width = epsilon if norm == "inf" else step_size
        start = (2.0 * torch.rand((n, k), generator=generator, dtype=torch.float64) - 1.0) * (
            half_width
        )
    return start.to(device=free.device) * free


def pgd_perturbation(
    forward,
    X,
    columns,
    free,
    labels,
    *,
    targeted,
    step_size,
    max_iter,
    norm,
    epsilon,
    random_start,
    generator,
):
    """Perturbation of the attacked columns that a (projected) gradient attack finds.

    Every row is attacked at once: the loss is the *sum* of the rows' cross-entropies, so
    the gradient of each row is the gradient of its own loss (the model treats rows
    independently) and the step size does not depend on the number of rows.

    Parameters
    ----------
    forward : callable
        Maps an ``(n, d)`` tensor to ``(n, n_classes)`` logits, differentiably.
    X : torch.Tensor of shape (n, d)
        Input rows in the compute dtype (float32), on the compute device. May hold NaN
        (missing blocks) and inf.
    columns : torch.Tensor of shape (k,), dtype long
        Attacked columns.
    free : torch.Tensor of shape (n, k), dtype bool
        Entries of ``X[:, columns]`` the attack may change (observed and finite); the others
        keep a zero perturbation. Rows whose logits at the first iterate (the clean point,
        or the random start) are not all finite (a model that cannot read a NaN or inf of
        the row) are not changed at all.
    labels : torch.Tensor of shape (n,), dtype long
        Class index per row: the labels to move away from (untargeted) or the target.
    targeted : bool
        Minimise the cross-entropy of ``labels`` instead of maximising it.
    step_size : float
        Step length: multiplies the raw gradient (``norm=None``), its per-row unit-l2
        version (``'l2'``) or its sign (``'inf'``).
    max_iter : int
        Number of gradient steps.
    norm : {None, 'l2', 'inf'}
        Budget norm, measured per row on the attacked columns; None for no budget.
    epsilon : float or None
        Budget radius (unused when ``norm`` is None).
    random_start : bool
        Start from a random point of the budget ball (see :func:`_random_start`).
    generator : torch.Generator
        CPU generator of the random start.

    Returns
    -------
    delta : torch.Tensor of shape (n, k), dtype float64
        The perturbation of ``X[:, columns]``, zero outside ``free``, projected once more in
        float64 so that the budget holds to float64 rounding.
    """
    base = X[:, columns]
    delta = torch.zeros_like(base)
    if not bool(free.any()):
        return delta.double()
    if random_start:
        start = _random_start(free, norm, epsilon, step_size, generator)
        delta = _project(start, norm, epsilon).to(base.dtype)
    sign = -1.0 if targeted else 1.0
    evaluable = None
    for _ in range(max_iter):
        delta = delta.detach().requires_grad_(True)
        X_adv = X.index_copy(1, columns, base + delta)
        logits = forward(X_adv)
        if evaluable is None:
            # Rows the model cannot evaluate (non-finite logits at the first iterate) are
            # left alone, whatever their other entries: their random start is undone, they
            # are never stepped, and they stay out of the loss, so that their NaN never
            # reaches the other rows' gradients. (No extra forward pass: the model may be a
            # costly purifier that needs autograd itself.)
            evaluable = torch.isfinite(logits.detach()).all(dim=1)
            free = free & evaluable[:, None]
        loss = F.cross_entropy(logits[evaluable].to(base.dtype), labels[evaluable], reduction="sum")
        (grad,) = torch.autograd.grad(loss, delta)
        with torch.no_grad():
            # Entries outside ``free`` and NaN/inf gradients (a row the model stops being
            # able to evaluate along the way) are left alone.
            grad = torch.where(free & torch.isfinite(grad), grad, 0.0)
            delta = torch.where(free, delta, 0.0)
            delta = _project(
                delta + sign * step_size * _ascent_direction(grad, norm), norm, epsilon
            )
    return _project(delta.detach().double(), norm, epsilon)
