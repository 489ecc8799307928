"""The CoPur paper's experiments: robust accuracy of CoPur against the baselines.

One function, :func:`copur_comparison`, runs the paper's Table 1, Table 2, Figure 2a,
Figure 2b, Figure 3 and the adaptive attack on any data split into agents (the built-in digits
agents by default) and returns a tidy DataFrame; :func:`summarize_copur` and
:func:`format_copur_table` reduce it over seeds.
"""

import math

import numpy as np
from joblib import Parallel, delayed
from sklearn.base import clone, is_classifier
from sklearn.impute import SimpleImputer
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils import get_tags
from tqdm.auto import tqdm

from sklearn_robust._differentiable import is_differentiable
from sklearn_robust._layout import check_blocks
from sklearn_robust.adversaries import EnsembleAttack, FeatureFlip, MissingBlocks, PGDAttack
from sklearn_robust.estimators import (
    AdversarialTrainingClassifier,
    BlockEmbedder,
    CoPurTransformer,
    ManifoldProjection,
    MLPFusionClassifier,
    RandomizedAblationClassifier,
    RandomizedSmoothingClassifier,
)
from sklearn_robust.experiments._summary import format_mean_std, mean_std

COPUR_EXPERIMENTS = ("table1", "table2", "figure2a", "figure2b", "figure3", "adaptive")

COLUMNS = [
    "experiment",
    "defense",
    "attack",
    "agents",
    "amplification",
    "seed",
    "accuracy",
    "attack_success_rate",
]


def _fusion_classifier(lr, max_epochs, device):
    params = {"lr": lr, "device": device}
    if max_epochs is not None:
        params["max_epochs"] = max_epochs
    return MLPFusionClassifier(**params)


def _autoencoder(max_epochs):
    if max_epochs is None:
        return None  # the defense's own default autoencoder
    from sklearn_robust.nets import AutoencoderNet, MLPAutoencoder

    return AutoencoderNet(module=MLPAutoencoder, max_epochs=max_epochs)


def default_copur_defenses(
    n_agents, *, lr=1e-2, max_epochs=None, pgd_step_size=0.5, pgd_max_iter=30, device="cpu"
):
    """The defenses compared by default: CoPur and the paper's baselines, named.

    A defense is either a transformer, placed before ``StandardScaler`` and a fresh
    :class:`~sklearn_robust.estimators.MLPFusionClassifier` (``"unsecured"``: mean imputation
    of missing agents and nothing else), or a classifier that wraps its own fusion classifier
    and is placed after the ``StandardScaler`` (the certified and adversarially trained
    baselines). Every baseline keeps its library defaults (noise level, kept fraction,
    rounds); only the fusion classifier's ``lr``, ``max_epochs`` and ``device`` are shared.

    * ``"randomized smoothing"``: Gaussian noise on the whole feature vector.
    * ``"randomized smoothing (block)"``: noise only on the **last** agent's block, the one
      the experiments attack. This variant is told which agent is attacked, an advantage the
      other defenses do not get.
    * ``"adversarial training"``: trained against the untargeted PGD on the last agent (same
      step size and iterations as the experiments' attack).
    * ``"adversarial training (block)"``: the paper's block AT, one random agent per row and
      round.

    Parameters
    ----------
    n_agents : int
        Number of agents (blocks of equal width in the embedded features).
    lr : float, default=1e-2
        Learning rate of every fusion classifier and autoencoder-free net.
    max_epochs : int, default=None
        Epochs of every net (fusion classifiers, autoencoders); None keeps the library
        defaults. Small values make quick tests.
    pgd_step_size, pgd_max_iter : float, int, default=0.5, 30
        PGD settings of the adversarial-training baselines.
    device : str, default="cpu"
        Torch device of every net.

    Returns
    -------
    defenses : dict of str to estimator
        Unfitted defenses, in the order of the paper's tables.

    Examples
    --------
    >>> from sklearn_robust.experiments import default_copur_defenses
    >>> list(default_copur_defenses(4))[:3]
    ['unsecured', 'manifold projection', 'CoPur']
    """
    fusion = _fusion_classifier(lr, max_epochs, device)
    autoencoder = _autoencoder(max_epochs)
    training_attack = PGDAttack(
        blocks=n_agents, agents=[-1], step_size=pgd_step_size, max_iter=pgd_max_iter
    )
    return {
        "unsecured": SimpleImputer(strategy="mean"),
        "manifold projection": ManifoldProjection(
            blocks=n_agents, autoencoder=autoencoder, device=device
        ),
        "CoPur": CoPurTransformer(blocks=n_agents, autoencoder=autoencoder, device=device),
        "randomized smoothing": RandomizedSmoothingClassifier(clone(fusion), blocks=n_agents),
        "randomized smoothing (block)": RandomizedSmoothingClassifier(
            clone(fusion), blocks=n_agents, noise_blocks=[n_agents - 1]
        ),
        "randomized ablation": RandomizedAblationClassifier(clone(fusion), blocks=n_agents),
        "adversarial training": AdversarialTrainingClassifier(
            clone(fusion), attack=clone(training_attack)
        ),
        "adversarial training (block)": AdversarialTrainingClassifier(
            clone(fusion), attack=clone(training_attack), block_wise=True
        ),
    }


