"""White-box gradient attack on agents' feature blocks (targeted or untargeted PGD)."""

import numbers

import numpy as np
import torch
from sklearn.pipeline import Pipeline
from sklearn.utils._param_validation import Interval, StrOptions

from sklearn_robust._adversary_base import BaseInferenceAdversary, _fill_inference_doc
from sklearn_robust._numerics._pgd import pgd_perturbation
from sklearn_robust.adversaries._adaptive import (
    _free_entries,
    _generator,
    _require_estimator,
    _white_box_setup,
    _write_back,
)


def _clip_bounds(clip, X, columns):
    """``(low, high)`` float64 arrays over the attacked columns (or None) from ``clip``."""
    if clip is None:
        return None, None
    k = columns.size
    if isinstance(clip, str):  # "data": the range of the fitted data, NaN and inf ignored
        part = X[:, columns].astype(np.float64)
        finite = np.isfinite(part)
        if not finite.any(axis=0).all():
            raise ValueError(
                "clip='data' needs at least one finite value in every attacked column of the "
                "data given to fit; some attacked columns have none. Pass clip=(low, high)."
            )
        low = np.where(finite, part, np.inf).min(axis=0)
        high = np.where(finite, part, -np.inf).max(axis=0)
        return low, high
    if len(clip) != 2:
        raise ValueError(f"clip must be None, 'data' or a pair (low, high); got {clip!r}.")
    bounds = []
    for side, value in zip(("low", "high"), clip):
        if value is None:
            bounds.append(None)
            continue
        array = np.asarray(value, dtype=np.float64)
        if array.ndim == 0:
            array = np.full(k, float(array))
        if array.shape != (k,) or np.isnan(array).any():
            raise ValueError(
                f"clip's {side} bound must be a number or one value per attacked column "
                f"({k}), without NaN; got {value!r}."
            )
        bounds.append(array)
    low, high = bounds
    if low is not None and high is not None and np.any(low > high):
        raise ValueError(f"clip's low bound exceeds its high bound somewhere: clip={clip!r}.")
    return low, high


def _bound_tensor(bound, device):
    return None if bound is None else torch.as_tensor(bound, dtype=torch.float64, device=device)


