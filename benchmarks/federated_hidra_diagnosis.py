"""Why HiDRA breaks FILTERING but not NO-REGRET in the paper-scale federated benchmark.

Records the honest client updates of a clean FedAvg run in the paper-scale setting (digits,
100 clients, MLP 64-512-512-10, aggregation per layer), and at rounds 1, 4 and 8 poisons
them with HiDRA at the defenders' threshold sigma (20 of 100 clients) to see, layer by
layer, what FILTERING and NO-REGRET do with the byzantine rows:

* FILTERING: total weight of the byzantine rows (0.2 = kept at full weight);
* NO-REGRET: share of the 1000-coordinate chunks whose Krum pre-pruning drops them;
* the chunk geometry that decides the pruning: ``c**2 / trace`` (HiDRA's squared distance
  over the honest rows' total variance in the chunk; Krum drops the identical byzantine
  rows roughly when it exceeds 1.6) and the effective rank ``trace / lambda_max``;
* the bias of each aggregate relative to the norm of the honest mean update.

Run:  python benchmarks/federated_hidra_diagnosis.py   (about 2 minutes on 2 cores)
"""

from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from sklearn_robust.adversaries import HiDRA
from sklearn_robust.estimators import FederatedClassifier, FilteringMean, NoRegretMean
from sklearn_robust.experiments._federated_experiments import (
    PAPER_CHUNK_SIZE,
    PAPER_N_CLIENTS,
    PAPER_TRAINING,
)

RESULTS = Path(__file__).parent / "results" / "federated_paper"
ROUNDS = (1, 4, 8)


class _Log(list):
    def __deepcopy__(self, memo):  # clones share the log
        return self


class _Recorder(BaseEstimator):
    """The plain mean, keeping a float32 copy of every matrix it aggregates."""

    def __init__(self, log=None):
        self.log = log

    def fit(self, X, y=None):
        self.log.append(np.array(X, dtype=np.float32, copy=True))
        self.location_ = np.asarray(X, dtype=np.float64).mean(axis=0)
        return self


def _chunk_stats(X, byzantine, sigma):
    honest = np.asarray(X[~byzantine], dtype=np.float64)
    eps = byzantine.mean()
    c2 = (np.sqrt(20) - 1) * sigma / (eps**2 + (1 - eps) ** 2 * eps)
    ratios, ranks = [], []
    for start in range(0, X.shape[1], PAPER_CHUNK_SIZE):
        chunk = honest[:, start : start + PAPER_CHUNK_SIZE]
        chunk = chunk - chunk.mean(axis=0)
        gram = chunk @ chunk.T / (len(chunk) - 1)
        trace = float(np.trace(gram))
        top = float(np.linalg.eigvalsh(gram)[-1])
        ratios.append(c2 / trace if trace > 0 else np.inf)
        ranks.append(trace / top if top > 0 else 0.0)
    return np.asarray(ratios), np.asarray(ranks)


