"""The base of robust location (mean) estimators, shaped like scikit-learn's ``MinCovDet``."""

import numbers
from abc import ABCMeta, abstractmethod

import numpy as np
from sklearn.base import BaseEstimator, _fit_context
from sklearn.utils import check_random_state
from sklearn.utils.validation import validate_data

from sklearn_robust._counts import count_from_fraction
from sklearn_robust._numerics._backend import rows_max_abs
from sklearn_robust._validation import no_finite_row_message, reject_time_dtypes

__all__ = ["BaseRobustMean", "is_robust_mean"]


def is_robust_mean(estimator):
    """Return True if ``estimator`` is a robust location estimator of this library.

    Parameters
    ----------
    estimator : object
        Any object.

    Returns
    -------
    out : bool
        True for instances of :class:`BaseRobustMean` subclasses.

    Examples
    --------
    >>> from sklearn_robust.base import is_robust_mean
    >>> from sklearn_robust.estimators import SampleMean
    >>> is_robust_mean(SampleMean())
    True
    """
    return getattr(estimator, "_estimator_type", None) == "robust_mean"

class BaseRobustMean(BaseEstimator, metaclass=ABCMeta):
    """Base class of robust location (mean) estimators.

    ``fit`` validates ``X`` (2-D, numeric, at least 2 rows and 1 column, float32 kept as
    float32), marks rows holding NaN or inf as outliers from the start, and calls
    ``_fit(X, random_state)`` with the finite rows only (``random_state`` is a
    ``numpy.random.RandomState`` from ``check_random_state``).

    The hook returns a dict of fitted attributes; it must contain ``location_`` (float64,
    shape ``(n_features,)``) and may contain ``support_`` over the *finite* rows, which the
    base expands to a mask over all rows (non-finite rows are never in the support).

    A subclass stores its parameters in ``__init__``, declares them in
    ``_parameter_constraints`` (an empty dict when it has none) and implements ``_fit``,
    which receives its ``random_state`` parameter through ``check_random_state`` (a fresh
    ``RandomState`` from None when it has no such parameter). :meth:`aggregate` is
    ``fit(X).location_``, the one call an aggregation rule needs.

    Attributes
    ----------
    location_ : ndarray of shape (n_features,)
        The robust location estimate (float64).

    support_ : ndarray of shape (n_samples,), dtype=bool
        Rows that entered the estimate; rows holding NaN or inf are never in it. Set when the
        subclass selects rows, or when ``X`` has non-finite rows.

    n_features_in_ : int
        Number of features seen during :meth:`fit`.

    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during :meth:`fit`, defined only when ``X`` has feature names
        that are all strings.

    See Also
    --------
    is_robust_mean : True for instances of subclasses.
    sklearn_robust.estimators.SampleMean : The simplest subclass, the plain mean.

    Examples
    --------
    A subclass only computes; validation and the handling of non-finite rows are the base's:

    >>> import numpy as np
    >>> from sklearn_robust.base import BaseRobustMean, is_robust_mean
    >>> class CoordinateMidrange(BaseRobustMean):
    ...     _parameter_constraints = {}
    ...
    ...     def _fit(self, X, random_state):
    ...         return {"location_": (X.min(axis=0) + X.max(axis=0)) / 2}
    >>> X = np.array([[0.0, 1.0], [2.0, 3.0], [np.nan, 0.0], [4.0, 9.0]])
    >>> estimator = CoordinateMidrange().fit(X)
    >>> estimator.location_
    array([2., 5.])
    >>> estimator.support_  # the row holding NaN is an outlier
    array([ True,  True, False,  True])
    >>> is_robust_mean(estimator)
    True
    """

    _estimator_type = "robust_mean"
    # Subclasses that stream over X themselves (and so must not receive a row-filtered copy)
    # set this to True; they then get every row and return ``support_`` over all of them.
    _handles_non_finite_rows = False

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # NaN/inf rows are expected input: they are treated as outliers, not refused.
        tags.input_tags.allow_nan = True
        tags.target_tags.required = False
        return tags

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Fit the robust location estimate.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The rows (e.g. client updates) to aggregate. Rows containing NaN or inf are
            treated as outliers and never enter the estimate.
        y : None
            Ignored; present for API consistency.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        reject_time_dtypes(X, type(self).__name__)
        X = validate_data(
            self,
            X,
            dtype=[np.float64, np.float32],
            ensure_all_finite=False,
            ensure_min_samples=2,
        )
        random_state = check_random_state(getattr(self, "random_state", None))
        if self._handles_non_finite_rows:
            # It finds the non-finite rows in its own pass over X (one pass, not two).
            fitted = self._fit(X, random_state)
        else:
            # Row-wise finiteness in column chunks: no n x d boolean temporary.
            finite = np.isfinite(rows_max_abs(X, chunk_size=max(256, 2**21 // X.shape[0])))
            if not finite.any():
                raise ValueError(no_finite_row_message(type(self).__name__, X.shape[0]))
            # Rows with NaN or inf are byzantine by construction: they use up the byzantine
            # budget of estimators that select or trim rows (see _byzantine_count).
            self._n_non_finite = int(X.shape[0] - finite.sum())
            fitted = self._fit(X if finite.all() else X[finite], random_state)
            support = fitted.pop("support_", None)
            if support is not None or not finite.all():
                full = np.zeros(X.shape[0], dtype=bool)
                full[finite] = True if support is None else support
                fitted["support_"] = full
        fitted["location_"] = np.asarray(fitted["location_"], dtype=np.float64)
        for name, value in fitted.items():
            setattr(self, name, value)
        return self

    def _byzantine_count(self, n_byzantine, n_finite):
        """Byzantine rows left among the ``n_finite`` finite ones.

        ``n_byzantine`` is a count or a fraction of *all* the rows passed to ``fit`` (rounded
        down, :func:`~sklearn_robust._counts.count_from_fraction`); the rows holding NaN or
        inf are byzantine by construction, so they are subtracted: an attack that sends
        infinite rows does not make the estimator discard as many honest rows too.
        """
        excluded = getattr(self, "_n_non_finite", 0)
        if isinstance(n_byzantine, numbers.Integral):
            total = int(n_byzantine)
        else:
            total = count_from_fraction(n_byzantine, n_finite + excluded)
        return max(0, total - excluded)

    @abstractmethod
    def _fit(self, X, random_state):
        """Compute fitted attributes from finite rows ``X``; return them as a dict."""

    def aggregate(self, X):
        """Fit on ``X`` and return the robust location estimate.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The rows to aggregate.

        Returns
        -------
        location : ndarray of shape (n_features,)
            ``self.fit(X).location_``.

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn_robust.estimators import SampleMean
        >>> SampleMean().aggregate(np.array([[0.0, 2.0], [2.0, 4.0]]))
        array([1., 3.])
        """
        return self.fit(X).location_
