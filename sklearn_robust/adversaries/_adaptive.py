"""Plumbing shared by the white-box and adaptive inference-time attacks.

* :func:`_white_box_setup` -- checks the fitted model, turns labels into class indices and
  builds the differentiable forward pass (logits) the gradient attacks step through;
* :class:`_Verdict` -- the *true* model's verdict on attacked rows (wrong or not, and a
  margin), which every adaptive attack and :class:`EnsembleAttack` use to keep, per row,
  the strongest candidate;
* :func:`_find_detector` -- the purification step of a Pipeline whose detection rule a
  threshold-aware attack must evade;
* :func:`_typical_block_norms` -- the scale of each attacked block, the unit of the adaptive
  attacks' steps and budgets.
"""

import numpy as np
import torch
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted

from sklearn_robust._differentiable import (
    _is_passthrough,
    check_differentiable,
    differentiable_forward,
    forward_device,
)


def _class_indices(values, classes, what):
    """Positions of ``values`` in ``classes``; a ValueError names unknown labels."""
    values = np.asarray(values)
    sorter = np.argsort(classes, kind="stable")
    pos = np.clip(np.searchsorted(classes, values, sorter=sorter), 0, len(classes) - 1)
    index = sorter[pos]
    unknown = values[np.asarray(classes)[index] != values]
    if unknown.size:
        raise ValueError(
            f"{what} {np.unique(unknown).tolist()[:10]} not among the estimator's classes_ "
            f"{np.asarray(classes).tolist()}. Pass labels of the classes the model was fitted on."
        )
    return index


def _require_estimator(attack, estimator):
    if estimator is None:
        raise ValueError(
            f"{type(attack).__name__} is a white-box attack and needs the fitted model: "
            "call attack(X, y, estimator=fitted_model), or score with "
            "sklearn_robust.metrics.make_robust_scorer."
        )
    check_is_fitted(estimator)
    classes = getattr(estimator, "classes_", None)
    if classes is None:
        raise ValueError(
            f"{type(attack).__name__} attacks classifiers: the estimator "
            f"{type(estimator).__name__} has no classes_. Pass a fitted classifier (or a "
            "Pipeline ending in one)."
        )
    return np.asarray(classes)


def _labels(attack, estimator, X, y, classes, targeted=False, target_class=None):
    """Class index per row: the target (targeted) or the true label (y, else predictions)."""
    n_samples = X.shape[0]
    if targeted:
        target = _class_indices([target_class], classes, "target_class")[0]
        return np.full(n_samples, target, dtype=np.int64)
    if y is None:
        y = estimator.predict(X) if n_samples else np.empty(0, dtype=classes.dtype)
    y = np.asarray(y)
    if y.shape != (n_samples,):
        raise ValueError(
            f"y must have shape ({n_samples},), one label per row of X; got shape {y.shape}."
        )
    return _class_indices(y, classes, "labels").astype(np.int64)


def _forward_fn(model, n_classes):
    """Differentiable logits of ``model`` on the device of its tensors, shape-checked."""
    device = forward_device(model)

    def forward(Z):
        out = differentiable_forward(model, Z)
        if out.ndim != 2 or out.shape[1] != n_classes:
            raise ValueError(
                f"the forward pass of {type(model).__name__} returned shape "
                f"{tuple(out.shape)}; an attack on a classifier with {n_classes} classes "
                f"needs logits of shape ({Z.shape[0]}, {n_classes})."
            )
        return out.to(device)

    return forward, device


def _white_box_setup(attack, X, y, estimator, *, targeted=False, target_class=None,
                     model=None):
    """``(classes, labels, forward, device)`` of a gradient attack on ``estimator``.

    ``model`` (default: the estimator) is what the gradient goes through; labels of
    ``y=None`` and the classes always come from the whole estimator.
    """
    classes = _require_estimator(attack, estimator)
    model = estimator if model is None else model
    check_differentiable(model)
    labels = _labels(attack, estimator, X, y, classes, targeted, target_class)
    forward, device = _forward_fn(model, len(classes))
    return classes, labels, forward, device


def _free_entries(attack, X):
    """Attacked entries a perturbation may change: finite, in blocks the agent sent."""
    columns = attack.attacked_columns_
    base = X[:, columns]
    observed = attack.layout_.observed(X)[:, attack.layout_.block_of_column[columns]]
    return observed & np.isfinite(base)


def _generator(random_state):
    """A CPU ``torch.Generator`` seeded from a ``numpy.random.RandomState``."""
    return torch.Generator().manual_seed(int(random_state.randint(np.iinfo(np.int32).max)))