def main():
    X, y = load_digits(return_X_y=True)
    X_train, _, y_train, _ = train_test_split(X / 16.0, y, test_size=0.3, random_state=0,
                                              stratify=y)
    log = _Log()
    clf = FederatedClassifier(aggregator=_Recorder(log=log), random_state=0,
                              n_clients=PAPER_N_CLIENTS, **PAPER_TRAINING).fit(X_train, y_train)
    n_layers = len(list(clf.module_.parameters()))
    names = [name for name, _ in clf.module_.named_parameters()]
    # the clean-variance bound of the benchmark: largest chunk eigenvalue of clean rounds
    sigma = 0.0
    for matrix in log:
        for start in range(0, matrix.shape[1], PAPER_CHUNK_SIZE):
            chunk = np.asarray(matrix[:, start : start + PAPER_CHUNK_SIZE], dtype=np.float64)
            chunk = chunk - chunk.mean(axis=0)
            gram = chunk @ chunk.T / (len(chunk) - 1)
            sigma = max(sigma, float(np.linalg.eigvalsh(gram)[-1]))
    byzantine = np.zeros(PAPER_N_CLIENTS, dtype=bool)
    byzantine[np.random.RandomState(0).choice(PAPER_N_CLIENTS, 20, replace=False)] = True
    lines = [
        "| round | tensor | chunks | FILTERING weight on byzantine | NO-REGRET: chunks "
        "pruning them | median c^2/trace | median effective rank | median c^2/trace, "
        "per-chunk threshold | FILTERING bias / norm(mean) | NO-REGRET bias / norm(mean) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for round_ in ROUNDS:
        for layer in range(n_layers):
            X_layer = log[(round_ - 1) * n_layers + layer]
            poisoned = HiDRA(sigma=sigma).fit_poison(X_layer, byzantine=byzantine)
            honest_mean = X_layer[~byzantine].astype(np.float64).mean(axis=0)
            filt = FilteringMean(eps=0.2, sigma=sigma, expansion=20).fit(poisoned)
            noreg = NoRegretMean(eps=0.2, sigma=sigma).fit(poisoned)
            pruned = (noreg.weights_[:, byzantine] == 0).all(axis=1).mean()
            ratios, ranks = _chunk_stats(X_layer, byzantine, sigma)
            # HiDRA(sigma=None) uses each chunk's own top eigenvalue: c_k^2 / trace_k is
            # then (sqrt(20) - 1) / (eps^2 + (1 - eps)^2 eps) / effective rank
            adaptive = (np.sqrt(20) - 1) / (0.2**2 + 0.8**2 * 0.2)
            norm = np.linalg.norm(honest_mean)
            lines.append(
                f"| {round_} | {names[layer]} | {len(ratios)} | "
                f"{filt.weights_[:, byzantine].sum(axis=1).mean():.3f} | {pruned:.0%} | "
                f"{np.median(ratios):.3g} | {np.median(ranks):.1f} | "
                f"{np.median(adaptive / ranks):.2g} | "
                f"{np.linalg.norm(filt.location_ - honest_mean) / norm:.2f} | "
                f"{np.linalg.norm(noreg.location_ - honest_mean) / norm:.2f} |"
            )
            print(lines[-1], flush=True)
    text = (
        "# HiDRA against FILTERING and NO-REGRET: the chunk geometry\n\n"
        "Command: `python benchmarks/federated_hidra_diagnosis.py`. Honest updates of a clean "
        "FedAvg run in the paper-scale setting (digits, 100 clients, MLP 64-512-512-10, "
        f"per-layer aggregation), poisoned with HiDRA(sigma={sigma:.4g}) on 20 clients; "
        "FilteringMean and NoRegretMean with the same sigma, eps=0.2, 1000-coordinate chunks.\n\n"
        + "\n".join(lines)
        + "\n\nFILTERING keeps the byzantine rows at full weight (0.2) in every chunk, so its "
        "aggregate moves by eps * c against the honest mean in every chunk. NO-REGRET's Krum "
        "pre-pruning sees 20 identical rows at distance c: they get the largest Krum scores "
        "when c^2 is large next to the honest chunk's total variance (c^2 / trace above about "
        "1.6), which is the case here because the honest chunk covariances have a low "
        "effective rank (few shared directions: 12-13 samples per client, full-batch local "
        "steps), so the pruning removes them before the spectral step. The same holds for "
        "HiDRA with each chunk's own threshold (the RandEigen artifact's adaptive mode, "
        "HiDRA(sigma=None)): its c_k^2 / trace_k is 20.6 / effective rank, above 1.6 in the "
        "median chunk of every tensor. The paper's ConvNet clients hold 600 MNIST images "
        "each and take 30 mini-batch steps per round; if that spreads their updates over "
        "more directions (a higher effective rank), HiDRA escapes Krum there. That is a "
        "hypothesis, not measured here (no MNIST files on this machine).\n"
    )
    (RESULTS / "federated_hidra_diagnosis.md").write_text(text)


if __name__ == "__main__":
    main()
