"""Nothing finished is lost: a damaged prepared file is refused by name, the rerun that
fails on it does not cost the runs already finished, and repairing the data restores them
without training again."""

import json

import pandas as pd
import yaml
from conftest import snakemake

from neuroevo.config.run_spec import RunSpec, TrainingSettings
from neuroevo.training import finished
from neuroevo.training.finished import write_run
from neuroevo.training.loop import train

CONFIG = {
    "datasets": ["iris"],
    "optimizers": ["sgd", "adam"],
    "seeds": 2,
    "model": {"hidden": 8},
    "training": {"batch_size": 16, "max_epochs": 5},
    "tuning": {"enabled": False},
}
RUNS = [f"results/runs/iris/{optimizer}/{seed}/summary.json" for optimizer in ("sgd", "adam") for seed in (0, 1)]


def test_a_failed_rerun_on_damaged_data_loses_no_finished_run(tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(CONFIG))
    workdir = tmp_path / "work"
    snakemake(workdir, "--cores", "2", *RUNS, configfile=config)
    before = {path: (workdir / path).read_text() for path in RUNS}

    data = workdir / "resources" / "data" / "iris.npz"
    data.write_bytes(data.read_bytes()[: data.stat().st_size // 2])  # a torn copy, newer than the runs
    failed = snakemake(workdir, "--cores", "2", "--keep-going", *RUNS, configfile=config, check=False)
    assert failed.returncode != 0
    for path in RUNS:
        dataset, optimizer = path.split("/")[2:4]
        log = (workdir / "results" / "logs" / "train" / dataset / optimizer / "seeds_0_to_1.log").read_text()
        assert f"{data.relative_to(workdir)}: corrupt prepared dataset" in log and "snakemake --forcerun data" in log
        assert not (workdir / path).exists()  # Snakemake deleted the outputs of the failed rerun ...
        assert list((workdir / path).parent.glob("finished/*/summary.json"))  # ... but not the kept copy

    snakemake(workdir, "--cores", "2", "--forcerun", "data", *RUNS, configfile=config)  # the message's remedy
    assert {path: (workdir / path).read_text() for path in RUNS} == before  # restored, not retrained
    log = (workdir / "results" / "logs" / "train" / "iris" / "sgd" / "seeds_0_to_1.log").read_text()
    assert log.count("restored the finished result") == 2


def test_a_kept_result_is_restored_only_for_the_same_settings_data_and_code(iris_data, tmp_path, monkeypatch):
    run_dir = tmp_path / "run"
    spec = RunSpec("iris", "sgd", 0, hidden=8, training=TrainingSettings(max_epochs=3, patience=10))
    summary, history = train(spec, iris_data, run_dir / "checkpoint.pt")
    write_run(summary, history, run_dir)
    again, again_history = train(spec, iris_data, run_dir / "checkpoint.pt")
    assert again == json.loads((run_dir / "summary.json").read_text())  # the kept copy, timings included
    pd.testing.assert_frame_equal(again_history, pd.read_parquet(run_dir / "history.parquet"))

    other = RunSpec("iris", "sgd", 0, hidden=8, training=TrainingSettings(max_epochs=2, patience=10))
    assert train(other, iris_data, run_dir / "checkpoint.pt")[0]["epochs"] == 2  # other settings: trained
    (run_dir / "finished" / summary["result_key"] / "summary.json").write_text("{torn")
    assert (
        train(spec, iris_data, run_dir / "checkpoint.pt")[0]["wall_time_s"] != summary["wall_time_s"]
    )  # damaged copy: trained

    monkeypatch.setattr(finished, "source_digest", lambda: "an edited optimizer")
    retrained, _ = train(spec, iris_data, run_dir / "checkpoint.pt")
    assert retrained["result_key"] != summary["result_key"]  # other code: trained again
    assert {k: v for k, v in retrained.items() if not k.endswith("_s") and k not in ("result_key",)} == {
        k: v for k, v in summary.items() if not k.endswith("_s") and k not in ("result_key",)
    }
