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

from sklearn_robust._numerics._robust_means import (
    _column_blocks,
    _squared_distances_from_gram,
    krum,
    krum_scores,
    pairwise_sq_distances,
)

__all__ = []


def _magnitude(X):
    """Largest absolute value of ``X`` as a float (1.0 when ``X`` is all zeros)."""
    # Two reductions instead of |X| (a temporary as large as X); NaN propagates alike.
    a = max(abs(float(np.max(X))), abs(float(np.min(X)))) if X.size else 0.0
    return a if a > 0 else 1.0


def _mean_std(X, scale=1.0):
    """Coordinate-wise mean and sample std (ddof=1; zeros for a single row) of ``X / scale``.

    In float64, one column block at a time: no float64 copy of the whole of ``X`` and no
    full-size temporaries (the attacks call it on every round's 100 x 3e5 updates).
    """
    X = np.asarray(X)
    n_rows, n_columns = X.shape
    mean = np.empty(n_columns)
    std = np.zeros(n_columns)
    for cols in _column_blocks(n_rows, n_columns):
        block = np.divide(X[:, cols], scale, dtype=np.float64)
        mean[cols] = block.mean(axis=0)
        if n_rows >= 2:
            block -= mean[cols]
            std[cols] = np.sqrt(np.einsum("ij,ij->j", block, block) / (n_rows - 1))
    return mean, std


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
    mean, std = _mean_std(X_known, a)
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
    mean, std = _mean_std(X_known, a)
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
    mean, std = _mean_std(X_known, a)
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


# --------------------------------------------------------------------------------------------
# Optimised attacks: MinMax / MinSum (Shejwalkar & Houmansadr, 2021), Krum (Fang et al., 2020)
# --------------------------------------------------------------------------------------------


def _perturbation_direction(mean, std, perturbation):
    """Direction ``p`` of Shejwalkar & Houmansadr: ``-mean/||mean||``, ``-sign(mean)``, ``-std``.

    A zero mean has no unit direction; the normalised all-ones vector is used instead.
    """
    if perturbation == "unit_vec":
        return -_unit_direction(mean)
    if perturbation == "sign":
        return -np.sign(mean)
    return -std


def _gamma_search(feasible, gamma_init, tol):
    """Algorithm 1 of Shejwalkar & Houmansadr (2021): the largest feasible ``gamma``.

    Starts at ``gamma_init`` with a step of ``gamma_init / 2``; the step halves at every
    iteration, ``gamma`` moves up when ``feasible(gamma)`` holds and down when it does not,
    until the last feasible value and the next candidate are at most ``tol`` apart. Once a
    candidate failed this is a bisection between the last success and the lowest failure,
    so for a feasible set ``[0, gamma*]`` the result lies in ``[gamma* - 2 tol, gamma*]``.

    Returns
    -------
    gamma : float
        The last feasible value tried (0.0 when none was).
    saturated : bool
        True when every candidate was feasible: ``gamma`` then sits at the ceiling of the
        search, just under ``2 * gamma_init``, and ``gamma*`` may lie beyond it.
    """
    gamma, step = gamma_init, gamma_init / 2.0
    gamma_succ, saturated = 0.0, True
    while abs(gamma_succ - gamma) > tol:
        if feasible(gamma):
            gamma_succ = gamma
            gamma += step
        else:
            gamma -= step
            saturated = False
        step /= 2.0
    return gamma_succ, saturated


def _agr_agnostic_rows(X_known, criterion, perturbation, gamma_init, tol):
    """MinMax / MinSum: ``mean + gamma * p`` with the largest ``gamma`` the criterion allows.

    ``criterion="min-max"``: the largest distance from the crafted row to a known row stays
    at most the largest distance between two known rows. ``criterion="min-sum"``: the sum
    of squared distances from the crafted row to the known rows stays at most the largest
    such sum of a known row. Every distance comes from the Gram matrix of the rows centred
    at their mean: with ``c_i = x_i - mean``, ``||mean + gamma p - x_i||**2 = ||c_i||**2 -
    2 gamma <c_i, p> + gamma**2 ||p||**2``, so each step of the search costs O(n).

    ``gamma_init`` and ``tol`` are in the units of ``X_known / max |X_known|`` for
    ``"unit_vec"`` and ``"sign"`` (whose ``p`` has a fixed size) and dimensionless for
    ``"std"``. Returns the crafted row, ``gamma`` in the units of ``X_known`` (dimensionless
    for ``"std"``) and whether the search saturated (see :func:`_gamma_search`). A zero
    ``p`` gives the mean and ``gamma = 0``.
    """
    a = _magnitude(X_known)
    mean, std = _mean_std(X_known, a)
    p = _perturbation_direction(mean, std, perturbation)
    p_sq = float(p @ p)
    if p_sq == 0.0:
        return a * mean, 0.0, False
    # The Gram of the centred rows and their projections on p, one column block at a time.
    n_rows, n_columns = X_known.shape
    gram = np.zeros((n_rows, n_rows))
    proj = np.zeros(n_rows)
    for cols in _column_blocks(n_rows, n_columns):
        block = np.divide(X_known[:, cols], a, dtype=np.float64)
        block -= mean[cols]
        gram += block @ block.T
        proj += block @ p[cols]
    sq_pair = _squared_distances_from_gram(gram)
    sq_to_mean = np.maximum(np.diag(gram), 0.0)
    if criterion == "min-max":
        bound = float(sq_pair.max())

        def feasible(gamma):
            return np.max(sq_to_mean - 2.0 * gamma * proj + gamma * gamma * p_sq) <= bound

    else:
        bound = float(sq_pair.sum(axis=1).max())

        def feasible(gamma):
            return np.sum(sq_to_mean - 2.0 * gamma * proj + gamma * gamma * p_sq) <= bound

    gamma, saturated = _gamma_search(feasible, gamma_init, tol)
    unit = 1.0 if perturbation == "std" else a
    return a * (mean + gamma * p), gamma * unit, saturated


