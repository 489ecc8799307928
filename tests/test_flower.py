"""Flower integration without an engine: strategies on Messages built in-process.

* RobustFedAvg.aggregate_train on replies built here: removed nodes, dtypes, failed replies,
  metrics, inputs untouched.
* Oracle: Flower's FedMedian / FedTrimmedAvg / Krum / MultiKrum against our
  CoordinateMedian / TrimmedMean / Krum / MultiKrum on identical replies.
* ByzantineStrategy: replaced replies, for Flower's strategies and ours.
* The example app end to end on the in-process grid (no Ray).
"""

import copy
import sys
import time
from pathlib import Path

import numpy as np
import pytest

flwr = pytest.importorskip(
    "flwr", reason='the Flower extra is not installed (pip install "sklearn-robust[flower]")'
)

from flwr.app import Array, ArrayRecord, Error, Message, Metadata, MetricRecord, RecordDict  # noqa: E402
from flwr.serverapp.strategy import FedAvg, FedMedian, FedTrimmedAvg  # noqa: E402
from flwr.serverapp.strategy import Krum as FlowerKrum  # noqa: E402
from flwr.serverapp.strategy import MultiKrum as FlowerMultiKrum  # noqa: E402

from sklearn_robust.adversaries import ALIE, SignFlip  # noqa: E402
from sklearn_robust.estimators import (  # noqa: E402
    CoordinateMedian,
    Krum,
    MultiKrum,
    RandEigenMean,
    TrimmedMean,
)
from sklearn_robust.integrations.flower import (  # noqa: E402
    ByzantineStrategy,
    RobustFedAvg,
    _run_in_process,
    byzantine_partitions,
)

APP_DIR = Path(__file__).resolve().parents[1] / "examples" / "flower_app"
NODES = [11, 22, 33, 44, 55, 66, 77, 88, 99, 2**63 + 5]  # the last id needs 64 unsigned bits


def _metadata(node, message_type="train"):
    return Metadata(
        run_id=1,
        message_id=f"reply-{node}",
        src_node_id=node,
        dst_node_id=0,
        reply_to_message_id=f"ins-{node}",
        group_id="1",
        created_at=time.time(),
        ttl=3600.0,
        message_type=message_type,
    )


def _reply(node, arrays, num_examples=10, loss=1.0):
    content = RecordDict(
        {
            "arrays": ArrayRecord({k: Array(np.asarray(v)) for k, v in arrays.items()}),
            "metrics": MetricRecord({"num-examples": num_examples, "train-loss": loss}),
        }
    )
    return Message(content=content, metadata=_metadata(node))


def _models(n=10, n_bad=2, seed=0, shift=30.0):
    rng = np.random.default_rng(seed)
    base = {"w": rng.normal(size=(4, 3)), "b": rng.normal(size=3)}
    models = []
    for i in range(n):
        bad = i >= n - n_bad
        model = {
            k: (v + 0.01 * rng.normal(size=v.shape) + (shift if bad else 0.0)).astype(np.float32)
            for k, v in base.items()
        }
        model["steps"] = np.array(5 + (10**6 if bad else i % 2), dtype=np.int64)
        models.append(model)
    return models


def _replies(models, nodes=NODES, examples=None):
    examples = examples or [10] * len(models)
    return [
        _reply(node, m, e, loss=float(i))
        for i, (node, m, e) in enumerate(zip(nodes, models, examples))
    ]


def _numpy(record):
    return {k: v.numpy() for k, v in record.items()}


# -- RobustFedAvg -------------------------------------------------------------------------


