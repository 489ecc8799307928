"""RandomizedAblationClassifier: voting over random subsets of agents (Levine & Feizi)."""

import itertools
import math
import numbers

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin, MetaEstimatorMixin, _fit_context
from sklearn.linear_model import LogisticRegression
from sklearn.utils._param_validation import HasMethods, Interval, RealNotInt, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data
from tqdm.auto import tqdm

from sklearn_robust._counts import count_from_fraction
from sklearn_robust._differentiable import check_differentiable, differentiable_forward
from sklearn_robust._layout import check_blocks
from sklearn_robust._random import _numpy_generator
from sklearn_robust.estimators._randomized_smoothing import _clopper_pearson_lower, _seeded_clone

# --------------------------------------------------------------------------------------------
# Maths: arrays in, arrays out, an explicit generator, no validation.
# --------------------------------------------------------------------------------------------


def _random_keep_masks(n_masks, n_blocks, n_keep, rng):
    """``(n_masks, n_blocks)`` boolean masks, each with ``n_keep`` uniformly chosen True."""
    order = np.argsort(rng.random((n_masks, n_blocks)), axis=1)
    keep = np.zeros((n_masks, n_blocks), dtype=bool)
    np.put_along_axis(keep, order[:, :n_keep], True, axis=1)
    return keep


def _all_keep_masks(n_blocks, n_keep):
    """Every subset of ``n_keep`` of the ``n_blocks`` agents: ``(C(M, k), M)`` bool masks."""
    subsets = list(itertools.combinations(range(n_blocks), n_keep))
    keep = np.zeros((len(subsets), n_blocks), dtype=bool)
    for row, subset in enumerate(subsets):
        keep[row, list(subset)] = True
    return keep


