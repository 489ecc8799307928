"""Reproducible skorch training without touching torch's or numpy's global RNGs.

Three places draw random numbers when a skorch net is fitted: the initial weights, the
shuffling of the training ``DataLoader`` (and the base seed every ``DataLoader`` iterator draws,
shuffled or not) and the hold-out split of ``ValidSplit``. Left alone, all three read a global
generator. :class:`SeededNetMixin` feeds each of them from its ``random_state`` instead.
"""

import copy
import math
import numbers
from contextlib import contextmanager

import numpy as np
import torch
from sklearn.utils import check_random_state
from skorch import NeuralNet, NeuralNetClassifier
from skorch.dataset import ValidSplit
from torch import nn
from torch.overrides import TorchFunctionMode
from torch.utils.data import DataLoader

from sklearn_robust._device import check_device

__all__ = [
    "SeededNetMixin",
    "local_torch_rng",
    "SeededNeuralNet",
    "SeededNeuralNetClassifier",
    "make_torch_generator",
    "reset_linear_parameters",
]

_MAX_SEED = np.iinfo(np.int32).max


def make_torch_generator(random_state=None):
    """Return a CPU ``torch.Generator`` seeded from a scikit-learn ``random_state``.

    Parameters
    ----------
    random_state : int, RandomState instance, torch.Generator or None, default=None
        An int seeds the generator directly; a ``RandomState`` (or None, numpy's global one,
        as everywhere in scikit-learn) gives one draw of a seed; a ``torch.Generator`` is
        returned unchanged.

    Returns
    -------
    generator : torch.Generator
        A local generator: drawing from it never moves torch's global RNG.

    Examples
    --------
    >>> import torch
    >>> from sklearn_robust.nets import make_torch_generator
    >>> a = torch.rand(3, generator=make_torch_generator(0))
    >>> b = torch.rand(3, generator=make_torch_generator(0))
    >>> bool(torch.equal(a, b))
    True
    """
    if isinstance(random_state, torch.Generator):
        return random_state
    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool):
        seed = int(random_state)
    else:
        seed = int(check_random_state(random_state).randint(_MAX_SEED))
    generator = torch.Generator()
    generator.manual_seed(seed)
    return generator


# Tensor methods and functions that draw random numbers and take a ``generator``.
_TENSOR_METHODS = (
    "uniform_",
    "normal_",
    "bernoulli_",
    "random_",
    "exponential_",
    "geometric_",
    "log_normal_",
    "cauchy_",
)
_FUNCTIONS = ("rand", "randn", "randint", "randperm", "normal", "bernoulli", "multinomial",
              "poisson")
_LIKE = {"rand_like": "uniform_", "randn_like": "normal_"}
# nn.init functions dispatch as themselves (not through the tensor methods they call).
_INIT = ("uniform_", "normal_", "trunc_normal_", "kaiming_uniform_", "kaiming_normal_",
         "xavier_uniform_", "xavier_normal_", "orthogonal_", "sparse_")
_DROPOUTS = ("dropout", "dropout1d", "dropout2d", "dropout3d")