@pytest.mark.parametrize("by", ["model", "layer"])
@pytest.mark.parametrize("aggregator", [MultiKrum(n_byzantine=2), RandEigenMean(eps=0.2, tol=2.0)])
def test_robust_fedavg_removes_the_byzantine_nodes(by, aggregator):
    models = _models()
    replies = _replies(models)
    before = [_numpy(r.content["arrays"]) for r in replies]
    strategy = RobustFedAvg(aggregator, by=by, random_state=0)
    arrays, metrics = strategy.aggregate_train(1, replies)
    out = _numpy(arrays)
    kept = [NODES.index(node) for node in metrics["kept-nodes"]]
    assert set(NODES[-2:]) <= set(metrics["removed-nodes"])
    assert sorted(metrics["kept-nodes"] + metrics["removed-nodes"]) == sorted(NODES)
    assert metrics["nodes"] == sorted(NODES)
    assert metrics["aggregation-time"] >= 0
    if isinstance(aggregator, MultiKrum):
        assert sorted(metrics["removed-nodes"]) == sorted(NODES[-2:])
    if by == "model":  # one group: the aggregate is the mean of the kept models
        expected = np.mean([models[i]["w"].astype(np.float64) for i in kept], axis=0)
        np.testing.assert_allclose(out["w"], expected, atol=1e-6)
        # Training metrics come from the kept nodes only (their losses are their indices).
        assert metrics["train-loss"] == pytest.approx(np.mean(kept))
    honest = np.mean([m["w"].astype(np.float64) for m in models[:-2]], axis=0)
    np.testing.assert_allclose(out["w"], honest, atol=0.02)
    assert out["w"].dtype == np.float32 and out["steps"].dtype == np.int64
    assert int(out["steps"]) in (5, 6)
    # The replies are untouched.
    for reply, old in zip(replies, before):
        for k, v in _numpy(reply.content["arrays"]).items():
            np.testing.assert_array_equal(v, old[k])


def test_robust_fedavg_skips_failed_replies_like_fedavg():
    replies = _replies(_models())
    failed = Message(Error(code=1, reason="node crashed"), metadata=_metadata(12345))
    arrays, metrics = RobustFedAvg(CoordinateMedian(), by="layer").aggregate_train(
        1, [*replies, failed]
    )
    assert 12345 not in metrics["nodes"] and len(metrics["nodes"]) == 10
    assert RobustFedAvg().aggregate_train(1, [failed]) == (None, None)


def test_robust_fedavg_weighted_follows_num_examples():
    models = _models(n_bad=0)
    examples = list(range(1, 11))
    arrays, _ = RobustFedAvg(MultiKrum(n_byzantine=0), weighted=True).aggregate_train(
        1, _replies(models, examples=examples)
    )
    w = np.asarray(examples, float)
    expected = np.tensordot(w / w.sum(), np.stack([m["w"] for m in models]).astype(float), 1)
    np.testing.assert_allclose(arrays["w"].numpy(), expected, atol=1e-6)
    with pytest.raises(ValueError, match="does not take client weights"):
        RobustFedAvg(CoordinateMedian(), weighted=True).aggregate_train(1, _replies(models))


def test_robust_fedavg_is_reproducible_per_round():
    replies = _replies(_models(n=20, n_bad=4))
    a, _ = RobustFedAvg(random_state=3).aggregate_train(2, copy.deepcopy(replies))
    b, _ = RobustFedAvg(random_state=3).aggregate_train(2, copy.deepcopy(replies))
    np.testing.assert_array_equal(a["w"].numpy(), b["w"].numpy())


# -- oracle: Flower's built-ins against ours on identical replies ---------------------------


def _float_models(n=10, seed=1):
    rng = np.random.default_rng(seed)
    models = [
        {
            "w": rng.normal(size=(5, 4)).astype(np.float32),
            "b": rng.normal(size=4).astype(np.float32),
        }
        for _ in range(n)
    ]
    for m in models[-2:]:
        m["w"] = m["w"] + 8.0
    return models


