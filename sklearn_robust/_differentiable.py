"""The differentiable-forward protocol: torch forward passes of fitted estimators.

White-box attacks (:class:`~sklearn_robust.adversaries.PGDAttack`) need the gradient of a
fitted model's output with respect to its input. This module defines how an estimator exposes
that gradient and computes forward passes of the fitted estimators that can.

The protocol
------------
An estimator is *differentiable* when it has a method::

    def _torch_forward(self, X: torch.Tensor) -> torch.Tensor: ...

which

* takes a 2-D floating tensor ``X`` of shape ``(n_samples, n_features)``, of **any** floating
  dtype and on **any** device, and casts or moves it inside (``X.to(dtype, device)`` is
  differentiable), so that gradients flow back to the tensor it was given;
* computes what the fitted estimator computes, with torch operations only (no ``.numpy()``,
  no ``.detach()`` on the path from ``X`` to the output), row by row (row ``i`` of the output
  depends on row ``i`` of ``X`` only, as in evaluation mode);
* returns, for a **transformer**, the transformed features ``(n_samples, n_features_out)``
  (what ``transform`` returns); for a **classifier**, its logits or decision scores
  ``(n_samples, n_classes)``, columns ordered like ``classes_``, whose arg-max is what
  ``predict`` returns, or ``(n_samples,)`` for a binary decision function ``z`` (positive
  means ``classes_[1]``);
* never changes the fitted state of the estimator and never accumulates gradients into its
  parameters (callers differentiate with :func:`torch.autograd.grad` with respect to the
  input only).

It may read NaN in missing blocks when the estimator handles missing blocks (a purifier);
an estimator that does not is free to return NaN for those rows.

A differentiable estimator that lives on an accelerator should expose the device through a
``device`` attribute (the ``device`` parameter of our estimators): attacks create their
tensors there.

Beyond the protocol, :func:`differentiable_forward` knows these scikit-learn and skorch
objects:

* :class:`~sklearn.pipeline.Pipeline` -- the steps are chained (``None``/``'passthrough'``
  steps are the identity), the final step gives the output;
* fitted :class:`~sklearn.preprocessing.StandardScaler`,
  :class:`~sklearn.preprocessing.MinMaxScaler` and
  :class:`~sklearn.preprocessing.MaxAbsScaler` -- their affine maps;
* fitted linear classifiers (``LogisticRegression``, ``LinearSVC``, ``RidgeClassifier``,
  ``SGDClassifier``, ... -- every ``LinearClassifierMixin``) -- their decision function
  ``X @ coef_.T + intercept_``;
* fitted skorch ``NeuralNet`` -- its ``module_`` forward in evaluation mode, the input cast to
  the dtype and device of the module's parameters. For ``NeuralNetClassifier`` with an
  ``NLLLoss`` criterion (the module outputs probabilities) the logits are ``log(p + eps)``, as
  skorch computes its loss; for ``NeuralNetBinaryClassifier`` the single output is the binary
  logit (shifted by the logit of ``threshold``, so that its sign gives ``predict``).

A binary (1-D) output ``z`` is returned as the 2-column logits ``[0, z]``: ``softmax`` of them
is ``[1 - sigmoid(z), sigmoid(z)]``, the probabilities of ``LogisticRegression``, so a
cross-entropy loss applies to every classifier alike.
"""

import numpy as np
import torch
from scipy import sparse
from sklearn.linear_model._base import LinearClassifierMixin
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import MaxAbsScaler, MinMaxScaler, StandardScaler
from sklearn.utils.validation import check_is_fitted

__all__ = ["differentiable_forward", "forward_device", "is_differentiable"]

_SUPPORTED = (
    "objects with a _torch_forward(X) method, Pipeline, StandardScaler, MinMaxScaler, "
    "MaxAbsScaler, linear classifiers (coef_/intercept_) and skorch NeuralNet"
)


def _is_passthrough(step):
    return step is None or (isinstance(step, str) and step == "passthrough")


def _is_skorch_net(estimator):
    try:
        from skorch import NeuralNet
    except ImportError:  # pragma: no cover - skorch is a hard dependency
        return False
    return isinstance(estimator, NeuralNet)


