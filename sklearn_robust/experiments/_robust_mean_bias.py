"""Bias of every robust mean under every poisoning adversary (the RandEigen comparison)."""

import time

import numpy as np
from joblib import Parallel, delayed
from sklearn.base import clone
from tqdm.auto import tqdm

from sklearn_robust.adversaries import (
    ALIE,
    IPM,
    Backdoor,
    ConstantShift,
    EigenShift,
    GaussianNoise,
    HiDRA,
    HullPoints,
    KrumAttack,
    Mimic,
    MinMax,
    MinSum,
    OrthogonalSpikes,
    SignFlip,
)
from sklearn_robust.estimators import (
    CenteredClipping,
    CoordinateMedian,
    FilteringMean,
    GeometricMedian,
    Krum,
    MultiKrum,
    NoRegretMean,
    RandEigenMean,
    SampleMean,
    TrimmedMean,
)
from sklearn_robust.metrics import normalized_bias


def default_estimators(eps=0.2):
    """The estimators compared by default: RandEigen and every baseline, named.

    The estimators that take an assumed fraction of outliers get ``eps``: ``TrimmedMean``
    trims ``eps`` at each end, ``Krum`` and ``MultiKrum`` assume ``eps`` byzantine rows, and
    ``FilteringMean``, ``NoRegretMean`` and ``RandEigenMean`` assume a fraction ``eps`` of
    corrupted rows. The others keep their defaults.

    Parameters
    ----------
    eps : float, default=0.2
        Assumed fraction of byzantine rows.

    Returns
    -------
    estimators : dict of str to estimator
        Unfitted estimators keyed by class name, the plain mean first and ``RandEigenMean``
        last.

    See Also
    --------
    default_adversaries : The attacks compared by default.
    robust_mean_bias : The experiment that uses both.

    Examples
    --------
    >>> from sklearn_robust.experiments import default_estimators
    >>> estimators = default_estimators(eps=0.1)
    >>> list(estimators)[:3]
    ['SampleMean', 'CoordinateMedian', 'TrimmedMean']
    >>> estimators["TrimmedMean"]
    TrimmedMean(trim=0.1)
    """
    return {
        "SampleMean": SampleMean(),
        "CoordinateMedian": CoordinateMedian(),
        "TrimmedMean": TrimmedMean(trim=eps),
        "GeometricMedian": GeometricMedian(),
        "Krum": Krum(n_byzantine=eps),
        "MultiKrum": MultiKrum(n_byzantine=eps),
        "CenteredClipping": CenteredClipping(),
        "FilteringMean": FilteringMean(eps=eps),
        "NoRegretMean": NoRegretMean(eps=eps),
        "RandEigenMean": RandEigenMean(eps=eps),
    }


