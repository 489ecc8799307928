"""Integrations with engines that run robust aggregation at scale.

Each integration is a module imported on demand, so ``import sklearn_robust`` never needs
the engine:

* :mod:`sklearn_robust.integrations.flower` -- Flower (``pip install
  "sklearn-robust[flower]"``): :class:`~sklearn_robust.integrations.flower.RobustFedAvg`,
  a strategy that aggregates with any robust mean of the library, and
  :class:`~sklearn_robust.integrations.flower.ByzantineStrategy`, which runs the library's
  poisoning adversaries inside a Flower run around any strategy.
"""
