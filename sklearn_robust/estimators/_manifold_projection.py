"""ManifoldProjection: the CoPur paper's baseline defense D(E(h))."""

from sklearn_robust.estimators._autoencoder_defense import _BaseAutoencoderDefense


class ManifoldProjection(_BaseAutoencoderDefense):
    """Manifold projection: the CoPur paper's baseline defense ``D(E(h))``.

    An autoencoder ``D o E`` is trained on clean features; ``transform`` maps each received
    row through it, after filling missing blocks with the training mean of their columns and
    clipping non-finite or absurdly large values to the training range widened by 100
    standard deviations. Unlike :class:`CoPurTransformer` it does not isolate corrupted
    blocks: a corrupted block drags the whole projection with it.

    Parameters
    ----------
    blocks : int, list of int, list of array-like of int or None, default=None
        Block layout of the features (see :func:`~sklearn_robust.base.check_blocks`); None
        means one block per column. Used to recognise missing blocks.

    autoencoder : skorch net, torch.nn.Module subclass or None, default=None
        The autoencoder, cloned and trained in :meth:`fit`. None builds
        :class:`~sklearn_robust.nets.AutoencoderNet` with an
        :class:`~sklearn_robust.nets.MLPAutoencoder` whose latent width is chosen from the
        data (see :class:`CoPurTransformer`). Sizes left unset on a given net
        (``module__n_features``, ``module__latent_dim``) are filled in the same way.

    device : str or torch.device, default="cpu"
        Device of the autoencoder.

    random_state : int, RandomState instance or None, default=None
        Seeds the autoencoder's initialisation and shuffling (when the net has no seed).

    verbose : int, default=0
        0 is silent; 2 and more also show the autoencoder's training epochs.

    Attributes
    ----------
    autoencoder_ : skorch net
        The fitted autoencoder (trained on standardised features).

    layout_ : BlockLayout
        Validated block layout.

    latent_dim_ : int
        Width of the autoencoder's latent code.

    mean_ : ndarray of shape (n_features,)
        Column means of the training rows: the fill of missing blocks.

    scale_ : ndarray of shape (n_features,)
        Column standard deviations of the training rows (standardisation of the autoencoder).

    unit_ : float
        Power of two the features are divided by before they reach the float32 network
        (1.0 for any ordinary data; larger after a training set with a huge row, so that
        nothing overflows).

    n_features_in_ : int
        Number of features seen during :meth:`fit`.

    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during :meth:`fit`, defined only when ``X`` has feature names
        that are all strings.

    See Also
    --------
    CoPurTransformer : Purification that isolates corrupted blocks before projecting.

    Notes
    -----
    Missing blocks are filled with the training mean of their columns (the centre of the
    data), a neutral value that moves the code as little as possible. Rows with every block
    missing get ``D(E(mean_))`` with a warning.

    References
    ----------
    .. [1] J. Liu, C. Xie, O. Koyejo and B. Li, "CoPur: Certifiably Robust Collaborative
       Inference via Feature Purification", NeurIPS 2022.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_robust.estimators import ManifoldProjection
    >>> from sklearn_robust.nets import AutoencoderNet
    >>> rng = np.random.RandomState(0)
    >>> X = rng.standard_normal((200, 2)) @ rng.standard_normal((2, 6))
    >>> ae = AutoencoderNet(module__latent_dim=2, module__hidden_layer_sizes=(),
    ...                     max_epochs=50, random_state=0)
    >>> proj = ManifoldProjection(blocks=3, autoencoder=ae, random_state=0).fit(X)
    >>> proj.transform(X[:2]).shape
    (2, 6)
    """

    def __init__(
        self, *, blocks=None, autoencoder=None, device="cpu", random_state=None, verbose=0
    ):
        self.blocks = blocks
        self.autoencoder = autoencoder
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    def transform(self, X):
        """Project each row onto the autoencoder's range: ``D(E(h))``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Received features; NaN blocks are missing, inf and huge values are clipped.

        Returns
        -------
        X_out : ndarray of shape (n_samples, n_features)
            The projections, in the input's float dtype. Never NaN.
        """
        X = self._validate_transform_input(X)
        observed, H = self._received(X)
        self._warn_empty_rows(observed)
        return self._to_output(self._reconstruct_array(H), X.dtype)

    def _torch_forward(self, X):
        """Differentiable ``D(E(fill(X)))`` for white-box attacks (tensor in, tensor out)."""
        return self._torch_project(X)
