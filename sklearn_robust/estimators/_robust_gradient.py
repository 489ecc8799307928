"""RobustGradientClassifier: centralized SGD whose batch gradient is a robust mean."""

import numbers
import time

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import HasMethods, Interval
from sklearn.utils.validation import validate_data
from threadpoolctl import threadpool_limits
from torch import nn
from torch.nn.utils import parameters_to_vector
from tqdm.auto import tqdm

from sklearn_robust._device import check_device
from sklearn_robust.estimators._fusion_classifier import _encode_labels
from sklearn_robust.estimators._rand_eigen import RandEigenMean
from sklearn_robust.estimators._torch_classifier import (
    _check_finite_aggregate,
    _instantiate,
    _load_vector,
    _ModuleClassifierMixin,
    _seeded_clone,
)
from sklearn_robust.nets import MLPModule
from sklearn_robust.nets._seeding import (
    local_torch_rng,
    make_torch_generator,
    reset_linear_parameters,
)
from sklearn_robust.nets._utils import module_device_dtype, single_torch_thread


def _epoch_batches(n_samples, batch_size, generator):
    """One epoch's batches: a random permutation cut into ``max(1, n // batch_size)`` parts.

    The parts differ in size by at most one (the first ones are the larger), so every batch
    holds at least ``batch_size`` rows when ``n_samples >= batch_size`` (all rows otherwise)
    and every row is used once per epoch.
    """
    order = torch.randperm(n_samples, generator=generator)
    return torch.tensor_split(order, max(1, n_samples // batch_size))


def _per_sample_gradient_fn(module):
    """``f(params, buffers, X, y) -> (grads, losses)``: cross-entropy gradients, row by row.

    ``grads`` maps each parameter name to a tensor of shape ``(n_rows, *param.shape)``;
    ``losses`` has shape ``(n_rows,)``. Dropout draws differently for each row.
    """
    from torch.func import functional_call, grad_and_value, vmap

    def sample_loss(params, buffers, x, y):
        logits = functional_call(module, (params, buffers), (x.unsqueeze(0),))
        return nn.functional.cross_entropy(logits, y.unsqueeze(0))

    return vmap(grad_and_value(sample_loss), in_dims=(None, None, 0, 0), randomness="different")


def _check_per_sample_module(module, owner):
    """Refuse modules whose forward pass mixes the rows of a batch (batch normalisation)."""
    for name, layer in module.named_modules():
        if isinstance(layer, nn.modules.batchnorm._BatchNorm):
            raise ValueError(
                f"{owner} computes the gradient of every training row on its own, so the "
                f"module cannot use batch statistics; layer {name!r} is a "
                f"{type(layer).__name__}. Use a per-row normalisation (nn.LayerNorm, "
                "nn.GroupNorm) or none."
            )


class RobustGradientClassifier(_ModuleClassifierMixin, ClassifierMixin, BaseEstimator):
    """Centralized training of a torch classifier with a robust mean of per-sample gradients.

    A defense against data poisoning (backdoor triggers, flipped labels): ``fit`` runs
    mini-batch SGD on the cross-entropy, but at every step the gradient of each row of the
    batch is computed on its own (``torch.func.vmap`` of ``torch.func.grad``), the gradients
    are flattened into a ``(batch_rows, n_parameters)`` matrix and their mean is replaced by
    ``aggregator.fit(G).location_``. With a filtering aggregator such as
    :class:`RandEigenMean`, the rows whose gradients point in an outlying direction (poisoned
    samples, which pull the model towards the attacker's label) leave the step; with
    :class:`SampleMean` the step is the ordinary mini-batch gradient.

    Parameters
    ----------
    module : torch.nn.Module class, instance or skorch net, default=MLPModule
        The model. A class is instantiated with the ``module__*`` parameters, plus
        ``n_features`` and ``n_outputs`` (number of classes) when its constructor takes them
        and they are not given, and initialised from ``random_state``. An instance (or an
        initialised skorch net's ``module_``) is copied and its weights are the initial
        ones; an uninitialised skorch net gives its ``module`` and ``module__`` parameters.
        The module maps a float batch ``(n, n_features)`` to logits and must treat rows
        independently (no batch normalisation).
    aggregator : robust mean or None, default=None
        Replaces the mean of the per-sample gradients of each batch, e.g.
        :class:`RandEigenMean`, :class:`TrimmedMean`, :class:`SampleMean` (plain SGD). It is
        cloned at every step; when its ``random_state`` is None it gets a seed drawn from
        ``random_state``. None means ``RandEigenMean()``.
    lr : float, default=0.1
        Learning rate.
    momentum : float, default=0.0
        Momentum of the SGD (PyTorch's convention: ``v = momentum * v + g``,
        ``w -= lr * v``).
    batch_size : int, default=64
        Rows per step, at least. Robust means need enough rows to tell a minority apart: a
        batch of 64 holds about 6 poisoned rows at 10 % poisoning. Every epoch the shuffled
        rows are cut into ``max(1, n_samples // batch_size)`` batches whose sizes differ by at
        most one, so no batch is left with a handful of rows.
    max_epochs : int, default=20
        Passes over the training rows.
    device : str or torch.device, default="cpu"
        Torch device of the training. Inputs and outputs stay numpy on the CPU; the gradient
        matrix goes to the aggregator as a float32 numpy array.
    random_state : int, RandomState instance or None, default=None
        Seed of the initial weights, the batch order, dropout and the seeds given to the
        aggregator. Global RNGs are left as they were.
    verbose : int, default=0
        A progress bar over epochs when positive.
    **kwargs
        ``module__<name>`` parameters passed to the module class, e.g.
        ``module__hidden_layer_sizes=(64,)``; they are ordinary parameters for
        ``get_params``, ``set_params`` and ``GridSearchCV``.

    Attributes
    ----------
    module_ : torch.nn.Module
        The trained model.
    classes_ : ndarray of shape (n_classes,)
        Class labels seen during :meth:`fit`.
    aggregator_ : robust mean
        The aggregator fitted at the last step.
    history_ : list of dict
        One entry per epoch: ``"epoch"``; ``"train_loss"``, the mean cross-entropy of all
        training rows at the step they were used in; ``"dropped_fraction"``, the fraction of
        the epoch's rows outside the aggregator's ``support_`` (None when it has no
        ``support_``); ``"aggregation_time"``, seconds spent in the aggregator.
    n_dropped_ : ndarray of int, shape (n_samples,) or None
        How many epochs each training row was outside the aggregator's ``support_`` (from 0
        to ``max_epochs``); None when the aggregator has no ``support_``. Poisoned rows are
        expected to be dropped more often than clean ones. Coordinate-wise means
        (:class:`TrimmedMean`, :class:`CoordinateMedian`) keep every row in their support.
    n_features_in_ : int
        Number of features seen during :meth:`fit`.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during :meth:`fit`, defined only when ``X`` has feature names
        that are all strings.

    See Also
    --------
    FederatedClassifier : The same aggregators over client updates in federated training.
    RandEigenMean : The default aggregator.
    sklearn_robust.adversaries.Backdoor : Trigger poisoning of training rows.
    sklearn_robust.metrics.attack_success_rate : Backdoor success of a fitted model.

    Notes
    -----
    With ``aggregator=SampleMean()`` this is plain mini-batch SGD on the mean cross-entropy
    of each batch. The per-sample gradient matrix has ``batch_rows x n_parameters`` entries,
    which bounds the size of the model in practice. ``fit`` trains on one torch thread and one
    BLAS thread (the per-step tensors and the aggregator's eigenproblems are small, and
    threads collapse when the cores are shared) and restores the caller's thread counts
    afterwards.

    Buffers of the module are read as they are and never updated.

    Choosing ``eps`` of :class:`RandEigenMean`: the per-sample gradients of clean rows are far
    from isotropic (rows of a class the model still gets wrong share a direction), so its
    convergence test rarely fires before the removal budget is spent, and it leaves out about
    ``2 * eps`` of every batch: the poisoned rows, and the clean rows with the largest
    gradients. Measured on digits (``benchmarks/results/centralized_backdoor.md``, 3 seeds):
    with 10 % of the rows poisoned, ``eps=0.15`` brings the backdoor's success from 93 % to
    5 % for 2 points of clean accuracy; ``eps=0.2`` (the default) also stops it but costs 13
    points; ``eps=0.1`` lets it partly through (27 %). With 5 % poisoned, ``eps=0.1``: 81 %
    to 1 %, 1 point of accuracy. Without poisoning, ``eps=0.1`` costs 4 points. Set ``eps``
    near the expected poisoned fraction (1 to 2 times it). At 20 % poisoning neither
    ``eps=0.2`` (80 %) nor ``eps=0.3`` (48 %) stopped the backdoor. At 10 %, the
    coordinate-wise :class:`TrimmedMean` and :class:`CoordinateMedian` reach 70 % and 41 %
    clean accuracy (backdoor 20 % and 11 %).

    References
    ----------
    .. [1] Lee, D. et al., "A Practical and Secure Byzantine Robust Aggregator", ACM CCS 2025
       (filtering of per-sample gradients against centralized data poisoning).

    Examples
    --------
    A backdoor planted in 10 % of the training rows (a trigger and the label 0):

    >>> from sklearn.datasets import load_digits
    >>> from sklearn_robust.adversaries import Backdoor
    >>> from sklearn_robust.estimators import (
    ...     RandEigenMean, RobustGradientClassifier, SampleMean)
    >>> from sklearn_robust.metrics import attack_success_rate
    >>> X, y = load_digits(return_X_y=True)
    >>> X = X / 16
    >>> X_train, y_train, X_test, y_test = X[:1000].copy(), y[:1000].copy(), X[1000:], y[1000:]
    >>> backdoor = Backdoor(target_class=0, poison_fraction=1.0)
    >>> X_train[:100], y_train[:100] = backdoor.poison_data(X_train[:100], y_train[:100])
    >>> plain = RobustGradientClassifier(aggregator=SampleMean(), max_epochs=20, random_state=0)
    >>> robust = RobustGradientClassifier(
    ...     aggregator=RandEigenMean(eps=0.15), max_epochs=20, random_state=0)
    >>> plain = plain.fit(X_train, y_train)
    >>> robust = robust.fit(X_train, y_train)
    >>> bool(attack_success_rate(plain, X_test, y_test, backdoor) > 0.5)  # 0.85
    True
    >>> bool(attack_success_rate(robust, X_test, y_test, backdoor) < 0.2)  # 0.03
    True
    >>> bool(robust.score(X_test, y_test) > 0.75)  # 0.84 (plain: 0.89)
    True
    >>> dropped = robust.n_dropped_  # epochs each row was left out: poisoned rows first
    >>> bool(dropped[:100].mean() > 2 * dropped[100:].mean())  # 15.5 of 20 against 4.6
    True
    """

    _parameter_constraints = {
        "module": "no_validation",
        "aggregator": [HasMethods(["fit"]), None],
        "lr": [Interval(numbers.Real, 0, None, closed="neither")],
        "momentum": [Interval(numbers.Real, 0, 1, closed="left")],
        "batch_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "max_epochs": [Interval(numbers.Integral, 1, None, closed="left")],
        "device": "no_validation",
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        module=MLPModule,
        *,
        aggregator=None,
        lr=0.1,
        momentum=0.0,
        batch_size=64,
        max_epochs=20,
        device="cpu",
        random_state=None,
        verbose=0,
        **kwargs,
    ):
        self.module = module
        self.aggregator = aggregator
        self.lr = lr
        self.momentum = momentum
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.device = device
        self.random_state = random_state
        self.verbose = verbose
        self._set_module_kwargs(kwargs)

    # -- training ----------------------------------------------------------------------------

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y):
        """Train the module by SGD on robust means of per-sample gradients.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training rows (possibly poisoned). Never modified.
        y : array-like of shape (n_samples,)
            Class labels.

        Returns
        -------
        self : RobustGradientClassifier
            The fitted classifier.
        """
        self._check_unknown_kwargs()
        X, y = validate_data(self, X, y, dtype=[np.float32, np.float64])
        self.classes_, y_encoded = _encode_labels(self, y)
        rng = check_random_state(self.random_state)
        generator = make_torch_generator(rng)
        owner = type(self).__name__
        # A module class draws its default initialisation while it is built: from a local
        # generator (those weights are then replaced), never from torch's global RNG.
        with local_torch_rng(make_torch_generator(rng)):
            module, fresh = _instantiate(
                self.module, self._module_kwargs(), X.shape[1], self.classes_.size, owner
            )
        _check_per_sample_module(module, owner)
        if fresh:
            reset_linear_parameters(module, generator)
        module = module.to(check_device(self.device, owner))
        device, dtype = module_device_dtype(module)
        # Copies: the tensors never share memory with the caller's (possibly read-only) X.
        X_t = torch.from_numpy(np.array(X, dtype=np.float32)).to(device=device, dtype=dtype)
        y_t = torch.from_numpy(y_encoded).to(device)

        # The per-step tensors and the aggregator's eigenproblems are small: on the CPU,
        # intra-op and BLAS threads only add synchronisation (and collapse when the cores are
        # shared: RandEigenMean ran 7x slower on 2 busy cores), so train on one.
        with (
            single_torch_thread(),
            threadpool_limits(limits=1, user_api="blas"),
            # Dropout and any random layer draw from a local generator (thread-local mode):
            # runs are reproducible and torch's global RNG is never touched.
            local_torch_rng(make_torch_generator(rng)),
        ):
            self._train(module, X_t, y_t, rng, generator)
        self.module_ = module.eval()
        return self

    def _train(self, module, X, y, rng, generator):
        prototype = RandEigenMean() if self.aggregator is None else self.aggregator
        n_samples = X.shape[0]
        step_fn = _per_sample_gradient_fn(module)
        names = [name for name, _ in module.named_parameters()]
        shapes = [param.shape for param in module.parameters()]
        numels = [param.numel() for param in module.parameters()]
        buffers = {name: buffer.detach() for name, buffer in module.named_buffers()}
        with torch.no_grad():
            vector = parameters_to_vector(module.parameters()).detach().clone()
        velocity = torch.zeros_like(vector)
        n_dropped = np.zeros(n_samples, dtype=np.int64)
        reports_support = True
        self.history_ = []
        module.train()
        epochs = tqdm(range(self.max_epochs), desc="epochs", disable=not self.verbose, leave=False)
        for epoch in epochs:
            loss_sum, n_out, aggregation_time = 0.0, 0, 0.0
            for batch in _epoch_batches(n_samples, self.batch_size, generator):
                batch = batch.to(X.device)
                params = {
                    name: piece.view(shape)
                    for name, piece, shape in zip(names, torch.split(vector, numels), shapes)
                }
                grads, losses = step_fn(params, buffers, X[batch], y[batch])
                G = torch.cat([grads[name].reshape(batch.numel(), -1) for name in names], 1)
                G = G.detach().cpu().numpy()
                start = time.perf_counter()
                aggregator = _seeded_clone(prototype, rng).fit(G)
                aggregation_time += time.perf_counter() - start
                _check_finite_aggregate(
                    aggregator.location_, type(self).__name__,
                    f"epoch {epoch}, batch starting at sample {int(batch[0])}", aggregator,
                )
                support = getattr(aggregator, "support_", None)
                if support is None:
                    reports_support = False
                else:
                    dropped = batch.cpu().numpy()[~np.asarray(support, dtype=bool)]
                    n_dropped[dropped] += 1
                    n_out += dropped.size
                with torch.no_grad():
                    direction = torch.as_tensor(
                        np.asarray(aggregator.location_), dtype=vector.dtype
                    ).to(vector.device)
                    if self.momentum:
                        velocity.mul_(self.momentum).add_(direction)
                        direction = velocity
                    vector.sub_(self.lr * direction)
                    loss_sum += float(losses.sum())
            self.history_.append(
                {
                    "epoch": epoch,
                    "train_loss": loss_sum / n_samples,
                    "dropped_fraction": n_out / n_samples if reports_support else None,
                    "aggregation_time": aggregation_time,
                }
            )
        self.aggregator_ = aggregator
        self.n_dropped_ = n_dropped if reports_support else None
        _load_vector(module, vector)
