"""Private helpers shared by the nets and the estimators that train them."""

import math
import threading
from contextlib import contextmanager

import numpy as np
import torch
from skorch.callbacks import EarlyStopping
from skorch.dataset import ValidSplit

from sklearn_robust.nets._seeding import SeededNeuralNetClassifier


def module_device_dtype(module):
    """Device and floating dtype of a module's parameters (CPU float32 when it has none)."""
    for param in module.parameters():
        return param.device, param.dtype
    return torch.device("cpu"), torch.float32


def non_finite_net_state(net):
    """Where a fitted skorch net holds NaN or inf, as text, or None when all is finite.

    Looks at the module's parameters and buffers and at the recorded training (and
    validation) losses: a net whose optimiser diverged (a learning rate too large for the
    data, features of huge scale) ends with such values, and every prediction it makes is
    then meaningless.
    """
    module = getattr(net, "module_", None)
    if isinstance(module, torch.nn.Module):
        for name, tensor in [*module.named_parameters(), *module.named_buffers()]:
            if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
                return f"weights ({name})"
    history = getattr(net, "history", None)
    for key in ("train_loss", "valid_loss"):
        try:
            losses = np.asarray(history[:, key], dtype=np.float64) if history else None
        except (KeyError, ValueError, TypeError):
            continue
        if losses is not None and losses.size and not np.isfinite(losses).all():
            epoch = int(np.flatnonzero(~np.isfinite(losses))[0]) + 1
            return f"{key.replace('_', ' ')} (from epoch {epoch})"
    return None


def check_finite_net(net, owner):
    """Refuse a net whose training diverged: a ``ValueError`` naming what and the fix."""
    where = non_finite_net_state(net)
    if where is not None:
        raise ValueError(
            f"{owner}: training diverged, its network's {where} became NaN or inf; training "
            "stopped instead of returning a broken model. Lower lr, or rescale the features "
            "(StandardScaler), or purify corrupted agents first (CoPurTransformer)."
        )
    return net


def batched_forward(fn, X, module, batch_size):
    """Apply ``fn`` to ``X`` batch by batch, in eval mode and without gradients.

    ``X`` is a numpy array (or array-like) or a torch tensor. Batches go to the module's
    device in its dtype. numpy input gives a numpy array on the CPU; tensor input gives a
    tensor on the input's device.
    """
    is_tensor = isinstance(X, torch.Tensor)
    device, dtype = module_device_dtype(module)
    if is_tensor:
        out_device = X.device
        X = X.detach()
    else:
        X = torch.from_numpy(np.ascontiguousarray(X, dtype=np.float32))
    if X.ndim != 2:
        raise ValueError(f"expected a 2-D input (n_samples, n_features); got {X.ndim}-D.")
    n_samples = X.shape[0]
    batch_size = n_samples if batch_size in (None, -1) else int(batch_size)
    batch_size = max(batch_size, 1)
    module.eval()
    outputs = []
    with torch.no_grad():
        for start in range(0, max(n_samples, 1), batch_size):
            batch = X[start : start + batch_size].to(device=device, dtype=dtype)
            outputs.append(fn(batch).detach())
    out = torch.cat(outputs) if len(outputs) > 1 else outputs[0]
    if is_tensor:
        return out.to(out_device)
    return out.cpu().numpy()


def torch_input(X, module, n_features, owner):
    """Cast a floating tensor to the module's device and dtype, keeping the autograd graph."""
    if not isinstance(X, torch.Tensor):
        raise TypeError(
            f"{owner}._torch_forward takes a torch.Tensor; got {type(X).__name__}. Convert "
            "with torch.as_tensor(X), or use the numpy methods (transform, predict_proba)."
        )
    if not X.is_floating_point():
        raise ValueError(
            f"{owner}._torch_forward needs a floating tensor to differentiate through; got "
            f"dtype {X.dtype}. Cast it with X.float()."
        )
    if X.ndim != 2 or X.shape[1] != n_features:
        raise ValueError(
            f"{owner}._torch_forward expects shape (n_samples, {n_features}); got {tuple(X.shape)}."
        )
    device, dtype = module_device_dtype(module)
    return X.to(device=device, dtype=dtype)


def _validation_split(y, validation_fraction):
    """A ``ValidSplit`` for ``y``, stratified when every class can be, or None if too small."""
    n_samples = len(y)
    # Not a count the library chooses: the number of rows skorch's ValidSplit (scikit-learn's
    # shuffle splits) will hold out, which rounds up; count_from_fraction would disagree.
    n_valid = math.ceil(validation_fraction * n_samples)
    if n_valid < 1 or n_samples - n_valid < 1:
        return None
    counts = np.bincount(y)
    n_classes = int(np.count_nonzero(counts))
    stratified = (
        counts[counts > 0].min() >= 2 and n_valid >= n_classes and n_samples - n_valid >= n_classes
    )
    return ValidSplit(float(validation_fraction), stratified=bool(stratified))


def fit_classifier_net(
    X,
    y,
    *,
    module,
    module_kwargs,
    lr,
    max_epochs,
    batch_size,
    weight_decay,
    early_stopping,
    validation_fraction,
    patience,
    device,
    random_state,
    verbose,
):
    """Build a seeded skorch classifier (Adam, cross-entropy on logits) and fit it.

    ``X`` is float32, ``y`` holds class indices ``0..n_classes-1`` (int64). With
    ``early_stopping``, ``validation_fraction`` of the rows are held out (stratified where
    every class has two rows or more) and training stops when the validation loss has not
    improved for ``patience`` epochs; the best weights are restored. When the data are too
    few to hold out a row, training runs without early stopping.
    """
    split = _validation_split(y, validation_fraction) if early_stopping else None
    callbacks = []
    if split is not None:
        callbacks.append(("early_stopping", EarlyStopping(patience=patience, load_best=True)))
    net = SeededNeuralNetClassifier(
        module,
        criterion=torch.nn.CrossEntropyLoss,
        optimizer=torch.optim.Adam,
        optimizer__weight_decay=weight_decay,
        lr=lr,
        max_epochs=max_epochs,
        batch_size=batch_size,
        iterator_train__shuffle=True,
        train_split=split,
        callbacks=callbacks,
        device=device,
        verbose=int(verbose),
        random_state=random_state,
        **{f"module__{key}": value for key, value in module_kwargs.items()},
    )
    return net.fit(X, y)


_THREADS_LOCK = threading.Lock()
_THREADS_USERS = 0
_THREADS_SAVED = None


@contextmanager
def single_torch_thread():
    """Run torch on one intra-op thread inside the block, safely across threads.

    ``torch.set_num_threads`` is process-wide: the first block to enter saves the count and
    sets 1, the last to leave restores it (a lock guards the count), so concurrent fits in
    two threads never leave torch on one thread.

    Yields
    ------
    None

    Examples
    --------
    >>> import torch
    >>> from sklearn_robust.nets._utils import single_torch_thread
    >>> before = torch.get_num_threads()
    >>> with single_torch_thread():
    ...     torch.get_num_threads()
    1
    >>> torch.get_num_threads() == before
    True
    """
    global _THREADS_USERS, _THREADS_SAVED
    with _THREADS_LOCK:
        if _THREADS_USERS == 0:
            _THREADS_SAVED = torch.get_num_threads()
            torch.set_num_threads(1)
        _THREADS_USERS += 1
    try:
        yield
    finally:
        with _THREADS_LOCK:
            _THREADS_USERS -= 1
            if _THREADS_USERS == 0:
                torch.set_num_threads(_THREADS_SAVED)
