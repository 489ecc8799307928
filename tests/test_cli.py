"""The commands, end to end at a tiny size, their shared grammar and their error handling."""

import csv

import pandas as pd
import pytest

from sklearn_robust.__main__ import BIAS_AGGREGATORS, BIAS_ATTACKS, build_parser, main


def test_bias_command_prints_table_and_writes_csv_and_png(tmp_path, capsys):
    out = tmp_path / "out"
    main(["bias", "--n-clients", "30", "--n-features", "60", "--seeds", "0",
          "--scales", "1", "--quiet", "--output", str(out)])
    printed = capsys.readouterr().out
    assert "RandEigenMean" in printed and "SampleMean" in printed and "worst" in printed
    assert "median over 1 seed" in printed
    assert f"written to {out / 'robust_mean_bias.csv'}; plot: {out / 'robust_mean_bias.png'}" in (
        printed
    )
    with open(out / "robust_mean_bias.csv") as fh:
        rows = list(csv.DictReader(fh))
    # 10 estimators x 18 attack settings (none + the 17 poisoning adversaries) x 1 seed.
    assert len(rows) == 180
    assert [row["attack"] for row in rows[::10]] == list(BIAS_ATTACKS)
    assert (out / "robust_mean_bias.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_bias_command_takes_the_other_commands_option_names(tmp_path, capsys):
    main(["bias", "--aggregators", "SampleMean", "RandEigenMean", "--attacks", "none", "ALIE",
          "--n-clients", "20", "--byzantine-fraction", "0.1", "--n-features", "30",
          "--seeds", "3", "5", "--scales", "1e-4", "1", "--quiet", "--output", str(tmp_path)])
    frame = pd.read_csv(tmp_path / "robust_mean_bias.csv")
    assert list(dict.fromkeys(frame["estimator"])) == ["SampleMean", "RandEigenMean"]
    assert set(frame["attack"]) == {"none", "ALIE"}
    assert sorted(set(frame["seed"])) == [3, 5]
    assert sorted(set(frame["scale"])) == [1e-4, 1.0]
    assert len(frame) == 2 * 2 * 2 * 2
    assert "20 clients, 10% byzantine, d=30, median over 2 seeds" in capsys.readouterr().out


def test_bias_names_match_the_experiment_defaults():
    # The parser keeps the names so that --help imports no torch; they must be the
    # experiment's, and the experiment must cover every poisoning adversary.
    from sklearn_robust import adversaries
    from sklearn_robust.base import BasePoisoningAdversary
    from sklearn_robust.experiments import default_adversaries, default_estimators

    assert tuple(default_estimators()) == BIAS_AGGREGATORS
    assert tuple(default_adversaries()) == BIAS_ATTACKS
    poisoning = {
        name for name in adversaries.__all__
        if isinstance(getattr(adversaries, name), type)  # default_attack_suite is a function
        and issubclass(getattr(adversaries, name), BasePoisoningAdversary)
    }
    assert len(poisoning) == 17
    assert set(BIAS_ATTACKS) - {"none"} == poisoning


def test_bias_defaults_are_the_benchmark_setting():
    # benchmarks/robust_mean_bias.py and notebooks/01 describe n=100, d=10 000, eps=0.2,
    # scales 1e-4 and 1, 10 seeds as the bias command's default.
    args = build_parser().parse_args(["bias"])
    assert (args.n_clients, args.n_features, args.byzantine_fraction) == (100, 10_000, 0.2)
    assert args.scales == [1e-4, 1.0] and args.seeds == list(range(10))


def test_no_command_lists_the_commands(capsys):
    with pytest.raises(SystemExit) as info:
        main([])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "choose a command: copur, federated or bias" in err
    for command in ("copur", "federated", "bias"):
        assert f"    {command}" in err


@pytest.mark.parametrize("command", ["copur", "federated", "bias"])
def test_every_help_shows_the_defaults(command, capsys):
    with pytest.raises(SystemExit) as info:
        main([command, "--help"])
    assert info.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    for option in ("--seeds", "--n-jobs", "--output"):
        assert option in text
    assert "(default: results)" in text
    assert text.count("(default:") >= 5
    if command != "copur":
        for option in ("--aggregators", "--attacks", "--n-clients", "--byzantine-fraction"):
            assert option in text


@pytest.mark.parametrize(
    "argv, message",
    [
        (["bias", "--byzantine-fraction", "0.7"], "expected a number in (0, 0.5)"),
        (["bias", "--scales", "a"], "expected a positive number"),
        (["bias", "--scales", "1", "-2"], "expected a positive number"),
        (["bias", "--n-clients", "0"], "positive integer"),
        (["bias", "--attacks", "Sybil"], "invalid choice: 'Sybil'"),
        (["bias", "--n-seeds", "3"], "unrecognized arguments: --n-seeds"),
        (["nonsense"], "invalid choice"),
    ],
)
def test_bad_options_give_one_clear_line(argv, message, capsys):
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err


def test_copur_command_writes_csv_and_png(tmp_path, capsys):
    out = tmp_path / "out"
    main(["copur", "--experiment", "figure2a", "--seeds", "0", "--defenses", "unsecured",
          "CoPur", "--max-epochs", "10", "--quiet", "--output", str(out)])
    printed = capsys.readouterr().out
    assert "figure2a (accuracy %" in printed and "CoPur" in printed
    assert str(out / "copur_figure2a.csv") in printed
    with open(out / "copur_figure2a.csv") as fh:
        rows = list(csv.DictReader(fh))
    # 2 defenses x 5 amplifications x 1 seed.
    assert len(rows) == 10
    assert {row["defense"] for row in rows} == {"unsecured", "CoPur"}
    png = out / "copur_figure2a.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_copur_table_experiment_plots_too(tmp_path, capsys):
    main(["copur", "--experiment", "table1", "--seeds", "0", "--defenses", "unsecured",
          "--max-epochs", "5", "--pgd-max-iter", "2", "--quiet", "--output", str(tmp_path)])
    assert "targeted PGD (agent 3)" in capsys.readouterr().out
    assert (tmp_path / "copur_table1.csv").exists()
    assert (tmp_path / "copur_table1.png").exists()


@pytest.mark.parametrize(
    "argv, message",
    [
        (["copur", "--experiment", "table9"], "invalid choice: 'table9'"),
        (["copur", "--defenses", "magic"], "invalid choice: 'magic'"),
        (["copur", "--data", "mnist"], "--data must be digits, extrasensory PATH or nus-wide"),
        (["copur", "--data", "extrasensory"], "--data extrasensory needs one PATH"),
        (["copur", "--data", "digits", "x.csv"], "--data digits takes no path"),
        (["copur", "--seeds", "a"], "invalid int value: 'a'"),
        (["copur", "--max-epochs", "0"], "positive integer"),
        (["copur", "--device", "tpu"], "invalid choice: 'tpu'"),
    ],
)
def test_copur_bad_options_give_one_clear_line(argv, message, capsys):
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err


def test_copur_missing_data_file_gives_one_line(tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        main(["copur", "--data", "extrasensory", str(tmp_path / "nope.csv.gz")])
    message = str(info.value.code)
    assert message.startswith("error: --data extrasensory:") and "does not exist" in message
    assert "\n" not in message


def test_copur_command_on_an_extrasensory_file(tmp_path, capsys):
    # A user's ExtraSensory file in the official format (written by the dataset tests'
    # helper), end to end through the command at a tiny size.
    from test_datasets import _extrasensory_frame

    path = tmp_path / "0A986513-7828-4D53-AA1F-E02D6DF9561B.features_labels.csv"
    frame = _extrasensory_frame()
    frame = pd.concat([frame] * 4, ignore_index=True)  # enough rows for a split
    frame.to_csv(path, index=False)
    out = tmp_path / "out"
    main(["copur", "--data", "extrasensory", str(path), "--experiment", "figure3", "--seeds",
          "0", "--defenses", "unsecured", "CoPur", "--max-epochs", "5", "--quiet",
          "--output", str(out)])
    printed = capsys.readouterr().out
    assert "figure3 (accuracy %" in printed
    with open(out / "copur_figure3.csv") as fh:
        rows = list(csv.DictReader(fh))
    # 10 agents: flips of the last 1..9 agents, 2 defenses, 1 seed.
    assert len(rows) == 2 * 9
    assert all(0.0 <= float(row["accuracy"]) <= 100.0 for row in rows)
