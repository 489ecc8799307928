"""Shared bases of sklearn-robust: robust location estimators and adversaries.

Two families of objects share a template here, in the spirit of imbalanced-learn's
``fit_resample``: the public method validates and the private hook computes.

* :class:`BaseRobustMean` -- a robust location estimator shaped like scikit-learn's
  ``MinCovDet``: ``fit(X)`` sets ``location_`` (and ``support_`` where rows are selected).
  Subclasses implement ``_fit(X, random_state)`` on a validated float array.
* :class:`BasePoisoningAdversary` -- crafts the byzantine rows of a matrix of honest updates.
  ``fit_poison(X)`` validates and copies, then calls ``_craft(X, byzantine, rng)``.
* :class:`BaseInferenceAdversary` -- corrupts agents' feature blocks at inference (the CoPur
  threat model). ``fit``/``fit_transform`` leave data untouched, ``transform``/``attack``
  validate and copy, then call ``_attack(X, y, rng, estimator)``.

It also holds the block-layout helper :func:`check_blocks` every block-aware object uses.
"""

import numbers
from abc import ABCMeta, abstractmethod

import numpy as np
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin, _fit_context
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, RealNotInt, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from sklearn_robust._numerics._backend import rows_max_abs

__all__ = [
    "BlockLayout",
    "BaseInferenceAdversary",
    "BasePoisoningAdversary",
    "BaseRobustMean",
    "check_blocks",
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

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn_robust.estimators import SampleMean
        >>> SampleMean().aggregate(np.array([[0.0, 2.0], [2.0, 4.0]]))
        array([1., 3.])
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
    cls.__doc__ = cls.__doc__.replace("    {poisoning_attributes}\n", _POISONING_ATTRIBUTES_DOC)
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


@_fill_poisoning_doc
class BasePoisoningAdversary(BaseEstimator, metaclass=ABCMeta):
    """Base class of poisoning adversaries (the RandEigen threat model).

    A poisoning adversary receives the matrix ``X`` of the updates every client would send
    honestly (one row per client), controls ``n_byzantine`` of those clients and replaces
    their rows by crafted vectors. ``fit_poison`` returns the poisoned matrix (a copy: the
    input is never modified) and records which rows it replaced in ``byzantine_mask_``.

    Knowledge: an *omniscient* (``knowledge="full"``) adversary computes its statistics from
    all honest rows; a *partial-knowledge* one (``knowledge="partial"``) only from the honest
    rows of the clients it controls. Subclasses that use no statistics ignore it.

    Every subclass takes the two parameters declared in ``_parameter_constraints`` here (it
    extends that dict with its own): ``n_byzantine``, the number of byzantine rows (int) or
    their fraction of the rows (float in [0, 1), rounded down; at least one row must stay
    honest), and ``random_state``, the seed of the randomness the attack uses, if any. It
    implements ``_craft(X, byzantine, random_state)``, which returns the byzantine rows
    (one row for all of them, or one each); ``fit_poison`` does the validation, the copy and
    the bookkeeping.

    Attributes
    ----------
    {poisoning_attributes}

    See Also
    --------
    is_adversary : True for instances of subclasses.
    BaseInferenceAdversary : Adversaries that corrupt features at inference instead.
    sklearn_robust.adversaries.SignFlip : A subclass without statistics.

    Examples
    --------
    A subclass only crafts the byzantine rows:

    >>> import numpy as np
    >>> from sklearn_robust.base import BasePoisoningAdversary, is_adversary
    >>> class ZeroUpdates(BasePoisoningAdversary):
    ...     def __init__(self, *, n_byzantine=0.2, random_state=None):
    ...         self.n_byzantine = n_byzantine
    ...         self.random_state = random_state
    ...
    ...     def _craft(self, X, byzantine, random_state):
    ...         return np.zeros(X.shape[1])
    >>> X = np.ones((4, 2))
    >>> attack = ZeroUpdates(n_byzantine=0.25)
    >>> attack.fit_poison(X)  # the last quarter of the rows, by default
    array([[1., 1.],
           [1., 1.],
           [1., 1.],
           [0., 0.]])
    >>> attack.fit_poison(X, byzantine=[0])[:, 0], attack.n_byzantine_
    (array([0., 1., 1., 1.]), 1)
    >>> is_adversary(attack)
    True
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


def _numpy_generator(random_state):
    """A ``numpy.random.Generator`` seeded by one draw from ``check_random_state``.

    The same int ``random_state`` gives the same stream at every call (predict and certify
    draw identically), and None draws a fresh seed from numpy's global state, as
    scikit-learn does, without seeding it.
    """
    seed = check_random_state(random_state).randint(np.iinfo(np.int32).max)
    return np.random.default_rng(seed)


# --------------------------------------------------------------------------------------------
# Block layouts
# --------------------------------------------------------------------------------------------


class BlockLayout:
    """A validated partition of the columns of ``X`` into agents' feature blocks.

    Built by :func:`check_blocks`; not meant to be constructed directly: the constructor
    does not validate its arguments. Two layouts are equal when they have the same blocks
    in the same order.

    Parameters
    ----------
    indices : sequence of array-like of int
        Column indices of each block, in order. Together they must cover each of the
        ``n_features`` columns exactly once (:func:`check_blocks` makes sure of it).
    n_features : int
        Number of columns of the data the layout describes.

    Attributes
    ----------
    indices : tuple of ndarray of int
        Column indices of each block, in the order the blocks were given.
    n_blocks : int
        Number of blocks (agents), M.
    n_features : int
        Number of columns covered (every column belongs to exactly one block).
    widths : ndarray of shape (n_blocks,)
        Number of columns of each block.
    block_of_column : ndarray of shape (n_features,)
        Block index of each column.
    contiguous : bool
        True when the blocks are consecutive column ranges in the order given.

    See Also
    --------
    check_blocks : Validate a layout given as a count, widths or column indices.

    Examples
    --------
    >>> from sklearn_robust.base import check_blocks
    >>> layout = check_blocks([[0, 2], [1, 3, 4]], 5)
    >>> layout
    BlockLayout(n_blocks=2, widths=[2, 3])
    >>> layout.block_of_column
    array([0, 1, 0, 1, 1])
    >>> layout.contiguous
    False
    >>> layout == check_blocks([[2, 0], [4, 1, 3]], 5)  # block order counts, column order not
    True
    """

    def __init__(self, indices, n_features):
        self.indices = tuple(np.asarray(ix, dtype=np.intp) for ix in indices)
        self.n_blocks = len(self.indices)
        self.n_features = int(n_features)
        self.widths = np.array([ix.size for ix in self.indices], dtype=np.intp)
        self.block_of_column = np.empty(self.n_features, dtype=np.intp)
        for block, ix in enumerate(self.indices):
            self.block_of_column[ix] = block
        starts = np.concatenate([[0], np.cumsum(self.widths)[:-1]])
        self.contiguous = all(
            np.array_equal(ix, np.arange(start, start + ix.size))
            for ix, start in zip(self.indices, starts, strict=True)
        )

    def __repr__(self):
        return f"BlockLayout(n_blocks={self.n_blocks}, widths={self.widths.tolist()})"

    def __eq__(self, other):
        return (
            isinstance(other, BlockLayout)
            and self.n_features == other.n_features
            and self.n_blocks == other.n_blocks
            and all(np.array_equal(a, b) for a, b in zip(self.indices, other.indices, strict=True))
        )

    __hash__ = None

    def columns(self, blocks):
        """Sorted column indices of the given blocks.

        Parameters
        ----------
        blocks : iterable of int
            Block indices.

        Returns
        -------
        columns : ndarray of int
            The columns of those blocks, sorted; empty when ``blocks`` is.

        Examples
        --------
        >>> from sklearn_robust.base import check_blocks
        >>> check_blocks([[0, 2], [1, 3, 4]], 5).columns([1])
        array([1, 3, 4])
        """
        blocks = list(blocks)
        if not blocks:
            return np.empty(0, dtype=np.intp)
        return np.sort(np.concatenate([self.indices[b] for b in blocks]))

    def observed(self, X):
        """Boolean mask ``(n_samples, n_blocks)``: True where a block holds no NaN.

        A block with any NaN is *missing* for that row (the agent sent nothing); ``inf`` does
        not make a block missing, it makes it corrupted.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Features laid out as this layout describes; NaN marks missing values.

        Returns
        -------
        mask : ndarray of shape (n_samples, n_blocks), dtype=bool
            True where the block of that row holds no NaN.

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn_robust.base import check_blocks
        >>> layout = check_blocks([2, 1], 3)
        >>> layout.observed(np.array([[1.0, np.nan, 2.0], [1.0, 2.0, np.inf]]))
        array([[False,  True],
               [ True,  True]])
        """
        nan = np.isnan(np.asarray(X))
        return np.stack([~nan[:, ix].any(axis=1) for ix in self.indices], axis=1)

    def column_mask(self, block_mask):
        """Expand a per-block mask ``(n_samples, n_blocks)`` to ``(n_samples, n_features)``.

        Parameters
        ----------
        block_mask : array-like of shape (n_samples, n_blocks)
            One value per row and block, e.g. the output of :meth:`observed`.

        Returns
        -------
        mask : ndarray of shape (n_samples, n_features)
            Each block's value repeated over the block's columns (same dtype as
            ``block_mask``).

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn_robust.base import check_blocks
        >>> layout = check_blocks([[0, 2], [1]], 3)
        >>> layout.column_mask(np.array([[True, False]]))
        array([[ True, False,  True]])
        """
        return np.asarray(block_mask)[:, self.block_of_column]


def check_blocks(blocks, n_features):
    """Validate a block layout and return it as a :class:`BlockLayout`.

    Parameters
    ----------
    blocks : int, list of int, list of array-like of int, or None
        * int ``M``: ``M`` equal consecutive blocks (``n_features`` must be divisible by ``M``);
        * list of int: the widths of consecutive blocks, summing to ``n_features`` (unequal
          widths are fine);
        * list of array-like of int: the column indices of each block, in any order; every
          column must belong to exactly one block;
        * None: one block per column.
    n_features : int
        Number of columns of the data the layout describes.

    Returns
    -------
    layout : BlockLayout
        The validated layout.

    Raises
    ------
    ValueError
        If the layout does not cover each of the ``n_features`` columns exactly once (overlaps,
        gaps, out-of-range or negative indices, empty blocks, widths not summing to
        ``n_features``), naming the offending columns or blocks.

    Examples
    --------
    >>> from sklearn_robust.base import check_blocks
    >>> check_blocks(3, 6)
    BlockLayout(n_blocks=3, widths=[2, 2, 2])
    >>> check_blocks([1, 4], 5).indices[1]
    array([1, 2, 3, 4])
    >>> check_blocks([[0, 2], [1, 3]], 4).block_of_column
    array([0, 1, 0, 1])
    """
    n_features = int(n_features)
    if blocks is None:
        return BlockLayout([[j] for j in range(n_features)], n_features)
    if isinstance(blocks, numbers.Integral) and not isinstance(blocks, bool):
        n_blocks = int(blocks)
        if n_blocks < 1:
            raise ValueError(
                f"blocks as an int is the number of blocks and must be >= 1; got {n_blocks}."
            )
        if n_features % n_blocks:
            base_width = n_features // n_blocks
            example = [base_width] * (n_blocks - 1) + [n_features - base_width * (n_blocks - 1)]
            raise ValueError(
                f"blocks={n_blocks} asks for {n_blocks} equal blocks, but n_features={n_features} "
                f"is not divisible by {n_blocks}. Pass the block widths as a list instead, e.g. "
                f"blocks={example}."
            )
        width = n_features // n_blocks
        return BlockLayout(  # equal widths
            [np.arange(b * width, (b + 1) * width) for b in range(n_blocks)], n_features
        )
    if isinstance(blocks, str) or not hasattr(blocks, "__len__") or len(blocks) == 0:
        raise ValueError(
            "blocks must be an int, a non-empty list of block widths or a non-empty list of "
            f"column-index arrays; got {blocks!r}."
        )
    items = list(blocks)
    if all(isinstance(b, numbers.Integral) and not isinstance(b, bool) for b in items):
        widths = [int(b) for b in items]
        bad = [i for i, w in enumerate(widths) if w < 1]
        if bad:
            raise ValueError(
                f"block widths must be >= 1; blocks {bad} have widths {[widths[i] for i in bad]}."
            )
        if sum(widths) != n_features:
            raise ValueError(
                f"block widths {widths} sum to {sum(widths)}, but the data has {n_features} "
                "columns; the widths must cover every column exactly once."
            )
        edges = np.concatenate([[0], np.cumsum(widths)])
        return BlockLayout(
            [np.arange(edges[b], edges[b + 1]) for b in range(len(widths))], n_features
        )
    indices = []
    for b, ix in enumerate(items):
        if isinstance(ix, numbers.Number):
            raise ValueError(
                "blocks mixes widths (numbers) and column-index arrays; block "
                f"{b} is {ix!r}. Use only widths or only index arrays."
            )
        arr = np.asarray(ix)
        if arr.ndim != 1 or arr.size == 0 or not np.issubdtype(arr.dtype, np.integer):
            raise ValueError(
                f"block {b} must be a non-empty 1-D array of integer column indices; got {ix!r}."
            )
        out = arr[(arr < 0) | (arr >= n_features)]
        if out.size:
            raise ValueError(
                f"block {b} has column indices {sorted(set(out.tolist()))} out of range for data "
                f"with {n_features} columns (valid: 0 to {n_features - 1})."
            )
        if np.unique(arr).size != arr.size:
            raise ValueError(f"block {b} lists some columns twice: {arr.tolist()}.")
        indices.append(np.sort(arr))
    owner = np.full(n_features, -1, dtype=np.intp)
    for b, ix in enumerate(indices):
        taken = ix[owner[ix] >= 0]
        if taken.size:
            first = int(owner[taken[0]])
            raise ValueError(
                "blocks must cover each column once; columns "
                f"{taken.tolist()} appear in blocks {first} and {b}."
            )
        owner[ix] = b
    gaps = np.flatnonzero(owner < 0)
    if gaps.size:
        raise ValueError(
            f"blocks must cover each column once; columns {gaps.tolist()} are in no block. "
            "Add them to a block (or drop them from X)."
        )
    return BlockLayout(indices, n_features)


def _blocks_constraint():
    """``_parameter_constraints`` entry of a ``blocks`` parameter."""
    return [Interval(numbers.Integral, 1, None, closed="left"), "array-like", None]


# --------------------------------------------------------------------------------------------
# Inference-time adversaries
# --------------------------------------------------------------------------------------------


def _resolve_agents(agents, n_blocks):
    """Sorted unique block indices attacked, from the ``agents`` parameter."""
    if agents is None:
        return np.array([n_blocks - 1], dtype=np.intp)
    if isinstance(agents, str):  # "all", validated by the constraints
        return np.arange(n_blocks, dtype=np.intp)
    if isinstance(agents, numbers.Integral) and not isinstance(agents, bool):
        chosen = np.array([int(agents)])
    elif isinstance(agents, numbers.Real):
        count = int(np.floor(round(float(agents) * n_blocks, 9)))
        if count < 1:
            raise ValueError(
                f"agents={agents!r} is a fraction of the {n_blocks} agents that rounds down to "
                "no agent; raise it or pass agent indices."
            )
        return np.arange(n_blocks - count, n_blocks, dtype=np.intp)
    else:
        chosen = np.asarray(agents)
        if chosen.ndim != 1 or (chosen.size and not np.issubdtype(chosen.dtype, np.integer)):
            raise ValueError(
                f"agents must be None, 'all', an int index, a float fraction or a 1-D list of "
                f"int indices; got {agents!r}."
            )
    bad = chosen[(chosen < -n_blocks) | (chosen >= n_blocks)]
    if bad.size:
        raise ValueError(
            f"agents {bad.tolist()} are out of range for a layout of {n_blocks} blocks (valid: "
            f"{-n_blocks} to {n_blocks - 1})."
        )
    return np.unique(np.where(chosen < 0, chosen + n_blocks, chosen)).astype(np.intp)


# Parameters every inference-time adversary documents the same way; substituted into their
# docstrings by ``_fill_inference_doc`` so the text exists once.
_INFERENCE_PARAMETERS_DOC = """\
    blocks : int, list of int, list of array-like of int or None, default=None
        Block layout of the features: the number of equal blocks, the block widths, or the
        column indices of each block (see :func:`~sklearn_robust.base.check_blocks`). None
        means one block per column.

    agents : int, float, array-like of int, 'all' or None, default=None
        Blocks the adversary controls: None for the last block (the paper's setting), an int
        for one block index (negative counts from the end), a float in (0, 1] for that
        fraction of the blocks (the last ones, rounded down, at least one), a list of block
        indices, or 'all'.
"""

_INFERENCE_ATTRIBUTES_DOC = """\
    layout_ : BlockLayout
        Validated block layout of the features.

    attacked_blocks_ : ndarray of int
        Indices of the blocks the adversary controls.

    attacked_columns_ : ndarray of int
        Column indices of those blocks.

    n_features_in_ : int
        Number of features seen during :meth:`fit`.

    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during :meth:`fit`, defined only when ``X`` has feature names
        that are all strings.
"""


def _fill_inference_doc(cls):
    """Class decorator: put the shared texts where ``{inference_parameters}`` and
    ``{inference_attributes}`` stand in the docstring."""
    cls.__doc__ = cls.__doc__.replace(
        "    {inference_parameters}\n", _INFERENCE_PARAMETERS_DOC
    ).replace("    {inference_attributes}\n", _INFERENCE_ATTRIBUTES_DOC)
    return cls


@_fill_inference_doc
class BaseInferenceAdversary(
    OneToOneFeatureMixin, TransformerMixin, BaseEstimator, metaclass=ABCMeta
):
    """Base class of inference-time adversaries (the CoPur threat model).

    The adversary controls some agents' feature blocks at inference time. ``fit`` learns the
    layout (and, for attacks that need it, statistics of the clean data); ``fit_transform``
    returns the training data untouched, so a ``Pipeline([attack, defense, classifier])``
    trains on clean data and predicts under attack; ``transform`` (and :meth:`attack`, which
    also receives the labels and the fitted model a white-box attack needs) returns an
    attacked copy. The input is never modified.

    Subclasses implement ``_attack(X, y, random_state, estimator)`` on a validated float copy
    and may override ``_fit(X, y)`` to learn statistics of the clean data. Every subclass
    takes the parameters declared in ``_parameter_constraints`` here (it extends that dict
    with its own): ``blocks``, the block layout of the features (see :func:`check_blocks`),
    ``agents``, the blocks the adversary controls (None for the last one), and
    ``random_state``, passed to ``_attack`` as a ``numpy.random.RandomState``.

    Attributes
    ----------
    {inference_attributes}

    See Also
    --------
    is_adversary : True for instances of subclasses.
    BasePoisoningAdversary : Adversaries that poison training updates instead.
    sklearn_robust.adversaries.MissingBlocks : A subclass: the attacked blocks become NaN.

    Examples
    --------
    A subclass only corrupts its private copy; the attacked columns are fitted by the base:

    >>> import numpy as np
    >>> from sklearn_robust.base import BaseInferenceAdversary
    >>> class ZeroBlocks(BaseInferenceAdversary):
    ...     def __init__(self, *, blocks=None, agents=None, random_state=None):
    ...         self.blocks = blocks
    ...         self.agents = agents
    ...         self.random_state = random_state
    ...
    ...     def _attack(self, X, y, random_state, estimator):
    ...         X[:, self.attacked_columns_] = 0.0
    ...         return X
    >>> X = np.arange(6, dtype=float).reshape(2, 3)
    >>> attack = ZeroBlocks(blocks=[2, 1], agents=0).fit(X)
    >>> attack.attacked_columns_
    array([0, 1])
    >>> attack.transform(X)
    array([[0., 0., 2.],
           [0., 0., 5.]])
    >>> attack.fit_transform(X)  # training data pass through untouched
    array([[0., 1., 2.],
           [3., 4., 5.]])
    """

    _estimator_type = "adversary"
    _adversary_phase = "inference"
    # True for attacks that need the fitted model's gradients (PGD); they refuse plain
    # ``transform`` and are applied through ``attack(..., estimator=...)``.
    _white_box = False

    _parameter_constraints = {
        "blocks": _blocks_constraint(),
        "agents": [
            Interval(numbers.Integral, None, None, closed="neither"),
            Interval(RealNotInt, 0, 1, closed="right"),
            StrOptions({"all"}),
            "array-like",
            None,
        ],
        "random_state": ["random_state"],
    }

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True  # missing agents are NaN blocks
        tags.target_tags.required = False
        tags.requires_fit = True
        return tags

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Learn the block layout (and clean-data statistics the attack needs).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Clean features. NaN marks missing blocks.
        y : array-like of shape (n_samples,), default=None
            Labels; used only by attacks that need them.

        Returns
        -------
        self : object
            The fitted adversary.
        """
        X = validate_data(self, X, dtype=[np.float64, np.float32], ensure_all_finite="allow-nan")
        self.layout_ = check_blocks(self.blocks, X.shape[1])
        self.attacked_blocks_ = _resolve_agents(self.agents, self.layout_.n_blocks)
        self.attacked_columns_ = self.layout_.columns(self.attacked_blocks_)
        self._fit(X, y)
        return self

    def _fit(self, X, y):
        """Learn what the attack needs from clean data; nothing by default."""

    def fit_transform(self, X, y=None):
        """Fit, and return the training data **unattacked**.

        Training data pass through untouched so that the steps after the adversary in a
        pipeline are trained on clean data; only :meth:`transform` attacks.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Clean features.
        y : array-like of shape (n_samples,), default=None
            Labels; used only by attacks that need them.

        Returns
        -------
        X_out : ndarray of shape (n_samples, n_features)
            A copy of the validated ``X``.
        """
        self.fit(X, y)
        return validate_data(
            self,
            X,
            reset=False,
            dtype=[np.float64, np.float32],
            ensure_all_finite=False,
            copy=True,
        )

    def transform(self, X):
        """Return an attacked copy of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Features to attack. Never modified.

        Returns
        -------
        X_attacked : ndarray of shape (n_samples, n_features)
            ``X`` with the attacked blocks corrupted.
        """
        if self._white_box:
            raise ValueError(
                f"{type(self).__name__} is a white-box attack: it needs the fitted model, "
                "which transform() does not receive. Score with "
                "sklearn_robust.metrics.make_robust_scorer(attack), or call "
                "attack(X, y, estimator=fitted_model)."
            )
        return self.attack(X)

    def attack(self, X, y=None, *, estimator=None):
        """Return an attacked copy of ``X``, with what a white-box attack needs.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Features to attack. Never modified.
        y : array-like of shape (n_samples,), default=None
            True labels (untargeted white-box attacks push predictions away from them; when
            None they use the model's own predictions). Ignored by black-box attacks.
        estimator : fitted estimator, default=None
            The model under attack (the pipeline steps after the adversary). Required by
            white-box attacks, ignored by the others.

        Returns
        -------
        X_attacked : ndarray of shape (n_samples, n_features)
            ``X`` with the attacked blocks corrupted.
        """
        check_is_fitted(self)
        X = validate_data(
            self,
            X,
            reset=False,
            dtype=[np.float64, np.float32],
            ensure_all_finite=False,
            copy=True,
        )
        random_state = check_random_state(self.random_state)
        return self._attack(X, y, random_state, estimator)

    @abstractmethod
    def _attack(self, X, y, random_state, estimator):
        """Corrupt the attacked blocks of ``X`` (a private copy) and return it."""
