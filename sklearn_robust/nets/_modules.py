"""torch modules: the CoPur autoencoder, a plain MLP and the per-agent block embedder."""

import numbers

import numpy as np
import torch
from torch import nn

__all__ = ["BlockEmbedderModule", "MLPAutoencoder", "MLPModule"]

_ACTIVATIONS = {
    "identity": nn.Identity,
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "leaky_relu": nn.LeakyReLU,
}


def _make_activation(activation):
    """An ``nn.Module`` from a name in ``_ACTIVATIONS`` (or a module / module class)."""
    if isinstance(activation, nn.Module):
        return activation
    if isinstance(activation, type) and issubclass(activation, nn.Module):
        return activation()
    if activation is None:
        return nn.Identity()
    try:
        return _ACTIVATIONS[activation]()
    except (KeyError, TypeError):
        raise ValueError(
            f"activation must be one of {sorted(_ACTIVATIONS)}, an nn.Module or an nn.Module "
            f"class; got {activation!r}."
        ) from None


def _check_sizes(name, sizes):
    """Tuple of positive ints from an int or a sequence of ints."""
    if isinstance(sizes, numbers.Integral) and not isinstance(sizes, bool):
        sizes = (sizes,)
    try:
        sizes = tuple(sizes)
    except TypeError:
        raise ValueError(f"{name} must be a sequence of positive ints; got {sizes!r}.") from None
    bad = [
        s for s in sizes if not isinstance(s, numbers.Integral) or isinstance(s, bool) or int(s) < 1
    ]
    if bad:
        raise ValueError(f"{name} must hold positive ints only; got {list(sizes)} ({bad} bad).")
    return tuple(int(s) for s in sizes)


def _check_width(name, value):
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or int(value) < 1:
        raise ValueError(f"{name} must be a positive int; got {value!r}.")
    return int(value)


def _mlp(widths, activation, final_activation=None):
    """``Linear(widths[0], widths[1]) -> act -> ... -> Linear(.., widths[-1]) -> final``."""
    layers = []
    for i in range(len(widths) - 1):
        layers.append(nn.Linear(widths[i], widths[i + 1]))
        if i < len(widths) - 2:
            layers.append(_make_activation(activation))
    if final_activation is not None:
        layers.append(_make_activation(final_activation))
    return nn.Sequential(*layers)


class MLPAutoencoder(nn.Module):
    """Fully connected autoencoder ``D(E(x))`` with leaky-ReLU hidden layers.

    The encoder maps ``n_features -> hidden_layer_sizes... -> latent_dim`` and the decoder
    ``latent_dim -> reversed(hidden_layer_sizes)... -> n_features``; both end with a linear
    layer and use ``LeakyReLU(negative_slope)`` between layers. The CoPur paper's network is
    ``MLPAutoencoder(240, 150, hidden_layer_sizes=(200,), negative_slope=0.8)``.

    Parameters
    ----------
    n_features : int
        Width of the input (and of the reconstruction).
    latent_dim : int
        Width of the latent code.
    hidden_layer_sizes : tuple of int, default=(200,)
        Hidden widths of the encoder (the decoder uses them in reverse order). ``()`` gives a
        linear autoencoder.
    negative_slope : float, default=0.8
        Slope of the leaky ReLU for negative inputs.

    Attributes
    ----------
    encoder : torch.nn.Sequential
        The map ``E`` from inputs to latent codes.
    decoder : torch.nn.Sequential
        The map ``D`` from latent codes to reconstructions.

    Examples
    --------
    >>> import torch
    >>> from sklearn_robust.nets import MLPAutoencoder
    >>> ae = MLPAutoencoder(240, 150)
    >>> ae.encode(torch.zeros(5, 240)).shape
    torch.Size([5, 150])
    >>> ae(torch.zeros(5, 240)).shape
    torch.Size([5, 240])
    """

    def __init__(self, n_features, latent_dim, hidden_layer_sizes=(200,), negative_slope=0.8):
        super().__init__()
        n_features = _check_width("n_features", n_features)
        latent_dim = _check_width("latent_dim", latent_dim)
        hidden = _check_sizes("hidden_layer_sizes", hidden_layer_sizes)
        activation = nn.LeakyReLU(float(negative_slope))
        self.encoder = _mlp((n_features, *hidden, latent_dim), activation)
        self.decoder = _mlp((latent_dim, *hidden[::-1], n_features), activation)

    def encode(self, x):
        """Latent codes ``E(x)`` of a batch.

        Parameters
        ----------
        x : torch.Tensor of shape (n, n_features)
            Inputs.

        Returns
        -------
        z : torch.Tensor of shape (n, latent_dim)
            Latent codes.

        Examples
        --------
        >>> import torch
        >>> from sklearn_robust.nets import MLPAutoencoder
        >>> MLPAutoencoder(6, 2, hidden_layer_sizes=(4,)).encode(torch.zeros(5, 6)).shape
        torch.Size([5, 2])
        """
        return self.encoder(x)

    def decode(self, z):
        """Reconstructions ``D(z)`` of a batch of latent codes.

        Parameters
        ----------
        z : torch.Tensor of shape (n, latent_dim)
            Latent codes.

        Returns
        -------
        x_hat : torch.Tensor of shape (n, n_features)
            Reconstructions.

        Examples
        --------
        >>> import torch
        >>> from sklearn_robust.nets import MLPAutoencoder
        >>> MLPAutoencoder(6, 2, hidden_layer_sizes=(4,)).decode(torch.zeros(5, 2)).shape
        torch.Size([5, 6])
        """
        return self.decoder(z)

    def forward(self, x):
        """Reconstructions ``D(E(x))`` of a batch.

        Parameters
        ----------
        x : torch.Tensor of shape (n, n_features)
            Inputs.

        Returns
        -------
        x_hat : torch.Tensor of shape (n, n_features)
            ``self.decode(self.encode(x))``.

        Examples
        --------
        >>> import torch
        >>> from sklearn_robust.nets import MLPAutoencoder
        >>> ae = MLPAutoencoder(6, 2, hidden_layer_sizes=(4,))
        >>> x = torch.ones(3, 6)
        >>> bool(torch.equal(ae(x), ae.decode(ae.encode(x))))
        True
        """
        return self.decode(self.encode(x))


