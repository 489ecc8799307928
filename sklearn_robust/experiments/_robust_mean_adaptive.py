"""Worst-case bias of robust means under adaptive poisoning: each attack family searches a grid
of magnitudes, and a defense is worth its worst magnitude.

:func:`robust_mean_adaptive` plants ``eps * n`` byzantine rows among Gaussian honest rows for
every (scale, family, magnitude, seed), fits every estimator and records the normalized bias
(``||mu_hat - mean(honest)|| / sqrt(lambda_max(Cov(honest)))``), how many honest rows each
estimator removed and how many byzantine rows it kept. :func:`summarize_adaptive` reduces
the records to the worst magnitude per family (mean over seeds at each magnitude, then the
maximum over magnitudes).
"""

import time

import numpy as np
from joblib import Parallel, delayed
from sklearn.base import clone
from tqdm.auto import tqdm

from sklearn_robust.adversaries import (
    ALIE,
    IPM,
    ConstantShift,
    EigenShift,
    GaussianNoise,
    HullPoints,
    Mimic,
    OrthogonalSpikes,
    SignFlip,
)
from sklearn_robust.metrics import normalized_bias


class _NonFinite:
    """Byzantine rows of +inf (ByzFL's Inf attack): a row-level adversary without state."""

    def __init__(self, n_byzantine):
        self.n_byzantine = n_byzantine

    def fit_poison(self, X):
        X = np.array(X, dtype=np.float64, copy=True)
        X[len(X) - self.n_byzantine :] = np.inf
        return X


def default_adaptive_families():
    """The adaptive attack families and their magnitude grids.

    Returns
    -------
    families : dict of str to (adversary, str or None, list)
        Family name to ``(prototype, parameter, grid)``: the adversary is cloned with
        ``parameter`` set to each value of ``grid`` (``parameter=None``: one setting). The
        ``"easy: ..."`` families are the fixed-magnitude attacks on which a defense should
        remove every byzantine row.

    Examples
    --------
    >>> from sklearn_robust.experiments import default_adaptive_families
    >>> families = default_adaptive_families()
    >>> families["EigenShift"][1:]
    ('shift', [0.5, 1.0, 1.25, 1.5, 1.75, 2.0, 2.5, 3.0, 4.0, 6.0])
    """
    shifts = [0.5, 1.0, 1.25, 1.5, 1.75, 2.0, 2.5, 3.0, 4.0, 6.0]
    constant = [0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 1.0]
    return {
        "EigenShift": (EigenShift(), "shift", shifts),
        "EigenShift, honest noise": (EigenShift(noise="honest"), "shift", shifts),
        "EigenShift, span noise": (EigenShift(noise="span"), "shift", shifts),
        "ConstantShift": (ConstantShift(), "shift", constant),
        "ConstantShift, honest noise": (ConstantShift(noise="honest"), "shift", constant),
        "OrthogonalSpikes": (OrthogonalSpikes(), "magnitude", [3, 5, 7, 8, 9, 10, 12, 15]),
        "HullPoints": (HullPoints(), "extrapolation", [0.0, 0.1, 0.25, 0.5, 1.0]),
        "Mimic": (Mimic(), "extrapolation", [0.0, 0.25, 0.5, 1.0]),
        "ALIE": (ALIE(), "z", [0.1, 0.25, 0.5, 1.0, 2.0]),
        "IPM": (IPM(), "epsilon", [0.1, 0.5, 1.0, 2.0, 10.0]),
        "easy: SignFlip": (SignFlip(), None, [None]),
        "easy: IPM": (IPM(), None, [None]),
        "easy: ALIE": (ALIE(), None, [None]),
        "easy: GaussianNoise": (GaussianNoise(), None, [None]),
        "easy: Inf": (None, None, [None]),
    }


def _honest(n_samples, n_features, sigma, rng):
    mu = sigma * rng.standard_normal(n_features)
    return mu + sigma * rng.standard_normal((n_samples, n_features))


def _one_dataset(estimators, family, prototype, parameter, value, sigma, seed, n, d, n_bad):
    rng = np.random.default_rng([seed, int(round(np.log10(sigma) * 100)) + 10_000])
    X = _honest(n, d, sigma, rng)
    honest = X[: n - n_bad]
    if prototype is None:
        X_poisoned = _NonFinite(n_bad).fit_poison(X)
    else:
        attack = clone(prototype).set_params(n_byzantine=n_bad)
        if "random_state" in attack.get_params():
            attack.set_params(random_state=seed)
        if parameter is not None:
            attack.set_params(**{parameter: value})
        X_poisoned = attack.fit_poison(X)
    records = []
    for name, estimator in estimators.items():
        est = clone(estimator)
        if "random_state" in est.get_params():
            est.set_params(random_state=seed)
        start = time.perf_counter()
        est.fit(X_poisoned)
        seconds = time.perf_counter() - start
        support = getattr(est, "support_", None)
        if support is None:
            support = np.ones(n, dtype=bool)
        records.append(
            {
                "sigma": sigma,
                "family": family,
                "magnitude": value,
                "seed": seed,
                "estimator": name,
                "bias": normalized_bias(est.location_, honest),
                "honest_removed": int((~support[: n - n_bad]).sum()),
                "byzantine_kept": int(support[n - n_bad :].sum()),
                "seconds": seconds,
            }
        )
    return records


