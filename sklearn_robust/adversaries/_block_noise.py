"""Unbounded-noise attack: the attacked agents send large random values."""

import numbers

import numpy as np
from sklearn.utils._param_validation import Interval, StrOptions

from sklearn_robust._adversary_base import BaseInferenceAdversary, _fill_inference_doc
from sklearn_robust._numerics._feature_attacks import (
    _attacked_rows,
    _column_std,
    _noise_values,
)


@_fill_inference_doc
class BlockNoise(BaseInferenceAdversary):
    """Arbitrary-block attack: the attacked blocks are replaced by unbounded random values.

    The CoPur threat model lets a compromised agent send anything; this attack sends values
    of magnitude ``scale`` relative to the clean data. ``fit`` learns the standard deviation
    ``std_j`` of every column of the clean training data; :meth:`transform` replaces each
    attacked value in column ``j`` by ``scale * std_j * noise``, with ``noise`` drawn
    independently per value. ``fit`` and ``fit_transform`` leave the training data untouched.

    Parameters
    ----------
    {inference_parameters}

    scale : float, default=1e6
        Magnitude of the replacement values in units of each column's clean standard
        deviation, in (0, inf]. ``np.inf`` sends ``+inf``/``-inf`` (by the sign of the
        noise; ``+inf`` for ``distribution="constant"``): adversarial input a defence must
        survive.

    distribution : {"gaussian", "uniform", "constant"}, default="gaussian"
        Law of ``noise``: standard normal, uniform in [-1, 1], or the constant +1 (every
        attacked value is ``scale * std_j``; no randomness).

    rows : float, default=1.0
        Fraction of the rows attacked, in (0, 1]: ``1.0`` attacks every row; otherwise
        ``floor(rows * n_samples)`` rows (at least one) are drawn with ``random_state`` at
        each call of :meth:`transform`.

    random_state : int, RandomState instance or None, default=None
        Seed of the attacked rows and of the noise; an int gives the same attack at every
        call.

    Attributes
    ----------
    {inference_attributes}

    feature_std_ : ndarray of shape (n_features_in_,), dtype=float64
        Standard deviation of each column of the clean training data, as used by the attack
        (finite and positive; see Notes).

    See Also
    --------
    FeatureFlip : The attacked blocks are negated and amplified.
    MissingBlocks : The attacked blocks become NaN (missing agents).
    CombinedAttack : Several attacks in sequence.

    Notes
    -----
    ``std_j`` is the population standard deviation (``ddof=0``) of the observed values of
    column ``j``, NaN ignored, computed without overflow for huge values. A column whose
    standard deviation is zero or undefined (constant, or entirely missing) takes the root
    mean square of the other columns' standard deviations instead, or 1.0 when no column
    varies, so the attack never degenerates to zeros.

    The attack never creates NaN: a product ``scale * std_j`` that is infinite (``scale=inf``
    or overflow) gives ``+-inf``, and values beyond the range of the data's dtype (float32
    included) become ``+-inf``. The random stream does not depend on the dtype: float32 and
    float64 data get the same draws.

    References
    ----------
    .. [1] J. Liu, C. Xie, O. Koyejo and B. Li, "CoPur: Certifiably Robust Collaborative
       Inference via Feature Purification", NeurIPS 2022.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_robust.adversaries import BlockNoise
    >>> X = np.array([[0.0, 1.0, -7.0], [2.0, 1.0, 7.0]])
    >>> attack = BlockNoise(blocks=[1, 2], scale=100.0, distribution="constant").fit(X)
    >>> attack.feature_std_  # column 1 is constant: it takes sqrt((1**2 + 7**2) / 2)
    array([1., 5., 7.])
    >>> attack.transform(X)
    array([[  0., 500., 700.],
           [  2., 500., 700.]])
    >>> BlockNoise(blocks=[1, 2], scale=np.inf, random_state=1).fit(X).transform(X)
    array([[  0.,  inf, -inf],
           [  2., -inf, -inf]])
    """

    _parameter_constraints = {
        **BaseInferenceAdversary._parameter_constraints,
        "scale": [Interval(numbers.Real, 0, np.inf, closed="right")],
        "distribution": [StrOptions({"gaussian", "uniform", "constant"})],
        "rows": [Interval(numbers.Real, 0, 1, closed="right")],
    }

    def __init__(
        self,
        *,
        blocks=None,
        agents=None,
        scale=1e6,
        distribution="gaussian",
        rows=1.0,
        random_state=None,
    ):
        self.blocks = blocks
        self.agents = agents
        self.scale = scale
        self.distribution = distribution
        self.rows = rows
        self.random_state = random_state

    def _fit(self, X, y):
        self.feature_std_ = _column_std(X)

    def _attack(self, X, y, random_state, estimator):
        rows = _attacked_rows(X.shape[0], self.rows, random_state)
        columns = self.attacked_columns_
        X[np.ix_(rows, columns)] = _noise_values(
            rows.size,
            self.feature_std_[columns],
            self.scale,
            self.distribution,
            random_state,
            X.dtype,
        )
        return X
