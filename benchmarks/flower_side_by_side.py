"""Side by side on Flower: our RandEigen strategy against Flower's robust strategies (issue 15).

The example Flower App (examples/flower_app: digits, 20 SuperNodes, 64-32-10 MLP, 20
rounds of 2 local epochs) runs unchanged -- its ServerApp and ClientApp -- under no attack,
sign flip (x10), ALIE, IPM (x10), HiDRA, min-max, Gaussian noise (x100) and backdoor, with
20 % byzantine nodes, for Flower's FedAvg, FedMedian, FedTrimmedAvg, Krum, MultiKrum, Bulyan
and our RobustFedAvg(RandEigenMean(eps=0.2, tol=2.0)). Model-poisoning attacks are
simulated on the server (ByzantineStrategy around every strategy); the backdoor runs on
the attackers' ClientApps. Reported per strategy and attack (mean ± std over seeds): final
test accuracy, backdoor success (triggered test inputs of other classes classified as the
target), aggregation time per round (the strategy's aggregate_train, timed here).

The runs use the in-process grid of ``sklearn_robust.integrations.flower`` (the ClientApp
called node after node in this process): the same apps as ``flwr run``, without Ray's
start-up cost; tests/test_flower_engines.py checks that Ray gives the same model.

Also the oracle check: on the honest replies of one real round of the app, Flower's
FedMedian / FedTrimmedAvg / Krum / MultiKrum against our CoordinateMedian / TrimmedMean /
Krum / MultiKrum (max abs difference of the aggregates).

Run:  python benchmarks/flower_side_by_side.py            (3 seeds, the full grid)
      python benchmarks/flower_side_by_side.py --quick    (CI size: 1 seed, 3 rounds)
Results: benchmarks/results/flower/ (side_by_side.md, runs.csv)
"""

import argparse
import copy
import gc
import json
import logging
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import tomli
from joblib import Parallel, delayed

ROOT = Path(__file__).resolve().parents[1]
APP_DIR = ROOT / "examples" / "flower_app"
RESULTS = Path(__file__).parent / "results" / "flower"
STRATEGY_NAMES = {
    "fedavg": "FedAvg",
    "fedmedian": "FedMedian",
    "fedtrimmedavg": "FedTrimmedAvg",
    "krum": "Krum",
    "multikrum": "MultiKrum",
    "bulyan": "Bulyan",
    "randeigen": "RandEigen (ours)",
}
ATTACKS = ("none", "sign-flip", "alie", "ipm", "hidra", "min-max", "gaussian", "backdoor")


def _app_config():
    with open(APP_DIR / "pyproject.toml", "rb") as f:
        return tomli.load(f)["tool"]["flwr"]["app"]["config"]


def _quiet():
    import flwr.common.logger as flower_logger

    flower_logger.FLOWER_LOGGER.setLevel(logging.ERROR)


def one_run(strategy, attack, seed, rounds, n_nodes):
    """Run the example app once in process; return its final metrics and timings."""
    if str(APP_DIR) not in sys.path:
        sys.path.insert(0, str(APP_DIR))
    import torch
    from robust_digits import server_app as server_module
    from robust_digits.client_app import app as client_app

    from sklearn_robust.integrations.flower import _run_in_process

    _quiet()
    torch.set_num_threads(1)
    # Flower's Bulyan calls gc.collect() for every reply (ArrayRecord.to_numpy_ndarrays with
    # keep_input=False): with torch loaded that is ~0.5 s a call. Freezing the objects that
    # exist after the imports keeps the collections short without changing any result.
    gc.collect()
    gc.freeze()
    timings = []
    make_strategy = server_module.make_strategy

    def timed_strategy(*args, **kwargs):
        built = make_strategy(*args, **kwargs)
        inner = built.aggregate_train

        def aggregate_train(server_round, replies):
            start = time.perf_counter()
            out = inner(server_round, replies)
            timings.append(time.perf_counter() - start)
            return out

        built.aggregate_train = aggregate_train
        return built

    server_module.make_strategy = timed_strategy
    try:
        with tempfile.TemporaryDirectory() as out:
            config = {
                **_app_config(),
                "strategy": strategy,
                "attack": attack,
                "seed": seed,
                "num-server-rounds": rounds,
                "num-clients": n_nodes,
                "fraction-evaluate": 0.0,
                "output-dir": out,
            }
            nodes = [{"partition-id": i, "num-partitions": n_nodes} for i in range(n_nodes)]
            start = time.perf_counter()
            _run_in_process(server_module.app, client_app, nodes, config)
            wall = time.perf_counter() - start
            final = json.loads((Path(out) / "result.json").read_text())["final"]
    finally:
        server_module.make_strategy = make_strategy
    return {
        "strategy": strategy,
        "attack": attack,
        "seed": seed,
        "accuracy": 100 * final["accuracy"],
        "backdoor_success": 100 * final["backdoor-success"],
        "aggregation_ms": 1000 * float(np.mean(timings)),
        "wall_s": wall,
    }


