"""AutoencoderNet: a seeded skorch net trained to reconstruct its input."""

import inspect

import numpy as np
import torch
from skorch import NeuralNet
from skorch.callbacks import EarlyStopping
from skorch.dataset import ValidSplit
from torch import nn

from sklearn_robust.nets._modules import MLPAutoencoder
from sklearn_robust.nets._seeding import SeededNetMixin
from sklearn_robust.nets._utils import batched_forward

__all__ = ["AutoencoderNet"]

# Module parameters the caller (CoPurTransformer) fills in; None means "not set yet".
_SIZED_BY_CALLER = ("n_features", "latent_dim")

# Default hold-out split; shared safely, as it is never modified (SeededNetMixin seeds a copy).
_DEFAULT_SPLIT = ValidSplit(0.1)


def _as_float32(X):
    """float32 tensor or array from a tensor or array-like; Datasets pass through."""
    if X is None:
        return None
    if isinstance(X, torch.Tensor):
        return X if X.dtype == torch.float32 else X.to(torch.float32)
    if isinstance(X, torch.utils.data.Dataset):
        return X
    return np.asarray(X, dtype=np.float32)


def _accepted_kwargs(module):
    """Names a module class accepts, or None when it takes ``**kwargs`` or is no class."""
    if isinstance(module, nn.Module) or not callable(module):
        return set()
    try:
        params = inspect.signature(module).parameters.values()
    except (TypeError, ValueError):
        return None
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return None
    return {p.name for p in params}


