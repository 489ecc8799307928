"""Shared test configuration: hypothesis profiles.

The property suites (tests/test_hostile_*.py and the others that leave ``max_examples`` to the
profile) run a fixed, small example budget by default so that the test command stays within
its time budget in CI; ``HYPOTHESIS_PROFILE=dev`` runs many more examples for local hunts:

    HYPOTHESIS_PROFILE=dev python -m pytest tests/test_hostile_input.py
"""

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    max_examples=10,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "dev",
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
