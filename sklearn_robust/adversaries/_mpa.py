"""MPA, the targeted model poisoning attack of Bhagoji et al. (2019)."""

import copy
import numbers

import numpy as np
import torch
from sklearn.base import _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_array, check_is_fitted
from torch import nn
from torch.nn.utils import parameters_to_vector

from sklearn_robust._adversary_base import BasePoisoningAdversary, _fill_poisoning_doc


def _boost_deviation(X_bad, reference, boost):
    """Explicit boosting on a matrix: ``reference + boost * (x - reference)`` per row."""
    X_bad = np.asarray(X_bad, dtype=np.float64)
    return reference + boost * (X_bad - reference)


def _sgd_steps(module, params, X, y, lr, n_steps, penalty=None):
    """``n_steps`` full-batch steps of plain SGD on the cross-entropy (plus ``penalty()``)."""
    for _ in range(n_steps):
        loss = nn.functional.cross_entropy(module(X), y)
        if penalty is not None:
            loss = loss + penalty()
        grads = torch.autograd.grad(loss, params)
        with torch.no_grad():
            for param, grad in zip(params, grads):
                param.sub_(grad, alpha=lr)


def _alternating_minimization(
    module,
    global_params,
    X,
    y,
    X_target,
    y_target,
    reference,
    *,
    lr,
    batch_size,
    local_epochs,
    n_mal_steps,
    boost,
    rho,
    generator,
):
    """Bhagoji et al.'s alternating minimization; returns the malicious update (1-D tensor).

    Every local epoch: ``n_mal_steps`` SGD steps on the targeted loss from the current
    weights ``w`` give ``delta_mal``, and ``w <- w + boost * delta_mal`` (explicit
    boosting); then one pass of mini-batch SGD over the attacker's own data on the stealth
    objective ``CE(batch) + rho * ||(w - w_global) - reference||**2``.
    """
    work = copy.deepcopy(module)
    params = list(work.parameters())
    with torch.no_grad():
        torch.nn.utils.vector_to_parameters(global_params.detach().clone(), params)
    work.train()
    target = global_params.detach() + reference

    def stealth():
        return rho * (parameters_to_vector(params) - target).pow(2).sum()

    for _ in range(local_epochs):
        start = parameters_to_vector(params).detach().clone()
        _sgd_steps(work, params, X_target, y_target, lr, n_mal_steps)
        with torch.no_grad():
            moved = parameters_to_vector(params) - start
            torch.nn.utils.vector_to_parameters(start + boost * moved, params)
        order = torch.randperm(X.shape[0], generator=generator).to(X.device)
        for begin in range(0, X.shape[0], batch_size):
            rows = order[begin : begin + batch_size]
            _sgd_steps(work, params, X[rows], y[rows], lr, 1, penalty=stealth)
    with torch.no_grad():
        return parameters_to_vector(params).detach() - global_params.detach()


