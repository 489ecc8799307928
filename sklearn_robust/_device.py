"""One place where a ``device`` parameter is checked, with errors that say what to pass."""

__all__ = ["check_device"]


def check_device(device, owner):
    """Return ``torch.device(device)``, or raise a ``ValueError`` that names the fix.

    Parameters
    ----------
    device : str, torch.device or None
        The value of an estimator's ``device`` parameter. None means the CPU.
    owner : str
        Name of the estimator or function, for the message.

    Returns
    -------
    device : torch.device
        A device torch can use on this machine.

    Raises
    ------
    ValueError
        For a string torch does not know (``"bogus"``) and for a device this machine lacks
        (``"cuda"`` without CUDA, ``"cuda:3"`` with fewer GPUs, ``"mps"`` off Apple silicon),
        instead of torch's own RuntimeError or AssertionError at the first tensor moved.

    Examples
    --------
    >>> from sklearn_robust._device import check_device
    >>> check_device("cpu", "RandEigenMean")
    device(type='cpu')
    >>> check_device("bogus", "RandEigenMean")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: RandEigenMean: device='bogus' is not a torch device; pass 'cpu', ...
    """
    import torch

    if device is None:
        return torch.device("cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        raise ValueError(
            f"{owner}: device={device!r} is not a torch device; pass 'cpu', 'cuda' or "
            "'cuda:<index>'."
        ) from None
    if resolved.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(
                f"{owner}: device={device!r} needs CUDA, which this machine's torch "
                f"{torch.__version__} cannot use (no GPU or a CPU-only build); pass "
                "device='cpu', or install a CUDA build of torch (see the README, set-up)."
            )
        if resolved.index is not None and resolved.index >= torch.cuda.device_count():
            raise ValueError(
                f"{owner}: device={device!r} names GPU {resolved.index}, but this machine has "
                f"{torch.cuda.device_count()}; pass 'cuda:0' to 'cuda:"
                f"{torch.cuda.device_count() - 1}'."
            )
    elif resolved.type == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            raise ValueError(
                f"{owner}: device={device!r} needs Apple's Metal backend, which this machine "
                "lacks; pass device='cpu'."
            )
    return resolved