def _seeded(estimator, seed):
    """A clone with every unset ``random_state`` (nested ones too) set to ``seed``."""
    estimator = clone(estimator)
    unset = {
        key: seed
        for key, value in estimator.get_params(deep=True).items()
        if key.split("__")[-1] == "random_state" and value is None
    }
    return estimator.set_params(**unset)


def _defense_model(defense, fusion, seed):
    """The full model of a defense: steps from the embedded features to the prediction."""
    defense = _seeded(defense, seed)
    if is_classifier(defense):
        steps = [("scale", StandardScaler())]
        if not get_tags(defense).input_tags.allow_nan:
            steps.insert(0, ("impute", SimpleImputer(strategy="mean")))
        return Pipeline([*steps, ("defense", defense)])
    return Pipeline(
        [("defense", defense), ("scale", StandardScaler()), ("clf", _seeded(fusion, seed))]
    )


def _agents_text(agents):
    return ",".join(str(a) for a in agents)


def _attack_sets(experiments, n_agents, amplifications):
    """Attacks per experiment: (experiment, attack name, agents, amplification, recipe).

    A recipe is a tuple ``(missing agents, flip agents, pgd)`` applied to the clean test
    features: the targeted PGD is crafted on the complete features, then the flips, then the
    missing agents are blanked.
    """
    last = n_agents - 1
    n_flip = max(1, math.ceil(n_agents / 4))
    flipped = list(range(n_agents - n_flip, n_agents))
    specs = []
    for experiment in experiments:
        if experiment == "table1":
            specs.append((experiment, "none", (), np.nan, ((), (), False)))
            specs.append(
                (experiment, f"targeted PGD (agent {last})", (last,), np.nan, ((), (), True))
            )
        elif experiment == "table2":
            specs.append(
                (experiment, "missing (agent 0)", (0,), np.nan, ((0,), (), False))
            )
            specs.append(
                (
                    experiment,
                    f"missing (agent 0) + targeted PGD (agent {last})",
                    (0, last),
                    np.nan,
                    ((0,), (), True),
                )
            )
        elif experiment == "figure2a":
            for amp in amplifications:
                specs.append(
                    (
                        experiment,
                        f"flip x{amp:g} (agents {_agents_text(flipped)})",
                        tuple(flipped),
                        float(amp),
                        ((), tuple(flipped), False),
                    )
                )
        elif experiment == "figure2b":
            for amp in amplifications:
                specs.append(
                    (
                        experiment,
                        f"missing (agent 0) + flip x{amp:g} (agent {last})",
                        (0, last),
                        float(amp),
                        ((0,), (last,), False),
                    )
                )
        elif experiment == "figure3":
            for k in range(1, n_agents):
                agents = tuple(range(n_agents - k, n_agents))
                specs.append(
                    (
                        experiment,
                        f"flip x10 (agents {_agents_text(agents)})",
                        agents,
                        10.0,
                        ((), agents, False),
                    )
                )
    return specs


