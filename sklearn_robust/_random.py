"""Random generators from ``random_state`` parameters, never touching global RNG state."""

import numpy as np
from sklearn.utils import check_random_state


def _numpy_generator(random_state):
    """A ``numpy.random.Generator`` seeded by one draw from ``check_random_state``.

    The same int ``random_state`` gives the same stream at every call (predict and certify
    draw identically), and None draws a fresh seed from numpy's global state, as
    scikit-learn does, without seeding it.
    """
    seed = check_random_state(random_state).randint(np.iinfo(np.int32).max)
    return np.random.default_rng(seed)
