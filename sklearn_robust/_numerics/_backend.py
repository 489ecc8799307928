"""Array-namespace helpers: decide once between numpy and torch, follow the input's device."""

import numpy as np


def _torch_or_none():
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a hard dependency
        return None
    return torch


def is_torch(array):
    """True for a ``torch.Tensor`` (without importing torch when it is not loaded)."""
    torch = _torch_or_none()
    return torch is not None and isinstance(array, torch.Tensor)


def get_namespace(*arrays):
    """Return ``"torch"`` or ``"numpy"`` for the given arrays; refuse a mix of both."""
    kinds = {("torch" if is_torch(a) else "numpy") for a in arrays if a is not None}
    if len(kinds) > 1:
        names = sorted({type(a).__module__ + "." + type(a).__name__ for a in arrays})
        raise TypeError(
            f"Inputs mix numpy arrays and torch tensors ({', '.join(names)}); convert them "
            "to one kind first."
        )
    return kinds.pop() if kinds else "numpy"


def to_numpy_float64(array):
    """A small array (Gram, sketch, vector) as float64 numpy on the CPU."""
    if is_torch(array):
        return array.detach().to("cpu").double().numpy()
    return np.asarray(array, dtype=np.float64)


def rows_max_abs(X, chunk_size):
    """Per-row max |x_ij| over column chunks (NaN or inf for rows holding non-finite values).

    Never materialises a full-size temporary: at most one ``n x chunk_size`` block at a time.
    """
    torch_in = is_torch(X)
    n, d = X.shape
    if torch_in:
        import torch

        out = torch.zeros(n, dtype=torch.float64, device=X.device)
        nan_rows = torch.zeros(n, dtype=torch.bool, device=X.device)
        for start in range(0, d, chunk_size):
            block = X[:, start : start + chunk_size]
            nan_rows |= torch.isnan(block).any(dim=1)
            out = torch.maximum(out, block.abs().amax(dim=1).double())
        out[nan_rows] = float("nan")
        return out.cpu().numpy()
    out = np.zeros(n, dtype=np.float64)
    for start in range(0, d, chunk_size):
        block = X[:, start : start + chunk_size]
        # np.max propagates NaN, so a NaN anywhere in a row makes its maximum NaN.
        np.maximum(out, np.abs(block).max(axis=1), out=out)
    return out
