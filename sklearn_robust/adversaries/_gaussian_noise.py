"""Gaussian-noise attack."""

import numbers

from sklearn.utils._param_validation import Interval, StrOptions

from sklearn_robust._adversary_base import BasePoisoningAdversary, _fill_poisoning_doc
from sklearn_robust._numerics._poisoning import _gaussian_noise_rows


@_fill_poisoning_doc
class GaussianNoise(BasePoisoningAdversary):
    """Gaussian noise: byzantine rows are the honest mean plus large isotropic noise.

    Every byzantine row is drawn independently as ``mean + scale * sigma_bar * N(0, I)``,
    with ``mean`` the mean of the honest rows the adversary knows and ``sigma_bar`` their
    root-mean per-coordinate standard deviation, ``sqrt(mean_j std_j**2)``.

    Parameters
    ----------
    n_byzantine : int or float, default=0.2
        Number of byzantine rows (int), or their fraction of the rows (float in [0, 1),
        rounded down). Ignored when ``byzantine`` is passed to :meth:`fit_poison`.

    knowledge : {"full", "partial"}, default="full"
        ``"full"``: an omniscient adversary computes ``mean`` and ``sigma_bar`` from all
        honest rows. ``"partial"``: only from the honest rows of the clients it controls.

    scale : float, default=10.0
        Non-negative noise level, in units of ``sigma_bar``.

    random_state : int, RandomState instance or None, default=None
        Seed of the noise. Pass an int for reproducible output across calls.

    Attributes
    ----------
    {poisoning_attributes}

    See Also
    --------
    ConstantShift : Mean plus a deterministic shift in standard deviations.
    SignFlip : Each byzantine client sends its own negated update.

    Notes
    -----
    Measuring the noise in units of ``sigma_bar`` (rather than absolute units, as in the
    usual "Gaussian attack" with a fixed variance) makes the attack equivariant to
    translations and positive scalings of ``X``: for a fixed ``random_state``,
    ``fit_poison(c * X + b) == c * fit_poison(X) + b`` for ``c > 0``.

    The sample standard deviation (``ddof=1``) is used. With partial knowledge and a single
    byzantine row it is undefined and taken as 0: no noise is added and the byzantine row
    keeps its honest value.

    References
    ----------
    .. [1] P. Blanchard, E. M. El Mhamdi, R. Guerraoui and J. Stainer, "Machine Learning with
       Adversaries: Byzantine Tolerant Gradient Descent", NeurIPS 2017.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_robust.adversaries import GaussianNoise
    >>> X = np.random.RandomState(0).normal(size=(5, 3))
    >>> attack = GaussianNoise(n_byzantine=2, random_state=0)
    >>> X_poisoned = attack.fit_poison(X)
    >>> attack.byzantine_mask_
    array([False, False, False,  True,  True])
    >>> bool(np.array_equal(X_poisoned[:3], X[:3]))
    True
    """

    _parameter_constraints = {
        **BasePoisoningAdversary._parameter_constraints,
        "knowledge": [StrOptions({"full", "partial"})],
        "scale": [Interval(numbers.Real, 0, None, closed="left")],
    }

    def __init__(self, *, n_byzantine=0.2, knowledge="full", scale=10.0, random_state=None):
        self.n_byzantine = n_byzantine
        self.knowledge = knowledge
        self.scale = scale
        self.random_state = random_state

    def _craft(self, X, byzantine, random_state):
        return _gaussian_noise_rows(
            self._known_rows(X, byzantine), int(byzantine.sum()), float(self.scale), random_state
        )