def _apply_recipe(recipe, amplification, H_clean, H_pgd, n_agents):
    missing, flipped, pgd = recipe
    H = H_pgd if pgd else H_clean
    if flipped:
        H = FeatureFlip(blocks=n_agents, agents=list(flipped), amplification=amplification).fit(
            H
        ).transform(H)
    if missing:
        H = MissingBlocks(blocks=n_agents, agents=list(missing)).fit(H).transform(H)
    return H


def _targeted_pgd(n_agents, target, step_size, max_iter, through, seed):
    return PGDAttack(
        blocks=n_agents,
        agents=[-1],
        targeted=True,
        target_class=target,
        step_size=step_size,
        max_iter=max_iter,
        through=through,
        keep_best=False,  # the paper's attack: the last iterate
        random_state=seed,
    )


def _prepare_seed(X, y, blocks, seed, settings):
    """Split, embed, fit the attacker's fusion model and craft the non-adaptive PGD."""
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=settings["test_size"], random_state=seed, stratify=y
    )
    if settings["standardize"]:
        scaler = StandardScaler().fit(X_train)  # ignores NaN (missing agents)
        X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
    embedder_params = {
        "blocks": blocks,
        "embedding_dim": settings["embedding_dim"],
        "lr": settings["lr"],
        "device": settings["device"],
        "random_state": seed,
    }
    if settings["max_epochs"] is not None:
        embedder_params["max_epochs"] = settings["max_epochs"]
    embedder = BlockEmbedder(**embedder_params).fit(X_train, y_train)
    H_train = embedder.transform(X_train)
    H_test = embedder.transform(X_test)
    n_agents = settings["n_agents"]
    H_pgd = None
    if settings["needs_pgd"]:
        # The attacker knows the fusion model (scaler + classifier trained on clean
        # embeddings), not the defense: the paper's non-adaptive attack, crafted once.
        reference = Pipeline(
            [("scale", StandardScaler()), ("clf", _seeded(settings["fusion"], seed))]
        ).fit(H_train, y_train)
        attack = _targeted_pgd(
            n_agents,
            settings["target"],
            settings["pgd_step_size"],
            settings["pgd_max_iter"],
            "all",
            seed,
        ).fit(H_train)
        H_pgd = attack.attack(H_test, y_test, estimator=reference)
    return {"seed": seed, "H_train": H_train, "H_test": H_test, "H_pgd": H_pgd,
            "y_train": y_train, "y_test": y_test}


def _scores(y_true, y_pred, target, targeted):
    accuracy = 100.0 * float(np.mean(y_pred == y_true))
    success = np.nan
    if targeted:
        others = y_true != target
        success = 100.0 * float(np.mean(y_pred[others] == target)) if others.any() else np.nan
    return accuracy, success


def _adaptive_model(model):
    """The part of a fitted model a gradient can go through on complete data, or None."""
    if is_differentiable(model):
        return model
    first = model.steps[0][1]
    if isinstance(first, SimpleImputer) and is_differentiable(model[1:]):
        return model[1:]  # mean imputation is the identity on complete rows
    return None


