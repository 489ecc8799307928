"""Plots of experiment results, in scikit-learn's Display pattern."""

import numpy as np

from sklearn_robust.experiments._summary import mean_std

_X_LABELS = {
    "amplification": "flip amplification",
    "n_attacked_agents": "number of attacked agents",
    "attack": "attack",
}
# What each experiment of copur_comparison does, for the default title.
_EXPERIMENT_TITLES = {
    "table1": "no attack and targeted PGD",
    "table2": "first agent missing, alone and with targeted PGD",
    "figure2a": "flip attack",
    "figure2b": "first agent missing and flip attack",
    "figure3": "flip x10 on more and more agents",
    "adaptive": "adaptive attacks",
}
# Markers and line styles cycle separately from the colours, so that curves stay apart in
# grey scale and where markers overlap.
_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "<", ">")
_LINESTYLES = ("-", "--", "-.", ":")


class RobustnessCurveDisplay:
    """Accuracy under attack against the attack's strength, one line per defense.

    Build it with :meth:`from_results` from the output of
    :func:`~sklearn_robust.experiments.copur_comparison`; the constructor takes the curves
    already reduced over seeds. matplotlib (the ``plot`` extra) is imported when plotting.

    Parameters
    ----------
    curves : dict of str to tuple of array-like
        ``{defense: (x, accuracy_mean, accuracy_std)}``; ``x`` is numeric, or strings for
        categorical values (attacks), placed at 0, 1, 2, ... with their names as ticks.
    x_label : str
        Label of the x axis.
    title : str, default=None
        Title of the axes.

    Attributes
    ----------
    ax_ : matplotlib Axes
        The axes drawn on.
    figure_ : matplotlib Figure
        The figure holding ``ax_``.
    lines_ : dict of str to matplotlib container
        The error-bar container of each defense, by name.

    See Also
    --------
    sklearn_robust.experiments.copur_comparison : The results it plots.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn_robust.experiments import RobustnessCurveDisplay
    >>> display = RobustnessCurveDisplay(
    ...     curves={"CoPur": ([1, 10], [90, 85], [1, 2]), "none": ([1, 10], [80, 5], [2, 1])},
    ...     x_label="flip amplification").plot()
    >>> sorted(display.lines_)
    ['CoPur', 'none']
    """

    def __init__(self, *, curves, x_label, title=None):
        self.curves = curves
        self.x_label = x_label
        self.title = title

    def plot(self, ax=None):
        """Draw the curves.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to draw on; None makes a new figure.

        Returns
        -------
        display : RobustnessCurveDisplay
            ``self``, with ``ax_``, ``figure_`` and ``lines_`` set.
        """
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(9, 4.5))
        categories = None
        for x, _, _ in self.curves.values():
            if len(x) and isinstance(x[0], str):
                categories = list(dict.fromkeys(
                    [*(categories or []), *x]
                ))
        ticks = sorted({float(v) for x, _, _ in self.curves.values() for v in x}) if not (
            categories) else list(range(len(categories)))
        # Dodge: each curve is shifted sideways by a small fraction of the smallest gap
        # between x values, so that equal points and their error bars stay visible.
        gaps = np.diff(ticks) if len(ticks) > 1 else np.array([1.0])
        width = 0.35 * float(gaps.min()) if gaps.size else 0.35
        n_curves = max(len(self.curves), 1)
        self.lines_ = {}
        for i, (name, (x, mean, std)) in enumerate(self.curves.items()):
            positions = (
                np.asarray([categories.index(v) for v in x], float) if categories
                else np.asarray(x, float)
            )
            offset = width * ((i + 0.5) / n_curves - 0.5) if n_curves > 1 else 0.0
            self.lines_[name] = ax.errorbar(
                positions + offset, mean, yerr=std, capsize=3, label=name,
                marker=_MARKERS[i % len(_MARKERS)], markersize=5,
                # Categories (attacks) are not an axis along which to interpolate.
                linestyle="none" if categories else _LINESTYLES[i % len(_LINESTYLES)],
                zorder=3 + n_curves - i,
            )
        ax.set_xticks(ticks)
        if categories:
            ax.set_xticklabels(categories, rotation=20, ha="right", fontsize="small")
        else:
            ax.set_xticklabels([f"{t:g}" for t in ticks])
        ax.set_xlabel(self.x_label)
        ax.set_ylabel("accuracy (%)")
        ax.set_ylim(-2, 102)
        ax.grid(alpha=0.3)
        # Outside the axes: a legend never sits on the data.
        ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0),
                  borderaxespad=0.0)
        if self.title is not None:
            ax.set_title(self.title, fontsize="medium")
        self.ax_ = ax
        self.figure_ = ax.figure
        return self

    @classmethod
    def from_results(
        cls, frame, *, x="amplification", experiment=None, ax=None, title=None, dataset=None
    ):
        """Plot the accuracy of each defense against ``x`` from experiment results.

        Parameters
        ----------
        frame : pandas.DataFrame
            The output of :func:`~sklearn_robust.experiments.copur_comparison`.
        x : {"amplification", "n_attacked_agents", "attack"}, default="amplification"
            The x axis: the flip amplification (Figures 2a and 2b), the number of attacked
            agents (Figure 3, counted from the ``agents`` column) or the attack itself (the
            tables, one tick per attack).
        experiment : str, default=None
            Keep the rows of this experiment; None needs ``frame`` to hold one experiment.
        ax : matplotlib Axes, default=None
            Axes to draw on; None makes a new figure.
        title : str, default=None
            Title; None describes the experiment: its attack, the attacked agents, the
            dataset (when given) and what the error bars are.
        dataset : str, default=None
            Name of the dataset, for the default title.

        Returns
        -------
        display : RobustnessCurveDisplay
            The drawn display.

        Examples
        --------
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> import pandas as pd
        >>> from sklearn_robust.experiments import RobustnessCurveDisplay
        >>> frame = pd.DataFrame({"experiment": "figure2a", "defense": ["CoPur", "none"] * 2,
        ...     "attack": "flip", "agents": "3", "amplification": [1.0, 1.0, 10.0, 10.0],
        ...     "seed": 0, "accuracy": [90.0, 80.0, 85.0, 5.0],
        ...     "attack_success_rate": float("nan")})
        >>> display = RobustnessCurveDisplay.from_results(frame, x="amplification")
        >>> display.ax_.get_xlabel()
        'flip amplification'
        """
        if x not in _X_LABELS:
            raise ValueError(
                f"x must be one of {sorted(_X_LABELS)}; got {x!r}."
            )
        experiments = list(dict.fromkeys(frame["experiment"]))
        if experiment is None:
            if len(experiments) != 1:
                raise ValueError(
                    f"frame holds the experiments {experiments}; pass experiment= to pick one."
                )
            experiment = experiments[0]
        part = frame[frame["experiment"] == experiment]
        if part.empty:
            raise ValueError(
                f"experiment={experiment!r} has no rows; frame holds {experiments}."
            )
        part = part.assign(
            n_attacked_agents=part["agents"].astype(str).str.split(",").str.len()
        )
        if x != "attack" and part[x].isna().all():
            raise ValueError(
                f"x={x!r} is undefined for the rows of experiment {experiment!r}; use "
                "x='attack' for the tables."
            )
        curves = {}
        for name, rows in part.groupby("defense", sort=False):
            stats = rows.groupby(x, sort=x != "attack")["accuracy"].agg(
                ["mean", lambda s: mean_std(s)[1]]  # sample std, ddof=1
            )
            values = list(stats.index)
            curves[name] = (values, stats.iloc[:, 0].to_numpy(), stats.iloc[:, 1].to_numpy())
        if title is None:
            agents = sorted({str(a) for a in part["agents"].dropna()})
            n_seeds = part["seed"].nunique() if "seed" in part else 1
            what = _EXPERIMENT_TITLES.get(experiment, experiment)
            where = f" on {dataset}" if dataset else ""
            attacked = (
                f"; attacked agents: {' / '.join(agents)}" if agents and x != "n_attacked_agents"
                else ""
            )
            bars = (f"error bars: \u00b11 sample std over {n_seeds} seeds" if n_seeds > 1
                    else "one seed, no error bars")
            title = f"{experiment}{where}: {what}{attacked}\n{bars}"
        return cls(curves=curves, x_label=_X_LABELS[x], title=title).plot(ax=ax)
