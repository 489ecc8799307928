"""Loader of NUS-WIDE from its official files: image and tag features split into 4 agents."""

import numbers
import os

import numpy as np
from sklearn.utils import Bunch
from sklearn.utils._param_validation import Interval, StrOptions, validate_params

from sklearn_robust.datasets._base import _check_pandas, _frame_bunch_parts, _reading

# Low-level image features in the column order of the CoPur authors' scripts (which the
# 360 | 274 split of the paper refers to), with their widths.
_IMAGE_FEATURES = (("CM55", 225), ("CH", 64), ("EDH", 73), ("CORR", 144), ("WT", 128))
_N_TAGS = 1000
_BLOCKS = [360, 274, 500, 500]
_AGENT_NAMES = ["image_1", "image_2", "tags_1", "tags_2"]
_FEATURE_DIRS = (("Low_Level_Features",), ("NUS_WID_Low_Level_Features", "Low_Level_Features"))
_CHUNK_ROWS = 20_000  # rows parsed at a time: memory stays near the size of the output

_LAYOUT_DOC = """\
    <path>/
        Low_Level_Features/          (or NUS_WID_Low_Level_Features/Low_Level_Features/)
            Train_Normalized_CH.dat    Test_Normalized_CH.dat      64 columns
            Train_Normalized_CM55.dat  Test_Normalized_CM55.dat   225 columns
            Train_Normalized_CORR.dat  Test_Normalized_CORR.dat   144 columns
            Train_Normalized_EDH.dat   Test_Normalized_EDH.dat     73 columns
            Train_Normalized_WT.dat    Test_Normalized_WT.dat     128 columns
        NUS_WID_Tags/
            Train_Tags1k.dat           Test_Tags1k.dat           1000 columns
        Groundtruth/TrainTestLabels/
            Labels_<concept>_Train.txt Labels_<concept>_Test.txt  one 0/1 per line
"""


def _find_feature_file(path, subset_title, feature):
    """Path of a low-level feature file, or the name it should have when none exists."""
    names = (f"{subset_title}_Normalized_{feature}.dat", f"{subset_title}_{feature}.dat")
    for parts in _FEATURE_DIRS:
        for name in names:
            candidate = os.path.join(path, *parts, name)
            if os.path.isfile(candidate):
                return candidate, None
    return None, os.path.join(*_FEATURE_DIRS[0], names[0])


def _locate_files(path, subset_title, classes):
    """All the files a load needs; FileNotFoundError listing every missing one."""
    missing = []
    image_files = []
    for feature, _ in _IMAGE_FEATURES:
        found, expected = _find_feature_file(path, subset_title, feature)
        image_files.append(found)
        if found is None:
            missing.append(expected)
    tag_file = os.path.join(path, "NUS_WID_Tags", f"{subset_title}_Tags1k.dat")
    if not os.path.isfile(tag_file):
        missing.append(os.path.relpath(tag_file, path))
    label_files = [
        os.path.join(path, "Groundtruth", "TrainTestLabels", f"Labels_{c}_{subset_title}.txt")
        for c in classes
    ]
    missing += [os.path.relpath(f, path) for f in label_files if not os.path.isfile(f)]
    if missing:
        raise FileNotFoundError(
            f"NUS-WIDE files missing under {os.fspath(path)!r}: {missing}. The directory "
            "should hold the official NUS-WIDE downloads (low-level features, tags, ground "
            "truth) laid out as\n" + _LAYOUT_DOC
        )
    return image_files, tag_file, label_files


_LABEL_HINT = (
    "A label file of NUS-WIDE (Groundtruth/TrainTestLabels/Labels_<concept>_<Split>.txt) "
    "holds one 0 or 1 per line."
)
_FEATURE_HINT = (
    "Feature and tag files of NUS-WIDE hold whitespace-separated numbers, one image per "
    "line; check that the directory holds the official, unzipped downloads laid out as\n"
    + _LAYOUT_DOC
)


def _read_labels(files):
    """``(n_images, n_classes)`` 0/1 matrix from one label file per class."""
    columns = []
    for file in files:
        with _reading(file, "a NUS-WIDE label file", _LABEL_HINT):
            columns.append(np.loadtxt(file, dtype=np.float64, ndmin=1))
    wide = [os.path.basename(f) for f, c in zip(files, columns) if c.ndim != 1]
    if wide:
        raise ValueError(
            f"NUS-WIDE label files must hold one 0/1 value per line; {wide} have several "
            f"values per line. {_LABEL_HINT}"
        )
    lengths = {os.path.basename(f): c.shape[0] for f, c in zip(files, columns)}
    if len(set(lengths.values())) > 1:
        raise ValueError(
            "NUS-WIDE label files must hold one 0/1 value per line and the same number of "
            f"lines; got line counts {lengths}."
        )
    return np.column_stack(columns)


