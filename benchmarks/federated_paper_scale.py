"""The RandEigen paper's federated experiment at its scale (issue 14).

Runs ``python -m sklearn_robust federated --setting paper`` and records its tables, the
wall time, the machine load, the CSVs and the plots under
benchmarks/results/federated_paper/:

* 100 clients, 20 % byzantine, an MLP 64-512-512-10 on the digits (301 066 parameters,
  aggregation per layer), 8 rounds of 5 local epochs of plain SGD;
* iid clients and Dirichlet(0.5) clients, seeds 0, 1, 2 each (594 runs);
* aggregators: mean, coordinate median, trimmed mean, geometric median, Multi-Krum,
  centered clipping, FILTERING, NO-REGRET, RandEigen; FILTERING, NO-REGRET and HiDRA share
  the clean-variance bound measured on a clean run;
* attacks: none, HiDRA, ALIE, IPM, sign flip, min-max, Gaussian, TMA, MRA, DBA, MPA.

Run:  python benchmarks/federated_paper_scale.py [--quick] [extra CLI options]
      (e.g. --device cuda, --dataset mnist --data-home DIR, --seeds 0)
``--quick`` runs the tiny version CI runs (10 clients, 2 rounds, a 16-unit MLP, three
aggregators, five attacks) into a temporary folder unless --output is given.
"""

import contextlib
import io
import os
import sys
import tempfile
import time
from pathlib import Path

from sklearn_robust.__main__ import main

ROOT = Path(__file__).resolve().parents[1]
# relative to ROOT, as the report prints it (the run changes to ROOT)
RESULTS = Path("benchmarks", "results", "federated_paper")
DEFAULT = []
QUICK = [
    "--quick",
    "--aggregators", "mean", "FILTERING", "RandEigen",
    "--attacks", "none", "HiDRA", "TMA", "DBA", "MPA",
    "--n-jobs", "1",
]


def _load():
    try:
        one, five, fifteen = os.getloadavg()
        return f"load average {one:.2f} / {five:.2f} / {fifteen:.2f} (1 / 5 / 15 min)"
    except OSError:  # not available on this platform
        return "load average unavailable"


def run(extra, quick=False):
    output = None
    if "--output" in extra:
        output = Path(extra[extra.index("--output") + 1])
        extra = [a for i, a in enumerate(extra) if a != "--output" and extra[i - 1] != "--output"]
    elif quick:
        output = Path(tempfile.mkdtemp(prefix="federated_paper_quick_"))
    if output is None:
        os.chdir(ROOT)
        output = RESULTS
    options = [*(QUICK if quick else DEFAULT), *extra]
    buffer = io.StringIO()
    load_before = _load()
    start = time.perf_counter()

    class Tee(io.TextIOBase):
        def write(self, text):
            sys.__stdout__.write(text)
            return buffer.write(text)

    with contextlib.redirect_stdout(Tee()):
        # The full run shows its progress bar on stderr (not recorded); CI's is quiet.
        quiet = ["--quiet"] if quick else []
        main(["federated", "--setting", "paper", "--output", str(output), *quiet, *options])
    elapsed = time.perf_counter() - start
    flags = ["--quick"] if quick else []
    command = " ".join(["python benchmarks/federated_paper_scale.py", *flags, *extra])
    text = (
        "# The RandEigen paper's federated experiment at its scale\n\n"
        f"Command: `{command}`; wall time {elapsed / 60:.1f} min on this machine "
        f"({os.cpu_count()} cores; {load_before} at the start, {_load()} at the end).\n\n"
        "```\n" + buffer.getvalue().strip() + "\n```\n\n"
        + "".join(
            f"![final accuracy, {p.stem[len('federated_grid_'):]}]({p.name})\n\n"
            for p in sorted(output.glob("federated_grid_*.png"))
        )
        + "![accuracy per round](federated_rounds.png)\n"
    )
    (output / "federated_paper_scale.md").write_text(text)
    return output


if __name__ == "__main__":
    args = sys.argv[1:]
    quick = "--quick" in args
    run([a for a in args if a != "--quick"], quick=quick)
