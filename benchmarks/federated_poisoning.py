"""The RandEigen paper's federated experiment at its default size (issue 5, part 4).

Runs ``python -m sklearn_robust federated`` (digits, 40 clients, 20 % byzantine, 30 rounds,
7 aggregators x 8 attacks x 3 seeds, 2 joblib workers) and records its tables, the wall
time, the CSVs and the per-round plot under benchmarks/results/federated/.

Run:  python benchmarks/federated_poisoning.py [extra CLI options, e.g. --seeds 0]
"""

import contextlib
import io
import os
import sys
import time
from pathlib import Path

from sklearn_robust.__main__ import main

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path("benchmarks", "results", "federated")  # relative to ROOT, as the files print it


def run(extra):
    os.chdir(ROOT)
    buffer = io.StringIO()
    start = time.perf_counter()

    class Tee(io.TextIOBase):
        def write(self, text):
            sys.__stdout__.write(text)
            return buffer.write(text)

    with contextlib.redirect_stdout(Tee()):
        main(["federated", "--output", str(RESULTS), "--quiet", *extra])
    elapsed = time.perf_counter() - start
    command = " ".join(["python benchmarks/federated_poisoning.py", *extra])
    text = (
        "# Federated training under poisoning (RandEigen paper's experiment)\n\n"
        f"Command: `{command}`; wall time {elapsed / 60:.1f} min on this machine.\n\n"
        "```\n" + buffer.getvalue().strip() + "\n```\n\n"
        "![accuracy per round](federated_rounds.png)\n"
    )
    (RESULTS / "federated_poisoning.md").write_text(text)


if __name__ == "__main__":
    run(sys.argv[1:])
