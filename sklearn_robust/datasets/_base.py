"""Helpers shared by the dataset loaders: DataFrame conversion and file checks."""

import os

import numpy as np


def _check_pandas(caller_name):
    """Import and return pandas, or raise an ImportError saying who needs it and how to fix."""
    try:
        import pandas
    except ImportError as exc:
        raise ImportError(
            f"{caller_name} requires pandas, which is not installed; install it with "
            "'pip install pandas' (or the 'notebooks'/'tests' extras of sklearn-robust)."
        ) from exc
    return pandas


def _frame_bunch_parts(caller_name, data, target, feature_names, target_name):
    """``(frame, data_df, target_series)`` for ``as_frame=True``, the scikit-learn way.

    ``frame`` holds the features and the target side by side; ``data_df`` and
    ``target_series`` are views of its columns.
    """
    pd = _check_pandas(f"{caller_name} with as_frame=True")
    data_df = pd.DataFrame(data, columns=list(feature_names), copy=False)
    target_series = pd.Series(target, name=target_name)
    frame = pd.concat([data_df, target_series], axis=1)
    return frame, frame[list(feature_names)], frame[target_name]


def _check_file(path, what, hint):
    """Raise FileNotFoundError naming ``path`` (and what it should be) when it is not a file."""
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"{what} not found: {os.fspath(path)!r} does not exist or is not a file. {hint}"
        )
    return path


def _as_float_matrix(values):
    """A C-contiguous float64 copy-free view where possible."""
    return np.ascontiguousarray(values, dtype=np.float64)
