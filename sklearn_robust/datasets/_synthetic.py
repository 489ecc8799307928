"""Synthetic multi-agent data on a known low-dimensional (linear or curved) manifold."""

import numbers

import numpy as np
from sklearn.utils import Bunch, check_random_state
from sklearn.utils._param_validation import Interval, StrOptions, validate_params

_DEFAULT_N_BLOCKS = 8


def _resolve_widths(n_blocks, block_width):
    """The list of block widths from ``n_blocks`` and ``block_width`` (int or list)."""
    if isinstance(block_width, numbers.Integral) and not isinstance(block_width, bool):
        count = _DEFAULT_N_BLOCKS if n_blocks is None else int(n_blocks)
        return [int(block_width)] * count
    arr = np.asarray(block_width)
    if (
        arr.ndim != 1
        or arr.size == 0
        or not np.issubdtype(arr.dtype, np.integer)
        or (arr < 1).any()
    ):
        raise ValueError(
            "block_width must be an int >= 1 or a non-empty list of ints >= 1 (one width per "
            f"block); got {block_width!r}."
        )
    widths = [int(w) for w in arr]
    if n_blocks is not None and n_blocks != len(widths):
        raise ValueError(
            f"n_blocks={n_blocks} disagrees with block_width, which lists {len(widths)} widths "
            f"{widths}. Leave n_blocks=None when passing a list of widths."
        )
    return widths


def _simplex_directions(latent_dim, n_classes, rng):
    """``(latent_dim, n_classes)`` class directions: a regular simplex in a random subspace.

    The columns are the vertices of a regular simplex centred at the origin (equal norms,
    equal pairwise angles), placed in a random ``n_classes - 1``-dimensional subspace of the
    latent space. For isotropic Gaussian latents, ``argmax(Z @ V)`` is then uniform over the
    classes by symmetry; for two classes it is the sign of one random projection.
    """
    basis, _ = np.linalg.qr(rng.standard_normal((latent_dim, n_classes - 1)))
    centred = np.eye(n_classes) - 1.0 / n_classes  # centred one-hot vectors, rank n_classes - 1
    coords = np.linalg.svd(centred)[0][:, : n_classes - 1]  # orthonormal basis of their span
    vertices = centred @ coords  # (n_classes, n_classes - 1)
    vertices /= np.linalg.norm(vertices, axis=1, keepdims=True)
    return basis @ vertices.T


def _isometric_components(widths, latent_dim, rng):
    """``(latent_dim, n_features)`` map whose restriction to each block is a scaled isometry."""
    scale = np.sqrt(np.mean(widths) / latent_dim)
    blocks = []
    for width in widths:
        q, r = np.linalg.qr(rng.standard_normal((width, latent_dim)))
        q = q * np.sign(np.diag(r))  # a unique, uniformly distributed orthonormal basis
        blocks.append(scale * q.T)
    return np.concatenate(blocks, axis=1)


def _linear_map(latent, components):
    return latent @ components


def _nonlinear_map(latent, hidden_weights, hidden_bias, components):
    return np.tanh(latent @ hidden_weights + hidden_bias) @ components