def _leaf_kind(estimator):
    """Name of the forward rule for a non-Pipeline object, or None if it has none."""
    if _is_passthrough(estimator):
        return "passthrough"
    if callable(getattr(estimator, "_torch_forward", None)):
        return "protocol"
    if _is_skorch_net(estimator):
        return "skorch"
    if type(estimator) in (StandardScaler, MinMaxScaler, MaxAbsScaler):
        return "scaler"
    if isinstance(estimator, LinearClassifierMixin):
        return "linear"
    return None


def _non_differentiable(estimator, path=()):
    """(path, step) of the first step without a forward rule, or None."""
    if isinstance(estimator, Pipeline):
        for name, step in estimator.steps:
            found = _non_differentiable(step, (*path, name))
            if found is not None:
                return found
        return None
    return None if _leaf_kind(estimator) is not None else (path, estimator)


def is_differentiable(estimator):
    """Return True if :func:`differentiable_forward` can differentiate ``estimator``.

    Parameters
    ----------
    estimator : object
        An estimator (fitted or not: only its kind is checked) or a Pipeline.

    Returns
    -------
    out : bool
        True when the estimator, or every step of a Pipeline, implements the
        ``_torch_forward`` protocol or is one of the known scikit-learn / skorch objects.

    Examples
    --------
    >>> from sklearn.ensemble import RandomForestClassifier
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from sklearn_robust._differentiable import is_differentiable
    >>> is_differentiable(make_pipeline(StandardScaler(), LogisticRegression()))
    True
    >>> is_differentiable(RandomForestClassifier())
    False
    """
    return _non_differentiable(estimator) is None


def check_differentiable(estimator):
    """Raise a TypeError naming the first step of ``estimator`` that is not differentiable."""
    found = _non_differentiable(estimator)
    if found is None:
        return
    path, step = found
    where = f" (pipeline step {'/'.join(repr(p) for p in path)})" if path else ""
    raise TypeError(
        f"{type(step).__name__}{where} has no differentiable forward pass, so a white-box "
        f"(gradient) attack cannot go through it. Differentiable are: {_SUPPORTED}. Attack a "
        "differentiable model (e.g. a surrogate), attack after that step (at= in "
        "make_robust_scorer, or through='final'), or use a black-box attack."
    )


def _as_logits(out):
    """A binary decision function ``z`` of shape (n,) as 2-column logits ``[0, z]``."""
    if out.ndim == 1:
        return torch.stack([torch.zeros_like(out), out], dim=1)
    return out


def _param(array, like):
    """A fitted numpy attribute as a tensor with the dtype and device of ``like``."""
    if sparse.issparse(array):
        array = array.toarray()
    return torch.as_tensor(np.asarray(array), dtype=like.dtype, device=like.device)


def _scaler_forward(scaler, X):
    check_is_fitted(scaler)
    if isinstance(scaler, StandardScaler):
        # As ``transform``: the flags decide, not the attributes (``mean_`` is fitted even
        # with ``with_mean=False``).
        if scaler.with_mean:
            X = X - _param(scaler.mean_, X)
        if scaler.with_std:
            X = X / _param(scaler.scale_, X)
        return X
    if isinstance(scaler, MaxAbsScaler):
        return X / _param(scaler.scale_, X)
    out = X * _param(scaler.scale_, X) + _param(scaler.min_, X)
    if scaler.clip:
        low, high = scaler.feature_range
        out = torch.clamp(out, low, high)
    return out


def _linear_forward(estimator, X):
    check_is_fitted(estimator)
    # ``coef_`` is (n_classes, n_features), or (1, n_features) / (n_features,) for a binary
    # problem (RidgeClassifier keeps it 1-D); the output follows ``decision_function``.
    coef = _param(estimator.coef_, X).reshape(-1, X.shape[1])
    scores = X @ coef.T + _param(estimator.intercept_, X).reshape(-1)
    if scores.shape[1] == 1:
        return scores[:, 0]
    return scores


def _module_device_dtype(module, net):
    for tensor in module.parameters():
        return tensor.device, tensor.dtype
    for tensor in module.buffers():
        return tensor.device, tensor.dtype
    return torch.device(net.device), None


