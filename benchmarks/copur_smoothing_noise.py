"""Cost of independent noise per row in RandomizedSmoothingClassifier (issue 12, item 4).

Before, one noise matrix (n_samples x n_features) served every row; now every row draws its
own. This script times ``predict`` and ``certify`` and measures their peak extra memory
(tracemalloc) both ways, on the CoPur digits shape (32 embedding columns, 540 test rows) and
a wider one, with the base classifier the experiments use (a logistic regression here, so
that the noise, not the model, is what is measured). The shared-noise baseline is the old
vote loop, rebuilt here from the library's kernel with a per-row seed replaced by one
shared noise matrix.

Run:  python benchmarks/copur_smoothing_noise.py
Writes benchmarks/results/copur_smoothing_noise.md. Timings are medians of 3 untraced runs
on a shared 2-core machine (compare the ratios, not the absolute values); memory is the peak
traced by tracemalloc in a fourth run.
"""

import time
import tracemalloc
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression

from sklearn_robust.estimators import RandomizedSmoothingClassifier

RESULTS = Path(__file__).parent / "results"


def shared_noise_votes(clf, X, n_draws, rng):
    """The old scheme: the same ``n_draws`` noise vectors for every row."""
    noise = clf.sigma * rng.standard_normal((n_draws, clf.noise_columns_.size))
    counts = np.zeros((X.shape[0], clf.classes_.size), dtype=np.int64)
    rows_per_chunk = max(1, clf.batch_size // n_draws)
    for start in range(0, X.shape[0], rows_per_chunk):
        rows = X[start : start + rows_per_chunk]
        batch = np.repeat(rows, n_draws, axis=0)
        batch[:, clf.noise_columns_] += np.tile(noise, (rows.shape[0], 1))
        index = np.searchsorted(clf.classes_, clf.estimator_.predict(batch))
        index = index.reshape(rows.shape[0], n_draws)
        for k in range(clf.classes_.size):
            counts[start : start + rows.shape[0], k] += (index == k).sum(axis=1)
    return counts


def measure(fn):
    """Median time of 3 runs (untraced), then the peak traced memory of one more run."""
    times = []
    for _ in range(3):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    tracemalloc.start()
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return float(np.median(times)), peak / 2**20


def main():
    lines = [
        "# Randomized smoothing: independent noise per row vs one shared noise matrix",
        "",
        "Command: `python benchmarks/copur_smoothing_noise.py`. Time: median of 3 runs on a "
        "shared 2-core machine; memory: peak traced by tracemalloc in a fourth run.",
        "",
        "| rows x columns | draws | shared noise: s / MiB | per-row noise: s / MiB | "
        "time ratio |",
        "|---|---|---|---|---|",
    ]
    rng = np.random.default_rng(0)
    for n_rows, n_cols, n_draws in [(540, 32, 100), (540, 32, 1000), (540, 240, 100)]:
        X = rng.standard_normal((2000, n_cols))
        y = (X[:, 0] > 0).astype(int)
        clf = RandomizedSmoothingClassifier(
            LogisticRegression(), sigma=0.5, n_samples=n_draws, random_state=0
        ).fit(X, y)
        X_test = X[:n_rows]
        shared = measure(
            lambda clf=clf, X_test=X_test, n_draws=n_draws: shared_noise_votes(
                clf, X_test, n_draws, rng
            )
        )
        per_row = measure(lambda clf=clf, X_test=X_test: clf.predict(X_test))
        lines.append(
            f"| {n_rows} x {n_cols} | {n_draws} | {shared[0]:.3f} / {shared[1]:.1f} | "
            f"{per_row[0]:.3f} / {per_row[1]:.1f} | {per_row[0] / shared[0]:.2f} |"
        )
    text = "\n".join(lines) + "\n"
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "copur_smoothing_noise.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