def _run_defense(prepared, name, defense, specs, settings):
    seed = prepared["seed"]
    n_agents = settings["n_agents"]
    target = settings["target"]
    model = _defense_model(defense, settings["fusion"], seed)
    model.fit(prepared["H_train"], prepared["y_train"])
    y_test = prepared["y_test"]
    rows = []

    def record(experiment, attack, agents, amplification, H, targeted):
        accuracy, success = _scores(y_test, model.predict(H), target, targeted)
        rows.append(
            {
                "experiment": experiment,
                "defense": name,
                "attack": attack,
                "agents": _agents_text(agents),
                "amplification": amplification,
                "seed": seed,
                "accuracy": accuracy,
                "attack_success_rate": success,
            }
        )

    for experiment, attack, agents, amplification, recipe in specs:
        H = _apply_recipe(recipe, amplification, prepared["H_test"], prepared["H_pgd"], n_agents)
        record(experiment, attack, agents, amplification, H, targeted=recipe[2])
    if "adaptive" in settings["experiments"]:
        last = n_agents - 1
        differentiable = _adaptive_model(model)
        if differentiable is not None:
            attack = _targeted_pgd(
                n_agents,
                target,
                settings["pgd_step_size"],
                settings["pgd_max_iter"],
                "all",
                seed,
            ).fit(prepared["H_train"])
            H = attack.attack(prepared["H_test"], y_test, estimator=differentiable)
            record(
                "adaptive",
                f"adaptive targeted PGD (agent {last})",
                (last,),
                np.nan,
                H,
                targeted=True,
            )
        # The suite: every member knows this defense (its gradients, thresholds, detection
        # rule and predictions); per row, the strongest. Scored on the first suite_rows
        # test rows (all of them by default).
        subset = slice(None) if settings["suite_rows"] is None else slice(settings["suite_rows"])
        suite = clone(settings["suite"]).set_params(
            blocks=n_agents, agents=[last], random_state=seed
        )
        suite.fit(prepared["H_train"], prepared["y_train"])
        target_model = model if differentiable is None else differentiable
        H = suite.attack(prepared["H_test"][subset], y_test[subset], estimator=target_model)
        rows.append(
            {
                "experiment": "adaptive",
                "defense": name,
                "attack": f"ensemble (agent {last})",
                "agents": _agents_text((last,)),
                "amplification": np.nan,
                "seed": seed,
                "accuracy": 100.0 * float(np.mean(model.predict(H) == y_test[subset])),
                "attack_success_rate": np.nan,
            }
        )
    return rows


def _check_experiments(experiment):
    if isinstance(experiment, str):
        experiment = [experiment]
    if "all" in experiment:
        experiment = list(COPUR_EXPERIMENTS)
    experiment = [e for e in COPUR_EXPERIMENTS if e in experiment] + [
        e for e in dict.fromkeys(experiment) if e not in COPUR_EXPERIMENTS
    ]
    unknown = [e for e in experiment if e not in COPUR_EXPERIMENTS]
    if unknown or not experiment:
        raise ValueError(
            f"experiment must be one of {list(COPUR_EXPERIMENTS)} or 'all' (or a list of "
            f"them); got {unknown or experiment!r}."
        )
    return experiment


