"""Flower integration: robust aggregation strategies and byzantine simulation.

Requires the ``flower`` extra (``pip install "sklearn-robust[flower]"``, Flower >= 1.20 with
its message API, and its simulation extra); ``import sklearn_robust`` never imports it.

* :class:`RobustFedAvg` -- Flower's ``FedAvg`` in every respect (sampling, minimum numbers
  of nodes, failed replies, evaluation, metrics) except that ``aggregate_train`` runs
  :func:`~sklearn_robust.estimators.aggregate_updates` with any robust mean of the library,
  per layer or on the whole model, and reports each round which nodes it kept.
* :class:`ByzantineStrategy` -- wraps any Flower strategy (ours or Flower's built-ins) and,
  for a chosen set of nodes, replaces their training replies by what a poisoning adversary
  of :mod:`sklearn_robust.adversaries` crafts from the honest replies of the round, before
  the wrapped strategy aggregates. For research: it simulates an attack inside a real
  Flower run. Data-poisoning attacks (:class:`~sklearn_robust.adversaries.Backdoor`) run
  on the ClientApp side instead; :func:`byzantine_partitions` tells each ClientApp whether
  it is one of the attackers.

The maths stays in the robust means and in ``aggregate_updates``; this module only converts
Flower records to that and back.
"""

import copy
import time
from logging import INFO, WARNING

import numpy as np
from sklearn.base import clone
from sklearn.utils import check_random_state

from sklearn_robust._adversary_base import _resolve_n_byzantine
from sklearn_robust.estimators._model_aggregation import aggregate_updates
from sklearn_robust.estimators._rand_eigen import RandEigenMean

try:
    from flwr.app import Array, ArrayRecord, Message, MetricRecord, RecordDict
    from flwr.serverapp import Grid
    from flwr.serverapp.strategy import FedAvg, Strategy
    from flwr.supercore import log
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "sklearn_robust.integrations.flower needs Flower >= 1.20 (its message API); install "
        'it with: pip install "sklearn-robust[flower]"'
    ) from exc

__all__ = ["ByzantineStrategy", "RobustFedAvg", "byzantine_partitions"]

_MAX_SEED = 2**31 - 1


def _round_seed(random_state, server_round, salt):
    """A seed for one round: fixed by (random_state, round, salt), or fresh when None."""
    if random_state is None:
        return None
    base = int(check_random_state(random_state).randint(_MAX_SEED))
    return int(np.random.SeedSequence([base, int(server_round), salt]).generate_state(1)[0])


def _record_key(content):
    return next(iter(content.array_records.keys()))


def _arrays_of(content):
    """The reply's single ArrayRecord as a dict name -> numpy array (the reply untouched)."""
    record = content.array_records[_record_key(content)]
    return {name: array.numpy() for name, array in record.items()}


def _node_ids_metric(node_ids):
    return [int(node) for node in node_ids]


def byzantine_partitions(num_partitions, n_byzantine=0.2, random_state=None):
    """The partition ids a simulated attacker controls, the same on every node.

    A ClientApp that poisons its own data (e.g. with
    :class:`~sklearn_robust.adversaries.Backdoor`) calls this with its run config to know
    whether its ``partition-id`` is one of the attackers'; every node computes the same set
    from the same arguments.

    Parameters
    ----------
    num_partitions : int
        Number of partitions (clients) of the run.
    n_byzantine : int or float, default=0.2
        Number of byzantine partitions (int) or their fraction (float in [0, 1), rounded
        down; at least one partition stays honest).
    random_state : int, RandomState instance or None, default=None
        Seed of the choice; None gives the last ``n_byzantine`` partitions.

    Returns
    -------
    partitions : ndarray of int
        Sorted ids of the byzantine partitions.

    Examples
    --------
    >>> from sklearn_robust.integrations.flower import byzantine_partitions
    >>> byzantine_partitions(10, 0.2).tolist()
    [8, 9]
    >>> len(byzantine_partitions(20, 0.2, random_state=0))
    4
    """
    count = _resolve_n_byzantine(n_byzantine, int(num_partitions))
    if random_state is None:
        return np.arange(num_partitions - count, num_partitions)
    rng = check_random_state(random_state)
    return np.sort(rng.choice(int(num_partitions), count, replace=False))


