"""Gradient attacks on feature blocks, batched over rows.

Two kernels share the same plumbing (masked attacked entries, rows the model cannot evaluate
left alone, per-row best iterate, random restarts, a box the attacked entries must stay in):

* :func:`pgd_perturbation` -- (projected) gradient ascent with a fixed step: the CoPur
  paper's unprojected attack (raw gradient) and Madry et al.'s PGD (l2 or sign steps,
  projection onto a ball around the clean row).
* :func:`adaptive_perturbation` -- the adaptive attack of the evaluation suite: steps along
  the per-row unit-l2 gradient of a margin or cross-entropy loss, a step size per row that
  is halved (and the row sent back to its best point) when the row stops improving, l2 balls
  per attacked block, and an optional acceptance test (e.g. "the defense does not flag the
  block") that every iterate must pass, enforced by backtracking.

Tensors in, tensors out, an explicit ``torch.Generator``, no validation. The step and the
projection are computed in float64 whatever the model's dtype, written so that no step size
(``1e308`` included) and no budget can produce a NaN: a perturbation that leaves the float64
range is clamped to it, and its cast to a narrower dtype gives ``+-inf``, which the defenses
read as a corrupted block.
"""

import torch
from torch.nn import functional as F

_BIG = torch.finfo(torch.float64).max


def _row_norms(delta):
    """Euclidean norm of each row (over the attacked columns), without overflow."""
    scale = delta.abs().amax(dim=1, keepdim=True)
    safe = torch.where(scale > 0, scale, torch.ones_like(scale))
    return torch.linalg.vector_norm(delta / safe, ord=2, dim=1, keepdim=True) * scale


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


def _unit_l2(grad):
    """Per-row unit-l2 direction of ``grad`` (zero rows stay zero)."""
    norms = _row_norms(grad)
    return torch.where(norms > 0, grad / torch.where(norms > 0, norms, 1.0), 0.0)


def _ascent_direction(grad, norm):
    """The step direction: raw gradient, unit-l2 gradient per row, or its sign."""
    if norm is None:
        return grad
    if norm == "inf":
        return torch.sign(grad)
    return _unit_l2(grad)


def _step(delta, direction, step_size, norm, epsilon):
    """``project(delta + step_size * direction)`` in float64, overflow-safe.

    For the l2 ball, a step longer than the radius is computed as
    ``v * min(step_size, eps / ||v||)`` with ``v = delta / step_size + direction``, the same
    point without ever forming ``step_size * direction`` (which overflows for huge steps);
    as the step grows the point tends to ``eps * direction``, the limit of the plain formula.
    """
    if norm == "l2" and step_size > epsilon:
        v = delta / step_size + direction
        norms = _row_norms(v)
        length = torch.where(
            norms > 0, torch.clamp(epsilon / torch.where(norms > 0, norms, 1.0), max=step_size), 0.0
        )
        return v * length
    moved = delta + step_size * direction
    moved = torch.clamp(torch.nan_to_num(moved, nan=0.0), -_BIG, _BIG)
    return _project(moved, norm, epsilon)


