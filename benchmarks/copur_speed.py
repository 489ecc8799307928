"""Speed of CoPur purification at the CoPur paper's NUS-WIDE shape (issue 3, acceptance 4).

4 agents with embeddings of width 60 (240 features), the paper's autoencoder
240-200-150-200-240 (leaky ReLU 0.8). Features come from a non-linear manifold
(``make_block_manifold``); every row has its last agent flipped (x -10), so purification has
real work to do. The autoencoder is trained for a fixed, small number of epochs: this script
measures the solver, not the autoencoder.

* batched: ``CoPurTransformer.transform`` on ``--n-rows`` rows (default 10 000);
* one row at a time: the same solver and settings with ``batch_size=1`` on ``--n-single``
  rows (what the paper's code does), timed per row in the same run.

Run:  python benchmarks/copur_speed.py [--device cuda] [--n-rows 10000] [--n-single 100]
Appends its table to benchmarks/results/copur_speed.md.
"""

import argparse
import platform
import time
from pathlib import Path

import numpy as np
import torch

from sklearn_robust.adversaries import FeatureFlip
from sklearn_robust.datasets import make_block_manifold
from sklearn_robust.estimators import CoPurTransformer
from sklearn_robust.nets import AutoencoderNet

RESULTS = Path(__file__).parent / "results" / "copur_speed.md"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--n-rows", type=int, default=10_000)
    parser.add_argument("--n-single", type=int, default=100)
    parser.add_argument("--batch-size", type=int, default=4096)
    parser.add_argument("--no-record", action="store_true")
    parser.add_argument("--results", type=Path, default=RESULTS, help="markdown file to append to")
    args = parser.parse_args()

    data = make_block_manifold(
        2000 + args.n_rows, n_blocks=4, block_width=60, latent_dim=20, manifold="nonlinear",
        noise=0.05, n_classes=5, random_state=0,
    )
    X_train, X_test = data.data[:2000], data.data[2000:]
    autoencoder = AutoencoderNet(
        module__latent_dim=150, module__hidden_layer_sizes=(200,), lr=1e-3, max_epochs=30,
        train_split=None, random_state=0,
    )
    copur = CoPurTransformer(
        blocks=data.blocks, autoencoder=autoencoder, batch_size=args.batch_size,
        # the detection rule of the recorded results (the default then)
        detection="residual", device=args.device, random_state=0,
    ).fit(X_train)
    H = FeatureFlip(blocks=data.blocks, agents=[-1], amplification=10).fit(X_train)
    H = H.transform(X_test)

    copur.purify(H[:64])  # warm-up (kernels, allocator)
    start = time.perf_counter()
    batched, details = copur.purify(H, return_details=True)
    batched_s = time.perf_counter() - start
    per_row_batched = batched_s / len(H)

    single = copur.set_params(batch_size=1)
    rows = H[: args.n_single]
    start = time.perf_counter()
    one_by_one = single.purify(rows)
    single_s = time.perf_counter() - start
    per_row_single = single_s / len(rows)

    # Same solver, same rows: the batched and one-row results agree up to per-row float noise.
    gap = np.abs(one_by_one - batched[: len(rows)]).max() / np.abs(batched[: len(rows)]).max()
    clean = copur.purify(X_test[: len(rows)])
    error = np.linalg.norm(batched[: len(rows)] - clean, axis=1) / np.linalg.norm(clean, axis=1)
    device = args.device
    if device.startswith("cuda"):
        device += f" ({torch.cuda.get_device_name()})"
    else:
        cpu = platform.processor() or platform.machine()
        device += f" ({cpu}, {torch.get_num_threads()} threads)"
    lines = [
        f"## {time.strftime('%Y-%m-%d')} -- device {device}, torch {torch.__version__}",
        "",
        "| measure | value |",
        "|---|---|",
        f"| rows (batched) | {len(H)} |",
        f"| batched transform, total | {batched_s:.1f} s |",
        f"| batched, per row | {1e3 * per_row_batched:.2f} ms |",
        f"| one row at a time, per row ({len(rows)} rows) | {1e3 * per_row_single:.1f} ms |",
        f"| speed-up | {per_row_single / per_row_batched:.1f}x |",
        f"| mean iterations (stage 1, stage 2) | {details.n_iter.mean(axis=0).round(1).tolist()} |",
        f"| flipped agent flagged | {100 * details.corrupted[:, -1].mean():.1f} % |",
        f"| max relative gap batched vs one-by-one | {gap:.1e} |",
        f"| median rel. distance to the purified clean row | {np.median(error):.3f} |",
        "",
    ]
    text = "\n".join(lines)
    print(text)
    if not args.no_record:
        args.results.parent.mkdir(parents=True, exist_ok=True)
        header = "" if args.results.exists() else (
            "# CoPur purification speed (NUS-WIDE shape)\n\n"
            "Command: `python benchmarks/copur_speed.py [--device cuda]`\n\n"
        )
        with args.results.open("a") as handle:
            handle.write(header + text + "\n")


if __name__ == "__main__":
    main()
