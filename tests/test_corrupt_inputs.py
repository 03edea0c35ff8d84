"""Damaged, foreign or hostile input files are refused by name, with what to do about them,
and nothing in them runs: CIFAR-10 batches, prepared datasets, raw IDX files, run summaries."""

import builtins
import gzip
import json
import os
import pickle
import re
import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest

from neuroevo.analysis.aggregate import aggregate
from neuroevo.analysis.comparison import load_comparison, load_discovery_summary
from neuroevo.data.datasets import DEBIAN_FASHION_MNIST, load_raw, read_idx
from neuroevo.data.prepare import load_prepared, prepare, save_prepared
from neuroevo.files.errors import CorruptFileError
from neuroevo.report.render import tuning_tables
from neuroevo.report.study_section import variant_runs as load_study_runs

FORCERUN_DATA = "delete it or run snakemake --forcerun data"


# --- CIFAR-10 batches: never unpickle anything but arrays -------------------------------------


class _Payload:
    """Unpickling this calls `call(*args)`: what a hostile "dataset" file does."""

    def __init__(self, call, *args):
        self.call, self.args = call, args

    def __reduce__(self):
        return self.call, self.args


def _payloads(marker):
    return {
        "os.system": _Payload(os.system, f"touch {marker}"),
        "subprocess": _Payload(subprocess.call, ["touch", str(marker)]),
        "exec": _Payload(builtins.exec, f"open({str(marker)!r}, 'w').close()"),
    }