def _read_rows(pd, file, rows, width):
    """Rows ``rows`` (sorted) of a whitespace-separated numeric file of ``width`` columns."""
    n_needed = int(rows[-1]) + 1
    out = np.empty((rows.size, width), dtype=np.float64)
    start = filled = 0
    what = f"a NUS-WIDE feature file of {width} columns"
    with _reading(file, what, _FEATURE_HINT):
        reader = pd.read_csv(
            file, sep=r"\s+", header=None, nrows=n_needed, chunksize=_CHUNK_ROWS,
            dtype=np.float64,
        )
    with reader:
        while True:
            with _reading(file, what, _FEATURE_HINT):  # parsing happens chunk by chunk
                chunk = next(reader, None)
            if chunk is None:
                break
            values = chunk.to_numpy(dtype=np.float64)
            if values.shape[1] > width and np.isnan(values[:, width:]).all():
                values = values[:, :width]  # empty trailing fields
            if values.shape[1] != width:
                raise ValueError(
                    f"{file!r} should have {width} columns per row; found {values.shape[1]}. "
                    "Is it the right NUS-WIDE file?"
                )
            stop = start + values.shape[0]
            selected = rows[filled:][rows[filled:] < stop]
            out[filled : filled + selected.size] = values[selected - start]
            filled += selected.size
            start = stop
    if start < n_needed:
        raise ValueError(
            f"{file!r} has {start} rows, but the label files describe at least {n_needed} "
            "images; the feature, tag and label files must come from the same split."
        )
    return out


