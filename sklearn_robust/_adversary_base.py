"""The bases of adversaries: poisoning (RandEigen threat model) and inference-time (CoPur).

Both follow imbalanced-learn's ``fit_resample`` template: the public method validates and
copies, a private hook computes.

* :class:`BasePoisoningAdversary` crafts the byzantine rows of a matrix of honest updates:
  ``fit_poison(X)`` validates and copies, then calls ``_craft(X, byzantine, rng)``.
* :class:`BaseInferenceAdversary` corrupts agents' feature blocks at inference:
  ``fit``/``fit_transform`` leave data untouched, ``transform``/``attack`` validate and copy,
  then call ``_attack(X, y, rng, estimator)``.
"""

import numbers
from abc import ABCMeta, abstractmethod

import numpy as np
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin, _fit_context
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, RealNotInt, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from sklearn_robust._counts import count_from_fraction
from sklearn_robust._layout import _blocks_constraint, check_blocks
from sklearn_robust._validation import reject_time_dtypes

__all__ = ["BaseInferenceAdversary", "BasePoisoningAdversary", "is_adversary"]


def is_adversary(estimator):
    """Return True if ``estimator`` is an adversary of this library.

    Parameters
    ----------
    estimator : object
        Any object.

    Returns
    -------
    out : bool
        True for poisoning and inference-time adversaries.

    Examples
    --------
    >>> from sklearn_robust.base import is_adversary
    >>> from sklearn_robust.adversaries import SignFlip
    >>> is_adversary(SignFlip())
    True
    """
    return getattr(estimator, "_estimator_type", None) == "adversary"


# Attributes every poisoning adversary sets; substituted into their docstrings by
# ``_fill_poisoning_doc`` so the text exists once.
_POISONING_ATTRIBUTES_DOC = """\
    byzantine_mask_ : ndarray of shape (n_samples,), dtype=bool
        Rows replaced by the last call to :meth:`fit_poison` (or :meth:`fit`).

    n_byzantine_ : int
        Number of byzantine rows of the last call.

    n_features_in_ : int
        Number of features seen during :meth:`fit_poison`.

    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during :meth:`fit_poison`, defined only when ``X`` has
        feature names that are all strings.
"""


def _fill_poisoning_doc(cls):
    """Class decorator: put the shared Attributes text where ``{poisoning_attributes}`` is."""
    cls.__doc__ = cls.__doc__.replace("    {poisoning_attributes}\n", _POISONING_ATTRIBUTES_DOC)
    return cls


def _resolve_n_byzantine(n_byzantine, n_samples):
    """Number of byzantine rows from an int count or a float fraction of ``n_samples``."""
    if isinstance(n_byzantine, numbers.Integral):
        count = int(n_byzantine)
    else:
        count = count_from_fraction(n_byzantine, n_samples)
    if count >= n_samples:
        raise ValueError(
            f"n_byzantine={n_byzantine!r} gives {count} byzantine rows out of {n_samples}; "
            "at least one honest row is needed. Lower n_byzantine."
        )
    return count


