"""Shift along the honest top eigenvector: the adaptive attack on spectral filters."""

import numbers

from sklearn.utils._param_validation import Interval, StrOptions

from sklearn_robust._adversary_base import BasePoisoningAdversary, _fill_poisoning_doc
from sklearn_robust._numerics._poisoning import _eigen_shift_rows


@_fill_poisoning_doc
class EigenShift(BasePoisoningAdversary):
    """Byzantine rows shifted along the honest rows' top eigenvector.

    Every byzantine row is ``mean + shift * sqrt(lambda_1) * v_1`` (plus honest-like noise
    when ``noise`` asks for it), with ``lambda_1, v_1`` the top eigenpair of the sample
    covariance of the honest rows the adversary knows. Along ``v_1`` the honest rows are
    most spread, so a shift of a few of their standard deviations raises the dominant
    eigenvalue least for the bias it buys: the worst case of a spectral filter, whose
    threshold the adversary targets by choosing ``shift`` (the benchmark
    ``benchmarks/robust_mean_adaptive.py`` searches a grid of shifts per defense).

    Parameters
    ----------
    n_byzantine : int or float, default=0.2
        Number of byzantine rows (int), or their fraction of the rows (float in [0, 1),
        rounded down). Ignored when ``byzantine`` is passed to :meth:`fit_poison`.
    knowledge : {"full", "partial"}, default="full"
        ``"full"``: statistics of all honest rows; ``"partial"``: only of the honest rows of
        the clients the adversary controls.
    shift : float, default=2.0
        Size of the shift in standard deviations of the honest rows along ``v_1``.
    noise : {"none", "honest", "span"}, default="none"
        ``"none"``: identical byzantine rows. ``"honest"``: each row also carries Gaussian
        noise with the honest per-coordinate standard deviations, so its distance to the
        mean is an honest one (no distance or duplicate test sees it). ``"span"``: the noise
        is a random combination of the honest deviations with the honest sample covariance.
    random_state : int, RandomState instance or None, default=None
        Seed of the noise.

    Attributes
    ----------
    {poisoning_attributes}

    See Also
    --------
    ConstantShift : A shift along a fixed direction.
    HiDRA : A shift calibrated against the threshold of chunked filtering.

    Notes
    -----
    The sign of ``v_1`` is the eigensolver's: a symmetric defense sees ``shift`` and
    ``-shift`` alike. Equivariant to translations and positive scalings of ``X`` (for a
    fixed seed).

    References
    ----------
    .. [1] I. Diakonikolas, G. Kamath, D. M. Kane, J. Li, A. Moitra and A. Stewart, "Robust
       Estimators in High Dimensions without the Computational Intractability", FOCS 2016
       (the direction of largest variance is where a filter's bias bound is tight).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_robust.adversaries import EigenShift
    >>> X = np.array([[0.0, 0.0], [4.0, 0.0], [0.0, 1.0], [4.0, 1.0], [2.0, 0.5]])
    >>> attack = EigenShift(n_byzantine=1, shift=1.0)
    >>> np.abs(attack.fit_poison(X)[-1] - X.mean(axis=0)).round(3)  # along the wide axis
    array([2., 0.])
    """

    _parameter_constraints = {
        **BasePoisoningAdversary._parameter_constraints,
        "knowledge": [StrOptions({"full", "partial"})],
        "shift": [Interval(numbers.Real, None, None, closed="neither")],
        "noise": [StrOptions({"none", "honest", "span"})],
    }

    def __init__(
        self, *, n_byzantine=0.2, knowledge="full", shift=2.0, noise="none", random_state=None
    ):
        self.n_byzantine = n_byzantine
        self.knowledge = knowledge
        self.shift = shift
        self.noise = noise
        self.random_state = random_state

    def _craft(self, X, byzantine, random_state):
        return _eigen_shift_rows(
            self._known_rows(X, byzantine),
            int(byzantine.sum()),
            float(self.shift),
            self.noise,
            random_state,
        )
