"""Input checks shared by the bases, beyond what scikit-learn's ``validate_data`` refuses."""

import numpy as np

__all__ = ["reject_time_dtypes"]


def reject_time_dtypes(X, owner):
    """Refuse datetime64 / timedelta64 data, which ``validate_data`` would cast to numbers.

    scikit-learn converts them to their integer ticks, a silent change of meaning for
    updates or features. Works on arrays, tensors (never time-typed) and DataFrames.

    Parameters
    ----------
    X : array-like
        The input, before validation.
    owner : str
        Name of the estimator, for the message.

    Raises
    ------
    ValueError
        When ``X`` (or a column of a DataFrame) holds datetime64 or timedelta64 values.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_robust._validation import reject_time_dtypes
    >>> reject_time_dtypes(np.zeros((2, 2)), "SampleMean")  # numbers pass
    >>> reject_time_dtypes(np.zeros((2, 2), dtype="datetime64[s]"), "SampleMean")
    ... # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: SampleMean: X holds datetime64[s] values, which are not numbers; ...
    """
    dtypes = getattr(X, "dtypes", None)
    if dtypes is not None and hasattr(dtypes, "__iter__"):
        candidates = list(dtypes)
    else:
        dtype = getattr(X, "dtype", None)
        candidates = [dtype] if dtype is not None else []
    for dtype in candidates:
        try:
            kind = np.dtype(dtype).kind
        except TypeError:  # torch dtypes, pandas extension dtypes
            continue
        if kind in "mM":
            raise ValueError(
                f"{owner}: X holds {dtype} values, which are not numbers; convert them "
                "explicitly (e.g. to seconds as floats) if that is what you mean."
            )


def no_finite_row_message(owner, n_rows):
    """The error for an input whose every row holds NaN or inf (robust means need one)."""
    return (
        f"{owner} needs at least one row without NaN or inf; all {n_rows} rows contain "
        "non-finite values. Drop or repair them first."
    )