@_fill_poisoning_doc
class BasePoisoningAdversary(BaseEstimator, metaclass=ABCMeta):
    """Base class of poisoning adversaries (the RandEigen threat model).

    A poisoning adversary receives the matrix ``X`` of the updates every client would send
    honestly (one row per client), controls ``n_byzantine`` of those clients and replaces
    their rows by crafted vectors. ``fit_poison`` returns the poisoned matrix (a copy: the
    input is never modified) and records which rows it replaced in ``byzantine_mask_``.

    Knowledge: an *omniscient* (``knowledge="full"``) adversary computes its statistics from
    all honest rows; a *partial-knowledge* one (``knowledge="partial"``) only from the honest
    rows of the clients it controls. Subclasses that use no statistics ignore it.

    Every subclass takes the two parameters declared in ``_parameter_constraints`` here (it
    extends that dict with its own): ``n_byzantine``, the number of byzantine rows (int) or
    their fraction of the rows (float in [0, 1), rounded down; at least one row must stay
    honest), and ``random_state``, the seed of the randomness the attack uses, if any. It
    implements ``_craft(X, byzantine, random_state)``, which returns the byzantine rows
    (one row for all of them, or one each); ``fit_poison`` does the validation, the copy and
    the bookkeeping.

    Attributes
    ----------
    {poisoning_attributes}

    See Also
    --------
    is_adversary : True for instances of subclasses.
    BaseInferenceAdversary : Adversaries that corrupt features at inference instead.
    sklearn_robust.adversaries.SignFlip : A subclass without statistics.

    Examples
    --------
    A subclass only crafts the byzantine rows:

    >>> import numpy as np
    >>> from sklearn_robust.base import BasePoisoningAdversary, is_adversary
    >>> class ZeroUpdates(BasePoisoningAdversary):
    ...     def __init__(self, *, n_byzantine=0.2, random_state=None):
    ...         self.n_byzantine = n_byzantine
    ...         self.random_state = random_state
    ...
    ...     def _craft(self, X, byzantine, random_state):
    ...         return np.zeros(X.shape[1])
    >>> X = np.ones((4, 2))
    >>> attack = ZeroUpdates(n_byzantine=0.25)
    >>> attack.fit_poison(X)  # the last quarter of the rows, by default
    array([[1., 1.],
           [1., 1.],
           [1., 1.],
           [0., 0.]])
    >>> attack.fit_poison(X, byzantine=[0])[:, 0], attack.n_byzantine_
    (array([0., 1., 1., 1.]), 1)
    >>> is_adversary(attack)
    True
    """

    _estimator_type = "adversary"
    _adversary_phase = "poisoning"

    _parameter_constraints = {
        "n_byzantine": [
            Interval(numbers.Integral, 0, None, closed="left"),
            Interval(RealNotInt, 0, 1, closed="left"),
        ],
        "random_state": ["random_state"],
    }

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = False
        return tags

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None, *, byzantine=None):
        """Craft the attack on ``X`` and record which rows are byzantine.

        Equivalent to :meth:`fit_poison` without returning the poisoned matrix.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Honest updates, one row per client.
        y : None
            Ignored.
        byzantine : array-like of int or bool, default=None
            Rows controlled by the adversary; see :meth:`fit_poison`.

        Returns
        -------
        self : object
            The fitted adversary.
        """
        self._fit_poison(X, byzantine)
        return self

    @_fit_context(prefer_skip_nested_validation=True)
    def fit_poison(self, X, y=None, *, byzantine=None):
        """Replace the byzantine rows of ``X`` by crafted vectors.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Honest updates, one row per client. Never modified.
        y : None
            Ignored.
        byzantine : array-like of int or bool, default=None
            Rows controlled by the adversary (indices or a boolean mask). When None, the last
            ``n_byzantine`` rows are byzantine. When given, it takes precedence: the rows it
            names are the byzantine ones whatever ``n_byzantine`` says (a federated loop knows
            which clients it corrupted), and ``n_byzantine_`` records their number.

        Returns
        -------
        X_poisoned : ndarray of shape (n_samples, n_features)
            A copy of ``X`` whose byzantine rows are replaced; ``byzantine_mask_`` tells which.
        """
        return self._fit_poison(X, byzantine)

    def _fit_poison(self, X, byzantine):
        reject_time_dtypes(X, type(self).__name__)
        X = validate_data(self, X, dtype=[np.float64, np.float32], ensure_min_samples=2)
        n_samples = X.shape[0]
        mask = self._byzantine_mask(byzantine, n_samples)
        X_poisoned = X.copy()
        n_bad = int(mask.sum())
        if n_bad:
            rng = check_random_state(self.random_state)
            crafted = self._craft(X, mask, rng)
            X_poisoned[mask] = np.broadcast_to(crafted, (n_bad, X.shape[1]))
        self.byzantine_mask_ = mask
        self.n_byzantine_ = n_bad
        return X_poisoned

    def _byzantine_mask(self, byzantine, n_samples):
        if byzantine is None:
            count = _resolve_n_byzantine(self.n_byzantine, n_samples)
            mask = np.zeros(n_samples, dtype=bool)
            if count:
                mask[n_samples - count :] = True
            return mask
        byzantine = np.asarray(byzantine)
        if byzantine.dtype == bool:
            if byzantine.shape != (n_samples,):
                raise ValueError(
                    f"byzantine as a boolean mask must have shape ({n_samples},), got "
                    f"{byzantine.shape}. Pass one flag per row of X."
                )
            mask = byzantine.copy()
        else:
            if byzantine.ndim != 1 or not np.issubdtype(byzantine.dtype, np.integer):
                raise ValueError(
                    "byzantine must be a 1-D array of row indices or a boolean mask; got "
                    f"dtype {byzantine.dtype} and shape {byzantine.shape}."
                )
            if byzantine.size and (byzantine.min() < -n_samples or byzantine.max() >= n_samples):
                raise ValueError(
                    f"byzantine indices must lie in [0, {n_samples}); got min "
                    f"{byzantine.min()} and max {byzantine.max()}."
                )
            mask = np.zeros(n_samples, dtype=bool)
            mask[byzantine] = True
        if mask.all():
            raise ValueError(
                f"byzantine marks all {n_samples} rows; at least one honest row is needed."
            )
        return mask

    @abstractmethod
    def _craft(self, X, byzantine, random_state):
        """Return the byzantine rows: shape (n_byzantine, n_features) or (n_features,).

        ``X`` holds every client's honest update, ``byzantine`` is a bool mask of the rows the
        adversary controls, ``random_state`` a ``numpy.random.RandomState``.
        """

    def _known_rows(self, X, byzantine):
        """Honest rows the adversary may look at, according to ``self.knowledge``."""
        if getattr(self, "knowledge", "full") == "partial":
            return X[byzantine]
        return X


