"""Command line: ``python -m sklearn_robust <command>`` (also the ``sklearn-robust`` script).

Commands
--------
copur    The CoPur paper's experiments: accuracy of CoPur and the baselines under the
         paper's attacks, as a table, a CSV and a PNG plot per experiment (what
         ``make run`` runs).
federated
         The RandEigen paper's federated experiment: final accuracy and backdoor success
         of every aggregator under every poisoning attack, with a plot per round.
bias     Robust-mean comparison under poisoning: median normalized bias of every robust
         mean under every poisoning attack, as a table, a CSV and a heat map.

There is no default command: ``python -m sklearn_robust`` alone prints this list (and
exits with status 2), because each command is a different experiment of minutes and
none is "the" experiment. The commands share one grammar: ``--seeds``, ``--n-jobs``,
``--output`` and ``--quiet`` mean the same in each, ``--n-clients``, ``--byzantine-fraction``,
``--aggregators`` and ``--attacks`` the same in ``bias`` and ``federated``, and every
``--help`` shows the defaults.
"""

import argparse
import csv
import pathlib
import sys
import time

# Kept here so that building the parser imports no torch; tests check them against
# sklearn_robust.experiments.COPUR_EXPERIMENTS and default_copur_defenses.
COPUR_EXPERIMENTS = ("table1", "table2", "figure2a", "figure2b", "figure3", "adaptive")
COPUR_DEFENSES = (
    "unsecured",
    "manifold projection",
    "CoPur",
    "randomized smoothing",
    "randomized smoothing (block)",
    "randomized ablation",
    "adversarial training",
    "adversarial training (block)",
)
# Same for sklearn_robust.experiments.default_federated_aggregators / _attacks.
FEDERATED_AGGREGATORS = (
    "mean",
    "coordinate median",
    "trimmed mean",
    "Krum",
    "geometric median",
    "FILTERING",
    "RandEigen",
)
FEDERATED_ATTACKS = (
    "none", "sign flip", "ALIE", "IPM", "HiDRA", "Gaussian", "min-max", "backdoor",
)
# The same for default_federated_aggregators / _attacks(setting="paper").
PAPER_FEDERATED_AGGREGATORS = (
    "mean",
    "coordinate median",
    "trimmed mean",
    "geometric median",
    "Multi-Krum",
    "centered clipping",
    "FILTERING",
    "NO-REGRET",
    "RandEigen",
)
PAPER_FEDERATED_ATTACKS = (
    "none", "HiDRA", "ALIE", "IPM", "sign flip", "min-max", "Gaussian", "TMA", "MRA", "DBA",
    "MPA",
)
FEDERATED_DATASETS = ("digits", "mnist", "fashion-mnist", "cifar10")
# Same for sklearn_robust.experiments.default_estimators / default_adversaries.
BIAS_AGGREGATORS = (
    "SampleMean", "CoordinateMedian", "TrimmedMean", "GeometricMedian", "Krum", "MultiKrum",
    "CenteredClipping", "FilteringMean", "NoRegretMean", "RandEigenMean",
)
BIAS_ATTACKS = (
    "none", "HiDRA", "ALIE", "IPM", "SignFlip", "GaussianNoise", "ConstantShift", "MinMax",
    "MinSum", "KrumAttack", "TMA", "Backdoor", "DBA", "MPA", "EigenShift", "OrthogonalSpikes",
    "HullPoints", "Mimic",
)


