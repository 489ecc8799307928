"""Orthogonal spikes: one byzantine row per direction, each hidden at the level of the bulk."""

import numbers

from sklearn.utils._param_validation import Interval, StrOptions

from sklearn_robust._adversary_base import BasePoisoningAdversary, _fill_poisoning_doc
from sklearn_robust._numerics._poisoning import _orthogonal_spike_rows


@_fill_poisoning_doc
class OrthogonalSpikes(BasePoisoningAdversary):
    """Each byzantine row a spike of its own along a random direction orthogonal to the others.

    Byzantine row i is ``mean + magnitude * sqrt(lambda_1) * q_i``, the ``q_i`` random
    orthonormal directions and ``lambda_1`` the top eigenvalue of the honest rows' sample
    covariance. Each spike adds one eigenvalue ``magnitude**2 lambda_1 / n`` to the
    covariance, so the spikes can sit just below the level of the clean bulk while their sum
    biases the mean by ``sqrt(n_byzantine) * magnitude * sqrt(lambda_1) / n``: the attack on a
    filter that only looks at the dominant eigenvalue.

    Parameters
    ----------
    n_byzantine : int or float, default=0.2
        Number of byzantine rows (int), or their fraction of the rows (float in [0, 1),
        rounded down). Ignored when ``byzantine`` is passed to :meth:`fit_poison`.
    knowledge : {"full", "partial"}, default="full"
        ``"full"``: statistics of all honest rows; ``"partial"``: only of the honest rows of
        the clients the adversary controls.
    magnitude : float, default=8.0
        Length of each spike in standard deviations of the honest rows along their top
        eigenvector.
    random_state : int, RandomState instance or None, default=None
        Seed of the random directions.

    Attributes
    ----------
    {poisoning_attributes}

    See Also
    --------
    GaussianNoise : Independent noise in every direction.
    EigenShift : All byzantine rows along one direction.

    Notes
    -----
    With more byzantine rows than features the directions repeat. Equivariant to
    translations and positive scalings of ``X`` (for a fixed seed).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_robust.adversaries import OrthogonalSpikes
    >>> X = np.random.default_rng(0).normal(size=(10, 50))
    >>> Xp = OrthogonalSpikes(n_byzantine=2, magnitude=3.0, random_state=0).fit_poison(X)
    >>> dev = Xp[8:] - X.mean(axis=0)
    >>> bool(abs(dev[0] @ dev[1]) < 1e-9 * (dev[0] @ dev[0]))   # orthogonal spikes
    True
    """

    _parameter_constraints = {
        **BasePoisoningAdversary._parameter_constraints,
        "knowledge": [StrOptions({"full", "partial"})],
        "magnitude": [Interval(numbers.Real, 0, None, closed="left")],
    }

    def __init__(self, *, n_byzantine=0.2, knowledge="full", magnitude=8.0, random_state=None):
        self.n_byzantine = n_byzantine
        self.knowledge = knowledge
        self.magnitude = magnitude
        self.random_state = random_state

    def _craft(self, X, byzantine, random_state):
        return _orthogonal_spike_rows(
            self._known_rows(X, byzantine), int(byzantine.sum()), float(self.magnitude),
            random_state,
        )
