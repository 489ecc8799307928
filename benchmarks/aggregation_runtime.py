"""The RandEigen paper's runtime figure: RandEigen against FILTERING and NO-REGRET as d grows.

For every dimension d from 1e3 to 1e6, one matrix of n = 100 client updates (80 honest
rows N(mu, s^2 I), 20 byzantine rows: the honest rows of those clients sign-flipped and
scaled by 10) is aggregated by RandEigenMean (the library default), FilteringMean and
NoRegretMean configured as the reference code of Zhu et al. (1000-coordinate chunks, the
threshold sqrt(20) * sigma with sigma the clean-variance bound, here the largest top
eigenvalue of the honest rows' chunk covariances). The same matrix goes to the three
aggregators; the median time over the repetitions is reported, with the speed-up
FILTERING / RandEigen and NO-REGRET / RandEigen, as a table (md, csv) and a log-log PNG.
A cProfile of one FilteringMean and one NoRegretMean fit at d = 3e5 says where their time
goes.

Repetitions: 3 up to d = 1e5, 1 at 3e5 and 1e6 (the slowest cases, seconds each on a
2-core CPU). Threads are limited to one (OMP/BLAS), as in the federated benchmark.

Run:  python benchmarks/aggregation_runtime.py [--quick]
"""

import cProfile
import io
import os
import pstats
import re
import sys
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from sklearn_robust.adversaries import SignFlip
from sklearn_robust.estimators import FilteringMean, NoRegretMean, RandEigenMean

RESULTS = Path(__file__).parent / "results"
N_CLIENTS, N_BYZANTINE, CHUNK = 100, 20, 1000
DIMENSIONS = [1_000, 3_000, 10_000, 30_000, 100_000, 300_000, 1_000_000]
QUICK_DIMENSIONS = [1_000, 3_000]


def _updates(d, seed):
    """80 honest rows N(mu, s^2 I) in float32 and 20 sign-flipped x10; and the bound sigma."""
    rng = np.random.default_rng(seed)
    scale = 1e-2
    mu = rng.normal(scale=scale, size=d)
    X = (mu + scale * rng.standard_normal((N_CLIENTS, d), dtype=np.float32)).astype(np.float32)
    honest = X[N_BYZANTINE:].astype(np.float64)
    sigma = 0.0
    for start in range(0, d, CHUNK):
        chunk = honest[:, start : start + CHUNK]
        chunk = chunk - chunk.mean(axis=0)
        sigma = max(sigma, float(np.linalg.eigvalsh(chunk @ chunk.T)[-1]) / (len(chunk) - 1))
    poisoned = SignFlip(scale=10.0).fit_poison(X, byzantine=np.arange(N_BYZANTINE))
    return poisoned.astype(np.float32), sigma


def _aggregators(sigma):
    filters = {"eps": 0.2, "sigma": sigma, "expansion": 20, "chunk_size": CHUNK}
    return {
        "RandEigen": RandEigenMean(eps=0.2, random_state=0),
        "FILTERING": FilteringMean(**filters),
        "NO-REGRET": NoRegretMean(**filters),
    }


def _byzantine_weight(fitted):
    """Share of the aggregate carried by the byzantine rows (mean over chunks)."""
    if hasattr(fitted, "weights_"):
        return float(fitted.weights_[:, :N_BYZANTINE].sum(axis=1).mean())
    support = fitted.support_
    return float(support[:N_BYZANTINE].sum() / support.sum())


def _profile(X, sigma, lines=8):
    out = []
    for name in ("FILTERING", "NO-REGRET"):
        aggregator = _aggregators(sigma)[name]
        profiler = cProfile.Profile()
        start = time.perf_counter()
        profiler.runcall(aggregator.fit, X)
        total = time.perf_counter() - start
        buffer = io.StringIO()
        pstats.Stats(profiler, stream=buffer).sort_stats("tottime").print_stats(lines)
        body = buffer.getvalue()
        body = body[body.find("ncalls") :].rstrip()
        # paths relative to the repository (and to site-packages for libraries)
        body = body.replace(str(Path(__file__).resolve().parents[1]) + os.sep, "")
        body = re.sub(r"\S*site-packages/", "", body)
        out.append(f"{name} at d = {X.shape[1]:,} ({total:.2f} s, profiled):\n\n{body}")
    return out


