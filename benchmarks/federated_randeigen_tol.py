"""Which ``tol`` RandEigenMean should use in federated training (issue 14).

RandEigenMean's ``tol`` is the relative excess of the top eigenvalue of the updates over the
level a clean (Marchenko-Pastur) spectrum reaches that it tolerates before it filters; the
library default is 0.1. Honest model updates are anisotropic (clients move along a few
shared directions), so a small ``tol`` may filter honest rounds and cost accuracy without
attack, while a large one lets more through under attack. This measures both on the
federated experiment's small setting (digits, 40 clients, 20 % byzantine, 30 rounds,
3 seeds): the no-attack accuracy of each ``tol`` against the plain mean, and the final
accuracy and backdoor success under the experiment's attacks plus EigenShift (the attack
adaptive to spectral filters: every byzantine row is the honest mean shifted by
``shift`` honest standard deviations along the honest top eigenvector; a grid of shifts,
because the worst shift depends on the threshold). The rule: the ``tol`` with the best
worst case under attack among those whose no-attack cost against the mean is under 1 point.

Run:  python benchmarks/federated_randeigen_tol.py [--seeds 0 1 2] [--n-jobs 2]
"""

import argparse
import os
import time
from pathlib import Path

from sklearn_robust.adversaries import EigenShift
from sklearn_robust.estimators import RandEigenMean, SampleMean
from sklearn_robust.experiments import (
    default_federated_attacks,
    federated_poisoning,
    format_federated_table,
    summarize_federated,
)

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path("benchmarks", "results", "federated")  # relative to ROOT
TOLS = (0.1, 0.5, 2.0)
SHIFTS = (1.0, 3.0, 10.0)


def run(seeds, n_jobs):
    os.chdir(ROOT)
    eps = 0.2
    aggregators = {"mean": SampleMean()}
    for tol in TOLS:
        default = " (default)" if tol == RandEigenMean().tol else ""
        aggregators[f"RandEigen tol={tol:g}{default}"] = RandEigenMean(eps=eps, tol=tol)
    attacks = default_federated_attacks()
    for shift in SHIFTS:
        attacks[f"EigenShift x{shift:g}"] = EigenShift(shift=shift)
    start = time.perf_counter()
    results = federated_poisoning(
        aggregators=aggregators, attacks=attacks, n_clients=40, byzantine_fraction=eps,
        seeds=seeds, n_jobs=n_jobs,
    )
    elapsed = time.perf_counter() - start
    runs = results.runs
    means = summarize_federated(runs, "accuracy")[0]
    lines = []
    for name in aggregators:
        if name == "mean":
            continue
        column = means[name]
        cost = means.loc["none", "mean"] - column["none"]
        attacked = column.drop("none")
        worst = attacked.idxmin()
        lines.append(
            f"| {name} | {column['none']:.1f} | {cost:+.1f} | {attacked[worst]:.1f} ({worst}) "
            f"| {column['none'] - attacked[worst]:.1f} |"
        )
    table = (
        "| aggregator | no attack (%) | cost vs mean (points) | worst under attack (%) "
        "| worst drop (points) |\n|---|---|---|---|---|\n" + "\n".join(lines)
    )
    spread = f"mean ± sample std (ddof=1) over {len(seeds)} seeds" if len(seeds) > 1 else "1 seed"
    text = (
        "# RandEigenMean's tol in federated training\n\n"
        f"Command: `python benchmarks/federated_randeigen_tol.py --seeds "
        f"{' '.join(map(str, seeds))} --n-jobs {n_jobs}`; wall time {elapsed / 60:.1f} min "
        f"({_machine()}). Digits, 40 clients, 20 % "
        "byzantine, 30 rounds (the federated experiment's small setting); EigenShift xS puts "
        "every byzantine row at the honest mean + S honest standard deviations along the "
        "honest top eigenvector (full knowledge).\n\n"
        f"## Summary (means over seeds)\n\n{table}\n\n"
        f"## Final test accuracy (%, {spread})\n\n```\n"
        + format_federated_table(runs, "accuracy")
        + f"\n```\n\n## Backdoor success rate (%, {spread})\n\n```\n"
        + format_federated_table(runs, "attack_success_rate")
        + "\n```\n"
    )
    print(text)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "randeigen_tol.md").write_text(text)
    runs.to_csv(RESULTS / "randeigen_tol_runs.csv", index=False)


def _machine():
    """The CPU count and load average at the end of the run (instead of a fixed sentence)."""
    try:
        load = "load average {:.2f} / {:.2f} / {:.2f} (1 / 5 / 15 min)".format(*os.getloadavg())
    except OSError:  # not available on this platform
        load = "load average unavailable"
    return f"{os.cpu_count()} CPUs, {load}"


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--n-jobs", type=int, default=2)
    args = parser.parse_args()
    run(args.seeds, args.n_jobs)
