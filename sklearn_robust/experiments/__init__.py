"""Reproductions of the papers' experiments, used by the command line and the benchmarks."""

from sklearn_robust.experiments._robust_mean_bias import (
    default_adversaries,
    default_estimators,
    format_bias_table,
    make_honest_updates,
    robust_mean_bias,
    summarize_bias,
)

__all__ = [
    "default_adversaries",
    "default_estimators",
    "format_bias_table",
    "make_honest_updates",
    "robust_mean_bias",
    "summarize_bias",
]
