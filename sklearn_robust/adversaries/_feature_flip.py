"""Flip attack: the attacked agents send their own features negated and amplified."""

import numbers

import numpy as np
from sklearn.utils._param_validation import Interval

from sklearn_robust._adversary_base import BaseInferenceAdversary, _fill_inference_doc
from sklearn_robust._numerics._feature_attacks import _attacked_rows, _flip_values


@_fill_inference_doc
class FeatureFlip(BaseInferenceAdversary):
    """Flip attack: each attacked block ``h_a`` becomes ``-amplification * h_a``.

    The attack of the CoPur paper's Figure 2a: the compromised agents send their honest
    embedding negated and scaled (amplification 10 in the paper). It needs no knowledge of
    the model. ``fit`` and ``fit_transform`` leave the (clean) training data untouched; only
    :meth:`transform` (or :meth:`attack`) flips the blocks.

    Parameters
    ----------
    {inference_parameters}

    amplification : float, default=10.0
        Non-negative, finite factor applied to the negated block. ``1.0`` is a plain sign
        flip; ``0.0`` makes the agents send zeros.

    rows : float, default=1.0
        Fraction of the rows attacked, in (0, 1]: ``1.0`` attacks every row; otherwise
        ``floor(rows * n_samples)`` rows (at least one) are drawn with ``random_state`` at
        each call of :meth:`transform`.

    random_state : int, RandomState instance or None, default=None
        Seed of the choice of attacked rows when ``rows < 1``; an int gives the same rows at
        every call. Unused when ``rows=1.0``.

    Attributes
    ----------
    {inference_attributes}

    See Also
    --------
    MissingBlocks : The attacked blocks become NaN (missing agents).
    BlockNoise : The attacked blocks are replaced by unbounded noise.
    CombinedAttack : Several attacks in sequence.

    Notes
    -----
    NaN (a missing block) stays NaN. Products too large for the dtype of the data become
    ``+-inf``, i.e. a corrupted block, never NaN; with ``amplification=0`` infinite values
    become 0 as well. The attack is equivariant to scalings of ``X``.

    References
    ----------
    .. [1] J. Liu, C. Xie, O. Koyejo and B. Li, "CoPur: Certifiably Robust Collaborative
       Inference via Feature Purification", NeurIPS 2022.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_robust.adversaries import FeatureFlip
    >>> X = np.arange(8, dtype=float).reshape(2, 4)
    >>> attack = FeatureFlip(blocks=2).fit(X)  # the last of two blocks is attacked
    >>> attack.transform(X)
    array([[  0.,   1., -20., -30.],
           [  4.,   5., -60., -70.]])
    >>> FeatureFlip(blocks=2, amplification=1.0, rows=0.5, random_state=0).fit(X).transform(X)
    array([[ 0.,  1.,  2.,  3.],
           [ 4.,  5., -6., -7.]])
    """

    _parameter_constraints = {
        **BaseInferenceAdversary._parameter_constraints,
        "amplification": [Interval(numbers.Real, 0, np.inf, closed="left")],
        "rows": [Interval(numbers.Real, 0, 1, closed="right")],
    }

    def __init__(
        self, *, blocks=None, agents=None, amplification=10.0, rows=1.0, random_state=None
    ):
        self.blocks = blocks
        self.agents = agents
        self.amplification = amplification
        self.rows = rows
        self.random_state = random_state

    def _attack(self, X, y, random_state, estimator):
        rows = _attacked_rows(X.shape[0], self.rows, random_state)
        cells = np.ix_(rows, self.attacked_columns_)
        X[cells] = _flip_values(X[cells], self.amplification)
        return X
