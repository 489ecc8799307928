"""The main-job command, end to end at a tiny size, and its error handling."""

import csv

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