def default_adversaries(eps=0.2):
    """No attack plus every poisoning adversary, each controlling a fraction ``eps``.

    Every poisoning adversary of :mod:`sklearn_robust.adversaries` with its defaults
    (omniscient, ``knowledge="full"``, where it has the choice): the paper's attacks
    (``HiDRA``, ``ALIE``, ``IPM``), the simple ones (``SignFlip``, ``GaussianNoise``,
    ``ConstantShift``), the optimised ones (``MinMax`` and ``MinSum``, which search for the
    largest shift a defense still accepts, and ``KrumAttack``, aimed at Krum) and
    ``Backdoor``, whose ``fit_poison`` alone boosts the byzantine rows by the number of
    clients over the number of attackers (model replacement; its data poisoning needs a
    training loop, see :class:`~sklearn_robust.estimators.FederatedClassifier`), then the
    attacks built against spectral filters (``EigenShift``, ``OrthogonalSpikes``,
    ``HullPoints``, ``Mimic``: they know RandEigenMean's test and stay under it).

    Parameters
    ----------
    eps : float, default=0.2
        Fraction of the rows every adversary controls (its ``n_byzantine``).

    Returns
    -------
    adversaries : dict of str to adversary or None
        ``"none"`` mapped to None (the honest rows are aggregated unchanged), then the
        unfitted adversaries keyed by class name.

    See Also
    --------
    default_estimators : The estimators compared by default.
    robust_mean_bias : The experiment that uses both.

    Examples
    --------
    >>> from sklearn_robust.experiments import default_adversaries
    >>> adversaries = default_adversaries(eps=0.1)
    >>> list(adversaries)  # doctest: +NORMALIZE_WHITESPACE
    ['none', 'HiDRA', 'ALIE', 'IPM', 'SignFlip', 'GaussianNoise', 'ConstantShift', 'MinMax',
     'MinSum', 'KrumAttack', 'Backdoor', 'EigenShift', 'OrthogonalSpikes', 'HullPoints',
     'Mimic']
    >>> adversaries["ALIE"]
    ALIE(n_byzantine=0.1)
    """
    return {
        "none": None,
        "HiDRA": HiDRA(n_byzantine=eps),
        "ALIE": ALIE(n_byzantine=eps),
        "IPM": IPM(n_byzantine=eps),
        "SignFlip": SignFlip(n_byzantine=eps),
        "GaussianNoise": GaussianNoise(n_byzantine=eps),
        "ConstantShift": ConstantShift(n_byzantine=eps),
        "MinMax": MinMax(n_byzantine=eps),
        "MinSum": MinSum(n_byzantine=eps),
        "KrumAttack": KrumAttack(n_byzantine=eps),
        "Backdoor": Backdoor(n_byzantine=eps),
        "EigenShift": EigenShift(n_byzantine=eps),
        "OrthogonalSpikes": OrthogonalSpikes(n_byzantine=eps),
        "HullPoints": HullPoints(n_byzantine=eps),
        "Mimic": Mimic(n_byzantine=eps),
    }


def make_honest_updates(n_samples, n_features, *, scale=1.0, random_state=None, dtype=np.float32):
    """Synthetic honest updates: a common mean plus isotropic noise, both of std ``scale``.

    A mean vector ``m`` and the noise are standard normal draws; row ``i`` is
    ``scale * (m + noise_i)``. The draws are made in float32 (then cast to ``dtype``), so
    the same ``random_state`` gives the same values whatever ``dtype``.

    Parameters
    ----------
    n_samples : int
        Number of rows (clients).
    n_features : int
        Number of columns (coordinates of an update).
    scale : float, default=1.0
        Per-coordinate standard deviation of the mean and of the noise.
    random_state : int, numpy.random.Generator or None, default=None
        Seed of ``numpy.random.default_rng``; None gives fresh draws at every call.
    dtype : numpy dtype, default=numpy.float32
        Dtype of the result.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
        The honest updates.

    See Also
    --------
    robust_mean_bias : Aggregates these updates after poisoning.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_robust.experiments import make_honest_updates
    >>> X = make_honest_updates(100, 3, scale=2.0, random_state=0)
    >>> X.shape, X.dtype
    ((100, 3), dtype('float32'))
    >>> X64 = make_honest_updates(100, 3, scale=2.0, random_state=0, dtype=np.float64)
    >>> bool(np.array_equal(X, X64))
    True
    """
    rng = np.random.default_rng(random_state)
    mean = rng.standard_normal(n_features, dtype=np.float32)
    noise = rng.standard_normal((n_samples, n_features), dtype=np.float32)
    return (scale * (mean + noise)).astype(dtype, copy=False)