ORACLE_CASES = {
    # Flower's FedMedian: np.median per layer; ours: coordinate median per layer.
    "FedMedian": (lambda: FedMedian(), lambda: RobustFedAvg(CoordinateMedian(), by="layer")),
    # FedTrimmedAvg(beta) cuts int(beta * n) values at each end, as TrimmedMean(trim).
    "FedTrimmedAvg": (
        lambda: FedTrimmedAvg(beta=0.2),
        lambda: RobustFedAvg(TrimmedMean(trim=0.2), by="layer"),
    ),
    # Krum: both score with the n - f - 2 nearest neighbours on the flattened model.
    "Krum": (
        lambda: FlowerKrum(num_malicious_nodes=2),
        lambda: RobustFedAvg(Krum(n_byzantine=2), by="model"),
    ),
    # MultiKrum: Flower averages the selected models weighted by num-examples.
    "MultiKrum": (
        lambda: FlowerMultiKrum(num_malicious_nodes=2, num_nodes_to_select=8),
        lambda: RobustFedAvg(MultiKrum(n_byzantine=2, n_selected=8), by="model", weighted=True),
    ),
}


@pytest.mark.parametrize("name", list(ORACLE_CASES))
def test_oracle_flower_builtins_equal_ours(name):
    models = _float_models()
    examples = [5, 9, 13, 7, 11, 6, 10, 8, 12, 4]
    flower_factory, ours_factory = ORACLE_CASES[name]
    # Flower's FedMedian and FedTrimmedAvg pop the arrays out of the replies: fresh copies.
    theirs, _ = flower_factory().aggregate_train(1, _replies(models, examples=examples))
    ours, _ = ours_factory().aggregate_train(1, _replies(models, examples=examples))
    for key in ("w", "b"):
        a, b = theirs[key].numpy(), ours[key].numpy()
        assert a.dtype == b.dtype == np.float32
        # Differences are float32 rounding only (Flower sums in float32, we in float64).
        assert np.abs(a - b).max() <= 2e-6, (name, key, np.abs(a - b).max())


# -- ByzantineStrategy ---------------------------------------------------------------------


class _Spy(FedAvg):
    """A FedAvg that remembers the replies it was given."""

    def aggregate_train(self, server_round, replies):
        self.seen = list(replies)
        return super().aggregate_train(server_round, self.seen)


class _Grid:
    def __init__(self, nodes):
        self.nodes = nodes

    def get_node_ids(self):
        return list(self.nodes)


def _configure(strategy, global_model, nodes=NODES):
    record = ArrayRecord({k: Array(np.asarray(v)) for k, v in global_model.items()})
    strategy._global = {k: np.asarray(v) for k, v in global_model.items()}
    strategy.byzantine_nodes = strategy._choose_byzantine(_Grid(nodes))
    return record


def test_byzantine_strategy_replaces_replies_with_the_adversary_updates():
    models = _models(n_bad=0)
    global_model = {k: v - 0.05 for k, v in models[0].items()}
    global_model["steps"] = models[0]["steps"]
    spy = _Spy()
    attacked = ByzantineStrategy(spy, SignFlip(scale=10.0), byzantine=[NODES[2], NODES[5]])
    _configure(attacked, global_model)
    replies = _replies(models)
    before = [_numpy(r.content["arrays"]) for r in replies]
    _, metrics = attacked.aggregate_train(1, replies)
    assert sorted(metrics["byzantine-nodes"]) == sorted([NODES[2], NODES[5]])
    seen = {int(m.metadata.src_node_id): _numpy(m.content["arrays"]) for m in spy.seen}
    for i, node in enumerate(NODES):
        update = models[i]["w"].astype(np.float64) - global_model["w"]
        expected = global_model["w"] + (-10.0 * update if node in (NODES[2], NODES[5]) else update)
        np.testing.assert_allclose(seen[node]["w"], expected, atol=1e-5)
        assert seen[node]["steps"] == models[i]["steps"]  # integer arrays are left alone
        assert seen[node]["w"].dtype == np.float32
    for reply, old in zip(replies, before):  # the original replies are untouched
        np.testing.assert_array_equal(_numpy(reply.content["arrays"])["w"], old["w"])