def _fang_krum_lambda(benign, ref, n_bad):
    """Upper bound on ``lambda`` of Fang et al. (2020, Krum, full knowledge).

    With ``m`` clients of which ``c = n_bad`` byzantine, ``d`` features and the benign rows
    ``w_i``::

        lambda = min_i sum_{l in G_i} ||w_l - w_i|| / ((m - 2c - 1) sqrt(d))
                 + max_i ||w_i - ref|| / sqrt(d)

    ``G_i`` the ``m - c - 2`` benign rows nearest to ``w_i``. The neighbour count is clipped
    to ``[1, n_benign - 1]`` and ``m - 2c - 1`` to at least 1 so that the bound is defined
    for every ``m``; the first term is 0 with a single benign row. Distances (not squared)
    come from the Gram matrix; the result is in the units of ``benign``.
    """
    n_benign, d = benign.shape
    m = n_benign + n_bad
    first = 0.0
    if n_benign >= 2:
        dist = np.sqrt(pairwise_sq_distances(benign))
        n_neighbours = min(max(m - n_bad - 2, 1), n_benign - 1)
        sums = krum_scores(dist, n_neighbours)  # sum of the n_neighbours smallest distances
        first = float(sums.min()) / (max(m - 2 * n_bad - 1, 1) * np.sqrt(d))
    second = float(np.sqrt(np.max(np.sum((benign - ref) ** 2, axis=1)))) / np.sqrt(d)
    return first + second


def _uniform_ball(n_points, n_features, radius, random_state):
    """``n_points`` draws uniform in the ball of ``radius`` around 0, shape (n, d)."""
    direction = random_state.standard_normal(size=(n_points, n_features))
    norms = np.linalg.norm(direction, axis=1, keepdims=True)
    direction /= np.where(norms > 0, norms, 1.0)
    length = random_state.uniform(size=(n_points, 1)) ** (1.0 / n_features)
    return radius * length * direction


def _krum_attack_rows(X_known, X_sim, sim_bad, lambda_min, epsilon, random_state):
    """Fang et al.'s attack on Krum: ``ref - lambda s``, ``lambda`` halved until Krum picks it.

    ``ref`` is the mean of ``X_known`` and ``s = sign(ref)``. ``X_sim`` is the matrix the
    attacker expects Krum to see; its rows ``sim_bad`` (a bool mask, ``c`` rows) are replaced
    by the crafted rows: the first one ``w1 = ref - lambda s``, the others ``w1`` plus a draw
    uniform in the ball of radius ``epsilon * sqrt(mean_i ||x_i - ref||**2)`` (``x_i`` the
    known rows). ``lambda`` starts at :func:`_fang_krum_lambda` of the other rows of
    ``X_sim`` and is halved until Krum, told ``c`` byzantine rows (the library's kernel,
    on ``X_sim`` in its own dtype, exactly what ``Krum`` computes), selects a crafted row, or
    until it would fall below ``lambda_min`` times its start. The offsets are drawn once.

    Returns
    -------
    rows : ndarray of shape (c, n_features)
        The crafted rows of the last ``lambda`` tried (float64).
    lam : float
        That ``lambda``, in the units of ``X_known``.
    selected : bool
        Whether Krum selected a crafted row at ``lam``.
    """
    n_bad = int(sim_bad.sum())
    a = _magnitude(X_known)
    Ks = np.asarray(X_known / a, dtype=np.float64)
    ref = Ks.mean(axis=0)
    s = np.sign(ref)
    benign = np.asarray(X_sim[~sim_bad] / a, dtype=np.float64)
    lam = _fang_krum_lambda(benign, ref, n_bad)
    threshold = lambda_min * lam
    radius = epsilon * float(np.sqrt(np.mean(np.sum((Ks - ref) ** 2, axis=1))))
    offsets = np.zeros((n_bad, Ks.shape[1]))
    offsets[1:] = _uniform_ball(n_bad - 1, Ks.shape[1], radius, random_state)
    candidate = np.array(X_sim, copy=True)
    while True:
        rows = a * (ref - lam * s + offsets)
        candidate[sim_bad] = rows
        selected = krum(candidate, n_bad, 1)[0][0]
        if sim_bad[selected]:
            return rows, lam * a, True
        if lam / 2.0 < threshold or lam == 0.0:
            return rows, lam * a, False
        lam /= 2.0


