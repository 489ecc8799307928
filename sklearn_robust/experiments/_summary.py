"""Mean ± standard deviation over seeds: the one convention of every table of the library."""

import math

import numpy as np


def mean_std(values):
    """Mean and sample standard deviation (``ddof=1``) of one result over seeds.

    Every "mean ± std over seeds" that the library prints or plots (the command line's
    tables, the benchmarks' tables) uses this convention: the *sample* standard deviation
    ``sqrt(sum((x - mean) ** 2) / (n - 1))``, the default of pandas' ``Series.std`` and of
    R's ``sd``, which estimates how much the result varies from one seed to the next. With a
    single value it is NaN: one seed says nothing about the spread (``numpy.std``'s default
    ``ddof=0`` would print 0 there and shrinks the spread of 3 seeds by a factor 0.82).
    NaN values (a metric undefined for a run) are left out.

    Parameters
    ----------
    values : array-like of float
        One result per seed.

    Returns
    -------
    mean : float
        Mean of the non-NaN values; NaN if there is none.
    std : float
        Their sample standard deviation (``ddof=1``); NaN with fewer than two.

    See Also
    --------
    format_mean_std : The pair as table text.

    Examples
    --------
    >>> from sklearn_robust.experiments import mean_std
    >>> mean_std([90.0, 92.0, 94.0])
    (92.0, 2.0)
    >>> mean_std([90.0])
    (90.0, nan)
    """
    array = np.asarray(values, dtype=np.float64).ravel()
    array = array[~np.isnan(array)]
    mean = float(array.mean()) if array.size else math.nan
    std = float(array.std(ddof=1)) if array.size > 1 else math.nan
    return mean, std


def format_mean_std(mean, std, decimals=1):
    """Table text of a mean and its standard deviation over seeds: ``"92.0 ± 2.0"``.

    Parameters
    ----------
    mean : float
        The mean; NaN gives ``"-"`` (no result).
    std : float
        The sample standard deviation of :func:`mean_std`; NaN (a single seed) gives the
        mean alone.
    decimals : int, default=1
        Decimals of both numbers.

    Returns
    -------
    text : str
        ``"<mean> ± <std>"``, ``"<mean>"`` or ``"-"``.

    See Also
    --------
    mean_std : The convention (sample standard deviation, ``ddof=1``).

    Examples
    --------
    >>> from sklearn_robust.experiments import format_mean_std, mean_std
    >>> format_mean_std(*mean_std([90.0, 92.0, 94.0]))
    '92.0 ± 2.0'
    >>> format_mean_std(*mean_std([0.5]), decimals=2)
    '0.50'
    """
    if math.isnan(mean):
        return "-"
    if math.isnan(std):
        return f"{mean:.{decimals}f}"
    return f"{mean:.{decimals}f} ± {std:.{decimals}f}"