def copur_comparison(
    X=None,
    y=None,
    *,
    blocks=None,
    experiment="table1",
    defenses=None,
    seeds=(0, 1, 2),
    test_size=0.3,
    embedding_dim=8,
    amplifications=(1, 3, 5, 10, 20),
    target_class=None,
    pgd_step_size=0.5,
    pgd_max_iter=30,
    lr=1e-2,
    max_epochs=None,
    suite=None,
    suite_rows=None,
    standardize=False,
    device="cpu",
    n_jobs=None,
    verbose=0,
):
    """Accuracy of CoPur and the baselines under the CoPur paper's attacks, over seeds.

    For each seed (used as the ``random_state`` of the split, of every net and of every
    attack), the rows are split into train and test, a
    :class:`~sklearn_robust.estimators.BlockEmbedder` is trained on the clean training split
    and shared by every defense, and each defense's model (see
    :func:`default_copur_defenses`) is trained on the clean training embeddings and scored on
    attacked test embeddings. The attacks, named after the paper, hit the **last** agent:

    * ``"table1"``: no attack, and the targeted unprojected PGD on the last agent.
    * ``"table2"``: the first agent missing, alone and with that PGD.
    * ``"figure2a"``: flip (``-amplification * h``) on the last ``ceil(M / 4)`` agents (the
      paper's share of malicious agents; one agent for the 4 digits agents), for each
      amplification.
    * ``"figure2b"``: the first agent missing and the last flipped, for each amplification.
    * ``"figure3"``: flip x10 on the last 1, 2, ..., M - 1 agents.
    * ``"adaptive"``: the attacks that know the defense, on the last agent. (1) The
      targeted PGD crafted through the whole model, purifier included (the library's
      former adaptive attack, kept for contrast), for every defense with a differentiable
      forward pass (CoPur with its straight-through surrogate, manifold projection,
      unsecured, whose mean imputation is the identity on complete rows, the adversarially
      trained classifiers, and the randomized ones through their expectation over the
      noise or the subsets). (2) ``suite``, by default
      :class:`~sklearn_robust.adversaries.EnsembleAttack`: per row, the strongest of the
      library's adaptive attacks, each knowing the defense (gradients, detection
      thresholds and rule, predictions); the number to quote as a defense's robustness.

    The non-adaptive PGD (tables 1 and 2) is the paper's: the attacker knows the fusion
    model (``StandardScaler`` + ``MLPFusionClassifier`` trained on clean embeddings), not the
    defense. It is crafted once per seed against that model on the complete test features
    and the same attacked features are given to every defense (for table 2 the first agent
    is then blanked). Its target is ``target_class``.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features), default=None
        Raw features of all agents side by side; None loads the built-in digits agents
        (:func:`~sklearn_robust.datasets.load_digits_agents`, 4 agents, scaled to [0, 1]).
    y : array-like of shape (n_samples,), default=None
        Labels; required with ``X``.
    blocks : int, list of int or list of array-like, default=None
        The agents' columns of ``X`` (any ``blocks`` of this library); required with ``X``.
    experiment : str or list of str, default="table1"
        One of ``"table1"``, ``"table2"``, ``"figure2a"``, ``"figure2b"``, ``"figure3"``,
        ``"adaptive"``, a list of them, or ``"all"``.
    defenses : dict of str to estimator, default=None
        Named defenses (transformers before the fusion classifier, or classifiers); None
        means :func:`default_copur_defenses`. Unset ``random_state`` parameters are seeded.
    seeds : sequence of int, default=(0, 1, 2)
        One run per seed.
    test_size : float, default=0.3
        Fraction of rows in the (stratified) test split.
    embedding_dim : int, default=8
        Width of each agent's embedding.
    amplifications : sequence of float, default=(1, 3, 5, 10, 20)
        Flip amplifications of Figures 2a and 2b.
    target_class : object, default=None
        Target of the targeted PGD; None means the second class (``classes[1]``).
    pgd_step_size : float, default=0.5
        Step of the unprojected PGD (the paper's ExtraSensory setting).
    pgd_max_iter : int, default=30
        Iterations of the PGD.
    lr : float, default=1e-2
        Learning rate of the embedder and of the fusion classifiers.
    max_epochs : int, default=None
        Epochs of every net; None keeps the library defaults. Small values for quick tests.
    suite : inference-time adversary, default=None
        The attack of the ``"adaptive"`` experiment's ``"ensemble"`` rows, cloned with
        ``blocks``, ``agents=[last agent]`` and the seed as ``random_state``, fitted on the
        clean training embeddings (its pool of genuine blocks); None means
        ``EnsembleAttack()`` with :func:`~sklearn_robust.adversaries.default_attack_suite`.
    suite_rows : int, default=None
        Score the suite on the first ``suite_rows`` test rows only (a random subset: the
        split is shuffled), to bound its cost; None scores every test row.
    standardize : bool, default=False
        Standardize the raw features with statistics of each training split (NaN ignored)
        before embedding; for raw sensor data such as ExtraSensory.
    device : str, default="cpu"
        Torch device of every net.
    n_jobs : int, default=None
        joblib workers over seeds, then over (seed, defense) pairs.
    verbose : int, default=0
        Progress bars when > 0.

    Returns
    -------
    results : pandas.DataFrame
        One row per (experiment, attack, defense, seed) with columns ``experiment``,
        ``defense``, ``attack``, ``agents`` (the attacked or missing agents, e.g. ``"0,3"``),
        ``amplification`` (NaN without a flip), ``seed``, ``accuracy`` (percent) and
        ``attack_success_rate`` (percent of the test rows whose true class is not the target
        that are predicted as the target, for targeted PGD; NaN otherwise).

    See Also
    --------
    summarize_copur : Mean and standard deviation over seeds.
    format_copur_table : The summary as text.
    RobustnessCurveDisplay : Accuracy against the attack's strength.

    References
    ----------
    .. [1] J. Liu, C. Xie, O. Koyejo and B. Li, "CoPur: Certifiably Robust Collaborative
       Inference via Feature Purification", NeurIPS 2022.

    Examples
    --------
    >>> from sklearn.impute import SimpleImputer
    >>> from sklearn_robust.estimators import ManifoldProjection
    >>> from sklearn_robust.experiments import copur_comparison
    >>> frame = copur_comparison(experiment="figure3", seeds=[0], max_epochs=5,
    ...     defenses={"unsecured": SimpleImputer(), "MP": ManifoldProjection(blocks=4)})
    >>> frame[["defense", "agents"]].values.tolist()
    [['unsecured', '3'], ['unsecured', '2,3'], ['unsecured', '1,2,3'], ['MP', '3'], ['MP', '2,3'], ['MP', '1,2,3']]
    """  # noqa: E501
    import pandas as pd

    experiments = _check_experiments(experiment)
    if X is None:
        from sklearn_robust.datasets import load_digits_agents

        digits = load_digits_agents(n_agents=4)
        X, y, blocks = digits.data / 16.0, digits.target, digits.blocks
    elif y is None or blocks is None:
        raise ValueError(
            "copur_comparison needs y and blocks with X (the labels and the agents' columns); "
            f"got y={'None' if y is None else 'given'}, blocks={blocks!r}."
        )
    X = np.asarray(X, dtype=np.float32)
    y = np.asarray(y)
    n_agents = check_blocks(blocks, X.shape[1]).n_blocks
    if n_agents < 2:
        raise ValueError(f"the experiments need at least 2 agents; blocks={blocks!r} has 1.")
    seeds = [int(s) for s in seeds]
    if not seeds:
        raise ValueError("seeds must hold at least one seed; got an empty sequence.")
    classes = np.unique(y)
    target = classes[1] if target_class is None else target_class
    if target not in classes:
        raise ValueError(
            f"target_class={target_class!r} is not one of the labels {classes.tolist()[:20]}."
        )
    if defenses is None:
        defenses = default_copur_defenses(
            n_agents,
            lr=lr,
            max_epochs=max_epochs,
            pgd_step_size=pgd_step_size,
            pgd_max_iter=pgd_max_iter,
            device=device,
        )
    amplifications = tuple(float(a) for a in amplifications)
    specs = _attack_sets(experiments, n_agents, amplifications)
    settings = {
        "experiments": experiments,
        "n_agents": n_agents,
        "target": target,
        "test_size": test_size,
        "embedding_dim": embedding_dim,
        "lr": lr,
        "max_epochs": max_epochs,
        "standardize": standardize,
        "device": device,
        "pgd_step_size": pgd_step_size,
        "pgd_max_iter": pgd_max_iter,
        "fusion": _fusion_classifier(lr, max_epochs, device),
        "suite": EnsembleAttack() if suite is None else suite,
        "suite_rows": None if suite_rows is None else int(suite_rows),
        "needs_pgd": any(spec[4][2] for spec in specs),
    }
    prepared = Parallel(n_jobs=n_jobs)(
        delayed(_prepare_seed)(X, y, blocks, seed, settings)
        for seed in tqdm(seeds, disable=not verbose, desc="embedding seeds")
    )
    cells = [(p, name, defense) for p in prepared for name, defense in defenses.items()]
    results = Parallel(n_jobs=n_jobs)(
        delayed(_run_defense)(p, name, defense, specs, settings)
        for p, name, defense in tqdm(cells, disable=not verbose, desc="(seed, defense)")
    )
    frame = pd.DataFrame([row for rows in results for row in rows], columns=COLUMNS)
    order = {e: i for i, e in enumerate(COPUR_EXPERIMENTS)}
    frame["_order"] = frame["experiment"].map(order)
    frame = frame.sort_values(["_order", "seed"], kind="stable").drop(columns="_order")
    return frame.reset_index(drop=True)


