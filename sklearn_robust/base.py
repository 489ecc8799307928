"""Shared bases of sklearn-robust: robust location estimators and adversaries.

Two families of objects share a template here, in the spirit of imbalanced-learn's
``fit_resample``: the public method validates and the private hook computes.

* :class:`BaseRobustMean` -- a robust location estimator shaped like scikit-learn's
  ``MinCovDet``: ``fit(X)`` sets ``location_`` (and ``support_`` where rows are selected).
  Subclasses implement ``_fit(X, finite)`` on a validated float array.
* :class:`BasePoisoningAdversary` -- crafts the byzantine rows of a matrix of honest updates.
  ``fit_poison(X)`` validates and copies, then calls ``_craft(X, byzantine, rng)``.
"""

import numbers
from abc import ABCMeta, abstractmethod

import numpy as np
from sklearn.base import BaseEstimator, _fit_context
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, RealNotInt
from sklearn.utils.validation import validate_data

from sklearn_robust._numerics._backend import rows_max_abs

__all__ = [
    "BasePoisoningAdversary",
    "BaseRobustMean",
    "is_adversary",
    "is_robust_mean",
]


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


def is_adversary(estimator):
    """Return True if ``estimator`` is an adversary of this library.

    Parameters
    ----------
    estimator : object
        Any object.

    Returns
    -------
    out : bool
        True for poisoning and inference-time adversaries.

    Examples
    --------
    >>> from sklearn_robust.base import is_adversary
    >>> from sklearn_robust.adversaries import SignFlip
    >>> is_adversary(SignFlip())
    True
    """
    return getattr(estimator, "_estimator_type", None) == "adversary"


class BaseRobustMean(BaseEstimator, metaclass=ABCMeta):
    """Base class of robust location (mean) estimators.

    ``fit`` validates ``X`` (2-D, numeric, at least 2 rows and 1 column, float32 kept as
    float32), marks rows holding NaN or inf as outliers from the start, and calls
    ``_fit(X, random_state)`` with the finite rows only (``random_state`` is a
    ``numpy.random.RandomState`` from ``check_random_state``).

    The hook returns a dict of fitted attributes; it must contain ``location_`` (float64,
    shape ``(n_features,)``) and may contain ``support_`` over the *finite* rows, which the
    base expands to a mask over all rows (non-finite rows are never in the support).
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
        X = validate_data(
            self,
            X,
            dtype=[np.float64, np.float32],
            ensure_all_finite=False,
            ensure_min_samples=2,
        )
        # Row-wise finiteness in column chunks: no n x d boolean temporary.
        finite = np.isfinite(rows_max_abs(X, chunk_size=max(256, 2**21 // X.shape[0])))
        if not finite.any():
            raise ValueError(
                f"{type(self).__name__} needs at least one row without NaN or inf; all "
                f"{X.shape[0]} rows contain non-finite values. Drop or repair them first."
            )
        random_state = check_random_state(getattr(self, "random_state", None))
        if self._handles_non_finite_rows:
            fitted = self._fit(X, random_state)
        else:
            X_finite = X if finite.all() else X[finite]
            fitted = self._fit(X_finite, random_state)
            support = fitted.pop("support_", None)
            if support is not None or not finite.all():
                full = np.zeros(X.shape[0], dtype=bool)
                full[finite] = True if support is None else support
                fitted["support_"] = full
        fitted["location_"] = np.asarray(fitted["location_"], dtype=np.float64)
        for name, value in fitted.items():
            setattr(self, name, value)
        return self

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
        """
        return self.fit(X).location_


# Attributes every poisoning adversary sets; substituted into their docstrings by
# ``_fill_poisoning_doc`` so the text exists once.
_POISONING_ATTRIBUTES_DOC = """\
    byzantine_mask_ : ndarray of shape (n_samples,), dtype=bool
        Rows replaced by the last call to :meth:`fit_poison` (or :meth:`fit`).

    n_byzantine_ : int
        Number of byzantine rows of the last call.

    n_features_in_ : int
        Number of features seen during :meth:`fit_poison`.

    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during :meth:`fit_poison`, defined only when ``X`` has
        feature names that are all strings.
"""


def _fill_poisoning_doc(cls):
    """Class decorator: put the shared Attributes text where ``{poisoning_attributes}`` is."""
    cls.__doc__ = cls.__doc__.replace(
        "    {poisoning_attributes}\n", _POISONING_ATTRIBUTES_DOC
    )
    return cls


def _resolve_n_byzantine(n_byzantine, n_samples):
    """Number of byzantine rows from an int count or a float fraction of ``n_samples``."""
    if isinstance(n_byzantine, numbers.Integral):
        count = int(n_byzantine)
    else:
        # Round before flooring so that 0.29 * 100 (= 28.999...) gives 29, not 28.
        count = int(np.floor(round(float(n_byzantine) * n_samples, 9)))
    if count >= n_samples:
        raise ValueError(
            f"n_byzantine={n_byzantine!r} gives {count} byzantine rows out of {n_samples}; "
            "at least one honest row is needed. Lower n_byzantine."
        )
    return count