def _subset_votes(predict, X, observed, masks, block_of_column, fill_values, classes,
                  batch_size):
    """Class index voted by each subset for each row: int array ``(n_samples, n_masks)``."""
    n_rows, n_masks = X.shape[0], masks.shape[0]
    votes = np.empty((n_rows, n_masks), dtype=np.intp)
    rows_per_chunk = max(1, batch_size // n_masks)
    for start in range(0, n_rows, rows_per_chunk):
        stop = min(start + rows_per_chunk, n_rows)
        keep = np.repeat(observed[start:stop], n_masks, axis=0)
        keep &= np.tile(masks, (stop - start, 1))
        batch = _ablate(
            np.repeat(X[start:stop], n_masks, axis=0), keep, block_of_column, fill_values
        )
        labels = np.asarray(predict(batch))
        votes[start:stop] = np.searchsorted(classes, labels).reshape(stop - start, n_masks)
    return votes


def _exact_certificate(votes, masks, n_classes, top):
    """Largest number of agents whose arbitrary corruption cannot change ``top``.

    ``votes`` ``(n, S)`` are the classes voted by *every* subset ``masks`` ``(S, M)`` of
    ``n_keep`` agents; the prediction is the plurality (ties to the lowest class). A set
    ``T`` of corrupted agents can change exactly the votes of the subsets that contain one
    of its agents. ``top`` is certified against ``t`` agents when, for every ``T`` of
    size ``t``, the votes of the subsets disjoint from ``T`` keep it ahead of every other
    class even if all the other votes go to that class. Returns int ``(n,)``, at most
    ``M - n_keep`` (beyond that every subset can be reached).
    """
    n, n_masks = votes.shape
    n_blocks = masks.shape[1]
    onehot = np.zeros((n, n_masks, n_classes), dtype=np.int64)
    onehot[np.arange(n)[:, None], np.arange(n_masks)[None, :], votes] = 1
    certified = np.zeros(n, dtype=np.int64)
    alive = np.ones(n, dtype=bool)
    classes = np.arange(n_classes)
    for t in range(1, n_blocks + 1):
        ok = alive.copy()
        for corrupted in itertools.combinations(range(n_blocks), t):
            touched = masks[:, list(corrupted)].any(axis=1)
            counts = onehot[:, ~touched].sum(axis=1)  # (n, C) votes T cannot change
            n_touch = int(touched.sum())
            own = counts[np.arange(n), top]
            lead = own[:, None] - counts - n_touch
            # Ahead of class B: strictly, or tied and earlier (ties go to the lowest class).
            ahead = (lead > 0) | ((lead == 0) & (top[:, None] < classes[None, :]))
            ahead[np.arange(n), top] = True
            ok &= ahead.all(axis=1)
        certified[ok] = t
        alive = ok
        if not alive.any():
            break
    return certified


def _ablate(X, keep, block_of_column, fill_values):
    """Ablated copy of ``X`` with one indicator column per block appended.

    ``keep`` ``(n_samples, n_blocks)`` tells which blocks are kept (it must be False for
    blocks holding NaN). Columns of the other blocks are replaced by ``fill_values``; the
    appended indicators are 1 for kept blocks and 0 for ablated ones. Returns a new array of
    shape ``(n_samples, n_features + n_blocks)`` in ``X``'s dtype.
    """
    kept_columns = keep[:, block_of_column]
    features = np.where(kept_columns, X, fill_values).astype(X.dtype, copy=False)
    return np.hstack([features, keep.astype(X.dtype)])


def _ablation_votes(
    predict, X, observed, masks, block_of_column, fill_values, classes, batch_size, verbose=False
):
    """Votes of ``predict`` over the ablations of each row of ``X`` by ``masks``.

    ``masks`` ``(n_draws, n_blocks)`` are shared by all rows (common random numbers); blocks
    not ``observed`` (NaN) in a row are ablated whatever the mask. ``predict`` sees at most
    ``batch_size`` ablated rows at a time. Returns int64 counts ``(n_samples, n_classes)``.
    """
    n_rows, n_draws = X.shape[0], masks.shape[0]
    counts = np.zeros((n_rows, classes.size), dtype=np.int64)
    draws_per_chunk = min(n_draws, batch_size)
    rows_per_chunk = max(1, batch_size // draws_per_chunk)
    row_starts = range(0, n_rows, rows_per_chunk)
    for start in tqdm(row_starts, desc="ablation votes", disable=not verbose):
        stop = min(start + rows_per_chunk, n_rows)
        for s in range(0, n_draws, draws_per_chunk):
            chunk = masks[s : s + draws_per_chunk]
            n_chunk = chunk.shape[0]
            keep = np.repeat(observed[start:stop], n_chunk, axis=0)
            keep &= np.tile(chunk, (stop - start, 1))
            batch = _ablate(
                np.repeat(X[start:stop], n_chunk, axis=0), keep, block_of_column, fill_values
            )
            labels = np.asarray(predict(batch))
            index = np.searchsorted(classes, labels).reshape(stop - start, n_chunk)
            for k in range(classes.size):
                counts[start:stop, k] += (index == k).sum(axis=1)
    return counts


# --------------------------------------------------------------------------------------------
# Estimator
# --------------------------------------------------------------------------------------------


class RandomizedAblationClassifier(MetaEstimatorMixin, ClassifierMixin, BaseEstimator):
    """Majority vote of a classifier over random subsets of agents (randomized ablation).

    Levine & Feizi's randomized ablation [1]_, adapted to agents (feature blocks) as a
    baseline defense of the CoPur paper [2]_: each prediction only looks at ``n_keep``
    randomly chosen agents; the others are *ablated*. An adversary controlling a few agents
    then only influences the votes whose subset contains one of them.

    Ablation is explicit, so the base classifier can tell "ablated" from "value 0": the
    columns of an ablated agent are set to ``0`` (or to their training mean, see ``fill``)
    **and** one indicator column per agent is appended to the features (1 = kept,
    0 = ablated). The base classifier is thus fitted and queried on
    ``n_features_in_ + n_blocks`` columns. Agents whose block holds NaN (missing) are
    always ablated.

    Parameters
    ----------
    estimator : classifier, default=None
        Base classifier (anything with ``fit`` and ``predict``); cloned in :meth:`fit`.
        None means ``LogisticRegression()``.
    blocks : int, list of int, list of array-like of int or None, default=None
        Layout of the agents' feature blocks, see :func:`sklearn_robust.base.check_blocks`;
        None means one agent per column.
    n_keep : int or float, default=0.5
        Number of agents kept in each ablated copy (int, at most the number of agents), or
        their fraction of the agents (float in (0, 1], rounded down by the library's one
        rule for counts from fractions, at least one agent: 0.5 of 5 agents keeps 2).
    n_samples : int, default=100
        Number of random subsets voting for each row in :meth:`predict` and
        :meth:`predict_proba`.
    n_ablation_copies : int, default=1
        Number of ablated copies of each training row the base classifier is fitted on
        (each with its own random subset of kept agents).
    fill : {"zero", "mean"}, default="zero"
        Value of ablated columns: 0, or the column's mean over the training rows where it
        is observed (0 for a column never observed).
    subsets : {"random", "all"}, default="random"
        Which subsets vote: ``n_samples`` subsets drawn at random (Levine & Feizi's
        randomized ablation), or every one of the ``C(M, n_keep)`` subsets of ``n_keep``
        agents (deterministic; ``n_samples`` is then ignored): affordable for a few agents
        (6 subsets for 2 of 4), and it makes :meth:`certify` exact.
    alpha : float, default=0.001
        Failure probability of the certificate of ``subsets="random"``, in (0, 1).
    n_samples_certify : int, default=1000
        Random subsets drawn by :meth:`certify` (with ``subsets="random"``) to bound the
        probability of the predicted class.
    batch_size : int, default=10000
        Most ablated rows passed to the base classifier at once (rows times subsets).
    random_state : int, RandomState instance or None, default=None
        Seed of the subsets, and of the base classifier's unset ``random_state`` parameters
        (with an int, the whole fit is reproducible). With an int, predictions are
        deterministic functions of each row (the same subsets serve every row).
    verbose : int, default=0
        Show a progress bar over row batches when positive.

    Attributes
    ----------
    estimator_ : classifier
        The fitted clone of the base classifier (on ``n_features_in_ + n_blocks_`` columns).
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    layout_ : BlockLayout
        The validated block layout (see :func:`sklearn_robust.base.check_blocks`).
    n_blocks_ : int
        Number of agents.
    n_keep_ : int
        Number of agents kept per subset.
    fill_values_ : ndarray of shape (n_features_in_,)
        Value given to each column when its agent is ablated.
    n_features_in_ : int
        Number of features seen during :meth:`fit`.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during :meth:`fit`, defined only when ``X`` has feature names
        that are all strings.

    See Also
    --------
    RandomizedSmoothingClassifier : Gaussian randomized smoothing with l2 certificates.
    CoPurTransformer : Purification of missing or arbitrarily corrupted agents.

    Notes
    -----
    :meth:`predict` returns the plurality class of the votes (ties go to the first class in
    ``classes_``). If ``t`` agents are corrupted, a vote is affected only when its subset
    contains one of them, which happens with probability
    ``1 - C(M - t, n_keep) / C(M, n_keep)`` for ``M`` agents: the smaller ``n_keep``, the
    more robust and the less accurate.

    Agents are drawn among all ``M`` agents, whether observed or not, so the distribution of
    subsets does not depend on which agents are missing. Infinite values are refused.

    *Certified mode.* With ``n_keep=1, subsets="all"`` every agent votes alone, once, and
    :meth:`certify` is exact: a prediction certified against one agent cannot be changed
    by anything that agent sends (unbounded values, another input's genuine block, nothing
    at all), adaptive or not. With ``M = 4`` agents, one corrupted agent controls one vote
    of four, so a row is certified when the other three votes keep the predicted class
    ahead; larger ``n_keep`` gives the corrupted agent more votes (with 2 of 4 it reaches
    half the subsets, and nothing can be certified). This is the defense to use where a
    purifier cannot tell a consistent lie from the truth (see
    :class:`CoPurTransformer`'s Notes); its price is that each vote sees one agent only.

    References
    ----------
    .. [1] A. Levine and S. Feizi, "Robustness Certificates for Sparse Adversarial Attacks
       by Randomized Ablation", AAAI 2020.
    .. [2] J. Liu, C. Xie, O. Koyejo and B. Li, "CoPur: Certifiably Robust Collaborative
       Inference via Feature Purification", NeurIPS 2022.

    Examples
    --------
    >>> from sklearn_robust.datasets import make_block_manifold
    >>> from sklearn_robust.estimators import RandomizedAblationClassifier
    >>> data = make_block_manifold(300, n_blocks=4, noise=0.1, random_state=0)
    >>> X, y = data.data, data.target
    >>> clf = RandomizedAblationClassifier(blocks=data.blocks, n_keep=2, random_state=0)
    >>> clf.fit(X, y).predict_proba(X[:2]).shape
    (2, 2)
    >>> bool(clf.score(X, y) > 0.9)
    True

    The certified mode: every agent votes alone, and ``certify`` counts the corrupted agents
    each prediction withstands, whatever they send:

    >>> certified = RandomizedAblationClassifier(
    ...     blocks=data.blocks, n_keep=1, subsets="all", n_ablation_copies=4, random_state=0
    ... ).fit(X, y)
    >>> y_pred, n_agents = certified.certify(X)
    >>> bool(((y_pred == y) & (n_agents >= 1)).mean() > 0.8)   # right whatever 1 agent does
    True
    """

    _parameter_constraints = {
        "estimator": [HasMethods(["fit", "predict"]), None],
        "blocks": [Interval(numbers.Integral, 1, None, closed="left"), "array-like", None],
        "n_keep": [
            Interval(numbers.Integral, 1, None, closed="left"),
            Interval(RealNotInt, 0, 1, closed="right"),
        ],
        "n_samples": [Interval(numbers.Integral, 1, None, closed="left")],
        "n_ablation_copies": [Interval(numbers.Integral, 1, None, closed="left")],
        "fill": [StrOptions({"zero", "mean"})],
        "subsets": [StrOptions({"random", "all"})],
        "alpha": [Interval(numbers.Real, 0, 1, closed="neither")],
        "n_samples_certify": [Interval(numbers.Integral, 1, None, closed="left")],
        "batch_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        estimator=None,
        *,
        blocks=None,
        n_keep=0.5,
        n_samples=100,
        n_ablation_copies=1,
        fill="zero",
        subsets="random",
        alpha=0.001,
        n_samples_certify=1000,
        batch_size=10000,
        random_state=None,
        verbose=0,
    ):
        self.estimator = estimator
        self.blocks = blocks
        self.n_keep = n_keep
        self.n_samples = n_samples
        self.n_ablation_copies = n_ablation_copies
        self.fill = fill
        self.subsets = subsets
        self.alpha = alpha
        self.n_samples_certify = n_samples_certify
        self.batch_size = batch_size
        self.random_state = random_state
        self.verbose = verbose

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True  # NaN marks a missing agent, which is ablated
        return tags

    def _generator(self):
        return _numpy_generator(self.random_state)

    def _resolve_n_keep(self, n_blocks):
        if isinstance(self.n_keep, numbers.Integral):
            if self.n_keep > n_blocks:
                raise ValueError(
                    f"n_keep={self.n_keep} asks to keep more agents than the {n_blocks} the "
                    f"layout has (blocks={self.blocks!r}). Use n_keep <= {n_blocks}, or a "
                    "fraction in (0, 1]."
                )
            return int(self.n_keep)
        return max(1, min(n_blocks, count_from_fraction(self.n_keep, n_blocks)))

    @_fit_context(
        # a meta-estimator: its nested estimator's parameters are validated too
        prefer_skip_nested_validation=False
    )
    def fit(self, X, y):
        """Fit a clone of the base classifier on randomly ablated copies of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training features; NaN marks a missing agent (always ablated). Never modified.
        y : array-like of shape (n_samples,)
            Class labels.

        Returns
        -------
        self : RandomizedAblationClassifier
            The fitted classifier.
        """
        X, y = validate_data(
            self, X, y, dtype=[np.float64, np.float32], ensure_all_finite="allow-nan"
        )
        check_classification_targets(y)
        self.layout_ = check_blocks(self.blocks, X.shape[1])
        self.n_blocks_ = self.layout_.n_blocks
        self.n_keep_ = self._resolve_n_keep(self.n_blocks_)
        self.classes_ = np.unique(y)
        if self.fill == "mean":
            nan = np.isnan(X)
            seen = (~nan).sum(axis=0)
            totals = np.where(nan, 0, X).sum(axis=0, dtype=np.float64)
            fill_values = np.divide(totals, seen, out=np.zeros(X.shape[1]), where=seen > 0)
        else:
            fill_values = np.zeros(X.shape[1])
        self.fill_values_ = fill_values.astype(X.dtype)
        rng = self._generator()
        copies = self.n_ablation_copies
        observed = np.tile(self.layout_.observed(X), (copies, 1))
        keep = _random_keep_masks(observed.shape[0], self.n_blocks_, self.n_keep_, rng)
        X_aug = _ablate(
            np.tile(X, (copies, 1)),
            keep & observed,
            self.layout_.block_of_column,
            self.fill_values_,
        )
        base = LogisticRegression() if self.estimator is None else self.estimator
        self.estimator_ = _seeded_clone(base, self.random_state).fit(X_aug, np.tile(y, copies))
        return self

    def _masks(self, rng=None):
        """The voting subsets: every subset, or ``n_samples`` random ones."""
        if self.subsets == "all":
            return _all_keep_masks(self.n_blocks_, self.n_keep_)
        rng = self._generator() if rng is None else rng
        return _random_keep_masks(self.n_samples, self.n_blocks_, self.n_keep_, rng)

    def _validated(self, X):
        check_is_fitted(self)
        return validate_data(
            self, X, reset=False, dtype=[np.float64, np.float32], ensure_all_finite="allow-nan"
        )

    def _counts(self, X, masks):
        return _ablation_votes(
            self.estimator_.predict,
            X,
            self.layout_.observed(X),
            masks,
            self.layout_.block_of_column,
            self.fill_values_,
            self.classes_,
            self.batch_size,
            verbose=bool(self.verbose),
        )

    def predict_proba(self, X):
        """Vote frequencies of the base classifier over random subsets of agents.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Features; NaN marks a missing agent.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Fraction of the voting subsets (``n_samples`` random ones, or all of them with
            ``subsets="all"``) whose ablated row the base classifier assigns to each class,
            columns ordered like ``classes_``.
        """
        X = self._validated(X)
        masks = self._masks()
        return self._counts(X, masks) / masks.shape[0]

    def certify(self, X):
        """Predict, and certify how many corrupted agents each prediction withstands.

        A set of ``t`` corrupted agents (sending anything at all, or nothing) can only change
        the votes of the subsets that contain one of them.

        * ``subsets="all"`` (exact): every subset votes; the prediction is certified
          against ``t`` agents when, for every set of ``t`` agents, the votes of the
          subsets that avoid them keep the predicted class ahead of every other class even
          if all the other votes go to that class (ties go to the first class, as in
          :meth:`predict`). Deterministic: no failure probability.
        * ``subsets="random"`` (Levine & Feizi): ``n_samples`` subsets select the class,
          ``n_samples_certify`` independent ones give a one-sided Clopper-Pearson lower
          bound ``p_lower`` on its vote probability at level ``alpha``; certified against
          ``t`` agents when ``p_lower > 1/2 + Delta_t``, ``Delta_t = 1 - C(M - t, k) /
          C(M, k)`` the probability that a random subset of ``k = n_keep_`` agents
          contains one of them. Holds with probability at least ``1 - alpha`` per row.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Features; NaN marks a missing agent.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            The prediction (:meth:`predict`'s with an int ``random_state``).
        n_agents : ndarray of shape (n_samples,), dtype int
            Largest number of agents whose arbitrary corruption provably cannot change
            ``y_pred`` (0: no guarantee even for one agent). At most ``n_blocks_ -
            n_keep_``.
        """
        X = self._validated(X)
        observed = self.layout_.observed(X)
        if self.subsets == "all":
            masks = self._masks()
            votes = _subset_votes(
                self.estimator_.predict, X, observed, masks, self.layout_.block_of_column,
                self.fill_values_, self.classes_, self.batch_size,
            )
            counts = np.zeros((X.shape[0], self.classes_.size), dtype=np.int64)
            np.add.at(counts, (np.arange(X.shape[0])[:, None], votes), 1)
            top = np.argmax(counts, axis=1)
            certified = _exact_certificate(votes, masks, self.classes_.size, top)
            return self.classes_[top], certified
        rng = self._generator()
        top = np.argmax(self._counts(X, self._masks(rng)), axis=1)
        estimation = self._counts(
            X, _random_keep_masks(self.n_samples_certify, self.n_blocks_, self.n_keep_, rng)
        )
        p_lower = _clopper_pearson_lower(
            estimation[np.arange(X.shape[0]), top], self.n_samples_certify, self.alpha
        )
        total = math.comb(self.n_blocks_, self.n_keep_)
        certified = np.zeros(X.shape[0], dtype=np.int64)
        for t in range(1, self.n_blocks_ - self.n_keep_ + 1):
            delta = 1.0 - math.comb(self.n_blocks_ - t, self.n_keep_) / total
            certified[p_lower > 0.5 + delta] = t
        return self.classes_[top], certified

    def _torch_forward(self, X):
        """Expectation-over-transformation surrogate of the vote (a tensor), for attacks.

        ``log`` of the mean softmax of the base classifier's logits over the voting
        subsets of :meth:`predict` (every row ablated by each), differentiable when the
        base classifier is. Missing (NaN) agents are ablated, as in :meth:`predict`.
        Attacks take gradients from it and judge their success with :meth:`predict`.
        """
        check_is_fitted(self)
        check_differentiable(self.estimator_)
        masks = torch.as_tensor(self._masks(), device=X.device)
        n, n_masks = X.shape[0], masks.shape[0]
        onehot = torch.zeros(
            self.layout_.n_features, self.n_blocks_, dtype=X.dtype, device=X.device
        )
        onehot[torch.arange(self.layout_.n_features),
               torch.as_tensor(self.layout_.block_of_column)] = 1
        observed = (torch.isnan(X).to(X.dtype) @ onehot) == 0  # (n, M)
        keep = masks[None, :, :] & observed[:, None, :]  # (n, S, M)
        columns = torch.as_tensor(self.layout_.block_of_column, device=X.device)
        kept_columns = keep[:, :, columns]  # (n, S, d)
        fill = torch.as_tensor(self.fill_values_, dtype=X.dtype, device=X.device)
        values = torch.where(torch.isnan(X), torch.zeros_like(X), X)
        features = torch.where(kept_columns, values[:, None, :], fill)
        inputs = torch.cat([features, keep.to(X.dtype)], dim=2).reshape(n * n_masks, -1)
        logits = differentiable_forward(self.estimator_, inputs)
        proba = torch.softmax(logits, dim=1).reshape(n, n_masks, -1).mean(dim=1)
        return torch.log(proba + torch.finfo(proba.dtype).tiny)

    def predict(self, X):
        """Majority vote of the base classifier over random subsets of agents.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Features; NaN marks a missing agent.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            The class with the most votes (ties: the first in ``classes_``).
        """
        proba = self.predict_proba(X)  # checks that the classifier is fitted
        return self.classes_[np.argmax(proba, axis=1)]
