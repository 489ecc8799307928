"""The shared base of the autoencoder defenses of the fusion center (ManifoldProjection,
CoPurTransformer): training ``D o E`` on clean features, clipping, torch forward passes, and the
small helpers both use (block norms, row batches, the column-to-block one-hot matrix)."""

import inspect
import warnings

import numpy as np
import torch
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin, _fit_context, clone
from sklearn.decomposition import PCA
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import HasMethods
from sklearn.utils.validation import check_is_fitted, validate_data

from sklearn_robust._device import check_device
from sklearn_robust._layout import _blocks_constraint, check_blocks

# Values farther than this many training standard deviations outside a column's training
# range are certainly corruption; they are clipped to that bound before any arithmetic so
# that inf and 1e38 never overflow (the l2,1 objective does not care how large a corrupted
# block is, see the Notes of CoPurTransformer).
_CLIP_STDS = 100.0
# Smallest residual, relative to a block's typical norm, that flags the block as corrupted.
_FLAG_FLOOR = 1e-2
# Fraction of the clean embeddings' variance the default latent code keeps.
_LATENT_VARIANCE = 0.90


def default_latent_dim(X, layout):
    """Latent width of the default autoencoder, chosen from the clean training features.

    The number of principal components that explain 90 % of the variance of ``X`` (so the
    range of ``D o E`` is no larger than the bulk of the data's manifold), capped at
    ``n_features - 2 * (widest block)`` so that the features stay redundant enough to rebuild
    any one block from the others, and at least 1.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Clean training features.
    layout : BlockLayout
        Their block layout.

    Returns
    -------
    latent_dim : int
    """
    n_samples, n_features = X.shape
    n_components = min(n_samples, n_features)
    ratio = PCA(n_components=n_components, svd_solver="full").fit(X).explained_variance_ratio_
    if not np.isfinite(ratio).all() or ratio.sum() == 0:  # constant data
        return 1
    k = int(np.searchsorted(np.cumsum(ratio), _LATENT_VARIANCE) + 1)
    cap = n_features - 2 * int(layout.widths.max())
    return int(max(1, min(k, cap, n_features)))


