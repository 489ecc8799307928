"""Block layouts: which columns of ``X`` belong to which agent's feature block.

Every block-aware object (adversaries, CoPur, the baselines, the datasets) turns its
``blocks`` parameter into a :class:`BlockLayout` with :func:`check_blocks`, the one place a
layout is validated.
"""

import numbers

import numpy as np
from sklearn.utils._param_validation import Interval

__all__ = ["BlockLayout", "check_blocks"]


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
    if any(isinstance(b, (bool, np.bool_)) for b in items):
        raise ValueError(
            f"blocks must be block widths (ints) or column-index arrays; got booleans in "
            f"{items!r}."
        )
    if all(isinstance(b, numbers.Real) for b in items) and not all(
        isinstance(b, numbers.Integral) for b in items
    ):
        whole = [float(b).is_integer() for b in items]
        hint = f" Pass blocks={[int(b) for b in items]}." if all(whole) else ""
        raise ValueError(
            f"block widths must be integers; got {items!r} (floats).{hint}"
        )
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
