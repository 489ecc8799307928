"""aggregate_updates: robust aggregation of whole model updates (state_dicts, arrays, tensors).

The robust means of the library work on one ``(n_clients, n_features)`` matrix. Federated
code holds something else: one ``state_dict`` (or list of arrays) per client, with layers of
several shapes, float32/float16/bfloat16 tensors that may require grad, and integer buffers
such as batch norm's ``num_batches_tracked``. :func:`aggregate_updates` bridges the two: it
stacks each layer (or the whole model) into a matrix, runs any robust mean on it, and gives
back the same structure with the same dtypes and devices, plus which clients every layer
kept. It is framework-neutral: the Flower integration (``sklearn_robust.integrations.flower``)
only converts Flower's records to this and back.
"""

import inspect
from collections.abc import Mapping

import numpy as np
from sklearn.base import clone
from sklearn.utils import Bunch, check_random_state
from sklearn.utils._param_validation import HasMethods, StrOptions, validate_params

from sklearn_robust._numerics._backend import is_torch
from sklearn_robust.estimators._krum import Krum, MultiKrum
from sklearn_robust.estimators._rand_eigen import RandEigenMean, rand_eigen_mean
from sklearn_robust.estimators._sample_mean import SampleMean

# Robust means whose ``location_`` is the plain mean of the rows in ``support_``: client
# weights apply to them as a weighted mean of the kept clients (FedAvg's convention).
_MEAN_OF_SUPPORT = (SampleMean, RandEigenMean, Krum, MultiKrum)
_MAX_SEED = 2**31 - 1
_CHUNK_BYTES = 2**24  # ~16 MiB of float64 per column block of the weighted mean


# -- structure --------------------------------------------------------------------------------


def _as_leaf(value, where):
    """A numpy array or a torch tensor (never a Python list) for one client's layer."""
    if is_torch(value):
        return value
    array = np.asarray(value)
    if array.dtype == object:
        raise ValueError(
            f"{where} is not numeric (got {type(value).__name__} giving dtype object); pass "
            "numpy arrays or torch tensors."
        )
    return array


def _parse(updates):
    """Split ``updates`` into (layer names, per-layer list of client leaves, rebuild)."""
    if is_torch(updates) or isinstance(updates, np.ndarray):
        if updates.ndim < 2:
            raise ValueError(
                "A stacked matrix of updates must have one row per client, shape "
                f"(n_clients, n_parameters); got shape {tuple(updates.shape)}."
            )
        # One "layer": the client axis is the first one. The rows stay views of the input.
        return ["update"], [list(updates)], (lambda leaves: leaves[0]), updates
    if isinstance(updates, Mapping) or not isinstance(updates, list | tuple):
        raise ValueError(
            "updates must be a list with one entry per client (a state_dict, a list of "
            "arrays/tensors or one array each) or a stacked (n_clients, n_parameters) "
            f"matrix; got {type(updates).__name__}."
        )
    if len(updates) == 0:
        raise ValueError("updates is empty; pass the update of at least one client.")
    first = updates[0]
    if isinstance(first, Mapping):
        names = list(first.keys())
        for i, client in enumerate(updates):
            if not isinstance(client, Mapping) or set(client.keys()) != set(names):
                got = sorted(client.keys()) if isinstance(client, Mapping) else type(client)
                raise ValueError(
                    f"every client's update must be a mapping with the keys of client 0 "
                    f"{sorted(names)}; client {i} has {got}."
                )
        layers = [
            [
                _as_leaf(client[name], f"client {i}, layer {name!r}")
                for i, client in enumerate(updates)
            ]
            for name in names
        ]
        container = type(first)

        def rebuild(leaves):
            try:
                return container(zip(names, leaves))
            except TypeError:  # a Mapping type that cannot be built from pairs
                return dict(zip(names, leaves))

        return [str(name) for name in names], layers, rebuild, None
    if isinstance(first, list | tuple):
        n_layers = len(first)
        for i, client in enumerate(updates):
            if not isinstance(client, list | tuple) or len(client) != n_layers:
                got = len(client) if isinstance(client, list | tuple) else type(client).__name__
                raise ValueError(
                    f"every client's update must be a list of {n_layers} arrays like client "
                    f"0's; client {i} has {got}."
                )
        layers = [
            [_as_leaf(client[j], f"client {i}, layer {j}") for i, client in enumerate(updates)]
            for j in range(n_layers)
        ]
        container = type(first)
        return [str(j) for j in range(n_layers)], layers, (lambda leaves: container(leaves)), None
    if any(isinstance(client, Mapping | list | tuple) for client in updates):
        raise ValueError(
            "updates mixes kinds of client entries; every client must send the same kind "
            "(a state_dict, a list of arrays, or one array)."
        )
    layer = [_as_leaf(client, f"client {i}") for i, client in enumerate(updates)]
    return ["update"], [layer], (lambda leaves: leaves[0]), None


