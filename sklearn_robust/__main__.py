"""Command line: ``python -m sklearn_robust <command>`` (also the ``sklearn-robust`` script).

Commands
--------
bias     Robust-mean comparison under poisoning (the main job until the CoPur experiment
         lands): median normalized bias of every robust mean under every attack.
"""

import argparse
import csv
import pathlib
import sys
import time


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _scales(text):
    try:
        values = tuple(float(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated positive numbers such as 1e-4,1; got {text!r}"
        ) from None
    if not values or any(v <= 0 for v in values):
        raise argparse.ArgumentTypeError(f"scales must be positive; got {text!r}")
    return values


def _fraction(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 0.5), got {text!r}") from None
    if not 0 < value < 0.5:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 0.5), got {text!r}")
    return value


def build_parser():
    parser = argparse.ArgumentParser(
        prog="python -m sklearn_robust",
        description="sklearn-robust: robust distributed machine learning experiments.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    bias = sub.add_parser(
        "bias",
        help="compare robust means under poisoning attacks (default command)",
        description=(
            "Aggregate synthetic client updates of which a fraction eps is byzantine, with "
            "every robust mean of the library under every poisoning attack, and print the "
            "median normalized bias (error in units of the honest updates' largest standard "
            "deviation; lower is better, the plain mean is 'SampleMean')."
        ),
    )
    bias.add_argument("--n-samples", type=_positive_int, default=100, help="rows (clients)")
    bias.add_argument(
        "--n-features", type=_positive_int, default=2000, help="dimension of each update"
    )
    bias.add_argument("--eps", type=_fraction, default=0.2, help="byzantine fraction")
    bias.add_argument(
        "--scales", type=_scales, default=(1e-4, 1.0), help="per-coordinate std, e.g. 1e-4,1"
    )
    bias.add_argument("--n-seeds", type=_positive_int, default=3, help="seeds per cell")
    bias.add_argument("--n-jobs", type=int, default=None, help="joblib workers")
    bias.add_argument(
        "--output",
        type=pathlib.Path,
        default=pathlib.Path("results"),
        help="folder for robust_mean_bias.csv (created if missing)",
    )
    bias.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def _run_bias(args):
    from sklearn_robust.experiments import format_bias_table, robust_mean_bias

    start = time.perf_counter()
    rows = robust_mean_bias(
        n_samples=args.n_samples,
        n_features=args.n_features,
        eps=args.eps,
        scales=args.scales,
        n_seeds=args.n_seeds,
        n_jobs=args.n_jobs,
        verbose=0 if args.quiet else 1,
    )
    print(
        f"\nMedian normalized bias (n={args.n_samples}, d={args.n_features}, eps={args.eps}, "
        f"{args.n_seeds} seeds; one column per attack; lower is better)\n"
    )
    print(format_bias_table(rows))
    args.output.mkdir(parents=True, exist_ok=True)
    path = args.output / "robust_mean_bias.csv"
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    print(f"\nAll runs written to {path} ({time.perf_counter() - start:.0f} s).")


def main(argv=None):
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0].startswith("-") and argv[0] not in ("-h", "--help"):
        argv = ["bias", *argv]
    args = parser.parse_args(argv)
    try:
        if args.command == "bias":
            _run_bias(args)
    except (OSError, ValueError) as exc:
        parser.exit(2, f"error: {exc}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
