"""The one rule that turns a fraction of rows into a count of rows, everywhere in the library."""

import math

__all__ = ["count_from_fraction"]


def count_from_fraction(fraction, n_rows):
    """``floor(fraction * n_rows)``, with the product rounded to 9 decimals first.

    Every fraction of rows in the library -- adversaries' ``n_byzantine``, ``TrimmedMean``'s
    ``trim``, the ``eps`` of the filters and of Krum -- becomes a count this way, so a
    defense told ``eps = f / n`` and an attack told ``n_byzantine = f / n`` agree on ``f``
    (the plain floor of 0.29 * 100 = 28.999... gives 28, and ceil(0.07 * 100 =
    7.000000000000001) gives 8).

    Parameters
    ----------
    fraction : float
        A fraction of the rows, >= 0.
    n_rows : int
        Number of rows.

    Returns
    -------
    count : int

    Examples
    --------
    >>> from sklearn_robust._counts import count_from_fraction
    >>> [count_from_fraction(f, n) for f, n in [(0.29, 100), (0.07, 100), (1 / 49, 49)]]
    [29, 7, 1]
    """
    return int(math.floor(round(float(fraction) * int(n_rows), 9)))