def oracle(n_nodes, seed=0):
    """Max |Flower - ours| on the honest replies of the app's first round."""
    if str(APP_DIR) not in sys.path:
        sys.path.insert(0, str(APP_DIR))
    from flwr.app import ArrayRecord, ConfigRecord
    from flwr.serverapp.strategy import FedAvg, FedMedian, FedTrimmedAvg
    from flwr.serverapp.strategy import Krum as FlowerKrum
    from flwr.serverapp.strategy import MultiKrum as FlowerMultiKrum
    from flwr.supercore.task_identity import TaskIdentity
    from robust_digits.client_app import app as client_app
    from robust_digits.task import make_model

    from sklearn_robust.estimators import CoordinateMedian, Krum, MultiKrum, TrimmedMean
    from sklearn_robust.integrations.flower import RobustFedAvg, _InProcessGrid

    _quiet()
    f = int(0.2 * n_nodes)
    config = {**_app_config(), "seed": seed, "attack": "none", "num-clients": n_nodes}
    grid = _InProcessGrid(
        client_app, [{"partition-id": i, "num-partitions": n_nodes} for i in range(n_nodes)], config
    )
    saved = (TaskIdentity._task_id, TaskIdentity._run_id, TaskIdentity._node_id)
    try:
        TaskIdentity.task_id, TaskIdentity.run_id, TaskIdentity.node_id = 1, 1, 0
        messages = FedAvg(min_available_nodes=n_nodes).configure_train(
            1, ArrayRecord(make_model(seed).state_dict()), ConfigRecord(), grid
        )
        replies = grid.send_and_receive(messages)
    finally:
        TaskIdentity._task_id, TaskIdentity._run_id, TaskIdentity._node_id = saved
    cases = {
        "FedMedian vs CoordinateMedian (per layer)": (
            FedMedian(),
            RobustFedAvg(CoordinateMedian(), by="layer"),
        ),
        "FedTrimmedAvg(beta=0.2) vs TrimmedMean(trim=0.2) (per layer)": (
            FedTrimmedAvg(beta=0.2),
            RobustFedAvg(TrimmedMean(trim=0.2), by="layer"),
        ),
        f"Krum(f={f}) vs Krum(n_byzantine={f}) (whole model)": (
            FlowerKrum(num_malicious_nodes=f),
            RobustFedAvg(Krum(n_byzantine=f), by="model"),
        ),
        f"MultiKrum(f={f}, m={n_nodes - f}) vs MultiKrum, weighted by num-examples": (
            FlowerMultiKrum(num_malicious_nodes=f, num_nodes_to_select=n_nodes - f),
            RobustFedAvg(MultiKrum(n_byzantine=f), by="model", weighted=True),
        ),
    }
    rows = []
    for name, (theirs, ours) in cases.items():
        a, _ = theirs.aggregate_train(1, copy.deepcopy(replies))
        b, _ = ours.aggregate_train(1, copy.deepcopy(replies))
        diff = max(float(np.abs(a[k].numpy() - b[k].numpy()).max()) for k in a.keys())
        scale = max(float(np.abs(a[k].numpy()).max()) for k in a.keys())
        rows.append((name, diff, scale))
    return rows