class AutoencoderNet(SeededNetMixin, NeuralNet):
    """skorch net that learns an autoencoder ``D(E(x))`` by minimising the MSE.

    ``fit(X)`` trains the module to reconstruct ``X`` (no target: ``y=X`` is used
    internally). The default module is :class:`MLPAutoencoder`; its widths are the module
    parameters ``module__n_features`` and ``module__latent_dim``, which may stay None when the
    net is given to :class:`~sklearn_robust.estimators.CoPurTransformer` (it sets both before
    fitting a clone). Fitting directly takes ``n_features`` from ``X`` when it is None, and
    asks for ``latent_dim``.

    Inputs are used in float32. Methods :meth:`encode`, :meth:`decode` and :meth:`transform`
    take numpy arrays (returning float32 numpy arrays on the CPU) or tensors (returning
    tensors on the input's device) and run on the net's ``device``.

    Parameters
    ----------
    module : torch.nn.Module class or instance, default=MLPAutoencoder
        The autoencoder. It must map a batch to its reconstruction; :meth:`encode` and
        :meth:`decode` also need ``encode``/``decode`` methods.
    criterion : torch criterion class, default=torch.nn.MSELoss
        Reconstruction loss.
    optimizer : torch optimizer class, default=torch.optim.Adam
        Optimizer.
    lr : float, default=1e-2
        Learning rate. (1e-3 left the default autoencoder under-trained after 100 epochs on
        the digits agents: clean accuracy behind it fell by 1-2 points.)
    max_epochs : int, default=300
        Most training epochs; early stopping usually ends training well before.
    batch_size : int, default=128
        Mini-batch size (also the chunk size of :meth:`transform`).
    train_split : callable or None, default=ValidSplit(0.1)
        Hold-out split for early stopping. With a split, an ``EarlyStopping`` callback named
        ``"early_stopping"`` (patience 10, best weights restored) is on by default; tune it
        with ``callbacks__early_stopping__patience`` or switch it off with
        ``callbacks__early_stopping=None``. ``None`` trains on every row for ``max_epochs``.
    verbose : int, default=0
        skorch's epoch log when positive.
    device : str or torch.device, default="cpu"
        Device of the module and of the computations.
    random_state : int, RandomState instance or None, default=None
        Seed of the initialisation, the batch order and the validation split; global RNGs are
        never touched (see :class:`SeededNetMixin`).
    **kwargs
        Other skorch parameters, e.g. ``module__latent_dim=150``,
        ``module__hidden_layer_sizes=(200,)``, ``optimizer__weight_decay=1e-5``. Training
        batches are shuffled (``iterator_train__shuffle=True``) unless set otherwise.

    Attributes
    ----------
    module_ : torch.nn.Module
        The trained autoencoder.
    history_ : skorch.History
        Training history (losses per epoch).
    n_features_in_ : int
        Width of the training data.

    See Also
    --------
    MLPAutoencoder : The default module.
    sklearn_robust.estimators.CoPurTransformer : Purification with this autoencoder.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_robust.nets import AutoencoderNet
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(200, 3)) @ rng.normal(size=(3, 12))   # rank 3
    >>> net = AutoencoderNet(module__latent_dim=3, module__hidden_layer_sizes=(),
    ...                      lr=1e-2, max_epochs=30, random_state=0).fit(X)
    >>> net.transform(X).shape, net.transform(X).dtype
    ((200, 12), dtype('float32'))
    >>> net.encode(X).shape
    (200, 3)
    """

    def __init__(
        self,
        module=MLPAutoencoder,
        *,
        criterion=torch.nn.MSELoss,
        optimizer=torch.optim.Adam,
        lr=1e-2,
        max_epochs=300,
        batch_size=128,
        train_split=_DEFAULT_SPLIT,
        verbose=0,
        device="cpu",
        random_state=None,
        **kwargs,
    ):
        for name in _SIZED_BY_CALLER:
            kwargs.setdefault(f"module__{name}", None)
        kwargs.setdefault("iterator_train__shuffle", True)
        super().__init__(
            module,
            criterion=criterion,
            optimizer=optimizer,
            lr=lr,
            max_epochs=max_epochs,
            batch_size=batch_size,
            train_split=train_split,
            verbose=verbose,
            device=device,
            random_state=random_state,
            **kwargs,
        )

    @property
    def _default_callbacks(self):
        callbacks = list(super()._default_callbacks)
        if self.train_split:
            callbacks.append(("early_stopping", EarlyStopping(patience=10, load_best=True)))
        return callbacks

    def _module_kwargs(self):
        kwargs = super()._module_kwargs()
        accepted = _accepted_kwargs(self.module)
        for name in _SIZED_BY_CALLER:
            if name not in kwargs or kwargs[name] is not None:
                continue
            if accepted is not None and name not in accepted:
                del kwargs[name]  # a module instance, or a class that has no such parameter
            elif name == "n_features" and getattr(self, "n_features_in_", None) is not None:
                kwargs[name] = self.n_features_in_
            elif name == "n_features":
                raise ValueError(
                    f"{type(self).__name__} has module__n_features=None and no data to take "
                    "it from; call fit(X), which uses X.shape[1], or set "
                    "module__n_features=... before initialize()."
                )
            else:
                raise ValueError(
                    f"{type(self).__name__} has module__latent_dim=None: the width of the "
                    "latent code must be set before fitting. Pass "
                    f"{type(self).__name__}(module__latent_dim=...) or call "
                    "set_params(module__latent_dim=...); CoPurTransformer sets it for you."
                )
        return kwargs

    def get_dataset(self, X, y=None):
        """Get the dataset of ``X`` (and ``y``) that is passed to the iterator, in float32.

        As skorch's ``get_dataset``, except that numpy arrays, array-likes and tensors are
        cast to float32 first (the dtype of the module's weights); a Dataset is used as it
        is.

        Parameters
        ----------
        X : input data compatible with ``skorch.dataset.Dataset``
            numpy arrays, torch tensors, array-likes, or a Dataset.
        y : target data compatible with ``skorch.dataset.Dataset``, default=None
            The same types as ``X``; :meth:`fit` passes ``X`` itself.

        Returns
        -------
        dataset : torch.utils.data.Dataset
            The initialized dataset.

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn_robust.nets import AutoencoderNet
        >>> X = np.zeros((10, 4))  # float64
        >>> AutoencoderNet(module__latent_dim=2).get_dataset(X, X).X.dtype
        dtype('float32')
        """
        return super().get_dataset(_as_float32(X), _as_float32(y))

    def _record_width(self, X):
        X = _as_float32(X)
        if isinstance(X, (np.ndarray, torch.Tensor)):
            if X.ndim != 2:
                raise ValueError(
                    f"{type(self).__name__} expects X of shape (n_samples, n_features); got "
                    f"{X.ndim}-D input of shape {tuple(X.shape)}."
                )
            finite = torch.isfinite(X).all() if isinstance(X, torch.Tensor) else None
            if finite is None:
                finite = np.isfinite(X).all()
            if not bool(finite):
                raise ValueError(
                    f"{type(self).__name__} trains on clean features, but X contains NaN or "
                    "inf. Drop the rows with missing or corrupted blocks first."
                )
            self.n_features_in_ = int(X.shape[1])
        return X

    def fit(self, X, y=None, **fit_params):
        """Train the autoencoder to reconstruct ``X``.

        Parameters
        ----------
        X : array-like or torch.Tensor of shape (n_samples, n_features)
            Clean training features (no NaN or inf).
        y : None
            Ignored: the target is ``X`` itself.
        **fit_params : dict
            Passed to skorch's ``fit``.

        Returns
        -------
        self : AutoencoderNet
            The fitted net.
        """
        X = self._record_width(X)
        return super().fit(X, X, **fit_params)

    def partial_fit(self, X, y=None, classes=None, **fit_params):
        """Continue training the autoencoder to reconstruct ``X``.

        As skorch's ``partial_fit``: the net is initialised only if it is not yet (seeded
        from ``random_state``, see :class:`SeededNetMixin`), then trained for ``max_epochs``
        more epochs, the batch order continuing from the previous call. As in :meth:`fit`,
        the target is ``X`` itself and ``n_features_in_`` is recorded.

        Parameters
        ----------
        X : array-like or torch.Tensor of shape (n_samples, n_features)
            Clean training features (no NaN or inf).
        y : None
            Ignored: the target is ``X`` itself.
        classes : None
            Ignored; present for scikit-learn compatibility (skorch does not use it).
        **fit_params : dict
            Passed to skorch's ``partial_fit`` (the module's ``forward`` and the
            ``train_split`` call).

        Returns
        -------
        self : AutoencoderNet
            The net, trained further.

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn_robust.nets import AutoencoderNet
        >>> X = np.random.RandomState(0).normal(size=(40, 4))
        >>> net = AutoencoderNet(module__latent_dim=2, max_epochs=1, train_split=None,
        ...                      random_state=0)
        >>> len(net.partial_fit(X).partial_fit(X).history)  # one epoch per call
        2
        """
        X = self._record_width(X)
        return super().partial_fit(X, X, classes=classes, **fit_params)

    def _run(self, method, X):
        self.check_is_fitted()
        module = self.module_
        fn = module if method == "forward" else getattr(module, method, None)
        if fn is None:
            raise AttributeError(
                f"the module {type(module).__name__} has no {method}() method; "
                f"{type(self).__name__}.{method} needs one."
            )
        if not isinstance(X, torch.Tensor):
            X = np.asarray(X, dtype=np.float32)
        return batched_forward(fn, X, module, self.batch_size)

    def encode(self, X):
        """Latent codes ``E(X)``.

        Parameters
        ----------
        X : array-like or torch.Tensor of shape (n_samples, n_features)
            Inputs.

        Returns
        -------
        Z : ndarray or torch.Tensor of shape (n_samples, latent_dim)
            float32; numpy on the CPU for array input, a tensor on X's device otherwise.
        """
        return self._run("encode", X)

    def decode(self, Z):
        """Reconstructions ``D(Z)`` of latent codes.

        Parameters
        ----------
        Z : array-like or torch.Tensor of shape (n_samples, latent_dim)
            Latent codes.

        Returns
        -------
        X_hat : ndarray or torch.Tensor of shape (n_samples, n_features)
            float32; numpy on the CPU for array input, a tensor on Z's device otherwise.
        """
        return self._run("decode", Z)

    def transform(self, X):
        """Reconstructions ``D(E(X))``.

        Parameters
        ----------
        X : array-like or torch.Tensor of shape (n_samples, n_features)
            Inputs.

        Returns
        -------
        X_hat : ndarray or torch.Tensor of shape (n_samples, n_features)
            float32; numpy on the CPU for array input, a tensor on X's device otherwise.
        """
        return self._run("forward", X)