class _LocalRNG(TorchFunctionMode):
    """Torch function mode that gives every random draw a local generator (per device)."""

    def __init__(self, generator):
        super().__init__()
        self.generator = generator
        self._by_device = {}
        self._methods = {getattr(torch.Tensor, name) for name in _TENSOR_METHODS}
        self._functions = {getattr(torch, name) for name in _FUNCTIONS}
        self._functions |= {getattr(nn.init, name) for name in _INIT}
        self._like = {getattr(torch, name): method for name, method in _LIKE.items()}
        self._dropouts = {getattr(nn.functional, name): name for name in _DROPOUTS}

    def _for(self, device):
        device = torch.device("cpu") if device is None else torch.device(device)
        if device.type == "cpu":
            return self.generator
        key = str(device)
        if key not in self._by_device:
            seed = int(torch.randint(2**62, (1,), generator=self.generator))
            self._by_device[key] = torch.Generator(device=device).manual_seed(seed)
        return self._by_device[key]

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = dict(kwargs or {})
        if func in self._methods and kwargs.get("generator") is None:
            kwargs["generator"] = self._for(args[0].device)
        elif func in self._functions and kwargs.get("generator") is None:
            first = args[0] if args and isinstance(args[0], torch.Tensor) else None
            kwargs["generator"] = self._for(first.device if first is not None
                                            else kwargs.get("device"))
        elif func in self._like:
            like = args[0]
            out = torch.empty_like(like, **{k: v for k, v in kwargs.items()
                                            if k in ("dtype", "device", "layout")})
            return getattr(out, self._like[func])(generator=self._for(out.device))
        elif func in self._dropouts:
            return self._dropout(self._dropouts[func], *args, **kwargs)
        return func(*args, **kwargs)

    def _dropout(self, name, input, p=0.5, training=True, inplace=False):
        if not training or p == 0.0:
            return input
        if p == 1.0:
            return input.mul_(0.0) if inplace else input * 0.0
        # The mask is made *like* (a slice of) the input, so that under torch.func.vmap it
        # is batched too and every sample gets its own draw (randomness="different").
        template = input
        if name != "dropout":  # channel dropout: one draw per (batch, channel)
            spatial = {"dropout1d": 1, "dropout2d": 2, "dropout3d": 3}[name]
            for dim in range(input.dim() - spatial, input.dim()):
                template = template.narrow(dim, 0, 1)
        keep = torch.empty_like(template, memory_format=torch.contiguous_format)
        keep.bernoulli_(1.0 - p, generator=self._for(input.device))
        scaled = keep / (1.0 - p)
        return input.mul_(scaled) if inplace else input * scaled


@contextmanager
def local_torch_rng(generator):
    """Run torch code with every random draw taken from ``generator``, not the global RNG.

    Inside the block, random tensor methods (``uniform_``, ``normal_``, ``bernoulli_``, ...),
    random functions (``torch.rand``, ``randn``, ``randint``, ``randperm``, ``normal``,
    ``bernoulli``, ``multinomial``, ``poisson``, ``rand_like``, ``randn_like``, the random
    ``nn.init`` functions) and dropout
    (``nn.functional.dropout`` and ``dropout1d/2d/3d``, hence ``nn.Dropout``) that are not
    given a generator draw from ``generator`` (from a generator seeded by it on a GPU). It is
    a torch function mode, so it is local to the thread: two threads never share or move a
    state, and torch's global RNG is neither read nor written (not even saved and restored).
    Module constructors and ``nn.init`` draw through these methods, so building a module in
    the block is reproducible too. (``alpha_dropout`` and custom CUDA kernels still use the
    global RNG.)

    Parameters
    ----------
    generator : torch.Generator
        A CPU generator, e.g. from :func:`make_torch_generator`.

    Yields
    ------
    generator : torch.Generator
        The same generator.

    Examples
    --------
    >>> import torch
    >>> from sklearn_robust.nets import local_torch_rng, make_torch_generator
    >>> state = torch.random.get_rng_state()
    >>> with local_torch_rng(make_torch_generator(0)):
    ...     a = torch.nn.Linear(3, 2).weight.detach().clone()
    ...     drop = torch.nn.functional.dropout(torch.ones(4), 0.5)
    >>> with local_torch_rng(make_torch_generator(0)):
    ...     b = torch.nn.Linear(3, 2).weight.detach().clone()
    >>> bool(torch.equal(a, b)), bool(torch.equal(torch.random.get_rng_state(), state))
    (True, True)
    """
    with _LocalRNG(generator):
        yield generator