def summarize_copur(frame):
    """Mean and standard deviation over seeds of the accuracy and the attack success rate.

    Parameters
    ----------
    frame : pandas.DataFrame
        The output of :func:`copur_comparison`.

    Returns
    -------
    summary : pandas.DataFrame
        One row per (experiment, defense, attack, agents, amplification), in order of
        appearance, with ``accuracy_mean``, ``accuracy_std``, ``attack_success_rate_mean``,
        ``attack_success_rate_std`` and ``n_seeds``. The std is the sample standard
        deviation (``ddof=1``, :func:`mean_std`), NaN with one seed.

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn_robust.experiments import summarize_copur
    >>> frame = pd.DataFrame({"experiment": "table1", "defense": "CoPur", "attack": "none",
    ...     "agents": "", "amplification": float("nan"), "seed": [0, 1, 2],
    ...     "accuracy": [90.0, 92.0, 94.0], "attack_success_rate": float("nan")})
    >>> row = summarize_copur(frame).iloc[0]
    >>> float(row["accuracy_mean"]), float(row["accuracy_std"]), int(row["n_seeds"])
    (92.0, 2.0, 3)
    """
    keys = ["experiment", "defense", "attack", "agents", "amplification"]
    grouped = frame.groupby(keys, sort=False, dropna=False)
    summary = grouped.agg(
        accuracy_mean=("accuracy", "mean"),
        accuracy_std=("accuracy", lambda s: mean_std(s)[1]),
        attack_success_rate_mean=("attack_success_rate", "mean"),
        attack_success_rate_std=("attack_success_rate", lambda s: mean_std(s)[1]),
        n_seeds=("seed", "nunique"),
    )
    return summary.reset_index()