class BasePoisoningAdversary(BaseEstimator, metaclass=ABCMeta):
    """Base class of poisoning adversaries (the RandEigen threat model).

    A poisoning adversary receives the matrix ``X`` of the updates every client would send
    honestly (one row per client), controls ``n_byzantine`` of those clients and replaces
    their rows by crafted vectors. ``fit_poison`` returns the poisoned matrix (a copy: the
    input is never modified) and records which rows it replaced in ``byzantine_mask_``.

    Knowledge: an *omniscient* (``knowledge="full"``) adversary computes its statistics from
    all honest rows; a *partial-knowledge* one (``knowledge="partial"``) only from the honest
    rows of the clients it controls. Subclasses that use no statistics ignore it.

    Parameters common to every adversary
    ------------------------------------
    n_byzantine : int or float, default=0.2
        Number of byzantine rows (int), or their fraction of the rows (float in [0, 1)).
    random_state : int, RandomState instance or None, default=None
        Seed of the randomness the attack uses (if any).
    """

    _estimator_type = "adversary"
    _adversary_phase = "poisoning"

    _parameter_constraints = {
        "n_byzantine": [
            Interval(numbers.Integral, 0, None, closed="left"),
            Interval(RealNotInt, 0, 1, closed="left"),
        ],
        "random_state": ["random_state"],
    }

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = False
        return tags

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None, *, byzantine=None):
        """Craft the attack on ``X`` and record which rows are byzantine.

        Equivalent to :meth:`fit_poison` without returning the poisoned matrix.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Honest updates, one row per client.
        y : None
            Ignored.
        byzantine : array-like of int or bool, default=None
            Rows controlled by the adversary; see :meth:`fit_poison`.

        Returns
        -------
        self : object
            The fitted adversary.
        """
        self._fit_poison(X, byzantine)
        return self

    @_fit_context(prefer_skip_nested_validation=True)
    def fit_poison(self, X, y=None, *, byzantine=None):
        """Replace the byzantine rows of ``X`` by crafted vectors.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Honest updates, one row per client. Never modified.
        y : None
            Ignored.
        byzantine : array-like of int or bool, default=None
            Rows controlled by the adversary (indices or a boolean mask). When None, the last
            ``n_byzantine`` rows are byzantine.

        Returns
        -------
        X_poisoned : ndarray of shape (n_samples, n_features)
            A copy of ``X`` whose byzantine rows are replaced; ``byzantine_mask_`` tells which.
        """
        return self._fit_poison(X, byzantine)

    def _fit_poison(self, X, byzantine):
        X = validate_data(self, X, dtype=[np.float64, np.float32], ensure_min_samples=2)
        n_samples = X.shape[0]
        mask = self._byzantine_mask(byzantine, n_samples)
        X_poisoned = X.copy()
        n_bad = int(mask.sum())
        if n_bad:
            rng = check_random_state(self.random_state)
            crafted = self._craft(X, mask, rng)
            X_poisoned[mask] = np.broadcast_to(crafted, (n_bad, X.shape[1]))
        self.byzantine_mask_ = mask
        self.n_byzantine_ = n_bad
        return X_poisoned

    def _byzantine_mask(self, byzantine, n_samples):
        if byzantine is None:
            count = _resolve_n_byzantine(self.n_byzantine, n_samples)
            mask = np.zeros(n_samples, dtype=bool)
            if count:
                mask[n_samples - count :] = True
            return mask
        byzantine = np.asarray(byzantine)
        if byzantine.dtype == bool:
            if byzantine.shape != (n_samples,):
                raise ValueError(
                    f"byzantine as a boolean mask must have shape ({n_samples},), got "
                    f"{byzantine.shape}. Pass one flag per row of X."
                )
            mask = byzantine.copy()
        else:
            if byzantine.ndim != 1 or not np.issubdtype(byzantine.dtype, np.integer):
                raise ValueError(
                    "byzantine must be a 1-D array of row indices or a boolean mask; got "
                    f"dtype {byzantine.dtype} and shape {byzantine.shape}."
                )
            if byzantine.size and (byzantine.min() < -n_samples or byzantine.max() >= n_samples):
                raise ValueError(
                    f"byzantine indices must lie in [0, {n_samples}); got min "
                    f"{byzantine.min()} and max {byzantine.max()}."
                )
            mask = np.zeros(n_samples, dtype=bool)
            mask[byzantine] = True
        if mask.all():
            raise ValueError(
                f"byzantine marks all {n_samples} rows; at least one honest row is needed."
            )
        return mask

    @abstractmethod
    def _craft(self, X, byzantine, random_state):
        """Return the byzantine rows: shape (n_byzantine, n_features) or (n_features,).

        ``X`` holds every client's honest update, ``byzantine`` is a bool mask of the rows the
        adversary controls, ``random_state`` a ``numpy.random.RandomState``.
        """

    def _known_rows(self, X, byzantine):
        """Honest rows the adversary may look at, according to ``self.knowledge``."""
        if getattr(self, "knowledge", "full") == "partial":
            return X[byzantine]
        return X
