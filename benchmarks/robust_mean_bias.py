"""Median normalized bias of every robust mean under every poisoning attack.

Runs ``python -m sklearn_robust bias`` at its defaults, the setting of the RandEigen
comparison: n = 100 clients, d = 10 000, 20 % byzantine, per-coordinate scales 1e-4 and 1,
seeds 0-9, every robust mean under no attack and the 10 poisoning adversaries of
``sklearn_robust.adversaries``. Records the command's tables, the acceptance check of
issue 2, the wall time and the heat map in ``benchmarks/results/robust_mean_bias.{md,csv,png}``.

    python benchmarks/robust_mean_bias.py            # full size (about 2 minutes, 2 cores)
    python benchmarks/robust_mean_bias.py --quick    # d = 2000, 3 seeds, results not recorded
"""

import argparse
import contextlib
import io
import os
import pathlib
import platform
import sys
import tempfile
import time

import pandas as pd

from sklearn_robust.__main__ import main as cli
from sklearn_robust.experiments import summarize_bias

ROOT = pathlib.Path(__file__).resolve().parents[1]
RESULTS = pathlib.Path("benchmarks", "results")  # relative to ROOT, as the files print it


def check_acceptance(rows):
    """The issue's acceptance: RandEigen <= 0.8 everywhere; below CoordinateMedian and
    TrimmedMean wherever the plain mean exceeds 1.5. Returns a list of text lines."""
    table = summarize_bias(rows)
    lines = []
    cells = sorted({(attack, scale) for _, attack, scale in table})
    for attack, scale in cells:
        ours = table[("RandEigenMean", attack, scale)]
        mean = table[("SampleMean", attack, scale)]
        ok = ours <= 0.8
        if attack != "none" and mean > 1.5:
            ok = ok and ours < table[("CoordinateMedian", attack, scale)]
            ok = ok and ours < table[("TrimmedMean", attack, scale)]
        lines.append(
            f"{'PASS' if ok else 'FAIL'}  {attack}@{scale:g}: RandEigen {ours:.3f}, "
            f"mean {mean:.3f}"
        )
    return lines


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="d = 2000 and 3 seeds")
    parser.add_argument("--n-jobs", type=int, default=1)
    args = parser.parse_args(argv)
    os.chdir(ROOT)
    output = pathlib.Path(tempfile.mkdtemp()) if args.quick else RESULTS
    command = ["bias", "--n-jobs", str(args.n_jobs), "--quiet", "--output", str(output)]
    if args.quick:
        command += ["--n-features", "2000", "--seeds", "0", "1", "2"]

    buffer = io.StringIO()

    class Tee(io.TextIOBase):
        def write(self, text):
            sys.__stdout__.write(text)
            return buffer.write(text)

    start = time.perf_counter()
    with contextlib.redirect_stdout(Tee()):
        cli(command)
    elapsed = time.perf_counter() - start
    rows = pd.read_csv(output / "robust_mean_bias.csv").to_dict("records")
    acceptance = check_acceptance(rows)
    print("", "Acceptance (issue 2):", *acceptance, sep="\n")
    if args.quick:
        return
    invocation = " ".join(["python benchmarks/robust_mean_bias.py", *(argv or sys.argv[1:])])
    (RESULTS / "robust_mean_bias.md").write_text(
        "# Robust means under poisoning: median normalized bias\n\n"
        f"Command: `{invocation}` (= `python -m sklearn_robust {' '.join(command)}`); wall "
        f"time {elapsed:.0f} s on {platform.machine()}, the shared 2-core machine.\n\n"
        "```\n" + buffer.getvalue().strip() + "\n```\n\n"
        "Acceptance (issue 2: RandEigen <= 0.8 everywhere, and below CoordinateMedian and "
        "TrimmedMean wherever the plain mean exceeds 1.5):\n\n```\n"
        + "\n".join(acceptance)
        + "\n```\n\n![median normalized bias per robust mean and attack](robust_mean_bias.png)\n"
    )


if __name__ == "__main__":
    main()
