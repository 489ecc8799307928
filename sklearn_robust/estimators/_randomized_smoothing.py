"""RandomizedSmoothingClassifier: Gaussian randomized smoothing (Cohen et al., 2019)."""

import numbers

import numpy as np
import torch
from scipy.stats import beta, norm
from sklearn.base import BaseEstimator, ClassifierMixin, MetaEstimatorMixin, _fit_context, clone
from sklearn.linear_model import LogisticRegression
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import HasMethods, Interval
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data
from tqdm.auto import tqdm

from sklearn_robust._differentiable import check_differentiable, differentiable_forward
from sklearn_robust._layout import check_blocks
from sklearn_robust._random import _numpy_generator

# Noise draws of the surrogate forward pass that gradient attacks differentiate.
_EOT_DRAWS = 32

# --------------------------------------------------------------------------------------------
# Maths: arrays in, arrays out, an explicit generator, no validation.
# --------------------------------------------------------------------------------------------


def _noise_augment(X, y, columns, sigma, n_copies, rng):
    """Stack ``n_copies`` copies of ``X`` with N(0, sigma^2) noise on ``columns`` only.

    Returns new arrays (``X`` is not modified) of ``n_copies * n_samples`` rows; ``y`` is
    repeated in the same order.
    """
    X_aug = np.tile(X, (n_copies, 1))
    noise = rng.standard_normal((X_aug.shape[0], columns.size))
    X_aug[:, columns] += (sigma * noise).astype(X.dtype, copy=False)
    return X_aug, np.tile(y, n_copies)


def _row_seeds(rng, n_rows, n_streams=1):
    """Independent seeds of the noise of every row: shape ``(n_rows, n_streams)``.

    Drawn once from ``rng`` in row order, so row ``i``'s noise depends only on the
    generator and on ``i`` (not on the batch size): every row gets its own draws, and rows
    fail independently instead of together.
    """
    return rng.integers(0, np.iinfo(np.int64).max, size=(n_rows, n_streams))