# --------------------------------------------------------------------------------------
# Adaptive families against spectral filters (worst case over a magnitude grid)
# --------------------------------------------------------------------------------------


def _top_eigenpair(X):
    """Mean, top eigenvalue of the sample covariance (ddof=1) and its unit eigenvector.

    Computed on the smaller Gram of the centred rows, in float64. For one row the
    eigenvalue is 0 and the direction the normalised all-ones vector.
    """
    X = np.asarray(X, dtype=np.float64)
    n, d = X.shape
    mean = X.mean(axis=0)
    if n < 2:
        return mean, 0.0, np.full(d, 1.0 / np.sqrt(d))
    Z = X - mean
    if n <= d:
        w, U = np.linalg.eigh(Z @ Z.T)
        v = Z.T @ U[:, -1]
    else:
        w, V = np.linalg.eigh(Z.T @ Z)
        v = V[:, -1]
    return mean, max(float(w[-1]), 0.0) / (n - 1), _unit_direction(v)


def _honest_like_noise(X, n_bad, kind, random_state):
    """Noise the byzantine rows carry so that they look like honest rows.

    ``"honest"``: independent Gaussian noise with the honest per-coordinate standard
    deviations (rows at honest distances from the mean, so no distance test sees them);
    ``"span"``: random combinations of the honest deviations scaled to the honest sample
    covariance (rows inside the honest span). ``"none"``: zeros (identical rows).
    """
    X = np.asarray(X, dtype=np.float64)
    if kind == "none" or X.shape[0] < 2:
        return np.zeros((n_bad, X.shape[1]))
    mean, std = _mean_std(X)
    if kind == "honest":
        return std * random_state.standard_normal(size=(n_bad, X.shape[1]))
    coef = random_state.standard_normal(size=(n_bad, X.shape[0]))
    return coef @ (X - mean) / np.sqrt(X.shape[0] - 1)


def _eigen_shift_rows(X_known, n_bad, shift, noise, random_state):
    """``mean + shift * sqrt(lambda_1) * v_1`` (+ honest-like noise): along the honest top
    eigenvector, where the honest rows are most spread and a shift hides best."""
    a = _magnitude(X_known)
    Xs = X_known / a
    mean, lam, v = _top_eigenpair(Xs)
    rows = mean + shift * np.sqrt(lam) * v + _honest_like_noise(Xs, n_bad, noise, random_state)
    return a * rows


def _orthogonal_spike_rows(X_known, n_bad, magnitude, random_state):
    """``mean + magnitude * sqrt(lambda_1) * q_i``, the ``q_i`` random orthonormal directions
    (as many as possible; they repeat beyond ``d``): each byzantine row its own spike."""
    a = _magnitude(X_known)
    Xs = X_known / a
    mean, lam, _ = _top_eigenpair(Xs)
    d = Xs.shape[1]
    k = min(n_bad, d)
    Q, _ = np.linalg.qr(random_state.standard_normal(size=(d, k)))
    spikes = np.tile(Q.T, (int(np.ceil(n_bad / k)), 1))[:n_bad]
    return a * (mean + magnitude * np.sqrt(lam) * spikes)


def _hull_point_rows(X_known, n_bad, extrapolation):
    """Copies of the honest rows farthest along the honest top eigenvector (vertices of the
    honest convex hull), moved ``extrapolation`` times their deviation further out: the
    duplicated tail biases the mean while every row looks honest."""
    a = _magnitude(X_known)
    Xs = X_known / a
    mean, _, v = _top_eigenpair(Xs)
    Z = Xs - mean
    order = np.argsort(-(Z @ v), kind="stable")
    picked = np.resize(order, n_bad)
    return a * (mean + (1.0 + extrapolation) * Z[picked])


def _mimic_rows(X_known, extrapolation):
    """Every byzantine row copies the honest row farthest along the honest top eigenvector
    (Karimireddy et al.'s mimic heuristic), moved ``extrapolation`` times its deviation."""
    a = _magnitude(X_known)
    Xs = X_known / a
    mean, _, v = _top_eigenpair(Xs)
    Z = Xs - mean
    best = int(np.argmax(Z @ v))
    return a * (mean + (1.0 + extrapolation) * Z[best])