def run(quick=False):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    dims = QUICK_DIMENSIONS if quick else DIMENSIONS
    rows = []
    load = os.getloadavg()
    with threadpool_limits(limits=1):
        for d in dims:
            X, sigma = _updates(d, seed=d)
            repeats = 1 if quick or d >= 300_000 else 3
            for name, aggregator in _aggregators(sigma).items():
                times = []
                for _ in range(repeats):
                    start = time.perf_counter()
                    fitted = aggregator.fit(X)
                    times.append(time.perf_counter() - start)
                weight = _byzantine_weight(fitted)
                rows.append({"d": d, "aggregator": name, "seconds": float(np.median(times)),
                             "repeats": repeats, "byzantine_weight": weight})
                print(f"d={d:>9,}  {name:<10} {np.median(times):9.3f} s  "
                      f"(weight on the byzantine rows {weight:.4f})", flush=True)
            if d == 300_000 and not quick:
                profiles = _profile(X, sigma)
            del X
    frame = pd.DataFrame(rows)
    table = frame.pivot(index="d", columns="aggregator", values="seconds")[
        ["RandEigen", "FILTERING", "NO-REGRET"]
    ]
    table["FILTERING / RandEigen"] = table["FILTERING"] / table["RandEigen"]
    table["NO-REGRET / RandEigen"] = table["NO-REGRET"] / table["RandEigen"]
    if quick:
        return table

    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    for name, marker in (("RandEigen", "o"), ("FILTERING", "s"), ("NO-REGRET", "^")):
        left.loglog(table.index, table[name], marker=marker, label=name)
    left.set_xlabel("dimension d of the client updates")
    left.set_ylabel("aggregation time (s)")
    left.set_title("Time of one aggregation\n(n = 100, 20 sign-flipped, median of repeats)")
    left.legend(loc="upper left", fontsize="small")
    left.grid(alpha=0.3, which="both")
    for name, marker in (("FILTERING / RandEigen", "s"), ("NO-REGRET / RandEigen", "^")):
        right.loglog(table.index, table[name], marker=marker, label=name)
    right.axhline(1.0, color="grey", linewidth=0.8, linestyle="--")
    right.set_xlabel("dimension d of the client updates")
    right.set_ylabel("speed-up of RandEigen (time ratio)")
    right.set_title("RandEigen's speed-up over the chunked filters\n(above the dashed line: "
                    "RandEigen is faster)")
    right.legend(loc="lower right", fontsize="small")
    right.grid(alpha=0.3, which="both")
    figure.suptitle(
        "Aggregation runtime vs d on a 2-core CPU, one thread "
        "(same updates for every aggregator)", fontsize=10
    )
    figure.tight_layout()
    figure.savefig(RESULTS / "aggregation_runtime.png", dpi=120)
    plt.close(figure)
    frame.to_csv(RESULTS / "aggregation_runtime.csv", index=False)

    def fmt(value):
        return f"{value:.3f}" if value < 100 else f"{value:.0f}"

    lines = ["| d | RandEigen (s) | FILTERING (s) | NO-REGRET (s) | FILTERING / RandEigen "
             "| NO-REGRET / RandEigen |", "|---|---|---|---|---|---|"]
    for d, row in table.iterrows():
        lines.append(f"| {d:,} | " + " | ".join(fmt(v) for v in row.values[:3]) + " | "
                     + " | ".join(f"{v:.1f}x" for v in row.values[3:]) + " |")
    text = (
        "# Aggregation runtime as d grows (the RandEigen paper's runtime figure)\n\n"
        "Command: `python benchmarks/aggregation_runtime.py`. n = 100 client updates "
        "(float32), 20 of them sign-flipped x10; the same matrix for the three aggregators "
        "at each d. RandEigenMean(eps=0.2) (library default, exact Gram spectrum), "
        "FilteringMean and NoRegretMean with eps=0.2, 1000-coordinate chunks and the "
        "clean-variance bound sigma (largest top eigenvalue of the honest chunks). Median of "
        "3 repetitions up to d = 1e5, one at 3e5 and 1e6; one thread. 2-core CPU "
        f"(load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} at the start): absolute "
        "times are noisy, the ratios within a row were measured on the same matrix minutes "
        "apart. Every aggregator gave the byzantine rows a total weight below "
        f"{frame['byzantine_weight'].max():.2g} (column byzantine_weight of the csv).\n\n"
        + "\n".join(lines) + "\n\n![runtime](aggregation_runtime.png)\n\n"
        "## Where FILTERING and NO-REGRET spend their time (d = 3e5)\n\n"
        + "\n\n".join(f"```\n{p}\n```" for p in profiles) + "\n"
    )
    (RESULTS / "aggregation_runtime.md").write_text(text)
    return table


if __name__ == "__main__":
    print(run(quick="--quick" in sys.argv[1:]).to_string())