@validate_params(
    {
        "n_samples": [Interval(numbers.Integral, 1, None, closed="left")],
        "n_blocks": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "block_width": [Interval(numbers.Integral, 1, None, closed="left"), "array-like"],
        "latent_dim": [Interval(numbers.Integral, 1, None, closed="left")],
        "manifold": [StrOptions({"linear", "isometric", "nonlinear"})],
        "noise": [Interval(numbers.Real, 0, None, closed="left")],
        "n_classes": [Interval(numbers.Integral, 2, None, closed="left")],
        "random_state": ["random_state"],
        "return_X_y": ["boolean"],
        "return_latent": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def make_block_manifold(
    n_samples=1000,
    *,
    n_blocks=None,
    block_width=6,
    latent_dim=4,
    manifold="linear",
    noise=0.0,
    n_classes=2,
    random_state=None,
    return_X_y=False,
    return_latent=False,
):
    """Generate multi-agent data lying on a low-dimensional manifold, with labels.

    Latent codes ``Z`` are drawn from a standard normal distribution in ``latent_dim``
    dimensions and mapped to ``n_features = sum(widths)`` features, cut into consecutive
    agent blocks. The clean features lie exactly on a ``latent_dim``-dimensional manifold:

    * ``manifold="linear"``: ``X_clean = Z @ components`` with ``components`` a Gaussian
      ``(latent_dim, n_features)`` matrix scaled by ``1 / sqrt(latent_dim)`` (features of
      unit variance on average). The data span a subspace of dimension exactly
      ``latent_dim``, and any set of columns at least ``latent_dim`` wide has full row rank
      (almost surely): a block can be reconstructed from the other blocks whenever their
      total width is at least ``latent_dim`` -- the redundancy CoPur's guarantees assume.
    * ``manifold="isometric"``: a linear subspace as above, but each block's map is a
      scaled isometry: ``components[:, block] = s * Q_b.T`` with ``Q_b`` a random
      ``(width_b, latent_dim)`` matrix with orthonormal columns and one common scale ``s``
      (features of unit variance on average). Every block of every clean row then has the
      same norm ``s * ||z||``: each agent carries an equal share of the signal. This is the
      redundancy under which CoPur's block-sparse purification provably recovers the clean
      row whenever fewer than half of the observed blocks are corrupted, by any amount
      (the l2,1 objective prefers the clean row because, for any direction ``v`` in the
      subspace, the corrupted blocks' share of ``||v||`` is below the clean blocks'). With
      the Gaussian ``"linear"`` map, block norms differ from row to row and a row whose
      corrupted blocks outweigh its clean ones may not be recoverable. Needs every block at
      least ``latent_dim`` wide.
    * ``manifold="nonlinear"``: ``X_clean = tanh(Z @ hidden_weights + hidden_bias) @
      components``, a fixed random two-layer network with ``n_features`` hidden units
      (pre-activations of standard deviation about 2, so the map is far from linear). The data
      fill all ``n_features`` dimensions linearly but lie on a smooth curved
      ``latent_dim``-dimensional manifold (the map is injective, so ``Z`` is a function of
      the clean features).

    Labels come from the latent code: ``y = argmax(Z @ class_directions)``, where the
    ``n_classes`` directions are the vertices of a regular simplex in a random subspace of
    the latent space, so classes are balanced in expectation; for two classes ``y`` is the
    sign of one random projection. They are a linear function of the clean features in the
    linear case and a non-linear one otherwise.

    Parameters
    ----------
    n_samples : int, default=1000
        Number of rows.
    n_blocks : int or None, default=None
        Number of agents when ``block_width`` is an int; None means 8. With a list of widths
        leave it None (or equal to the list's length).
    block_width : int or list of int, default=6
        Width of every block (int), or the width of each block (list; unequal widths work).
    latent_dim : int, default=4
        Dimension of the manifold; at most ``n_features``.
    manifold : {"linear", "isometric", "nonlinear"}, default="linear"
        Shape of the manifold, see above.
    noise : float, default=0.0
        Standard deviation of the isotropic Gaussian noise added to ``data`` (``data_clean``
        is returned too). Noise is drawn last, so for a fixed seed ``data_clean``,
        ``latent`` and ``target`` do not depend on ``noise``.
    n_classes : int, default=2
        Number of classes, at most ``latent_dim + 1``.
    random_state : int, RandomState instance or None, default=None
        Seed of every random draw; the same seed gives identical output.
    return_X_y : bool, default=False
        If True, return ``(data, target)`` instead of a Bunch.
    return_latent : bool, default=False
        With ``return_X_y=True``, return ``(data, target, latent)``. The Bunch always holds
        ``latent``.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with attributes:

        data : ndarray of shape (n_samples, n_features)
            The features, with noise.
        data_clean : ndarray of shape (n_samples, n_features)
            The noiseless features, exactly on the manifold.
        target : ndarray of shape (n_samples,)
            Class labels in ``0 .. n_classes - 1``.
        latent : ndarray of shape (n_samples, latent_dim)
            The latent codes ``Z``.
        blocks : list of int
            The block widths; pass it as the ``blocks`` parameter of block-aware objects.
        agent_names, feature_names : list of str
            ``"agent_<b>"`` and ``"agent_<b>_<j>"``.
        components : ndarray of shape (latent_dim, n_features) or (n_features, n_features)
            The linear map (linear and isometric cases) or the output layer (non-linear
            case).
        hidden_weights : ndarray of shape (latent_dim, n_features)
            Non-linear case only: the hidden layer's weights.
        hidden_bias : ndarray of shape (n_features,)
            Non-linear case only: the hidden layer's bias.
        class_directions : ndarray of shape (latent_dim, n_classes)
            ``target == argmax(latent @ class_directions, axis=1)``.
        manifold : str
            ``"linear"`` or ``"nonlinear"``.

    (data, target) or (data, target, latent) : tuple if ``return_X_y`` is True
        As described above.

    Raises
    ------
    ValueError
        If ``latent_dim`` exceeds the number of features, ``n_classes`` exceeds
        ``latent_dim + 1``, or ``n_blocks`` disagrees with a list ``block_width``.

    See Also
    --------
    load_digits_agents : Real images split into agents.

    Notes
    -----
    To draw a training and a test set from the same manifold, generate once and split the
    rows (a different seed gives a different manifold).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_robust.datasets import make_block_manifold
    >>> ds = make_block_manifold(500, n_blocks=4, block_width=5, latent_dim=3,
    ...                          noise=0.01, random_state=0)
    >>> ds.data.shape, ds.blocks
    ((500, 20), [5, 5, 5, 5])
    >>> int(np.linalg.matrix_rank(ds.data_clean))
    3
    >>> bool(np.allclose(ds.data_clean, ds.latent @ ds.components))
    True
    >>> X, y = make_block_manifold(100, block_width=[3, 4, 5], random_state=0,
    ...                            return_X_y=True)
    >>> X.shape, np.bincount(y).size
    ((100, 12), 2)
    """
    widths = _resolve_widths(n_blocks, block_width)
    n_features = sum(widths)
    if latent_dim > n_features:
        raise ValueError(
            f"latent_dim={latent_dim} exceeds the number of features {n_features} "
            f"(blocks {widths}): the data would fill the space instead of lying on a manifold. "
            "Lower latent_dim or widen the blocks."
        )
    if manifold == "isometric" and min(widths) < latent_dim:
        raise ValueError(
            f"manifold='isometric' maps the latent code isometrically into every block, so "
            f"every block must be at least latent_dim={latent_dim} wide; got block widths "
            f"{widths}. Widen the blocks, lower latent_dim, or use manifold='linear'."
        )
    if n_classes > latent_dim + 1:
        raise ValueError(
            f"n_classes={n_classes} needs a latent space of dimension at least "
            f"n_classes - 1 = {n_classes - 1} to hold balanced class regions; got "
            f"latent_dim={latent_dim}. Raise latent_dim or lower n_classes."
        )
    rng = check_random_state(random_state)

    params = {}
    if manifold == "linear":
        params["components"] = rng.standard_normal((latent_dim, n_features)) / np.sqrt(latent_dim)
    elif manifold == "isometric":
        params["components"] = _isometric_components(widths, latent_dim, rng)
    else:
        params["hidden_weights"] = rng.standard_normal((latent_dim, n_features)) * (
            2.0 / np.sqrt(latent_dim)
        )
        params["hidden_bias"] = 0.5 * rng.standard_normal(n_features)
        params["components"] = rng.standard_normal((n_features, n_features)) / np.sqrt(n_features)
    class_directions = _simplex_directions(latent_dim, n_classes, rng)

    latent = rng.standard_normal((n_samples, latent_dim))
    if manifold in ("linear", "isometric"):
        data_clean = _linear_map(latent, params["components"])
    else:
        data_clean = _nonlinear_map(
            latent, params["hidden_weights"], params["hidden_bias"], params["components"]
        )
    target = np.argmax(latent @ class_directions, axis=1)
    if noise:
        data = data_clean + noise * rng.standard_normal(data_clean.shape)
    else:
        data = data_clean.copy()  # two arrays: changing one never changes the other

    if return_X_y:
        return (data, target, latent) if return_latent else (data, target)
    agent_names = [f"agent_{b}" for b in range(len(widths))]
    feature_names = [f"agent_{b}_{j}" for b, w in enumerate(widths) for j in range(w)]
    return Bunch(
        data=data,
        data_clean=data_clean,
        target=target,
        latent=latent,
        blocks=widths,
        agent_names=agent_names,
        feature_names=feature_names,
        class_directions=class_directions,
        manifold=manifold,
        **params,
    )
