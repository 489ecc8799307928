"""CoPur: certifiably robust collaborative inference via feature purification."""

import numbers

import numpy as np
import torch
from sklearn.utils import Bunch, check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from tqdm.auto import tqdm

from sklearn_robust._numerics._purification import purify_batch
from sklearn_robust.estimators._autoencoder_defense import (
    _FLAG_FLOOR,
    _BaseAutoencoderDefense,
    _batches,
    _block_norms,
    _onehot,
)

# Most training rows purified to calibrate the detection thresholds (detection != "residual").
_CALIBRATION_ROWS = 1000


class CoPurTransformer(_BaseAutoencoderDefense):
    """CoPur feature purification of agents' embedded feature blocks.

    A fusion center receives one feature block per agent; at inference some blocks are
    missing (NaN) or arbitrarily corrupted. ``fit`` trains an autoencoder ``D o E`` on clean
    features. ``transform`` solves, batched over rows, the CoPur paper's block-sparse
    objective: with ``Omega`` the observed blocks of a row ``h``,

    1. ``z* = argmin_z sum_{i in Omega} ||[h - D(z)]_i||`` (a robust fit on the decoder's
       range, over the latent code);
    2. ``l^ = argmin_l sum_{i in Omega} ||[h - l]_i|| + tau sum_i ||[D(E(l)) - l]_i||``,
       started from ``D(E(D(z*)))``;

    and returns ``D(E(l^))``, the features the downstream classifier is trained on
    (``fit_transform`` returns ``D(E(X))`` for clean rows, as the paper's fusion center).
    With ``trim_blocks=True`` (the default) the blocks that stage 1 judges corrupted are
    dropped from the data term, one at a time, before stage 2 (see the Notes).

    Parameters
    ----------
    blocks : int, list of int, list of array-like of int or None, default=None
        Block layout of the features: the number of equal blocks, the block widths, or the
        column indices of each block (see :func:`~sklearn_robust.base.check_blocks`). None
        means one block per column (coordinate-wise sparse corruption).

    autoencoder : skorch net, torch.nn.Module subclass or None, default=None
        The autoencoder, cloned and trained in :meth:`fit` on standardised clean features;
        its module must define ``encode`` and ``decode``. None builds
        :class:`~sklearn_robust.nets.AutoencoderNet` around an
        :class:`~sklearn_robust.nets.MLPAutoencoder`. Sizes left unset on a given net are
        filled from the data: ``module__n_features`` from ``X`` and ``module__latent_dim``
        by the rule in the Notes; set them to override (they are searchable as
        ``autoencoder__module__latent_dim``).

    tau : float, default=10.0
        Weight of the manifold term of stage 2. Above 1 the solution stays near the
        autoencoder's range; larger values make stage 2 a refinement of stage 1.

    trim_blocks : bool, default=True
        Sequential trimming between the stages: while some observed block of a row has a
        stage-1 residual above ``residual_threshold_`` and fewer than half of the row's
        observed blocks have been dropped, stage 1 is re-solved without each such block in
        turn and the drop whose remaining blocks fit best (relative to their thresholds)
        is kept. False solves the paper's objective as it stands.

    output : {"reconstruction", "replace"}, default="reconstruction"
        What :meth:`transform` returns. ``"reconstruction"``: ``D(E(l^))`` for every block,
        the paper's output. ``"replace"``: the received blocks judged clean pass through
        unchanged, and only the missing blocks and those judged corrupted (``corrupted`` of
        :meth:`purify`'s details) are replaced by their block of ``D(E(l^))``; the next step
        then sees exact clean blocks instead of their (lossy) reconstructions, which is
        worth several points of accuracy when the autoencoder reconstructs imperfectly. Pair
        it with a classifier trained on the raw clean features: in this mode
        ``fit_transform`` returns the clean training rows unchanged. A corruption too small
        to be judged corrupted passes through as well.

    detection : {"calibrated", "consistency", "residual"}, default="calibrated"
        How a received block is judged corrupted (trimmed, flagged, and replaced with
        ``output="replace"``). ``"calibrated"``: its residual ``||h_i - l^_i||`` exceeds
        ``residual_threshold_``, the ``1 - flag_rate`` quantile of the residuals the
        purifier leaves on clean training rows (about ``flag_rate`` of clean blocks are
        flagged). ``"consistency"``: the same, and also when the block disagrees with its
        reconstruction from the row's *other* blocks (a leave-one-out residual, which the
        block itself cannot influence) by more than ``consistency_threshold_``, calibrated
        the same way. ``"residual"``: the library's rule before calibration existed, three
        times the 99th percentile of the autoencoder's reconstruction residuals plus 1 % of
        the block's typical norm (much looser: an attacker may move a block by nearly its
        own norm unflagged). See the Notes for what each costs and buys.

    flag_rate : float, default=0.01
        Share of clean blocks the calibrated thresholds flag, in (0, 1); unused with
        ``detection="residual"``.

    max_iter : int, default=100
        Iteration cap of each stage (and of each re-solve after trimming a block), per row.

    tol : float, default=1e-3
        Relative decrease of a row's objective over 5 iterations below which its step size
        is halved; a row has converged once its step size fell below ``sqrt(tol) / 2`` times
        ``lr`` (so ``tol`` also sets the final precision). Converged rows stop costing
        anything. The defaults recover rows on an exactly reproduced subspace
        to a relative error below 1e-2; ``max_iter=500, tol=1e-6`` goes further, at five
        times the cost.

    lr : float, default=0.1
        Initial Adam step, as a fraction of a typical value of each coordinate (the latent
        code and the features are standardised by their training scale).

    batch_size : int, default=4096
        Rows purified together; bounds memory.

    device : str or torch.device, default="cpu"
        Device of the autoencoder and of the solver (e.g. ``"cuda"``).

    random_state : int, RandomState instance or None, default=None
        Seeds the autoencoder's initialisation and shuffling (when the net has no seed).

    verbose : int, default=0
        0 is silent; 1 shows a progress bar over purification batches; 2 also shows the
        autoencoder's training epochs.

    Attributes
    ----------
    autoencoder_ : skorch net
        The fitted autoencoder (trained on standardised features).

    layout_ : BlockLayout
        Validated block layout.

    latent_dim_ : int
        Width of the autoencoder's latent code.

    mean_ : ndarray of shape (n_features,)
        Column means of the training rows.

    scale_ : ndarray of shape (n_features,)
        Column standard deviations of the training rows.

    residual_threshold_ : ndarray of shape (n_blocks,)
        A block whose residual ``||h_i - l^_i||`` exceeds this is trimmed and reported as
        corrupted by :meth:`purify` (see ``detection``; never below 1 % of the block's
        typical norm).

    consistency_threshold_ : ndarray of shape (n_blocks,)
        Only with ``detection="consistency"``: the largest leave-one-out residual of a
        block judged consistent with the other blocks.

    unit_ : float
        Power of two the solver divides the features by (1.0 for any ordinary data): a
        training set holding a huge row gets a larger unit so that the float32 solver never
        overflows (the l2,1 objective's minimiser does not depend on the unit).

    n_features_in_ : int
        Number of features seen during :meth:`fit`.

    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during :meth:`fit`, defined only when ``X`` has feature names
        that are all strings.

    See Also
    --------
    ManifoldProjection : The baseline ``D(E(h))`` without purification.
    sklearn_robust.adversaries.FeatureFlip : The paper's flip attack on agents' blocks.

    Notes
    -----
    *Latent width.* Purification works only when the range of ``D o E`` is not much larger
    than the data's manifold: every extra latent dimension is freedom to fit a corrupted
    block, and the code must stay determined by the blocks left after dropping corrupted or
    missing ones. The default latent width is the number of principal components explaining
    90 % of the variance of the clean (standardised) features, capped at
    ``n_features - 2 * (widest block)`` so that any one block stays redundant. (On the
    digits agents, 99 % gave 16 of 32 dimensions and a flipped agent cost up to 40 points
    more than a missing one; 90 % gives 10 and a flipped agent costs what a missing one
    does.) Data on an exact low-dimensional subspace need the exact width: set
    ``module__latent_dim``.

    *Non-finite and huge values.* NaN anywhere in a block makes the block missing for that
    row: it never enters the data term. ``inf`` and values beyond the training range widened
    by 100 standard deviations are clipped to that bound: such a block is corrupted either
    way, and the minimiser of the l2,1 objective does not depend on how large a corrupted
    block is. The output is never NaN. A row with every block missing gets
    ``D(E(mean_))`` and a warning.

    *Trimming.* The l2,1 data term ignores a corrupted block only when the clean blocks
    can be fitted exactly. With a real autoencoder the clean blocks keep some residual, and
    every block, corrupted or not, then pulls on the solution with a unit-norm gradient:
    a corrupted block still drags the fit (on the digits agents, a flipped agent leaves the
    l2,1 solution far from the clean one although its residual singles it out every time).
    ``trim_blocks`` removes that drag, like the refit of the relaxed lasso: blocks whose
    residual exceeds ``residual_threshold_`` are dropped one at a time (each candidate is
    tried and the best refit kept: the worst residual is not always the corrupted block,
    since the drag can push a clean block's residual up), and never half or more of a
    row's observed blocks (the guarantee's limit). A dropped block is then treated exactly
    as a missing one. On data the autoencoder reproduces exactly, trimming changes nothing
    the guarantee covers.

    *Detection, under an adaptive attacker.* A block judged clean is used (its residual
    drags the fit, and with ``output="replace"`` it reaches the classifier as it is), so
    the attacker's room is what the detection lets through. Measured on the digits agents
    (``benchmarks/copur_adaptive.py``, agent 3 attacked by
    :class:`~sklearn_robust.adversaries.EnsembleAttack`, which queries the detection): on
    redundant agents (polyphase, local embedders, ``output="replace"``) the calibrated
    thresholds raise CoPur's accuracy from 9.2 % (``"residual"``) to 27.0 % (mean of 3
    seeds), for under a point of clean accuracy. In an exploratory run (one seed, a subset
    of the test rows; not in ``benchmarks/results``) ``flag_rate`` 0.05 did as well (31 %
    against 29 %), 0.1 worse (25 %), and the leave-one-out check (``"consistency"``) worse
    than calibration alone (23 %): it costs four extra stage-1 solves per row, drops honest
    blocks when an agent is missing (83 % against 95 % with agent 3 missing), and cannot
    reject the genuine block of another input, which is as consistent with the other
    agents as the true one. On the horizontal bands no detection helps: a band is
    not predictable from the others. Where detection cannot help, certification can: see
    :class:`RandomizedAblationClassifier` with ``n_keep=1, subsets="all"``.

    *Solver.* Both stages run batched over rows with smoothed block norms
    ``sqrt(||r||^2 + eps^2) - eps`` (no NaN gradient at zero), per-row Adam, per-row step
    decay and convergence, and return the best iterate each row reached.

    *Guarantee.* When the features lie on a linear subspace that the autoencoder
    reproduces and the blocks are redundant (every block's norm is a fixed share of the
    row's), corrupting fewer than half of the observed blocks by any amount leaves the
    minimiser at the clean row (Theorems 1-2 of the paper); the tests check recovery.

    References
    ----------
    .. [1] J. Liu, C. Xie, O. Koyejo and B. Li, "CoPur: Certifiably Robust Collaborative
       Inference via Feature Purification", NeurIPS 2022.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_robust.estimators import CoPurTransformer
    >>> from sklearn_robust.nets import AutoencoderNet
    >>> rng = np.random.RandomState(0)
    >>> X = rng.standard_normal((300, 2)) @ rng.standard_normal((2, 8))
    >>> ae = AutoencoderNet(module__latent_dim=2, module__hidden_layer_sizes=(),
    ...                     lr=1e-2, max_epochs=200, random_state=0)
    >>> copur = CoPurTransformer(blocks=4, autoencoder=ae, random_state=0).fit(X)
    >>> h = X[:5].copy()
    >>> h[:, 6:] *= -10                      # the last agent flips its block
    >>> purified, details = copur.purify(h, return_details=True)
    >>> details.corrupted.any(axis=0)        # only the flipped agent is flagged
    array([False, False, False,  True])
    >>> bool(np.allclose(purified, X[:5], atol=1e-3))   # and the clean rows come back
    True
    """

    _parameter_constraints = {
        **_BaseAutoencoderDefense._parameter_constraints,
        "tau": [Interval(numbers.Real, 0, None, closed="left")],
        "trim_blocks": ["boolean"],
        "output": [StrOptions({"reconstruction", "replace"})],
        "detection": [StrOptions({"residual", "calibrated", "consistency"})],
        "flag_rate": [Interval(numbers.Real, 0, 1, closed="neither")],
        "max_iter": [Interval(numbers.Integral, 1, None, closed="left")],
        "tol": [Interval(numbers.Real, 0, None, closed="left")],
        "lr": [Interval(numbers.Real, 0, None, closed="neither")],
        "batch_size": [Interval(numbers.Integral, 1, None, closed="left")],
    }

    def __init__(
        self,
        *,
        blocks=None,
        autoencoder=None,
        tau=10.0,
        trim_blocks=True,
        output="reconstruction",
        detection="calibrated",
        flag_rate=0.01,
        max_iter=100,
        tol=1e-3,
        lr=0.1,
        batch_size=4096,
        device="cpu",
        random_state=None,
        verbose=0,
    ):
        self.blocks = blocks
        self.autoencoder = autoencoder
        self.tau = tau
        self.trim_blocks = trim_blocks
        self.output = output
        self.detection = detection
        self.flag_rate = flag_rate
        self.max_iter = max_iter
        self.tol = tol
        self.lr = lr
        self.batch_size = batch_size
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    def _fit(self, X):
        X_train = super()._fit(X)
        if self.detection == "residual":
            return X_train
        # Calibration: the detection thresholds are quantiles of what the purifier measures
        # on clean rows (a subsample of the training rows), so that a clean block is flagged
        # with probability about flag_rate.
        rng = check_random_state(self.random_state)
        rows = X_train
        if rows.shape[0] > _CALIBRATION_ROWS:
            rows = rows[np.sort(rng.choice(rows.shape[0], _CALIBRATION_ROWS, replace=False))]
        level = 1.0 - float(self.flag_rate)
        floor = _FLAG_FLOOR * _block_norms(self.scale_[None, :], self.layout_)[0]
        _, details = self._purify(rows, True, consistency=False)
        self.residual_threshold_ = np.maximum(
            np.nanquantile(details.residuals, level, axis=0), floor
        )
        if self.detection == "consistency":
            self.consistency_threshold_ = np.full(self.layout_.n_blocks, np.inf)
            _, details = self._purify(rows, True, consistency=True)
            self.consistency_threshold_ = np.maximum(
                np.nanquantile(details.consistency, level, axis=0), floor
            )
        return X_train

    def fit_transform(self, X, y=None):
        """Fit on clean features and return their reconstructions ``D(E(X))``.

        The next pipeline step is thereby trained on autoencoder outputs, the features that
        :meth:`transform` produces at inference. Rows with missing or non-finite blocks are
        purified instead. With ``output="replace"`` the complete rows are returned
        unchanged (clean blocks pass through at inference too).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Clean (embedded) features.
        y : None
            Ignored.

        Returns
        -------
        X_out : ndarray of shape (n_samples, n_features)
            ``D(E(X))`` (``X`` with ``output="replace"``) for complete rows, purified rows
            otherwise.
        """
        self.fit(X)
        X = self._validate_transform_input(X)
        complete = np.isfinite(X).all(axis=1)
        if self.output == "replace":
            out = np.array(X, copy=True)
            if not complete.all():
                out[~complete] = self.purify(X[~complete])
            return out
        out = self._to_output(
            self._reconstruct_array(np.where(complete[:, None], X, self.mean_), self.batch_size),
            X.dtype,
        )
        if not complete.all():
            out[~complete] = self.purify(X[~complete])
        return out

    def transform(self, X):
        """Purify received features: the solution of the CoPur objective, ``D(E(l^))``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Received features. NaN blocks are missing; inf and huge values are corruption.

        Returns
        -------
        X_out : ndarray of shape (n_samples, n_features)
            Purified features, in the input's float dtype (see ``output``). Never NaN.
        """
        return self.purify(X)

    def purify(self, X, *, return_details=False):
        """Purify ``X`` and, optionally, report which agents look corrupted.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Received features.
        return_details : bool, default=False
            Also return a :class:`~sklearn.utils.Bunch` of diagnostics.

        Returns
        -------
        X_out : ndarray of shape (n_samples, n_features)
            ``D(E(l^))``, or with ``output="replace"`` the received blocks judged clean and
            ``D(E(l^))`` elsewhere: as :meth:`transform`.
        details : Bunch
            Only when ``return_details``:

            * ``l_hat`` -- the stage-2 solutions ``l^`` (n_samples, n_features);
            * ``residuals`` -- ``||h_i - l^_i||`` per block (n_samples, n_blocks), inf for
              blocks holding inf, NaN for missing blocks;
            * ``observed`` -- True where a block was received;
            * ``consistency`` -- with ``detection="consistency"``, the leave-one-out
              residual ``||h_i - D(z_{-i})_i||`` of each block against its reconstruction
              from the row's other kept blocks (n_samples, n_blocks); NaN otherwise, and for
              missing blocks;
            * ``corrupted`` -- True where an observed block was trimmed, its residual
              exceeds ``residual_threshold_`` or (with ``detection="consistency"``) its
              leave-one-out residual exceeds ``consistency_threshold_``: the agents judged
              attacked;
            * ``n_iter`` -- iterations of stages 1 and 2 per row (n_samples, 2); stage 1
              counts its re-solves (trimming, leave-one-out).
        """
        X = self._validate_transform_input(X)
        return self._purify(X, return_details)

    def _purify(self, X, return_details, *, consistency=None):
        """:meth:`purify` on validated ``X``; ``consistency`` overrides the LOO check."""
        observed, H = self._received(X)
        empty = self._warn_empty_rows(observed)
        n_samples, n_features = X.shape
        l_hat = np.empty((n_samples, n_features), dtype=np.float64)
        out = np.empty(X.shape, dtype=X.dtype)
        n_iter = np.zeros((n_samples, 2), dtype=np.int64)
        kept = observed.copy()
        loo = np.full(observed.shape, np.nan)
        constants = self._constants()
        onehot = _onehot(self.layout_, constants["mean"])
        encode, decode = self._codec(constants)
        eps = 1e-6 * float(np.mean(self.scale_)) / self.unit_
        batches = list(_batches(n_samples, self.batch_size))
        threshold = self._units(self.residual_threshold_) if self.trim_blocks else None
        if consistency is None:
            consistency = self.detection == "consistency"
        consistency_threshold = self._units(self.consistency_threshold_) if consistency else None
        for rows in tqdm(batches, desc="CoPur purification", disable=not self.verbose):
            h = self._units(H[rows])
            obs = self._to_tensor(observed[rows])
            l_batch, out_batch, it, kept_batch, loo_batch = purify_batch(
                h,
                obs,
                onehot,
                encode,
                decode,
                z_center=constants["latent_center"],
                z_scale=constants["latent_scale"],
                x_scale=constants["scale"],
                tau=float(self.tau),
                lr=float(self.lr),
                max_iter=int(self.max_iter),
                tol=float(self.tol),
                eps=eps,
                threshold=threshold,
                fill=constants["mean"],
                consistency_threshold=consistency_threshold,
            )
            l_hat[rows] = self._to_output(
                l_batch.cpu().numpy().astype(np.float64) * self.unit_, np.float64
            )
            out[rows] = self._to_output(
                out_batch.cpu().numpy().astype(np.float64) * self.unit_, X.dtype
            )
            n_iter[rows] = it.cpu().numpy()
            kept[rows] = kept_batch.cpu().numpy() > 0
            loo[rows] = loo_batch.cpu().numpy()
        if empty.any():
            out[empty] = self._to_output(self._reconstruct_array(self.mean_[None, :]), X.dtype)
            l_hat[empty] = self.mean_
        if not return_details and self.output == "reconstruction":
            return out
        residuals = _block_norms(np.asarray(X, dtype=np.float64) - l_hat, self.layout_)
        residuals[~observed] = np.nan
        corrupted = observed & (
            ~kept | (np.nan_to_num(residuals, nan=0.0) > self.residual_threshold_)
        )
        if consistency:
            corrupted |= observed & (np.nan_to_num(loo, nan=0.0) > self.consistency_threshold_)
        if self.output == "replace":
            trusted = self.layout_.column_mask(observed & ~corrupted)
            out = np.where(trusted, X, out)
        if not return_details:
            return out
        details = Bunch(
            l_hat=l_hat,
            residuals=residuals,
            consistency=loo,
            observed=observed,
            corrupted=corrupted,
            n_iter=n_iter,
        )
        return out, details

    def _torch_forward(self, X):
        """Purified features as a tensor, differentiable for white-box attacks.

        The forward value is the exact purification; the backward pass goes through the
        differentiable surrogate ``D(E(.))`` (a straight-through, BPDA-style estimate:
        purification's own iterations are not unrolled); with ``output="replace"`` the
        blocks passed through unchanged are differentiated as the identity.
        """
        surrogate = self._torch_project(X)
        received = X.detach().cpu().double().numpy()
        if self.output == "replace":
            purified, details = self.purify(received, return_details=True)
            trusted = self.layout_.column_mask(details.observed & ~details.corrupted)
            trusted = torch.as_tensor(trusted, device=surrogate.device)
            # passed-through blocks are the identity, so their gradient is exact
            surrogate = torch.where(trusted, X.to(surrogate.device, surrogate.dtype), surrogate)
        else:
            purified = self.purify(received)
        purified = torch.as_tensor(purified, dtype=surrogate.dtype, device=surrogate.device)
        return surrogate + (purified - surrogate).detach()