def _init_like_torch(weight, bias, generator):
    """torch's default init of Linear/Conv layers, drawn on the CPU from ``generator``."""
    new_weight = torch.empty(weight.shape, dtype=weight.dtype)
    # a=sqrt(5) is what nn.Linear.reset_parameters uses: U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
    nn.init.kaiming_uniform_(new_weight, a=math.sqrt(5), generator=generator)
    weight.copy_(new_weight)
    if bias is not None:
        fan_in = nn.init._calculate_fan_in_and_fan_out(new_weight)[0]
        bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0.0
        new_bias = torch.empty(bias.shape, dtype=bias.dtype)
        nn.init.uniform_(new_bias, -bound, bound, generator=generator)
        bias.copy_(new_bias)


def reset_linear_parameters(module, generator):
    """Re-initialise every ``nn.Linear`` (and convolution) of ``module`` from ``generator``.

    Each layer gets torch's default initialisation (Kaiming-uniform weights with
    ``a=sqrt(5)``, uniform bias in ``+-1/sqrt(fan_in)``), drawn in the order of
    ``module.modules()``. Values are drawn on the CPU and copied to the layer's device, so a
    given generator state gives the same weights on every device. Other parameters (norm
    layers, embeddings, custom ones) are left as they are.

    Parameters
    ----------
    module : torch.nn.Module
        The module to re-initialise in place.
    generator : torch.Generator
        A CPU generator, e.g. from :func:`make_torch_generator`.

    Returns
    -------
    module : torch.nn.Module
        The same module.

    Examples
    --------
    >>> import torch
    >>> from sklearn_robust.nets import make_torch_generator, reset_linear_parameters
    >>> a = reset_linear_parameters(torch.nn.Linear(4, 2), make_torch_generator(0))
    >>> b = reset_linear_parameters(torch.nn.Linear(4, 2), make_torch_generator(0))
    >>> bool(torch.equal(a.weight, b.weight))
    True
    """
    with torch.no_grad():
        for layer in module.modules():
            if isinstance(layer, (nn.Linear, nn.modules.conv._ConvNd)):
                _init_like_torch(layer.weight, layer.bias, generator)
    return module


def _is_float(value):
    return isinstance(value, (float, np.floating))