def _resolve_agents(agents, n_blocks):
    """Sorted unique block indices attacked, from the ``agents`` parameter."""
    if isinstance(agents, (bool, np.bool_)):
        raise ValueError(
            f"agents={agents!r} is a bool, which says no agent; pass None (the last block), "
            "an int index, a float fraction, a list of indices or 'all'."
        )
    if agents is None:
        return np.array([n_blocks - 1], dtype=np.intp)
    if isinstance(agents, str):  # "all", validated by the constraints
        return np.arange(n_blocks, dtype=np.intp)
    if isinstance(agents, numbers.Integral) and not isinstance(agents, bool):
        chosen = np.array([int(agents)])
    elif isinstance(agents, numbers.Real):
        count = count_from_fraction(agents, n_blocks)
        if count < 1:
            raise ValueError(
                f"agents={agents!r} is a fraction of the {n_blocks} agents that rounds down to "
                "no agent; raise it or pass agent indices."
            )
        return np.arange(n_blocks - count, n_blocks, dtype=np.intp)
    else:
        chosen = np.asarray(agents)
        if chosen.ndim != 1 or (chosen.size and not np.issubdtype(chosen.dtype, np.integer)):
            raise ValueError(
                f"agents must be None, 'all', an int index, a float fraction or a 1-D list of "
                f"int indices; got {agents!r}."
            )
    bad = chosen[(chosen < -n_blocks) | (chosen >= n_blocks)]
    if bad.size:
        raise ValueError(
            f"agents {bad.tolist()} are out of range for a layout of {n_blocks} blocks (valid: "
            f"{-n_blocks} to {n_blocks - 1})."
        )
    return np.unique(np.where(chosen < 0, chosen + n_blocks, chosen)).astype(np.intp)