def _check_layer(name, leaves):
    """Same kind and shape for every client; return (kind, is_floating)."""
    kinds = {"torch" if is_torch(leaf) else "numpy" for leaf in leaves}
    if len(kinds) > 1:
        raise TypeError(
            f"layer {name!r} mixes numpy arrays and torch tensors across clients; convert "
            "every client's update to one kind first."
        )
    kind = kinds.pop()
    shape = tuple(leaves[0].shape)
    for i, leaf in enumerate(leaves):
        if tuple(leaf.shape) != shape:
            raise ValueError(
                f"layer {name!r} has shape {shape} for client 0 but {tuple(leaf.shape)} for "
                f"client {i}; every client must send the same model."
            )
    if kind == "torch":
        floating = leaves[0].is_floating_point()
        bad = leaves[0].is_complex()
    else:
        floating = np.issubdtype(leaves[0].dtype, np.floating)
        bad = not (floating or leaves[0].dtype.kind in "biu")
    if bad:
        raise ValueError(
            f"layer {name!r} has dtype {leaves[0].dtype}; only floating, integer and bool "
            "layers can be aggregated."
        )
    return kind, floating


# -- floating groups --------------------------------------------------------------------------


def _work_dtype(kind, leaves):
    """float64 when a layer is float64, else float32 (float16/bfloat16 widened to float32)."""
    if kind == "torch":
        import torch

        wide = any(leaf.dtype == torch.float64 for leaf in leaves)
        return torch.float64 if wide else torch.float32
    wide = any(leaf.dtype == np.float64 for leaf in leaves)
    return np.float64 if wide else np.float32


def _stack(kind, group_layers, n_clients, stacked):
    """The (n_clients, n_parameters) matrix of a group of layers (one copy, filled in place)."""
    sizes = [int(np.prod(layer[0].shape, dtype=np.int64)) for layer in group_layers]
    dtype = _work_dtype(kind, [layer[0] for layer in group_layers])
    if stacked is not None and len(group_layers) == 1:
        matrix = stacked.reshape(n_clients, -1)
        if kind == "torch":
            return matrix.detach().to(dtype), sizes
        return matrix.astype(dtype, copy=False), sizes
    bounds = np.concatenate([[0], np.cumsum(sizes)])
    if kind == "torch":
        import torch

        device = group_layers[0][0].device
        with torch.no_grad():
            matrix = torch.empty((n_clients, int(bounds[-1])), dtype=dtype, device=device)
            for (a, b), layer in zip(zip(bounds[:-1], bounds[1:]), group_layers):
                for i, leaf in enumerate(layer):
                    matrix[i, a:b] = leaf.detach().reshape(-1)
        return matrix, sizes
    matrix = np.empty((n_clients, int(bounds[-1])), dtype=dtype)
    for (a, b), layer in zip(zip(bounds[:-1], bounds[1:]), group_layers):
        for i, leaf in enumerate(layer):
            matrix[i, a:b] = np.ravel(leaf)
    return matrix, sizes


def _seeded(aggregator, rng):
    """A fresh clone; a None ``random_state`` gets a seed drawn from ``rng``."""
    estimator = clone(aggregator)
    params = estimator.get_params(deep=False)
    if "random_state" in params and params["random_state"] is None:
        estimator.set_params(random_state=int(rng.randint(_MAX_SEED)))
    return estimator


def _accepts_sample_weight(aggregator):
    try:
        return "sample_weight" in inspect.signature(aggregator.fit).parameters
    except (TypeError, ValueError):  # pragma: no cover - builtins without a signature
        return False


