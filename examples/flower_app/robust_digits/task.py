"""The pieces both apps share: data, model, local training, strategies and attacks."""

import functools

import numpy as np
import torch
from flwr.serverapp.strategy import (
    Bulyan,
    FedAvg,
    FedMedian,
    FedTrimmedAvg,
    Krum,
    MultiKrum,
)
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from sklearn_robust.adversaries import ALIE, IPM, Backdoor, GaussianNoise, HiDRA, MinMax, SignFlip
from sklearn_robust.estimators import RandEigenMean, partition_clients
from sklearn_robust.integrations.flower import RobustFedAvg
from sklearn_robust.nets import MLPModule, make_torch_generator, reset_linear_parameters

STRATEGIES = ("randeigen", "fedavg", "fedmedian", "fedtrimmedavg", "krum", "multikrum", "bulyan")
ATTACKS = ("none", "sign-flip", "alie", "ipm", "hidra", "min-max", "gaussian", "backdoor")
TARGET_CLASS = 0
# The trigger of the library's federated experiment: a bright 2x2 square in the bottom-right
# corner of the 8x8 digit (pixels 54, 55, 62, 63), which digits rarely fill.
TRIGGER = (54, 55, 62, 63)


@functools.lru_cache(maxsize=8)
def load_split(seed):
    """Digits in [0, 1], split 70/30 (stratified, seeded): X_train, X_test, y_train, y_test.

    Cached: a node trains every round, and reading the digits' file costs more than a
    round of local training. Callers index the arrays (copies) and never modify them.
    """
    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    return train_test_split(X, y, test_size=0.3, random_state=seed, stratify=y)


def partition(partition_id, num_partitions, seed):
    """The training and test rows of one node (iid split of each, seeded)."""
    X_train, X_test, y_train, y_test = load_split(seed)
    train_rows = partition_clients(y_train, num_partitions, random_state=seed)[partition_id]
    test_rows = partition_clients(y_test, num_partitions, random_state=seed + 1)[partition_id]
    return X_train[train_rows], y_train[train_rows], X_test[test_rows], y_test[test_rows]


def make_model(seed):
    """A 64-32-10 MLP, initialised from ``seed`` (no global RNG)."""
    model = MLPModule(64, 10, hidden_layer_sizes=(32,))
    reset_linear_parameters(model, make_torch_generator(seed))
    return model


def backdoor():
    """The backdoor of the run: a bright 2x2 corner square relabelled to class 0."""
    return Backdoor(target_class=TARGET_CLASS, trigger=list(TRIGGER), trigger_value=1.0)


def model_attack(name):
    """The poisoning adversary the server-side simulation runs (None for none/backdoor)."""
    attacks = {
        "sign-flip": SignFlip(scale=10.0),
        "alie": ALIE(),
        "ipm": IPM(epsilon=10.0),
        "hidra": HiDRA(),
        "min-max": MinMax(),
        "gaussian": GaussianNoise(scale=100.0),
    }
    if name not in ATTACKS:
        raise ValueError(f"attack must be one of {ATTACKS}; got {name!r}.")
    return attacks.get(name)


def make_strategy(name, *, num_clients, byzantine_fraction, fraction_evaluate, seed):
    """One of the compared strategies, each told the byzantine fraction where it takes one."""
    n_malicious = int(np.floor(round(byzantine_fraction * num_clients, 9)))
    common = {
        "fraction_evaluate": fraction_evaluate,
        "min_train_nodes": num_clients,
        "min_available_nodes": num_clients,
        "min_evaluate_nodes": 0 if fraction_evaluate == 0 else 2,
    }
    if name == "randeigen":
        # tol=2.0: the federated experiment's setting for anisotropic model updates.
        return RobustFedAvg(
            RandEigenMean(eps=byzantine_fraction, tol=2.0), by="model", random_state=seed, **common
        )
    if name == "fedavg":
        return FedAvg(**common)
    if name == "fedmedian":
        return FedMedian(**common)
    if name == "fedtrimmedavg":
        return FedTrimmedAvg(beta=byzantine_fraction, **common)
    if name == "krum":
        return Krum(num_malicious_nodes=n_malicious, **common)
    if name == "multikrum":
        return MultiKrum(
            num_malicious_nodes=n_malicious, num_nodes_to_select=num_clients - n_malicious, **common
        )
    if name == "bulyan":
        return Bulyan(num_malicious_nodes=n_malicious, **common)
    raise ValueError(f"strategy must be one of {STRATEGIES}; got {name!r}.")


def train_local(model, X, y, *, epochs, lr, batch_size, generator):
    """Mini-batch SGD (momentum 0.9) on the node's rows; returns the mean training loss."""
    X_t, y_t = torch.as_tensor(X), torch.as_tensor(y, dtype=torch.int64)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    loss_fn = torch.nn.CrossEntropyLoss()
    model.train()
    losses = []
    n_threads = torch.get_num_threads()
    try:
        # Batches of 16 rows: more intra-op threads only add synchronisation.
        torch.set_num_threads(1)
        for _ in range(epochs):
            order = torch.randperm(X_t.shape[0], generator=generator)
            for start in range(0, X_t.shape[0], batch_size):
                batch = order[start : start + batch_size]
                optimizer.zero_grad()
                loss = loss_fn(model(X_t[batch]), y_t[batch])
                loss.backward()
                optimizer.step()
                losses.append(float(loss.detach()))
    finally:
        torch.set_num_threads(n_threads)
    return float(np.mean(losses))


def evaluate(model, X, y):
    """(loss, accuracy, backdoor success) of ``model`` on (X, y).

    Backdoor success: the fraction of rows of other classes than the target that the model
    classifies as the target once the trigger is stamped on them.
    """
    model.eval()
    with torch.no_grad():
        logits = model(torch.as_tensor(X))
        loss = float(torch.nn.functional.cross_entropy(logits, torch.as_tensor(y)))
        accuracy = float((logits.argmax(1).numpy() == y).mean())
        others = y != TARGET_CLASS
        triggered = torch.as_tensor(backdoor().apply_trigger(X[others]))
        success = float((model(triggered).argmax(1).numpy() == TARGET_CLASS).mean())
    return loss, accuracy, success
