"""load_mnist and load_cifar10 on small files the tests write in the official formats."""

import gzip
import os
import pickle
import struct

import numpy as np
import pytest

from sklearn_robust.datasets import load_cifar10, load_mnist


def _write_idx(path, array, compress):
    array = np.asarray(array)
    code = {np.dtype(np.uint8): 0x08, np.dtype(">i4"): 0x0C}[array.dtype]
    payload = struct.pack(">BBBB", 0, 0, code, array.ndim)
    payload += struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes()
    opener = gzip.open if compress else open
    with opener(path, "wb") as fh:
        fh.write(payload)


@pytest.fixture
def mnist_dir(tmp_path):
    rng = np.random.RandomState(0)
    files = {}
    for subset, n, stem in (("train", 7, "train"), ("test", 3, "t10k")):
        images = rng.randint(0, 256, size=(n, 28, 28)).astype(np.uint8)
        labels = rng.randint(0, 10, size=n).astype(np.uint8)
        compress = subset == "train"  # one gzipped pair, one plain pair
        suffix = ".gz" if compress else ""
        _write_idx(tmp_path / f"{stem}-images-idx3-ubyte{suffix}", images, compress)
        _write_idx(tmp_path / f"{stem}-labels-idx1-ubyte{suffix}", labels, compress)
        files[subset] = (images, labels)
    return tmp_path, files


def test_load_mnist_reads_idx_files(mnist_dir):
    path, files = mnist_dir
    train = load_mnist(path)
    images, labels = files["train"]
    assert train.data.shape == (7, 784) and train.data.dtype == np.float32
    np.testing.assert_array_equal(train.data, images.reshape(7, -1) / np.float32(255))
    np.testing.assert_array_equal(train.target, labels)
    np.testing.assert_array_equal(train.images, images)
    assert train.image_shape == (1, 28, 28)
    assert list(train.target_names) == [str(d) for d in range(10)]
    assert 0.0 <= train.data.min() and train.data.max() <= 1.0
    X, y = load_mnist(str(path), subset="test", return_X_y=True)
    np.testing.assert_array_equal(y, files["test"][1])
    both = load_mnist(path, subset="all")
    assert both.data.shape == (10, 784)
    np.testing.assert_array_equal(both.target[7:], files["test"][1])


def test_load_fashion_mnist_names(mnist_dir):
    path, _ = mnist_dir
    fashion = load_mnist(path, kind="fashion-mnist")
    assert fashion.target_names[0] == "T-shirt/top" and len(fashion.target_names) == 10
    assert "Fashion-MNIST" in fashion.DESCR


def test_load_mnist_accepts_dotted_names(tmp_path):
    images = np.zeros((2, 4, 4), dtype=np.uint8)
    _write_idx(tmp_path / "t10k-images.idx3-ubyte", images, False)
    _write_idx(tmp_path / "t10k-labels.idx1-ubyte", np.array([3, 4], dtype=np.uint8), False)
    bunch = load_mnist(tmp_path, subset="test")
    assert bunch.data.shape == (2, 16) and bunch.image_shape == (1, 4, 4)


def test_load_mnist_errors(tmp_path, mnist_dir):
    with pytest.raises(FileNotFoundError, match="not a directory"):
        load_mnist(tmp_path / "absent")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(FileNotFoundError, match="train-images-idx3-ubyte"):
        load_mnist(empty)
    path, _ = mnist_dir
    (path / "t10k-images-idx3-ubyte").write_bytes(b"\x1f\x8b not an idx file")
    with pytest.raises(ValueError, match="not an IDX file"):
        load_mnist(path, subset="test")
    # truncated: the header promises more bytes than the file holds
    _write_idx(path / "t10k-images-idx3-ubyte", np.zeros((3, 28, 28), np.uint8), False)
    raw = (path / "t10k-images-idx3-ubyte").read_bytes()
    (path / "t10k-images-idx3-ubyte").write_bytes(raw[:-10])
    with pytest.raises(ValueError, match="truncated"):
        load_mnist(path, subset="test")
    # labels and images disagree on the number of rows
    _write_idx(path / "t10k-images-idx3-ubyte", np.zeros((4, 28, 28), np.uint8), False)
    with pytest.raises(ValueError, match="disagree"):
        load_mnist(path, subset="test")
    with pytest.raises(ValueError, match="subset"):
        load_mnist(path, subset="validation")


def _write_cifar(folder, name, data, labels):
    with open(folder / name, "wb") as fh:
        pickle.dump({b"batch_label": b"x", b"data": data, b"labels": list(labels)}, fh)


@pytest.fixture
def cifar_dir(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    rng = np.random.RandomState(1)
    batches = {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        data = rng.randint(0, 256, size=(2, 3072)).astype(np.uint8)
        labels = rng.randint(0, 10, size=2)
        _write_cifar(folder, name, data, labels)
        batches[name] = (data, labels)
    return tmp_path, batches


def test_load_cifar10_reads_python_batches(cifar_dir):
    path, batches = cifar_dir
    train = load_cifar10(path)  # the parent folder: cifar-10-batches-py is found
    assert train.data.shape == (10, 3072) and train.data.dtype == np.float32
    expected = np.concatenate([batches[f"data_batch_{i}"][0] for i in range(1, 6)])
    np.testing.assert_array_equal(train.data, expected / np.float32(255))
    assert train.image_shape == (3, 32, 32) and train.target_names[0] == "airplane"
    X, y = load_cifar10(os.path.join(path, "cifar-10-batches-py"), subset="test",
                        return_X_y=True)
    np.testing.assert_array_equal(y, batches["test_batch"][1])
    assert load_cifar10(path, subset="all").data.shape == (12, 3072)


def test_load_cifar10_refuses_foreign_pickles(cifar_dir):
    path, _ = cifar_dir
    folder = path / "cifar-10-batches-py"

    class Payload:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    with open(folder / "test_batch", "wb") as fh:
        pickle.dump({b"data": Payload(), b"labels": [0]}, fh)
    with pytest.raises(ValueError, match="refusing to load"):
        load_cifar10(path, subset="test")
    _write_cifar(folder, "test_batch", np.zeros((2, 100), np.uint8), [0, 1])
    with pytest.raises(ValueError, match="3072"):
        load_cifar10(path, subset="test")
    os.remove(folder / "data_batch_3")
    with pytest.raises(FileNotFoundError, match="data_batch_3"):
        load_cifar10(path)
