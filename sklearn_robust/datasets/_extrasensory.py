"""Loader of one user's ExtraSensory file, its sensors as the agents of the CoPur paper."""

import os

import numpy as np
from sklearn.utils import Bunch
from sklearn.utils._param_validation import StrOptions, validate_params

from sklearn_robust.datasets._base import (
    _as_float_matrix,
    _check_file,
    _check_pandas,
    _frame_bunch_parts,
    _reading,
)

# (agent name, column prefixes, number of columns in the official files), in the order of
# the official files. Phone state is the ``discrete:`` columns *outside* time of day.
_SENSOR_GROUPS = (
    ("accelerometer", ("raw_acc:",), 26),
    ("gyroscope", ("proc_gyro:",), 26),
    ("magnetometer", ("raw_magnet:",), 31),
    ("watch_accelerometer", ("watch_acceleration:",), 46),
    ("compass", ("watch_heading:",), 9),
    ("location", ("location:", "location_quick_features:"), 17),
    ("audio", ("audio_naive:", "audio_properties:"), 28),
    ("phone_state", ("discrete:",), 26),
    ("environment", ("lf_measurements:",), 8),
    ("time_of_day", ("discrete:time_of_day:",), 8),
)
_TIME_OF_DAY_PREFIX = "discrete:time_of_day:"
# The CoPur authors' scripts cut the first 221 sensor columns at these widths.
_PAPER_WIDTHS = (26, 26, 31, 46, 9, 17, 28, 26, 4, 8)
_FILE_HINT = (
    "Pass one user's '<UUID>.features_labels.csv' (or '.csv.gz') file from the ExtraSensory "
    "dataset (ExtraSensory.per_uuid_features_labels.zip)."
)


def _group_of(column):
    """Index in ``_SENSOR_GROUPS`` of a feature column, or None for other columns."""
    if column.startswith(_TIME_OF_DAY_PREFIX):
        return len(_SENSOR_GROUPS) - 1
    for index, (_, prefixes, _) in enumerate(_SENSOR_GROUPS[:-1]):
        if column.startswith(prefixes):
            return index
    return None


def _sensor_columns(columns, path):
    """Columns of each sensor group (file order within a group); clear error if any is off."""
    groups = [[] for _ in _SENSOR_GROUPS]
    for column in columns:
        index = _group_of(column)
        if index is not None:
            groups[index].append(column)
    problems = []
    for (name, prefixes, expected), found in zip(_SENSOR_GROUPS, groups):
        shown = " + ".join(repr(p) for p in prefixes)
        if name == "phone_state":
            shown += f" (not {_TIME_OF_DAY_PREFIX!r})"
        if not found:
            problems.append(f"{name}: no column starts with {shown}")
        elif len(found) != expected:
            problems.append(f"{name}: {len(found)} columns start with {shown}, expected {expected}")
    if problems:
        raise ValueError(
            f"{os.fspath(path)!r} does not have the sensor columns of an ExtraSensory "
            "features_labels file: " + "; ".join(problems) + f". {_FILE_HINT}"
        )
    return groups


def _numeric(pd, df, columns, path):
    """``df[columns]`` as float64; a ValueError naming the file and the columns if not numbers."""
    try:
        return df[columns].to_numpy(dtype=np.float64)
    except (TypeError, ValueError):
        bad = [
            column for column in columns
            if pd.to_numeric(df[column], errors="coerce").isna().sum() > df[column].isna().sum()
        ]
        raise ValueError(
            f"{os.fspath(path)!r}: columns {bad[:5]} hold values that are not numbers (e.g. "
            f"{df[bad[0]][pd.to_numeric(df[bad[0]], errors='coerce').isna()].iloc[0]!r} in "
            f"{bad[0]!r}); an ExtraSensory file holds numbers, empty fields or 'nan' there. "
            f"{_FILE_HINT}"
        ) from None


