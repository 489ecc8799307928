"""BlockEmbedder: the agents' local feature extractors, trained jointly (vertical FL) or locally."""

import numbers

import numpy as np
import torch
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import _check_feature_names_in, check_is_fitted, validate_data

from sklearn_robust._layout import _blocks_constraint, check_blocks
from sklearn_robust.estimators._fusion_classifier import (
    _TRAINING_CONSTRAINTS,
    _encode_labels,
    _training_kwargs,
)
from sklearn_robust.nets import BlockEmbedderModule
from sklearn_robust.nets._modules import _check_sizes
from sklearn_robust.nets._utils import (
    batched_forward,
    check_finite_net,
    fit_classifier_net,
    torch_input,
)

_FLOAT32_MAX = float(np.finfo(np.float32).max)


def _training_groups(n_blocks, training):
    """The agents trained together by each net: all of them (joint), or one each (local)."""
    if training == "joint":
        return [list(range(n_blocks))]
    return [[k] for k in range(n_blocks)]


def _concat_embed(modules, x):
    """Concatenated ``embed`` outputs of ``modules`` (in their order) on one input batch."""
    return torch.cat([module.embed(x) for module in modules], dim=1)


class BlockEmbedder(TransformerMixin, BaseEstimator):
    """Per-agent feature extractors, trained jointly with a fusion head (vertical FL) or locally.

    Each agent ``k`` owns the columns of block ``k`` and a local network mapping them to an
    embedding of width ``embedding_dim``. With ``training="joint"``, a fusion head classifies
    the concatenated embeddings and ``fit`` trains all of them end to end on the labels, as
    agents and server do in vertical federated learning. With ``training="local"``, each
    agent trains its extractor with a classification head of its own on the labels,
    independently of the other agents. ``transform`` returns the concatenated embeddings, the
    features ``h = [h_1, ..., h_M]`` a CoPur fusion center receives: the next step uses
    ``blocks=embedder.blocks_out_``.

    The CoPur paper's NUS-WIDE agents are ``hidden_layer_sizes=(128,)``, ``embedding_dim=60``,
    ``activation="relu"``; its ExtraSensory agents are a single linear layer,
    ``hidden_layer_sizes=()``, ``embedding_dim=32``, ``activation="identity"``.

    Parameters
    ----------
    blocks : int, list of int, list of array-like of int or None, default=None
        Block layout of the raw features: the number of equal blocks, the block widths, or
        the column indices of each block (see :func:`~sklearn_robust.base.check_blocks`).
        None means one block per column.
    embedding_dim : int or list of int, default=32
        Embedding width of every agent, or one width per agent.
    hidden_layer_sizes : tuple of int, default=()
        Hidden widths of each local extractor (ReLU between layers); ``()`` gives one linear
        layer followed by ``activation``.
    head_hidden_layer_sizes : tuple of int, default=()
        Hidden widths of the classification head used in training (the fusion head, or each
        agent's own head with ``training="local"``); ``()`` gives a linear head.
    activation : {"relu", "identity", "tanh", "leaky_relu"}, default="relu"
        Activation applied to each embedding.
    training : {"joint", "local"}, default="joint"
        How the extractors learn. ``"joint"``: all agents' extractors are trained end to end
        through one fusion head on the concatenated embeddings, so each embedding is shaped
        by what the others already provide. ``"local"``: agent ``k``'s extractor and a head
        of its own are trained on agent ``k``'s columns and the labels only, so each
        embedding alone must predict the label; the agents' nets are seeded one after the
        other from ``random_state`` and do not depend on the other agents' data.
    lr : float, default=1e-3
        Learning rate of Adam.
    max_epochs : int, default=100
        Most training epochs.
    batch_size : int, default=128
        Mini-batch size (also the chunk size of :meth:`transform`).
    weight_decay : float, default=0.0
        L2 penalty (Adam's ``weight_decay``).
    early_stopping : bool, default=True
        Hold out ``validation_fraction`` of the rows and stop when the validation loss has not
        improved for ``patience`` epochs; the weights of the best epoch are kept.
    validation_fraction : float, default=0.1
        Fraction of the rows held out for early stopping, in (0, 1).
    patience : int, default=10
        Epochs without improvement of the validation loss before training stops.
    device : str or torch.device, default="cpu"
        Torch device of the networks. Inputs and outputs stay numpy on the CPU.
    random_state : int, RandomState instance or None, default=None
        Seed of the initialisation, the batch order and the validation split (one seed drawn
        per net, in agent order with ``training="local"``).
    verbose : int, default=0
        skorch's epoch log when positive.

    Attributes
    ----------
    layout_ : BlockLayout
        Validated block layout of the raw features.
    classes_ : ndarray of shape (n_classes,)
        Class labels seen during :meth:`fit`.
    nets_ : list of SeededNeuralNetClassifier
        The fitted skorch nets. Each ``module_`` is a
        :class:`~sklearn_robust.nets.BlockEmbedderModule` reading its agents' columns of the
        full input: one net over all agents with ``training="joint"``, one net per agent, in
        agent order, with ``training="local"``. The embeddings are their ``module_.embed``
        outputs, concatenated in this order.
    blocks_out_ : list of int
        Width of each agent's embedding block in the output, in agent order.
    n_features_out_ : int
        Number of output columns, ``sum(blocks_out_)``.
    n_features_in_ : int
        Number of features seen during :meth:`fit`.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during :meth:`fit`, defined only when ``X`` has feature names
        that are all strings.

    See Also
    --------
    sklearn_robust.estimators.CoPurTransformer : Purifies the embeddings.
    sklearn_robust.estimators.MLPFusionClassifier : A fusion classifier on the embeddings.

    Notes
    -----
    Missing and corrupted agents at :meth:`transform`:

    * a raw block holding NaN (the agent is missing) gives an all-NaN embedding block for
      that row; the other blocks of the row are computed as usual;
    * a raw block holding inf, or values beyond the float32 range, gives an embedding block
      with infinite (never NaN) values where the network overflows, which downstream objects
      read as a corrupted agent.

    NaN appears in the output only for missing agents. In :meth:`fit`, rows with a missing
    block are not used (with ``training="local"``, agent ``k`` trains on the rows where its
    own block is observed); inf and values beyond float32's range are refused.

    Joint or local training. Jointly trained extractors specialise: each agent encodes what
    the others do not, which suits a clean fusion center. Locally trained ones are redundant
    across agents, which is what a purification downstream needs to rebuild a missing or
    flipped agent from the others. Measured on the digits split into 4 polyphase agents
    (agent ``(a, b)`` sees pixels ``(2i + a, 2j + b)``, the digit at half resolution), with
    :class:`~sklearn_robust.estimators.CoPurTransformer` downstream: with locally trained
    embeddings a missing or flipped agent can be reconstructed from the others; with
    jointly trained ones it cannot.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklearn_robust.estimators import BlockEmbedder
    >>> X, y = load_digits(return_X_y=True)
    >>> emb = BlockEmbedder(blocks=4, embedding_dim=8, lr=1e-2, max_epochs=5, random_state=0)
    >>> H = emb.fit_transform(X / 16, y)
    >>> H.shape, emb.blocks_out_
    ((1797, 32), [8, 8, 8, 8])
    >>> emb.get_feature_names_out()[:3].tolist()
    ['agent0_emb0', 'agent0_emb1', 'agent0_emb2']
    """

    _parameter_constraints = {
        "blocks": _blocks_constraint(),
        "embedding_dim": [Interval(numbers.Integral, 1, None, closed="left"), "array-like"],
        "hidden_layer_sizes": ["array-like", Interval(numbers.Integral, 1, None, closed="left")],
        "head_hidden_layer_sizes": [
            "array-like",
            Interval(numbers.Integral, 1, None, closed="left"),
        ],
        "activation": [StrOptions({"relu", "identity", "tanh", "leaky_relu"})],
        "training": [StrOptions({"joint", "local"})],
        **_TRAINING_CONSTRAINTS,
    }

    def __init__(
        self,
        blocks=None,
        *,
        embedding_dim=32,
        hidden_layer_sizes=(),
        head_hidden_layer_sizes=(),
        activation="relu",
        training="joint",
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
        self.blocks = blocks
        self.embedding_dim = embedding_dim
        self.hidden_layer_sizes = hidden_layer_sizes
        self.head_hidden_layer_sizes = head_hidden_layer_sizes
        self.activation = activation
        self.training = training
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

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True  # missing agents are NaN blocks at transform
        tags.target_tags.required = True
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags

    def _embedding_dims(self, n_blocks):
        dim = self.embedding_dim
        if isinstance(dim, numbers.Integral) and not isinstance(dim, bool):
            return [int(dim)] * n_blocks
        dims = list(_check_sizes("embedding_dim", dim))
        if len(dims) != n_blocks:
            raise ValueError(
                f"embedding_dim lists {len(dims)} widths, but blocks gives {n_blocks} agents; "
                "pass one int for all agents or exactly one width per agent."
            )
        return dims

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Train the local extractors and their classification head(s) on labels ``y``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Raw features of all agents. Rows with NaN (a missing agent) are not used by the
            nets of that agent (with ``training="joint"``, not at all); inf and values
            beyond float32's range are refused (ValueError).
        y : array-like of shape (n_samples,)
            Class labels, at least two distinct ones.

        Returns
        -------
        self : BlockEmbedder
            The fitted embedder.
        """
        X, y = validate_data(
            self, X, y, dtype=[np.float64, np.float32], ensure_all_finite="allow-nan"
        )
        with np.errstate(invalid="ignore"):
            beyond = np.abs(X) > _FLOAT32_MAX  # NaN (missing) compares False
        if beyond.any():
            rows = np.flatnonzero(beyond.any(axis=1))
            raise ValueError(
                f"{type(self).__name__} trains float32 networks, and X holds values beyond "
                f"float32's range (|x| > {_FLOAT32_MAX:.3g}) in rows {rows[:10].tolist()}"
                f"{' ...' if rows.size > 10 else ''}; they would be read as inf and break "
                "training. Rescale the features or drop those rows."
            )
        layout = check_blocks(self.blocks, X.shape[1])
        dims = self._embedding_dims(layout.n_blocks)
        hidden = _check_sizes("hidden_layer_sizes", self.hidden_layer_sizes)
        head_hidden = _check_sizes("head_hidden_layer_sizes", self.head_hidden_layer_sizes)
        groups = _training_groups(layout.n_blocks, self.training)
        observed = layout.observed(X)
        # The rows each net trains on: those where all of its agents are observed. A net's
        # module reads its agents' columns only, so NaN of other agents in them is never read.
        rows = [observed[:, group].all(axis=1) for group in groups]
        for group, used in zip(groups, rows):
            if not used.any():
                who = "every agent is" if len(groups) == 1 else f"agent {group[0]} is"
                raise ValueError(
                    f"{type(self).__name__}(training={self.training!r}) trains on rows where "
                    f"{who} observed, but all {X.shape[0]} rows of X have NaN there. Provide "
                    "complete training rows."
                )
        labelled = np.logical_or.reduce(rows)
        classes, y_encoded = _encode_labels(self, y[labelled])
        y_all = np.zeros(X.shape[0], dtype=np.int64)  # class indices; rows never used stay 0
        y_all[labelled] = y_encoded
        rng = check_random_state(self.random_state)
        self.layout_ = layout
        self.classes_ = classes
        self.nets_ = [
            fit_classifier_net(
                (X[used] if not used.all() else X).astype(np.float32, copy=False),
                y_all[used],
                module=BlockEmbedderModule,
                module_kwargs={
                    "indices": [layout.indices[k].tolist() for k in group],
                    "n_classes": classes.size,
                    "embedding_dim": [dims[k] for k in group],
                    "hidden_layer_sizes": hidden,
                    "activation": self.activation,
                    "head_hidden_layer_sizes": head_hidden,
                },
                **_training_kwargs(self, rng),
            )
            for group, used in zip(groups, rows)
        ]
        for net in self.nets_:
            check_finite_net(net, type(self).__name__)
        self.blocks_out_ = dims
        self.n_features_out_ = int(sum(dims))
        return self

    def _modules(self):
        """The fitted ``BlockEmbedderModule``s of :attr:`nets_`, as one ``nn.ModuleList``."""
        return torch.nn.ModuleList(net.module_ for net in self.nets_)

    def transform(self, X):
        """Embed every agent's block; missing agents give NaN embedding blocks.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Raw features. A block with NaN is a missing agent for that row.

        Returns
        -------
        H : ndarray of shape (n_samples, n_features_out_)
            Concatenated embeddings in agent order, with ``X``'s float dtype. Row ``i``'s block
            ``k`` is all NaN when agent ``k``'s raw block has NaN in row ``i``; it is
            infinite (not NaN) where a raw inf or a float32 overflow makes the network
            overflow.
        """
        check_is_fitted(self)
        X = validate_data(
            self, X, reset=False, dtype=[np.float64, np.float32], ensure_all_finite=False
        )
        observed = self.layout_.observed(X)
        # A new float32 array: missing values become 0 (masked out below) and values beyond
        # the float32 range are clipped to it (inf included), so the cast never warns.
        X32 = np.clip(np.nan_to_num(X, nan=0.0), -_FLOAT32_MAX, _FLOAT32_MAX).astype(np.float32)
        modules = self._modules()
        H = batched_forward(
            lambda x: _concat_embed(modules, x), X32, modules, self.batch_size
        ).astype(X.dtype)
        out_block = np.repeat(np.arange(self.layout_.n_blocks), self.blocks_out_)
        H = np.where(np.isnan(H), np.inf, H)  # overflow of corrupted input: inf, never NaN
        H[~observed[:, out_block]] = np.nan
        return H

    def get_feature_names_out(self, input_features=None):
        """Output feature names ``agent{k}_emb{j}``.

        Parameters
        ----------
        input_features : array-like of str or None, default=None
            Only checked against the names seen in :meth:`fit`.

        Returns
        -------
        feature_names_out : ndarray of str objects
            ``agent{k}_emb{j}`` for agent ``k`` and embedding coordinate ``j``.
        """
        check_is_fitted(self, "n_features_out_")
        _check_feature_names_in(self, input_features)
        return np.asarray(
            [f"agent{k}_emb{j}" for k, dim in enumerate(self.blocks_out_) for j in range(dim)],
            dtype=object,
        )

    def _torch_forward(self, X):
        """Embeddings of a floating tensor ``X``, differentiably.

        ``X`` (any floating dtype, any device) is cast to the network's dtype and device
        inside, so gradients flow back to it. The networks are in evaluation mode and no
        ``torch.no_grad`` is used. Agent ``k``'s output depends only on its own columns, so a
        NaN block yields NaN in that agent's embedding only.

        Parameters
        ----------
        X : torch.Tensor of shape (n_samples, n_features_in_)
            Raw features.

        Returns
        -------
        H : torch.Tensor of shape (n_samples, n_features_out_)
            Concatenated embeddings on the network's device.
        """
        check_is_fitted(self)
        modules = self._modules()
        modules.eval()
        x = torch_input(X, modules, self.n_features_in_, type(self).__name__)
        return _concat_embed(modules, x)
