"""FederatedClassifier: FedAvg-style training with a pluggable robust aggregator."""

import inspect
import numbers
import time

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import HasMethods, Interval, RealNotInt, StrOptions
from sklearn.utils.validation import validate_data
from torch import nn
from torch.nn.utils import parameters_to_vector
from tqdm.auto import tqdm

from sklearn_robust._adversary_base import _resolve_n_byzantine
from sklearn_robust._device import check_device
from sklearn_robust.estimators._fusion_classifier import _encode_labels
from sklearn_robust.estimators._rand_eigen import RandEigenMean
from sklearn_robust.estimators._torch_classifier import (
    _MAX_SEED,
    _check_finite_aggregate,
    _instantiate,
    _load_vector,
    _ModuleClassifierMixin,
    _seeded_clone,
)
from sklearn_robust.nets import MLPModule
from sklearn_robust.nets._seeding import (
    local_torch_rng,
    make_torch_generator,
    reset_linear_parameters,
)
from sklearn_robust.nets._utils import single_torch_thread


def partition_clients(y, n_clients, *, partition="iid", dirichlet_alpha=0.5, random_state=None):
    """Split sample indices across clients, iid or label-skewed (Dirichlet).

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        Labels (used by the Dirichlet split only).
    n_clients : int
        Number of clients, at most ``n_samples``.
    partition : {"iid", "dirichlet"}, default="iid"
        ``"iid"``: a random permutation cut into ``n_clients`` parts whose sizes differ by at
        most one. ``"dirichlet"``: for every class, the shares of the clients are drawn from
        ``Dirichlet(dirichlet_alpha * ones(n_clients))`` (Hsu et al., 2019); smaller
        ``dirichlet_alpha`` gives more skewed clients. Draws are repeated (up to 100 times)
        until every client holds at least one sample.
    dirichlet_alpha : float, default=0.5
        Concentration of the Dirichlet split.
    random_state : int, RandomState instance or None, default=None
        Seed of the split.

    Returns
    -------
    indices : list of ndarray of int
        The sample indices of each client; together they are a partition of
        ``range(n_samples)``.

    Raises
    ------
    ValueError
        If there are fewer samples than clients, or the Dirichlet draws keep leaving a client
        empty (raise ``dirichlet_alpha`` or use fewer clients).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_robust.estimators import partition_clients
    >>> parts = partition_clients(np.arange(10) % 2, 3, random_state=0)
    >>> [len(p) for p in parts], sorted(np.concatenate(parts).tolist()) == list(range(10))
    ([4, 3, 3], True)
    """
    y = np.asarray(y)
    n_samples = y.shape[0]
    if n_clients > n_samples:
        raise ValueError(
            f"n_clients={n_clients} exceeds the {n_samples} training samples; every client "
            "needs at least one sample. Use fewer clients or more data."
        )
    rng = check_random_state(random_state)
    if partition == "iid":
        return [np.sort(part) for part in np.array_split(rng.permutation(n_samples), n_clients)]
    if partition != "dirichlet":
        raise ValueError(f"partition must be 'iid' or 'dirichlet'; got {partition!r}.")
    classes = np.unique(y)
    for _ in range(100):
        parts = [[] for _ in range(n_clients)]
        for label in classes:
            members = rng.permutation(np.flatnonzero(y == label))
            shares = rng.dirichlet(np.full(n_clients, float(dirichlet_alpha)))
            cuts = np.round(np.cumsum(shares)[:-1] * members.size).astype(int)
            for client, chunk in enumerate(np.split(members, cuts)):
                parts[client].append(chunk)
        parts = [np.sort(np.concatenate(chunks)) for chunks in parts]
        if min(part.size for part in parts) > 0:
            return parts
    raise ValueError(
        f"the Dirichlet split with dirichlet_alpha={dirichlet_alpha} left a client without "
        f"samples in 100 draws ({n_samples} samples, {n_clients} clients); raise "
        "dirichlet_alpha or use fewer clients."
    )