class _HelpFormatter(argparse.HelpFormatter):
    """Shows every option's default, unless its help already says it or it is a flag."""

    def _get_help_string(self, action):
        text = action.help or ""
        if (
            action.default is argparse.SUPPRESS
            or not action.option_strings
            or action.nargs == 0
            or "default" in text
        ):
            return text
        default = action.default
        if isinstance(default, (list, tuple)):
            default = " ".join(f"{v:g}" if isinstance(v, float) else str(v) for v in default)
        return f"{text} (default: {default})"


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _positive_float(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a positive number such as 1e-4; got {text!r}"
        ) from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number such as 1e-4; got {text!r}")
    return value


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
        description="sklearn-robust: robust distributed machine learning experiments. "
        "Choose a command; 'python -m sklearn_robust COMMAND --help' lists its options.",
        formatter_class=_HelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    defense_names = list(COPUR_DEFENSES)
    copur = sub.add_parser(
        "copur",
        help="CoPur against the baselines under the CoPur paper's attacks",
        formatter_class=_HelpFormatter,
        description=(
            "Train every defense on clean agents' embeddings and print its accuracy (%, "
            "mean ± sample std over seeds) under the CoPur paper's attacks on the last agent: "
            "table1 (targeted PGD), table2 (first agent missing + PGD), figure2a (flip "
            "amplification sweep), figure2b (first agent missing + flip sweep), figure3 "
            "(flip x10 on growing sets of agents), adaptive (the attacks that know the "
            "defense: the former PGD through the purifier, and the EnsembleAttack suite, "
            "per row the strongest of the library's adaptive attacks: the robustness to "
            "quote). Writes DIR/copur_<experiment>.csv and a PNG plot per experiment."
        ),
    )
    copur.add_argument(
        "--experiment",
        choices=[*COPUR_EXPERIMENTS, "all"],
        default="all",
        help="which experiment to run (default: all)",
    )
    copur.add_argument(
        "--seeds", type=int, nargs="+", default=[0, 1, 2], metavar="SEED",
        help="seeds (default: 0 1 2)",
    )
    copur.add_argument(
        "--defenses", nargs="+", choices=defense_names, default=None, metavar="NAME",
        help="defenses to compare (default: all); quote names with spaces: "
        + ", ".join(repr(n) for n in defense_names),
    )
    copur.add_argument(
        "--data", nargs="+", default=["digits"], metavar="DATA",
        help="'digits' (built-in, default), 'extrasensory PATH' (one user's "
        "<UUID>.features_labels.csv[.gz]) or 'nus-wide PATH' (folder of the official files)",
    )
    copur.add_argument("--device", choices=["cpu", "cuda"], default="cpu", help="torch device")
    copur.add_argument(
        "--max-epochs", type=_positive_int, default=None,
        help="epochs of every net (default: the library defaults; small for a quick look)",
    )
    copur.add_argument(
        "--pgd-max-iter", type=_positive_int, default=30, help="PGD iterations (default 30)"
    )
    copur.add_argument(
        "--suite-rows", type=_positive_int, default=100,
        help="test rows the adaptive experiment's EnsembleAttack is scored on (default: 100, "
        "a random subset, to bound its cost; the full evaluation is "
        "benchmarks/copur_adaptive.py)",
    )
    copur.add_argument(
        "--n-jobs", type=int, default=None, help="joblib workers (default: None, one)"
    )
    copur.add_argument(
        "--output", type=pathlib.Path, default=pathlib.Path("results"), metavar="DIR",
        help="folder for copur_<experiment>.csv and .png (created if missing)",
    )
    copur.add_argument("--quiet", action="store_true", help="no progress bars")

    federated = sub.add_parser(
        "federated",
        help="federated training under poisoning, every aggregator (RandEigen paper)",
        formatter_class=_HelpFormatter,
        description=(
            "Train an MLP on data split across clients (FedAvg), a fraction of them "
            "byzantine, with every aggregator under every poisoning attack; print the final "
            "test accuracy and the success rate of the targeted attacks (mean ± sample std over "
            "seeds) and the aggregation time, and write DIR/federated_runs.csv, "
            "DIR/federated_rounds.csv and DIR/federated_rounds.png (with --setting paper "
            "also DIR/federated_grid_<partition>.png). --setting small: 40 clients, a "
            "64-32-10 MLP, 30 rounds, iid. --setting paper: the RandEigen paper's scale, "
            "100 clients, a 301 066-parameter MLP, aggregation per layer, 8 rounds, iid "
            "and Dirichlet(0.5) clients, FILTERING and NO-REGRET with the clean-variance "
            "bound measured on a clean run, and the paper's attacks (HiDRA, TMA, MRA, DBA, "
            "MPA and the others)."
        ),
    )
    federated.add_argument(
        "--setting", choices=["small", "paper"], default="small",
        help="'small' (default) or 'paper' (the RandEigen paper's scale)",
    )
    federated.add_argument(
        "--aggregators", nargs="+",
        choices=list(dict.fromkeys(FEDERATED_AGGREGATORS + PAPER_FEDERATED_AGGREGATORS)),
        default=None, metavar="NAME", help="aggregators (default: all of the setting); "
        "small: " + ", ".join(repr(n) for n in FEDERATED_AGGREGATORS) + "; paper: "
        + ", ".join(repr(n) for n in PAPER_FEDERATED_AGGREGATORS),
    )
    federated.add_argument(
        "--attacks", nargs="+",
        choices=list(dict.fromkeys(FEDERATED_ATTACKS + PAPER_FEDERATED_ATTACKS)),
        default=None, metavar="NAME", help="attacks (default: all of the setting); small: "
        + ", ".join(repr(n) for n in FEDERATED_ATTACKS) + "; paper: "
        + ", ".join(repr(n) for n in PAPER_FEDERATED_ATTACKS),
    )
    federated.add_argument(
        "--dataset", choices=FEDERATED_DATASETS, default="digits",
        help="'digits' (built-in, default), or the official files of 'mnist', "
        "'fashion-mnist' (IDX) or 'cifar10' (python batches) in --data-home",
    )
    federated.add_argument(
        "--data-home", type=pathlib.Path, default=None, metavar="DIR",
        help="folder holding the downloaded files of --dataset (nothing is downloaded)",
    )
    federated.add_argument(
        "--n-clients", type=_positive_int, default=None,
        help="clients (default: 40 small, 100 paper)",
    )
    federated.add_argument(
        "--byzantine-fraction", type=_fraction, default=0.2, help="byzantine fraction"
    )
    federated.add_argument(
        "--n-rounds", type=_positive_int, default=None,
        help="rounds (default: 30 small, 8 paper)",
    )
    federated.add_argument(
        "--seeds", type=int, nargs="+", default=None, metavar="SEED",
        help="seeds (default: 0 1 2)",
    )
    federated.add_argument(
        "--partitions", nargs="+", choices=["iid", "dirichlet"], default=None,
        help="client splits (default: iid small, iid dirichlet paper); Dirichlet alpha 0.5",
    )
    federated.add_argument(
        "--dirichlet-seeds", type=int, nargs="+", default=None, metavar="SEED",
        help="seeds of the Dirichlet runs (default: --seeds)",
    )
    federated.add_argument(
        "--device", choices=["cpu", "cuda"], default="cpu", help="torch device of training"
    )
    federated.add_argument(
        "--quick", action="store_true",
        help="a tiny version for smoke tests: 10 clients, 2 rounds, a 16-unit MLP, seed 0, "
        "iid (options given explicitly still apply)",
    )
    federated.add_argument("--n-jobs", type=int, default=2, help="joblib workers (default 2)")
    federated.add_argument(
        "--output", type=pathlib.Path, default=pathlib.Path("results"), metavar="DIR",
        help="folder for the CSVs and the PNG (created if missing)",
    )
    federated.add_argument("--quiet", action="store_true", help="no progress bar")

    bias = sub.add_parser(
        "bias",
        help="median bias of every robust mean under every poisoning attack",
        formatter_class=_HelpFormatter,
        description=(
            "Aggregate synthetic client updates (a common mean plus isotropic noise, both of "
            "std SCALE per coordinate) of which a fraction is byzantine, with every robust mean "
            "of the library under every poisoning attack of sklearn_robust.adversaries, and "
            "print the median over seeds of the normalized bias (error in units of the honest "
            "updates' largest standard deviation; lower is better; the plain mean is "
            "'SampleMean'), with each robust mean's worst attack. Writes "
            "DIR/robust_mean_bias.csv (every run) and DIR/robust_mean_bias.png (a heat map "
            "per scale). The defaults are the setting of benchmarks/robust_mean_bias.py "
            "(about 2 minutes on 2 cores; --n-features 2000 --seeds 0 1 2 for a quick look)."
        ),
    )
    bias.add_argument(
        "--aggregators", nargs="+", choices=BIAS_AGGREGATORS, default=None, metavar="NAME",
        help="robust means (default: all): " + ", ".join(BIAS_AGGREGATORS),
    )
    bias.add_argument(
        "--attacks", nargs="+", choices=BIAS_ATTACKS, default=None, metavar="NAME",
        help="attacks (default: all): " + ", ".join(BIAS_ATTACKS),
    )
    bias.add_argument(
        "--n-clients", type=_positive_int, default=100, help="clients (rows of the update matrix)"
    )
    bias.add_argument(
        "--n-features", type=_positive_int, default=10_000, help="dimension of each update"
    )
    bias.add_argument(
        "--byzantine-fraction", type=_fraction, default=0.2,
        help="byzantine fraction, also the fraction the robust means are told to expect",
    )
    bias.add_argument(
        "--scales", type=_positive_float, nargs="+", default=[1e-4, 1.0], metavar="SCALE",
        help="per-coordinate standard deviations of the honest updates",
    )
    bias.add_argument(
        "--seeds", type=int, nargs="+", default=list(range(10)), metavar="SEED", help="seeds"
    )
    bias.add_argument(
        "--n-jobs", type=int, default=None, help="joblib workers (default: None, one)"
    )
    bias.add_argument(
        "--output", type=pathlib.Path, default=pathlib.Path("results"), metavar="DIR",
        help="folder for robust_mean_bias.csv and .png, created if missing",
    )
    bias.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def _bias_figure(rows, title, path):
    """One heat map per scale, stacked, with the setting as the figure's title."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from sklearn_robust.experiments import plot_bias_heatmap

    scales = list(dict.fromkeys(row["scale"] for row in rows))
    n_rows = len({row["estimator"] for row in rows})
    n_columns = len({row["attack"] for row in rows}) + 1
    figure, axes = plt.subplots(
        len(scales), 1, figsize=(0.75 * n_columns + 4, (0.4 * n_rows + 2.2) * len(scales)),
        squeeze=False,
    )
    for ax, scale in zip(axes[:, 0], scales):
        plot_bias_heatmap(rows, scale, ax=ax)
    figure.suptitle(title)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def _run_bias(args):
    from sklearn_robust.experiments import (
        default_adversaries,
        default_estimators,
        format_bias_table,
        robust_mean_bias,
    )

    eps = args.byzantine_fraction
    estimators = default_estimators(eps)
    adversaries = default_adversaries(eps)
    if args.aggregators is not None:
        estimators = {name: estimators[name] for name in dict.fromkeys(args.aggregators)}
    if args.attacks is not None:
        adversaries = {name: adversaries[name] for name in dict.fromkeys(args.attacks)}
    start = time.perf_counter()
    rows = robust_mean_bias(
        n_samples=args.n_clients,
        n_features=args.n_features,
        eps=eps,
        scales=tuple(dict.fromkeys(args.scales)),
        seeds=list(dict.fromkeys(args.seeds)),
        estimators=estimators,
        adversaries=adversaries,
        n_jobs=args.n_jobs,
        verbose=0 if args.quiet else 1,
    )
    n_seeds = len(set(args.seeds))
    shape = f"{args.n_clients} clients, {eps:.0%} byzantine, d={args.n_features}"
    setting = f"{shape}, median over {n_seeds} seed{'s' * (n_seeds > 1)}"
    print(
        f"\nMedian normalized bias of the robust means under poisoning ({setting}; one "
        "column per attack, 'worst' = the largest; lower is better)\n"
    )
    print(format_bias_table(rows))
    args.output.mkdir(parents=True, exist_ok=True)
    path = args.output / "robust_mean_bias.csv"
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    png = args.output / "robust_mean_bias.png"
    _bias_figure(rows, f"Robust means under poisoning: {shape}", png)
    print(f"\nAll runs written to {path}; plot: {png} ({time.perf_counter() - start:.0f} s).")


def _load_copur_data(parser, data):
    """(X, y, blocks, standardize) for ``--data``; None for the built-in digits."""
    name, paths = data[0], data[1:]
    if name == "digits":
        if paths:
            parser.error(f"--data digits takes no path; got {paths}")
        return None
    if name not in ("extrasensory", "nus-wide"):
        parser.error(f"--data must be digits, extrasensory PATH or nus-wide PATH; got {name!r}")
    if len(paths) != 1:
        parser.error(f"--data {name} needs one PATH; got {len(paths)}")
    path = pathlib.Path(paths[0])
    if not path.exists():
        sys.exit(f"error: --data {name}: {path} does not exist")
    from sklearn_robust import datasets

    if name == "extrasensory":
        bunch = datasets.load_extrasensory(path)
    else:
        bunch = datasets.load_nus_wide(path)
    return bunch.data, bunch.target, bunch.blocks, True


def _copur_plot(frame, experiment, path, dataset):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from sklearn_robust.experiments import RobustnessCurveDisplay

    x = {"figure2a": "amplification", "figure2b": "amplification",
         "figure3": "n_attacked_agents"}.get(experiment, "attack")
    display = RobustnessCurveDisplay.from_results(
        frame, x=x, experiment=experiment, dataset=dataset
    )
    display.figure_.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(display.figure_)


def _run_copur(parser, args):
    from sklearn_robust.experiments import copur_comparison, format_copur_table

    data = _load_copur_data(parser, args.data)
    X, y, blocks, standardize = (None, None, None, False) if data is None else data
    defenses = None
    if args.defenses is not None:
        from sklearn_robust._layout import check_blocks
        from sklearn_robust.experiments import default_copur_defenses

        n_agents = 4 if X is None else check_blocks(blocks, X.shape[1]).n_blocks
        every = default_copur_defenses(
            n_agents, max_epochs=args.max_epochs, pgd_max_iter=args.pgd_max_iter,
            device=args.device,
        )
        defenses = {name: every[name] for name in dict.fromkeys(args.defenses)}
    if args.device == "cuda":
        import torch

        if not torch.cuda.is_available():
            sys.exit("error: --device cuda, but torch sees no CUDA device; use --device cpu")
    start = time.perf_counter()
    frame = copur_comparison(
        X, y, blocks=blocks, experiment=args.experiment, defenses=defenses, seeds=args.seeds,
        max_epochs=args.max_epochs, pgd_max_iter=args.pgd_max_iter,
        suite_rows=args.suite_rows, standardize=standardize,
        device=args.device, n_jobs=args.n_jobs, verbose=0 if args.quiet else 1,
    )
    print(f"\nCoPur experiments on {args.data[0]} (seeds {args.seeds}; accuracy %, higher is "
          "better; ASR: targeted-PGD success rate %, lower is better)\n")
    print(format_copur_table(frame))
    args.output.mkdir(parents=True, exist_ok=True)
    csv_path = args.output / f"copur_{args.experiment}.csv"
    frame.to_csv(csv_path, index=False)
    pngs = []
    for experiment in dict.fromkeys(frame["experiment"]):
        png = args.output / f"copur_{experiment}.png"
        _copur_plot(frame, experiment, png, args.data[0])
        pngs.append(str(png))
    print(f"\nAll runs written to {csv_path}; plots: {', '.join(pngs)} "
          f"({time.perf_counter() - start:.0f} s).")


def _federated_figure(rounds, path, title="Test accuracy per round (mean over seeds)"):
    """Accuracy per round for up to four attacks side by side, one legend below."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from sklearn_robust.experiments import plot_federated_rounds

    attacks = list(dict.fromkeys(rounds["attack"]))
    preferred = [a for a in ("none", "sign flip", "IPM", "backdoor") if a in attacks]
    if "HiDRA" in attacks and "MRA" in attacks:  # the paper setting
        preferred = [a for a in ("none", "HiDRA", "TMA", "MRA") if a in attacks]
    shown = (preferred + [a for a in attacks if a not in preferred])[:4]
    figure, axes = plt.subplots(
        1, len(shown), figsize=(4.2 * len(shown), 4.2), squeeze=False, sharey=True
    )
    for ax, attack in zip(axes[0], shown):
        plot_federated_rounds(rounds, attack, ax=ax)
        ax.set_title(f"attack: {attack}")
        ax.get_legend().remove()
    handles, labels = axes[0][0].get_legend_handles_labels()
    figure.legend(handles, labels, loc="lower center", ncol=min(len(labels), 9), fontsize="small")
    figure.suptitle(title)
    figure.tight_layout(rect=(0, 0.08, 1, 1))
    figure.savefig(path, dpi=120)
    plt.close(figure)


