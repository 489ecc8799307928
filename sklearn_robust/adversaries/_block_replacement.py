"""On-manifold attack: send the genuine block of another input, then line-search around it."""

import numbers

import numpy as np
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval

from sklearn_robust._adversary_base import BaseInferenceAdversary, _fill_inference_doc
from sklearn_robust.adversaries._adaptive import (
    _better,
    _class_indices,
    _labels,
    _require_estimator,
    _Verdict,
)


@_fill_inference_doc
class BlockReplacementAttack(BaseInferenceAdversary):
    """On-manifold attack: replace the attacked blocks by genuine blocks of other inputs.

    A purifier flags blocks that do not look like clean features; a gradient attack rarely
    finds points that do. This attack sends what a clean agent would send for *another*
    input: the attacked blocks of a row drawn from a pool of genuine rows (those given to
    :meth:`fit`, e.g. the training set), whose class according to the defended model
    differs from the attacked row's label. Every row tries ``n_candidates`` such pool rows
    and keeps the one the defended model likes least (largest margin of a wrong class);
    then it line-searches from its clean block through that candidate (the points
    ``clean + t * (candidate - clean)`` for ``t`` in ``line_search``, beyond the candidate
    for ``t > 1``) and between its two best candidates, and keeps the strongest point.
    Every candidate is judged by the true defended model (its predictions and
    probabilities), not by a surrogate.

    Parameters
    ----------
    {inference_parameters}

    n_candidates : int, default=100
        Pool rows tried per attacked row (each a query of the defended model on every row).

    line_search : tuple of float, default=(0.25, 0.5, 0.75, 1.25, 1.5, 2.0)
        Positions ``t`` tried on the segment from the clean block to the best candidate
        (``t = 1`` is the candidate itself, always tried); the midpoints 0.25, 0.5 and 0.75
        between the two best candidates are tried as well. Empty: no line search.

    max_pool : int, default=2000
        Largest pool: above it, a random subset of the complete rows given to :meth:`fit`.

    random_state : int, RandomState instance or None, default=None
        Seed of the pool subset and of the candidates drawn.

    Attributes
    ----------
    {inference_attributes}

    pool_ : ndarray of shape (n_pool, n_features_in_)
        The genuine rows the candidates come from (complete, finite rows of the data given
        to :meth:`fit`).

    See Also
    --------
    ThresholdAwareAttack : Gradient attack under the purifier's detection threshold.
    EnsembleAttack : The per-row strongest of the library's adaptive attacks.

    Notes
    -----
    *Knowledge model.* Black-box queries of the defended model (its predictions and
    probabilities, or decision scores) on the rows it attacks, plus a pool of genuine
    inputs of the clean distribution -- realistic for a compromised agent, which sees its
    own features for many inputs. It needs no gradient, so it also attacks models that are
    not differentiable, and no labels of the pool (the model's predictions on the pool rows
    serve as their classes). Only the attacked agents' blocks change; a block that is
    missing in a row stays missing.

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn_robust.adversaries import BlockReplacementAttack
    >>> X, y = make_classification(n_samples=200, n_features=6, n_informative=6,
    ...                            n_redundant=0, random_state=0)
    >>> clf = LogisticRegression().fit(X, y)
    >>> attack = BlockReplacementAttack(blocks=3, agents=[2], n_candidates=20,
    ...                                 random_state=0).fit(X)
    >>> X_adv = attack.attack(X, y, estimator=clf)
    >>> bool(clf.score(X_adv, y) < clf.score(X, y))
    True
    >>> bool((X_adv[:, :4] == X[:, :4]).all())   # the other agents are untouched
    True
    """

    _white_box = True

    _parameter_constraints = {
        **BaseInferenceAdversary._parameter_constraints,
        "n_candidates": [Interval(numbers.Integral, 1, None, closed="left")],
        "line_search": [tuple, list],
        "max_pool": [Interval(numbers.Integral, 1, None, closed="left")],
    }

    def __init__(
        self,
        *,
        blocks=None,
        agents=None,
        n_candidates=100,
        line_search=(0.25, 0.5, 0.75, 1.25, 1.5, 2.0),
        max_pool=2000,
        random_state=None,
    ):
        self.blocks = blocks
        self.agents = agents
        self.n_candidates = n_candidates
        self.line_search = line_search
        self.max_pool = max_pool
        self.random_state = random_state

    def _positions(self):
        positions = np.asarray(self.line_search, dtype=np.float64).reshape(-1)
        if not np.isfinite(positions).all():
            raise ValueError(f"line_search must hold finite numbers; got {self.line_search!r}.")
        return positions

    def _fit(self, X, y):
        self._positions()
        complete = np.isfinite(X).all(axis=1)
        if not complete.any():
            raise ValueError(
                f"{type(self).__name__} draws its candidates from the complete, finite rows "
                "of the data given to fit, and X has none. Fit on clean data."
            )
        pool = X[complete]
        if pool.shape[0] > self.max_pool:
            rng = check_random_state(self.random_state)
            pool = pool[np.sort(rng.choice(pool.shape[0], self.max_pool, replace=False))]
        self.pool_ = np.array(pool, copy=True)

    def _attack(self, X, y, random_state, estimator):
        positions = self._positions()
        classes = _require_estimator(self, estimator)
        labels = _labels(self, estimator, X, y, classes)
        columns = self.attacked_columns_
        n = X.shape[0]
        if n == 0 or columns.size == 0:
            return X
        blocks_of = self.layout_.block_of_column[columns]
        # Attacked blocks the agent sent in each row: only those are replaced.
        sent = self.layout_.observed(X)[:, blocks_of]
        pool = self.pool_.astype(X.dtype, copy=False)
        pool_blocks = pool[:, columns]
        pool_labels = _class_indices(estimator.predict(pool), classes, "predictions")
        # Per class, the pool rows the model puts in another class (all rows if none).
        options = {}
        for label in np.unique(labels):
            other = np.flatnonzero(pool_labels != label)
            options[label] = other if other.size else np.arange(pool.shape[0])

        verdict = _Verdict(estimator, labels, classes)
        clean = X[:, columns].astype(np.float64)

        def with_blocks(values):
            out = X.copy()
            with np.errstate(over="ignore", invalid="ignore"):
                out[:, columns] = np.where(sent, values, X[:, columns]).astype(X.dtype)
            return out

        best = clean.copy()
        best_success, best_margin = verdict(X)
        # The two best candidates of each row (their values), for the line searches.
        top = [np.full_like(clean, np.nan), np.full_like(clean, np.nan)]
        top_score = [
            (np.zeros(n, dtype=bool), np.full(n, -np.inf)),
            (np.zeros(n, dtype=bool), np.full(n, -np.inf)),
        ]
        for _ in range(self.n_candidates):
            index = np.empty(n, dtype=np.intp)
            for label, rows in _groups(labels):
                choices = options[label]
                index[rows] = choices[random_state.randint(choices.size, size=rows.size)]
            values = pool_blocks[index].astype(np.float64)
            success, margin = verdict(with_blocks(values))
            first = _better(success, margin, *top_score[0])
            second = ~first & _better(success, margin, *top_score[1])
            top[1] = np.where(first[:, None], top[0], np.where(second[:, None], values, top[1]))
            top_score[1] = (
                np.where(first, top_score[0][0], np.where(second, success, top_score[1][0])),
                np.where(first, top_score[0][1], np.where(second, margin, top_score[1][1])),
            )
            top[0] = np.where(first[:, None], values, top[0])
            top_score[0] = (
                np.where(first, success, top_score[0][0]),
                np.where(first, margin, top_score[0][1]),
            )
        take = _better(*top_score[0], best_success, best_margin)
        best = np.where(take[:, None], top[0], best)
        best_success = np.where(take, top_score[0][0], best_success)
        best_margin = np.where(take, top_score[0][1], best_margin)

        segments = [(clean, top[0], t) for t in positions if t != 1.0]
        if positions.size:
            have_second = np.isfinite(top[1]).all(axis=1)
            second = np.where(have_second[:, None], top[1], top[0])
            segments += [(top[0], second, t) for t in (0.25, 0.5, 0.75)]
        for start, end, t in segments:
            with np.errstate(over="ignore", invalid="ignore"):
                values = start + t * (end - start)
            values = np.where(np.isfinite(values), values, clean)
            success, margin = verdict(with_blocks(values))
            take = _better(success, margin, best_success, best_margin)
            best = np.where(take[:, None], values, best)
            best_success = np.where(take, success, best_success)
            best_margin = np.where(take, margin, best_margin)
        return with_blocks(best)


def _groups(labels):
    """``(label, rows)`` for every distinct label."""
    order = np.argsort(labels, kind="stable")
    values, starts = np.unique(labels[order], return_index=True)
    bounds = list(starts[1:]) + [labels.size]
    return [(value, order[start:stop]) for value, start, stop in zip(values, starts, bounds)]
