"""TMA, Fang et al.'s (2020) local model poisoning attack on trimmed mean and median."""

import numbers

import numpy as np
from sklearn.utils._param_validation import Interval, StrOptions

from sklearn_robust._adversary_base import BasePoisoningAdversary, _fill_poisoning_doc


def _tma_bounds(X_known, b, knowledge):
    """Per-coordinate interval ``[low, high]`` the byzantine values are drawn from.

    ``"full"``: with ``s_j`` the sign of the mean honest update, coordinates the honest
    clients move up (``s_j >= 0``) get values below the honest minimum ``m_j``
    (``[m_j / b, m_j]`` when ``m_j > 0``, ``[b m_j, m_j]`` otherwise), the others values
    above the honest maximum ``M_j`` (``[M_j, b M_j]`` when ``M_j > 0``, ``[M_j, M_j / b]``
    otherwise). ``"partial"``: ``[mu_j - 4 sd_j, mu_j - 3 sd_j]`` when ``s_j >= 0`` and
    ``[mu_j + 3 sd_j, mu_j + 4 sd_j]`` otherwise, from the mean and sample standard deviation
    of the known rows (Fang et al.'s estimate of the unknown extremes).
    Computed on ``X_known / a`` with ``a = max |X_known|``; returned in those units, with
    ``a``.
    """
    a = float(np.max(np.abs(X_known))) if X_known.size else 0.0
    a = a if a > 0 else 1.0
    Xs = np.asarray(X_known, dtype=np.float64) / a
    mean = Xs.mean(axis=0)
    up = mean >= 0  # the honest clients move these coordinates up (or not at all)
    if knowledge == "partial":
        std = Xs.std(axis=0, ddof=1) if Xs.shape[0] > 1 else np.zeros_like(mean)
        low = np.where(up, mean - 4.0 * std, mean + 3.0 * std)
        high = np.where(up, mean - 3.0 * std, mean + 4.0 * std)
        return low, high, a
    smallest, largest = Xs.min(axis=0), Xs.max(axis=0)
    below_low = np.where(smallest > 0, smallest / b, smallest * b)
    above_high = np.where(largest > 0, largest * b, largest / b)
    low = np.where(up, below_low, largest)
    high = np.where(up, smallest, above_high)
    return low, high, a


def _tma_rows(X_known, n_bad, b, knowledge, random_state):
    """One independent uniform draw in ``[low_j, high_j]`` per byzantine row and coordinate."""
    low, high, a = _tma_bounds(X_known, b, knowledge)
    u = random_state.uniform(size=(n_bad, low.shape[0]))
    return a * (low + u * (high - low))


@_fill_poisoning_doc
class TMA(BasePoisoningAdversary):
    """TMA: Fang et al.'s attack on trimmed mean and median, coordinate by coordinate.

    The attack pushes every coordinate of the aggregate against the direction the honest
    clients move it in. With ``s_j`` the sign of the mean honest update on coordinate ``j``
    and ``m_j``, ``M_j`` the smallest and largest honest values there, each byzantine row
    draws its coordinate ``j`` uniformly, independently of the others:

    * when the honest clients move ``j`` up (``s_j >= 0``): below the honest minimum, in
      ``[m_j / b, m_j]`` if ``m_j > 0`` and in ``[b * m_j, m_j]`` otherwise;
    * when they move it down: above the honest maximum, in ``[M_j, b * M_j]`` if
      ``M_j > 0`` and in ``[M_j, M_j / b]`` otherwise.

    A trimmed mean or a median then takes its values from the side of the honest
    distribution opposite to the descent direction, in every coordinate at once.

    This is the full-knowledge trimmed-mean attack of Fang et al. (2020), which they also
    use against the median. ``knowledge="partial"`` is their partial-knowledge variant: the
    adversary sees only its own clients' honest updates, estimates the mean ``mu_j`` and the
    standard deviation ``sd_j`` from them and draws in ``[mu_j - 4 sd_j, mu_j - 3 sd_j]``
    (``s_j >= 0``) or ``[mu_j + 3 sd_j, mu_j + 4 sd_j]`` (``s_j < 0``), ``s_j`` the sign of
    ``mu_j``.

    Parameters
    ----------
    n_byzantine : int or float, default=0.2
        Number of byzantine rows (int), or their fraction of the rows (float in [0, 1),
        rounded down). Ignored when ``byzantine`` is passed to :meth:`fit_poison`.

    knowledge : {"full", "partial"}, default="full"
        ``"full"``: an omniscient adversary takes the signs and the extremes from all honest
        rows. ``"partial"``: it only sees the honest rows of the clients it controls (see
        above).

    b : float, default=2.0
        How far beyond the honest extremes the byzantine values may go, ``b > 1``
        (Fang et al. use 2; the RandEigen artifact runs it with 1.5). Full knowledge only.

    random_state : int, RandomState instance or None, default=None
        Seed of the uniform draws.

    Attributes
    ----------
    {poisoning_attributes}

    See Also
    --------
    KrumAttack : Fang et al.'s attack on Krum.
    ALIE : A coordinate-wise shift of a few standard deviations.
    MinMax : The largest shift along a fixed direction that stays inside the honest spread.

    Notes
    -----
    Fang et al. state the attack on the clients' local *models*; it is applied here to the
    *updates* (local model minus global model), which is what the library's clients send.
    The two are the same attack up to where the origin sits: on updates, "positive" means
    that the honest clients move a parameter up, and the factor ``b`` scales the extremes
    of the updates, not of the parameters. With ``s_j = 0`` (the honest updates cancel
    exactly) the byzantine values go below the minimum.

    The attack is equivariant to scalings of ``X`` by ``c > 0`` (with the same draws), not
    to translations: the signs and the factor ``b`` refer to the zero update. Every
    byzantine row is drawn independently, so the byzantine rows differ from each other.

    References
    ----------
    .. [1] M. Fang, X. Cao, J. Jia and N. Z. Gong, "Local Model Poisoning Attacks to
       Byzantine-Robust Federated Learning", USENIX Security 2020.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_robust.adversaries import TMA
    >>> X = np.array([[1.0, -1.0], [2.0, -2.0], [3.0, -4.0], [4.0, -3.0]])
    >>> X_poisoned = TMA(n_byzantine=1, random_state=0).fit_poison(X)
    >>> bad = X_poisoned[-1]
    >>> bool(0.5 <= bad[0] <= 1.0), bool(-1.0 <= bad[1] <= -0.5)  # [m/2, m] and [M, M/2]
    (True, True)
    """

    _parameter_constraints = {
        **BasePoisoningAdversary._parameter_constraints,
        "knowledge": [StrOptions({"full", "partial"})],
        "b": [Interval(numbers.Real, 1, None, closed="neither")],
    }

    def __init__(self, *, n_byzantine=0.2, knowledge="full", b=2.0, random_state=None):
        self.n_byzantine = n_byzantine
        self.knowledge = knowledge
        self.b = b
        self.random_state = random_state

    def _craft(self, X, byzantine, random_state):
        return _tma_rows(
            self._known_rows(X, byzantine),
            int(byzantine.sum()),
            float(self.b),
            self.knowledge,
            random_state,
        )
