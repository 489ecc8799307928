"""Adaptive gradient attack on agents' blocks: normalised steps, schedule, restarts, best."""

import numbers

import numpy as np
import torch
from sklearn.utils._param_validation import Interval, StrOptions

from sklearn_robust._adversary_base import BaseInferenceAdversary, _fill_inference_doc
from sklearn_robust._numerics._pgd import adaptive_perturbation
from sklearn_robust.adversaries._adaptive import (
    _free_entries,
    _generator,
    _onehot_groups,
    _typical_block_norms,
    _white_box_setup,
    _write_back,
)
from sklearn_robust.adversaries._pgd import _bound_tensor, _clip_bounds


def _targeted_constraints():
    return {
        "targeted": ["boolean"],
        "target_class": "no_validation",
        "loss": [StrOptions({"margin", "ce"})],
        "step_size": [Interval(numbers.Real, 0, None, closed="neither")],
        "max_iter": [Interval(numbers.Integral, 1, None, closed="left")],
        "n_restarts": [Interval(numbers.Integral, 1, None, closed="left")],
        "clip": [StrOptions({"data"}), tuple, None],
    }


def _check_target(attack):
    if attack.targeted and attack.target_class is None:
        raise ValueError(
            "targeted=True needs target_class, the class label the attack aims at; got "
            "target_class=None."
        )