@_fill_poisoning_doc
class MPA(BasePoisoningAdversary):
    """MPA: targeted model poisoning with explicit boosting and a stealth term.

    The attacker wants the global model to classify a few chosen inputs
    (``target_inputs``) as chosen labels (``target_labels``) while keeping its accuracy on
    everything else. Each round, from the global weights, the byzantine clients compute one
    malicious update by Bhagoji et al.'s *alternating minimization*: in every local epoch,

    1. ``n_mal_steps`` SGD steps on the cross-entropy of the targets give a step
       ``delta_mal``, which is **boosted** (the weights move by ``boost * delta_mal``:
       explicit boosting, so that the step survives averaging with the honest clients);
    2. one pass of SGD over their own clean data on the **stealth** objective: the
       cross-entropy plus ``rho * ||delta - delta_ben||**2``, ``delta`` the update so far
       and ``delta_ben`` the attacker's estimate of the honest update, which keeps the
       malicious update close to the honest ones and the main task accurate.

    Every byzantine client sends that update. The estimate ``delta_ben`` is the mean
    honest update of the round with ``knowledge="full"`` (omniscient) and, as in the
    paper, the previous round's aggregate with ``knowledge="partial"``.

    :class:`~sklearn_robust.estimators.FederatedClassifier` calls :meth:`local_update`
    every round with the global model and the byzantine clients' pooled data, then
    :meth:`fit_poison` with the result. On a matrix of updates alone (no model) only the
    boosting is left: each byzantine row ``x`` becomes ``m + boost * (x - m)``, ``m`` the
    mean of the known honest rows.

    Parameters
    ----------
    target_inputs : array-like of shape (n_targets, n_features) or None, default=None
        The inputs to misclassify (Bhagoji et al. and the RandEigen artifact use 10).
        Required by :meth:`local_update`.

    target_labels : array-like of shape (n_targets,) or None, default=None
        The labels the attacker wants for them (class labels of the model).

    boost : float or None, default=None
        Explicit boosting factor. None gives ``n_samples / n_byzantine`` (the inverse of
        the byzantine clients' share of the mean, Bhagoji et al.'s ``1 / alpha_m``).

    rho : float, default=1e-4
        Weight of the stealth term (squared distance to the estimated honest update).

    n_mal_steps : int, default=10
        Full-batch SGD steps on the targets per local epoch.

    knowledge : {"full", "partial"}, default="full"
        How the attacker estimates the honest update: ``"full"``, the mean honest update of
        the round; ``"partial"``, the previous aggregate (Bhagoji et al.'s estimate).

    n_byzantine : int or float, default=0.2
        Number of byzantine rows (int), or their fraction of the rows (float in [0, 1),
        rounded down). Ignored when ``byzantine`` is passed to :meth:`fit_poison`.

    random_state : int, RandomState instance or None, default=None
        Unused (the attack is deterministic given the model and the data); present for API
        consistency.

    Attributes
    ----------
    {poisoning_attributes}
    boost_ : float
        The boosting factor of the last call to :meth:`fit_poison` or
        :meth:`local_update` that had byzantine rows.

    See Also
    --------
    Backdoor : Untargeted-input backdoor (a trigger) with model replacement.
    DBA : The distributed backdoor.

    Notes
    -----
    The local steps of the attack are plain SGD at the clients' learning rate and
    mini-batch size (Bhagoji et al. tune the attacker's own schedule); the honest clients
    keep their optimizer. All byzantine clients collude and send the same update, computed
    once on their pooled data. Success is the fraction of the targets the global model
    assigns their target labels (:meth:`success_rate`).

    References
    ----------
    .. [1] A. N. Bhagoji, S. Chakraborty, P. Mittal and S. Calo, "Analyzing Federated
       Learning through an Adversarial Lens", ICML 2019.

    Examples
    --------
    On a matrix alone, the byzantine rows' deviation from the honest mean is boosted:

    >>> import numpy as np
    >>> from sklearn_robust.adversaries import MPA
    >>> X = np.array([[1.0, 0.0], [1.0, 0.0], [1.0, 0.0], [2.0, 1.0]])
    >>> MPA(n_byzantine=1).fit_poison(X)[-1]  # mean (1.25, 0.25), boost 4 / 1
    array([4.25, 3.25])

    In federated training the attack trains the update itself:

    >>> from sklearn.datasets import load_digits
    >>> from sklearn_robust.estimators import FederatedClassifier, SampleMean
    >>> X, y = load_digits(return_X_y=True)
    >>> X = X / 16
    >>> attack = MPA(target_inputs=X[1000:1005], target_labels=(y[1000:1005] + 1) % 10)
    >>> clf = FederatedClassifier(
    ...     n_clients=10, n_byzantine=2, adversary=attack, aggregator=SampleMean(),
    ...     n_rounds=10, random_state=0,
    ... ).fit(X[:1000], y[:1000])
    >>> clf.adversary_.success_rate(clf)  # 3 of the 5 targets get their wrong label
    0.6
    >>> clean = FederatedClassifier(
    ...     n_clients=10, aggregator=SampleMean(), n_rounds=10, random_state=0
    ... ).fit(X[:1000], y[:1000])
    >>> attack.success_rate(clean)  # none without the attack
    0.0
    """

    _parameter_constraints = {
        **BasePoisoningAdversary._parameter_constraints,
        "target_inputs": ["array-like", None],
        "target_labels": ["array-like", None],
        "boost": [Interval(numbers.Real, 0, None, closed="left"), None],
        "rho": [Interval(numbers.Real, 0, None, closed="left")],
        "n_mal_steps": [Interval(numbers.Integral, 1, None, closed="left")],
        "knowledge": [StrOptions({"full", "partial"})],
    }

    def __init__(
        self,
        *,
        target_inputs=None,
        target_labels=None,
        boost=None,
        rho=1e-4,
        n_mal_steps=10,
        knowledge="full",
        n_byzantine=0.2,
        random_state=None,
    ):
        self.target_inputs = target_inputs
        self.target_labels = target_labels
        self.boost = boost
        self.rho = rho
        self.n_mal_steps = n_mal_steps
        self.knowledge = knowledge
        self.n_byzantine = n_byzantine
        self.random_state = random_state

    def _boost(self, n_samples, n_bad):
        return float(n_samples / n_bad if self.boost is None else self.boost)

    def _targets(self):
        """Validated ``(X_target, y_target)``; ValueError naming what is missing."""
        if self.target_inputs is None or self.target_labels is None:
            raise ValueError(
                "MPA needs target_inputs and target_labels to train its malicious update "
                "(the inputs to misclassify and the labels wanted for them); got "
                f"target_inputs={'None' if self.target_inputs is None else 'an array'} and "
                f"target_labels={'None' if self.target_labels is None else 'an array'}."
            )
        X_target = check_array(self.target_inputs, dtype=[np.float64, np.float32])
        y_target = np.asarray(self.target_labels)
        if y_target.shape != (X_target.shape[0],):
            raise ValueError(
                f"target_labels must have shape ({X_target.shape[0]},), one label per row of "
                f"target_inputs; got {y_target.shape}."
            )
        return X_target, y_target

    @_fit_context(prefer_skip_nested_validation=True)
    def fit_poison(self, X, y=None, *, byzantine=None, malicious_update=None):
        """Replace the byzantine rows of ``X`` by the malicious update (or boost them).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Honest updates, one row per client. Never modified.
        y : None
            Ignored.
        byzantine : array-like of int or bool, default=None
            Rows controlled by the adversary (indices or a boolean mask). When None, the last
            ``n_byzantine`` rows are byzantine.
        malicious_update : array-like of shape (n_features,), default=None
            The update :meth:`local_update` trained; every byzantine row becomes it. None
            boosts the byzantine rows' deviation from the honest mean instead.

        Returns
        -------
        X_poisoned : ndarray of shape (n_samples, n_features)
            A copy of ``X`` whose byzantine rows are replaced; ``byzantine_mask_`` tells which.
        """
        if malicious_update is not None:
            malicious_update = np.asarray(malicious_update, dtype=np.float64).ravel()
        self._malicious_update = malicious_update
        try:
            return self._fit_poison(X, byzantine)
        finally:
            del self._malicious_update

    def _craft(self, X, byzantine, random_state):
        n_bad = int(byzantine.sum())
        self.boost_ = self._boost(X.shape[0], n_bad)
        update = getattr(self, "_malicious_update", None)
        if update is not None:
            if update.shape != (X.shape[1],):
                raise ValueError(
                    f"malicious_update must have shape ({X.shape[1]},) to match X's columns; "
                    f"got {update.shape}."
                )
            return update
        known = np.asarray(self._known_rows(X, byzantine), dtype=np.float64)
        return _boost_deviation(X[byzantine], known.mean(axis=0), self.boost_)

    def local_update(
        self,
        module,
        global_params,
        X,
        y,
        *,
        classes,
        updates,
        byzantine,
        previous_aggregate,
        lr,
        batch_size,
        local_epochs,
        generator,
    ):
        """Train the malicious update of one round (alternating minimization).

        Parameters
        ----------
        module : torch.nn.Module
            The model (its weights are not used and not changed: a copy is trained).
        global_params : torch.Tensor of shape (n_params,)
            The global weights, flattened like ``parameters_to_vector(module.parameters())``.
        X : torch.Tensor of shape (n_rows, n_features)
            The byzantine clients' pooled local inputs (on the module's device).
        y : torch.Tensor of shape (n_rows,)
            Their labels, encoded as indices into ``classes``.
        classes : ndarray of shape (n_classes,)
            The class labels, in the order of the model's outputs.
        updates : ndarray of shape (n_clients, n_params)
            Every client's honest update of the round.
        byzantine : ndarray of bool of shape (n_clients,)
            The clients the adversary controls.
        previous_aggregate : torch.Tensor of shape (n_params,)
            The aggregate of the previous round (zeros in the first round).
        lr : float
            Step size of the attacker's SGD.
        batch_size : int
            Mini-batch size of the stealth passes.
        local_epochs : int
            Number of alternations.
        generator : torch.Generator
            Source of the mini-batch order.

        Returns
        -------
        update : ndarray of shape (n_params,)
            The malicious update, float64, to pass to :meth:`fit_poison`.
        """
        self._validate_params()
        X_target, y_target = self._targets()
        classes = np.asarray(classes)
        unknown = ~np.isin(y_target, classes)
        if unknown.any():
            raise ValueError(
                f"target_labels holds {y_target[unknown][0]!r}, which is not one of the "
                f"classes {classes.tolist()}."
            )
        device = global_params.device
        n_bad = int(np.sum(byzantine))
        self.boost_ = self._boost(len(byzantine), n_bad)
        if self.knowledge == "full":
            reference = torch.as_tensor(
                np.asarray(updates, dtype=np.float64).mean(axis=0), dtype=global_params.dtype
            ).to(device)
        else:
            reference = previous_aggregate.to(device=device, dtype=global_params.dtype)
        update = _alternating_minimization(
            module,
            global_params,
            X,
            y,
            torch.as_tensor(X_target, dtype=torch.float32, device=device),
            torch.as_tensor(np.searchsorted(classes, y_target), device=device),
            reference,
            lr=float(lr),
            batch_size=int(batch_size),
            local_epochs=int(local_epochs),
            n_mal_steps=int(self.n_mal_steps),
            boost=self.boost_,
            rho=float(self.rho),
            generator=generator,
        )
        return update.cpu().double().numpy()

    def success_rate(self, estimator):
        """Fraction of the targets that ``estimator`` classifies as their target labels.

        Parameters
        ----------
        estimator : fitted classifier
            The model to test (e.g. a fitted
            :class:`~sklearn_robust.estimators.FederatedClassifier`).

        Returns
        -------
        rate : float
            In [0, 1]; higher means a more successful attack.
        """
        check_is_fitted(estimator)
        X_target, y_target = self._targets()
        return float(np.mean(estimator.predict(X_target) == y_target))