def robust_mean_adaptive(
    estimators,
    families=None,
    *,
    n_samples=100,
    n_features=5000,
    eps=0.2,
    sigmas=(1e-3, 1.0, 100.0),
    seeds=range(5),
    n_jobs=None,
    verbose=0,
):
    """Normalized bias of every estimator under every adaptive family and magnitude.

    Honest rows are ``mu + sigma N(0, I)`` with ``mu = sigma N(0, I)`` drawn per seed; the
    last ``floor(eps * n_samples)`` rows are replaced by the attack's.

    Parameters
    ----------
    estimators : dict of str to estimator
        Robust means (anything with ``fit(X).location_``; ``support_`` when it selects
        rows), cloned for every dataset.
    families : dict, default=None
        As returned by :func:`default_adaptive_families` (the default).
    n_samples : int, default=100
        Rows per dataset.
    n_features : int, default=5000
        Columns per dataset.
    eps : float, default=0.2
        Fraction of byzantine rows.
    sigmas : sequence of float, default=(1e-3, 1.0, 100.0)
        Per-coordinate scales of the honest rows.
    seeds : iterable of int, default=range(5)
        Seeds of the datasets (and of the estimators and attacks).
    n_jobs : int, default=None
        Datasets fitted in parallel (joblib).
    verbose : int, default=0
        Show a progress bar when positive.

    Returns
    -------
    records : list of dict
        One per (sigma, family, magnitude, seed, estimator): ``bias``, ``honest_removed``,
        ``byzantine_kept``, ``seconds``.

    Examples
    --------
    >>> from sklearn_robust.estimators import RandEigenMean, SampleMean
    >>> from sklearn_robust.experiments import default_adaptive_families, robust_mean_adaptive
    >>> families = {"EigenShift": default_adaptive_families()["EigenShift"][:2] + ([3.0],)}
    >>> records = robust_mean_adaptive({"mean": SampleMean(), "RandEigen": RandEigenMean()},
    ...                                families, n_features=200, sigmas=(1.0,), seeds=[0])
    >>> {r["estimator"]: r["byzantine_kept"] for r in records}
    {'mean': 20, 'RandEigen': 0}
    """
    families = default_adaptive_families() if families is None else families
    n_bad = int(np.floor(round(eps * n_samples, 9)))
    tasks = [
        (family, prototype, parameter, value, sigma, seed)
        for sigma in sigmas
        for family, (prototype, parameter, grid) in families.items()
        for value in grid
        for seed in seeds
    ]
    jobs = (
        delayed(_one_dataset)(estimators, *task, n_samples, n_features, n_bad) for task in tasks
    )
    results = Parallel(n_jobs=n_jobs, return_as="generator")(jobs)
    records = []
    for result in tqdm(results, total=len(tasks), disable=not verbose, desc="datasets"):
        records.extend(result)
    return records


def summarize_adaptive(records):
    """Worst magnitude per (sigma, family, estimator).

    The bias is averaged over seeds at each magnitude, then the magnitude with the largest
    mean is kept (a defense is worth its worst magnitude); the honest rows removed and
    byzantine rows kept are those of that magnitude. Fixed-magnitude families give their
    median over seeds as well.

    Parameters
    ----------
    records : list of dict
        Output of :func:`robust_mean_adaptive`.

    Returns
    -------
    summary : list of dict
        One per (sigma, family, estimator): ``worst_bias``, ``median_bias`` (of the worst
        magnitude), ``worst_magnitude``, ``honest_removed``, ``byzantine_kept`` (means over
        seeds) and ``seconds`` (mean fit time over the family).

    Examples
    --------
    >>> from sklearn_robust.experiments import summarize_adaptive
    >>> rows = [{"sigma": 1.0, "family": "F", "magnitude": m, "seed": s, "estimator": "E",
    ...          "bias": m * (1 + s), "honest_removed": 0, "byzantine_kept": 1, "seconds": 0.1}
    ...         for m in (1.0, 2.0) for s in (0, 1)]
    >>> summarize_adaptive(rows)[0]["worst_bias"], summarize_adaptive(rows)[0]["worst_magnitude"]
    (3.0, 2.0)
    """
    groups = {}
    for r in records:
        key = (r["sigma"], r["family"], r["estimator"])
        groups.setdefault(key, {}).setdefault(r["magnitude"], []).append(r)
    summary = []
    for (sigma, family, estimator), by_magnitude in groups.items():
        rows = []
        for magnitude, runs in by_magnitude.items():
            biases = [r["bias"] for r in runs]
            rows.append((float(np.mean(biases)), magnitude, runs))
        # A magnitude without a result (NaN: an estimator that returned none) is the worst.
        worst, magnitude, runs = max(rows, key=lambda t: (bool(np.isnan(t[0])), t[0]))
        summary.append(
            {
                "sigma": sigma,
                "family": family,
                "estimator": estimator,
                "worst_bias": worst,
                "median_bias": float(np.median([r["bias"] for r in runs])),
                "worst_magnitude": magnitude,
                "honest_removed": float(np.mean([r["honest_removed"] for r in runs])),
                "byzantine_kept": float(np.mean([r["byzantine_kept"] for r in runs])),
                "seconds": float(
                    np.mean([r["seconds"] for rs in by_magnitude.values() for r in rs])
                ),
            }
        )
    return summary