class SeededNetMixin:
    """Mixin for skorch nets: a ``random_state`` parameter instead of global seeding.

    Put it to the left of the skorch class (``class Net(SeededNetMixin, NeuralNet)``). At
    every :meth:`initialize` (so at every ``fit`` without ``warm_start``) it draws three seeds
    from ``random_state`` and uses them for

    * the initial weights: the module is built inside :func:`local_torch_rng` (every draw of
      its constructor comes from a local generator), then :func:`reset_linear_parameters`
      draws every linear and convolution layer from a local generator;
    * dropout and any other random draw of the forward pass during training
      (:meth:`fit_loop` runs inside :func:`local_torch_rng` with ``train_generator_``);
    * the order of the training batches: the training ``DataLoader`` receives a local
      ``torch.Generator`` (unless ``iterator_train__generator`` is set); validation and
      prediction loaders receive a fixed one, so that they leave the global RNG alone too;
    * the hold-out set of a ``ValidSplit`` with a float ``cv`` and no ``random_state`` of its
      own (a seeded copy is used; the parameter itself is not modified).

    The same int ``random_state`` therefore gives the same trained weights, and fitting never
    moves torch's or numpy's global RNG. A module passed as an *instance* (not a class) keeps
    the weights it has.

    Parameters
    ----------
    *args
        Positional arguments of the skorch class (``module`` first).
    random_state : int, RandomState instance or None, default=None
        Seed of the initialisation, the batch order and the validation split.
    **kwargs
        Keyword arguments of the skorch class (``criterion``, ``max_epochs``,
        ``module__...``, ``iterator_train__...``, ...).

    Attributes
    ----------
    seeds_ : dict of str to int
        The seeds drawn at the last :meth:`initialize`, under ``"init"``, ``"train"`` and
        ``"split"``.
    train_generator_ : torch.Generator
        Generator of the training batch order, seeded with ``seeds_["train"]``; it keeps
        advancing from epoch to epoch (and across ``partial_fit`` calls).

    See Also
    --------
    SeededNeuralNet, SeededNeuralNetClassifier : The mixin on skorch's two main nets.
    make_torch_generator : The local generators it uses.

    Examples
    --------
    >>> import numpy as np
    >>> import torch
    >>> from skorch import NeuralNetRegressor
    >>> from sklearn_robust.nets import MLPModule, SeededNetMixin
    >>> class SeededRegressor(SeededNetMixin, NeuralNetRegressor):
    ...     pass
    >>> X = np.random.RandomState(0).normal(size=(32, 3)).astype(np.float32)
    >>> y = X.sum(axis=1, keepdims=True)
    >>> kw = dict(module=MLPModule, module__n_features=3, module__n_outputs=1, max_epochs=2,
    ...           train_split=None, iterator_train__shuffle=True, verbose=0)
    >>> global_state = torch.random.get_rng_state()
    >>> a = SeededRegressor(**kw, random_state=0).fit(X, y)
    >>> b = SeededRegressor(**kw, random_state=0).fit(X, y)
    >>> bool(torch.equal(a.module_.layers[0].weight, b.module_.layers[0].weight))
    True
    >>> bool(torch.equal(torch.random.get_rng_state(), global_state))  # global RNG untouched
    True
    """

    def __init__(self, *args, random_state=None, **kwargs):
        self.random_state = random_state
        super().__init__(*args, **kwargs)

    def _draw_seeds(self):
        rng = check_random_state(self.random_state)
        init_seed, train_seed, split_seed = (int(s) for s in rng.randint(_MAX_SEED, size=3))
        # Fitted state: names end in "_" so that skorch does not take them for parameters.
        self.seeds_ = {"init": init_seed, "train": train_seed, "split": split_seed}
        self.train_generator_ = make_torch_generator(train_seed)

    def _seed(self, name):
        if getattr(self, "seeds_", None) is None:
            self._draw_seeds()
        return self.seeds_[name]

    def initialize(self):
        """Draw the seeds from ``random_state``, then initialise the net as skorch does.

        ``fit`` calls it (unless ``warm_start`` and already initialised); it sets
        ``seeds_`` and a fresh ``train_generator_``, so that every fit with the same int
        ``random_state`` starts from the same weights and batch order.

        Returns
        -------
        self : object
            The initialised net.
        """
        check_device(self.device, type(self).__name__)
        self._draw_seeds()
        return super().initialize()

    def _module_kwargs(self):
        """Keyword arguments the module class is built with (a hook for subclasses)."""
        return self.get_params_for("module")

    def initialize_module(self):
        """Build the module without the global RNG and initialise it from the seed.

        The module is instantiated (from its class and the ``module__`` parameters) inside
        :func:`local_torch_rng`, then every linear and convolution layer is drawn by
        :func:`reset_linear_parameters` from ``seeds_["init"]``. A module given as an
        instance, with no ``module__`` parameters, is used as it is, weights included.

        Returns
        -------
        self : object
            The net, with ``module_`` set.
        """
        kwargs = self._module_kwargs()
        built_here = not isinstance(self.module, nn.Module) or bool(kwargs)
        with local_torch_rng(make_torch_generator(self._seed("init") ^ 0x5EED)):
            module = self.initialized_instance(self.module, kwargs)
        if built_here:
            reset_linear_parameters(module, make_torch_generator(self._seed("init")))
        self.module_ = module
        return self

    def fit_loop(self, X, y=None, epochs=None, **fit_params):
        """skorch's training loop, with every random draw from ``train_generator_``.

        Dropout (or any random layer) of the module draws from the same local generator as
        the batch order, inside :func:`local_torch_rng`: training neither reads nor moves
        torch's global RNG, also when several nets train in threads at once.

        Parameters
        ----------
        X : input data
            As skorch's ``fit_loop``.
        y : target data, default=None
            As skorch's ``fit_loop``.
        epochs : int, default=None
            As skorch's ``fit_loop`` (None: ``max_epochs``).
        **fit_params : dict
            As skorch's ``fit_loop``.

        Returns
        -------
        self : object
            The trained net.
        """
        if getattr(self, "train_generator_", None) is None:
            self.train_generator_ = make_torch_generator(self._seed("train"))
        with local_torch_rng(self.train_generator_):
            return super().fit_loop(X, y, epochs=epochs, **fit_params)

    def get_iterator(self, dataset, training=False):
        """Get an iterator over the mini-batches of ``dataset``, without the global RNG.

        As skorch's ``get_iterator``: the ``iterator_train__``/``iterator_valid__``
        parameters are passed to the iterator, ``batch_size`` is used when they set none, and
        a batch size of -1 means the whole dataset. The override: an iterator that is a
        ``DataLoader`` class receives a local ``torch.Generator`` unless its parameters set a
        ``generator``. For training it is ``train_generator_``, seeded from ``random_state``,
        which orders the shuffled batches; otherwise it is a fresh default-seeded generator,
        so that not even the loader's base seed is drawn from torch's global RNG.

        Parameters
        ----------
        dataset : torch.utils.data.Dataset
            Usually the output of ``get_dataset``, initialized with the data to iterate
            over.
        training : bool, default=False
            Whether to use ``iterator_train`` (and its parameters) or ``iterator_valid``.

        Returns
        -------
        iterator : iterable
            An instantiated iterator (a ``DataLoader`` by default) over the mini-batches.

        Examples
        --------
        >>> import numpy as np
        >>> import torch
        >>> from sklearn_robust.nets import MLPModule, SeededNeuralNet
        >>> X = np.zeros((32, 3), dtype=np.float32)
        >>> net = SeededNeuralNet(MLPModule, module__n_features=3, module__n_outputs=1,
        ...                       criterion=torch.nn.MSELoss, batch_size=8,
        ...                       iterator_train__shuffle=True, random_state=0).initialize()
        >>> loader = net.get_iterator(net.get_dataset(X, X[:, :1]), training=True)
        >>> len(loader), loader.generator is net.train_generator_
        (4, True)
        """
        prefix = "iterator_train" if training else "iterator_valid"
        iterator = self.iterator_train if training else self.iterator_valid
        kwargs = self.get_params_for(prefix)
        if "batch_size" not in kwargs:
            kwargs["batch_size"] = self.batch_size
        if kwargs["batch_size"] == -1:
            kwargs["batch_size"] = len(dataset)
        if (
            isinstance(iterator, type)
            and issubclass(iterator, DataLoader)
            and kwargs.get("generator") is None
        ):
            if training:
                if getattr(self, "train_generator_", None) is None:
                    self.train_generator_ = make_torch_generator(self._seed("train"))
                kwargs["generator"] = self.train_generator_
            else:
                # Unshuffled: the generator only gives the iterator's base seed, which no
                # single-process loader uses; it keeps the global RNG from being read.
                kwargs["generator"] = torch.Generator()
        return iterator(dataset, **kwargs)

    def get_split_datasets(self, X, y=None, **fit_params):
        """Get the internal training and validation datasets, with a seeded split.

        As skorch's ``get_split_datasets``: the data are wrapped by ``get_dataset`` and split
        by ``train_split`` (with no split and no validation set when it is None). The
        override: when ``train_split`` is a ``ValidSplit`` with a float ``cv`` and no
        ``random_state`` of its own, a copy of it seeded from ``seeds_["split"]`` does the
        split, so that the same ``random_state`` holds out the same rows. ``train_split``
        itself is not modified.

        Parameters
        ----------
        X : input data compatible with ``skorch.dataset.Dataset``
            numpy arrays, torch tensors, pandas DataFrame or Series, scipy sparse CSR
            matrices, a dict or a list/tuple of those, or a Dataset.
        y : target data compatible with ``skorch.dataset.Dataset``, default=None
            The same types as ``X``; may be None when ``X`` is a Dataset that holds the
            target. When None, it is not passed to ``train_split``.
        **fit_params : dict
            Additional parameters passed to the ``train_split`` call.

        Returns
        -------
        dataset_train : torch.utils.data.Dataset
            The training dataset.
        dataset_valid : torch.utils.data.Dataset or None
            The validation dataset, or None when ``train_split`` is None.

        Examples
        --------
        >>> import numpy as np
        >>> import torch
        >>> from skorch.dataset import ValidSplit
        >>> from sklearn_robust.nets import MLPModule, SeededNeuralNet
        >>> X = np.random.RandomState(0).normal(size=(32, 3)).astype(np.float32)
        >>> y = X.sum(axis=1, keepdims=True)
        >>> def held_out(seed):
        ...     net = SeededNeuralNet(MLPModule, module__n_features=3, module__n_outputs=1,
        ...                           criterion=torch.nn.MSELoss, train_split=ValidSplit(0.25),
        ...                           random_state=seed).initialize()
        ...     train, valid = net.get_split_datasets(X, y)
        ...     return sorted(valid.indices.tolist())
        >>> len(held_out(0)), held_out(0) == held_out(0)
        (8, True)
        """
        dataset = self.get_dataset(X, y)
        split = self.train_split
        if not split:
            return dataset, None
        if isinstance(split, ValidSplit) and split.random_state is None and _is_float(split.cv):
            split = copy.copy(split)
            split.random_state = self._seed("split")
        if y is None:
            return split(dataset, **fit_params)
        return split(dataset, y, **fit_params)


