"""ServerApp: the chosen strategy, the chosen attack, central evaluation, results on disk."""

import json
from pathlib import Path

import numpy as np
from flwr.app import ArrayRecord, ConfigRecord, Context, MetricRecord
from flwr.serverapp import Grid, ServerApp

from robust_digits.task import evaluate, load_split, make_model, make_strategy, model_attack
from sklearn_robust.integrations.flower import ByzantineStrategy

app = ServerApp()


@app.main()
def main(grid: Grid, context: Context) -> None:
    """Run ``num-server-rounds`` rounds of the strategy, under the attack of the run config."""
    cfg = context.run_config
    seed = int(cfg["seed"])
    fraction = float(cfg["byzantine-fraction"])
    strategy = make_strategy(
        str(cfg["strategy"]),
        num_clients=int(cfg["num-clients"]),
        byzantine_fraction=fraction,
        fraction_evaluate=float(cfg["fraction-evaluate"]),
        seed=seed,
    )
    adversary = model_attack(str(cfg["attack"]))
    if adversary is not None:
        # Model poisoning, simulated on the server: the byzantine nodes' replies are
        # replaced by what the adversary crafts from the honest replies of the round.
        strategy = ByzantineStrategy(strategy, adversary, byzantine=fraction, random_state=seed)

    _, X_test, _, y_test = load_split(seed)
    model = make_model(seed)

    def central_evaluate(server_round: int, arrays: ArrayRecord) -> MetricRecord:
        model.load_state_dict(arrays.to_torch_state_dict())
        loss, accuracy, success = evaluate(model, X_test, y_test)
        return MetricRecord({"loss": loss, "accuracy": accuracy, "backdoor-success": success})

    result = strategy.start(
        grid=grid,
        initial_arrays=ArrayRecord(make_model(seed).state_dict()),
        num_rounds=int(cfg["num-server-rounds"]),
        train_config=ConfigRecord({"lr": float(cfg["lr"])}),
        evaluate_fn=central_evaluate,
    )

    output_dir = str(cfg.get("output-dir", ""))
    if output_dir:
        _write(Path(output_dir), cfg, result)


def _write(folder, cfg, result):
    """result.json (run config, central metrics and node records per round), model.npz."""
    folder.mkdir(parents=True, exist_ok=True)
    rounds = []
    for server_round, metrics in sorted(result.evaluate_metrics_serverapp.items()):
        entry = {"round": server_round, **dict(metrics)}
        train = result.train_metrics_clientapp.get(server_round)
        if train is not None:
            entry.update({f"train/{k}": v for k, v in dict(train).items()})
        rounds.append(entry)
    summary = {"run_config": dict(cfg), "rounds": rounds, "final": rounds[-1] if rounds else {}}
    (folder / "result.json").write_text(json.dumps(summary, indent=1))
    np.savez(folder / "model.npz", **{k: v.numpy() for k, v in result.arrays.items()})
