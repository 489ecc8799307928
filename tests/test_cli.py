"""The main-job command, end to end at a tiny size, and its error handling."""

import csv

import pandas as pd
import pytest

from sklearn_robust.__main__ import main


def test_bias_command_prints_table_and_writes_csv(tmp_path, capsys):
    out = tmp_path / "out"
    main(["bias", "--n-samples", "30", "--n-features", "60", "--n-seeds", "1",
          "--scales", "1", "--quiet", "--output", str(out)])
    printed = capsys.readouterr().out
    assert "RandEigenMean" in printed and "SampleMean" in printed
    with open(out / "robust_mean_bias.csv") as fh:
        rows = list(csv.DictReader(fh))
    # 10 estimators x 7 attack settings x 1 seed x 1 scale.
    assert len(rows) == 70
    assert {row["attack"] for row in rows} >= {"none", "HiDRA", "ALIE"}


def test_options_without_command_default_to_bias(tmp_path, capsys):
    main(["--n-samples", "20", "--n-features", "30", "--n-seeds", "1", "--scales", "1",
          "--quiet", "--output", str(tmp_path)])
    assert (tmp_path / "robust_mean_bias.csv").exists()


@pytest.mark.parametrize(
    "argv, message",
    [
        (["bias", "--eps", "0.7"], "expected a number in (0, 0.5)"),
        (["bias", "--scales", "a,b"], "comma-separated positive numbers"),
        (["bias", "--n-seeds", "0"], "positive integer"),
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