def _federated_grid_figure(runs, path, title):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from sklearn_robust.experiments import plot_federated_grid

    mean_columns = runs["aggregator"].nunique()
    figure, ax = plt.subplots(
        figsize=(2.5 + 1.05 * mean_columns, 1.4 + 0.45 * runs["attack"].nunique())
    )
    plot_federated_grid(runs, ax=ax, title=title)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def _load_federated_data(args):
    """(X, y, X_test, y_test, image_shape, name); test None for the built-in digits."""
    if args.dataset == "digits":
        if args.data_home is not None:
            raise ValueError("--data-home is for --dataset mnist, fashion-mnist or cifar10.")
        from sklearn.datasets import load_digits

        X, y = load_digits(return_X_y=True)
        return X / 16.0, y, None, None, (8, 8), "the digits"
    if args.data_home is None:
        raise ValueError(
            f"--dataset {args.dataset} reads the downloaded files: pass --data-home DIR "
            "(the folder holding them)."
        )
    from sklearn_robust import datasets

    if args.dataset == "cifar10":
        train = datasets.load_cifar10(args.data_home, subset="train")
        test = datasets.load_cifar10(args.data_home, subset="test")
    else:
        train = datasets.load_mnist(args.data_home, subset="train", kind=args.dataset)
        test = datasets.load_mnist(args.data_home, subset="test", kind=args.dataset)
    name = {"mnist": "MNIST", "fashion-mnist": "Fashion-MNIST", "cifar10": "CIFAR-10"}
    return train.data, train.target, test.data, test.target, train.image_shape, name[args.dataset]