# Parameters every inference-time adversary documents the same way; substituted into their
# docstrings by ``_fill_inference_doc`` so the text exists once.
_INFERENCE_PARAMETERS_DOC = """\
    blocks : int, list of int, list of array-like of int or None, default=None
        Block layout of the features: the number of equal blocks, the block widths, or the
        column indices of each block (see :func:`~sklearn_robust.base.check_blocks`). None
        means one block per column.

    agents : int, float, array-like of int, 'all' or None, default=None
        Blocks the adversary controls: None for the last block (the paper's setting), an int
        for one block index (negative counts from the end), a float in (0, 1] for that
        fraction of the blocks (the last ones, rounded down, at least one), a list of block
        indices, or 'all'.
"""

_INFERENCE_ATTRIBUTES_DOC = """\
    layout_ : BlockLayout
        Validated block layout of the features.

    attacked_blocks_ : ndarray of int
        Indices of the blocks the adversary controls.

    attacked_columns_ : ndarray of int
        Column indices of those blocks.

    n_features_in_ : int
        Number of features seen during :meth:`fit`.

    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during :meth:`fit`, defined only when ``X`` has feature names
        that are all strings.
"""


def _fill_inference_doc(cls):
    """Class decorator: put the shared texts where ``{inference_parameters}`` and
    ``{inference_attributes}`` stand in the docstring."""
    cls.__doc__ = cls.__doc__.replace(
        "    {inference_parameters}\n", _INFERENCE_PARAMETERS_DOC
    ).replace("    {inference_attributes}\n", _INFERENCE_ATTRIBUTES_DOC)
    return cls