class RobustFedAvg(FedAvg):
    """Flower's FedAvg with a robust aggregation of the training replies.

    Sampling, minimum numbers of nodes, handling of failed replies, federated evaluation
    and metric aggregation are Flower's ``FedAvg`` (this class subclasses it). Only
    ``aggregate_train`` differs: the valid replies' ``ArrayRecord`` s (ordered by node id)
    go through :func:`~sklearn_robust.estimators.aggregate_updates` with ``aggregator``,
    layer by layer or on the whole model, and come back with the clients' dtypes. The
    training metrics are aggregated over the nodes kept by every group (Flower's
    ``MultiKrum`` does the same with the nodes it selects), and the round's
    ``MetricRecord`` also holds:

    * ``"kept-nodes"``: ids of the nodes kept by every aggregated group;
    * ``"removed-nodes"``: ids of the nodes some group removed;
    * ``"nodes"`` and ``"kept-groups"``: every node id of the round, and the number of
      groups (layers, or 1 for the whole model) that kept it;
    * ``"aggregation-time"``: seconds spent in the robust aggregation.

    Parameters
    ----------
    aggregator : robust mean or None, default=None
        Any robust mean of :mod:`sklearn_robust.estimators` (or an object with
        ``fit(X).location_``). None means ``RandEigenMean()``.
    by : {"model", "layer"}, default="model"
        Aggregate all floating layers flattened together (a node is kept or removed as a
        whole) or each layer separately.
    weighted : bool, default=False
        Weight the kept nodes' models by ``weighted_by_key`` (FedAvg's ``num-examples``)
        in the final mean; supported by the robust means whose location is the mean of
        the rows they keep (see :func:`~sklearn_robust.estimators.aggregate_updates`).
        Off by default: the number of examples is self-reported, so a byzantine node that
        survives the filter could claim a huge weight. Flower's ``FedMedian``,
        ``FedTrimmedAvg`` and ``Bulyan`` do not weight the models either.
    random_state : int, RandomState instance or None, default=None
        Seed of the aggregator in each round (round ``t`` gets a seed fixed by
        ``random_state`` and ``t``). None draws fresh randomness every round.
    fraction_train : float, default=1.0
        As in Flower's ``FedAvg``: fraction of nodes sampled for training.
    fraction_evaluate : float, default=1.0
        Fraction of nodes sampled for evaluation.
    min_train_nodes : int, default=2
        Minimum number of nodes sampled for training.
    min_evaluate_nodes : int, default=2
        Minimum number of nodes sampled for evaluation.
    min_available_nodes : int, default=2
        Minimum number of connected nodes before a round starts.
    weighted_by_key : str, default="num-examples"
        Key of the reply's ``MetricRecord`` that weights the metrics (and the models when
        ``weighted=True``).
    arrayrecord_key : str, default="arrays"
        Key of the ``ArrayRecord`` in the messages sent to the nodes.
    configrecord_key : str, default="config"
        Key of the ``ConfigRecord`` in the messages sent to the nodes.
    train_metrics_aggr_fn : callable or None, default=None
        ``(list[RecordDict], str) -> MetricRecord`` for the training metrics; None is
        Flower's weighted average.
    evaluate_metrics_aggr_fn : callable or None, default=None
        The same for the evaluation metrics.

    See Also
    --------
    ByzantineStrategy : Simulate poisoning attacks around any strategy.
    sklearn_robust.estimators.aggregate_updates : The aggregation used here.

    Notes
    -----
    The replies carry models, not updates; every robust mean of the library is equivariant
    to translations, so the robust aggregate of the models is the global model plus the
    robust aggregate of the updates, and Flower's built-in robust strategies also
    aggregate the models. With a single valid reply there is nothing to compare and it is
    returned as is (FedAvg's result).

    Examples
    --------
    >>> from sklearn_robust.estimators import RandEigenMean
    >>> from sklearn_robust.integrations.flower import RobustFedAvg
    >>> strategy = RobustFedAvg(RandEigenMean(eps=0.2, tol=2.0), random_state=0)
    >>> strategy.by, strategy.weighted_by_key
    ('model', 'num-examples')
    """

    def __init__(
        self,
        aggregator=None,
        *,
        by="model",
        weighted=False,
        random_state=None,
        fraction_train=1.0,
        fraction_evaluate=1.0,
        min_train_nodes=2,
        min_evaluate_nodes=2,
        min_available_nodes=2,
        weighted_by_key="num-examples",
        arrayrecord_key="arrays",
        configrecord_key="config",
        train_metrics_aggr_fn=None,
        evaluate_metrics_aggr_fn=None,
    ):
        if by not in ("model", "layer"):
            raise ValueError(f"by must be 'model' or 'layer'; got {by!r}.")
        if aggregator is not None and not hasattr(aggregator, "fit"):
            raise ValueError(
                f"aggregator must be a robust mean with fit(X).location_; got {aggregator!r}."
            )
        super().__init__(
            fraction_train=fraction_train,
            fraction_evaluate=fraction_evaluate,
            min_train_nodes=min_train_nodes,
            min_evaluate_nodes=min_evaluate_nodes,
            min_available_nodes=min_available_nodes,
            weighted_by_key=weighted_by_key,
            arrayrecord_key=arrayrecord_key,
            configrecord_key=configrecord_key,
            train_metrics_aggr_fn=train_metrics_aggr_fn,
            evaluate_metrics_aggr_fn=evaluate_metrics_aggr_fn,
        )
        self.aggregator = aggregator
        self.by = by
        self.weighted = weighted
        self.random_state = random_state

    def summary(self):
        """Log the configuration of the strategy."""
        aggregator = RandEigenMean() if self.aggregator is None else self.aggregator
        log(INFO, "\t├──> RobustFedAvg settings:")
        log(INFO, "\t│\t├── Aggregator: %r", aggregator)
        log(INFO, "\t│\t├── Aggregated by: %s", self.by)
        log(INFO, "\t│\t└── Weighted by '%s': %s", self.weighted_by_key, self.weighted)
        super().summary()

    def aggregate_train(self, server_round, replies):
        """Robustly aggregate the ArrayRecords and the kept nodes' MetricRecords.

        Parameters
        ----------
        server_round : int
            The current round (from 1).
        replies : iterable of Message
            The nodes' replies; failed ones are logged and left out, as in ``FedAvg``.

        Returns
        -------
        arrays : ArrayRecord or None
            The aggregated model (None without valid replies).
        metrics : MetricRecord or None
            The kept nodes' aggregated training metrics, plus the records listed in the
            class description.
        """
        valid_replies, _ = self._check_and_log_replies(replies, is_train=True)
        if not valid_replies:
            return None, None
        valid_replies = sorted(valid_replies, key=lambda msg: msg.metadata.src_node_id)
        contents = [msg.content for msg in valid_replies]
        nodes = [int(msg.metadata.src_node_id) for msg in valid_replies]
        updates = [_arrays_of(content) for content in contents]
        weights = None
        if self.weighted:
            weights = [
                float(next(iter(content.metric_records.values()))[self.weighted_by_key])
                for content in contents
            ]
        start = time.perf_counter()
        aggregate, details = aggregate_updates(
            updates,
            RandEigenMean() if self.aggregator is None else self.aggregator,
            by=self.by,
            sample_weight=weights,
            random_state=_round_seed(self.random_state, server_round, 0),
            return_details=True,
        )
        elapsed = time.perf_counter() - start
        kept = details.kept
        if not kept.any():
            log(
                WARNING,
                "aggregate_train: no node was kept by every one of the %d groups; training "
                "metrics are aggregated over all nodes",
                len(details.groups),
            )
        metric_contents = [c for c, k in zip(contents, kept) if k] or contents
        metrics = self.train_metrics_aggr_fn(metric_contents, self.weighted_by_key)
        metrics = MetricRecord() if metrics is None else metrics
        # Node ids are 64-bit unsigned: kept as Python ints (numpy would round them).
        metrics["kept-nodes"] = [node for node, k in zip(nodes, kept) if k]
        metrics["removed-nodes"] = [node for node, k in zip(nodes, kept) if not k]
        metrics["nodes"] = _node_ids_metric(nodes)
        metrics["kept-groups"] = [int(v) for v in details.support.sum(axis=0)]
        metrics["aggregation-time"] = float(elapsed)
        arrays = ArrayRecord({name: Array(np.asarray(value)) for name, value in aggregate.items()})
        log(
            INFO,
            "aggregate_train: kept %d of %d nodes (%.3f s)",
            int(kept.sum()),
            len(nodes),
            elapsed,
        )
        return arrays, metrics