def _skorch_forward(net, X):
    from skorch.classifier import NeuralNetBinaryClassifier, NeuralNetClassifier

    net.check_is_fitted()
    module = net.module_
    device, dtype = _module_device_dtype(module, net)
    if dtype is not None and dtype.is_floating_point:
        X = X.to(device=device, dtype=dtype)
    else:
        X = X.to(device=device)
    # Evaluation mode for the pass, then every submodule's own mode back (a net may keep
    # some submodules in eval mode while training the others).
    modes = [(sub, sub.training) for sub in module.modules()]
    module.train(False)
    try:
        out = module(X)
    finally:
        for sub, training in modes:
            sub.training = training
    if isinstance(out, tuple):  # skorch's convention: the first output is the prediction
        out = out[0]
    if isinstance(net, NeuralNetBinaryClassifier):
        out = out.reshape(-1)
        threshold = float(net.threshold)
        if threshold != 0.5:
            out = out - float(np.log(threshold / (1.0 - threshold)))
    elif isinstance(net, NeuralNetClassifier) and isinstance(net.criterion_, torch.nn.NLLLoss):
        out = torch.log(out + torch.finfo(out.dtype).eps)
    return out


def _leaf_forward(estimator, X):
    kind = _leaf_kind(estimator)
    if kind == "passthrough":
        return X
    if kind == "protocol":
        return estimator._torch_forward(X)
    if kind == "skorch":
        return _skorch_forward(estimator, X)
    if kind == "scaler":
        return _scaler_forward(estimator, X)
    if kind == "linear":
        return _linear_forward(estimator, X)
    check_differentiable(estimator)  # raises
    raise AssertionError("unreachable")  # pragma: no cover


def _forward(estimator, X):
    if isinstance(estimator, Pipeline):
        for _, step in estimator.steps:
            X = _forward(step, X)
        return X
    return _leaf_forward(estimator, X)


def differentiable_forward(estimator, X):
    """Forward pass of a fitted estimator in torch, differentiable with respect to ``X``.

    Parameters
    ----------
    estimator : fitted estimator or Pipeline
        A differentiable estimator (see the module docstring for the protocol and the known
        scikit-learn / skorch objects).
    X : torch.Tensor of shape (n_samples, n_features)
        Floating input tensor. Gradients flow back to it; it is cast and moved where each
        step needs it.

    Returns
    -------
    out : torch.Tensor of shape (n_samples, n_outputs)
        Transformed features for a transformer, logits or decision scores for a classifier
        (columns ordered like ``classes_``); a binary decision function ``z`` comes out as
        ``[0, z]``.

    Raises
    ------
    TypeError
        If ``X`` is not a floating tensor, or a step has no differentiable forward pass (the
        message names it).

    Examples
    --------
    >>> import numpy as np
    >>> import torch
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn_robust._differentiable import differentiable_forward
    >>> X = np.array([[-2.0], [-1.0], [1.0], [2.0]])
    >>> clf = LogisticRegression().fit(X, [0, 0, 1, 1])
    >>> logits = differentiable_forward(clf, torch.tensor(X))
    >>> logits.shape
    torch.Size([4, 2])
    >>> bool(np.allclose(logits[:, 1].numpy(), clf.decision_function(X)))
    True
    """
    if not isinstance(X, torch.Tensor) or not X.is_floating_point():
        raise TypeError(
            "differentiable_forward needs a floating torch.Tensor; got "
            f"{type(X).__module__}.{type(X).__name__}"
            + (f" of dtype {X.dtype}" if isinstance(X, torch.Tensor) else "")
            + ". Convert it with torch.as_tensor(X, dtype=torch.float32)."
        )
    check_differentiable(estimator)
    return _as_logits(_forward(estimator, X))


def forward_device(estimator):
    """The device on which ``estimator``'s tensors live (the first non-CPU one found).

    Parameters
    ----------
    estimator : fitted estimator or Pipeline
        A differentiable estimator.

    Returns
    -------
    device : torch.device
        The device of a skorch net's module parameters, or the ``device`` attribute of an
        object implementing ``_torch_forward``; CPU when nothing says otherwise.
    """
    if isinstance(estimator, Pipeline):
        for _, step in estimator.steps:
            device = forward_device(step)
            if device.type != "cpu":
                return device
        return torch.device("cpu")
    kind = _leaf_kind(estimator)
    if kind == "skorch" and hasattr(estimator, "module_"):
        return _module_device_dtype(estimator.module_, estimator)[0]
    if kind == "protocol":
        device = getattr(estimator, "device", None)
        if isinstance(device, (str, torch.device)):
            try:
                return torch.device(device)
            except RuntimeError:
                return torch.device("cpu")
    return torch.device("cpu")