class MLPModule(nn.Module):
    """Plain multilayer perceptron: ``Linear -> activation -> ... -> Linear``.

    Parameters
    ----------
    n_features : int
        Width of the input.
    n_outputs : int
        Width of the output (e.g. the number of classes: the output are logits).
    hidden_layer_sizes : tuple of int, default=(60,)
        Widths of the hidden layers; ``()`` gives a single linear layer.
    activation : {"relu", "tanh", "leaky_relu", "identity"}, default="relu"
        Activation between layers (none after the last one).

    Attributes
    ----------
    layers : torch.nn.Sequential
        The layers.

    Examples
    --------
    >>> import torch
    >>> from sklearn_robust.nets import MLPModule
    >>> MLPModule(10, 3, hidden_layer_sizes=(60,))(torch.zeros(4, 10)).shape
    torch.Size([4, 3])
    """

    def __init__(self, n_features, n_outputs, hidden_layer_sizes=(60,), activation="relu"):
        super().__init__()
        n_features = _check_width("n_features", n_features)
        n_outputs = _check_width("n_outputs", n_outputs)
        hidden = _check_sizes("hidden_layer_sizes", hidden_layer_sizes)
        _make_activation(activation)  # validate early
        self.layers = _mlp((n_features, *hidden, n_outputs), activation)

    def forward(self, x):
        """Outputs (logits) of a batch.

        Parameters
        ----------
        x : torch.Tensor of shape (n, n_features)
            Inputs.

        Returns
        -------
        out : torch.Tensor of shape (n, n_outputs)
            Outputs of the last linear layer (no activation after it).

        Examples
        --------
        >>> import torch
        >>> from sklearn_robust.nets import MLPModule
        >>> MLPModule(10, 3).forward(torch.zeros(4, 10)).shape
        torch.Size([4, 3])
        """
        return self.layers(x)