class ByzantineStrategy(Strategy):
    """Simulate byzantine nodes around any Flower strategy with a poisoning adversary.

    The wrapper behaves as the wrapped ``strategy`` except in training: in every round the
    replies of the byzantine nodes are replaced, before ``strategy.aggregate_train`` sees
    them, by the updates ``adversary.fit_poison`` crafts from the matrix of all the valid
    replies' honest updates (the byzantine nodes train honestly; an adversary with
    ``knowledge="partial"`` only looks at its own nodes' rows). An update is a reply's
    floating arrays minus the global model sent that round, flattened over the layers;
    a byzantine reply becomes global + crafted update, in the reply's dtypes. Integer and
    bool arrays (e.g. batch norm counters) and the metrics (``num-examples``) stay what
    the node sent.

    The byzantine nodes are fixed for the run, chosen when training is first configured:
    the given node ids, or ``n`` nodes drawn (with ``random_state``) among the connected
    ones. Each round's ``MetricRecord`` gets ``"byzantine-nodes"``: the ids of the
    byzantine nodes among the replies. Use it for research and evaluation, never in
    production.

    Parameters
    ----------
    strategy : flwr.serverapp.strategy.Strategy
        The strategy under attack: :class:`RobustFedAvg` or any of Flower's (``FedAvg``,
        ``FedMedian``, ``Krum``, ...).
    adversary : poisoning adversary
        Any adversary of :mod:`sklearn_robust.adversaries` with ``fit_poison`` (its own
        ``n_byzantine`` is ignored), cloned every round; a None ``random_state`` gets a
        seed fixed by ``random_state`` and the round.
    byzantine : int, float or list of int, default=0.2
        The byzantine nodes: a count (int), a fraction of the connected nodes (float in
        [0, 1), rounded down), or explicit node ids (a list).
    random_state : int, RandomState instance or None, default=None
        Seed of the choice of byzantine nodes and of the adversary in each round.

    Attributes
    ----------
    byzantine_nodes : list of int or None
        The byzantine node ids (None until training is configured).

    See Also
    --------
    RobustFedAvg : The robust strategy to defend with.
    sklearn_robust.adversaries.ALIE : One of the adversaries to attack with.

    Notes
    -----
    Replies are never modified: a byzantine reply is replaced by a new message with the
    same metadata (same source node) and new content.

    Examples
    --------
    >>> from flwr.serverapp.strategy import FedMedian
    >>> from sklearn_robust.adversaries import SignFlip
    >>> from sklearn_robust.integrations.flower import ByzantineStrategy
    >>> attacked = ByzantineStrategy(FedMedian(), SignFlip(scale=10.0), byzantine=0.2)
    >>> type(attacked.strategy).__name__, attacked.byzantine_nodes
    ('FedMedian', None)
    """

    def __init__(self, strategy, adversary, *, byzantine=0.2, random_state=None):
        if not isinstance(strategy, Strategy):
            raise ValueError(
                f"strategy must be a Flower strategy (flwr.serverapp.strategy.Strategy); got "
                f"{type(strategy).__name__}."
            )
        if not hasattr(adversary, "fit_poison"):
            raise ValueError(
                "adversary must be a poisoning adversary with fit_poison (e.g. "
                f"sklearn_robust.adversaries.ALIE()); got {adversary!r}."
            )
        self.strategy = strategy
        self.adversary = adversary
        self.byzantine = byzantine
        self.random_state = random_state
        self.byzantine_nodes = None
        self._global = None

    def __getattr__(self, name):
        # Attributes of the wrapped strategy (fraction_train, weighted_by_key, ...).
        if name in ("strategy", "__setstate__", "__getstate__"):
            raise AttributeError(name)
        return getattr(self.strategy, name)

    def summary(self):
        """Log the attack, then the wrapped strategy's configuration."""
        log(INFO, "\t├──> ByzantineStrategy (simulated attack):")
        log(INFO, "\t│\t├── Adversary: %r", self.adversary)
        log(INFO, "\t│\t└── Byzantine nodes: %r", self.byzantine)
        self.strategy.summary()

    def _choose_byzantine(self, grid):
        if isinstance(self.byzantine, list | tuple | np.ndarray):
            return sorted(int(node) for node in self.byzantine)
        nodes = sorted(int(node) for node in grid.get_node_ids())
        count = _resolve_n_byzantine(self.byzantine, len(nodes))
        rng = check_random_state(self.random_state)
        return sorted(int(nodes[i]) for i in rng.choice(len(nodes), count, replace=False))

    def configure_train(self, server_round, arrays, config, grid):
        """Record the global model, fix the byzantine nodes, and delegate.

        Parameters
        ----------
        server_round : int
            The current round.
        arrays : ArrayRecord
            The global model sent to the nodes.
        config : ConfigRecord
            The training configuration.
        grid : Grid
            The grid of nodes.

        Returns
        -------
        messages : iterable of Message
            The wrapped strategy's training messages.
        """
        if self.byzantine_nodes is None:
            self.byzantine_nodes = self._choose_byzantine(grid)
            log(INFO, "ByzantineStrategy: byzantine nodes %s", self.byzantine_nodes)
        self._global = {name: array.numpy() for name, array in arrays.items()}
        return self.strategy.configure_train(server_round, arrays, config, grid)

    def _poison(self, server_round, replies):
        """Replace the byzantine replies (new messages); return (replies, byzantine ids)."""
        replies = list(replies)
        byzantine_set = set(self.byzantine_nodes or [])
        valid = [i for i, msg in enumerate(replies) if not msg.has_error()]
        mask = np.array(
            [int(replies[i].metadata.src_node_id) in byzantine_set for i in valid], dtype=bool
        )
        present = [int(replies[i].metadata.src_node_id) for i, bad in zip(valid, mask) if bad]
        if not mask.any() or self._global is None:
            return replies, present
        if mask.all():
            log(
                WARNING,
                "ByzantineStrategy: every valid reply of round %d is byzantine; with no honest "
                "update to craft from, the replies are left as they are",
                server_round,
            )
            return replies, present
        contents = [replies[i].content for i in valid]
        models = [_arrays_of(content) for content in contents]
        names = [
            name
            for name, value in self._global.items()
            if np.issubdtype(value.dtype, np.floating) and all(name in m for m in models)
        ]
        sizes = [self._global[name].size for name in names]
        bounds = np.concatenate([[0], np.cumsum(sizes)]).astype(int)
        updates = np.empty((len(valid), int(bounds[-1])), dtype=np.float64)
        for row, model in enumerate(models):
            for (a, b), name in zip(zip(bounds[:-1], bounds[1:]), names):
                updates[row, a:b] = np.ravel(model[name]) - np.ravel(self._global[name])
        adversary = clone(self.adversary)
        if "random_state" in adversary.get_params() and adversary.random_state is None:
            adversary.set_params(random_state=_round_seed(self.random_state, server_round, 1))
        poisoned = adversary.fit_poison(updates, byzantine=mask)
        replies = list(replies)
        for row in np.flatnonzero(mask):
            index = valid[row]
            original = replies[index]
            content = original.content
            key = _record_key(content)
            record = content.array_records[key]
            new_arrays = {}
            for name, array in record.items():
                if name in names:
                    j = names.index(name)
                    value = (
                        self._global[name].astype(np.float64).ravel()
                        + poisoned[row, bounds[j] : bounds[j + 1]]
                    )
                    new_arrays[name] = Array(
                        value.reshape(self._global[name].shape).astype(self._global[name].dtype)
                    )
                else:
                    new_arrays[name] = Array(array.numpy())
            new_content = RecordDict()
            for name, item in content.items():
                new_content[name] = ArrayRecord(new_arrays) if name == key else copy.deepcopy(item)
            replies[index] = Message(content=new_content, metadata=copy.copy(original.metadata))
        return replies, present

    def aggregate_train(self, server_round, replies):
        """Replace the byzantine replies by the adversary's updates, then aggregate.

        Parameters
        ----------
        server_round : int
            The current round.
        replies : iterable of Message
            The nodes' training replies (never modified).

        Returns
        -------
        arrays : ArrayRecord or None
            The wrapped strategy's aggregate of the poisoned replies.
        metrics : MetricRecord or None
            Its metrics, plus ``"byzantine-nodes"``.
        """
        replies, byzantine_ids = self._poison(server_round, replies)
        arrays, metrics = self.strategy.aggregate_train(server_round, replies)
        if arrays is None and metrics is None:
            return arrays, metrics
        metrics = MetricRecord() if metrics is None else metrics
        metrics["byzantine-nodes"] = byzantine_ids
        return arrays, metrics

    def configure_evaluate(self, server_round, arrays, config, grid):
        """Delegate to the wrapped strategy.

        Parameters
        ----------
        server_round : int
            The current round.
        arrays : ArrayRecord
            The global model.
        config : ConfigRecord
            The evaluation configuration.
        grid : Grid
            The grid of nodes.

        Returns
        -------
        messages : iterable of Message
            The wrapped strategy's evaluation messages.
        """
        return self.strategy.configure_evaluate(server_round, arrays, config, grid)

    def aggregate_evaluate(self, server_round, replies):
        """Delegate to the wrapped strategy (evaluation replies are not attacked).

        Parameters
        ----------
        server_round : int
            The current round.
        replies : iterable of Message
            The nodes' evaluation replies.

        Returns
        -------
        metrics : MetricRecord or None
            The wrapped strategy's aggregated evaluation metrics.
        """
        return self.strategy.aggregate_evaluate(server_round, replies)


