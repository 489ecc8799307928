"""Reproductions of the papers' experiments, used by the command line and the benchmarks."""

from sklearn_robust.experiments._copur_experiments import (
    COPUR_EXPERIMENTS,
    copur_comparison,
    default_copur_defenses,
    format_copur_table,
    summarize_copur,
)
from sklearn_robust.experiments._display import RobustnessCurveDisplay
from sklearn_robust.experiments._federated_experiments import (
    default_federated_aggregators,
    default_federated_attacks,
    federated_poisoning,
    format_federated_table,
    plot_federated_rounds,
    summarize_federated,
)
from sklearn_robust.experiments._robust_mean_adaptive import (
    default_adaptive_families,
    robust_mean_adaptive,
    summarize_adaptive,
)
from sklearn_robust.experiments._robust_mean_bias import (
    default_adversaries,
    default_estimators,
    format_bias_table,
    make_honest_updates,
    plot_bias_heatmap,
    robust_mean_bias,
    summarize_bias,
)
from sklearn_robust.experiments._summary import format_mean_std, mean_std

__all__ = [
    "COPUR_EXPERIMENTS",
    "RobustnessCurveDisplay",
    "copur_comparison",
    "default_adaptive_families",
    "default_adversaries",
    "default_copur_defenses",
    "default_estimators",
    "default_federated_aggregators",
    "default_federated_attacks",
    "federated_poisoning",
    "format_bias_table",
    "format_copur_table",
    "format_federated_table",
    "format_mean_std",
    "make_honest_updates",
    "mean_std",
    "plot_bias_heatmap",
    "plot_federated_rounds",
    "robust_mean_adaptive",
    "robust_mean_bias",
    "summarize_adaptive",
    "summarize_bias",
    "summarize_copur",
    "summarize_federated",
]