@_fill_inference_doc
class BaseInferenceAdversary(
    OneToOneFeatureMixin, TransformerMixin, BaseEstimator, metaclass=ABCMeta
):
    """Base class of inference-time adversaries (the CoPur threat model).

    The adversary controls some agents' feature blocks at inference time. ``fit`` learns the
    layout (and, for attacks that need it, statistics of the clean data); ``fit_transform``
    returns the training data untouched, so a ``Pipeline([attack, defense, classifier])``
    trains on clean data and predicts under attack; ``transform`` (and :meth:`attack`, which
    also receives the labels and the fitted model a white-box attack needs) returns an
    attacked copy. The input is never modified.

    Subclasses implement ``_attack(X, y, random_state, estimator)`` on a validated float copy
    and may override ``_fit(X, y)`` to learn statistics of the clean data. Every subclass
    takes the parameters declared in ``_parameter_constraints`` here (it extends that dict
    with its own): ``blocks``, the block layout of the features (see :func:`check_blocks`),
    ``agents``, the blocks the adversary controls (None for the last one), and
    ``random_state``, passed to ``_attack`` as a ``numpy.random.RandomState``.

    Attributes
    ----------
    {inference_attributes}

    See Also
    --------
    is_adversary : True for instances of subclasses.
    BasePoisoningAdversary : Adversaries that poison training updates instead.
    sklearn_robust.adversaries.MissingBlocks : A subclass: the attacked blocks become NaN.

    Examples
    --------
    A subclass only corrupts its private copy; the attacked columns are fitted by the base:

    >>> import numpy as np
    >>> from sklearn_robust.base import BaseInferenceAdversary
    >>> class ZeroBlocks(BaseInferenceAdversary):
    ...     def __init__(self, *, blocks=None, agents=None, random_state=None):
    ...         self.blocks = blocks
    ...         self.agents = agents
    ...         self.random_state = random_state
    ...
    ...     def _attack(self, X, y, random_state, estimator):
    ...         X[:, self.attacked_columns_] = 0.0
    ...         return X
    >>> X = np.arange(6, dtype=float).reshape(2, 3)
    >>> attack = ZeroBlocks(blocks=[2, 1], agents=0).fit(X)
    >>> attack.attacked_columns_
    array([0, 1])
    >>> attack.transform(X)
    array([[0., 0., 2.],
           [0., 0., 5.]])
    >>> attack.fit_transform(X)  # training data pass through untouched
    array([[0., 1., 2.],
           [3., 4., 5.]])
    """

    _estimator_type = "adversary"
    _adversary_phase = "inference"
    # True for attacks that need the fitted model's gradients (PGD); they refuse plain
    # ``transform`` and are applied through ``attack(..., estimator=...)``.
    _white_box = False

    _parameter_constraints = {
        "blocks": _blocks_constraint(),
        "agents": [
            Interval(numbers.Integral, None, None, closed="neither"),
            Interval(RealNotInt, 0, 1, closed="right"),
            StrOptions({"all"}),
            "array-like",
            None,
        ],
        "random_state": ["random_state"],
    }

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True  # missing agents are NaN blocks
        tags.target_tags.required = False
        tags.requires_fit = True
        return tags

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Learn the block layout (and clean-data statistics the attack needs).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Clean features. NaN marks missing blocks.
        y : array-like of shape (n_samples,), default=None
            Labels; used only by attacks that need them.

        Returns
        -------
        self : object
            The fitted adversary.
        """
        reject_time_dtypes(X, type(self).__name__)
        X = validate_data(self, X, dtype=[np.float64, np.float32], ensure_all_finite="allow-nan")
        self.layout_ = check_blocks(self.blocks, X.shape[1])
        self.attacked_blocks_ = _resolve_agents(self.agents, self.layout_.n_blocks)
        self.attacked_columns_ = self.layout_.columns(self.attacked_blocks_)
        self._fit(X, y)
        return self

    def _fit(self, X, y):
        """Learn what the attack needs from clean data; nothing by default."""

    def fit_transform(self, X, y=None):
        """Fit, and return the training data **unattacked**.

        Training data pass through untouched so that the steps after the adversary in a
        pipeline are trained on clean data; only :meth:`transform` attacks.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Clean features.
        y : array-like of shape (n_samples,), default=None
            Labels; used only by attacks that need them.

        Returns
        -------
        X_out : ndarray of shape (n_samples, n_features)
            A copy of the validated ``X``.
        """
        self.fit(X, y)
        return validate_data(
            self,
            X,
            reset=False,
            dtype=[np.float64, np.float32],
            ensure_all_finite=False,
            copy=True,
        )

    def transform(self, X):
        """Return an attacked copy of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Features to attack. Never modified.

        Returns
        -------
        X_attacked : ndarray of shape (n_samples, n_features)
            ``X`` with the attacked blocks corrupted.
        """
        if self._white_box:
            raise ValueError(
                f"{type(self).__name__} is a white-box attack: it needs the fitted model, "
                "which transform() does not receive. Score with "
                "sklearn_robust.metrics.make_robust_scorer(attack), or call "
                "attack(X, y, estimator=fitted_model)."
            )
        return self.attack(X)

    def attack(self, X, y=None, *, estimator=None):
        """Return an attacked copy of ``X``, with what a white-box attack needs.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Features to attack. Never modified.
        y : array-like of shape (n_samples,), default=None
            True labels (untargeted white-box attacks push predictions away from them; when
            None they use the model's own predictions). Ignored by black-box attacks.
        estimator : fitted estimator, default=None
            The model under attack (the pipeline steps after the adversary). Required by
            white-box attacks, ignored by the others.

        Returns
        -------
        X_attacked : ndarray of shape (n_samples, n_features)
            ``X`` with the attacked blocks corrupted.
        """
        check_is_fitted(self)
        reject_time_dtypes(X, type(self).__name__)
        X = validate_data(
            self,
            X,
            reset=False,
            dtype=[np.float64, np.float32],
            ensure_all_finite=False,
            copy=True,
        )
        random_state = check_random_state(self.random_state)
        return self._attack(X, y, random_state, estimator)

    @abstractmethod
    def _attack(self, X, y, random_state, estimator):
        """Corrupt the attacked blocks of ``X`` (a private copy) and return it."""
