"""Threshold-aware attack: the strongest perturbation a purifier's detection lets through."""


import numpy as np
import torch

from sklearn_robust._adversary_base import _fill_inference_doc
from sklearn_robust.adversaries._adaptive import (
    _better,
    _find_detector,
    _flagged,
    _Verdict,
    _white_box_setup,
)
from sklearn_robust.adversaries._adaptive_pgd import AdaptivePGDAttack, _check_target


@_fill_inference_doc
class ThresholdAwareAttack(AdaptivePGDAttack):
    """Adaptive gradient attack that keeps the attacked blocks under the detection threshold.

    A purifier such as :class:`~sklearn_robust.estimators.CoPurTransformer` judges a block
    corrupted when it does not fit the others (its residual exceeds
    ``residual_threshold_``, or any further check the purifier makes) and then ignores it.
    Against it an unbounded attack gains nothing by going far: a flagged block is simply
    missing. This attack searches where the purifier still trusts the block. For each
    ``fraction`` it runs :class:`AdaptivePGDAttack` in the l2 ball of radius ``fraction``
    times the attacked block's detection threshold around the clean block, and every
    iterate must pass the purifier's own check: a step whose block the purifier flags
    (``purify(..., return_details=True).corrupted``) is pulled back halfway up to 4 times,
    then refused. Each row keeps the strongest result over the fractions, judged by the
    defended model's predictions.

    The purifier is found in the estimator given to :meth:`attack`: the estimator itself, or
    the first non-passthrough step of a Pipeline, when it has ``purify`` and
    ``residual_threshold_``. Without one (an unsecured model, a smoothed classifier), the
    radii are fractions of the block's typical norm and nothing is checked.

    Parameters
    ----------
    {inference_parameters}

    targeted : bool, default=False
        Push every row towards ``target_class`` instead of away from its label.

    target_class : object, default=None
        Class label the targeted attack aims at; required when ``targeted=True``.

    loss : {"margin", "ce"}, default="margin"
        What each row ascends (see :class:`AdaptivePGDAttack`).

    fractions : tuple of float, default=(0.5, 1.0, 2.0)
        Radii of the balls, as multiples of the detection threshold of each attacked block
        (of its typical norm without a purifier). Fractions above 1 let the block move
        further from its clean value than the threshold, as long as the purifier still
        accepts it (its residual is measured against the purified estimate, not the clean
        block).

    step_size : float, default=0.25
        First step, as a fraction of the ball's radius.

    max_iter : int, default=30
        Steps per fraction and run.

    n_restarts : int, default=1
        Runs per fraction (the first from the clean row).

    clip : None, "data" or tuple, default=None
        Box of the attacked entries, as in :class:`PGDAttack`.

    random_state : int, RandomState instance or None, default=None
        Seed of the random restarts.

    Attributes
    ----------
    {inference_attributes}

    block_scale_ : ndarray of shape (n_attacked_blocks,)
        Typical (median) l2 norm of each attacked block on the data given to :meth:`fit`.

    clip_low_, clip_high_ : ndarray of shape (n_attacked_columns,) or None
        The box of ``clip`` (None where unbounded).

    See Also
    --------
    AdaptivePGDAttack : The same attack without the detection constraint.
    EnsembleAttack : The per-row strongest of the library's adaptive attacks.

    Notes
    -----
    *Knowledge model.* White-box, full knowledge of the fitted defended model, including
    the purifier's thresholds and its detection rule, which it queries on every candidate
    (one purification of the rows it attacks per check); control over the attacked
    agents' blocks only. The attack adapts to whatever the purifier checks, because it asks
    the purifier itself whether a candidate block is flagged. Gradients go through the
    defended model as in :class:`AdaptivePGDAttack`.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn_robust.adversaries import ThresholdAwareAttack
    >>> from sklearn_robust.datasets import make_block_manifold
    >>> from sklearn_robust.estimators import CoPurTransformer
    >>> from sklearn_robust.nets import AutoencoderNet
    >>> data = make_block_manifold(300, n_blocks=4, block_width=3, latent_dim=2,
    ...                            noise=0.05, random_state=0)
    >>> ae = AutoencoderNet(module__latent_dim=2, max_epochs=40, random_state=0)
    >>> model = make_pipeline(CoPurTransformer(blocks=4, autoencoder=ae, random_state=0),
    ...                       LogisticRegression()).fit(data.data, data.target)
    >>> attack = ThresholdAwareAttack(blocks=4, max_iter=5, fractions=(1.0,)).fit(data.data)
    >>> X_adv = attack.attack(data.data[:20], data.target[:20], estimator=model)
    >>> flagged = model[0].purify(X_adv, return_details=True)[1].corrupted[:, 3]
    >>> int(flagged.sum())   # the attacked agent passes the purifier's check in every row
    0
    """

    _parameter_constraints = {
        **AdaptivePGDAttack._parameter_constraints,
        "fractions": [tuple, list],
    }
    _parameter_constraints.pop("epsilon")

    def __init__(
        self,
        *,
        blocks=None,
        agents=None,
        targeted=False,
        target_class=None,
        loss="margin",
        fractions=(0.5, 1.0, 2.0),
        step_size=0.25,
        max_iter=30,
        n_restarts=1,
        clip=None,
        random_state=None,
    ):
        self.blocks = blocks
        self.agents = agents
        self.targeted = targeted
        self.target_class = target_class
        self.loss = loss
        self.fractions = fractions
        self.step_size = step_size
        self.max_iter = max_iter
        self.n_restarts = n_restarts
        self.clip = clip
        self.random_state = random_state

    def _fractions(self):
        fractions = np.asarray(self.fractions, dtype=np.float64)
        if fractions.ndim != 1 or fractions.size == 0 or not np.all(fractions > 0) or not (
            np.isfinite(fractions).all()
        ):
            raise ValueError(
                "fractions must be a non-empty list of positive finite multiples of the "
                f"detection threshold; got {self.fractions!r}."
            )
        return fractions

    def _fit(self, X, y):
        self._fractions()
        super()._fit(X, y)

    def _attack(self, X, y, random_state, estimator):
        _check_target(self)
        fractions = self._fractions()
        classes, labels, forward, device = _white_box_setup(
            self, X, y, estimator, targeted=self.targeted, target_class=self.target_class
        )
        columns = self.attacked_columns_
        if X.shape[0] == 0 or columns.size == 0:
            return X
        detector = _find_detector(estimator)
        if detector is not None:
            unit = np.asarray(detector.residual_threshold_, dtype=np.float64)[
                self.attacked_blocks_
            ]
            accept = self._acceptance(detector, X)
        else:
            unit, accept = self.block_scale_, None
        verdict = _Verdict(estimator, labels, classes, self.targeted)
        best_X = X.copy()
        best_success, best_margin = verdict(X)
        for fraction in fractions:
            radius = torch.as_tensor(fraction * unit, dtype=torch.float64)
            candidate = self._run(
                X.copy(), labels, forward, device, random_state, radius, accept=accept,
                scale=float(radius.max()),
            )
            success, margin = verdict(candidate)
            take = _better(success, margin, best_success, best_margin)
            best_X[take] = candidate[take]
            best_success = np.where(take, success, best_success)
            best_margin = np.where(take, margin, best_margin)
        return best_X

    def _acceptance(self, detector, X):
        """``accept(delta, rows)``: the attacked blocks of the candidate rows pass the check."""
        columns = self.attacked_columns_
        blocks = self.attacked_blocks_
        base = X[:, columns].astype(np.float64)

        def accept(delta_tensor, rows):
            delta = delta_tensor.detach().cpu().numpy()
            todo = np.ones(X.shape[0], dtype=bool) if rows is None else rows.cpu().numpy()
            ok = np.ones(X.shape[0], dtype=bool)
            index = np.flatnonzero(todo)
            if index.size:
                candidate = X[index].copy()
                moved = np.where(delta[index] != 0, base[index] + delta[index], base[index])
                with np.errstate(over="ignore"):
                    candidate[:, columns] = moved.astype(X.dtype)
                ok[index] = ~_flagged(detector, candidate, blocks)
            return torch.as_tensor(ok, device=delta_tensor.device)

        return accept