class _BaseAutoencoderDefense(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Shared plumbing of the defenses built on an autoencoder ``D o E`` of clean features.

    ``fit`` trains the autoencoder (a skorch net, see :class:`~sklearn_robust.nets.
    AutoencoderNet`) on the standardised complete rows; the fitted object then exposes
    torch functions ``_encode``/``_decode`` in the original units of the features.
    """

    _parameter_constraints = {
        "blocks": _blocks_constraint(),
        "autoencoder": [HasMethods(["fit", "initialize"]), type, None],
        "device": [str, torch.device],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True  # NaN blocks are missing agents
        tags.target_tags.required = False
        tags.non_deterministic = False
        return tags

    # ---------------------------------------------------------------- fitting

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Train the autoencoder on the complete, finite rows of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Clean (embedded) features. Rows with a missing (NaN) or non-finite block are not
            used for training.
        y : None
            Ignored.

        Returns
        -------
        self : object
            The fitted transformer.
        """
        X = validate_data(
            self, X, dtype=[np.float64, np.float32], ensure_all_finite=False, ensure_min_samples=2
        )
        self._fit(X)
        return self

    def _fit(self, X):
        check_device(self.device, type(self).__name__)
        self.layout_ = check_blocks(self.blocks, X.shape[1])
        complete = np.isfinite(X).all(axis=1)
        if complete.sum() < 2:
            raise ValueError(
                f"{type(self).__name__} trains its autoencoder on rows without missing or "
                f"non-finite values, and X has {int(complete.sum())} such rows out of "
                f"{X.shape[0]}; at least 2 are needed. Fit on clean features."
            )
        X_train = np.asarray(X[complete], dtype=np.float64)
        self.n_train_rows_ = int(complete.sum())
        self.mean_, scale = _safe_mean_std(X_train)
        positive = scale[scale > 0]
        fallback = float(np.mean(positive)) if positive.size else 1.0
        self.scale_ = np.where(scale > 0, scale, fallback)
        with np.errstate(over="ignore"):
            low = X_train.min(axis=0) - _CLIP_STDS * self.scale_
            high = X_train.max(axis=0) + _CLIP_STDS * self.scale_
        big = np.finfo(np.float64).max
        self.clip_min_ = np.clip(low, -big, big)
        self.clip_max_ = np.clip(high, -big, big)
        self.unit_ = _working_unit(self.clip_min_, self.clip_max_)
        Z = (X_train - self.mean_) / self.scale_
        random_state = check_random_state(self.random_state)
        self.autoencoder_ = self._build_autoencoder(Z, random_state)
        self.autoencoder_.fit(Z.astype(np.float32))
        module = self.autoencoder_.module_
        if not (
            callable(getattr(module, "encode", None)) and callable(getattr(module, "decode", None))
        ):
            raise TypeError(
                f"The autoencoder's module {type(module).__name__} must define encode(x) and "
                "decode(z) methods (see sklearn_robust.nets.MLPAutoencoder)."
            )
        module.eval()
        with torch.no_grad():
            codes = self._encode(self._units(X_train))
            self.latent_center_ = self._encode(self._units(self.mean_[None, :]))[0].cpu().numpy()
        codes = codes.cpu().numpy().astype(np.float64)
        latent_scale = codes.std(axis=0)
        positive = latent_scale[latent_scale > 0]
        self.latent_scale_ = np.where(
            latent_scale > 0, latent_scale, float(np.mean(positive)) if positive.size else 1.0
        )
        self.latent_dim_ = int(codes.shape[1])
        # Per-block reconstruction residuals of the clean rows: the yardstick to flag blocks.
        recon = self._reconstruct_array(X_train)
        residuals = _block_norms(X_train - recon, self.layout_)
        # The floor (1 % of a block's typical norm) keeps a near-perfect autoencoder from
        # flagging blocks that differ by the solver's precision only.
        typical_norm = _block_norms(self.scale_[None, :], self.layout_)[0]
        self.residual_threshold_ = (
            3.0 * np.quantile(residuals, 0.99, axis=0) + _FLAG_FLOOR * typical_norm
        )
        return X_train

    def _build_autoencoder(self, Z, random_state):
        """A clone of ``autoencoder`` (or the default) with its sizes filled in from ``Z``."""
        from sklearn_robust.nets import AutoencoderNet, MLPAutoencoder

        if self.autoencoder is None:
            net = AutoencoderNet(module=MLPAutoencoder)
        elif isinstance(self.autoencoder, type):
            if not issubclass(self.autoencoder, torch.nn.Module):
                raise TypeError(
                    "autoencoder must be a skorch net, a torch.nn.Module subclass or None; got "
                    f"the class {self.autoencoder.__name__}."
                )
            net = AutoencoderNet(module=self.autoencoder)
        else:
            net = clone(self.autoencoder)
        params = net.get_params()
        accepted = _module_arguments(params.get("module"))
        n_features = Z.shape[1]
        fill = {}
        if "n_features" in accepted and params.get("module__n_features") is None:
            fill["module__n_features"] = n_features
        if "latent_dim" in accepted and params.get("module__latent_dim") is None:
            latent_dim = default_latent_dim(Z, self.layout_)
            fill["module__latent_dim"] = latent_dim
            if "hidden_layer_sizes" in accepted and "module__hidden_layer_sizes" not in params:
                fill["module__hidden_layer_sizes"] = ((n_features + latent_dim + 1) // 2,)
        if "random_state" in params and params["random_state"] is None:
            fill["random_state"] = int(random_state.randint(np.iinfo(np.int32).max))
        fill["device"] = self.device
        if self.verbose < 2 and "verbose" in params:
            fill["verbose"] = 0
        return net.set_params(**fill)

    # ---------------------------------------------------------------- torch helpers

    def _device(self):
        return torch.device(self.autoencoder_.device)

    def _dtype(self):
        parameter = next(self.autoencoder_.module_.parameters(), None)
        return parameter.dtype if parameter is not None else torch.float32

    def _to_tensor(self, array):
        return torch.as_tensor(np.asarray(array), dtype=self._dtype(), device=self._device())

    def _units(self, array):
        """A numpy array in the units of X as a tensor in working units (``X / unit_``)."""
        return self._to_tensor(np.asarray(array, dtype=np.float64) / self.unit_)

    def _constants(self):
        """Standardisation, latent scale and centre, clip bounds: tensors in working units.

        Working units are the units of X divided by ``unit_``, a power of two that is 1 for
        any data whose clip bounds fit comfortably in the network's float32 (all ordinary
        data: nothing changes, not even the rounding). A training set with a huge row gets
        a larger unit, so that every value the solver computes with, clipped corruption
        included, stays finite (the l2,1 objective is homogeneous: its minimiser does not
        depend on the unit).
        """
        t = self._units
        return {
            "mean": t(self.mean_),
            "scale": t(self.scale_),
            "latent_scale": self._to_tensor(self.latent_scale_),
            "latent_center": self._to_tensor(self.latent_center_),
            "clip_min": t(self.clip_min_),
            "clip_max": t(self.clip_max_),
        }

    def _codec(self, constants=None):
        """``(encode, decode)``: the autoencoder's halves in working units (X / ``unit_``).

        ``constants`` (from :meth:`_constants`) avoids converting the standardisation to
        tensors at every call inside solver loops.
        """
        if constants is None:
            mean, scale = self._units(self.mean_), self._units(self.scale_)
        else:
            mean, scale = constants["mean"], constants["scale"]
        module = self.autoencoder_.module_

        def encode(x):
            return module.encode((x - mean) / scale)

        def decode(z):
            return module.decode(z) * scale + mean

        return encode, decode

    def _encode(self, x):
        return self._codec()[0](x)

    def _decode(self, z):
        return self._codec()[1](z)

    def _reconstruct(self, x):
        return self._decode(self._encode(x))

    def _reconstruct_array(self, H, batch_size=8192):
        """``D(E(H))`` of a finite numpy array in the units of X, as float64 numpy."""
        out = np.empty(H.shape, dtype=np.float64)
        with torch.no_grad():
            for rows in _batches(H.shape[0], batch_size):
                recon = self._reconstruct(self._units(H[rows])).cpu().numpy()
                out[rows] = recon.astype(np.float64) * self.unit_
        return out

    def _to_output(self, values, dtype):
        """float64 values in the units of X as ``dtype``, finite (clipped to its range)."""
        big = np.finfo(dtype).max
        return np.clip(np.nan_to_num(values, nan=0.0), -big, big).astype(dtype)

    def _received(self, X):
        """Observed-block mask and a finite, clipped copy of ``X`` (missing blocks at the mean).

        NaN marks a missing block (the whole block is then unobserved); +-inf and values far
        outside the training range are clipped to ``[clip_min_, clip_max_]``.
        """
        observed = self.layout_.observed(X)
        H = np.where(np.isnan(X), self.mean_, X)
        H = np.clip(H, self.clip_min_, self.clip_max_)
        H = np.where(self.layout_.column_mask(observed), H, self.mean_)
        return observed, H

    def _torch_project(self, X):
        """Differentiable ``D(E(.))`` of a tensor, filled and clipped as in :meth:`_received`."""
        check_is_fitted(self)
        x = X.to(device=self._device(), dtype=torch.float64) / self.unit_
        c = self._constants()
        block_nan = torch.isnan(x).to(x.dtype) @ _onehot(self.layout_, x) > 0
        missing = block_nan[:, torch.as_tensor(self.layout_.block_of_column, device=x.device)]
        low, high = c["clip_min"].double(), c["clip_max"].double()
        x = torch.where(missing, c["mean"].double(), x)
        x = torch.minimum(torch.maximum(torch.nan_to_num(x), low), high)
        return (self._reconstruct(x.to(self._dtype())).double() * self.unit_).to(X.dtype)

    def _warn_empty_rows(self, observed):
        empty = ~observed.any(axis=1)
        if empty.any():
            rows = np.flatnonzero(empty)
            shown = rows[:10].tolist()
            warnings.warn(
                f"{empty.sum()} row(s) have every block missing (rows {shown}"
                f"{' ...' if rows.size > 10 else ''}); {type(self).__name__} returns the "
                "autoencoder's reconstruction of the training mean, D(E(mean_)), for them.",
                UserWarning,
                stacklevel=3,
            )
        return empty

    def _validate_transform_input(self, X):
        check_is_fitted(self)
        return validate_data(
            self, X, reset=False, dtype=[np.float64, np.float32], ensure_all_finite=False
        )


def _safe_mean_std(X):
    """Column means and standard deviations of a finite float64 ``X``, without overflow.

    Each column is divided by its largest absolute value first, so a row near the float64
    limit gives a finite (huge) standard deviation instead of ``inf``.
    """
    top = np.abs(X).max(axis=0)
    top = np.where(top > 0, top, 1.0)
    scaled = X / top
    return scaled.mean(axis=0) * top, scaled.std(axis=0) * top


# Largest magnitude the solver meets in working units: squares of block residuals of such
# values stay far below the float32 limit (~3.4e38) in any block of up to ~1e8 columns.
_WORKING_RANGE = 2.0**50


def _working_unit(clip_min, clip_max):
    """Smallest power of two ``u >= 1`` with every clip bound within ``_WORKING_RANGE * u``."""
    top = float(max(np.abs(clip_min).max(initial=0.0), np.abs(clip_max).max(initial=0.0)))
    if not np.isfinite(top) or top <= _WORKING_RANGE:
        return 1.0
    return float(2.0 ** np.ceil(np.log2(top / _WORKING_RANGE)))


def _module_arguments(module):
    """Names of the constructor arguments of a module class (empty for an instance)."""
    if isinstance(module, type):
        return set(inspect.signature(module.__init__).parameters) - {"self"}
    return set()


def _block_norms(R, layout):
    """Euclidean norm of each block of each row of ``R``: shape (n_samples, n_blocks).

    Computed without overflow for finite entries (each block scaled by its largest
    magnitude); inf entries give inf, NaN gives NaN.
    """
    norms = []
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for ix in layout.indices:
            part = R[:, ix]
            top = np.max(np.abs(part), axis=1, keepdims=True) if part.size else np.zeros(
                (R.shape[0], 1)
            )
            safe = np.where((top > 0) & np.isfinite(top), top, 1.0)
            norm = np.linalg.norm(part / safe, axis=1) * safe[:, 0]
            norms.append(np.where(np.isinf(top[:, 0]), np.inf, norm))
    return np.stack(norms, axis=1)


def _batches(n_samples, batch_size):
    for start in range(0, n_samples, batch_size):
        yield slice(start, min(start + batch_size, n_samples))


def _onehot(layout, like):
    """Column-to-block one-hot matrix ``(n_features, n_blocks)`` as a tensor like ``like``."""
    onehot = torch.zeros(layout.n_features, layout.n_blocks, dtype=like.dtype, device=like.device)
    onehot[torch.arange(layout.n_features), torch.as_tensor(layout.block_of_column)] = 1
    return onehot
