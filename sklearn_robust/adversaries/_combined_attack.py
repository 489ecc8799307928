"""Several inference-time attacks applied in sequence."""

import numpy as np
from sklearn.base import _fit_context, clone
from sklearn.utils.metaestimators import _BaseComposition
from sklearn.utils.validation import check_is_fitted, validate_data

from sklearn_robust._adversary_base import BaseInferenceAdversary, _fill_inference_doc, is_adversary
from sklearn_robust.adversaries._feature_flip import FeatureFlip


@_fill_inference_doc
class CombinedAttack(_BaseComposition, BaseInferenceAdversary):
    """Several inference-time attacks applied one after the other.

    The CoPur paper's Table 2 combines a missing agent with an attacked one; this
    meta-adversary composes any inference-time adversaries of this library the way a
    ``Pipeline`` composes steps. ``fit`` fits a clone of each attack on the clean data;
    :meth:`transform` (or :meth:`attack`) applies them in order, each to the output of the
    previous one. ``fit_transform`` leaves the training data untouched, as every
    inference-time adversary does.

    Parameters
    ----------
    attacks : list of (str, estimator) tuples, default=None
        The attacks, in the order they are applied, each named so that its parameters are
        reachable as ``<name>__<parameter>`` (e.g. ``flip__amplification``). Every attack
        must be an inference-time adversary (such as :class:`MissingBlocks`,
        :class:`FeatureFlip` or :class:`BlockNoise`) and all must describe the same block
        layout. None means ``[("flip", FeatureFlip())]``.

    Attributes
    ----------
    attacks_ : list of (str, estimator) tuples
        The fitted clones of the attacks, in order.

    {inference_attributes}

    See Also
    --------
    MissingBlocks : The attacked blocks become NaN (missing agents).
    FeatureFlip : The attacked blocks are negated and amplified.
    BlockNoise : The attacked blocks are replaced by unbounded noise.

    Notes
    -----
    ``layout_`` is the layout the attacks share, ``attacked_blocks_`` the union of the
    blocks they attack and ``attacked_columns_`` the columns of that union. When two attacks
    hit the same block the later one acts on what the earlier one produced (a flip of a
    missing block stays missing; noise replaces it).

    :meth:`attack` forwards ``y`` and ``estimator`` to every attack, so white-box attacks
    can take part; :meth:`transform` is then refused, as for a white-box attack alone. Each
    attack keeps its own ``random_state``: two attacks with the same seed and the same
    ``rows`` fraction hit the same rows.

    References
    ----------
    .. [1] J. Liu, C. Xie, O. Koyejo and B. Li, "CoPur: Certifiably Robust Collaborative
       Inference via Feature Purification", NeurIPS 2022.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_robust.adversaries import CombinedAttack, FeatureFlip, MissingBlocks
    >>> X = np.arange(8, dtype=float).reshape(2, 4)
    >>> attack = CombinedAttack([
    ...     ("missing", MissingBlocks(blocks=4, agents=0)),
    ...     ("flip", FeatureFlip(blocks=4, agents=-1)),
    ... ])
    >>> attack.set_params(flip__amplification=2.0).fit(X).transform(X)
    array([[ nan,   1.,   2.,  -6.],
           [ nan,   5.,   6., -14.]])
    >>> attack.attacked_blocks_
    array([0, 3])
    """

    _parameter_constraints = {"attacks": [list, None]}

    def __init__(self, attacks=None):
        self.attacks = attacks

    def get_params(self, deep=True):
        """Get the parameters of this attack and, with ``deep=True``, of its attacks.

        Parameters
        ----------
        deep : bool, default=True
            If True, also return the parameters of the attacks as ``<name>__<parameter>``
            and each attack under its name.

        Returns
        -------
        params : dict
            Parameter names mapped to their values.
        """
        return self._get_params("attacks", deep=deep)

    def set_params(self, **params):
        """Set the parameters of this attack or of its attacks.

        Valid keys are those of :meth:`get_params` with ``deep=True``: ``attacks``, an
        attack's name (to replace it) or ``<name>__<parameter>``.

        Parameters
        ----------
        **params : keyword arguments
            Parameter names mapped to their new values.

        Returns
        -------
        self : CombinedAttack
            This attack.
        """
        self._set_params("attacks", **params)
        return self

    @property
    def _white_box(self):
        # Known once fitted; before that transform() fails on check_is_fitted anyway.
        fitted = getattr(self, "attacks_", ())
        return any(getattr(attack, "_white_box", False) for _, attack in fitted)

    def _checked_attacks(self):
        """The ``(name, attack)`` list, default applied and validated."""
        attacks = [("flip", FeatureFlip())] if self.attacks is None else self.attacks
        if not attacks:
            raise ValueError(
                "CombinedAttack needs at least one attack; got attacks=[]. Pass a list of "
                "(name, attack) tuples, e.g. [('flip', FeatureFlip())]."
            )
        for item in attacks:
            if not (isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str)):
                raise ValueError(
                    "attacks must be a list of (name, attack) tuples with str names; got "
                    f"the item {item!r}."
                )
        self._validate_names([name for name, _ in attacks])
        for name, attack in attacks:
            if isinstance(attack, type):
                raise ValueError(
                    f"attack {name!r} is the class {attack.__name__}; pass an instance, e.g. "
                    f"{attack.__name__}()."
                )
            phase = getattr(attack, "_adversary_phase", None)
            if not is_adversary(attack) or phase != "inference":
                kind = "a poisoning adversary" if phase == "poisoning" else "not an adversary"
                raise ValueError(
                    f"attack {name!r} is {attack!r}, {kind}; CombinedAttack composes "
                    "inference-time adversary instances such as MissingBlocks(), "
                    "FeatureFlip() or BlockNoise()."
                )
        return attacks

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y=None):
        """Fit a clone of every attack on the clean data.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Clean features. NaN marks missing blocks.
        y : array-like of shape (n_samples,), default=None
            Labels; passed to each attack's ``fit``.

        Returns
        -------
        self : object
            The fitted attack.
        """
        X = validate_data(self, X, dtype=[np.float64, np.float32], ensure_all_finite="allow-nan")
        # The attacks see plain arrays (no feature names): names are checked here once.
        fitted = [(name, clone(attack).fit(X, y)) for name, attack in self._checked_attacks()]
        first_name, first = fitted[0]
        for name, attack in fitted[1:]:
            if attack.layout_ != first.layout_:
                raise ValueError(
                    f"all attacks of a CombinedAttack must describe the same block layout; "
                    f"attack {first_name!r} has {first.layout_!r} but {name!r} has "
                    f"{attack.layout_!r}. Pass the same blocks to every attack."
                )
        self.attacks_ = fitted
        self.layout_ = first.layout_
        self.attacked_blocks_ = np.unique(
            np.concatenate([attack.attacked_blocks_ for _, attack in fitted])
        ).astype(np.intp)
        self.attacked_columns_ = self.layout_.columns(self.attacked_blocks_)
        return self

    def attack(self, X, y=None, *, estimator=None):
        """Return a copy of ``X`` attacked by every attack in turn.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Features to attack. Never modified.
        y : array-like of shape (n_samples,), default=None
            True labels, forwarded to every attack (used by white-box attacks).
        estimator : fitted estimator, default=None
            The model under attack, forwarded to every attack (required by white-box ones).

        Returns
        -------
        X_attacked : ndarray of shape (n_samples, n_features)
            ``X`` after all the attacks.
        """
        check_is_fitted(self)
        X = validate_data(
            self, X, reset=False, dtype=[np.float64, np.float32], ensure_all_finite=False
        )
        return self._attack(X, y, None, estimator)

    def _attack(self, X, y, random_state, estimator):
        # Every attack validates and copies its input: X itself is never written to.
        for _, attack in self.attacks_:
            X = attack.attack(X, y, estimator=estimator)
        return X
