"""ClientApp: local SGD on the node's digits; byzantine nodes of a backdoor run poison theirs."""

import torch
from flwr.app import ArrayRecord, Context, Message, MetricRecord, RecordDict
from flwr.clientapp import ClientApp

from robust_digits.task import backdoor, evaluate, make_model, partition, train_local
from sklearn_robust.integrations.flower import byzantine_partitions

app = ClientApp()


def _node(context):
    return int(context.node_config["partition-id"]), int(context.node_config["num-partitions"])


@app.train()
def train(msg: Message, context: Context):
    """Train the received global model on the node's rows and send it back."""
    cfg = context.run_config
    partition_id, num_partitions = _node(context)
    seed = int(cfg["seed"])
    server_round = int(msg.content["config"]["server-round"])
    X, y, _, _ = partition(partition_id, num_partitions, seed)

    model = make_model(seed)
    global_state = msg.content["arrays"].to_torch_state_dict()
    model.load_state_dict(global_state)

    # Data poisoning runs here, on the attacker's own node (Bagdasaryan et al.): triggered,
    # relabelled samples, then the update boosted by n_clients / n_byzantine.
    attackers = byzantine_partitions(num_partitions, float(cfg["byzantine-fraction"]), seed)
    poisoned = cfg["attack"] == "backdoor" and partition_id in attackers
    if poisoned:
        X, y = backdoor().poison_data(X, y, random_state=seed * 1000 + partition_id)

    generator = torch.Generator().manual_seed(seed * 100_003 + server_round * 1009 + partition_id)
    loss = train_local(
        model,
        X,
        y,
        epochs=int(cfg["local-epochs"]),
        lr=float(cfg["lr"]),
        batch_size=int(cfg["batch-size"]),
        generator=generator,
    )
    state = model.state_dict()
    if poisoned:
        boost = num_partitions / len(attackers)
        state = {k: global_state[k] + boost * (v - global_state[k]) for k, v in state.items()}
    content = RecordDict(
        {
            "arrays": ArrayRecord(state),
            "metrics": MetricRecord({"train-loss": loss, "num-examples": int(len(X))}),
        }
    )
    return Message(content=content, reply_to=msg)


@app.evaluate()
def evaluate_local(msg: Message, context: Context):
    """Evaluate the received global model on the node's test rows."""
    partition_id, num_partitions = _node(context)
    _, _, X_test, y_test = partition(partition_id, num_partitions, int(context.run_config["seed"]))
    model = make_model(0)
    model.load_state_dict(msg.content["arrays"].to_torch_state_dict())
    loss, accuracy, _ = evaluate(model, X_test, y_test)
    metrics = MetricRecord(
        {"eval-loss": loss, "eval-accuracy": accuracy, "num-examples": int(len(y_test))}
    )
    return Message(content=RecordDict({"metrics": metrics}), reply_to=msg)