def _one_cell(scale, seed, attack_name, adversary, estimators, n_samples, n_features):
    X = make_honest_updates(n_samples, n_features, scale=scale, random_state=seed)
    if adversary is None:
        X_poisoned, honest = X, np.ones(n_samples, dtype=bool)
    else:
        adversary = clone(adversary).set_params(random_state=seed)
        X_poisoned = adversary.fit_poison(X)
        honest = ~adversary.byzantine_mask_
    X_honest = X[honest]
    rows = []
    for est_name, estimator in estimators.items():
        estimator = clone(estimator)
        if "random_state" in estimator.get_params():
            estimator.set_params(random_state=seed)
        start = time.perf_counter()
        estimator.fit(X_poisoned)
        elapsed = time.perf_counter() - start
        support = getattr(estimator, "support_", None)
        rows.append(
            {
                "estimator": est_name,
                "attack": attack_name,
                "scale": scale,
                "seed": seed,
                "normalized_bias": normalized_bias(estimator.location_, X_honest),
                "byzantine_kept": (
                    int(support[~honest].sum()) if support is not None else None
                ),
                "honest_removed": (
                    int((~support[honest]).sum()) if support is not None else None
                ),
                "fit_seconds": elapsed,
            }
        )
    return rows


def robust_mean_bias(
    *,
    n_samples=100,
    n_features=10_000,
    eps=0.2,
    scales=(1e-4, 1.0),
    seeds=tuple(range(10)),
    estimators=None,
    adversaries=None,
    n_jobs=None,
    verbose=0,
):
    """Normalized bias of robust means under poisoning, over seeds, scales and attacks.

    For each (scale, seed, attack) the honest rows are :func:`make_honest_updates`, the
    adversary replaces ``eps`` of them, and every estimator aggregates the poisoned matrix.
    The bias is :func:`sklearn_robust.metrics.normalized_bias` against the honest rows.

    Parameters
    ----------
    n_samples, n_features : int
        Shape of the update matrix.
    eps : float, default=0.2
        Fraction of byzantine rows (and the estimators' assumed fraction).
    scales : sequence of float, default=(1e-4, 1.0)
        Per-coordinate standard deviations of the honest updates.
    seeds : sequence of int, default=(0, 1, ..., 9)
        Seeds: each draws its own honest updates, byzantine rows and estimator seeds.
    estimators : dict of str to estimator, default=None
        Defaults to :func:`default_estimators`.
    adversaries : dict of str to adversary or None, default=None
        Defaults to :func:`default_adversaries` (``None`` means no attack).
    n_jobs : int, default=None
        joblib parallelism over (scale, seed, attack) cells.
    verbose : int, default=0
        Show a progress bar when > 0.

    Returns
    -------
    rows : list of dict
        One record per (estimator, attack, scale, seed) with ``normalized_bias``,
        ``byzantine_kept``, ``honest_removed`` and ``fit_seconds``.

    Examples
    --------
    >>> from sklearn_robust.experiments import robust_mean_bias, summarize_bias
    >>> from sklearn_robust.estimators import RandEigenMean, SampleMean
    >>> from sklearn_robust.adversaries import SignFlip
    >>> rows = robust_mean_bias(n_samples=50, n_features=500, scales=(1.0,), seeds=[0, 1],
    ...     estimators={"mean": SampleMean(), "randeigen": RandEigenMean()},
    ...     adversaries={"SignFlip": SignFlip(n_byzantine=0.2)})
    >>> table = summarize_bias(rows)
    >>> bool(table[("randeigen", "SignFlip", 1.0)] < table[("mean", "SignFlip", 1.0)] / 3)
    True
    """
    estimators = default_estimators(eps) if estimators is None else estimators
    adversaries = default_adversaries(eps) if adversaries is None else adversaries
    cells = [
        (scale, seed, name, adversary)
        for scale in scales
        for seed in seeds
        for name, adversary in adversaries.items()
    ]
    jobs = (
        delayed(_one_cell)(scale, seed, name, adv, estimators, n_samples, n_features)
        for scale, seed, name, adv in tqdm(cells, disable=not verbose, desc="bias cells")
    )
    results = Parallel(n_jobs=n_jobs)(jobs)
    return [row for cell in results for row in cell]