# -- an in-process engine for tests and benchmarks ----------------------------------------------


class _InProcessGrid(Grid):
    """A Grid that runs a ClientApp in this process, node after node (no Ray, no network).

    Messages are deep-copied on the way out and back, as a real engine serialises them;
    replies come back in node-id order, so runs are deterministic. For tests and
    benchmarks of strategies; use ``flwr run`` or ``run_simulation`` for real runs.
    """

    def __init__(self, client_app, node_configs, run_config, run_id=1):
        from flwr.app import Context

        self.client_app = client_app
        self.run_config = dict(run_config)
        self._run_id = run_id
        # Random 62-bit node ids (fixed), as an engine hands out; in node_configs order.
        ids = list(
            dict.fromkeys(np.random.default_rng(12345).integers(1, 2**62, 4 * len(node_configs)))
        )
        ids = ids[: len(node_configs)]
        self._contexts = {
            int(node): Context(
                run_id=run_id,
                node_id=int(node),
                node_config=dict(config),
                state=RecordDict(),
                run_config=dict(run_config),
            )
            for node, config in zip(ids, node_configs)
        }
        self._run = None
        self._replies = {}
        self._counter = 0

    def set_run(self, run):
        self._run = run

    @property
    def run(self):
        return self._run

    def create_message(self, content, message_type, dst_node_id, group_id, ttl=None):
        return Message(content, dst_node_id, message_type, ttl=ttl, group_id=group_id)

    def get_node_ids(self):
        return list(self._contexts)

    def push_messages(self, messages):
        """Run the ClientApp on every message now; return the message ids."""
        from flwr.app import Error

        ids = []
        for message in sorted(messages, key=lambda m: m.metadata.dst_node_id):
            node = int(message.metadata.dst_node_id)
            self._counter += 1
            metadata = copy.copy(message.metadata)
            metadata.__dict__["_message_id"] = f"in-process-{self._counter}"
            received = Message(content=copy.deepcopy(message.content), metadata=metadata)
            try:
                reply = self.client_app(received, self._contexts[node])
                reply = Message(content=copy.deepcopy(reply.content), reply_to=received)
            except Exception as exc:  # a failing ClientApp is a failed reply, as in Flower
                reply = Message(Error(code=0, reason=repr(exc)), reply_to=received)
            self._replies[metadata.message_id] = reply
            ids.append(metadata.message_id)
        return ids

    def pull_messages(self, message_ids):
        """The replies to the given message ids (each returned once)."""
        return [self._replies.pop(i) for i in message_ids if i in self._replies]

    def send_and_receive(self, messages, *, timeout=None):
        """Run the ClientApp on every message and return the replies in node-id order."""
        return self.pull_messages(self.push_messages(messages))


def _run_in_process(server_app, client_app, node_configs, run_config):
    """Run a ServerApp against a ClientApp on in-process nodes (see ``_InProcessGrid``)."""
    from flwr.app import Context
    from flwr.supercore.task_identity import TaskIdentity

    grid = _InProcessGrid(client_app, node_configs, run_config)
    saved = (TaskIdentity._task_id, TaskIdentity._run_id, TaskIdentity._node_id)
    try:
        TaskIdentity.task_id, TaskIdentity.run_id, TaskIdentity.node_id = 1, 1, 0
        context = Context(
            run_id=1, node_id=0, node_config={}, state=RecordDict(), run_config=dict(run_config)
        )
        return server_app(grid, context)
    finally:
        TaskIdentity._task_id, TaskIdentity._run_id, TaskIdentity._node_id = saved
