"""Krum and Multi-Krum (Blanchard et al., 2017)."""

import numbers

import numpy as np
from sklearn.utils._param_validation import Interval, RealNotInt

from sklearn_robust._adversary_base import _resolve_n_byzantine
from sklearn_robust._numerics._robust_means import krum, sample_mean
from sklearn_robust._robust_mean_base import BaseRobustMean


class Krum(BaseRobustMean):
    """Krum: the row closest to its nearest neighbours.

    With ``f`` byzantine rows among ``n``, each row is scored by the sum of its squared
    Euclidean distances to its ``n - f - 2`` nearest other rows; the row with the smallest
    score is the estimate.

    Parameters
    ----------
    n_byzantine : int or float, default=0.2
        Number ``f`` of byzantine rows the rule must tolerate: an int count, or a fraction
        in ``[0, 0.5)`` of the rows without NaN or inf (rounded down).

    Attributes
    ----------
    location_ : ndarray of shape (n_features,)
        The selected row (float64).

    support_ : ndarray of shape (n_samples,), dtype=bool
        True for the selected row only.

    scores_ : ndarray of shape (n_finite_samples,)
        Krum score of each finite row, in order (rows with NaN or inf are excluded), in
        units of X squared (inf where that overflows float64).

    n_byzantine_ : int
        The count ``f`` used.

    n_features_in_ : int
        Number of features seen during :term:`fit`.

    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during :term:`fit`. Defined only when `X` has feature names
        that are all strings.

    See Also
    --------
    MultiKrum : Average of the rows with the best Krum scores.
    GeometricMedian : Another rotation-equivariant robust location.

    Notes
    -----
    The number of neighbours ``n - f - 2`` is clipped to ``[1, n - 1]`` so that the rule is
    defined for every ``n >= 2`` (Krum's guarantee needs ``n > 2f + 2``). Ties are broken
    in favour of the first row. Distances come from the Gram matrix of the rows centred at
    their coordinate-wise median (clipped at zero), so a large common offset does not
    cancel the small distances between rows catastrophically. Krum outputs one honest-
    looking row: its variance is that of a single row, not of a mean.

    References
    ----------
    .. [1] P. Blanchard, E. M. El Mhamdi, R. Guerraoui and J. Stainer, "Machine Learning
       with Adversaries: Byzantine Tolerant Gradient Descent", NeurIPS 2017.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_robust.estimators import Krum
    >>> X = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.2, 0.1], [9.0, 9.0]])
    >>> krum = Krum(n_byzantine=1).fit(X)
    >>> krum.location_
    array([0.2, 0.1])
    >>> krum.support_
    array([False, False, False,  True, False])
    """

    _parameter_constraints = {
        "n_byzantine": [
            Interval(numbers.Integral, 0, None, closed="left"),
            Interval(RealNotInt, 0, 0.5, closed="left"),
        ],
    }

    def __init__(self, *, n_byzantine=0.2):
        self.n_byzantine = n_byzantine

    def _n_selected(self, n_samples, n_byzantine):
        return 1

    def _fit(self, X, random_state):
        n_samples = X.shape[0]
        n_byzantine = self._byzantine_count(self.n_byzantine, n_samples)
        if n_byzantine >= n_samples:
            _resolve_n_byzantine(n_byzantine, n_samples)  # raises the usual error
        n_selected = self._n_selected(n_samples, n_byzantine)
        selected, scores = krum(X, n_byzantine, n_selected)
        support = np.zeros(n_samples, dtype=bool)
        support[selected] = True
        return {
            "location_": sample_mean(X[support]),
            "support_": support,
            "scores_": scores,
            "n_byzantine_": n_byzantine,
        }


class MultiKrum(Krum):
    """Multi-Krum: the mean of the rows with the best Krum scores.

    Krum scores are computed once (see :class:`Krum`) and the ``n_selected`` rows with the
    smallest scores are averaged.

    Parameters
    ----------
    n_byzantine : int or float, default=0.2
        Number ``f`` of byzantine rows the rule must tolerate: an int count, or a fraction
        in ``[0, 0.5)`` of the rows without NaN or inf (rounded down).

    n_selected : int, default=None
        Number ``m`` of rows averaged. None means ``n - f`` (El Mhamdi et al., 2018). Must
        not exceed the number of rows without NaN or inf.

    Attributes
    ----------
    location_ : ndarray of shape (n_features,)
        Mean of the selected rows (float64).

    support_ : ndarray of shape (n_samples,), dtype=bool
        True for the selected rows.

    scores_ : ndarray of shape (n_finite_samples,)
        Krum score of each finite row, in order (rows with NaN or inf are excluded), in
        units of X squared (inf where that overflows float64).

    n_byzantine_ : int
        The count ``f`` used.

    n_selected_ : int
        The count ``m`` used.

    n_features_in_ : int
        Number of features seen during :term:`fit`.

    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during :term:`fit`. Defined only when `X` has feature names
        that are all strings.

    See Also
    --------
    Krum : ``n_selected=1``.
    FilteringMean : Spectral filtering of the rows.

    Notes
    -----
    Selection uses the scores of the full set computed once (Blanchard et al., 2017), not
    Krum re-run on the shrinking set; ties go to the first rows.

    References
    ----------
    .. [1] P. Blanchard, E. M. El Mhamdi, R. Guerraoui and J. Stainer, "Machine Learning
       with Adversaries: Byzantine Tolerant Gradient Descent", NeurIPS 2017.
    .. [2] E. M. El Mhamdi, R. Guerraoui and S. Rouault, "The Hidden Vulnerability of
       Distributed Learning in Byzantium", ICML 2018.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_robust.estimators import MultiKrum
    >>> X = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.2, 0.1], [9.0, 9.0]])
    >>> mk = MultiKrum(n_byzantine=1).fit(X)
    >>> mk.support_
    array([ True,  True,  True,  True, False])
    >>> mk.location_
    array([0.3  , 0.275])
    """

    _parameter_constraints = {
        **Krum._parameter_constraints,
        "n_selected": [Interval(numbers.Integral, 1, None, closed="left"), None],
    }

    def __init__(self, *, n_byzantine=0.2, n_selected=None):
        self.n_byzantine = n_byzantine
        self.n_selected = n_selected

    def _n_selected(self, n_samples, n_byzantine):
        if self.n_selected is None:
            return n_samples - n_byzantine
        if self.n_selected > n_samples:
            raise ValueError(
                f"n_selected={self.n_selected} exceeds the {n_samples} rows without NaN or "
                "inf. Lower n_selected or pass n_selected=None (n - n_byzantine)."
            )
        return self.n_selected

    def _fit(self, X, random_state):
        fitted = super()._fit(X, random_state)
        fitted["n_selected_"] = int(fitted["support_"].sum())
        return fitted