def summarize_bias(rows, statistic="normalized_bias"):
    """Median of ``statistic`` per (estimator, attack, scale) as a dict.

    The median is taken over the seeds (over every row of a group).

    Parameters
    ----------
    rows : list of dict
        Records as returned by :func:`robust_mean_bias`: each has ``"estimator"``,
        ``"attack"``, ``"scale"`` and the ``statistic`` key.
    statistic : str, default="normalized_bias"
        Key of the value to summarize; it must be numeric in every row (``byzantine_kept``
        and ``honest_removed`` are None for estimators without ``support_``).

    Returns
    -------
    table : dict of tuple to float
        ``(estimator, attack, scale) -> median``, in order of first appearance.

    See Also
    --------
    format_bias_table : The same medians as plain-text tables.

    Examples
    --------
    >>> from sklearn_robust.experiments import summarize_bias
    >>> rows = [{"estimator": "mean", "attack": "none", "scale": 1.0, "seed": seed,
    ...          "normalized_bias": bias} for seed, bias in enumerate([0.1, 0.3, 0.2])]
    >>> summarize_bias(rows)
    {('mean', 'none', 1.0): 0.2}
    """
    groups = {}
    for row in rows:
        groups.setdefault((row["estimator"], row["attack"], row["scale"]), []).append(
            row[statistic]
        )
    return {key: float(np.median(values)) for key, values in groups.items()}


def format_bias_table(rows, statistic="normalized_bias"):
    """Plain-text tables, one per scale: a line per estimator, a column per attack.

    Cells are the medians over seeds of :func:`summarize_bias`, with three decimals.
    Estimators, attacks and scales appear in the order of ``rows``; a last column ``worst``
    is each estimator's largest median over the attacks (``"none"`` left out), what an
    adversary who picks the attack gets.

    Parameters
    ----------
    rows : list of dict
        Records as returned by :func:`robust_mean_bias`; every (estimator, attack, scale)
        combination must be present.
    statistic : str, default="normalized_bias"
        Key of the value to tabulate (see :func:`summarize_bias`).

    Returns
    -------
    text : str
        The tables, separated by blank lines.

    See Also
    --------
    summarize_bias : The medians as a dict.

    Examples
    --------
    >>> from sklearn_robust.experiments import format_bias_table
    >>> rows = [{"estimator": name, "attack": "none", "scale": 1.0, "seed": 0,
    ...          "normalized_bias": bias} for name, bias in [("mean", 0.2), ("median", 0.05)]]
    >>> print(format_bias_table(rows))
    per-coordinate scale 1
    estimator   none
    ---------  -----
    mean       0.200
    median     0.050
    """
    table = summarize_bias(rows, statistic)
    estimators = list(dict.fromkeys(row["estimator"] for row in rows))
    attacks = list(dict.fromkeys(row["attack"] for row in rows))
    attacked = [attack for attack in attacks if attack != "none"]
    blocks = []
    for scale in dict.fromkeys(row["scale"] for row in rows):
        head = ["estimator"] + attacks + (["worst"] if attacked else [])
        body = []
        for name in estimators:
            cells = [table[(name, attack, scale)] for attack in attacks]
            if attacked:
                cells.append(max(table[(name, attack, scale)] for attack in attacked))
            body.append([name] + [f"{cell:.3f}" for cell in cells])
        widths = [max(len(line[i]) for line in [head] + body) for i in range(len(head))]

        def fmt(line, widths=widths):
            cells = (c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(line, widths)))
            return "  ".join(cells)

        lines = [f"per-coordinate scale {scale:g}", fmt(head), fmt(["-" * w for w in widths])]
        blocks.append("\n".join(lines + [fmt(b) for b in body]))
    return "\n\n".join(blocks)


