"""sklearn-robust: scikit-learn-compatible robust distributed machine learning.

Robust aggregation (``RandEigenMean`` and its baselines) and poisoning adversaries live in
:mod:`sklearn_robust.estimators` and :mod:`sklearn_robust.adversaries`.
"""

__version__ = "0.1.0.dev0"