def _weighted_mean(matrix, kept, weights):
    """Weighted mean (float64) of the kept rows, column block by column block."""
    rows = np.flatnonzero(kept)
    w = np.asarray(weights, dtype=np.float64)[rows]
    w = w / w.sum()
    n_features = matrix.shape[1]
    step = max(1, _CHUNK_BYTES // (8 * max(1, rows.size)))
    if is_torch(matrix):
        import torch

        index = torch.as_tensor(rows, device=matrix.device)
        w_t = torch.as_tensor(w, device=matrix.device)
        out = torch.empty(n_features, dtype=torch.float64, device=matrix.device)
        for start in range(0, n_features, step):
            block = matrix[index, start : start + step].double()
            out[start : start + step] = w_t @ block
        return out
    out = np.empty(n_features, dtype=np.float64)
    for start in range(0, n_features, step):
        out[start : start + step] = w @ matrix[rows, start : start + step].astype(np.float64)
    return out


def _aggregate_matrix(matrix, aggregator, rng, sample_weight):
    """Robust location (float64, same kind as ``matrix``), support mask and fitted object."""
    estimator = _seeded(aggregator, rng)
    if is_torch(matrix) and matrix.device.type != "cpu" and type(estimator) is RandEigenMean:
        # The array-level RandEigen works on the tensor where it lives (no host copy). A CPU
        # tensor takes the numpy path below through a zero-copy view: the same result
        # (tested), and today's numpy kernels are the faster ones on the CPU
        # (benchmarks/results/model_aggregation_speed.md).
        params = estimator.get_params(deep=False)
        location, details = rand_eigen_mean(matrix, **params, return_details=True)
        support, fitted = np.asarray(details["support"], dtype=bool), None
    else:
        X = matrix.cpu().numpy() if is_torch(matrix) else matrix
        if sample_weight is not None and _accepts_sample_weight(estimator):
            estimator.fit(X, sample_weight=sample_weight)
            sample_weight = None  # applied by the estimator itself
        else:
            estimator.fit(X)
        location = np.asarray(estimator.location_, dtype=np.float64)
        support = getattr(estimator, "support_", None)
        support = (
            np.ones(matrix.shape[0], dtype=bool)
            if support is None
            else np.asarray(support, dtype=bool)
        )
        fitted = estimator
        if is_torch(matrix):
            import torch

            location = torch.as_tensor(location, device=matrix.device)
    if sample_weight is not None and support.any():
        if np.asarray(sample_weight, dtype=np.float64)[support].sum() > 0:
            location = _weighted_mean(matrix, support, sample_weight)
    return location, support, fitted


def _split(location, sizes, template_layers):
    """Cut the flat location into layers of the clients' shape, dtype, kind and device."""
    out = []
    start = 0
    for size, layer in zip(sizes, template_layers):
        leaf = layer[0]
        piece = location[start : start + size]
        start += size
        if is_torch(leaf):
            import torch

            with torch.no_grad():
                value = piece.to(device=leaf.device, dtype=leaf.dtype).reshape(leaf.shape)
                out.append(value.clone() if value.data_ptr() == piece.data_ptr() else value)
        else:
            out.append(np.asarray(piece, dtype=np.float64).reshape(leaf.shape).astype(leaf.dtype))
    return out


# -- integer and bool layers ------------------------------------------------------------------


def _lower_median(kind, leaves, voters):
    """Coordinate-wise lower median over the voting clients: always one client's value."""
    chosen = [leaf for leaf, vote in zip(leaves, voters) if vote]
    position = (len(chosen) - 1) // 2
    if kind == "torch":
        import torch

        with torch.no_grad():
            device = leaves[0].device
            stacked = torch.stack([leaf.detach().to(device) for leaf in chosen])
            as_int = stacked.to(torch.uint8) if stacked.dtype == torch.bool else stacked
            value = torch.sort(as_int, dim=0).values[position]
            return value.to(leaves[0].dtype).clone()
    stacked = np.stack([np.asarray(leaf) for leaf in chosen])
    return np.sort(stacked, axis=0)[position].astype(leaves[0].dtype, copy=True)


# -- public function --------------------------------------------------------------------------


def _check_sample_weight(sample_weight, n_clients, aggregator):
    if sample_weight is None:
        return None
    weights = np.asarray(
        sample_weight.detach().cpu().numpy() if is_torch(sample_weight) else sample_weight,
        dtype=np.float64,
    )
    if weights.shape != (n_clients,):
        raise ValueError(
            f"sample_weight must have one weight per client, shape ({n_clients},); got "
            f"shape {weights.shape}."
        )
    if not np.isfinite(weights).all() or (weights < 0).any():
        raise ValueError(
            "sample_weight must hold finite non-negative weights (e.g. numbers of "
            f"examples); got {weights.tolist()}."
        )
    if not (isinstance(aggregator, _MEAN_OF_SUPPORT) or _accepts_sample_weight(aggregator)):
        raise ValueError(
            f"{type(aggregator).__name__} does not take client weights: its fit has no "
            "sample_weight and its location is not the mean of the clients it keeps. Pass "
            "sample_weight=None (Flower's FedMedian and FedTrimmedAvg ignore num-examples "
            "too), or use SampleMean, RandEigenMean, Krum or MultiKrum."
        )
    return weights


@validate_params(
    {
        "updates": [list, tuple, "array-like"],
        "aggregator": [HasMethods(["fit"]), None],
        "by": [StrOptions({"layer", "model"})],
        "sample_weight": ["array-like", None],
        "random_state": ["random_state"],
        "return_details": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def aggregate_updates(
    updates,
    aggregator=None,
    *,
    by="layer",
    sample_weight=None,
    random_state=None,
    return_details=False,
):
    """Robustly aggregate the model updates of several clients, layer by layer or whole.

    Takes what federated code holds -- one ``state_dict`` (or list of arrays / tensors) per
    client, or a stacked matrix -- runs a robust mean on it and returns the same structure,
    with every layer in the clients' dtype, kind (numpy or torch) and device.

    Parameters
    ----------
    updates : list of dict, list of list of arrays, list of arrays, or array of shape \
            (n_clients, ...)
        The clients' updates (or models: every robust mean of the library is equivariant
        to translations, so aggregating the models equals the global model plus the
        aggregate of the updates). Either a list with one entry per client -- a mapping
        name -> array/tensor (a PyTorch ``state_dict``; the keys of client 0 give the
        order), a list or tuple of arrays/tensors, or a single array/tensor each -- or one
        stacked numpy array or torch tensor whose first axis is the client. Every client
        must send the same layers with the same shapes. Tensors that require grad are
        read without building an autograd graph. Never modified.
    aggregator : robust mean or None, default=None
        Any robust mean of :mod:`sklearn_robust.estimators` (or any object with
        ``fit(X).location_`` and, optionally, ``support_``), cloned for every group of
        layers; a None ``random_state`` parameter gets a seed drawn from
        ``random_state``. None means ``RandEigenMean()``. A :class:`RandEigenMean` on
        GPU tensors runs through :func:`rand_eigen_mean` on the tensors' own device; every
        other case gives the aggregator a numpy matrix on the CPU (a zero-copy view for
        CPU tensors).
    by : {"layer", "model"}, default="layer"
        ``"layer"``: one robust mean per floating layer (as the RandEigen artifact does).
        ``"model"``: one robust mean of all floating layers flattened together, so a
        client is kept or removed as a whole.
    sample_weight : array-like of shape (n_clients,), default=None
        Non-negative client weights, e.g. Flower's ``num-examples``. The robust mean
        selects the clients as usual (weights never influence which clients are kept, so
        an attacker gains nothing by claiming many examples there); the location is then
        the weighted mean of the kept clients (FedAvg's weighting among the survivors).
        Supported for :class:`SampleMean`, :class:`RandEigenMean`, :class:`Krum` and
        :class:`MultiKrum`, whose location is the mean of the clients they keep, and for
        any aggregator whose ``fit`` takes ``sample_weight`` (passed through). Other
        aggregators (coordinate median, trimmed mean, geometric median, ...) raise a
        ``ValueError``. If the kept clients' weights sum to zero, the unweighted location
        is used.
    random_state : int, RandomState instance or None, default=None
        Seed of the seeds given to the aggregator clones.
    return_details : bool, default=False
        Also return a :class:`~sklearn.utils.Bunch` describing which clients were kept.

    Returns
    -------
    aggregate : same structure as one client's update
        A mapping of the first client's type (keys in its order), a list/tuple, or one
        array, with each layer of the clients' shape, dtype, kind and device. For a
        stacked input, an array of shape ``updates.shape[1:]``.
    details : Bunch
        Only when ``return_details=True``: ``groups`` (names of the aggregated groups:
        the floating layers, or ``["model"]``), ``support`` (bool array of shape
        ``(n_groups, n_clients)``: the clients each group kept; an aggregator that
        reports no ``support_`` counts every client as kept), ``kept`` (bool array of
        shape ``(n_clients,)``: kept by every group), ``estimators`` (the fitted clone of
        each group; None where :func:`rand_eigen_mean` ran on a GPU tensor).

    Raises
    ------
    ValueError
        If clients send different layers or shapes, a layer is neither floating, integer
        nor bool, or ``sample_weight`` is invalid or unsupported by the aggregator.
    TypeError
        If a layer mixes numpy arrays and torch tensors across clients.

    See Also
    --------
    RandEigenMean : The default robust mean.
    FederatedClassifier : Federated training that aggregates whole-model updates.

    Notes
    -----
    *Dtypes.* float16 and bfloat16 layers are aggregated in float32 (float64 layers in
    float64; the robust means accumulate their means in float64) and cast back to the
    clients' dtype, which can overflow float16 only if the aggregate itself exceeds its
    range.

    *Integer and bool layers* (e.g. ``num_batches_tracked``) are never averaged: each
    takes the coordinate-wise lower median over the clients kept by every floating group
    (all clients when no client is kept by every group), that is, a value one of those
    clients sent; for bool layers it is the majority vote, ties going to False. Under
    ``by="model"`` they are left out of the flattened vector.

    *Non-finite values.* A client whose layer holds NaN or inf is an outlier of that
    group (it never enters the location), as in the robust means.

    *One client.* With a single client there is nothing to compare: its update is
    returned (as copies) and it counts as kept.

    Examples
    --------
    >>> import torch
    >>> from sklearn_robust.estimators import CoordinateMedian, aggregate_updates
    >>> clients = [{"w": torch.full((2, 2), v), "steps": torch.tensor(v, dtype=torch.int64)}
    ...            for v in (1.0, 2.0, 3.0, 1e6)]          # the last client is byzantine
    >>> model, details = aggregate_updates(
    ...     clients, CoordinateMedian(), return_details=True
    ... )
    >>> model["w"]
    tensor([[2.5000, 2.5000],
            [2.5000, 2.5000]])
    >>> model["steps"], model["w"].dtype
    (tensor(2), torch.float32)
    >>> details.groups, details.kept.tolist()
    (['w'], [True, True, True, True])
    """
    names, layers, rebuild, stacked = _parse(updates)
    n_clients = len(layers[0])
    aggregator = RandEigenMean() if aggregator is None else aggregator
    weights = _check_sample_weight(sample_weight, n_clients, aggregator)
    kinds, floating = [], []
    for name, leaves in zip(names, layers):
        kind, is_float = _check_layer(name, leaves)
        kinds.append(kind)
        floating.append(is_float)

    if n_clients == 1:
        aggregate = [
            leaves[0].detach().clone() if is_torch(leaves[0]) else np.array(leaves[0])
            for leaves in layers
        ]
        details = Bunch(
            groups=[n for n, f in zip(names, floating) if f] if by == "layer" else ["model"],
            kept=np.ones(1, dtype=bool),
            estimators=[],
        )
        details.support = np.ones((len(details.groups), 1), dtype=bool)
        result = rebuild(aggregate)
        return (result, details) if return_details else result

    float_index = [j for j, f in enumerate(floating) if f]
    if by == "model" and float_index:
        model_kinds = {kinds[j] for j in float_index}
        if len(model_kinds) > 1:
            raise TypeError(
                "by='model' needs every floating layer of one kind; the model mixes numpy "
                "arrays and torch tensors. Convert them, or aggregate by='layer'."
            )
        if model_kinds == {"torch"}:
            devices = {str(layers[j][0].device) for j in float_index}
            if len(devices) > 1:
                raise ValueError(
                    f"by='model' needs every floating layer on one device; got {sorted(devices)}."
                    " Move the model to one device, or aggregate by='layer'."
                )
        groups = [("model", float_index)]
    else:
        groups = [(names[j], [j]) for j in float_index]

    rng = check_random_state(random_state)
    aggregate = [None] * len(layers)
    supports, estimators = [], []
    for _, members in groups:
        group_layers = [layers[j] for j in members]
        matrix, sizes = _stack(kinds[members[0]], group_layers, n_clients, stacked)
        location, support, fitted = _aggregate_matrix(matrix, aggregator, rng, weights)
        del matrix
        for j, value in zip(members, _split(location, sizes, group_layers)):
            aggregate[j] = value
        supports.append(support)
        estimators.append(fitted)

    support = np.vstack(supports) if supports else np.ones((0, n_clients), dtype=bool)
    kept = support.all(axis=0)
    voters = kept if kept.any() else np.ones(n_clients, dtype=bool)
    for j, leaves in enumerate(layers):
        if not floating[j]:
            aggregate[j] = _lower_median(kinds[j], leaves, voters)
    result = rebuild(aggregate)
    if not return_details:
        return result
    return result, Bunch(
        groups=[name for name, _ in groups],
        support=support,
        kept=kept,
        estimators=estimators,
    )