class _Verdict:
    """The true model's verdict on attacked rows: ``verdict(X) -> (success, margin)``.

    ``success`` is True where the attack succeeded (the prediction differs from the label,
    or equals the target); ``margin`` grades the rows: the best other class's probability
    (or decision score) minus the label's (untargeted; the target's minus the best other's
    when targeted) from ``predict_proba`` or ``decision_function`` when the estimator has
    one, else +-1 from ``predict``. Compare candidates with :func:`_better`.

    Purifying defenses are costly to query, so when the arg-max of the scores gives
    ``predict``'s answer on the first rows judged, later calls read both from one pass.
    """

    def __init__(self, estimator, labels, classes, targeted=False):
        self.estimator = estimator
        self.labels = labels
        self.classes = classes
        self.targeted = targeted
        self.method = next(
            (m for m in ("predict_proba", "decision_function") if hasattr(estimator, m)), None
        )
        self.argmax_is_predict = None

    def _scores(self, X):
        if self.method is None:
            return None
        scores = np.asarray(getattr(self.estimator, self.method)(X), dtype=np.float64)
        if scores.ndim != 2 or scores.shape[1] != self.classes.size:
            self.method = None  # e.g. a binary decision function: fall back to predict
            return None
        return scores

    def __call__(self, X, rows=None):
        labels = self.labels if rows is None else self.labels[rows]
        n = X.shape[0]
        if n == 0:
            return np.zeros(0, dtype=bool), np.zeros(0)
        scores = self._scores(X)
        if scores is not None and self.argmax_is_predict:
            predicted = np.argmax(scores, axis=1)
        else:
            predicted = _class_indices(self.estimator.predict(X), self.classes, "predictions")
            if scores is not None and self.argmax_is_predict is None:
                self.argmax_is_predict = bool(np.array_equal(predicted, scores.argmax(axis=1)))
        success = predicted == labels if self.targeted else predicted != labels
        if scores is None:
            return success, np.where(success, 1.0, -1.0)
        scores = np.nan_to_num(scores, nan=-np.inf)
        index = np.arange(n)
        own = scores[index, labels]
        others = scores.copy()
        others[index, labels] = -np.inf
        best_other = others.max(axis=1)
        with np.errstate(invalid="ignore"):
            margin = own - best_other if self.targeted else best_other - own
        return success, np.nan_to_num(margin, nan=-np.inf)


def _better(success, margin, best_success, best_margin):
    """Rows where ``(success, margin)`` beats the best so far: a success beats a failure,
    then the larger margin wins (ties keep the earlier candidate)."""
    return (success & ~best_success) | ((success == best_success) & (margin > best_margin))


def _find_detector(estimator):
    """The purifier whose detection an attack must evade, or None.

    A step with ``purify`` and ``residual_threshold_`` (e.g.
    :class:`~sklearn_robust.estimators.CoPurTransformer`) that reads the attacked features
    directly: the estimator itself, or the first step of a Pipeline that is not
    passthrough.
    """
    step = estimator
    while isinstance(step, Pipeline):
        first = None
        for _, candidate in step.steps:
            if not _is_passthrough(candidate):
                first = candidate
                break
        if first is None:
            return None
        step = first
    if callable(getattr(step, "purify", None)) and hasattr(step, "residual_threshold_"):
        return step
    return None


def _flagged(detector, X, blocks):
    """True where the detector judges any of ``blocks`` corrupted, per row of ``X``."""
    if X.shape[0] == 0:
        return np.zeros(0, dtype=bool)
    _, details = detector.purify(X, return_details=True)
    return details.corrupted[:, blocks].any(axis=1)


def _typical_block_norms(X, layout, blocks):
    """Median l2 norm of each of ``blocks`` over the rows where the block is finite.

    1.0 for a block with no finite row or a zero median (a unit that never vanishes).
    """
    norms = []
    for block in blocks:
        part = np.asarray(X[:, layout.indices[block]], dtype=np.float64)
        finite = np.isfinite(part).all(axis=1)
        value = 0.0
        if finite.any():
            rows = part[finite]
            scale = np.abs(rows).max()
            if scale > 0:
                value = float(np.median(np.linalg.norm(rows / scale, axis=1)) * scale)
        norms.append(value if np.isfinite(value) and value > 0 else 1.0)
    return np.asarray(norms, dtype=np.float64)


def _onehot_groups(attack):
    """(k, g) float64 tensor: attacked column -> attacked block (in ``attacked_blocks_``)."""
    columns = attack.attacked_columns_
    block_of = attack.layout_.block_of_column[columns]
    group = np.searchsorted(attack.attacked_blocks_, block_of)
    onehot = np.zeros((columns.size, attack.attacked_blocks_.size))
    onehot[np.arange(columns.size), group] = 1.0
    return torch.as_tensor(onehot, dtype=torch.float64)


def _write_back(X, columns, delta):
    """``X[:, columns] += delta`` where delta is nonzero, overflow to +-inf (no warning)."""
    base = X[:, columns]
    with np.errstate(over="ignore", invalid="ignore"):
        moved = (base.astype(np.float64) + delta).astype(X.dtype)
    X[:, columns] = np.where(delta != 0, moved, base)
    return X