def _vote_counts(predict, X, seeds, sigma, n_draws, columns, n_classes, classes, batch_size,
                 verbose=False):
    """Votes of ``predict`` over ``X[i] + sigma * eps_is`` (noise on ``columns``), per row.

    Row ``i``'s ``n_draws`` Gaussian draws come from its own generator seeded by
    ``seeds[i]``: independent across rows, and the votes of a row do not depend on the
    batch size. ``predict`` is called on at most ``batch_size`` noisy rows at a time (the
    noise of one chunk is drawn for that chunk only: memory ``O(batch_size * n_features)``).
    Returns int64 counts of shape ``(n_samples, n_classes)``, columns ordered like
    ``classes`` (sorted).
    """
    n_rows = X.shape[0]
    counts = np.zeros((n_rows, n_classes), dtype=np.int64)
    draws_per_chunk = min(n_draws, batch_size)
    rows_per_chunk = max(1, batch_size // draws_per_chunk)
    row_starts = range(0, n_rows, rows_per_chunk)
    generators = [np.random.default_rng(int(seed)) for seed in seeds]
    for start in tqdm(row_starts, desc="smoothing votes", disable=not verbose):
        rows = X[start : start + rows_per_chunk]
        for s in range(0, n_draws, draws_per_chunk):
            size = min(draws_per_chunk, n_draws - s)
            eps = np.concatenate(
                [
                    generators[start + r].standard_normal((size, columns.size))
                    for r in range(rows.shape[0])
                ]
            )
            batch = np.repeat(rows, size, axis=0)
            batch[:, columns] += (sigma * eps).astype(X.dtype, copy=False)
            labels = np.asarray(predict(batch))
            index = np.searchsorted(classes, labels).reshape(rows.shape[0], size)
            for k in range(n_classes):
                counts[start : start + rows.shape[0], k] += (index == k).sum(axis=1)
    return counts


def _clopper_pearson_lower(k, n, alpha):
    """One-sided (1 - alpha) Clopper-Pearson lower bound on a binomial proportion k / n."""
    k = np.asarray(k, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        lower = beta.ppf(alpha, k, n - k + 1)
    return np.where(k > 0, lower, 0.0)


def _certified_radius(counts_selection, counts_estimation, sigma, alpha):
    """Cohen et al.'s CERTIFY from the two independent vote counts.

    The top class is chosen on ``counts_selection`` (ties to the lowest index); its
    probability is bounded below from ``counts_estimation`` with a one-sided Clopper-Pearson
    bound ``p_lower``. Returns ``(top, radius, p_lower)`` where ``radius = sigma *
    Phi^{-1}(p_lower)`` when ``p_lower > 1/2`` and 0 (abstain) otherwise.
    """
    top = np.argmax(counts_selection, axis=1)
    n = counts_estimation.sum(axis=1)
    k = counts_estimation[np.arange(top.size), top]
    p_lower = _clopper_pearson_lower(k, n, alpha)
    certified = p_lower > 0.5
    radius = np.zeros(top.size, dtype=np.float64)
    radius[certified] = sigma * norm.ppf(p_lower[certified])
    return top, radius, p_lower


# --------------------------------------------------------------------------------------------
# Estimator
# --------------------------------------------------------------------------------------------


def _seeded_clone(estimator, random_state):
    """A clone of ``estimator`` whose unset ``random_state`` parameters (nested ones too)
    get seeds drawn from ``random_state``, so that an int seed of the meta-estimator makes
    the whole fit reproducible; None leaves them unset (fresh randomness, as before)."""
    estimator = clone(estimator)
    if random_state is None:
        return estimator
    rng = check_random_state(random_state)
    params = estimator.get_params(deep=True)
    seeds = {
        key: int(rng.randint(np.iinfo(np.int32).max))
        for key in sorted(params)
        if (key == "random_state" or key.endswith("__random_state")) and params[key] is None
    }
    return estimator.set_params(**seeds) if seeds else estimator


def _check_noise_blocks(noise_blocks, n_blocks):
    """Sorted unique block indices from ``noise_blocks`` (None: all blocks)."""
    if noise_blocks is None:
        return np.arange(n_blocks)
    arr = np.asarray(noise_blocks)
    if arr.ndim != 1 or arr.size == 0 or not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(
            "noise_blocks must be a non-empty 1-D list of block indices (ints); got "
            f"{noise_blocks!r}. Pass e.g. noise_blocks=[0, 2], or None for all blocks."
        )
    bad = arr[(arr < 0) | (arr >= n_blocks)]
    if bad.size:
        raise ValueError(
            f"noise_blocks must hold block indices in [0, {n_blocks}) (the layout has "
            f"{n_blocks} blocks); got out-of-range indices {bad.tolist()}."
        )
    if np.unique(arr).size != arr.size:
        raise ValueError(f"noise_blocks lists a block more than once: {arr.tolist()}.")
    return np.sort(arr)


class RandomizedSmoothingClassifier(MetaEstimatorMixin, ClassifierMixin, BaseEstimator):
    """Gaussian randomized smoothing of a classifier, with l2 certificates.

    The smoothed classifier ``g(x) = argmax_c P(f(x + eps) = c)``, ``eps ~ N(0, sigma^2 I)``,
    of Cohen, Rosenfeld & Kolter [1]_: a baseline defense of the CoPur paper [2]_. ``fit``
    trains a clone of the base classifier ``f`` on noise-augmented data; :meth:`predict` is a
    Monte Carlo majority vote of ``f`` over ``n_samples`` noisy copies of each row, and
    :meth:`certify` returns, for each row, a prediction and an l2 radius within which it
    provably does not change (with probability at least ``1 - alpha`` over the noise).

    With ``blocks`` and ``noise_blocks``, noise goes only to the columns of the chosen blocks
    (agents): the CoPur paper's "block" variant. The certificate then covers perturbations of
    those columns only, measured in their l2 norm; the other columns are passed unchanged.

    Parameters
    ----------
    estimator : classifier, default=None
        Base classifier ``f`` (anything with ``fit`` and ``predict``); cloned in :meth:`fit`.
        None means ``LogisticRegression()``.
    sigma : float, default=0.25
        Standard deviation of the Gaussian noise, > 0. Larger values certify larger radii
        at the cost of clean accuracy.
    n_noise_copies : int, default=1
        Number of noisy copies of each training row the base classifier is fitted on (noise
        augmentation). Each copy gets its own noise draw.
    n_samples : int, default=100
        Number of noise draws per row in :meth:`predict` and :meth:`predict_proba`, and the
        selection draws (``n0`` in [1]_) of :meth:`certify`.
    n_samples_certify : int, default=1000
        Number of noise draws per row (``n`` in [1]_) used by :meth:`certify` to bound the
        probability of the selected class. The largest certifiable radius grows with it.
    alpha : float, default=0.001
        Failure probability of the certificate, in (0, 1).
    blocks : int, list of int, list of array-like of int or None, default=None
        Layout of the agents' feature blocks, see :func:`sklearn_robust.base.check_blocks`;
        None means one block per column.
    noise_blocks : array-like of int or None, default=None
        Indices of the blocks that receive noise; None means all blocks (plain randomized
        smoothing).
    batch_size : int, default=10000
        Most noisy rows passed to the base classifier at once (rows times draws), which
        bounds memory.
    random_state : int, RandomState instance or None, default=None
        Seed of the noise, and of the base classifier's unset ``random_state`` parameters
        (with an int, the whole fit is reproducible). Every row gets its own, independent
        draws (see the Notes); with
        an int, :meth:`predict`, :meth:`predict_proba` and :meth:`certify` give the same
        result on the same ``X`` at every call.
    verbose : int, default=0
        Show a progress bar over row batches when positive.

    Attributes
    ----------
    estimator_ : classifier
        The fitted clone of the base classifier.
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    noise_columns_ : ndarray of int
        Sorted indices of the columns that receive noise.
    n_features_in_ : int
        Number of features seen during :meth:`fit`.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during :meth:`fit`, defined only when ``X`` has feature names
        that are all strings.

    See Also
    --------
    RandomizedAblationClassifier : Certified robustness to a number of arbitrary agents by
        voting over random subsets of agents.
    CoPurTransformer : Purification of missing or arbitrarily corrupted agents.

    Notes
    -----
    :meth:`predict` returns the plurality class of the votes (ties go to the first class in
    ``classes_``) and never abstains, so it stays a scikit-learn classifier; abstentions are
    reported by :meth:`certify` as a radius of 0. :meth:`certify` draws its selection noise
    exactly like :meth:`predict` (same generator state), so, with an int ``random_state``,
    its predictions equal :meth:`predict`'s.

    *Independent noise per row.* Each row's draws come from its own generator, seeded by
    a per-row seed drawn from ``random_state`` in row order. Sharing one noise matrix
    between all rows would make every row's guarantee hold but the rows fail *together*
    (a test-set average then varies several times more between seeds); with independent
    draws the failures of different rows are independent. Row ``i``'s draws depend on
    ``random_state`` and on its position ``i`` only, so the batch size changes nothing,
    but predicting a subset of rows draws other noise for them. The noise of one chunk of
    ``batch_size`` noisy rows is drawn at a time, so memory stays ``O(batch_size *
    n_features)``; drawing ``n_samples`` Gaussian vectors per row instead of ``n_samples``
    in total is the price. Measured with a logistic-regression base on 540 rows
    (``benchmarks/copur_smoothing_noise.py``): 1.6-1.9 times the time of one shared
    matrix and 1.35 times its peak memory; a costlier base classifier dilutes both.

    The guarantee of :meth:`certify` is per row: with probability at least ``1 - alpha``,
    the smoothed classifier ``g`` predicts the returned class on every ``x + delta`` with
    ``||delta[noise_columns_]||_2 < radius`` and ``delta`` zero elsewhere. A Monte Carlo
    :meth:`predict` estimates ``g``; it is exact only as ``n_samples`` grows.

    Inputs must be finite: put an imputer or a
    :class:`~sklearn_robust.estimators.CoPurTransformer` first for missing agents.

    References
    ----------
    .. [1] J. Cohen, E. Rosenfeld and Z. Kolter, "Certified Adversarial Robustness via
       Randomized Smoothing", ICML 2019.
    .. [2] J. Liu, C. Xie, O. Koyejo and B. Li, "CoPur: Certifiably Robust Collaborative
       Inference via Feature Purification", NeurIPS 2022.

    Examples
    --------
    >>> from sklearn.datasets import make_blobs
    >>> from sklearn_robust.estimators import RandomizedSmoothingClassifier
    >>> X, y = make_blobs(n_samples=100, centers=[[-2, 0], [2, 0]], random_state=0)
    >>> clf = RandomizedSmoothingClassifier(sigma=0.5, random_state=0).fit(X, y)
    >>> clf.predict([[-2.0, 0.0], [2.0, 0.0]])
    array([0, 1])
    >>> y_pred, radius = clf.certify([[-0.5, 0.0], [-1.0, 0.0]])
    >>> y_pred
    array([0, 0])
    >>> bool(0 < radius[0] < radius[1])
    True
    """

    _parameter_constraints = {
        "estimator": [HasMethods(["fit", "predict"]), None],
        "sigma": [Interval(numbers.Real, 0, None, closed="neither")],
        "n_noise_copies": [Interval(numbers.Integral, 1, None, closed="left")],
        "n_samples": [Interval(numbers.Integral, 1, None, closed="left")],
        "n_samples_certify": [Interval(numbers.Integral, 1, None, closed="left")],
        "alpha": [Interval(numbers.Real, 0, 1, closed="neither")],
        "blocks": [Interval(numbers.Integral, 1, None, closed="left"), "array-like", None],
        "noise_blocks": ["array-like", None],
        "batch_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        estimator=None,
        *,
        sigma=0.25,
        n_noise_copies=1,
        n_samples=100,
        n_samples_certify=1000,
        alpha=0.001,
        blocks=None,
        noise_blocks=None,
        batch_size=10000,
        random_state=None,
        verbose=0,
    ):
        self.estimator = estimator
        self.sigma = sigma
        self.n_noise_copies = n_noise_copies
        self.n_samples = n_samples
        self.n_samples_certify = n_samples_certify
        self.alpha = alpha
        self.blocks = blocks
        self.noise_blocks = noise_blocks
        self.batch_size = batch_size
        self.random_state = random_state
        self.verbose = verbose

    def _generator(self):
        return _numpy_generator(self.random_state)

    @_fit_context(
        # a meta-estimator: its nested estimator's parameters are validated too
        prefer_skip_nested_validation=False
    )
    def fit(self, X, y):
        """Fit a clone of the base classifier on noise-augmented ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Finite training features. Never modified.
        y : array-like of shape (n_samples,)
            Class labels.

        Returns
        -------
        self : RandomizedSmoothingClassifier
            The fitted classifier.
        """
        X, y = validate_data(self, X, y, dtype=[np.float64, np.float32])
        check_classification_targets(y)
        layout = check_blocks(self.blocks, X.shape[1])
        chosen = _check_noise_blocks(self.noise_blocks, layout.n_blocks)
        self.noise_columns_ = layout.columns(chosen)
        self.classes_ = np.unique(y)
        X_aug, y_aug = _noise_augment(
            X, y, self.noise_columns_, self.sigma, self.n_noise_copies, self._generator()
        )
        base = LogisticRegression() if self.estimator is None else self.estimator
        self.estimator_ = _seeded_clone(base, self.random_state).fit(X_aug, y_aug)
        return self

    def _validated(self, X):
        check_is_fitted(self)
        return validate_data(self, X, reset=False, dtype=[np.float64, np.float32])

    def _counts(self, X, seeds, n_draws):
        return _vote_counts(
            self.estimator_.predict,
            X,
            seeds,
            self.sigma,
            n_draws,
            self.noise_columns_,
            self.classes_.size,
            self.classes_,
            self.batch_size,
            verbose=bool(self.verbose),
        )

    def _torch_forward(self, X):
        """Expectation-over-transformation surrogate of the smoothed classifier (a tensor).

        For gradient attacks: ``log`` of the mean softmax of the base classifier's logits
        over ``min(n_samples, 32)`` fixed noise draws (shared by all rows, drawn from
        ``random_state``), differentiable when the base classifier is (see
        :mod:`sklearn_robust._differentiable`). Its arg-max estimates :meth:`predict`;
        attacks take gradients from it and judge their success with :meth:`predict`.
        """
        check_is_fitted(self)
        check_differentiable(self.estimator_)
        n_draws = min(self.n_samples, _EOT_DRAWS)
        noise = self.sigma * self._generator().standard_normal(
            (n_draws, self.noise_columns_.size)
        )
        n = X.shape[0]
        columns = torch.as_tensor(self.noise_columns_, device=X.device)
        noisy = X.repeat_interleave(n_draws, dim=0).index_add(
            1, columns, torch.as_tensor(noise, dtype=X.dtype, device=X.device).repeat(n, 1)
        )
        logits = differentiable_forward(self.estimator_, noisy)
        proba = torch.softmax(logits, dim=1).reshape(n, n_draws, -1).mean(dim=1)
        return torch.log(proba + torch.finfo(proba.dtype).tiny)

    def predict_proba(self, X):
        """Vote frequencies of the base classifier under noise.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Finite features.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Fraction of the ``n_samples`` noisy copies of each row that the base classifier
            assigns to each class, columns ordered like ``classes_``.
        """
        X = self._validated(X)
        seeds = _row_seeds(self._generator(), X.shape[0], 2)
        counts = self._counts(X, seeds[:, 0], self.n_samples)
        return counts / self.n_samples

    def predict(self, X):
        """Majority vote of the base classifier over noisy copies of each row.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Finite features.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            The class with the most votes (ties: the first in ``classes_``); never abstains.
        """
        proba = self.predict_proba(X)  # checks that the classifier is fitted
        return self.classes_[np.argmax(proba, axis=1)]

    def certify(self, X):
        """Predict and certify an l2 radius per row (Cohen et al.'s CERTIFY).

        ``n_samples`` draws select the top class; ``n_samples_certify`` independent draws
        give a one-sided Clopper-Pearson lower bound ``p_lower`` on its probability at level
        ``alpha``; the radius is ``sigma * Phi^{-1}(p_lower)``, or 0 (abstain) when
        ``p_lower <= 1/2``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Finite features.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            Selected class of each row (equal to :meth:`predict` with an int
            ``random_state``); meaningful as a certified prediction only where
            ``radius > 0``.
        radius : ndarray of shape (n_samples,)
            Certified l2 radius (over ``noise_columns_``); exactly 0 marks an abstention.
        """
        X = self._validated(X)
        seeds = _row_seeds(self._generator(), X.shape[0], 2)
        counts_selection = self._counts(X, seeds[:, 0], self.n_samples)
        counts_estimation = self._counts(X, seeds[:, 1], self.n_samples_certify)
        top, radius, _ = _certified_radius(
            counts_selection, counts_estimation, self.sigma, self.alpha
        )
        return self.classes_[top], radius