def test_byzantine_fraction_is_a_seeded_fixed_choice_and_attributes_delegate():
    attacked = ByzantineStrategy(
        FedMedian(fraction_train=0.5), ALIE(), byzantine=0.2, random_state=0
    )
    chosen = attacked._choose_byzantine(_Grid(NODES))
    assert len(chosen) == 2 and set(chosen) <= set(NODES)
    assert chosen == ByzantineStrategy(FedMedian(), ALIE(), random_state=0)._choose_byzantine(
        _Grid(list(reversed(NODES)))
    )
    assert attacked.fraction_train == 0.5
    with pytest.raises(ValueError, match="poisoning adversary"):
        ByzantineStrategy(FedAvg(), CoordinateMedian())
    with pytest.raises(ValueError, match="Flower strategy"):
        ByzantineStrategy(object(), ALIE())


def test_attack_defeats_fedavg_but_not_robust_fedavg():
    models = _models(n_bad=0)
    global_model = {k: v - 0.05 for k, v in models[0].items()}
    honest = np.mean([m["w"].astype(np.float64) for m in models], axis=0)
    errors = {}
    for name, strategy in {
        "fedavg": FedAvg(),
        "randeigen": RobustFedAvg(RandEigenMean(eps=0.2), random_state=0),
    }.items():
        attacked = ByzantineStrategy(strategy, SignFlip(scale=10.0), byzantine=2, random_state=1)
        _configure(attacked, global_model)
        arrays, metrics = attacked.aggregate_train(1, _replies(models))
        errors[name] = np.abs(arrays["w"].numpy() - honest).max()
        if name == "randeigen":
            assert set(metrics["byzantine-nodes"]) <= set(metrics["removed-nodes"])
    assert errors["fedavg"] > 0.05 and errors["randeigen"] < 0.02


def test_byzantine_partitions():
    assert byzantine_partitions(10, 0.2).tolist() == [8, 9]
    seeded = byzantine_partitions(20, 0.2, random_state=1)
    assert len(seeded) == 4 and seeded.tolist() == sorted(seeded.tolist())
    np.testing.assert_array_equal(seeded, byzantine_partitions(20, 0.2, random_state=1))
    with pytest.raises(ValueError, match="at least one honest"):
        byzantine_partitions(3, 3)


# -- the example app on the in-process grid ---------------------------------------------------


def _example_apps(monkeypatch):
    import tomli

    monkeypatch.syspath_prepend(str(APP_DIR))
    from robust_digits.client_app import app as client_app
    from robust_digits.server_app import app as server_app

    with open(APP_DIR / "pyproject.toml", "rb") as f:
        config = tomli.load(f)["tool"]["flwr"]["app"]["config"]
    return server_app, client_app, config


def test_example_app_in_process_removes_the_attackers(monkeypatch, tmp_path):
    import json

    server_app, client_app, config = _example_apps(monkeypatch)
    nodes = [{"partition-id": i, "num-partitions": 10} for i in range(10)]
    results = {}
    for strategy in ("randeigen", "fedavg"):
        out = tmp_path / strategy
        run_config = {
            **config,
            "num-clients": 10,
            "num-server-rounds": 4,
            "strategy": strategy,
            "attack": "sign-flip",
            "fraction-evaluate": 0.0,
            "output-dir": str(out),
        }
        _run_in_process(server_app, client_app, nodes, run_config)
        results[strategy] = json.loads((out / "result.json").read_text())
    for entry in results["randeigen"]["rounds"][1:]:
        assert len(entry["train/byzantine-nodes"]) == 2
        assert set(entry["train/byzantine-nodes"]) <= set(entry["train/removed-nodes"])
    assert results["randeigen"]["final"]["accuracy"] > 0.8
    assert results["fedavg"]["final"]["accuracy"] < 0.3
    model = np.load(tmp_path / "randeigen" / "model.npz")
    assert all(np.isfinite(model[k]).all() for k in model.files)


def test_import_sklearn_robust_never_imports_flower():
    import subprocess

    code = (
        "import sys, sklearn_robust, sklearn_robust.estimators, sklearn_robust.integrations; "
        "assert 'flwr' not in sys.modules and 'ray' not in sys.modules, sorted(sys.modules)"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
    import sklearn_robust.integrations.flower as module

    assert "sklearn-robust[flower]" in module.__doc__