def _random_start(free, norm, epsilon, step_size, generator):
    """A random initial perturbation on the free entries (float64, CPU generator).

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
        start = _unit_l2(direction) * radius
    else:
        half_width = min(epsilon if norm == "inf" else step_size, _BIG)
        start = (2.0 * torch.rand((n, k), generator=generator, dtype=torch.float64) - 1.0) * (
            half_width
        )
    return start.to(device=free.device) * free


def margins(logits, labels, targeted):
    """Per-row margin of an attack's success; positive once the attack has succeeded.

    Untargeted: the best other class's logit minus the logit of ``labels``; targeted: the
    target's logit minus the best other class's. NaN logits give ``-inf`` (no success).
    """
    n = logits.shape[0]
    rows = torch.arange(n, device=logits.device)
    own = logits[rows, labels]
    others = logits.clone()
    others[rows, labels] = -torch.inf
    best_other = others.max(dim=1).values
    out = own - best_other if targeted else best_other - own
    return torch.nan_to_num(out, nan=-torch.inf)


def _loss(logits, labels, targeted, kind):
    """The scalar the attack ascends (a sum over rows, so each row follows its own loss)."""
    if kind == "margin":
        m = margins(logits, labels, targeted)
        return torch.where(torch.isfinite(m), m, 0.0).sum()
    ce = F.cross_entropy(logits, labels, reduction="sum")
    return -ce if targeted else ce


class _Best:
    """Per-row best perturbation seen so far, by margin (ties keep the earlier one)."""

    def __init__(self, delta):
        self.delta = delta.clone()
        self.margin = torch.full(
            (delta.shape[0],), -torch.inf, dtype=torch.float64, device=delta.device
        )

    def update(self, delta, margin):
        better = margin > self.margin
        self.margin = torch.where(better, margin, self.margin)
        self.delta = torch.where(better[:, None], delta, self.delta)
        return better


def _box(delta, base, low, high):
    """Clamp ``base + delta`` into ``[low, high]`` (per attacked column), as a perturbation."""
    if low is None and high is None:
        return delta
    point = base + delta
    if low is not None:
        point = torch.maximum(point, low)
    if high is not None:
        point = torch.minimum(point, high)
    return torch.where(torch.isfinite(point - base), point - base, delta)


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
    n_restarts=1,
    low=None,
    high=None,
    keep_best=True,
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
        Input rows on the compute device, in float64 so that the returned perturbation is
        exact relative to them (the model casts to its own dtype inside). May hold NaN
        (missing blocks) and inf.
    columns : torch.Tensor of shape (k,), dtype long
        Attacked columns.
    free : torch.Tensor of shape (n, k), dtype bool
        Entries of ``X[:, columns]`` the attack may change (observed and finite); the others
        keep a zero perturbation. Rows whose logits at the first iterate of the first run
        (the clean point, or the random start) are not all finite (a model that cannot read
        a NaN or inf of the row) are not changed at all.
    labels : torch.Tensor of shape (n,), dtype long
        Class index per row: the labels to move away from (untargeted) or the target.
    targeted : bool
        Minimise the cross-entropy of ``labels`` instead of maximising it.
    step_size : float
        Step length: multiplies the raw gradient (``norm=None``), its per-row unit-l2
        version (``'l2'``) or its sign (``'inf'``).
    max_iter : int
        Number of gradient steps of each run.
    norm : {None, 'l2', 'inf'}
        Budget norm, measured per row on the attacked columns; None for no budget.
    epsilon : float or None
        Budget radius (unused when ``norm`` is None).
    random_start : bool
        Start the first run from a random point of the budget ball (see
        :func:`_random_start`); later runs always start at random.
    generator : torch.Generator
        CPU generator of the random starts.
    n_restarts : int, default=1
        Number of runs (the first from the clean point unless ``random_start``).
    low, high : torch.Tensor of shape (k,) or None, default=None
        Box the attacked entries are clamped into after every step (the data domain).
    keep_best : bool, default=True
        Return, per row, the iterate of largest margin over every run and step (the clean
        point included, so an attack never returns a row it made more confidently right);
        False returns the last iterate of the last run (the textbook PGD).

    Returns
    -------
    delta : torch.Tensor of shape (n, k), dtype float64
        The perturbation of ``X[:, columns]``, zero outside ``free``, within the budget to
        float64 rounding and within the box.
    """
    base = X[:, columns].double()
    zero = torch.zeros_like(base)
    if not bool(free.any()):
        return zero
    low = None if low is None else low.double()
    high = None if high is None else high.double()
    sign = -1.0 if targeted else 1.0
    best = _Best(zero)
    evaluable = None
    delta = zero
    for run in range(n_restarts):
        delta = zero
        if random_start or run > 0:
            start = _random_start(free, norm, epsilon, step_size, generator)
            delta = _box(_project(start, norm, epsilon), base, low, high)
            if evaluable is not None:
                delta = torch.where(free, delta, 0.0)
        for it in range(max_iter + 1):
            if it == max_iter and not keep_best:
                break  # the last iterate is returned as it is: no pass to score it
            delta = delta.detach().requires_grad_(True)
            X_adv = X.index_copy(1, columns, (base + delta).to(X.dtype))
            logits = forward(X_adv)
            if evaluable is None:
                # Rows the model cannot evaluate (non-finite logits at the first iterate) are
                # left alone, whatever their other entries: their random start is undone,
                # they are never stepped, and they stay out of the loss, so that their NaN
                # never reaches the other rows' gradients.
                evaluable = torch.isfinite(logits.detach()).all(dim=1)
                free = free & evaluable[:, None]
            with torch.no_grad():
                margin = margins(logits.detach().double(), labels, targeted)
                margin = torch.where(evaluable, margin, -torch.inf)
                best.update(torch.where(free, delta.detach(), 0.0), margin)
            if it == max_iter:
                break
            loss = F.cross_entropy(
                logits[evaluable].double(), labels[evaluable], reduction="sum"
            )
            (grad,) = torch.autograd.grad(loss, delta)
            with torch.no_grad():
                # Entries outside ``free`` and NaN/inf gradients (a row the model stops
                # being able to evaluate along the way) are left alone.
                grad = torch.where(free & torch.isfinite(grad), grad, 0.0)
                delta = torch.where(free, delta.detach(), 0.0)
                delta = _step(delta, sign * _ascent_direction(grad, norm), step_size, norm, epsilon)
                delta = _box(delta, base, low, high)
        delta = torch.where(free, delta.detach(), 0.0)
    out = best.delta if keep_best else delta
    return _project(torch.where(free, out, 0.0), norm, epsilon)