def _run_federated(parser, args):
    from sklearn_robust.experiments import (
        clean_variance_bound,
        default_federated_aggregators,
        default_federated_attacks,
        federated_poisoning,
        format_federated_table,
    )
    from sklearn_robust.experiments._federated_experiments import PAPER_TRAINING

    paper = args.setting == "paper"
    names = (
        (PAPER_FEDERATED_AGGREGATORS, PAPER_FEDERATED_ATTACKS)
        if paper
        else (FEDERATED_AGGREGATORS, FEDERATED_ATTACKS)
    )
    for option, chosen, allowed in (
        ("--aggregators", args.aggregators, names[0]),
        ("--attacks", args.attacks, names[1]),
    ):
        unknown = [n for n in chosen or [] if n not in allowed]
        if unknown:
            parser.error(
                f"{option} {unknown} are not in --setting {args.setting}; choose from "
                + ", ".join(repr(n) for n in allowed)
            )
    if args.device == "cuda":
        import torch

        if not torch.cuda.is_available():
            sys.exit("error: --device cuda, but torch sees no CUDA device; use --device cpu")
    quick = args.quick
    n_clients = args.n_clients or (10 if quick else 100 if paper else 40)
    n_rounds = args.n_rounds or (2 if quick else PAPER_TRAINING["n_rounds"] if paper else 30)
    seeds = args.seeds or ([0] if quick else [0, 1, 2])
    partitions = args.partitions or (["iid", "dirichlet"] if paper and not quick else ["iid"])
    training = dict(PAPER_TRAINING) if paper else {}
    training.update({"n_rounds": n_rounds, "device": args.device})
    if quick:
        training["module__hidden_layer_sizes"] = (16,)
    X, y, X_test, y_test, image_shape, data_name = _load_federated_data(args)

    start = time.perf_counter()
    runs, rounds, sigmas = [], [], {}
    for partition in partitions:
        part_seeds = seeds
        if partition == "dirichlet" and args.dirichlet_seeds:
            part_seeds = args.dirichlet_seeds
        sigma = None
        if paper:
            if X_test is None:
                from sklearn.model_selection import train_test_split

                X_fit, _, y_fit, _ = train_test_split(
                    X, y, test_size=0.3, random_state=part_seeds[0], stratify=y
                )
            else:
                X_fit, y_fit = X, y
            sigma = sigmas[partition] = clean_variance_bound(
                X_fit, y_fit, n_clients=n_clients, training=training, partition=partition,
                random_state=part_seeds[0],
            )
        setting = {"setting": args.setting, "sigma": sigma} if paper else {}
        aggregators = default_federated_aggregators(args.byzantine_fraction, **setting)
        attacks = default_federated_attacks(
            **setting, **({"image_shape": image_shape} if paper else {})
        )
        if args.aggregators is not None:
            aggregators = {n: aggregators[n] for n in dict.fromkeys(args.aggregators)}
        if args.attacks is not None:
            attacks = {n: attacks[n] for n in dict.fromkeys(args.attacks)}
        results = federated_poisoning(
            X, y, X_test=X_test, y_test=y_test, aggregators=aggregators, attacks=attacks,
            n_clients=n_clients, byzantine_fraction=args.byzantine_fraction, seeds=part_seeds,
            training=training, partition=partition, n_jobs=args.n_jobs,
            verbose=0 if args.quiet else 1,
        )
        runs.append(results.runs)
        rounds.append(results.rounds)
    import pandas as pd

    runs, rounds = pd.concat(runs, ignore_index=True), pd.concat(rounds, ignore_index=True)
    n_params = "301 066-parameter MLP 64-512-512-10" if paper and not quick else "MLP"
    for partition in partitions:
        part = runs[runs["partition"] == partition]
        print(f"\nFederated training on {data_name} ({args.setting} setting, {partition} "
              f"clients): {n_clients} clients, {args.byzantine_fraction:.0%} byzantine, "
              f"{n_rounds} rounds, seeds {sorted(part['seed'].unique().tolist())}")
        if paper:
            print(f"{n_params if X_test is None else 'MLP 512-512'}, aggregation per layer; "
                  f"FILTERING / NO-REGRET / HiDRA clean-variance bound sigma = "
                  f"{sigmas[partition]:.4g} (measured on a clean run)")
        n_seeds = part["seed"].nunique()
        spread = f"mean ± sample std (ddof=1) over {n_seeds} seeds" if n_seeds > 1 else "1 seed"
        print(f"\nFinal test accuracy (%, {spread}; higher is better)\n")
        print(format_federated_table(part, "accuracy"))
        targeted = [c[len("success: "):] for c in part.columns if c.startswith("success: ")]
        if paper:
            print(f"\nSuccess rate of the targeted attacks (%, {spread}; lower is better; "
                  "'no attack': "
                  "the same trigger or targets on the model trained without attack)\n")
            print(_success_table(part, targeted))
        else:
            print(f"\nBackdoor success rate (%, {spread}; triggered test inputs classified as "
                  "the target; "
                  "lower is better)\n")
            print(format_federated_table(part, "attack_success_rate"))
        print(f"\nMean aggregation time per round (ms, {spread})\n")
        timing = part.assign(aggregation_ms=1000 * part["aggregation_time"])
        print(format_federated_table(timing, "aggregation_ms", decimals=2))
    args.output.mkdir(parents=True, exist_ok=True)
    runs.to_csv(args.output / "federated_runs.csv", index=False)
    rounds.to_csv(args.output / "federated_rounds.csv", index=False)

    pngs = [args.output / "federated_rounds.png"]
    first = partitions[0]
    _federated_figure(
        rounds[rounds["partition"] == first], pngs[0],
        f"Test accuracy per round on {data_name}, {n_clients} clients ({first}), "
        f"{args.byzantine_fraction:.0%} byzantine (mean over seeds)",
    )
    if paper:
        for partition in partitions:
            png = args.output / f"federated_grid_{partition}.png"
            part = runs[runs["partition"] == partition]
            _federated_grid_figure(
                part, png,
                f"Final test accuracy (%) on {data_name}, {n_clients} clients ({partition}), "
                f"{args.byzantine_fraction:.0%} byzantine\n"
                + (
                    f"mean ± sample std over {part['seed'].nunique()} seeds"
                    if part["seed"].nunique() > 1
                    else "one seed"
                ),
            )
            pngs.append(png)
    print(f"\nRuns written to {args.output / 'federated_runs.csv'}, per-round accuracy to "
          f"{args.output / 'federated_rounds.csv'}, plots to "
          f"{', '.join(str(p) for p in pngs)} ({time.perf_counter() - start:.0f} s).")


def _success_table(runs, targeted):
    """Targeted attacks' success (%): under the attack, and on the no-attack model."""
    from sklearn_robust.experiments import format_federated_table

    rows = []
    for name in targeted:
        column = f"success: {name}"
        under = runs[runs["attack"] == name].assign(value=lambda f, c=column: f[c])
        rows.append(under.assign(attack=name))
        clean = runs[runs["attack"] == "none"]
        if not clean.empty:
            rows.append(clean.assign(value=clean[column], attack=f"{name} (no attack)"))
    if not rows:
        return "(no targeted attack)"
    import pandas as pd

    return format_federated_table(pd.concat(rows, ignore_index=True), "value")


def main(argv=None):
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        parser.exit(2, "\nerror: choose a command: copur, federated or bias\n")
    try:
        if args.command == "bias":
            _run_bias(args)
        elif args.command == "copur":
            _run_copur(parser, args)
        elif args.command == "federated":
            _run_federated(parser, args)
    except (OSError, ValueError) as exc:
        parser.exit(2, f"error: {exc}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
