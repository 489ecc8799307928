"""MLPFusionClassifier: the fusion center's classifier, a seeded skorch MLP."""

import numbers

import numpy as np
from scipy.special import softmax
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context
from sklearn.preprocessing import LabelEncoder
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from sklearn_robust._device import check_device
from sklearn_robust.nets import MLPModule
from sklearn_robust.nets._modules import _check_sizes
from sklearn_robust.nets._utils import (
    batched_forward,
    check_finite_net,
    fit_classifier_net,
    torch_input,
)

_FLOAT32_MAX = float(np.finfo(np.float32).max)

# Training parameters shared with BlockEmbedder (sklearn vocabulary).
_TRAINING_CONSTRAINTS = {
    "lr": [Interval(numbers.Real, 0, None, closed="neither")],
    "max_epochs": [Interval(numbers.Integral, 1, None, closed="left")],
    "batch_size": [Interval(numbers.Integral, 1, None, closed="left")],
    "weight_decay": [Interval(numbers.Real, 0, None, closed="left")],
    "early_stopping": ["boolean"],
    "validation_fraction": [Interval(numbers.Real, 0, 1, closed="neither")],
    "patience": [Interval(numbers.Integral, 1, None, closed="left")],
    "device": "no_validation",
    "random_state": ["random_state"],
    "verbose": ["verbose"],
}


def _encode_labels(estimator, y):
    """Fit ``classes_`` and return ``y`` as int64 class indices; refuse a single class."""
    check_classification_targets(y)
    encoder = LabelEncoder().fit(y)
    classes = encoder.classes_
    if classes.size < 2:
        raise ValueError(
            f"{type(estimator).__name__} needs at least 2 classes in y to train; got 1 class "
            f"({classes.tolist()!r})."
        )
    return classes, encoder.transform(y).astype(np.int64)


def _training_kwargs(estimator, random_state):
    """The skorch training settings of an estimator using ``_TRAINING_CONSTRAINTS``."""
    check_device(estimator.device, type(estimator).__name__)
    return {
        "lr": estimator.lr,
        "max_epochs": estimator.max_epochs,
        "batch_size": estimator.batch_size,
        "weight_decay": estimator.weight_decay,
        "early_stopping": estimator.early_stopping,
        "validation_fraction": estimator.validation_fraction,
        "patience": estimator.patience,
        "device": estimator.device,
        # One seed drawn here: the stored net can be refitted to the same weights.
        "random_state": int(check_random_state(random_state).randint(np.iinfo(np.int32).max)),
        "verbose": estimator.verbose,
    }


