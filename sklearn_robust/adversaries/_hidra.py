"""HiDRA, the high-dimensional robust aggregation attack of Choudhary et al. (2024)."""

import numbers

from sklearn.utils._param_validation import Interval, StrOptions

from sklearn_robust._adversary_base import BasePoisoningAdversary, _fill_poisoning_doc
from sklearn_robust._numerics._poisoning import _hidra_rows


@_fill_poisoning_doc
class HiDRA(BasePoisoningAdversary):
    """HiDRA: the largest shift a spectral filter does not detect, chunk by chunk.

    The coordinates are cut into chunks of ``chunk_size`` (the last one may be shorter), as
    the FILTERING aggregator does. In chunk ``k`` every byzantine row equals
    ``mu_k - c_k * s_k`` where ``mu_k`` is the mean of the known honest rows on the chunk,
    ``s_k = mu_k / ||mu_k||`` its unit direction and

    ``c_k = sqrt(1 / (eps**2 + (1 - eps)**2 * eps)) * sqrt((sqrt(expansion) - 1) * sigma_k)``

    with ``eps = n_byzantine_ / n_samples`` the byzantine fraction and ``sigma_k`` the
    filtering threshold variance of the chunk. All byzantine rows are equal.

    Parameters
    ----------
    n_byzantine : int or float, default=0.2
        Number of byzantine rows (int), or their fraction of the rows (float in [0, 1),
        rounded down). Ignored when ``byzantine`` is passed to :meth:`fit_poison`.

    knowledge : {"full", "partial"}, default="full"
        ``"full"``: an omniscient adversary computes its statistics from all honest rows.
        ``"partial"``: only from the honest rows of the clients it controls.

    sigma : float, default=None
        Filtering threshold variance (the clean-variance bound the defender's filter uses),
        the same for every chunk. None estimates it per chunk as the largest eigenvalue of
        the sample covariance (``ddof=1``) of the known honest rows on the chunk.

    expansion : float, default=20
        The filter's threshold factor: it stops when the top eigenvalue falls below
        ``sqrt(expansion) * sigma``. Must be at least 1 (1 gives no shift).

    chunk_size : int, default=1000
        Number of coordinates per chunk.

    random_state : int, RandomState instance or None, default=None
        Unused (the attack is deterministic); present for API consistency.

    Attributes
    ----------
    {poisoning_attributes}

    See Also
    --------
    ALIE : Coordinate-wise shift by a few standard deviations.
    IPM : Inner-product manipulation, a scaled negative mean.
    ConstantShift : Mean plus a fixed shift in standard deviations.

    Notes
    -----
    This is the magnitude published by Choudhary et al. The copy of HiDRA in the RandEigen
    artifact (dezhanglee/randeigen_artifacts) plugs half the threshold into the same
    formula and is about 2.6 times weaker; pass a smaller ``sigma`` or ``expansion`` to
    reproduce weaker variants.

    The paper's configuration, against the chunked filters of Zhu et al. (2023): give
    HiDRA the threshold the defender uses, ``HiDRA(sigma=s)`` against
    ``FilteringMean(sigma=s)`` or ``NoRegretMean(sigma=s)`` with the same ``expansion``
    (20) and ``chunk_size`` (1000), the defaults of both. As long as ``s`` bounds the top
    eigenvalue of the honest rows' covariance in every chunk, the poisoned chunk's top
    eigenvalue stays under ``sqrt(expansion) * s``: FILTERING keeps every byzantine row at
    full weight and its estimate moves by ``eps * c`` against the honest mean in every chunk
    (tests/test_poisoning_paper_attacks.py checks it). NO-REGRET first prunes the rows
    with the largest Krum scores; identical rows at distance ``c`` escape that pruning only
    when ``c**2`` is small next to the chunk's honest spread (its trace), i.e. when the
    honest chunk covariance has a high effective rank.

    When a chunk's mean is exactly zero its direction is undefined; the normalised all-ones
    vector of the chunk is used instead. With partial knowledge and a single byzantine row
    the covariance is undefined and ``sigma_k`` is taken as 0 (no shift) unless ``sigma`` is
    given.

    With ``sigma=None`` the attack is equivariant to scalings of ``X`` by any ``c != 0``,
    and to translations along the honest mean (``b = t * mean``, ``t > -1``). It is not
    equivariant to arbitrary translations: the direction ``s_k`` is taken with respect to
    the origin (the zero update), by design.

    References
    ----------
    .. [1] S. Choudhary, A. Kolluri and P. Saxena, "Attacking Byzantine Robust Aggregation
       in High Dimensions", IEEE S&P 2024.
    .. [2] B. Zhu, L. Wang, Q. Pang, S. Wang, J. Jiao, D. Song and M. I. Jordan,
       "Byzantine-Robust Federated Learning with Optimal Statistical Rates", AISTATS 2023
       (the FILTERING aggregator HiDRA targets).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_robust.adversaries import HiDRA
    >>> X = np.random.RandomState(0).normal(loc=1.0, size=(6, 4))
    >>> attack = HiDRA(n_byzantine=2, chunk_size=2)
    >>> X_poisoned = attack.fit_poison(X)
    >>> attack.byzantine_mask_
    array([False, False, False, False,  True,  True])
    >>> bool(np.array_equal(X_poisoned[-2], X_poisoned[-1]))
    True
    """

    _parameter_constraints = {
        **BasePoisoningAdversary._parameter_constraints,
        "knowledge": [StrOptions({"full", "partial"})],
        "sigma": [Interval(numbers.Real, 0, None, closed="left"), None],
        "expansion": [Interval(numbers.Real, 1, None, closed="left")],
        "chunk_size": [Interval(numbers.Integral, 1, None, closed="left")],
    }

    def __init__(
        self,
        *,
        n_byzantine=0.2,
        knowledge="full",
        sigma=None,
        expansion=20,
        chunk_size=1000,
        random_state=None,
    ):
        self.n_byzantine = n_byzantine
        self.knowledge = knowledge
        self.sigma = sigma
        self.expansion = expansion
        self.chunk_size = chunk_size
        self.random_state = random_state

    def _craft(self, X, byzantine, random_state):
        eps = float(byzantine.sum()) / X.shape[0]
        sigma = None if self.sigma is None else float(self.sigma)
        return _hidra_rows(
            self._known_rows(X, byzantine),
            eps,
            float(self.expansion),
            int(self.chunk_size),
            sigma,
        )