class SeededNeuralNet(SeededNetMixin, NeuralNet):
    """skorch ``NeuralNet`` with a ``random_state`` parameter (see :class:`SeededNetMixin`).

    Parameters
    ----------
    *args
        Positional arguments of ``skorch.NeuralNet`` (``module`` first).
    random_state : int, RandomState instance or None, default=None
        Seed of the initialisation, the batch order and the validation split.
    **kwargs
        Keyword arguments of ``skorch.NeuralNet``.

    Examples
    --------
    >>> import numpy as np
    >>> import torch
    >>> from sklearn_robust.nets import MLPModule, SeededNeuralNet
    >>> X = np.random.RandomState(0).normal(size=(64, 3)).astype(np.float32)
    >>> y = X.sum(axis=1, keepdims=True)
    >>> kw = dict(module=MLPModule, module__n_features=3, module__n_outputs=1,
    ...           criterion=torch.nn.MSELoss, max_epochs=2, train_split=None, verbose=0)
    >>> a = SeededNeuralNet(**kw, random_state=0).fit(X, y).predict(X)
    >>> b = SeededNeuralNet(**kw, random_state=0).fit(X, y).predict(X)
    >>> bool(np.array_equal(a, b))
    True
    """


class SeededNeuralNetClassifier(SeededNetMixin, NeuralNetClassifier):
    """skorch ``NeuralNetClassifier`` with a ``random_state`` parameter.

    See :class:`SeededNetMixin` for what is seeded.

    Parameters
    ----------
    *args
        Positional arguments of ``skorch.NeuralNetClassifier`` (``module`` first).
    random_state : int, RandomState instance or None, default=None
        Seed of the initialisation, the batch order and the validation split.
    **kwargs
        Keyword arguments of ``skorch.NeuralNetClassifier``.

    Examples
    --------
    >>> import numpy as np
    >>> import torch
    >>> from sklearn_robust.nets import MLPModule, SeededNeuralNetClassifier
    >>> X = np.random.RandomState(0).normal(size=(64, 3)).astype(np.float32)
    >>> y = (X[:, 0] > 0).astype(np.int64)
    >>> net = SeededNeuralNetClassifier(
    ...     MLPModule, module__n_features=3, module__n_outputs=2,
    ...     criterion=torch.nn.CrossEntropyLoss, max_epochs=2, train_split=None,
    ...     verbose=0, random_state=0).fit(X, y)
    >>> net.predict_proba(X).shape
    (64, 2)
    """
