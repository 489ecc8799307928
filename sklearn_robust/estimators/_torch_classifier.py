"""Shared pieces of the library's torch classifiers (FederatedClassifier, RobustGradientClassifier).

``module__*`` keyword parameters (skorch's convention), building the initial module from a
class, an instance or a skorch net, flat parameter vectors, seeded clones of nested
estimators, and prediction with the trained ``module_``.
"""

import copy
import inspect

import numpy as np
import torch
from scipy.special import softmax
from sklearn.base import clone
from sklearn.utils.validation import check_is_fitted, validate_data
from skorch import NeuralNet
from torch import nn

from sklearn_robust.nets._utils import batched_forward, torch_input

_MAX_SEED = np.iinfo(np.int32).max
_MODULE_PREFIX = "module__"


def _is_module_param(name):
    return name.startswith(_MODULE_PREFIX) and name != _MODULE_PREFIX


def _load_vector(module, vector):
    """Copy a flat vector into the module's parameters (copies: no views of ``vector``)."""
    with torch.no_grad():
        start = 0
        for param in module.parameters():
            param.copy_(vector[start : start + param.numel()].view_as(param))
            start += param.numel()


def _seeded_clone(estimator, rng):
    """Clone ``estimator``; give it a fresh int seed when its ``random_state`` is None."""
    estimator = clone(estimator)
    if "random_state" in estimator.get_params(deep=False) and estimator.random_state is None:
        estimator.set_params(random_state=int(rng.randint(_MAX_SEED)))
    return estimator


def _instantiate(module, kwargs, n_features, n_classes, owner):
    """An initial global ``nn.Module`` from a class, an instance or a skorch net."""
    if isinstance(module, NeuralNet):
        if getattr(module, "initialized_", False):
            return copy.deepcopy(module.module_), False
        kwargs = {**module.get_params_for("module"), **kwargs}
        module = module.module
    if isinstance(module, nn.Module):
        if kwargs:
            raise ValueError(
                f"{owner} got module__ parameters {sorted(kwargs)} for a module instance; "
                "pass the module class instead so that they can be applied."
            )
        return copy.deepcopy(module), False
    if isinstance(module, type) and issubclass(module, nn.Module):
        accepted = inspect.signature(module).parameters
        if "n_features" in accepted:
            kwargs.setdefault("n_features", n_features)
        if "n_outputs" in accepted:
            kwargs.setdefault("n_outputs", n_classes)
        return module(**kwargs), True
    raise TypeError(
        f"{owner}.module must be a torch.nn.Module class, a module instance or a skorch net; "
        f"got {module!r}."
    )


class _ModuleClassifierMixin:
    """``module__*`` parameters and prediction for a classifier holding a torch ``module_``.

    The host sets ``classes_``, ``module_`` and ``n_features_in_`` in ``fit``; its
    ``__init__`` takes ``**kwargs`` and calls ``self._set_module_kwargs(kwargs)``, and its
    ``fit`` calls ``self._check_unknown_kwargs()`` first.
    """

    def _set_module_kwargs(self, kwargs):
        # Unknown keywords are kept aside and refused by fit (scikit-learn: no errors in
        # __init__); module__* ones are parameters, like skorch's.
        self._unknown_kwargs = sorted(k for k in kwargs if not _is_module_param(k))
        for name, value in kwargs.items():
            if _is_module_param(name):
                setattr(self, name, value)

    def _check_unknown_kwargs(self):
        if getattr(self, "_unknown_kwargs", None):
            raise TypeError(
                f"{type(self).__name__} got unexpected parameters {self._unknown_kwargs}; "
                f"extra parameters must be module parameters named '{_MODULE_PREFIX}<name>'."
            )

    def _module_kwargs(self):
        return {
            name[len(_MODULE_PREFIX) :]: value
            for name, value in vars(self).items()
            if name.startswith(_MODULE_PREFIX)
        }

    def get_params(self, deep=True):
        """Get the parameters, ``module__*`` ones included.

        Parameters
        ----------
        deep : bool, default=True
            Also return the parameters of nested estimators (aggregator, adversary).

        Returns
        -------
        params : dict
            Parameter names mapped to their values.
        """
        params = super().get_params(deep=deep)
        params.update(
            {_MODULE_PREFIX + name: value for name, value in self._module_kwargs().items()}
        )
        return params

    def set_params(self, **params):
        """Set the parameters, ``module__*`` ones included.

        Parameters
        ----------
        **params : dict
            Estimator parameters.

        Returns
        -------
        self : estimator
            The estimator.
        """
        for name in [name for name in params if _is_module_param(name)]:
            setattr(self, name, params.pop(name))
        if params:
            super().set_params(**params)
        return self

    def _logits(self, X):
        """Logits of ``module_`` for validated rows ``X`` (numpy, float32 batches)."""
        module = self.module_
        return batched_forward(module, np.asarray(X, dtype=np.float32), module, 4096)

    def predict_proba(self, X):
        """Class probabilities of the trained model.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input rows.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Softmax of the logits (float64), columns ordered like ``classes_``.
        """
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=[np.float32, np.float64])
        return softmax(self._logits(X).astype(np.float64), axis=1)

    def predict(self, X):
        """Predicted class labels of the trained model.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input rows.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            The class of largest probability.
        """
        proba = self.predict_proba(X)  # checks that the classifier is fitted
        return self.classes_[np.argmax(proba, axis=1)]

    def _torch_forward(self, X):
        """Logits of the trained model for a floating tensor ``X``, differentiably.

        Parameters
        ----------
        X : torch.Tensor of shape (n_samples, n_features)
            Inputs (any floating dtype and device; cast inside).

        Returns
        -------
        logits : torch.Tensor of shape (n_samples, n_classes)
            Logits on the model's device, columns ordered like ``classes_``.
        """
        check_is_fitted(self)
        module = self.module_.eval()
        return module(torch_input(X, module, self.n_features_in_, type(self).__name__))


def _check_finite_aggregate(location, owner, step, aggregator):
    """Refuse a non-finite aggregate: training must stop, naming where and which rule."""
    location = np.asarray(location)
    bad = ~np.isfinite(location)
    if bad.any():
        raise ValueError(
            f"{owner}: at {step} the aggregator {aggregator!r} returned a non-finite update "
            f"(NaN or inf in {int(bad.sum())} of {location.size} coordinates); training "
            "stopped instead of continuing with a broken model. A byzantine row with huge "
            "or non-finite values reached the aggregate: use a robust aggregator (e.g. "
            "RandEigenMean) or check the updates."
        )