class FederatedClassifier(_ModuleClassifierMixin, ClassifierMixin, BaseEstimator):
    """Federated (FedAvg-style) training of a torch classifier with a robust aggregator.

    ``fit`` simulates federated learning on one machine. The training rows are split across
    ``n_clients`` clients (iid or Dirichlet label skew). Every round, each client starts from
    the global model, runs ``local_epochs`` epochs of mini-batch SGD on its own rows and
    sends its update (local weights minus global weights, all layers flattened). The
    ``n_byzantine`` clients the adversary controls (drawn once per fit) send what
    ``adversary.fit_poison(updates, byzantine=...)`` crafts from the matrix of every client's
    honest update: an omniscient adversary (``knowledge="full"``) looks at all of them, a
    partial-knowledge one only at its own clients'. The server aggregates the
    ``(n_clients, n_parameters)`` matrix with ``aggregator`` (any robust mean of the library,
    or an object with the same ``fit(X).location_`` shape) and moves the global model by
    ``server_lr`` times the aggregate. ``predict`` uses the global model.

    Parameters
    ----------
    module : torch.nn.Module class, instance or skorch net, default=MLPModule
        The model. A class is instantiated with the ``module__*`` parameters, plus
        ``n_features`` and ``n_outputs`` (number of classes) when its constructor takes them
        and they are not given, and initialised from ``random_state``. An instance (or an
        initialised skorch net's ``module_``) is copied and its weights are the initial
        global model; an uninitialised skorch net gives its ``module`` and ``module__``
        parameters. The module maps a float batch ``(n, n_features)`` to logits.
    n_clients : int, default=20
        Number of clients, at most the number of training rows.
    aggregator : robust mean or None, default=None
        Server-side aggregation, e.g. :class:`RandEigenMean`, :class:`Krum`,
        :class:`SampleMean` (plain FedAvg). It is cloned every round; when its
        ``random_state`` is None it gets a seed drawn from ``random_state``. None means
        ``RandEigenMean()``.
    adversary : poisoning adversary or None, default=None
        The attack, e.g. :class:`~sklearn_robust.adversaries.ALIE` or
        :class:`~sklearn_robust.adversaries.Backdoor`; its own ``n_byzantine`` is ignored
        (the classifier's is used). An adversary with a ``poison_data`` method
        (:class:`~sklearn_robust.adversaries.Backdoor`,
        :class:`~sklearn_robust.adversaries.DBA`) also replaces the byzantine clients'
        local data by ``poison_data(X_k, y_k)`` before training (with
        ``attacker_index=k``, the client's rank among the byzantine ones, when the method
        takes it). An adversary with a ``local_update`` method
        (:class:`~sklearn_robust.adversaries.MPA`) trains the byzantine update itself every
        round, from the global model and the byzantine clients' pooled data, and gets it
        back in ``fit_poison(..., malicious_update=...)``. None: no attack; the byzantine
        clients, if any, behave honestly.
    n_byzantine : int or float, default=0
        Number of byzantine clients (int) or their fraction of ``n_clients`` (float in
        [0, 1), rounded down).
    n_rounds : int, default=30
        Communication rounds.
    local_epochs : int, default=5
        Passes of each client over its rows per round (5 in the RandEigen paper's set-up).
    lr : float, default=0.05
        Learning rate of the clients' SGD.
    momentum : float, default=0.9
        Momentum of the clients' SGD (reset every round).
    batch_size : int, default=32
        Clients' mini-batch size.
    server_lr : float, default=1.0
        Step of the server: ``global += server_lr * aggregate``.
    partition : {"iid", "dirichlet"}, default="iid"
        How the rows are split across clients (see :func:`partition_clients`).
    dirichlet_alpha : float, default=0.5
        Concentration of the Dirichlet split.
    aggregate_by : {"model", "layer"}, default="model"
        ``"model"``: one aggregation of the flattened update of all layers together.
        ``"layer"``: one aggregation per parameter tensor (as the RandEigen artifact does).
    device : str or torch.device, default="cpu"
        Torch device of the training. Inputs and outputs stay numpy on the CPU.
    random_state : int, RandomState instance or None, default=None
        Seed of the initial weights, the partition, the choice of byzantine clients, the
        batch order, dropout, and the seeds given to the aggregator and adversary. Global
        RNGs are left as they were.
    verbose : int, default=0
        A progress bar over rounds when positive.
    **kwargs
        ``module__<name>`` parameters passed to the module class, e.g.
        ``module__hidden_layer_sizes=(64,)``; they are ordinary parameters for
        ``get_params``, ``set_params`` and ``GridSearchCV``.

    Attributes
    ----------
    module_ : torch.nn.Module
        The global model after the last round.
    classes_ : ndarray of shape (n_classes,)
        Class labels seen during :meth:`fit`.
    client_indices_ : list of ndarray of int
        Training rows of each client.
    byzantine_clients_ : ndarray of int
        The clients the adversary controls (empty without adversary).
    aggregator_ : robust mean
        The aggregator fitted in the last round (per-layer mode: on the last layer).
    adversary_ : poisoning adversary or None
        The adversary fitted in the last round.
    history_ : list of dict
        One entry per round: ``"round"``; ``"aggregation_time"`` (seconds);
        ``"train_loss"``, the mean local training loss of the honest clients;
        ``"byzantine"``, a boolean mask over clients; ``"kept"``, the aggregator's
        ``support_`` (boolean mask over clients; shape ``(n_layers, n_clients)`` per layer;
        None when the aggregator has no ``support_``); ``"val_accuracy"`` when validation
        data are given to :meth:`fit`.
    n_features_in_ : int
        Number of features seen during :meth:`fit`.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during :meth:`fit`, defined only when ``X`` has feature names
        that are all strings.

    See Also
    --------
    RandEigenMean : The default aggregator.
    partition_clients : The split of the training rows.
    sklearn_robust.metrics.attack_success_rate : Backdoor success of a fitted model.

    Notes
    -----
    With ``n_byzantine=0`` (or no adversary), ``aggregator=SampleMean()`` and
    ``server_lr=1`` this is FedAvg with equal client weights. Buffers of the module (e.g.
    batch-norm statistics) are not robustly aggregated: the global model takes the mean of
    the buffers of the clients whose update the aggregator kept (all clients when it
    reports no ``support_``). The update of a client is a float32 vector; the aggregator
    works on the float32 matrix of all updates.

    Modules without buffers train all clients at once (``torch.func.vmap``: one batched SGD
    step per local step); modules with buffers train the clients one after the other, with
    the same batches and arithmetic. ``fit`` trains on one torch thread (the per-step tensors
    are small, and intra-op threads collapse when the cores are shared) and restores the
    caller's thread count afterwards.

    References
    ----------
    .. [1] B. McMahan, E. Moore, D. Ramage, S. Hampson and B. Aguera y Arcas,
       "Communication-Efficient Learning of Deep Networks from Decentralized Data",
       AISTATS 2017.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklearn_robust.adversaries import SignFlip
    >>> from sklearn_robust.estimators import FederatedClassifier, RandEigenMean
    >>> X, y = load_digits(return_X_y=True)
    >>> clf = FederatedClassifier(
    ...     n_clients=10, n_byzantine=2, adversary=SignFlip(scale=5.0),
    ...     aggregator=RandEigenMean(), n_rounds=5, random_state=0,
    ... ).fit(X[:1000] / 16, y[:1000])
    >>> bool(clf.score(X[1000:] / 16, y[1000:]) > 0.8)
    True
    >>> kept = clf.history_[-1]["kept"]  # the clients RandEigenMean kept in the last round
    >>> clf.byzantine_clients_.size, bool(kept[clf.byzantine_clients_].any())
    (2, False)
    """

    _parameter_constraints = {
        "module": "no_validation",
        "n_clients": [Interval(numbers.Integral, 1, None, closed="left")],
        "aggregator": [HasMethods(["fit"]), None],
        "adversary": [HasMethods(["fit_poison"]), None],
        "n_byzantine": [
            Interval(numbers.Integral, 0, None, closed="left"),
            Interval(RealNotInt, 0, 1, closed="left"),
        ],
        "n_rounds": [Interval(numbers.Integral, 1, None, closed="left")],
        "local_epochs": [Interval(numbers.Integral, 1, None, closed="left")],
        "lr": [Interval(numbers.Real, 0, None, closed="neither")],
        "momentum": [Interval(numbers.Real, 0, 1, closed="left")],
        "batch_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "server_lr": [Interval(numbers.Real, 0, None, closed="neither")],
        "partition": [StrOptions({"iid", "dirichlet"})],
        "dirichlet_alpha": [Interval(numbers.Real, 0, None, closed="neither")],
        "aggregate_by": [StrOptions({"model", "layer"})],
        "device": "no_validation",
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        module=MLPModule,
        *,
        n_clients=20,
        aggregator=None,
        adversary=None,
        n_byzantine=0,
        n_rounds=30,
        local_epochs=5,
        lr=0.05,
        momentum=0.9,
        batch_size=32,
        server_lr=1.0,
        partition="iid",
        dirichlet_alpha=0.5,
        aggregate_by="model",
        device="cpu",
        random_state=None,
        verbose=0,
        **kwargs,
    ):
        self.module = module
        self.n_clients = n_clients
        self.aggregator = aggregator
        self.adversary = adversary
        self.n_byzantine = n_byzantine
        self.n_rounds = n_rounds
        self.local_epochs = local_epochs
        self.lr = lr
        self.momentum = momentum
        self.batch_size = batch_size
        self.server_lr = server_lr
        self.partition = partition
        self.dirichlet_alpha = dirichlet_alpha
        self.aggregate_by = aggregate_by
        self.device = device
        self.random_state = random_state
        self.verbose = verbose
        self._set_module_kwargs(kwargs)

    # -- training ----------------------------------------------------------------------------

    def _build_module(self, n_features, n_classes, generator):
        module, fresh = _instantiate(
            self.module, self._module_kwargs(), n_features, n_classes, type(self).__name__
        )
        if fresh:
            reset_linear_parameters(module, generator)
        return module.to(self.device)

    def _poisoned_client_data(self, adversary, X, y, parts, byzantine, rng):
        """Per-client training tensors; byzantine clients' data through ``poison_data``."""
        device = torch.device(self.device)
        poisons = adversary is not None and hasattr(adversary, "poison_data")
        # DBA-style adversaries give each byzantine client its own part of the trigger.
        ranked = poisons and "attacker_index" in inspect.signature(adversary.poison_data).parameters
        data = []
        for client, rows in enumerate(parts):
            X_k, y_k = X[rows], y[rows]
            if poisons and byzantine[client]:
                extra = {"attacker_index": int(byzantine[:client].sum())} if ranked else {}
                X_k, labels = adversary.poison_data(
                    X_k, self.classes_[y_k], random_state=int(rng.randint(_MAX_SEED)), **extra
                )
                unknown = ~np.isin(labels, self.classes_)
                if unknown.any():
                    raise ValueError(
                        f"{type(adversary).__name__} relabels to {labels[unknown][0]!r}, which "
                        f"is not one of the classes {self.classes_.tolist()}."
                    )
                y_k = np.searchsorted(self.classes_, labels)
            data.append(
                (
                    torch.as_tensor(np.asarray(X_k, dtype=np.float32), device=device),
                    torch.as_tensor(np.asarray(y_k, dtype=np.int64), device=device),
                )
            )
        return data

    def _batch_plan(self, sizes, generator):
        """Every client's row order for each local epoch of a round (client-major draws)."""
        return [
            [torch.randperm(size, generator=generator) for _ in range(self.local_epochs)]
            for size in sizes
        ]

    def _local_updates_loop(self, module, global_vector, global_buffers, client_data, plan):
        """Train the clients one after the other (modules with buffers, e.g. batch norm)."""
        updates, buffers, losses = [], [], []
        loss_fn = nn.CrossEntropyLoss()
        for (X_k, y_k), orders in zip(client_data, plan):
            _load_vector(module, global_vector)
            with torch.no_grad():
                for buffer, value in zip(module.buffers(), global_buffers):
                    buffer.copy_(value)
            optimizer = torch.optim.SGD(module.parameters(), lr=self.lr, momentum=self.momentum)
            module.train()
            client_losses = []
            for order in orders:
                order = order.to(X_k.device)
                for start in range(0, X_k.shape[0], self.batch_size):
                    batch = order[start : start + self.batch_size]
                    optimizer.zero_grad()
                    loss = loss_fn(module(X_k[batch]), y_k[batch])
                    loss.backward()
                    optimizer.step()
                    client_losses.append(float(loss.detach()))
            with torch.no_grad():
                updates.append(parameters_to_vector(module.parameters()) - global_vector)
                buffers.append([buffer.detach().clone() for buffer in module.buffers()])
            losses.append(float(np.mean(client_losses)))
        return torch.stack(updates), buffers, np.asarray(losses)

    def _local_updates_vmap(self, module, global_vector, client_data, plan):
        """Train all clients at once: one batched SGD step per local step (no buffers).

        Same arithmetic and batch order as :meth:`_local_updates_loop`: client ``k``'s step
        ``s`` uses rows ``order[s * batch_size : (s + 1) * batch_size]`` and the mean loss over
        them; clients with fewer rows stop stepping when their batches run out.
        """
        from torch.func import functional_call, grad_and_value, vmap

        n_clients = len(client_data)
        device = global_vector.device
        sizes = [X_k.shape[0] for X_k, _ in client_data]
        n_max = max(sizes)
        X_pad = torch.zeros((n_clients, n_max, client_data[0][0].shape[1]), device=device)
        y_pad = torch.zeros((n_clients, n_max), dtype=torch.int64, device=device)
        for k, (X_k, y_k) in enumerate(client_data):
            X_pad[k, : sizes[k]] = X_k
            y_pad[k, : sizes[k]] = y_k
        names, shapes, numels = [], [], []
        for name, param in module.named_parameters():
            names.append(name)
            shapes.append(param.shape)
            numels.append(param.numel())
        # Every client's parameters live in one (n_clients, n_parameters) matrix: each
        # parameter is a view of its columns, so the steps update the matrix in place and the
        # round's updates are that matrix minus the global vector, computed in place (no
        # stacking copy, no second allocation of the 100 x 3e5 result).
        local = global_vector.detach().unsqueeze(0).repeat(n_clients, 1)
        params, start = {}, 0
        for name, shape, numel in zip(names, shapes, numels):
            columns = local[:, start : start + numel]
            params[name] = columns.unflatten(1, shape) if len(shape) else columns[:, 0]
            start += numel
        velocity = (
            {name: torch.zeros_like(value) for name, value in params.items()}
            if self.momentum
            else None
        )

        def client_loss(client_params, X_b, y_b, weight):
            logits = functional_call(module, client_params, (X_b,))
            losses = nn.functional.cross_entropy(logits, y_b, reduction="none")
            return (losses * weight).sum() / weight.sum().clamp(min=1.0)

        step_fn = vmap(grad_and_value(client_loss), randomness="different")
        n_steps = -(-n_max // self.batch_size)
        rows = torch.arange(n_clients, device=device)[:, None]
        loss_sum = torch.zeros(n_clients, device=device)
        loss_count = torch.zeros(n_clients, device=device)
        module.train()
        for epoch in range(self.local_epochs):
            index = torch.full((n_clients, n_steps * self.batch_size), -1, dtype=torch.int64)
            for k, orders in enumerate(plan):
                index[k, : sizes[k]] = orders[epoch]
            index = index.view(n_clients, n_steps, self.batch_size).to(device)
            for step in range(n_steps):
                batch = index[:, step]
                weight = (batch >= 0).to(X_pad.dtype)
                active = weight.sum(dim=1) > 0
                batch = batch.clamp(min=0)
                if bool(active.all()):
                    grads, losses = step_fn(
                        params, X_pad[rows, batch], y_pad[rows, batch], weight
                    )
                    with torch.no_grad():
                        # Every client steps (the usual case): in-place updates, the same
                        # arithmetic as torch.optim.SGD (buf = momentum * buf + g;
                        # p -= lr * buf). The (n_clients, ...) tensors are large, so
                        # temporaries would dominate the round's time.
                        for name in names:
                            g = grads[name]
                            if self.momentum:
                                g = velocity[name].mul_(self.momentum).add_(g)
                            params[name].sub_(g, alpha=self.lr)
                        loss_sum += losses.detach()
                        loss_count += 1
                    continue
                # Clients out of batches keep their weights and their momentum: only the
                # clients still stepping are computed (with unequal clients, e.g. a
                # Dirichlet split, most steps have few of them), then written back.
                act = torch.nonzero(active).squeeze(1)
                if act.numel() == 0:
                    continue
                sub = {name: params[name].index_select(0, act) for name in names}
                b = batch[act]
                grads, losses = step_fn(
                    sub, X_pad[act[:, None], b], y_pad[act[:, None], b], weight[act]
                )
                with torch.no_grad():
                    for name in names:
                        g = grads[name]
                        if self.momentum:
                            g = velocity[name].index_select(0, act).mul_(self.momentum).add_(g)
                            velocity[name].index_copy_(0, act, g)
                        # p + (-lr) g: the same rounding as p - lr g.
                        params[name].index_add_(0, act, g, alpha=-self.lr)
                    loss_sum.index_add_(0, act, losses.detach())
                    loss_count[act] += 1
        with torch.no_grad():
            updates = local.sub_(global_vector)
        return updates, None, (loss_sum / loss_count).cpu().numpy()

    def _malicious_update(
        self, adversary, module, global_vector, client_data, byzantine, updates, previous,
        generator,
    ):
        """The update a model-aware adversary (MPA) trains on its clients' pooled data."""
        bad = np.flatnonzero(byzantine)
        X_bad = torch.cat([client_data[c][0] for c in bad])
        y_bad = torch.cat([client_data[c][1] for c in bad])
        return adversary.local_update(
            module, global_vector, X_bad, y_bad, classes=self.classes_, updates=updates,
            byzantine=byzantine, previous_aggregate=previous, lr=self.lr,
            batch_size=self.batch_size, local_epochs=self.local_epochs, generator=generator,
        )

    def _aggregate(self, updates, layer_slices, rng):
        """Aggregate the update matrix; return (aggregate, kept, fitted aggregator)."""
        prototype = RandEigenMean() if self.aggregator is None else self.aggregator
        if self.aggregate_by == "model":
            aggregator = _seeded_clone(prototype, rng).fit(updates)
            kept = getattr(aggregator, "support_", None)
            return np.asarray(aggregator.location_), kept, aggregator
        location = np.empty(updates.shape[1], dtype=np.float64)
        kept = []
        for piece in layer_slices:
            aggregator = _seeded_clone(prototype, rng).fit(updates[:, piece])
            location[piece] = aggregator.location_
            kept.append(getattr(aggregator, "support_", None))
        kept = None if any(k is None for k in kept) else np.vstack(kept)
        return location, kept, aggregator

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y, *, X_val=None, y_val=None):
        """Run the federated training.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training rows, split across the clients.
        y : array-like of shape (n_samples,)
            Class labels.
        X_val : array-like of shape (n_val, n_features), default=None
            Validation rows; the global model's accuracy on them is recorded every round in
            ``history_`` (``"val_accuracy"``).
        y_val : array-like of shape (n_val,), default=None
            Validation labels, required with ``X_val``.

        Returns
        -------
        self : FederatedClassifier
            The fitted classifier.
        """
        self._check_unknown_kwargs()
        X, y = validate_data(self, X, y, dtype=[np.float32, np.float64])
        self.classes_, y_encoded = _encode_labels(self, y)
        if (X_val is None) != (y_val is None):
            raise ValueError("Pass both X_val and y_val, or neither.")
        n_byzantine = _resolve_n_byzantine(self.n_byzantine, self.n_clients)
        if self.adversary is not None and n_byzantine == 0:
            raise ValueError(
                f"adversary={self.adversary!r} controls no client because n_byzantine="
                f"{self.n_byzantine!r} gives 0 of {self.n_clients}; set n_byzantine, or "
                "adversary=None for a run without attack."
            )
        rng = check_random_state(self.random_state)
        generator = make_torch_generator(rng)
        parts = partition_clients(
            y_encoded,
            self.n_clients,
            partition=self.partition,
            dirichlet_alpha=self.dirichlet_alpha,
            random_state=rng,
        )
        byzantine = np.zeros(self.n_clients, dtype=bool)
        if self.adversary is not None:
            byzantine[rng.choice(self.n_clients, n_byzantine, replace=False)] = True
        adversary = None if self.adversary is None else _seeded_clone(self.adversary, rng)
        client_data = self._poisoned_client_data(adversary, X, y_encoded, parts, byzantine, rng)
        validation = None
        if X_val is not None:
            X_val = validate_data(self, X_val, reset=False, dtype=[np.float32, np.float64])
            validation = (X_val, np.asarray(y_val))

        check_device(self.device, type(self).__name__)
        # The per-step tensors are small: on the CPU, intra-op threads only add
        # synchronisation (and collapse when the cores are shared), so train on one.
        with single_torch_thread(), local_torch_rng(make_torch_generator(rng)):
            # Dropout, other random layers and the default initialisation a module class
            # draws while it is built (re-drawn from ``generator`` after) all take a local
            # generator (thread-local mode): torch's global RNG is never read or written.
            module = self._build_module(X.shape[1], self.classes_.size, generator)
            self._train(module, client_data, byzantine, adversary, validation, rng, generator)
        self.module_ = module.eval()
        self.client_indices_ = parts
        self.byzantine_clients_ = np.flatnonzero(byzantine)
        self.adversary_ = adversary
        return self

    def _train(self, module, client_data, byzantine, adversary, validation, rng, generator):
        sizes = [p.numel() for p in module.parameters()]
        bounds = np.concatenate([[0], np.cumsum(sizes)])
        layer_slices = [slice(a, b) for a, b in zip(bounds[:-1], bounds[1:])]
        with torch.no_grad():
            global_vector = parameters_to_vector(module.parameters()).detach().clone()
            global_buffers = [buffer.detach().clone() for buffer in module.buffers()]
        previous = torch.zeros_like(global_vector)  # the last aggregate (MPA's estimate)
        self.history_ = []
        rounds = tqdm(
            range(self.n_rounds), desc="federated rounds", disable=not self.verbose, leave=False
        )
        for round_index in rounds:
            plan = self._batch_plan([X_k.shape[0] for X_k, _ in client_data], generator)
            if global_buffers:
                updates, client_buffers, losses = self._local_updates_loop(
                    module, global_vector, global_buffers, client_data, plan
                )
            else:
                updates, client_buffers, losses = self._local_updates_vmap(
                    module, global_vector, client_data, plan
                )
            updates = updates.cpu().numpy().astype(np.float32, copy=False)
            if byzantine.any():
                extra = {}
                if hasattr(adversary, "local_update"):
                    extra["malicious_update"] = self._malicious_update(
                        adversary, module, global_vector, client_data, byzantine, updates,
                        previous, generator,
                    )
                updates = adversary.fit_poison(updates, byzantine=byzantine, **extra).astype(
                    np.float32, copy=False
                )
            start = time.perf_counter()
            location, kept, aggregator = self._aggregate(updates, layer_slices, rng)
            elapsed = time.perf_counter() - start
            _check_finite_aggregate(
                location, type(self).__name__, f"round {round_index}", aggregator
            )
            with torch.no_grad():
                step = torch.as_tensor(location, dtype=global_vector.dtype)
                global_vector += self.server_lr * step.to(global_vector.device)
                previous = step
                if global_buffers:
                    voters = np.ones(self.n_clients, dtype=bool)
                    if kept is not None:
                        voters = np.atleast_2d(kept).all(axis=0)
                        voters = voters if voters.any() else np.ones_like(voters)
                    for i, buffer in enumerate(global_buffers):
                        stacked = torch.stack(
                            [client_buffers[c][i] for c in np.flatnonzero(voters)]
                        )
                        buffer.copy_(stacked.float().mean(0).to(buffer.dtype))
            entry = {
                "round": round_index,
                "aggregation_time": elapsed,
                "train_loss": float(np.mean(losses[~byzantine])),
                "byzantine": byzantine.copy(),
                "kept": None if kept is None else np.asarray(kept, dtype=bool),
            }
            if validation is not None:
                _load_vector(module, global_vector)
                self.module_ = module
                predicted = self.classes_[np.argmax(self._logits(validation[0]), axis=1)]
                entry["val_accuracy"] = float(np.mean(predicted == validation[1]))
            self.history_.append(entry)
            self.aggregator_ = aggregator
        _load_vector(module, global_vector)
        for buffer, value in zip(module.buffers(), global_buffers):
            buffer.copy_(value)