def format_copur_table(frame):
    """Plain-text tables, one per experiment: a line per defense, a column per attack.

    Cells are the accuracy in percent, ``mean ± std`` over seeds (sample std, ``ddof=1``;
    the mean alone with one seed, see :func:`format_mean_std`); targeted-PGD columns are
    followed by the attack success rate (``ASR``, lower is better).

    Parameters
    ----------
    frame : pandas.DataFrame
        The output of :func:`copur_comparison`.

    Returns
    -------
    text : str
        The tables.

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn_robust.experiments import format_copur_table
    >>> frame = pd.DataFrame({"experiment": "table1", "defense": ["CoPur", "unsecured"],
    ...     "attack": "none", "agents": "", "amplification": float("nan"), "seed": 0,
    ...     "accuracy": [90.0, 94.0], "attack_success_rate": float("nan")})
    >>> print(format_copur_table(frame))
    table1 (accuracy %, 1 seed)
    defense    none
    ---------  ----
    CoPur      90.0
    unsecured  94.0
    """
    summary = summarize_copur(frame)
    blocks = []
    for experiment, part in summary.groupby("experiment", sort=False):
        attacks = list(dict.fromkeys(part["attack"]))
        defenses = list(dict.fromkeys(part["defense"]))
        cells = {(r.defense, r.attack): r for r in part.itertuples()}
        head = ["defense"]
        for attack in attacks:
            head.append(attack)
            if part.loc[part["attack"] == attack, "attack_success_rate_mean"].notna().any():
                head.append("ASR")
        body = []
        for defense in defenses:
            line = [defense]
            for attack in attacks:
                cell = cells.get((defense, attack))
                line.append(
                    "-" if cell is None else format_mean_std(cell.accuracy_mean, cell.accuracy_std)
                )
                if part.loc[part["attack"] == attack, "attack_success_rate_mean"].notna().any():
                    line.append(
                        "-"
                        if cell is None or np.isnan(cell.attack_success_rate_mean)
                        else f"{cell.attack_success_rate_mean:.1f}"
                    )
            body.append(line)
        widths = [max(len(line[i]) for line in [head] + body) for i in range(len(head))]

        def fmt(line, widths=widths):
            cells = (c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(line, widths)))
            return "  ".join(cells).rstrip()

        n_seeds = int(part["n_seeds"].max())
        spread = f"mean ± sample std (ddof=1) over {n_seeds} seeds" if n_seeds > 1 else "1 seed"
        title = f"{experiment} (accuracy %, {spread})"
        lines = [title, fmt(head), fmt(["-" * w for w in widths])]
        blocks.append("\n".join(lines + [fmt(b) for b in body]))
    return "\n\n".join(blocks)
