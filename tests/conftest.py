"""Shared pytest configuration of the test suite."""

# ---------------------------------------------------------------------------------------------
# Hypothesis profiles (issue 11: a fixed example budget in CI, a larger one for local runs).
#   ci  -- the default: few examples, no deadline (timings are noisy on a shared machine)
#   dev -- more examples, selected with HYPOTHESIS_PROFILE=dev
# ---------------------------------------------------------------------------------------------
import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    max_examples=10,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
settings.register_profile(
    "dev",
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
# ---------------------------------------------------------------------------------------------
