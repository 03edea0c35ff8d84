import gzip
import pickle

import numpy as np
import pytest

from neuroevo.data.datasets import DEBIAN_FASHION_MNIST, DatasetNotFoundError, load_raw
from neuroevo.data.prepare import load_prepared, prepare, save_prepared


def _write_idx(path, array, compress=False):
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    payload = header + array.astype(np.uint8).tobytes()
    if compress:
        path = path.with_name(path.name + ".gz")
        path.write_bytes(gzip.compress(payload))
    else:
        path.write_bytes(payload)


def _fake_mnist(folder, n_train=60, n_test=20, compress=False):
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        labels = np.arange(n) % 10
        images = rng.integers(0, 50, (n, 28, 28)) + labels[:, None, None] * 20
        _write_idx(folder / f"{prefix}-images-idx3-ubyte", images, compress)
        _write_idx(folder / f"{prefix}-labels-idx1-ubyte", labels, compress)


def test_idx_files_in_torchvisions_layout_are_read_and_downscaled(tmp_path):
    _fake_mnist(tmp_path / "MNIST" / "raw", compress=True)
    raw = load_raw("mnist", tmp_path)
    assert raw.x_train.shape == (60, 784) and raw.x_test.shape == (20, 784)
    assert raw.x_train.max() <= 1.0 and raw.y_train.dtype == np.int64
    small = load_raw("mnist14", tmp_path)
    assert small.x_train.shape == (60, 196)
    first = raw.x_train[0].reshape(28, 28)
    assert small.x_train[0, 0] == pytest.approx(first[:2, :2].mean())


def test_missing_dataset_names_the_files_the_places_and_the_remedy(tmp_path):
    with pytest.raises(DatasetNotFoundError) as error:
        load_raw("mnist", tmp_path)
    message = str(error.value)
    assert "train-images-idx3-ubyte" in message and str(tmp_path / "MNIST" / "raw") in message
    assert "data.download: true" in message
    with pytest.raises(DatasetNotFoundError, match="data_batch_1"):
        load_raw("cifar10", tmp_path)


def _python2_batch(images, labels):
    """A batch pickled as the official files are (Python 2's cPickle, protocol 2): numpy's
    old module names and the pixels as one byte string."""
    n = len(images)
    array = (
        b"cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\nK\x00\x85U\x01b\x87R"
        b"(K\x01J" + n.to_bytes(4, "little") + b"M\x00\x0c\x86"  # shape (n, 3072)
        b"cnumpy\ndtype\nU\x02u1K\x00K\x01\x87R(K\x03U\x01|NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb"
        b"\x89T" + (n * 3072).to_bytes(4, "little") + images.astype(np.uint8).tobytes() + b"tb"
    )
    label_list = b"](" + b"".join(b"K" + bytes([label]) for label in labels) + b"e"
    return b"\x80\x02}(U\x04data" + array + b"U\x06labels" + label_list + b"u."


def test_cifar10_python_batches_are_read(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    rng = np.random.default_rng(0)
    images = {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        images[name] = rng.integers(0, 256, (10, 3072), dtype=np.uint8)
        if name == "test_batch":  # numpy 2's own pickle, as a re-pickled copy would be
            (folder / name).write_bytes(pickle.dumps({"data": images[name], "labels": list(range(10))}))
        else:
            (folder / name).write_bytes(_python2_batch(images[name], range(10)))
    with pytest.warns(UserWarning, match="not the official CIFAR-10 file") as warned:
        raw = load_raw("cifar10", tmp_path)
    assert raw.x_train.shape == (50, 3072) and raw.x_test.shape == (10, 3072)
    np.testing.assert_array_equal(raw.x_train[:10], images["data_batch_1"] / np.float32(255.0))
    np.testing.assert_array_equal(raw.y_test, np.arange(10))
    # Every file whose md5 is not the official one is named, once.
    assert sorted(str(w.message).split(":")[0] for w in warned) == sorted(str(folder / name) for name in images)


def test_split_is_stratified_fixed_and_standardized_on_train_only(tmp_path):
    data = prepare("iris", split_seed=3, val_fraction=0.2, test_fraction=0.2)
    assert [len(data.y[s]) for s in ("train", "val", "test")] == [90, 30, 30]
    assert all(np.bincount(data.y[s]).tolist() == [len(data.y[s]) // 3] * 3 for s in ("val", "test"))
    np.testing.assert_allclose(data.x["train"].mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(data.x["train"].std(axis=0), 1, atol=1e-4)
    assert abs(data.x["test"].mean()) > 1e-4  # test statistics were not used
    again = prepare("iris", split_seed=3, val_fraction=0.2, test_fraction=0.2)
    np.testing.assert_array_equal(again.x["test"], data.x["test"])
    checksum = save_prepared(data, tmp_path / "iris.npz")
    loaded = load_prepared(tmp_path / "iris.npz", expected_name="iris")
    np.testing.assert_array_equal(loaded.x["val"], data.x["val"])
    assert loaded.n_classes == 3 and loaded.name == "iris"
    assert loaded.checksum == checksum and len(checksum) == 64 and data.checksum == ""  # only files carry one


@pytest.mark.skipif(not DEBIAN_FASHION_MNIST.is_dir(), reason="Debian's dataset-fashion-mnist is not installed")
def test_real_fashion_mnist_from_debians_package(tmp_path):
    data = prepare("fashion_mnist14", tmp_path, val_fraction=0.1)
    assert data.x["train"].shape == (54000, 196) and data.x["test"].shape == (10000, 196)
    assert np.bincount(data.y["test"]).tolist() == [1000] * 10


def test_data_command_fails_with_one_clear_line_for_a_missing_dataset(tmp_path):
    import subprocess
    import sys

    from conftest import tool_environment

    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "neuroevo",
            "data",
            "--dataset",
            "mnist14",
            "--data-dir",
            str(tmp_path),
            "--out",
            str(tmp_path / "out.npz"),
        ],
        capture_output=True,
        text=True,
        env=tool_environment(),
    )
    assert result.returncode == 1
    assert "error: MNIST not found" in result.stderr and "data.download: true" in result.stderr
    assert not (tmp_path / "out.npz").exists()
