"""The CoPur paper's experiments at a tiny size: tidy output, robust orderings, the display."""

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from sklearn.impute import SimpleImputer  # noqa: E402

from sklearn_robust.__main__ import COPUR_DEFENSES, COPUR_EXPERIMENTS  # noqa: E402
from sklearn_robust.adversaries import (  # noqa: E402
    AdaptivePGDAttack,
    EnsembleAttack,
    FeatureFlip,
)
from sklearn_robust.estimators import CoPurTransformer, ManifoldProjection  # noqa: E402
from sklearn_robust.experiments import (  # noqa: E402
    COPUR_EXPERIMENTS as EXPERIMENTS,
)
from sklearn_robust.experiments import (  # noqa: E402
    RobustnessCurveDisplay,
    copur_comparison,
    default_copur_defenses,
    format_copur_table,
    summarize_copur,
)

COLUMNS = [
    "experiment", "defense", "attack", "agents", "amplification", "seed", "accuracy",
    "attack_success_rate",
]
# A tiny suite for the adaptive experiment (the default one is the full EnsembleAttack).
TINY_SUITE = EnsembleAttack(
    [("flip", FeatureFlip()), ("pgd", AdaptivePGDAttack(max_iter=5, n_restarts=1))]
)
FAST = {"seeds": [0], "max_epochs": 20, "pgd_max_iter": 10, "suite": TINY_SUITE,
        "suite_rows": 60}


@pytest.fixture(scope="module")
def three_defenses():
    return {
        "unsecured": SimpleImputer(strategy="mean"),
        "manifold projection": ManifoldProjection(blocks=4),
        "CoPur": CoPurTransformer(blocks=4),
    }


@pytest.fixture(scope="module")
def small_run(three_defenses):
    """Every experiment, three defenses, one seed: shared by the tests below."""
    return copur_comparison(
        experiment="all", defenses=three_defenses, amplifications=(1, 10), **FAST
    )


def test_cli_names_match_the_library():
    assert tuple(EXPERIMENTS) == COPUR_EXPERIMENTS
    assert tuple(default_copur_defenses(4)) == COPUR_DEFENSES


def test_tidy_columns_and_row_counts(small_run):
    assert list(small_run.columns) == COLUMNS
    counts = small_run.groupby("experiment").size().to_dict()
    # per defense: table1 2, table2 2, figure2a/2b one per amplification, figure3 M-1 = 3,
    # adaptive two for each of the three (the former PGD, all differentiable on complete
    # rows, and the suite).
    assert counts == {
        "table1": 6, "table2": 6, "figure2a": 6, "figure2b": 6, "figure3": 9, "adaptive": 6
    }
    assert small_run["accuracy"].between(0, 100).all()
    assert small_run["seed"].eq(0).all()
    pgd = small_run["attack"].str.contains("PGD")
    assert small_run.loc[pgd, "attack_success_rate"].between(0, 100).all()
    assert small_run.loc[~pgd, "attack_success_rate"].isna().all()
    flips = small_run["attack"].str.contains("flip")
    assert small_run.loc[flips, "amplification"].notna().all()
    assert small_run.loc[~flips, "amplification"].isna().all()
    figure3 = small_run[small_run["experiment"] == "figure3"]
    assert list(dict.fromkeys(figure3["agents"])) == ["3", "2,3", "1,2,3"]
    # 4 agents: Figure 2a flips the last ceil(4 / 4) = 1 agent.
    assert set(small_run.loc[small_run["experiment"] == "figure2a", "agents"]) == {"3"}


def test_copur_resists_flip_where_unsecured_fails(small_run):
    flip10 = small_run[(small_run["experiment"] == "figure2a")
                       & (small_run["amplification"] == 10)].set_index("defense")["accuracy"]
    assert flip10["CoPur"] > 60
    assert flip10["unsecured"] < 30
    assert flip10["CoPur"] > flip10["unsecured"] + 40
    clean = small_run[(small_run["experiment"] == "table1") & (small_run["attack"] == "none")]
    assert clean["accuracy"].min() > 80


def test_suite_is_stronger_than_the_former_attack(small_run):
    adaptive = small_run[small_run["experiment"] == "adaptive"]
    table = adaptive.pivot_table(index="defense", columns="attack", values="accuracy")
    suite, former = table["ensemble (agent 3)"], table["adaptive targeted PGD (agent 3)"]
    # The former attack is targeted (it counts only rows pushed to the target class), the
    # suite untargeted: lower accuracy is a stronger attack.
    assert suite["unsecured"] < 20
    # (scored on 60 of the test rows: a tolerance for the subset)
    assert suite["CoPur"] <= former["CoPur"] + 10, (suite, former)


