"""Loaders of MNIST, Fashion-MNIST (IDX files) and CIFAR-10 (python batches) a user has
downloaded. Nothing is downloaded here."""

import gzip
import os
import pickle

import numpy as np
from sklearn.utils import Bunch
from sklearn.utils._param_validation import StrOptions, validate_params

_IDX_DTYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
# File stems of the official MNIST / Fashion-MNIST downloads; ".gz" is optional, and the
# "train-images.idx3-ubyte" spelling of some mirrors is accepted too.
_MNIST_STEMS = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
_FASHION_NAMES = [
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
]
_CIFAR_NAMES = [
    "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
]
_CIFAR_DIR = "cifar-10-batches-py"
_CIFAR_BATCHES = {
    "train": [f"data_batch_{i}" for i in range(1, 6)],
    "test": ["test_batch"],
}


def _read_idx(path):
    """The array stored in one IDX file (optionally gzipped), in its own dtype and shape."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as fh:
        raw = fh.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise ValueError(
            f"{path!r} is not an IDX file: its first bytes are {raw[:4]!r}, expected two zero "
            "bytes, a type code (0x08 for unsigned bytes) and the number of dimensions. Is "
            "it the MNIST file itself (gzipped or not)?"
        )
    dtype, ndim = _IDX_DTYPES[raw[2]], raw[3]
    header = 4 + 4 * ndim
    shape = tuple(int(v) for v in np.frombuffer(raw[4:header], dtype=">u4"))
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(raw) - header != expected:
        raise ValueError(
            f"{path!r} declares shape {shape} ({expected} bytes of data) but holds "
            f"{len(raw) - header} bytes after its header; the file is truncated or corrupt."
        )
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)


def _find_idx(path, stem):
    """The file for ``stem`` under ``path`` (``.gz`` or not, dash or dot spelling), or None."""
    dotted = stem.replace("-idx", ".idx")  # "train-images.idx3-ubyte"
    for name in (stem, stem + ".gz", dotted, dotted + ".gz"):
        candidate = os.path.join(path, name)
        if os.path.isfile(candidate):
            return candidate
    return None


def _load_idx_pair(path, subset, dataset):
    images_stem, labels_stem = _MNIST_STEMS[subset]
    images_file, labels_file = _find_idx(path, images_stem), _find_idx(path, labels_stem)
    missing = [s for s, f in ((images_stem, images_file), (labels_stem, labels_file)) if not f]
    if missing:
        raise FileNotFoundError(
            f"{dataset} files missing under {os.fspath(path)!r}: {missing} (each may end in "
            f"'.gz'). Download the four official IDX files of {dataset} into that folder."
        )
    images, labels = _read_idx(images_file), _read_idx(labels_file)
    if images.ndim != 3 or labels.ndim != 1 or images.shape[0] != labels.shape[0]:
        raise ValueError(
            f"{dataset} {subset} files disagree: images of shape {images.shape} in "
            f"{images_file!r}, labels of shape {labels.shape} in {labels_file!r}; expected "
            "(n, rows, columns) and (n,)."
        )
    return images, labels.astype(np.int64)


def _idx_dataset(path, subset, dataset, target_names):
    if not os.path.isdir(path):
        raise FileNotFoundError(
            f"{dataset} directory not found: {os.fspath(path)!r} is not a directory. Pass the "
            "folder holding the official IDX files (train-images-idx3-ubyte.gz, ...)."
        )
    subsets = ["train", "test"] if subset == "all" else [subset]
    pairs = [_load_idx_pair(path, s, dataset) for s in subsets]
    shapes = {images.shape[1:] for images, _ in pairs}
    if len(shapes) > 1:
        raise ValueError(f"{dataset} train and test images differ in shape: {sorted(shapes)}.")
    images = np.concatenate([images for images, _ in pairs])
    target = np.concatenate([labels for _, labels in pairs])
    image_shape = images.shape[1:]
    data = images.reshape(images.shape[0], -1).astype(np.float32) / np.float32(255.0)
    return Bunch(
        data=data,
        target=target,
        images=images,
        image_shape=(1, *image_shape),
        target_names=np.array(target_names),
        DESCR=(
            f"{dataset} {subset}: {data.shape[0]} images of {image_shape[0]} x "
            f"{image_shape[1]} pixels, flattened row by row and scaled to [0, 1]."
        ),
    )


_LOADER_PARAMS = {
    "path": [str, os.PathLike],
    "subset": [StrOptions({"train", "test", "all"})],
    "return_X_y": ["boolean"],
}


@validate_params(
    {**_LOADER_PARAMS, "kind": [StrOptions({"mnist", "fashion-mnist"})]},
    prefer_skip_nested_validation=True,
)
def load_mnist(path, *, subset="train", kind="mnist", return_X_y=False):
    """Load MNIST or Fashion-MNIST from the IDX files a user has downloaded.

    Reads the official files (``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
    ``t10k-images-idx3-ubyte``, ``t10k-labels-idx1-ubyte``, each gzipped or not) from
    ``path``. Nothing is downloaded. Fashion-MNIST ships files of the same names and format.

    Parameters
    ----------
    path : str or path-like
        Folder holding the IDX files.
    subset : {"train", "test", "all"}, default="train"
        The official training split (60 000 images), the test split (10 000), or both
        (training rows first).
    kind : {"mnist", "fashion-mnist"}, default="mnist"
        Which dataset the files are; it only sets ``target_names`` and ``DESCR``.
    return_X_y : bool, default=False
        If True, return ``(data, target)`` instead of a Bunch.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with attributes:

        data : ndarray of shape (n_samples, 784), dtype float32
            Pixels flattened row by row, scaled to [0, 1].
        target : ndarray of shape (n_samples,), dtype int64
            Labels 0-9.
        images : ndarray of shape (n_samples, 28, 28), dtype uint8
            The raw images (a read-only view of the file's bytes).
        image_shape : tuple
            ``(1, 28, 28)``: channels, rows, columns of one row of ``data``.
        target_names : ndarray of str
            The digits ``"0"``-``"9"``, or Fashion-MNIST's ten clothing classes.
        DESCR : str
            A short description.

    (data, target) : tuple if ``return_X_y`` is True
        As described above.

    Raises
    ------
    FileNotFoundError
        If ``path`` is not a directory or a file of the split is missing (named).
    ValueError
        If a file is not in the IDX format, is truncated, or images and labels disagree.

    See Also
    --------
    load_cifar10 : CIFAR-10 from its python batches.

    References
    ----------
    Y. LeCun, L. Bottou, Y. Bengio and P. Haffner, "Gradient-Based Learning Applied to
    Document Recognition", Proc. IEEE 1998. H. Xiao, K. Rasul and R. Vollgraf,
    "Fashion-MNIST: a Novel Image Dataset for Benchmarking Machine Learning Algorithms",
    2017.

    Examples
    --------
    >>> from sklearn_robust.datasets import load_mnist
    >>> mnist = load_mnist("~/data/mnist", subset="train")  # doctest: +SKIP
    >>> mnist.data.shape, mnist.image_shape  # doctest: +SKIP
    ((60000, 784), (1, 28, 28))
    """
    path = os.path.expanduser(os.fspath(path))
    if kind == "mnist":
        bunch = _idx_dataset(path, subset, "MNIST", [str(d) for d in range(10)])
    else:
        bunch = _idx_dataset(path, subset, "Fashion-MNIST", _FASHION_NAMES)
    if return_X_y:
        return bunch.data, bunch.target
    return bunch


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickler of the CIFAR-10 batches: plain containers and numpy arrays only.

    The batches are pickles, and unpickling can run arbitrary code; only the few globals a
    pickled numpy array needs are allowed.
    """

    _ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.numeric", "_frombuffer"),
        ("numpy._core.numeric", "_frombuffer"),
        ("numpy.core.multiarray", "scalar"),
        ("numpy._core.multiarray", "scalar"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
    }

    def find_class(self, module, name):
        if (module, name) in self._ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(
            f"the CIFAR-10 batch refers to {module}.{name}, which a CIFAR-10 batch never "
            "holds; refusing to load it (is it the official 'python version' file?)."
        )


def _read_cifar_batch(path):
    with open(path, "rb") as fh:
        try:
            batch = _ArrayUnpickler(fh, encoding="bytes").load()
        except (pickle.UnpicklingError, EOFError, ValueError) as exc:
            raise ValueError(f"{path!r} is not a CIFAR-10 python batch: {exc}") from exc
    if not isinstance(batch, dict):
        raise ValueError(f"{path!r} is not a CIFAR-10 python batch (it holds no dict).")
    batch = {k.decode() if isinstance(k, bytes) else k: v for k, v in batch.items()}
    if "data" not in batch or "labels" not in batch:
        raise ValueError(
            f"{path!r} lacks the 'data' or 'labels' entry of a CIFAR-10 batch; found "
            f"{sorted(batch)}."
        )
    data = np.asarray(batch["data"])
    labels = np.asarray(batch["labels"], dtype=np.int64)
    if data.ndim != 2 or data.shape[1] != 3072 or data.shape[0] != labels.shape[0]:
        raise ValueError(
            f"{path!r}: data of shape {data.shape} and {labels.shape[0]} labels; a CIFAR-10 "
            "batch holds (n, 3072) pixels and n labels."
        )
    return data.astype(np.uint8, copy=False), labels


@validate_params(_LOADER_PARAMS, prefer_skip_nested_validation=True)
def load_cifar10(path, *, subset="train", return_X_y=False):
    """Load CIFAR-10 from the python batches a user has downloaded.

    Reads ``data_batch_1`` ... ``data_batch_5`` (training) and ``test_batch`` (test) of the
    official "CIFAR-10 python version", from ``path`` or from its ``cifar-10-batches-py``
    sub-folder (where the archive unpacks). Nothing is downloaded. The batches are pickles:
    they are read with an unpickler that accepts nothing but numpy arrays and plain
    containers.

    Parameters
    ----------
    path : str or path-like
        Folder holding the batches (or holding ``cifar-10-batches-py``).
    subset : {"train", "test", "all"}, default="train"
        The training split (50 000 images), the test split (10 000), or both (training rows
        first).
    return_X_y : bool, default=False
        If True, return ``(data, target)`` instead of a Bunch.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with attributes:

        data : ndarray of shape (n_samples, 3072), dtype float32
            Pixels scaled to [0, 1], in the file's order: the 1024 red values row by row,
            then the green, then the blue.
        target : ndarray of shape (n_samples,), dtype int64
            Labels 0-9.
        image_shape : tuple
            ``(3, 32, 32)``: channels, rows, columns of one row of ``data``.
        target_names : ndarray of str
            ``airplane``, ``automobile``, ... ``truck``.
        DESCR : str
            A short description.

    (data, target) : tuple if ``return_X_y`` is True
        As described above.

    Raises
    ------
    FileNotFoundError
        If ``path`` is not a directory or a batch of the split is missing (named).
    ValueError
        If a batch is not a CIFAR-10 python batch.

    See Also
    --------
    load_mnist : MNIST and Fashion-MNIST from their IDX files.

    References
    ----------
    A. Krizhevsky, "Learning Multiple Layers of Features from Tiny Images", 2009.

    Examples
    --------
    >>> from sklearn_robust.datasets import load_cifar10
    >>> cifar = load_cifar10("~/data/cifar10", subset="test")  # doctest: +SKIP
    >>> cifar.data.shape, cifar.image_shape  # doctest: +SKIP
    ((10000, 3072), (3, 32, 32))
    """
    path = os.path.expanduser(os.fspath(path))
    if not os.path.isdir(path):
        raise FileNotFoundError(
            f"CIFAR-10 directory not found: {path!r} is not a directory. Pass the folder "
            f"holding the python batches (data_batch_1, ..., test_batch) or {_CIFAR_DIR}/."
        )
    if os.path.isdir(os.path.join(path, _CIFAR_DIR)):
        path = os.path.join(path, _CIFAR_DIR)
    names = (
        _CIFAR_BATCHES["train"] + _CIFAR_BATCHES["test"]
        if subset == "all"
        else _CIFAR_BATCHES[subset]
    )
    missing = [n for n in names if not os.path.isfile(os.path.join(path, n))]
    if missing:
        raise FileNotFoundError(
            f"CIFAR-10 batches missing under {path!r}: {missing}. Unpack the official "
            "'CIFAR-10 python version' archive (cifar-10-python.tar.gz) there."
        )
    batches = [_read_cifar_batch(os.path.join(path, n)) for n in names]
    pixels = np.concatenate([data for data, _ in batches])
    target = np.concatenate([labels for _, labels in batches])
    data = pixels.astype(np.float32) / np.float32(255.0)
    bunch = Bunch(
        data=data,
        target=target,
        image_shape=(3, 32, 32),
        target_names=np.array(_CIFAR_NAMES),
        DESCR=(
            f"CIFAR-10 {subset}: {data.shape[0]} colour images of 32 x 32 pixels, channels "
            "first (red, green, blue planes, each row by row), scaled to [0, 1]."
        ),
    )
    if return_X_y:
        return bunch.data, bunch.target
    return bunch