class BlockEmbedderModule(nn.Module):
    """One local feature extractor per agent, and a fusion head on their embeddings.

    Agent ``k`` sees only the columns ``indices[k]`` of the input and maps them through
    ``Linear(width_k, h1) -> ReLU -> ... -> Linear(.., embedding_dim_k) -> activation``. The
    fusion head is an MLP from the concatenated embeddings (agent order) to ``n_classes``
    logits. The CoPur paper's NUS-WIDE extractor is ``hidden_layer_sizes=(128,)``,
    ``embedding_dim=60``, ``activation="relu"``; its ExtraSensory extractor is a single linear
    layer, ``hidden_layer_sizes=()``, ``embedding_dim=32``, ``activation="identity"``.

    Parameters
    ----------
    indices : sequence of array-like of int
        Column indices of each agent's block, e.g. ``BlockLayout.indices``.
    n_classes : int
        Number of outputs of the fusion head.
    embedding_dim : int or sequence of int, default=32
        Embedding width of every agent, or one width per agent.
    hidden_layer_sizes : tuple of int, default=()
        Hidden widths of each local extractor (ReLU between them).
    activation : {"relu", "tanh", "leaky_relu", "identity"}, default="relu"
        Activation applied to each embedding.
    head_hidden_layer_sizes : tuple of int, default=()
        Hidden widths of the fusion head (ReLU between them).

    Attributes
    ----------
    extractors : torch.nn.ModuleList
        The local extractors, in agent order.
    head : MLPModule
        The fusion head.
    embedding_dims : tuple of int
        Embedding width of each agent.

    Examples
    --------
    >>> import torch
    >>> from sklearn_robust.nets import BlockEmbedderModule
    >>> module = BlockEmbedderModule([[0, 1], [2, 3, 4]], n_classes=3, embedding_dim=[4, 2])
    >>> module.embed(torch.zeros(6, 5)).shape
    torch.Size([6, 6])
    >>> module(torch.zeros(6, 5)).shape
    torch.Size([6, 3])
    """

    def __init__(
        self,
        indices,
        n_classes,
        embedding_dim=32,
        hidden_layer_sizes=(),
        activation="relu",
        head_hidden_layer_sizes=(),
    ):
        super().__init__()
        indices = [np.asarray(ix, dtype=np.int64).ravel() for ix in indices]
        if not indices or any(ix.size == 0 for ix in indices):
            raise ValueError("indices must be a non-empty list of non-empty column-index arrays.")
        n_blocks = len(indices)
        if isinstance(embedding_dim, numbers.Integral) and not isinstance(embedding_dim, bool):
            dims = (int(embedding_dim),) * n_blocks
        else:
            dims = tuple(embedding_dim)
            if len(dims) != n_blocks:
                raise ValueError(
                    f"embedding_dim lists {len(dims)} widths for {n_blocks} agents; give one "
                    "int for all agents or exactly one width per agent."
                )
        self.embedding_dims = _check_sizes("embedding_dim", dims)
        hidden = _check_sizes("hidden_layer_sizes", hidden_layer_sizes)
        head_hidden = _check_sizes("head_hidden_layer_sizes", head_hidden_layer_sizes)
        _make_activation(activation)  # validate early
        self.extractors = nn.ModuleList(
            _mlp((ix.size, *hidden, dim), "relu", final_activation=activation)
            for ix, dim in zip(indices, self.embedding_dims)
        )
        for k, ix in enumerate(indices):
            self.register_buffer(f"index_{k}", torch.as_tensor(ix), persistent=False)
        self.head = MLPModule(sum(self.embedding_dims), n_classes, hidden_layer_sizes=head_hidden)

    def embed(self, x):
        """Concatenated embeddings of the agents' blocks, in agent order.

        Parameters
        ----------
        x : torch.Tensor of shape (n, n_features)
            Inputs holding every agent's columns (those listed in ``indices``).

        Returns
        -------
        embeddings : torch.Tensor of shape (n, sum(embedding_dims))
            Agent ``k``'s extractor applied to its columns, for every ``k``, concatenated.

        Examples
        --------
        >>> import torch
        >>> from sklearn_robust.nets import BlockEmbedderModule
        >>> module = BlockEmbedderModule([[0, 1], [2, 3, 4]], n_classes=3, embedding_dim=[4, 2])
        >>> module.embed(torch.zeros(6, 5)).shape
        torch.Size([6, 6])
        """
        return torch.cat(
            [
                extractor(x.index_select(1, getattr(self, f"index_{k}")))
                for k, extractor in enumerate(self.extractors)
            ],
            dim=1,
        )

    def forward(self, x):
        """Logits of the fusion head on the concatenated embeddings.

        Parameters
        ----------
        x : torch.Tensor of shape (n, n_features)
            Inputs holding every agent's columns (those listed in ``indices``).

        Returns
        -------
        logits : torch.Tensor of shape (n, n_classes)
            ``self.head(self.embed(x))``.

        Examples
        --------
        >>> import torch
        >>> from sklearn_robust.nets import BlockEmbedderModule
        >>> module = BlockEmbedderModule([[0, 1], [2, 3, 4]], n_classes=3)
        >>> module(torch.zeros(6, 5)).shape
        torch.Size([6, 3])
        """
        return self.head(self.embed(x))