def plot_bias_heatmap(rows, scale=None, *, statistic="normalized_bias", ax=None):
    """Heat map of the median bias: a row per estimator, a column per attack, plus the worst.

    The cells are the medians over seeds of :func:`summarize_bias`, written in each cell;
    the colour is on a log scale (values below 0.01 get the lightest colour), so that 0.2
    and 2 differ as much as 2 and 20. The last column, after a white line, is each
    estimator's worst attack (``"none"`` left out).

    Parameters
    ----------
    rows : list of dict
        Records as returned by :func:`robust_mean_bias`; every (estimator, attack) must be
        present at ``scale``.
    scale : float, default=None
        Per-coordinate scale to plot; None takes the first scale of ``rows``.
    statistic : str, default="normalized_bias"
        Key of the value to plot (see :func:`summarize_bias`).
    ax : matplotlib Axes, default=None
        Axes to draw on; a new figure when None.

    Returns
    -------
    ax : matplotlib Axes
        The axes, with the heat map, its colour bar, labelled axes and a title naming the
        scale and the number of seeds.

    See Also
    --------
    format_bias_table : The same medians as text.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn_robust.experiments import plot_bias_heatmap
    >>> rows = [{"estimator": name, "attack": attack, "scale": 1.0, "seed": 0,
    ...          "normalized_bias": bias}
    ...         for name, attack, bias in [("mean", "none", 0.0), ("mean", "IPM", 1.8),
    ...                                    ("median", "none", 0.7), ("median", "IPM", 2.5)]]
    >>> ax = plot_bias_heatmap(rows)
    >>> [label.get_text() for label in ax.get_xticklabels()]
    ['no attack', 'IPM', 'worst attack']
    """
    import matplotlib.pyplot as plt
    from matplotlib.colors import LogNorm

    scales = list(dict.fromkeys(row["scale"] for row in rows))
    if not scales:
        raise ValueError("rows is empty; pass the records returned by robust_mean_bias.")
    scale = scales[0] if scale is None else scale
    if scale not in scales:
        raise ValueError(f"scale={scale!r} is not in rows; the scales are {scales}.")
    rows = [row for row in rows if row["scale"] == scale]
    table = summarize_bias(rows, statistic)
    estimators = list(dict.fromkeys(row["estimator"] for row in rows))
    attacks = list(dict.fromkeys(row["attack"] for row in rows))
    attacked = [attack for attack in attacks if attack != "none"]
    columns = attacks + (["worst"] if attacked else [])
    values = np.array(
        [
            [table[(name, attack, scale)] for attack in attacks]
            + ([max(table[(name, attack, scale)] for attack in attacked)] if attacked else [])
            for name in estimators
        ]
    )
    n_seeds = len({row["seed"] for row in rows})

    if ax is None:
        _, ax = plt.subplots(figsize=(1.0 * len(columns) + 3.5, 0.45 * len(estimators) + 2))
    norm = LogNorm(vmin=1e-2, vmax=max(float(np.nanmax(values)), 1.0))
    image = ax.imshow(np.clip(values, 1e-2, None), cmap="YlOrRd", norm=norm, aspect="auto")
    for (i, j), value in np.ndenumerate(values):
        dark = norm(max(value, 1e-2)) > 0.6
        ax.text(j, i, f"{value:.2f}" if value < 10 else f"{value:.1f}", ha="center",
                va="center", fontsize=8, color="white" if dark else "black")
    if attacked:
        ax.axvline(len(attacks) - 0.5, color="white", linewidth=3)
    names = {"none": "no attack", "worst": "worst attack"}
    ax.set_xticks(range(len(columns)))
    ax.set_xticklabels([names.get(c, c) for c in columns], rotation=35, ha="right")
    ax.set_yticks(range(len(estimators)))
    ax.set_yticklabels(estimators)
    ax.set_xlabel("poisoning attack")
    ax.set_ylabel("robust mean")
    label = statistic.replace("_", " ")
    ax.figure.colorbar(image, ax=ax, label=f"median {label} (log scale; lower is better)")
    ax.set_title(
        f"Median {label} over {n_seeds} seed{'s' * (n_seeds > 1)}, per-coordinate scale "
        f"{scale:g}"
    )
    return ax
