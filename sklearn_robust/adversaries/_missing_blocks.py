"""Missing-agents attack: the attacked agents send nothing."""

import numbers

import numpy as np
from sklearn.utils._param_validation import Interval

from sklearn_robust._adversary_base import BaseInferenceAdversary, _fill_inference_doc
from sklearn_robust._numerics._feature_attacks import _attacked_rows, _missing_values


@_fill_inference_doc
class MissingBlocks(BaseInferenceAdversary):
    """Missing agents: the attacked agents' feature blocks become NaN.

    The agents the adversary controls (or that failed) send nothing to the fusion center, so
    their blocks are unobserved: every attacked value is NaN, the library's marker of a
    missing block. ``fit`` and ``fit_transform`` leave the (clean) training data untouched;
    only :meth:`transform` (or :meth:`attack`) removes the blocks.

    Parameters
    ----------
    {inference_parameters}

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
    FeatureFlip : The attacked blocks are negated and amplified.
    BlockNoise : The attacked blocks are replaced by unbounded noise.
    CombinedAttack : Several attacks in sequence, e.g. a missing agent and a flipped one.

    Notes
    -----
    A block that already holds NaN in the data is missing whatever the attack does. Defences
    such as CoPur's purification leave missing blocks out of their data term and infer them
    from the observed ones.

    References
    ----------
    .. [1] J. Liu, C. Xie, O. Koyejo and B. Li, "CoPur: Certifiably Robust Collaborative
       Inference via Feature Purification", NeurIPS 2022.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_robust.adversaries import MissingBlocks
    >>> X = np.arange(8, dtype=float).reshape(2, 4)
    >>> attack = MissingBlocks(blocks=[1, 3], agents=0).fit(X)
    >>> attack.attacked_columns_
    array([0])
    >>> attack.transform(X)
    array([[nan,  1.,  2.,  3.],
           [nan,  5.,  6.,  7.]])
    >>> attack.fit_transform(X)  # training data pass through untouched
    array([[0., 1., 2., 3.],
           [4., 5., 6., 7.]])
    """

    _parameter_constraints = {
        **BaseInferenceAdversary._parameter_constraints,
        "rows": [Interval(numbers.Real, 0, 1, closed="right")],
    }

    def __init__(self, *, blocks=None, agents=None, rows=1.0, random_state=None):
        self.blocks = blocks
        self.agents = agents
        self.rows = rows
        self.random_state = random_state

    def _attack(self, X, y, random_state, estimator):
        rows = _attacked_rows(X.shape[0], self.rows, random_state)
        cells = np.ix_(rows, self.attacked_columns_)
        X[cells] = _missing_values((rows.size, self.attacked_columns_.size), X.dtype)
        return X
