"""Model-level aggregation at ResNet-18 size: 20 clients x 11 M float32 parameters (issue 15).

Times, in one run and on the same data, ``rand_eigen_mean`` on the numpy matrix, on the CPU
tensor that shares its memory, and ``aggregate_updates`` on 20 state_dicts (whole model,
``RandEigenMean``), against the two baselines a robust mean cannot beat by much: one Gram
product ``X @ X.T`` and one ``X.mean(0)``. Reports the ratios (the targets of the issue:
tensor path <= 1.2x the numpy path, both <= 2x the GEMM), the output dtypes, and the peak
extra resident memory of each call against the size of the stacked updates (target
<= 1.5x), sampled every 2 ms by a thread reading /proc/self/statm.

Run:  python benchmarks/model_aggregation_speed.py [--n-features 11000000] [--repeats 3]
Results: benchmarks/results/model_aggregation_speed.md
"""

import argparse
import os
import platform
import threading
import time
from pathlib import Path

import numpy as np
import torch

from sklearn_robust.estimators import RandEigenMean, aggregate_updates, rand_eigen_mean

RESULTS = Path(__file__).parent / "results" / "model_aggregation_speed.md"
PAGE = os.sysconf("SC_PAGE_SIZE")


def _rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE


class PeakMemory:
    """Peak resident memory above the level at entry, sampled by a thread."""

    def __enter__(self):
        self.base = _rss()
        self.peak = self.base
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()
        return self

    def _watch(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, _rss())
            time.sleep(0.002)

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _rss())
        self.extra = self.peak - self.base


def _measure_once(fn):
    with PeakMemory() as memory:
        start = time.perf_counter()
        out = fn()
        elapsed = time.perf_counter() - start
    return elapsed, memory.extra, out


def _measure(cases, repeats):
    """Median time and peak extra memory per case; the cases take turns in every repeat, so
    a change in the machine's load hits all of them alike (ratios stay comparable)."""
    samples = {name: ([], []) for name in cases}
    outputs = {}
    for _ in range(repeats):
        for name, fn in cases.items():
            elapsed, extra, outputs[name] = _measure_once(fn)
            samples[name][0].append(elapsed)
            samples[name][1].append(extra)
    return {
        name: (float(np.median(times)), max(extras), outputs[name])
        for name, (times, extras) in samples.items()
    }


def _load():
    try:
        return "{:.2f} / {:.2f} / {:.2f}".format(*os.getloadavg())
    except OSError:  # not available on this platform
        return "unavailable"


def _state_dicts(X):
    """20 'ResNet-18-like' state_dicts cut from the rows of X (views, no copy)."""
    d = X.shape[1]
    cuts = [0, d // 2, (3 * d) // 4, d - 1000, d]
    names = ["layer4.weight", "layer3.weight", "layer2.weight", "fc.weight"]
    return [
        {name: torch.from_numpy(row[a:b]) for name, a, b in zip(names, cuts[:-1], cuts[1:])}
        for row in X
    ]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-clients", type=int, default=20)
    parser.add_argument("--n-features", type=int, default=11_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    n, d = args.n_clients, args.n_features
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, d), dtype=np.float32)
    X[-4:] += 0.5  # four byzantine rows shifted together
    T = torch.from_numpy(X)  # same memory
    stacked_bytes = X.nbytes
    estimator = RandEigenMean(random_state=0)
    cases = {
        "X @ X.T (numpy)": lambda: X @ X.T,
        "X.mean(0) (numpy)": lambda: X.mean(0),
        "rand_eigen_mean, numpy": lambda: rand_eigen_mean(X, random_state=0),
        "rand_eigen_mean, tensor": lambda: rand_eigen_mean(T, random_state=0),
        "aggregate_updates, stacked tensor": lambda: aggregate_updates(T, estimator),
        "aggregate_updates, 20 state_dicts, by=model": lambda: aggregate_updates(
            _state_dicts(X), estimator, by="model"
        ),
    }
    load_before = _load()
    rows = _measure(cases, args.repeats)
    load_after = _load()
    for name, (seconds, extra, out) in rows.items():
        dtype = next(iter(out.values())).dtype if isinstance(out, dict) else out.dtype
        print(f"{name:45s} {seconds:8.3f} s  extra {extra / stacked_bytes:5.2f}x  {dtype}")

    gemm = rows["X @ X.T (numpy)"][0]
    numpy_path = rows["rand_eigen_mean, numpy"][0]
    tensor_path = rows["rand_eigen_mean, tensor"][0]
    lines = [
        "# Model-level aggregation at ResNet-18 size (issue 15, item 2)",
        "",
        f"Command: `python benchmarks/model_aggregation_speed.py --n-features {d} "
        f"--repeats {args.repeats}`",
        f"Data: {n} x {d:,} float32 ({stacked_bytes / 2**20:.0f} MiB stacked), 4 rows shifted; "
        f"median of {args.repeats} calls, the calls taking turns; torch {torch.__version__}, "
        f"{torch.get_num_threads()} torch threads, {os.cpu_count()} cores "
        f"({platform.machine()}); load average (1 / 5 / 15 min) {load_before} at the start, "
        f"{load_after} at the end. Compare the ratios (measured in the same run), not the "
        "seconds.",
        "",
        "| call | seconds | / X @ X.T | / X.mean(0) | peak extra memory / stacked updates "
        "| output dtype |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for name, (seconds, extra, out) in rows.items():
        dtype = next(iter(out.values())).dtype if isinstance(out, dict) else out.dtype
        lines.append(
            f"| {name} | {seconds:.3f} | {seconds / gemm:.2f} | "
            f"{seconds / rows['X.mean(0) (numpy)'][0]:.2f} | {extra / stacked_bytes:.2f} | "
            f"{dtype} |"
        )
    lines += [
        "",
        "Targets of issue 15 (item 2, acceptance 4), measured above:",
        "",
        f"* tensor path / numpy path = {tensor_path / numpy_path:.2f} (target <= 1.2)",
        f"* numpy path / GEMM = {numpy_path / gemm:.2f}, tensor path / GEMM = "
        f"{tensor_path / gemm:.2f} (target <= 2)",
        f"* peak extra memory of aggregate_updates on 20 state_dicts = "
        f"{rows['aggregate_updates, 20 state_dicts, by=model'][1] / stacked_bytes:.2f}x the "
        "stacked updates (target <= 1.5; it includes the stacked copy itself)",
        "",
        "Both return the input's dtype (float32 here; sums are accumulated in float64). "
        "A CPU tensor is read through a zero-copy numpy view, so the two rand_eigen_mean "
        "rows run the same code.",
    ]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