@validate_params(
    {
        "path": [str, os.PathLike],
        "label": [str],
        "layout": [StrOptions({"paper", "sensor"})],
        "return_X_y": ["boolean"],
        "as_frame": ["boolean"],
        "dropna_label": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def load_extrasensory(
    path,
    *,
    label="SITTING",
    layout="paper",
    return_X_y=False,
    as_frame=False,
    dropna_label=True,
):
    """Load one user's ExtraSensory data, with the phone and watch sensors as agents.

    Reads one per-user file of the ExtraSensory dataset (Vaizman et al.), as used by the
    CoPur paper: ``<UUID>.features_labels.csv`` or ``.csv.gz`` from
    ``ExtraSensory.per_uuid_features_labels.zip`` (compression is inferred from the name).
    Such a file has one row per minute: a ``timestamp`` column, 225 sensor features, the
    ``label:<NAME>`` columns (1, 0 or empty when the user did not report) and
    ``label_source``.

    The sensor features form ten groups, recognised by their column prefixes (counts are
    those of the official files and are checked):

    ====================  ================================================  =======
    agent                 columns                                            count
    ====================  ================================================  =======
    accelerometer         ``raw_acc:``                                       26
    gyroscope             ``proc_gyro:``                                     26
    magnetometer          ``raw_magnet:``                                    31
    watch_accelerometer   ``watch_acceleration:``                            46
    compass               ``watch_heading:``                                 9
    location              ``location:`` + ``location_quick_features:``       11 + 6
    audio                 ``audio_naive:`` + ``audio_properties:``           26 + 2
    phone_state           ``discrete:`` except ``discrete:time_of_day:``     26
    environment           ``lf_measurements:``                               8
    time_of_day           ``discrete:time_of_day:``                          8
    ====================  ================================================  =======

    The columns of ``data`` are the groups one after the other in that order (within a
    group, in file order -- which is the official files' own order), so every agent is a
    consecutive block and ``blocks`` is a list of widths.

    Parameters
    ----------
    path : str or path-like
        Path of one user's ``<UUID>.features_labels.csv`` or ``.csv.gz`` file.
    label : str, default="SITTING"
        Target label, with or without its ``label:`` prefix. The target is binary: 1 when
        the user reported it, 0 when they reported its absence.
    layout : {"paper", "sensor"}, default="paper"
        How the sensor columns are cut into agents:

        * ``"paper"``: the ten agents of the CoPur paper, of widths 26, 26, 31, 46, 9, 17,
          28, 26, 4, 8 (221 columns). The authors' scripts cut the first 221 of the 225
          columns at those widths, so the first eight agents are the sensors above, agent
          9 ("environment") holds ``lf_measurements:`` light, pressure, proximity_cm and
          proximity, agent 10 ("time_of_day") holds the other four ``lf_measurements:``
          (relative_humidity, battery_level, screen_brightness, temperature_ambient) and
          the first four ``discrete:time_of_day:`` columns, and the last four time-of-day
          columns are dropped. This reproduces the paper's inputs exactly.
        * ``"sensor"``: one agent per sensor group of the table above, widths 26, 26, 31,
          46, 9, 17, 28, 26, 8, 8 (all 225 columns).
    return_X_y : bool, default=False
        If True, return ``(data, target)`` instead of a Bunch.
    as_frame : bool, default=False
        If True, ``data`` is a DataFrame with the feature names as columns, ``target`` a
        Series and ``frame`` a DataFrame holding both.
    dropna_label : bool, default=True
        Drop the rows where ``label`` was not reported (NaN), making ``target`` an int
        array. If False they are kept and ``target`` is float with NaN there.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with attributes:

        data : {ndarray, DataFrame} of shape (n_samples, 221) or (n_samples, 225)
            Sensor features (float64) as in the file, NaN where a sensor was unavailable.
        target : {ndarray, Series} of shape (n_samples,)
            The label (int 0/1; float with NaN if ``dropna_label=False``).
        frame : DataFrame or None
            ``data`` and ``target`` together when ``as_frame=True``.
        blocks : list of int
            Agents' block widths, usable as the ``blocks`` parameter of block-aware objects.
        agent_names : list of str
            Name of each agent (see the table above).
        feature_names : list of str
            Column names of ``data``, in output order.
        target_names : ndarray of shape (2,)
            ``["not <label>", "<label>"]``.
        timestamp : ndarray of shape (n_samples,)
            The rows' timestamps (Unix seconds).
        label : str
            The label column used, e.g. ``"label:SITTING"``.
        DESCR : str
            A short description.

    (data, target) : tuple if ``return_X_y`` is True
        As described above.

    Raises
    ------
    FileNotFoundError
        If ``path`` is not a file.
    ValueError
        If the file cannot be read as a CSV file (not text, ragged rows, a '.gz' name on a
        file that is not gzip-compressed, the zip archive itself: the message names the
        file and what to pass), if a sensor group is absent or has an unexpected number of
        columns (naming the prefixes), if ``timestamp`` is absent, if ``label`` is not a
        column (listing the label columns available), or if a feature or the label holds
        values that are not numbers.

    See Also
    --------
    load_nus_wide : The paper's other real dataset.

    Notes
    -----
    **Missing sensors are missing agents.** The files hold NaN where a sensor did not
    record (the watch was not worn, location was off, ...); they are kept as NaN, and in
    this library a block containing NaN is a *missing* agent for that row, which the
    purifiers handle by leaving it out of the data term. A sensor that never reports one
    of its features on a given phone (``lf_measurements:temperature_ambient`` and
    ``relative_humidity`` are absent on many phones) therefore makes its whole block
    missing in every row; impute such columns first if that agent should be used.

    Features are returned raw. The CoPur authors standardised every column with its mean
    and standard deviation over the training rows (NaN ignored), set the remaining NaN to
    0 (the mean), trained on the first 2500 rows and tested on the rest; a
    :class:`~sklearn.preprocessing.StandardScaler` (which ignores NaN when fitting) does
    the first step.

    References
    ----------
    Y. Vaizman, K. Ellis and G. Lanckriet, "Recognizing Detailed Human Context In-the-Wild
    from Smartphones and Smartwatches", IEEE Pervasive Computing, 2017.

    Examples
    --------
    >>> from sklearn_robust.datasets import load_extrasensory
    >>> path = "ExtraSensory/00EABED2-271D-49D8-B599-1D4A09240601.features_labels.csv.gz"
    >>> ds = load_extrasensory(path)  # doctest: +SKIP
    >>> ds.blocks  # doctest: +SKIP
    [26, 26, 31, 46, 9, 17, 28, 26, 4, 8]
    >>> ds.agent_names[-1], ds.target_names  # doctest: +SKIP
    ('time_of_day', array(['not SITTING', 'SITTING'], dtype='<U11'))
    >>> X, y = load_extrasensory(path, layout="sensor", return_X_y=True)  # doctest: +SKIP
    >>> X.shape[1]  # doctest: +SKIP
    225
    """
    pd = _check_pandas("load_extrasensory")
    _check_file(path, "ExtraSensory user file", _FILE_HINT)
    with _reading(path, "an ExtraSensory features_labels file", _FILE_HINT):
        df = pd.read_csv(path)
    columns = [str(c) for c in df.columns]
    if "timestamp" not in columns:
        raise ValueError(
            f"{os.fspath(path)!r} has no 'timestamp' column (its first columns are "
            f"{columns[:3]}); it is not an ExtraSensory features_labels file. {_FILE_HINT}"
        )
    label_column = label if label.startswith("label:") else f"label:{label}"
    if label_column not in columns:
        available = [c for c in columns if c.startswith("label:")]
        raise ValueError(
            f"label={label!r}: there is no column {label_column!r} in {os.fspath(path)!r}. "
            f"Available label columns: {available}."
        )
    groups = _sensor_columns(columns, path)

    names = [name for name, _, _ in _SENSOR_GROUPS]
    feature_names = [column for group in groups for column in group]
    if layout == "paper":
        widths = list(_PAPER_WIDTHS)
        feature_names = feature_names[: sum(widths)]
    else:
        widths = [len(group) for group in groups]

    target = _numeric(pd, df, [label_column], path)[:, 0]
    unexpected = np.setdiff1d(target[~np.isnan(target)], [0.0, 1.0])
    if unexpected.size:
        raise ValueError(
            f"{label_column!r} must hold 1, 0 or NaN; found values {unexpected[:5].tolist()}."
        )
    keep = ~np.isnan(target) if dropna_label else np.ones(target.shape, dtype=bool)
    data = _as_float_matrix(_numeric(pd, df.loc[keep], feature_names, path))
    target = target[keep].astype(np.int64) if dropna_label else target[keep]
    timestamp = df["timestamp"].to_numpy()[keep]
    short = label_column[len("label:") :]
    descr = (
        f"ExtraSensory, one user ({os.path.basename(os.fspath(path))}): {data.shape[0]} "
        f"rows, label {short!r}, {len(widths)} agents ({layout} layout) of widths {widths}. "
        "NaN marks features a sensor did not record; a block holding NaN is a missing agent."
    )

    frame = None
    if as_frame:
        frame, data, target = _frame_bunch_parts(
            "load_extrasensory", data, target, feature_names, short
        )
    if return_X_y:
        return data, target
    return Bunch(
        data=data,
        target=target,
        frame=frame,
        blocks=widths,
        agent_names=names,
        feature_names=feature_names,
        target_names=np.array([f"not {short}", short]),
        timestamp=timestamp,
        label=label_column,
        DESCR=descr,
    )