def _table(runs, value, decimals):
    import pandas as pd

    frame = pd.DataFrame(runs)
    frame["seed"] = frame["seed"].astype(int)
    grouped = frame.groupby(["attack", "strategy"])[value]
    mean, std = grouped.mean().unstack(), grouped.std().unstack()
    columns = [s for s in STRATEGY_NAMES if s in mean.columns]
    attacks = [a for a in ATTACKS if a in mean.index]
    header = "| attack | " + " | ".join(STRATEGY_NAMES[c] for c in columns) + " |"
    lines = [header, "|---" * (len(columns) + 1) + "|"]
    multi = frame["seed"].nunique() > 1
    for attack in attacks:
        cells = []
        for c in columns:
            cell = f"{mean.loc[attack, c]:.{decimals}f}"
            if multi:
                cell += f" ± {std.loc[attack, c]:.{decimals}f}"
            cells.append(cell)
        lines.append(f"| {attack} | " + " | ".join(cells) + " |")
    return "\n".join(lines), mean


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="CI size: 1 seed, 3 rounds")
    parser.add_argument("--seeds", type=int, nargs="+", default=None)
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--nodes", type=int, default=20)
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--output", default=None, help="results folder (default: committed one)")
    parser.add_argument("--resume", action="store_true", help="keep the runs in runs.csv")
    args = parser.parse_args(argv)
    seeds = args.seeds or ([0] if args.quick else [0, 1, 2])
    rounds = args.rounds or (3 if args.quick else int(_app_config()["num-server-rounds"]))
    output = Path(args.output) if args.output else (RESULTS / "quick" if args.quick else RESULTS)
    jobs = [(s, a, seed) for seed in seeds for a in ATTACKS for s in STRATEGY_NAMES]
    import pandas as pd

    output.mkdir(parents=True, exist_ok=True)
    # Every finished run is appended to runs.csv at once; --resume skips the runs already
    # there (same rounds and nodes), so an interrupted grid continues where it stopped.
    csv = output / "runs.csv"
    done = []
    if args.resume and csv.exists():
        previous = pd.read_csv(csv)
        previous = previous[(previous["rounds"] == rounds) & (previous["nodes"] == args.nodes)]
        done = previous.to_dict("records")
    elif csv.exists():
        csv.unlink()
    finished = {(r["strategy"], r["attack"], int(r["seed"])) for r in done}
    todo = [job for job in jobs if job not in finished]
    start = time.perf_counter()
    runs = list(done)
    outputs = Parallel(n_jobs=args.n_jobs, verbose=5, return_as="generator_unordered")(
        delayed(one_run)(s, a, seed, rounds, args.nodes) for s, a, seed in todo
    )
    for run in outputs:
        run = {**run, "rounds": rounds, "nodes": args.nodes}
        runs.append(run)
        pd.DataFrame([run]).to_csv(csv, mode="a", header=not csv.exists(), index=False)
    wall = time.perf_counter() - start + sum(float(r["wall_s"]) for r in done) / args.n_jobs
    oracle_rows = oracle(args.nodes)
    accuracy, acc_mean = _table(runs, "accuracy", 1)
    backdoor, bd_mean = _table(runs, "backdoor_success", 1)
    timing, _ = _table(runs, "aggregation_ms", 2)

    checks = []
    ours = "randeigen"
    builtins = ["fedmedian", "fedtrimmedavg", "krum", "multikrum", "bulyan"]
    for attack in acc_mean.index:
        best = max(builtins, key=lambda b: acc_mean.loc[attack, b])
        gap = acc_mean.loc[attack, ours] - acc_mean.loc[attack, best]
        verdict = "PASS" if gap >= 0 else ("within 1 point" if gap >= -1 else "FAIL")
        checks.append(
            f"* {attack}: RandEigen {acc_mean.loc[attack, ours]:.1f} vs best built-in "
            f"{STRATEGY_NAMES[best]} {acc_mean.loc[attack, best]:.1f} ({gap:+.1f}): {verdict}"
        )
    no_attack_gap = acc_mean.loc["none", ours] - acc_mean.loc["none", "fedavg"]
    checks.append(
        f"* no attack: RandEigen - FedAvg = {no_attack_gap:+.1f} points "
        f"({'PASS' if no_attack_gap >= -1 else 'FAIL'}, target >= -1)"
    )
    if "backdoor" in bd_mean.index:
        checks.append(
            f"* backdoor success: RandEigen {bd_mean.loc['backdoor', ours]:.1f} % "
            f"(target < 10), FedAvg {bd_mean.loc['backdoor', 'fedavg']:.1f} % (> 50 expected)"
        )
    command = "python benchmarks/flower_side_by_side.py" + (" --quick" if args.quick else "")
    text = "\n".join(
        [
            "# Side by side on Flower (issue 15, item 8)",
            "",
            f"Command: `{command}`; {len(jobs)} runs, wall time {wall / 60:.1f} min on the "
            f"2-core machine shared with other jobs ({args.n_jobs} joblib workers, one torch "
            "thread each).",
            f"Setting: the example Flower App, digits, {args.nodes} nodes, 20 % byzantine "
            f"({int(0.2 * args.nodes)} nodes), {rounds} rounds, seeds {seeds}; every strategy "
            "is told f = 20 %. Model poisoning simulated on the server by ByzantineStrategy; "
            "the backdoor on the attackers' ClientApps.",
            "",
            "## Final test accuracy (%, higher is better)",
            "",
            accuracy,
            "",
            "## Backdoor success (%, lower is better)",
            "",
            backdoor,
            "",
            "## Aggregation time per round (ms, the strategy's aggregate_train)",
            "",
            timing,
            "",
            "## Acceptance checks (mean over seeds)",
            "",
            *checks,
            "",
            "## Oracle: Flower's strategies vs ours on identical replies",
            "",
            "Honest replies of the app's first round (20 nodes, float32 models).",
            "",
            "| pair | max abs difference | max abs value |",
            "|---|---:|---:|",
            *[f"| {name} | {diff:.2e} | {scale:.2e} |" for name, diff, scale in oracle_rows],
            "",
            "Conventions: both Krums score a node by the squared distances to its n - f - 2 "
            "nearest neighbours (ByzFL uses n - f - 1); Flower's MultiKrum averages the "
            "selected models weighted by num-examples, hence `weighted=True` on our side "
            "(our MultiKrum alone is unweighted); FedTrimmedAvg and TrimmedMean cut "
            "int(beta * n) values at each end; Flower computes in float32, we accumulate in "
            "float64 and cast back, so the differences are float32 rounding.",
            "",
        ]
    )
    (output / "side_by_side.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
