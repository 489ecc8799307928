"""Helpers shared by the dataset loaders: DataFrame conversion and file checks."""

import contextlib
import lzma
import os
import zipfile
import zlib

import numpy as np

# What a wrong, truncated or mis-named file raises inside pandas' and numpy's readers
# (ParserError, EmptyDataError and UnicodeDecodeError are ValueErrors; a '.gz' name on a
# plain file raises gzip.BadGzipFile, an OSError).
_READ_ERRORS = (ValueError, EOFError, OSError, zlib.error, zipfile.BadZipFile, lzma.LZMAError)


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


@contextlib.contextmanager
def _reading(path, what, hint):
    """Turn a reader's error on a wrong file into a ValueError naming the file and a fix.

    pandas' "Error tokenizing data. C error: ..." or gzip's "Not a gzipped file" say
    neither which file nor what it should have been. Errors about the file system itself
    (missing, a directory, no permission) are left as they are: they name the file.
    """
    try:
        yield
    except (FileNotFoundError, IsADirectoryError, PermissionError):
        raise
    except _READ_ERRORS as exc:
        name = os.fspath(path)
        if name.endswith(".zip"):
            why = "it is a zip archive: extract it and pass one file from it"
        elif isinstance(exc, (EOFError, zlib.error, lzma.LZMAError)) or "gzip" in str(exc):
            why = (
                "it is not a complete compressed file (compression is inferred from the name): "
                "download it again, or remove the '.gz' from the name of a plain-text file"
            )
        elif isinstance(exc, UnicodeDecodeError):
            why = "it is not a text file"
        else:
            why = "its content is not in the expected format"
        raise ValueError(
            f"Could not read {name!r} as {what}: {why} ({type(exc).__name__}: "
            f"{str(exc).strip()}). {hint}"
        ) from exc