@_fill_inference_doc
class PGDAttack(BaseInferenceAdversary):
    """White-box gradient attack on the attacked blocks (targeted or untargeted PGD).

    The adversary knows the fitted model and perturbs only the feature blocks of the agents
    it controls, following the gradient of the model's cross-entropy loss with respect to
    those columns (the gradient is masked to the attacked columns; every other column is
    returned bit for bit). All rows are attacked at once, in float32, on the device of the
    model's tensors.

    * Untargeted (``targeted=False``): maximise the cross-entropy of the true labels ``y``
      (of the model's own predictions when ``y`` is None).
    * Targeted (``targeted=True``): minimise the cross-entropy of ``target_class``.

    With ``norm=None`` the attack is the unprojected gradient descent of the CoPur paper: each
    of the ``max_iter`` steps moves the attacked columns by ``step_size`` times the raw
    gradient of each row's loss, with no budget (the paper uses step 0.1 x 50 iterations on
    NUS-WIDE, 0.5 x 30 on ExtraSensory). With ``norm='l2'`` or ``'inf'`` it is standard PGD:
    steps of length ``step_size`` along the per-row unit-l2 gradient or its sign, each
    followed by a projection onto the ball of radius ``epsilon`` around the clean row,
    measured per row on the attacked columns.

    A white-box attack needs the fitted model, which ``transform`` does not receive: use
    :meth:`attack` with ``estimator=...``, or score with
    :func:`~sklearn_robust.metrics.make_robust_scorer` (which also applies a
    ``PGDAttack`` placed as a step of a Pipeline to the steps after it). ``fit`` and
    ``fit_transform`` leave data untouched, like every inference-time adversary.

    Parameters
    ----------
    {inference_parameters}

    targeted : bool, default=False
        Push every row towards ``target_class`` instead of away from its label.

    target_class : object, default=None
        Class label (one of the estimator's ``classes_``) the targeted attack aims at.
        Required when ``targeted=True``, ignored otherwise.

    step_size : float, default=0.1
        Non-negative step length: it multiplies the raw gradient (``norm=None``), the
        per-row unit-l2 gradient (``'l2'``) or the gradient's sign (``'inf'``). Zero leaves
        the data unchanged (without ``random_start``).

    max_iter : int, default=50
        Number of gradient steps.

    norm : {'l2', 'inf'} or None, default=None
        Norm of the budget, measured per row on the attacked columns. None: no budget and
        raw-gradient steps (the paper's attack).

    epsilon : float, default=None
        Radius of the budget ball; required with ``norm='l2'`` or ``'inf'``, ignored when
        ``norm=None``.

    random_start : bool, default=False
        Start from a uniformly random point of the budget ball instead of the clean row
        (for ``norm=None``: uniform noise in ``[-step_size, step_size]`` per entry).

    through : {'all', 'final'}, default='all'
        What the gradient is taken through.

        * ``'all'``: every step of the estimator given to :meth:`attack` (for a Pipeline
          ``[purifier, classifier]``, through the purifier too): the *adaptive* attack.
        * ``'final'``: the final step of a Pipeline alone, fed the attacked features
          directly, as if the steps before it did not exist: the gradient at ``x`` is that
          of ``final_step(x)``, not of ``final_step(purifier(x))``. This is the paper's
          *non-adaptive* attack, crafted on the fusion classifier and then sent through the
          purifier. The final step must accept the attacked data's columns as they are. For
          an estimator that is not a Pipeline, ``'final'`` is ``'all'``. Which rows are
          attacked and the labels of ``y=None`` (the model's predictions) always come from
          the whole estimator.

    n_restarts : int, default=1
        Number of runs of ``max_iter`` steps. The first starts from the clean row (or at
        random with ``random_start``), every later one from a random point drawn as for
        ``random_start``; each row keeps its best iterate over all runs (with
        ``keep_best``).

    clip : None, "data" or tuple of (float or array-like, float or array-like), \
            default=None
        Box the attacked entries must stay in (the data domain), applied after every step:
        None for none, ``"data"`` for the range of each attacked column over the data
        given to :meth:`fit` (e.g. non-negative ReLU embeddings stay non-negative), or
        ``(low, high)``, scalars or one value per attacked column (None for no bound on
        that side). The budget always holds; a clean entry already outside the box stays
        where the budget allows.

    keep_best : bool, default=True
        Return, for each row, the iterate that came closest to (or went furthest past)
        success over every step and run, measured by the model's margin (the clean row
        itself included, so the attack never returns a row it made more confidently
        right). False returns the last iterate, as textbook PGD (and ART's and
        torchattacks' single-start PGD) does.

    random_state : int, RandomState instance or None, default=None
        Seed of the random starts (unused without ``random_start`` and with
        ``n_restarts=1``).

    Attributes
    ----------
    {inference_attributes}

    clip_low_, clip_high_ : ndarray of shape (n_attacked_columns,) or None
        The box of ``clip`` over the attacked columns (None where unbounded).

    See Also
    --------
    AdaptivePGDAttack : Normalised steps, step-size schedule, restarts, margin loss.
    EnsembleAttack : The per-row strongest of the library's adaptive attacks.
    sklearn_robust.metrics.make_robust_scorer : Score a fitted pipeline under an attack.

    Notes
    -----
    The model must be differentiable (``sklearn_robust._differentiable``): every step
    implements ``_torch_forward`` or is a Pipeline, a StandardScaler/MinMaxScaler/
    MaxAbsScaler, a linear classifier or a skorch net. A step without a forward pass (a
    random forest, an imputer) raises a TypeError that names it.

    Missing blocks stay as they are, including attacked blocks that are missing (a block
    holding any NaN in a row is missing for that row): an agent that sends nothing cannot
    be perturbed, and NaN stays NaN. Non-finite attacked entries (inf) are left as they
    are. Rows for which the model's output on the clean row is not finite (a model that
    cannot read their NaN or inf) are returned unperturbed, random start included, and an
    entry whose gradient stops being finite along the way is not moved.

    The budget is exact: the returned data differ from the input by at most ``epsilon`` per
    row (in the chosen norm, over the attacked columns), up to the rounding of the input's
    dtype. With ``keep_best`` (the default) the attack returns each row's best iterate;
    without it, the last one.

    *Knowledge model.* White-box: the attacker knows the fitted model (every step with
    ``through="all"``, the final step only with ``through="final"``) and differentiates
    through it; it controls the attacked agents' blocks and nothing else. It does not know
    a defense's detection rule unless the gradient carries it. Against purification
    defenses this is a weak attack (the raw-gradient steps barely move confident rows, and
    the rows that move overshoot and get trimmed): evaluate defenses with
    :class:`EnsembleAttack`, which includes it.

    Steps and projections are computed in float64, so no step size (not even ``1e308``)
    can produce NaN; an attacked entry beyond the input's dtype becomes ``+-inf``.

    The model's fitted state is never changed: its parameters receive no gradient, and a
    torch module is put in evaluation mode only for the forward pass.

    References
    ----------
    .. [1] J. Liu, C. Xie, O. Koyejo and B. Li, "CoPur: Certifiably Robust Collaborative
       Inference via Feature Purification", NeurIPS 2022.
    .. [2] A. Madry, A. Makelov, L. Schmidt, D. Tsipras and A. Vladu, "Towards Deep Learning
       Models Resistant to Adversarial Attacks", ICLR 2018.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.datasets import make_classification
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn_robust.adversaries import PGDAttack
    >>> X, y = make_classification(n_samples=200, n_features=6, random_state=0)
    >>> clf = LogisticRegression().fit(X, y)
    >>> attack = PGDAttack(blocks=3, agents=-1, step_size=1.0, max_iter=20).fit(X)
    >>> attack.attacked_columns_
    array([4, 5])
    >>> X_adv = attack.attack(X, y, estimator=clf)
    >>> bool(clf.score(X, y) > 0.9), bool(clf.score(X_adv, y) < 0.5)
    (True, True)
    >>> bool(np.array_equal(X_adv[:, :4], X[:, :4]))
    True

    A budgeted attack:

    >>> attack = PGDAttack(blocks=3, norm="l2", epsilon=0.5, step_size=0.1).fit(X)
    >>> X_adv = attack.attack(X, y, estimator=clf)
    >>> bool(np.linalg.norm(X_adv - X, axis=1).max() <= 0.5 + 1e-9)
    True
    """

    _white_box = True

    _parameter_constraints = {
        **BaseInferenceAdversary._parameter_constraints,
        "targeted": ["boolean"],
        "target_class": "no_validation",
        "step_size": [Interval(numbers.Real, 0, None, closed="left")],
        "max_iter": [Interval(numbers.Integral, 1, None, closed="left")],
        "norm": [StrOptions({"l2", "inf"}), None],
        "epsilon": [Interval(numbers.Real, 0, None, closed="left"), None],
        "random_start": ["boolean"],
        "through": [StrOptions({"all", "final"})],
        "n_restarts": [Interval(numbers.Integral, 1, None, closed="left")],
        "clip": [StrOptions({"data"}), tuple, None],
        "keep_best": ["boolean"],
    }

    def __init__(
        self,
        *,
        blocks=None,
        agents=None,
        targeted=False,
        target_class=None,
        step_size=0.1,
        max_iter=50,
        norm=None,
        epsilon=None,
        random_start=False,
        through="all",
        n_restarts=1,
        clip=None,
        keep_best=True,
        random_state=None,
    ):
        self.blocks = blocks
        self.agents = agents
        self.targeted = targeted
        self.target_class = target_class
        self.step_size = step_size
        self.max_iter = max_iter
        self.norm = norm
        self.epsilon = epsilon
        self.random_start = random_start
        self.through = through
        self.n_restarts = n_restarts
        self.clip = clip
        self.keep_best = keep_best
        self.random_state = random_state

    def _check_settings(self):
        if self.norm is not None and self.epsilon is None:
            raise ValueError(
                f"norm={self.norm!r} needs a budget: epsilon is None. Pass epsilon (the radius "
                "of the ball, per row on the attacked columns), or norm=None for the unbounded "
                "attack."
            )
        if self.targeted and self.target_class is None:
            raise ValueError(
                "targeted=True needs target_class, the class label the attack aims at; got "
                "target_class=None."
            )

    def _fit(self, X, y):
        self._check_settings()
        self.clip_low_, self.clip_high_ = _clip_bounds(self.clip, X, self.attacked_columns_)

    def _attack(self, X, y, random_state, estimator):
        self._check_settings()
        _require_estimator(self, estimator)
        model = estimator
        if self.through == "final" and isinstance(estimator, Pipeline):
            model = estimator.steps[-1][1]
            n_in = getattr(model, "n_features_in_", None)
            if n_in is not None and n_in != X.shape[1]:
                raise ValueError(
                    f"through='final' feeds the attacked data straight to the final step "
                    f"{type(model).__name__}, which expects {n_in} features, but X has "
                    f"{X.shape[1]}. Use through='all', or attack where the final step's "
                    "input is (at= in make_robust_scorer)."
                )
        _, labels, forward, device = _white_box_setup(
            self, X, y, estimator, targeted=self.targeted, target_class=self.target_class,
            model=model,
        )
        columns = self.attacked_columns_
        if X.shape[0] == 0 or columns.size == 0:
            return X
        free = _free_entries(self, X)
        delta = pgd_perturbation(
            forward,
            torch.as_tensor(X, dtype=torch.float64, device=device),
            torch.as_tensor(columns, dtype=torch.long, device=device),
            torch.as_tensor(free, device=device),
            torch.as_tensor(labels, dtype=torch.long, device=device),
            targeted=bool(self.targeted),
            step_size=float(self.step_size),
            max_iter=int(self.max_iter),
            norm=self.norm,
            epsilon=None if self.epsilon is None else float(self.epsilon),
            random_start=bool(self.random_start),
            generator=_generator(random_state),
            n_restarts=int(self.n_restarts),
            low=_bound_tensor(self.clip_low_, device),
            high=_bound_tensor(self.clip_high_, device),
            keep_best=bool(self.keep_best),
        )
        return _write_back(X, columns, delta.cpu().numpy())
