"""Time and peak extra memory of RandEigenMean.fit against FilteringMean and one X @ X.T.

n = 100 rows of float32, d in {1e4, 1e5, 1e6}. Every number is measured in the same run, so
the ratios to ``X @ X.T`` are what to compare across machines. Peak memory is the largest
allocation traced by ``tracemalloc`` (numpy buffers included) during the call, beyond X.
Writes ``benchmarks/results/robust_mean_speed.md``.

    python benchmarks/robust_mean_speed.py            # d up to 1e6 (a few minutes)
    python benchmarks/robust_mean_speed.py --quick    # d up to 1e5
"""

import argparse
import os
import pathlib
import platform
import time
import tracemalloc

import numpy as np

from sklearn_robust.estimators import FilteringMean, RandEigenMean

RESULTS = pathlib.Path(__file__).resolve().parent / "results"


def measure(func, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    tracemalloc.start()
    func()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return float(np.median(times)), peak


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="d up to 1e5")
    args = parser.parse_args(argv)
    dims = [10_000, 100_000] if args.quick else [10_000, 100_000, 1_000_000]
    rng = np.random.default_rng(0)
    lines = []
    header = (
        f"{'d':>9}  {'method':<22}{'seconds':>9}  {'x X@X.T':>8}  {'peak MiB':>9}  "
        f"{'% of X':>7}"
    )
    print(header)
    for d in dims:
        X = rng.standard_normal((100, d), dtype=np.float32)
        X[80:] = X[:80].mean(axis=0) + 0.5  # 20 % byzantine rows, shifted together
        repeats = 5 if d <= 100_000 else 3
        cases = [
            ("X @ X.T", lambda X=X: X @ X.T, repeats),
            ("RandEigenMean auto", lambda X=X: RandEigenMean(random_state=0).fit(X), repeats),
            (
                "RandEigenMean gram",
                lambda X=X: RandEigenMean(projection="gram", random_state=0).fit(X),
                repeats,
            ),
            (
                "RandEigenMean jl",
                lambda X=X: RandEigenMean(projection="jl", random_state=0).fit(X),
                1,
            ),
            ("FilteringMean", lambda X=X: FilteringMean(eps=0.2).fit(X), 1),
        ]
        base = None
        for name, func, reps in cases:
            seconds, peak = measure(func, reps)
            base = seconds if base is None else base
            line = (
                f"{d:>9}  {name:<22}{seconds:>9.3f}  {seconds / base:>8.2f}  "
                f"{peak / 2**20:>9.1f}  {100 * peak / X.nbytes:>6.1f}%"
            )
            print(line, flush=True)
            lines.append(line)
    title = f"n=100 float32, {platform.machine()}, {len(os.sched_getaffinity(0))} cores"
    if not args.quick:
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / "robust_mean_speed.md").write_text(
            f"# RandEigenMean speed and memory ({title})\n\n```\n{header}\n"
            + "\n".join(lines)
            + "\n```\n\nReproduce: `python benchmarks/robust_mean_speed.py`\n"
        )


if __name__ == "__main__":
    main()