class MLPFusionClassifier(ClassifierMixin, BaseEstimator):
    """Multilayer-perceptron classifier of the fusion center, trained through skorch.

    The classifier a CoPur fusion center runs on the (purified) concatenation of the agents'
    embeddings: an MLP with ReLU hidden layers and a softmax output, trained with Adam on the
    cross-entropy, with optional early stopping on a held-out fraction. The paper's NUS-WIDE
    fusion model is ``hidden_layer_sizes=(60,)``. Training is reproducible for a fixed
    ``random_state`` and never touches global RNGs.

    The classifier is differentiable: ``_torch_forward(X)`` returns the logits as a torch
    tensor with gradients flowing back to ``X``, which white-box attacks
    (:class:`~sklearn_robust.adversaries.PGDAttack`) use.

    Parameters
    ----------
    hidden_layer_sizes : int or tuple of int, default=(60,)
        Widths of the hidden layers; ``()`` gives multinomial logistic regression.
    lr : float, default=1e-3
        Learning rate of Adam.
    max_epochs : int, default=100
        Most training epochs.
    batch_size : int, default=128
        Mini-batch size (also the chunk size at prediction).
    weight_decay : float, default=0.0
        L2 penalty (Adam's ``weight_decay``).
    early_stopping : bool, default=True
        Hold out ``validation_fraction`` of the training rows (stratified when every class
        allows it) and stop when the validation loss has not improved for ``patience``
        epochs; the weights of the best epoch are kept. Ignored when the data are too few to
        hold out a row.
    validation_fraction : float, default=0.1
        Fraction of the rows held out for early stopping, in (0, 1).
    patience : int, default=10
        Epochs without improvement of the validation loss before training stops.
    device : str or torch.device, default="cpu"
        Torch device of the network (``"cuda"``, ...). Inputs and outputs stay numpy on the
        CPU.
    random_state : int, RandomState instance or None, default=None
        Seed of the initialisation, the batch order and the validation split.
    verbose : int, default=0
        skorch's epoch log when positive.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels (any type ``LabelEncoder`` accepts).
    net_ : SeededNeuralNetClassifier
        The fitted skorch net; its ``module_`` is an :class:`~sklearn_robust.nets.MLPModule`
        producing logits over the encoded classes.
    n_features_in_ : int
        Number of features seen during :meth:`fit`.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during :meth:`fit`, defined only when ``X`` has feature names
        that are all strings.

    See Also
    --------
    sklearn_robust.estimators.CoPurTransformer : Purifies the features this classifier is
        trained and used on.
    sklearn_robust.estimators.BlockEmbedder : The agents' local feature extractors.

    Notes
    -----
    NaN and inf are refused: the fusion classifier sees purified features, never the raw
    (possibly missing or corrupted) blocks. Put a
    :class:`~sklearn_robust.estimators.CoPurTransformer` before it to handle missing and
    attacked agents.

    Examples
    --------
    >>> from sklearn.datasets import make_blobs
    >>> from sklearn_robust.estimators import MLPFusionClassifier
    >>> X, y = make_blobs(n_samples=200, centers=3, random_state=0)
    >>> clf = MLPFusionClassifier(lr=1e-2, max_epochs=30, random_state=0).fit(X, y)
    >>> clf.predict_proba(X[:2]).shape
    (2, 3)
    >>> bool(clf.score(X, y) > 0.9)
    True
    """

    _parameter_constraints = {
        "hidden_layer_sizes": ["array-like", Interval(numbers.Integral, 1, None, closed="left")],
        **_TRAINING_CONSTRAINTS,
    }

    def __init__(
        self,
        hidden_layer_sizes=(60,),
        *,
        lr=1e-3,
        max_epochs=100,
        batch_size=128,
        weight_decay=0.0,
        early_stopping=True,
        validation_fraction=0.1,
        patience=10,
        device="cpu",
        random_state=None,
        verbose=0,
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.lr = lr
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.weight_decay = weight_decay
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    def _check_finite(self, X):
        with np.errstate(invalid="ignore"):
            # beyond float32's range: the float32 network would read inf
            bad_rows = ~(np.abs(X) <= _FLOAT32_MAX).all(axis=1)
        if bad_rows.any():
            bad = np.flatnonzero(bad_rows)
            raise ValueError(
                f"{type(self).__name__} got NaN, inf or values beyond float32's range (the "
                f"network's, |x| > {_FLOAT32_MAX:.3g}) in X (rows {bad[:10].tolist()}"
                f"{' ...' if bad.size > 10 else ''}). The fusion classifier is trained and used "
                "on purified features: put a CoPurTransformer before it to handle missing "
                "(NaN) or corrupted (inf) agents."
            )

    def _check_logits(self, logits):
        finite = np.isfinite(logits).all(axis=1)
        if not finite.all():
            bad = np.flatnonzero(~finite)
            raise ValueError(
                f"{type(self).__name__}'s float32 network overflows (inf or NaN logits) on "
                f"rows {bad[:10].tolist()}{' ...' if bad.size > 10 else ''} of X: their "
                "values are too large for it. Rescale the features, or put a "
                "CoPurTransformer before the classifier to purify corrupted agents."
            )
        return logits

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Train the MLP on ``X`` and labels ``y``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training features (finite; usually purified embeddings).
        y : array-like of shape (n_samples,)
            Class labels, at least two distinct ones.

        Returns
        -------
        self : MLPFusionClassifier
            The fitted classifier.

        Raises
        ------
        ValueError
            If ``device`` is not a device of this machine (before any training), or if
            training diverged (NaN or inf weights or losses: lower ``lr``).
        """
        X, y = validate_data(self, X, y, dtype=[np.float64, np.float32], ensure_all_finite=False)
        self._check_finite(X)
        hidden = _check_sizes("hidden_layer_sizes", self.hidden_layer_sizes)
        self.classes_, y_encoded = _encode_labels(self, y)
        self.net_ = fit_classifier_net(
            X.astype(np.float32, copy=False),
            y_encoded,
            module=MLPModule,
            module_kwargs={
                "n_features": X.shape[1],
                "n_outputs": self.classes_.size,
                "hidden_layer_sizes": hidden,
            },
            **_training_kwargs(self, self.random_state),
        )
        check_finite_net(self.net_, type(self).__name__)
        return self

    def _logits(self, X):
        check_is_fitted(self)
        X = validate_data(
            self, X, reset=False, dtype=[np.float64, np.float32], ensure_all_finite=False
        )
        self._check_finite(X)
        module = self.net_.module_
        logits = batched_forward(module, X.astype(np.float32, copy=False), module, self.batch_size)
        return self._check_logits(logits)

    def predict_proba(self, X):
        """Class probabilities.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Finite features, within float32's range; a row on which the network overflows
            raises a ValueError (never NaN probabilities).

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Softmax of the logits (in float64), columns ordered like ``classes_``.
        """
        return softmax(self._logits(X).astype(np.float64), axis=1)

    def predict(self, X):
        """Predicted class labels.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Finite features.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            The class of largest probability.
        """
        proba = self.predict_proba(X)  # checks that the classifier is fitted
        return self.classes_[np.argmax(proba, axis=1)]

    def _torch_forward(self, X):
        """Logits of the fitted network for a floating tensor ``X``, differentiably.

        ``X`` (any floating dtype, any device) is cast to the network's dtype and device
        inside, so gradients flow back to it. The network is in evaluation mode and no
        ``torch.no_grad`` is used.

        Parameters
        ----------
        X : torch.Tensor of shape (n_samples, n_features)
            Inputs.

        Returns
        -------
        logits : torch.Tensor of shape (n_samples, n_classes)
            Logits on the network's device, columns ordered like ``classes_``.
        """
        check_is_fitted(self)
        module = self.net_.module_
        module.eval()
        return module(torch_input(X, module, self.n_features_in_, type(self).__name__))
