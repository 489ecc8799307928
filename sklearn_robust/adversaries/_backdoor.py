"""Backdoor (trigger) poisoning with model replacement, Bagdasaryan et al. (2020)."""

import numbers

import numpy as np
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_array

from sklearn_robust._adversary_base import BasePoisoningAdversary, _fill_poisoning_doc
from sklearn_robust._counts import count_from_fraction


@_fill_poisoning_doc
class Backdoor(BasePoisoningAdversary):
    """Backdoor poisoning: train on triggered inputs relabelled to a target, boost the update.

    The byzantine clients of a federated run train *honestly* on poisoned local data: a
    fraction ``poison_fraction`` of their samples carry the trigger (the ``trigger`` columns
    set to ``trigger_value``) and are relabelled to ``target_class``; the rest stay clean so
    that the model keeps its main-task accuracy (a stealthy backdoor). Each byzantine client
    then sends its update multiplied by ``boost`` (model replacement): under the plain mean
    the boosted updates outweigh the honest ones and the global model learns the backdoor.

    :class:`~sklearn_robust.estimators.FederatedClassifier` calls :meth:`poison_data` on the
    byzantine clients' local data once, before training, and :meth:`fit_poison` on the matrix
    of updates every round. Used on its own, :meth:`fit_poison` multiplies the byzantine rows
    by ``boost``. :func:`~sklearn_robust.metrics.attack_success_rate` measures the backdoor
    with :meth:`apply_trigger`.

    Parameters
    ----------
    target_class : int or str, default=0
        Label the triggered inputs are given, and that the attacker wants predicted.

    trigger : array-like of int or None, default=None
        Columns the trigger overwrites. None uses the last ``max(1, n_features // 16)``
        columns (on the 8x8 digits: the last four pixels of the bottom row).

    trigger_value : float, default=1.0
        Value written into the trigger columns. Choose one the clean data rarely show there
        (e.g. the maximum intensity: 1.0 for images scaled to [0, 1]).

    poison_fraction : float, default=0.5
        Fraction of each byzantine client's samples that are triggered and relabelled, in
        (0, 1]: ``count_from_fraction(poison_fraction, n)`` of a client's ``n`` samples (the
        library's one rule, ``floor`` with the product rounded to 9 decimals), at least one.

    boost : float or None, default=None
        Factor applied to the byzantine updates. None gives model replacement's
        ``n_samples / n_byzantine`` (the number of clients over the number of attackers).

    n_byzantine : int or float, default=0.2
        Number of byzantine rows (int), or their fraction of the rows (float in [0, 1),
        rounded down). Ignored when ``byzantine`` is passed to :meth:`fit_poison`.

    random_state : int, RandomState instance or None, default=None
        Seed of the choice of the samples :meth:`poison_data` triggers.

    Attributes
    ----------
    {poisoning_attributes}
    boost_ : float
        The factor applied by the last call to :meth:`fit_poison` that had byzantine rows.

    See Also
    --------
    sklearn_robust.metrics.attack_success_rate : Fraction of triggered inputs classified as
        the target.
    DBA : The trigger split across the byzantine clients.
    MPA : Targeted model poisoning with explicit boosting.

    Notes
    -----
    This is the model replacement attack (MRA) of Bagdasaryan et al.: the attacker trains a
    backdoored model ``X`` on a mix of triggered and clean samples and submits
    ``gamma * (X - G)`` (``G`` the global model), ``gamma`` chosen so that the aggregate
    replaces ``G`` by ``X``. With the plain mean over ``n`` clients and a server step of 1
    that is ``gamma = n``; with ``n_byzantine`` attackers sharing the replacement, each
    boosts by ``n / n_byzantine``, the default ``boost``. Differences with the paper, by
    design: the attackers train with the honest clients' local schedule (Bagdasaryan et al.
    give the attacker more local epochs at a lower learning rate), they attack in every
    round rather than once near convergence, and the boost ignores the server learning
    rate: with ``FederatedClassifier(server_lr=eta)`` pass
    ``boost = n / (eta * n_byzantine)`` for an exact replacement. Their "constrain and
    scale" variant (an anomaly-detection term in the attacker's loss) is not implemented.

    ``fit_poison(c * X) == c * fit_poison(X)`` for every ``c`` (the attack is linear in the
    byzantine rows).

    References
    ----------
    .. [1] E. Bagdasaryan, A. Veit, Y. Hua, D. Estrin and V. Shmatikov, "How To Backdoor
       Federated Learning", AISTATS 2020.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_robust.adversaries import Backdoor
    >>> attack = Backdoor(target_class=7, trigger=[0, 1], poison_fraction=1.0)
    >>> X, y = np.zeros((3, 4)), np.array([1, 2, 3])
    >>> X_poisoned, y_poisoned = attack.poison_data(X, y)
    >>> X_poisoned[0], y_poisoned
    (array([1., 1., 0., 0.]), array([7, 7, 7]))
    >>> attack.fit_poison(np.ones((4, 2)), byzantine=[3])[-1]  # boost = 4 clients / 1
    array([4., 4.])
    """

    _parameter_constraints = {
        **BasePoisoningAdversary._parameter_constraints,
        "target_class": [numbers.Integral, str],
        "trigger": ["array-like", None],
        "trigger_value": [Interval(numbers.Real, None, None, closed="neither")],
        "poison_fraction": [Interval(numbers.Real, 0, 1, closed="right")],
        "boost": [Interval(numbers.Real, 0, None, closed="left"), None],
    }

    def __init__(
        self,
        *,
        target_class=0,
        trigger=None,
        trigger_value=1.0,
        poison_fraction=0.5,
        boost=None,
        n_byzantine=0.2,
        random_state=None,
    ):
        self.target_class = target_class
        self.trigger = trigger
        self.trigger_value = trigger_value
        self.poison_fraction = poison_fraction
        self.boost = boost
        self.n_byzantine = n_byzantine
        self.random_state = random_state

    def _trigger_columns(self, n_features):
        if self.trigger is None:
            width = max(1, n_features // 16)
            return np.arange(n_features - width, n_features)
        columns = np.asarray(self.trigger)
        if columns.ndim != 1 or columns.size == 0 or not np.issubdtype(columns.dtype, np.integer):
            raise ValueError(
                f"trigger must be a non-empty 1-D array of column indices; got {self.trigger!r}."
            )
        if columns.min() < -n_features or columns.max() >= n_features:
            raise ValueError(
                f"trigger columns must lie in [0, {n_features}) for data with {n_features} "
                f"features; got min {columns.min()} and max {columns.max()}."
            )
        return columns

    def apply_trigger(self, X):
        """Return a copy of ``X`` with the trigger stamped on every row.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Clean inputs. Never modified.

        Returns
        -------
        X_triggered : ndarray of shape (n_samples, n_features)
            ``X`` (as float) with the ``trigger`` columns set to ``trigger_value``.
        """
        self._validate_params()
        X = check_array(X, dtype=[np.float64, np.float32], copy=True)
        X[:, self._trigger_columns(X.shape[1])] = self.trigger_value
        return X

    def poison_data(self, X, y, random_state=None):
        """Trigger and relabel a fraction of a byzantine client's local samples.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The client's clean inputs. Never modified.
        y : array-like of shape (n_samples,)
            Their labels. Never modified.
        random_state : int, RandomState instance or None, default=None
            Seed of the choice of samples; None uses ``self.random_state``.

        Returns
        -------
        X_poisoned : ndarray of shape (n_samples, n_features)
            A copy of ``X`` whose chosen rows carry the trigger.
        y_poisoned : ndarray of shape (n_samples,)
            A copy of ``y`` whose chosen entries are ``target_class``.
        """
        self._validate_params()
        X, y = self._client_data(X, y)
        rng = check_random_state(self.random_state if random_state is None else random_state)
        return self._stamp(X, y, self._trigger_columns(X.shape[1]), rng)

    @staticmethod
    def _client_data(X, y):
        """Copies of a client's inputs and labels, checked to match."""
        X = check_array(X, dtype=[np.float64, np.float32], copy=True)
        y = np.array(y, copy=True)
        if y.shape != (X.shape[0],):
            raise ValueError(
                f"y must have shape ({X.shape[0]},) to match X's rows; got {y.shape}."
            )
        return X, y

    def _stamp(self, X, y, columns, rng):
        """Trigger ``columns`` and relabel a ``poison_fraction`` of the rows (in place)."""
        # At least one: a client with few samples and a small fraction still attacks.
        n_poison = max(1, count_from_fraction(self.poison_fraction, X.shape[0]))
        rows = rng.permutation(X.shape[0])[:n_poison]
        X[np.ix_(rows, columns)] = self.trigger_value
        if y.dtype.kind in "iu" and not isinstance(self.target_class, numbers.Integral):
            raise ValueError(
                f"target_class={self.target_class!r} is not a label of integer y; pass one of "
                "the class labels."
            )
        y[rows] = self.target_class
        return X, y

    def _craft(self, X, byzantine, random_state):
        n_bad = int(byzantine.sum())
        self.boost_ = float(X.shape[0] / n_bad if self.boost is None else self.boost)
        return self.boost_ * np.asarray(X[byzantine], dtype=np.float64)
