"""Constant-shift attack."""

import numbers

import numpy as np
from sklearn.utils._param_validation import Interval, StrOptions

from sklearn_robust._adversary_base import BasePoisoningAdversary, _fill_poisoning_doc
from sklearn_robust._numerics._poisoning import (
    _constant_shift_rows,
    _honest_like_noise,
    _magnitude,
)


@_fill_poisoning_doc
class ConstantShift(BasePoisoningAdversary):
    """Constant shift: byzantine rows are the honest mean moved along a fixed direction.

    Every byzantine row equals ``mean + shift * sigma_bar * sqrt(d) * u``, with ``mean`` the
    mean of the honest rows the adversary knows, ``sigma_bar`` their root-mean
    per-coordinate standard deviation ``sqrt(mean_j std_j**2)``, ``d`` the number of features
    and ``u`` the unit vector along ``direction``. The shift therefore has norm
    ``shift * sqrt(trace(cov))``: ``shift`` per-coordinate standard deviations, spread along
    ``u`` (with the default all-ones direction, every coordinate moves by
    ``shift * sigma_bar``).

    Parameters
    ----------
    n_byzantine : int or float, default=0.2
        Number of byzantine rows (int), or their fraction of the rows (float in [0, 1),
        rounded down). Ignored when ``byzantine`` is passed to :meth:`fit_poison`.

    knowledge : {"full", "partial"}, default="full"
        ``"full"``: an omniscient adversary computes ``mean`` and ``sigma_bar`` from all
        honest rows. ``"partial"``: only from the honest rows of the clients it controls.

    shift : float, default=1.0
        Size of the shift in per-coordinate standard deviations. Negative values shift
        against ``direction``.

    direction : array-like of shape (n_features,), default=None
        Direction of the shift; it is normalised to unit length, so only its direction
        matters. None is the all-ones direction ``(1, ..., 1) / sqrt(d)``.

    noise : {"none", "honest", "span"}, default="none"
        ``"none"``: identical byzantine rows. ``"honest"``: each row also carries Gaussian
        noise with the honest per-coordinate standard deviations, so its distance to the
        mean is an honest one (the adaptive variant against distance and duplicate tests).
        ``"span"``: the noise is a random combination of the honest deviations with the
        honest sample covariance.
    random_state : int, RandomState instance or None, default=None
        Seed of the noise (unused with ``noise="none"``, which is deterministic).

    Attributes
    ----------
    {poisoning_attributes}

    See Also
    --------
    ALIE : Coordinate-wise shift by ``z`` standard deviations of each coordinate.
    GaussianNoise : Mean plus random noise in units of ``sigma_bar``.
    HiDRA : Shift calibrated against spectral filtering in high dimensions.

    Notes
    -----
    Because the shift is measured in units of the honest spread, the attack is equivariant
    to translations and positive scalings of ``X``:
    ``fit_poison(c * X + b) == c * fit_poison(X) + b`` for ``c > 0``.

    The sample standard deviation (``ddof=1``) is used. With partial knowledge and a single
    byzantine row it is undefined and taken as 0: the byzantine row keeps its honest value.

    References
    ----------
    .. [1] I. Diakonikolas, G. Kamath, D. M. Kane, J. Li, A. Moitra and A. Stewart, "Robust
       Estimators in High Dimensions without the Computational Intractability", FOCS 2016
       (the contamination model in which outliers planted along one direction bias the
       mean).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_robust.adversaries import ConstantShift
    >>> X = np.array([[0.0, 0.0], [2.0, 2.0], [0.0, 2.0], [2.0, 0.0]])
    >>> attack = ConstantShift(n_byzantine=1, shift=3.0, direction=[1.0, 0.0])
    >>> X_poisoned = attack.fit_poison(X)
    >>> attack.byzantine_mask_
    array([False, False, False,  True])
    >>> X_poisoned[-1].round(3)
    array([5.899, 1.   ])
    """

    _parameter_constraints = {
        **BasePoisoningAdversary._parameter_constraints,
        "knowledge": [StrOptions({"full", "partial"})],
        "shift": [Interval(numbers.Real, None, None, closed="neither")],
        "direction": ["array-like", None],
        "noise": [StrOptions({"none", "honest", "span"})],
    }

    def __init__(
        self,
        *,
        n_byzantine=0.2,
        knowledge="full",
        shift=1.0,
        direction=None,
        noise="none",
        random_state=None,
    ):
        self.n_byzantine = n_byzantine
        self.knowledge = knowledge
        self.shift = shift
        self.direction = direction
        self.noise = noise
        self.random_state = random_state

    def _craft(self, X, byzantine, random_state):
        direction = None
        if self.direction is not None:
            direction = np.asarray(self.direction, dtype=np.float64)
            if direction.shape != (X.shape[1],):
                raise ValueError(
                    f"direction must have shape ({X.shape[1]},), one entry per feature of X; "
                    f"got shape {direction.shape}."
                )
            if not np.all(np.isfinite(direction)) or not np.any(direction):
                raise ValueError(
                    "direction must be finite and non-zero; got a vector with "
                    f"{int(np.sum(~np.isfinite(direction)))} non-finite entries and max "
                    f"|entry| {np.max(np.abs(direction))!r}."
                )
        known = self._known_rows(X, byzantine)
        rows = _constant_shift_rows(known, float(self.shift), direction)
        if self.noise == "none":
            return rows
        a = _magnitude(known)
        noise = _honest_like_noise(known / a, int(byzantine.sum()), self.noise, random_state)
        return rows + a * noise