def test_targeted_pgd_hits_unsecured(small_run):
    pgd = small_run[(small_run["experiment"] == "table1") & (small_run["attack"] != "none")]
    success = pgd.set_index("defense")["attack_success_rate"]
    assert success["unsecured"] > 50
    assert success["unsecured"] > success["CoPur"]


def test_classifier_defenses_are_scored():
    defenses = default_copur_defenses(4, max_epochs=10, pgd_max_iter=3)
    chosen = {k: defenses[k] for k in ("randomized smoothing", "randomized ablation")}
    frame = copur_comparison(experiment="table2", defenses=chosen, **FAST)
    assert len(frame) == 4
    assert frame["accuracy"].between(0, 100).all()
    # Missing agent 0: the smoothing model imputes it, ablation ablates it; both still work.
    assert frame.loc[frame["attack"] == "missing (agent 0)", "accuracy"].min() > 50


def test_custom_data_needs_labels_and_blocks():
    X = np.zeros((20, 4))
    with pytest.raises(ValueError, match="needs y and blocks"):
        copur_comparison(X, experiment="table1")
    with pytest.raises(ValueError, match="experiment must be one of"):
        copur_comparison(experiment="table9")


def test_summary_and_table(small_run):
    summary = summarize_copur(small_run)
    assert {"accuracy_mean", "accuracy_std", "n_seeds"} <= set(summary.columns)
    assert (summary["n_seeds"] == 1).all()
    text = format_copur_table(small_run)
    for experiment in EXPERIMENTS:
        assert text.count(f"{experiment} (accuracy %") == 1
    assert "CoPur" in text and "ASR" in text


def test_summary_std_over_seeds():
    frame = pd.DataFrame({
        "experiment": "figure2a", "defense": "d", "attack": "flip", "agents": "3",
        "amplification": 10.0, "seed": [0, 1, 2], "accuracy": [10.0, 20.0, 30.0],
        "attack_success_rate": np.nan,
    })
    row = summarize_copur(frame).iloc[0]
    assert row["accuracy_mean"] == pytest.approx(20.0)
    assert row["accuracy_std"] == pytest.approx(np.std([10, 20, 30], ddof=1))  # sample std
    assert np.isnan(row["attack_success_rate_mean"])


@pytest.mark.parametrize(
    "experiment, x, n_points",
    [("figure2a", "amplification", 2), ("figure3", "n_attacked_agents", 3),
     ("table1", "attack", 2)],
)
def test_display_one_line_per_defense(small_run, experiment, x, n_points):
    import matplotlib.pyplot as plt

    display = RobustnessCurveDisplay.from_results(small_run, x=x, experiment=experiment)
    try:
        assert sorted(display.lines_) == ["CoPur", "manifold projection", "unsecured"]
        for container in display.lines_.values():
            assert len(container.lines[0].get_xdata()) == n_points
        assert display.ax_.get_xlabel() and display.ax_.get_ylabel() == "accuracy (%)"
        labels = [t.get_text() for t in display.ax_.get_legend().get_texts()]
        assert sorted(labels) == sorted(display.lines_)
        assert experiment in display.ax_.get_title()
        assert display.figure_ is display.ax_.figure
        lines = [container.lines[0] for container in display.lines_.values()]
        # Curves stay apart: one marker each, dodged sideways by less than half a gap.
        assert len({line.get_marker() for line in lines}) == len(lines)
        if x == "amplification":
            points = display.lines_["CoPur"].lines[0].get_xdata()
            np.testing.assert_allclose(points, [1.0, 10.0], atol=0.5 * 9.0)
            assert list(display.ax_.get_xticks()) == [1.0, 10.0]  # ticks on the data
        if x == "attack":  # categories are not joined by lines
            assert all(line.get_linestyle() == "None" for line in lines)
    finally:
        plt.close("all")


def test_display_on_given_axes_and_errors(small_run):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    try:
        display = RobustnessCurveDisplay.from_results(
            small_run, x="amplification", experiment="figure2b", ax=ax, title="t"
        )
        assert display.ax_ is ax and ax.get_title() == "t"
        with pytest.raises(ValueError, match="pass experiment="):
            RobustnessCurveDisplay.from_results(small_run)
        with pytest.raises(ValueError, match="x must be one of"):
            RobustnessCurveDisplay.from_results(small_run, x="eps", experiment="figure3")
        with pytest.raises(ValueError, match="use x='attack'"):
            RobustnessCurveDisplay.from_results(small_run, x="amplification",
                                                experiment="table1")
    finally:
        plt.close("all")