@_fill_inference_doc
class AdaptivePGDAttack(BaseInferenceAdversary):
    """Adaptive gradient attack on the attacked blocks, through the whole defended model.

    The gradient attack of the library's evaluation suite for purification defenses (see
    :class:`EnsembleAttack`). It differs from :class:`PGDAttack` where PGD fails against a
    purifier:

    * **normalised steps**: each row moves along the unit-l2 direction of its own gradient,
      so confident rows move as far as the others (raw-gradient steps barely move them,
      and the few rows that do move overshoot, get flagged and are trimmed);
    * **a step-size schedule**: the first step is ``step_size`` times the typical norm of
      the attacked block (measured in :meth:`fit`); every 8 steps a row that stopped
      improving goes back to its best point and halves its step;
    * **a margin loss** (default; ``loss="ce"`` for the cross-entropy) that keeps pushing
      after the prediction flips;
    * **restarts** from random points and the **best iterate of each row** over every step
      and restart, judged by the true forward pass of the defended model.

    The gradient goes through every step of the estimator given to :meth:`attack`:
    through the purifier's true forward value with a straight-through (BPDA) gradient
    where the purification is not differentiable, as
    :class:`~sklearn_robust.estimators.CoPurTransformer` provides it.

    Parameters
    ----------
    {inference_parameters}

    targeted : bool, default=False
        Push every row towards ``target_class`` instead of away from its label.

    target_class : object, default=None
        Class label the targeted attack aims at; required when ``targeted=True``.

    loss : {"margin", "ce"}, default="margin"
        What each row ascends: the logit margin (best other class minus the label; target
        minus the best other class when targeted) or the cross-entropy.

    step_size : float, default=0.5
        First step, as a fraction of the attacked block's typical l2 norm (> 0).

    max_iter : int, default=50
        Steps per run.

    n_restarts : int, default=2
        Runs: the first from the clean row, the others from random points within the
        typical norm (within ``epsilon`` when set).

    epsilon : float or None, default=None
        l2 radius around the clean block, per attacked block and row; None for no bound
        (the CoPur threat model: the attacked agent sends anything).

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
    PGDAttack : Fixed-step PGD (the CoPur paper's attack and Madry et al.'s).
    ThresholdAwareAttack : Stays under a purifier's detection threshold.
    BlockReplacementAttack : Sends genuine blocks of other inputs.
    EnsembleAttack : The per-row strongest of all of them.

    Notes
    -----
    *Knowledge model.* White-box, full knowledge of the fitted defended model (purifier,
    scaler, classifier, their weights) and of the clean data's scale; control over the
    attacked agents' blocks only, with no bound on them unless ``epsilon`` is set. It
    queries the model's gradient and forward pass on the rows it attacks (one forward and
    backward pass of the whole model per step); it knows no other test row and does not
    adapt to a detection rule except through the gradient (:class:`ThresholdAwareAttack`
    does).

    Missing attacked blocks stay missing and non-finite entries are left as they are, as in
    :class:`PGDAttack`. Rows the model cannot evaluate on the clean point are returned
    unchanged. The first step is a fraction of the *typical* block norm so that the
    attack's scale follows the data's, whatever the units of the embeddings.

    References
    ----------
    .. [1] F. Croce and M. Hein, "Reliable evaluation of adversarial robustness with an
       ensemble of diverse parameter-free attacks", ICML 2020.
    .. [2] A. Athalye, N. Carlini and D. Wagner, "Obfuscated Gradients Give a False Sense
       of Security", ICML 2018.

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn_robust.adversaries import AdaptivePGDAttack
    >>> X, y = make_classification(n_samples=200, n_features=6, random_state=0)
    >>> clf = LogisticRegression(C=100).fit(X, y)
    >>> attack = AdaptivePGDAttack(blocks=3, max_iter=20, random_state=0).fit(X)
    >>> X_adv = attack.attack(X, y, estimator=clf)
    >>> bool(clf.score(X, y) > 0.9), bool(clf.score(X_adv, y) < 0.1)
    (True, True)
    """

    _white_box = True

    _parameter_constraints = {
        **BaseInferenceAdversary._parameter_constraints,
        **_targeted_constraints(),
        "epsilon": [Interval(numbers.Real, 0, None, closed="left"), None],
    }

    def __init__(
        self,
        *,
        blocks=None,
        agents=None,
        targeted=False,
        target_class=None,
        loss="margin",
        step_size=0.5,
        max_iter=50,
        n_restarts=2,
        epsilon=None,
        clip=None,
        random_state=None,
    ):
        self.blocks = blocks
        self.agents = agents
        self.targeted = targeted
        self.target_class = target_class
        self.loss = loss
        self.step_size = step_size
        self.max_iter = max_iter
        self.n_restarts = n_restarts
        self.epsilon = epsilon
        self.clip = clip
        self.random_state = random_state

    def _fit(self, X, y):
        _check_target(self)
        self.block_scale_ = _typical_block_norms(X, self.layout_, self.attacked_blocks_)
        self.clip_low_, self.clip_high_ = _clip_bounds(self.clip, X, self.attacked_columns_)

    def _radius(self, estimator):
        """l2 radius per attacked block (a tensor) or None."""
        if self.epsilon is None:
            return None
        return torch.full((self.attacked_blocks_.size,), float(self.epsilon), dtype=torch.float64)

    def _attack(self, X, y, random_state, estimator):
        _check_target(self)
        _, labels, forward, device = _white_box_setup(
            self, X, y, estimator, targeted=self.targeted, target_class=self.target_class
        )
        columns = self.attacked_columns_
        if X.shape[0] == 0 or columns.size == 0:
            return X
        return self._run(X, labels, forward, device, random_state, self._radius(estimator))

    def _run(self, X, labels, forward, device, random_state, radius, accept=None,
             step_size=None, scale=None):
        columns = self.attacked_columns_
        free = _free_entries(self, X)
        radius = None if radius is None else radius.to(device)
        delta = adaptive_perturbation(
            forward,
            torch.as_tensor(X, dtype=torch.float64, device=device),
            torch.as_tensor(columns, dtype=torch.long, device=device),
            torch.as_tensor(free, device=device),
            torch.as_tensor(labels, dtype=torch.long, device=device),
            targeted=bool(self.targeted),
            loss=self.loss,
            step_size=float(self.step_size if step_size is None else step_size),
            max_iter=int(self.max_iter),
            n_restarts=int(self.n_restarts),
            onehot=_onehot_groups(self).to(device),
            scale=float(np.max(self.block_scale_) if scale is None else scale),
            radius=radius,
            low=_bound_tensor(self.clip_low_, device),
            high=_bound_tensor(self.clip_high_, device),
            accept=accept,
            generator=_generator(random_state),
        )
        return _write_back(X, columns, delta.cpu().numpy())