@validate_params(
    {
        "path": [str, os.PathLike],
        "subset": [StrOptions({"train", "test"})],
        "classes": ["array-like"],
        "n_samples": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "return_X_y": ["boolean"],
        "as_frame": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def load_nus_wide(
    path,
    *,
    subset="train",
    classes=("buildings", "grass", "animal", "water", "person"),
    n_samples=None,
    return_X_y=False,
    as_frame=False,
):
    """Load NUS-WIDE from its official files, split into the CoPur paper's four agents.

    NUS-WIDE (Chua et al.) describes Flickr images by low-level image features and by
    their users' tags. As in the CoPur paper, two agents hold the 634 image features
    (widths 360 and 274) and two hold the 1000 tag indicators (500 and 500), and the task
    is single-label classification among ``classes``.

    The image features are the five official ``Normalized`` low-level descriptors
    concatenated in the order of the authors' scripts: CM55 (225 columns, block-wise
    colour moments), CH (64, colour histogram), EDH (73, edge direction histogram), CORR
    (144, colour auto-correlogram) and WT (128, wavelet texture). Agent ``image_1`` thus
    holds CM55, CH and the first 71 EDH columns, agent ``image_2`` the last 2 EDH columns,
    CORR and WT; ``tags_1`` and ``tags_2`` hold tags 0-499 and 500-999.

    Only images with exactly one of ``classes`` among their ground-truth concepts are kept
    (the paper's single-label setting), in file order.

    Parameters
    ----------
    path : str or path-like
        The NUS-WIDE directory, laid out as the official downloads unpack::

            <path>/
                Low_Level_Features/   (or NUS_WID_Low_Level_Features/Low_Level_Features/)
                    {Train,Test}_Normalized_{CH,CM55,CORR,EDH,WT}.dat
                NUS_WID_Tags/
                    {Train,Test}_Tags1k.dat
                Groundtruth/TrainTestLabels/
                    Labels_<concept>_{Train,Test}.txt

        Feature files are whitespace-separated numbers, one image per line (trailing
        spaces are fine); ``{Train,Test}_<FEATURE>.dat`` without ``Normalized_`` is accepted
        too. Tag files hold 1000 tab- or space-separated 0/1 values per line, label files
        one 0/1 value per line, all in the same image order.
    subset : {"train", "test"}, default="train"
        The official split to read.
    classes : sequence of str, default=("buildings", "grass", "animal", "water", "person")
        Ground-truth concepts (names as in ``Labels_<concept>_Train.txt``); the paper's five
        by default. ``target`` indexes into it.
    n_samples : int, default=None
        Keep only the first ``n_samples`` single-label images (the paper used the first
        60 000 of the training split and 10 000 of the test split); None keeps all.
        Only the lines up to the last image kept are parsed.
    return_X_y : bool, default=False
        If True, return ``(data, target)`` instead of a Bunch.
    as_frame : bool, default=False
        If True, ``data`` is a DataFrame, ``target`` a Series and ``frame`` both together.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with attributes:

        data : {ndarray, DataFrame} of shape (n_samples, 1634)
            634 image features then 1000 tags (float64).
        target : {ndarray, Series} of shape (n_samples,)
            Index of each image's class in ``classes``.
        frame : DataFrame or None
            ``data`` and ``target`` together when ``as_frame=True``.
        blocks : list of int
            ``[360, 274, 500, 500]``, usable as the ``blocks`` parameter of block-aware
            objects.
        agent_names : list of str
            ``["image_1", "image_2", "tags_1", "tags_2"]``.
        feature_names : list of str
            ``"<FEATURE>_<j>"`` for image columns, ``"tag_<j>"`` for tags.
        target_names : ndarray of str
            ``classes``.
        image_index : ndarray of int
            Line of each kept image in the official files of the split.
        DESCR : str
            A short description.

    (data, target) : tuple if ``return_X_y`` is True
        As described above.

    Raises
    ------
    FileNotFoundError
        If ``path`` or any file needed is absent (all missing files are named, with the
        layout the directory should have).
    ValueError
        If ``classes`` is empty or repeats a name, a file cannot be parsed (not text, a
        value that is not a number, ragged lines: the message names the file and the
        expected format), a file has the wrong number of columns, files disagree on the
        number of images, or no image has exactly one of the classes.

    See Also
    --------
    load_extrasensory : The paper's other real dataset.

    References
    ----------
    T.-S. Chua, J. Tang, R. Hong, H. Li, Z. Luo and Y. Zheng, "NUS-WIDE: A Real-World Web
    Image Database from National University of Singapore", CIVR 2009.

    Examples
    --------
    >>> from sklearn_robust.datasets import load_nus_wide
    >>> ds = load_nus_wide("NUS_WIDE", subset="train", n_samples=60_000)  # doctest: +SKIP
    >>> ds.data.shape[1], ds.blocks  # doctest: +SKIP
    (1634, [360, 274, 500, 500])
    >>> list(ds.target_names)  # doctest: +SKIP
    ['buildings', 'grass', 'animal', 'water', 'person']
    """
    pd = _check_pandas("load_nus_wide")
    classes = [classes] if isinstance(classes, str) else list(classes)
    if not classes or not all(isinstance(c, str) and c for c in classes):
        raise ValueError(
            f"classes must be a non-empty list of NUS-WIDE concept names; got {classes!r}."
        )
    repeated = sorted({c for c in classes if classes.count(c) > 1})
    if repeated:
        raise ValueError(f"classes must not repeat a concept; {repeated} appear more than once.")
    if not os.path.isdir(path):
        raise FileNotFoundError(
            f"NUS-WIDE directory not found: {os.fspath(path)!r} is not a directory. Pass the "
            "directory holding the official downloads, laid out as\n" + _LAYOUT_DOC
        )
    subset_title = subset.capitalize()
    image_files, tag_file, label_files = _locate_files(path, subset_title, classes)

    labels = _read_labels(label_files) == 1
    rows = np.flatnonzero(labels.sum(axis=1) == 1)
    if rows.size == 0:
        raise ValueError(
            f"No {subset} image has exactly one of the classes {classes} among its labels; "
            "choose other classes."
        )
    if n_samples is not None:
        rows = rows[:n_samples]
    target = np.argmax(labels[rows], axis=1)

    parts = [
        _read_rows(pd, file, rows, width) for file, (_, width) in zip(image_files, _IMAGE_FEATURES)
    ]
    parts.append(_read_rows(pd, tag_file, rows, _N_TAGS))
    data = np.hstack(parts)
    feature_names = [f"{name}_{j}" for name, width in _IMAGE_FEATURES for j in range(width)]
    feature_names += [f"tag_{j}" for j in range(_N_TAGS)]
    descr = (
        f"NUS-WIDE {subset} split: {data.shape[0]} single-label images of classes {classes}; "
        f"4 agents of widths {_BLOCKS} (image features CM55, CH, EDH, CORR, WT split "
        "360 | 274; 1000 tags split 500 | 500)."
    )

    frame = None
    if as_frame:
        frame, data, target = _frame_bunch_parts(
            "load_nus_wide", data, target, feature_names, "target"
        )
    if return_X_y:
        return data, target
    return Bunch(
        data=data,
        target=target,
        frame=frame,
        blocks=list(_BLOCKS),
        agent_names=list(_AGENT_NAMES),
        feature_names=feature_names,
        target_names=np.array(classes),
        image_index=rows,
        DESCR=descr,
    )