def _project_groups(delta, onehot, radius):
    """Project each (row, attacked block) part of ``delta`` onto its l2 ball ``radius``.

    ``onehot`` (k, g) maps attacked columns to attacked blocks, ``radius`` (n, g) or (g,);
    ``radius=None`` is no ball.
    """
    if radius is None:
        return delta
    scale = delta.abs().amax(dim=1, keepdim=True)
    safe = torch.where(scale > 0, scale, torch.ones_like(scale))
    norms = torch.sqrt(((delta / safe) ** 2) @ onehot) * safe
    factor = torch.where(norms > radius, radius / torch.where(norms > 0, norms, 1.0), 1.0)
    return delta * (factor @ onehot.T)


def adaptive_perturbation(
    forward,
    X,
    columns,
    free,
    labels,
    *,
    targeted,
    loss,
    step_size,
    max_iter,
    n_restarts,
    onehot,
    scale,
    radius,
    low,
    high,
    accept,
    generator,
    window=8,
    n_backtrack=4,
):
    """Perturbation found by the adaptive gradient attack (normalised steps, restarts, best).

    Each row moves along the unit-l2 direction of its own loss gradient (``loss``: the
    margin, or the cross-entropy), with a step of ``step_size`` times ``scale`` (the typical
    norm of the attacked blocks) to begin with. Every ``window`` steps, a row whose best
    margin has not improved goes back to its best point and halves its step. The point
    stays in the l2 ball of ``radius`` around the clean block (per attacked block), in the
    box ``[low, high]``, and passes ``accept``: a candidate that fails is pulled halfway
    back towards the previous iterate up to ``n_backtrack`` times, then rejected (the row
    stays where it was and its step is halved).

    Parameters
    ----------
    forward : callable
        ``(n, d)`` tensor to ``(n, n_classes)`` logits, differentiably (through the true
        defense, with straight-through gradients where a step is not differentiable).
    X, columns, free, labels, targeted
        As :func:`pgd_perturbation`.
    loss : {"margin", "ce"}
        What each row ascends.
    step_size : float
        Initial step, as a fraction of ``scale``.
    max_iter : int
        Steps per run.
    n_restarts : int
        Runs: the first from the clean point, the others from a random point (Gaussian
        direction, radius uniform in ``[0, radius]``, or ``[0, scale]`` without a ball).
    onehot : torch.Tensor of shape (k, g)
        Attacked columns to attacked blocks.
    scale : float
        Typical l2 norm of an attacked block: the unit of the steps.
    radius : torch.Tensor of shape (g,) or None
        l2 radius per attacked block around the clean block; None for no ball.
    low, high : torch.Tensor of shape (k,) or None
        Box of the attacked entries.
    accept : callable or None
        ``accept(delta, rows) -> bool tensor (n,)``: True where the candidate perturbation
        of a row is acceptable (e.g. not flagged by the defense); ``rows`` (a bool tensor,
        or None for all) says which rows need an answer, the others may get True. None
        accepts everything.
    generator : torch.Generator
        CPU generator of the random starts.
    window, n_backtrack : int
        Step-size schedule and backtracking settings.

    Returns
    -------
    delta : torch.Tensor of shape (n, k), dtype float64
        The best accepted perturbation of each row (zero when nothing beat the clean row).
    """
    base = X[:, columns].double()
    zero = torch.zeros_like(base)
    if not bool(free.any()):
        return zero
    low = None if low is None else low.double()
    high = None if high is None else high.double()
    onehot = onehot.double()
    n = base.shape[0]
    device = base.device
    best = _Best(zero)
    # Rows the model cannot evaluate at the clean point are left alone (see
    # pgd_perturbation); rows without a free entry are not attacked at all.
    evaluable = free.any(dim=1)

    def constrain(delta, rows):
        delta = torch.where(free[rows], delta, 0.0)
        if radius is not None:
            delta = _project_groups(delta, onehot, radius)
        delta = _box(delta, base[rows], None if low is None else low,
                     None if high is None else high)
        return torch.where(free[rows], delta, 0.0)

    def evaluate(delta, rows, with_grad):
        """Margins (and loss gradients) of the rows ``rows`` at perturbation ``delta``."""
        delta = delta.detach().requires_grad_(with_grad)
        with torch.set_grad_enabled(with_grad):
            X_adv = X[rows].index_copy(1, columns, (base[rows] + delta).to(X.dtype))
            logits = forward(X_adv)
        margin = margins(logits.detach().double(), labels[rows], targeted)
        if not with_grad:
            return margin, None, logits
        ok = torch.isfinite(logits.detach()).all(dim=1)
        objective = _loss(logits[ok].double(), labels[rows][ok], targeted, loss)
        (grad,) = torch.autograd.grad(objective, delta) if bool(ok.any()) else (
            torch.zeros_like(delta),
        )
        return margin, torch.where(free[rows] & torch.isfinite(grad), grad, 0.0), logits

    def accepted(delta, rows):
        if accept is None:
            return torch.ones(rows.numel(), dtype=torch.bool, device=device)
        full = torch.zeros_like(base)
        full[rows] = delta
        mask = torch.zeros(n, dtype=torch.bool, device=device)
        mask[rows] = True
        return accept(full, mask)[rows]

    first = True
    for run in range(n_restarts):
        rows = torch.nonzero(evaluable & (best.margin <= 0)).squeeze(1)
        if rows.numel() == 0:
            break
        delta = torch.zeros((rows.numel(), base.shape[1]), dtype=torch.float64, device=device)
        if run > 0:
            direction = torch.randn(base.shape, generator=generator, dtype=torch.float64)
            direction = _unit_l2(direction.to(device)[rows] * free[rows])
            top = scale if radius is None else float(radius.max())
            length = float(top) * torch.rand((n, 1), generator=generator, dtype=torch.float64)
            delta = constrain(direction * length.to(device)[rows], rows)
            delta = torch.where(accepted(delta, rows)[:, None], delta, 0.0)
        step = torch.full((rows.numel(), 1), float(step_size) * float(scale),
                          dtype=torch.float64, device=device)
        run_best = _Best(delta)
        check = run_best.margin.clone()
        for it in range(max_iter + 1):
            margin, grad, logits = evaluate(delta, rows, with_grad=it < max_iter)
            with torch.no_grad():
                if first:
                    # Rows the model cannot evaluate at the first iterate stay as they are.
                    ok = torch.isfinite(logits.detach()).all(dim=1)
                    evaluable[rows] = ok
                    first = False
                else:
                    ok = evaluable[rows]
                margin = torch.where(ok, margin, -torch.inf)
                current = torch.where(free[rows] & ok[:, None], delta.detach(), 0.0)
                sub = _Best(best.delta[rows])
                sub.margin = best.margin[rows]
                sub.update(current, margin)
                best.delta[rows] = sub.delta
                best.margin[rows] = sub.margin
                run_best.update(current, margin)
                if it == max_iter:
                    break
                # Rows that succeeded (or cannot be evaluated) leave the active set: the
                # defended model is costly and their best point is kept.
                keep = ok & (best.margin[rows] <= 0)
                if not bool(keep.any()):
                    break
                if not bool(keep.all()):
                    rows, delta, grad, step = rows[keep], delta[keep], grad[keep], step[keep]
                    check = check[keep]
                    kept_best = _Best(run_best.delta[keep])
                    kept_best.margin = run_best.margin[keep]
                    run_best = kept_best
                current = delta.detach()
                candidate = constrain(current + step * _unit_l2(grad), rows)
                if accept is not None:
                    passed = accepted(candidate, rows)
                    for _ in range(n_backtrack):
                        if bool(passed.all()):
                            break
                        half = constrain(current + 0.5 * (candidate - current), rows)
                        candidate = torch.where(passed[:, None], candidate, half)
                        retry = ~passed
                        again = torch.zeros_like(passed)
                        again[retry] = accepted(candidate[retry], rows[retry])
                        passed = passed | again
                    candidate = torch.where(passed[:, None], candidate, current)
                    step = torch.where(passed[:, None], step, 0.5 * step)
                delta = candidate
                if (it + 1) % window == 0:
                    stalled = run_best.margin <= check
                    step = torch.where(stalled[:, None], 0.5 * step, step)
                    delta = torch.where(stalled[:, None], run_best.delta, delta)
                    check = run_best.margin.clone()
    return torch.where(free & evaluable[:, None], best.delta, 0.0)
