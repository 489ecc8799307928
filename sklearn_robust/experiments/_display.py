"""Plots of experiment results, in scikit-learn's Display pattern."""

import numpy as np

from sklearn_robust.experiments._summary import mean_std

_X_LABELS = {
    "amplification": "flip amplification",
    "n_attacked_agents": "number of attacked agents",
    "attack": "attack",
}


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
            _, ax = plt.subplots(figsize=(7, 4.5))
        categories = None
        for x, _, _ in self.curves.values():
            if len(x) and isinstance(x[0], str):
                categories = list(dict.fromkeys(
                    [*(categories or []), *x]
                ))
        self.lines_ = {}
        for name, (x, mean, std) in self.curves.items():
            positions = [categories.index(v) for v in x] if categories else np.asarray(x, float)
            self.lines_[name] = ax.errorbar(
                positions, mean, yerr=std, marker="o", capsize=3, label=name
            )
        if categories:
            ax.set_xticks(range(len(categories)))
            ax.set_xticklabels(categories, rotation=20, ha="right", fontsize="small")
        ax.set_xlabel(self.x_label)
        ax.set_ylabel("accuracy (%)")
        ax.set_ylim(-2, 102)
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
        if self.title is not None:
            ax.set_title(self.title)
        self.ax_ = ax
        self.figure_ = ax.figure
        return self

    @classmethod
    def from_results(cls, frame, *, x="amplification", experiment=None, ax=None, title=None):
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
            Title; None names the experiment.

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
        title = f"CoPur {experiment}: accuracy under attack" if title is None else title
        return cls(curves=curves, x_label=_X_LABELS[x], title=title).plot(ax=ax)