def _cifar_folder(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        batch = {"data": rng.integers(0, 256, (4, 3072), dtype=np.uint8), "labels": [0, 1, 2, 3]}
        (folder / name).write_bytes(pickle.dumps(batch))
    return folder


@pytest.mark.parametrize("kind", ["os.system", "subprocess", "exec"])
def test_a_batch_whose_pickle_would_run_code_is_refused_by_name_and_nothing_runs(kind, tmp_path):
    folder = _cifar_folder(tmp_path)
    probe = tmp_path / "probe"
    pickle.loads(pickle.dumps({"data": _payloads(probe)[kind]}))  # plain pickle runs the payload...
    assert probe.exists()
    marker = tmp_path / "marker"
    (folder / "data_batch_1").write_bytes(pickle.dumps({"data": _payloads(marker)[kind], "labels": [0]}))
    with pytest.warns(UserWarning), pytest.raises(CorruptFileError) as error:
        load_raw("cifar10", tmp_path)
    assert not marker.exists()  # ...the loader does not
    message = str(error.value)
    assert message.startswith(f"{folder / 'data_batch_1'}: refused to unpickle") and "cifar-10-python.tar.gz" in message


def test_a_truncated_or_foreign_cifar_batch_is_named(tmp_path):
    folder = _cifar_folder(tmp_path)
    batch = folder / "test_batch"
    batch.write_bytes(batch.read_bytes()[:5000])
    with (
        pytest.warns(UserWarning),
        pytest.raises(CorruptFileError, match=f"^{re.escape(str(batch))}: truncated or corrupt CIFAR-10 batch"),
    ):
        load_raw("cifar10", tmp_path)
    batch.write_bytes(pickle.dumps({"images": np.zeros((4, 3072), np.uint8)}))
    with (
        pytest.warns(UserWarning),
        pytest.raises(CorruptFileError, match=f"^{re.escape(str(batch))}: not a CIFAR-10 batch"),
    ):
        load_raw("cifar10", tmp_path)


# --- Prepared datasets: checksum and dataset name ---------------------------------------------


@pytest.fixture(scope="module")
def iris_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("prepared") / "iris.npz"
    save_prepared(prepare("iris"), path)
    return path


def _without_checksum(archive):
    return {key: archive[key] for key in archive.files if key != "checksum"}


def _changed_val(archive):
    arrays = {key: archive[key] for key in archive.files}
    arrays["x_val"] = arrays["x_val"] + 1  # e.g. standardized again, or a file edited by hand
    return arrays


@pytest.mark.parametrize(
    "damage, detail",
    [
        pytest.param(lambda raw, _: raw[: len(raw) // 2], "truncated or damaged archive", id="truncated"),
        pytest.param(lambda raw, _: np.random.default_rng(0).bytes(4000), "not an .npz archive", id="random bytes"),
        pytest.param(lambda raw, _: b"", "empty file", id="empty"),
        pytest.param(lambda raw, _: pickle.dumps({"x_train": 1}), "not an .npz archive", id="a pickle"),
        pytest.param(lambda raw, archive: _without_checksum(archive), "no checksum", id="older file"),
        pytest.param(
            lambda raw, archive: {key: archive[key] for key in archive.files if key != "y_test"},
            "an array is missing",
            id="array missing",
        ),
        pytest.param(lambda raw, archive: _changed_val(archive), "checksum mismatch", id="array changed"),
    ],
)
def test_a_damaged_or_old_prepared_file_is_refused_with_the_way_to_remake_it(iris_file, tmp_path, damage, detail):
    path = tmp_path / "iris.npz"
    with np.load(iris_file) as archive:
        damaged = damage(iris_file.read_bytes(), archive)
    if isinstance(damaged, dict):
        np.savez(path, **damaged)
    else:
        path.write_bytes(damaged)
    with pytest.raises(CorruptFileError) as error:
        load_prepared(path)
    message = str(error.value)
    assert message.startswith(f"{path}: corrupt prepared dataset (") and detail in message
    assert message.endswith(FORCERUN_DATA)
    assert "allow_pickle" not in message  # never the advice to load a file unsafely


def test_a_prepared_file_of_another_dataset_is_refused(iris_file):
    assert load_prepared(iris_file, expected_name="iris").name == "iris"
    with pytest.raises(
        ValueError, match=rf"^{re.escape(str(iris_file))}: prepared dataset is 'iris', not the expected 'digits'"
    ):
        load_prepared(iris_file, expected_name="digits")


# --- Raw IDX files: the size their header promises --------------------------------------------


def _idx(labels):
    return bytes([0, 0, 0x08, 1]) + len(labels).to_bytes(4, "big") + bytes(labels)


def test_a_truncated_idx_file_names_the_file_and_the_size_its_header_needs(tmp_path):
    path = tmp_path / "t10k-labels-idx1-ubyte"
    path.write_bytes(_idx(range(10))[:12])
    with pytest.raises(CorruptFileError) as error:
        read_idx(path)
    message = str(error.value)
    assert message.startswith(f"{path}: truncated IDX file (12 bytes; the header's shape (10,) needs 18)")
    assert "delete it and download it again" in message
    gz = tmp_path / "t10k-labels-idx1-ubyte.gz"
    gz.write_bytes(gzip.compress(_idx(range(10)))[:20])
    with pytest.raises(CorruptFileError, match=f"^{re.escape(str(gz))}: truncated or corrupt gzip file"):
        read_idx(gz)


def test_a_truncated_file_in_the_dataset_folder_is_named_by_the_loader(tmp_path):
    folder = tmp_path / "MNIST" / "raw"
    folder.mkdir(parents=True)
    images = np.zeros((10, 28, 28), np.uint8)
    (folder / "train-images-idx3-ubyte").write_bytes(
        bytes([0, 0, 8, 3]) + b"".join(d.to_bytes(4, "big") for d in images.shape) + images.tobytes()
    )
    (folder / "train-labels-idx1-ubyte").write_bytes(_idx(range(10)))
    (folder / "t10k-images-idx3-ubyte").write_bytes((folder / "train-images-idx3-ubyte").read_bytes()[:-100])
    (folder / "t10k-labels-idx1-ubyte").write_bytes(_idx(range(10)))
    with pytest.raises(
        CorruptFileError, match=f"^{re.escape(str(folder / 't10k-images-idx3-ubyte'))}: truncated IDX file"
    ):
        load_raw("mnist", tmp_path)


@pytest.mark.skipif(not DEBIAN_FASHION_MNIST.is_dir(), reason="Debian's dataset-fashion-mnist is not installed")
def test_a_truncated_copy_of_a_real_fashion_mnist_file_is_named(tmp_path):
    real = DEBIAN_FASHION_MNIST / "t10k-labels-idx1-ubyte.gz"
    assert read_idx(real).shape == (10000,)
    unpacked = tmp_path / "t10k-labels-idx1-ubyte"
    unpacked.write_bytes(gzip.decompress(real.read_bytes())[:5000])  # the 4992 labels + header
    with pytest.raises(
        CorruptFileError,
        match=rf"^{re.escape(str(unpacked))}: truncated IDX file \(5,000 bytes; the header's shape \(10000,\) needs 10,008\)",
    ):
        read_idx(unpacked)
    cut = tmp_path / real.name
    shutil.copyfile(real, cut)
    cut.write_bytes(cut.read_bytes()[:3000])
    with pytest.raises(CorruptFileError, match=f"^{re.escape(str(cut))}: truncated or corrupt gzip file"):
        read_idx(cut)


# --- Run summaries: the damaged run is named, with how to redo it ------------------------------


RUN = {
    "dataset": "iris",
    "optimizer": "adam",
    "optimizer_kind": "gradient",
    "seed": 0,
    "status": "completed",
    "device": "cpu",
    "message": "",
    "train_time_s": 1.0,
    "train_loss": 0.1,
    "train_acc": 0.9,
    "val_loss": 0.2,
    "val_acc": 0.9,
    "test_loss": 0.2,
    "test_acc": 0.9,
    "model_evals": 10,
    "grad_evals": 10,
    "flops": 1000,
    "epochs": 3,
    "sample_evals": 100,
    "n_parameters": 99,
    "model": {"kind": "mlp", "hidden": 16, "activation": "relu"},
    "training": {},
    "hyperparameters": {},
    "fitness": 0.9,
    "final_val_acc": 0.9,
    "final_test_acc": 0.9,
    "final_train_loss": 0.1,
    "steps": 10,
}


def _runs(root, damaged_text):
    """Three run folders ROOT/VARIANT/SEED with a history; the second one's summary is damaged_text."""
    paths = []
    for seed in range(3):
        path = root / "adam" / str(seed) / "summary.json"
        path.parent.mkdir(parents=True)
        path.write_text(damaged_text if seed == 1 else json.dumps(RUN | {"seed": seed}))
        pd.DataFrame({"epoch": [0], "val_acc": [0.5]}).to_parquet(path.with_name("history.parquet"))
        paths.append(path)
    return paths


DAMAGED = {
    "cut off": (json.dumps(RUN, indent=1)[:150], "column"),  # JSON's error names where it broke off
    "a list": ("[1, 2]", "a JSON list, not an object"),
    "keys missing": (
        json.dumps({key: value for key, value in RUN.items() if key not in ("test_acc", "seed")}),
        "missing",
    ),
}


@pytest.mark.parametrize("reader", ["aggregate", "study section", "discovery comparison"])
@pytest.mark.parametrize("damage", list(DAMAGED))
def test_a_damaged_run_summary_is_named_with_how_to_redo_that_run(reader, damage, tmp_path):
    text, detail = DAMAGED[damage]
    paths = _runs(tmp_path / "comparison" / "iris", text)
    read = {
        "aggregate": lambda: aggregate(paths, tmp_path / "summary"),
        "study section": lambda: load_study_runs(paths),
        "discovery comparison": lambda: load_comparison(paths),
    }[reader]
    with pytest.raises(CorruptFileError) as error:
        read()
    message = str(error.value)
    assert message.startswith(f"{paths[1]}: corrupt run summary (") and detail in message
    assert f"delete its run folder {paths[1].parent}" in message and f"snakemake --forcerun {paths[1]}" in message
    if damage == "keys missing":
        assert "seed" in message and "test_acc" in message


@pytest.mark.parametrize("reader", ["aggregate", "study section"])
def test_a_damaged_run_history_is_named_with_how_to_redo_that_run(reader, tmp_path):
    paths = _runs(tmp_path / "runs" / "iris", json.dumps(RUN | {"seed": 1}))
    history = paths[1].with_name("history.parquet")
    history.write_bytes(history.read_bytes()[:40])
    read = {
        "aggregate": lambda: aggregate(paths, tmp_path / "summary"),
        "study section": lambda: load_study_runs(paths),
    }[reader]
    with pytest.raises(CorruptFileError) as error:
        read()
    message = str(error.value)
    assert message.startswith(f"{history}: corrupt run history (") and f"snakemake --forcerun {paths[1]}" in message


def test_a_damaged_discovery_summary_or_tuning_result_is_named(tmp_path):
    (tmp_path / "summary.json").write_text('{"best_fitness": 0.5, "generations"')
    with pytest.raises(CorruptFileError) as error:
        load_discovery_summary(tmp_path)
    message = str(error.value)
    assert message.startswith(f"{tmp_path / 'summary.json'}: corrupt discovery summary (")
    assert "delete" not in message  # its folder also holds the comparison runs
    tuning = tmp_path / "adam.json"
    tuning.write_text(json.dumps({"dataset": "iris", "optimizer": "adam"}))
    with pytest.raises(
        CorruptFileError, match=rf"^{re.escape(str(tuning))}: corrupt tuning result \(missing tuned_values, n_trials"
    ):
        tuning_tables([tuning])
