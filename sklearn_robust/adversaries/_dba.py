"""DBA, the distributed backdoor attack of Xie et al. (2020)."""

import numbers

import numpy as np
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval

from sklearn_robust._adversary_base import BasePoisoningAdversary, _fill_poisoning_doc
from sklearn_robust.adversaries._backdoor import Backdoor


@_fill_poisoning_doc
class DBA(Backdoor):
    """DBA: a global trigger split into local triggers, one per group of byzantine clients.

    The global trigger is the union of ``len(triggers)`` local triggers (disjoint sets of
    columns). Byzantine client number ``k`` (counted from 0 among the byzantine clients, in
    client order) poisons its local data with local trigger ``k % len(triggers)`` only: a
    fraction ``poison_fraction`` of its samples get those columns set to
    ``trigger_value`` and the label ``target_class``; the rest stay clean. It then trains
    honestly on that data and sends its update multiplied by ``boost`` (Xie et al.'s scale
    factor). No single client ever shows the global trigger, which the attack is tested
    with (:meth:`apply_trigger` stamps all local triggers), so each malicious update looks
    less anomalous than a centralized backdoor's.

    This is Xie et al.'s multiple-shot attack (the byzantine clients attack in every
    round). :class:`~sklearn_robust.estimators.FederatedClassifier` passes each byzantine
    client's rank to :meth:`poison_data` (``attacker_index``) before training and calls
    :meth:`fit_poison` every round; :func:`~sklearn_robust.metrics.attack_success_rate`
    measures the global trigger.

    Parameters
    ----------
    target_class : int or str, default=0
        Label the triggered inputs are given, and that the attacker wants predicted.

    triggers : list of array-like of int or None, default=None
        The local triggers: one array of column indices each, pairwise disjoint. None cuts
        the last ``4 * max(1, n_features // 64)`` columns into 4 consecutive local triggers.
        On images, Xie et al.'s MNIST pattern is four 1 x 4 bars in the top-left corner
        (rows 0 and 3, columns 0-3 and 6-9).

    trigger_value : float, default=1.0
        Value written into the trigger columns.

    poison_fraction : float, default=0.5
        Fraction of each byzantine client's samples that carry its local trigger, in
        (0, 1] (counted as :class:`Backdoor` counts it: ``count_from_fraction``, at least
        one).

    boost : float or None, default=None
        Scale factor of the byzantine updates. None gives ``n_samples / n_byzantine`` (5 at
        20 % byzantine clients, the scale of the RandEigen artifact's DBA run); 1 sends the
        updates unscaled.

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
    Backdoor : The centralized backdoor (every attacker uses the global trigger).
    sklearn_robust.metrics.attack_success_rate : Fraction of inputs with the global
        trigger classified as the target.

    Notes
    -----
    Xie et al. also vary when the attackers are selected (single-shot attacks in chosen
    rounds, with ``gamma = 100``) and the local trigger's size, gap and location; here every
    byzantine client attacks in every round and the geometry is whatever ``triggers``
    says. ``fit_poison(c * X) == c * fit_poison(X)`` for every ``c``.

    References
    ----------
    .. [1] C. Xie, K. Huang, P.-Y. Chen and B. Li, "DBA: Distributed Backdoor Attacks
       against Federated Learning", ICLR 2020.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_robust.adversaries import DBA
    >>> attack = DBA(target_class=7, triggers=[[0], [1]], poison_fraction=1.0)
    >>> X, y = np.zeros((2, 4)), np.array([1, 2])
    >>> attack.poison_data(X, y, attacker_index=1)[0]  # the second attacker: column 1
    array([[0., 1., 0., 0.],
           [0., 1., 0., 0.]])
    >>> attack.apply_trigger(X)[0]  # the test trigger is the union of the local ones
    array([1., 1., 0., 0.])
    """

    _parameter_constraints = {
        **BasePoisoningAdversary._parameter_constraints,
        "target_class": [numbers.Integral, str],
        "triggers": [list, tuple, None],
        "trigger_value": [Interval(numbers.Real, None, None, closed="neither")],
        "poison_fraction": [Interval(numbers.Real, 0, 1, closed="right")],
        "boost": [Interval(numbers.Real, 0, None, closed="left"), None],
    }

    def __init__(
        self,
        *,
        target_class=0,
        triggers=None,
        trigger_value=1.0,
        poison_fraction=0.5,
        boost=None,
        n_byzantine=0.2,
        random_state=None,
    ):
        self.target_class = target_class
        self.triggers = triggers
        self.trigger_value = trigger_value
        self.poison_fraction = poison_fraction
        self.boost = boost
        self.n_byzantine = n_byzantine
        self.random_state = random_state

    def _local_triggers(self, n_features):
        """The validated local triggers: a list of int arrays, disjoint, in range."""
        if self.triggers is None:
            width = max(1, n_features // 64)
            first = max(0, n_features - 4 * width)
            return [
                part
                for part in np.array_split(np.arange(first, n_features), 4)
                if part.size
            ]
        parts = []
        for k, part in enumerate(self.triggers):
            part = np.asarray(part)
            if part.ndim != 1 or part.size == 0 or not np.issubdtype(part.dtype, np.integer):
                raise ValueError(
                    f"triggers[{k}] must be a non-empty 1-D array of column indices; got "
                    f"{self.triggers[k]!r}."
                )
            if part.min() < -n_features or part.max() >= n_features:
                raise ValueError(
                    f"triggers[{k}] has columns outside [0, {n_features}) for data with "
                    f"{n_features} features (min {part.min()}, max {part.max()})."
                )
            parts.append(np.where(part < 0, part + n_features, part))
        if not parts:
            raise ValueError("triggers must list at least one local trigger; got [].")
        union = np.concatenate(parts)
        if np.unique(union).size != union.size:
            raise ValueError(
                "the local triggers must be disjoint sets of columns (each client's part of "
                f"the global trigger); got {self.triggers!r}."
            )
        return parts

    def _trigger_columns(self, n_features):
        return np.concatenate(self._local_triggers(n_features))

    def poison_data(self, X, y, random_state=None, *, attacker_index=0):
        """Stamp one local trigger on a fraction of a byzantine client's samples.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The client's clean inputs. Never modified.
        y : array-like of shape (n_samples,)
            Their labels. Never modified.
        random_state : int, RandomState instance or None, default=None
            Seed of the choice of samples; None uses ``self.random_state``.
        attacker_index : int, default=0
            Rank of the client among the byzantine clients; it uses local trigger
            ``attacker_index % len(triggers)``.

        Returns
        -------
        X_poisoned : ndarray of shape (n_samples, n_features)
            A copy of ``X`` whose chosen rows carry the local trigger.
        y_poisoned : ndarray of shape (n_samples,)
            A copy of ``y`` whose chosen entries are ``target_class``.
        """
        self._validate_params()
        X, y = self._client_data(X, y)
        if not isinstance(attacker_index, numbers.Integral) or attacker_index < 0:
            raise ValueError(
                f"attacker_index must be a non-negative int; got {attacker_index!r}."
            )
        parts = self._local_triggers(X.shape[1])
        rng = check_random_state(self.random_state if random_state is None else random_state)
        return self._stamp(X, y, parts[int(attacker_index) % len(parts)], rng)
