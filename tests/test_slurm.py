"""The pipeline on a real single-node SLURM cluster through `snakemake --profile slurm`
(snakemake-executor-plugin-slurm, with slurmdbd so that the plugin's default `sacct`
status checks are the ones exercised, as on real clusters).

The cluster is the session fixture `local_slurm_cluster` of conftest.py.
"""

import json
import subprocess

import pytest
from conftest import REPOSITORY, snakemake

SLURM_CONFIG = REPOSITORY / "tests" / "tiny" / "slurm.yaml"
pytestmark = pytest.mark.slurm


@pytest.fixture
def slurm_cluster(local_slurm_cluster):
    if not local_slurm_cluster:
        pytest.skip("no local SLURM cluster: it needs root and Debian's slurm-wlm, munge, slurmdbd, mariadb-server")


def _slurm_logs(workdir):
    """SLURM job id -> the folder of its log (.snakemake/slurm_logs/<rule or group>/...)."""
    logs = {}
    for log in (workdir / ".snakemake" / "slurm_logs").rglob("*.log"):
        logs[log.stem] = log.parent.relative_to(workdir / ".snakemake" / "slurm_logs").as_posix()
    return logs


def _sacct(job_ids):
    result = subprocess.run(
        ["sacct", "-X", "-n", "-P", "-j", ",".join(job_ids), "-o", "JobID,State,AllocTRES,Partition,Account"],
        capture_output=True,
        text=True,
        check=True,
    )
    rows = [line.split("|") for line in result.stdout.splitlines() if line]
    return {
        job_id: {"state": state, "tres": tres, "partition": partition, "account": account}
        for job_id, state, tres, partition, account in rows
    }


def test_tiny_study_runs_through_slurm_with_groups_and_gpus_in_their_partition(slurm_cluster, tmp_path):
    snakemake(tmp_path, "--profile", str(REPOSITORY / "slurm"), configfile=SLURM_CONFIG)

    assert "## iris" in (tmp_path / "results" / "report" / "report.md").read_text()
    logs = _slurm_logs(tmp_path)
    accounting = _sacct(list(logs))
    assert set(accounting) == set(logs)  # every job Snakemake submitted is known to SLURM
    assert all(entry["state"] == "COMPLETED" for entry in accounting.values())

    # Blocks and groups: each optimizer's runs are one block (seeds 0 and 1); the short Iris
    # blocks (the runs and the gradient optimizers' pilot runs) went in one submission, each
    # digits block in one of its own.
    folders = sorted(logs.values())
    grouped = [folder for folder in folders if folder.startswith("group_short_runs_")]
    assert len(grouped) == 1 and "train_seeds_0_to_1" in grouped[0], folders
    assert not any(folder.startswith("rule_train_seeds_0_to_1/iris") for folder in folders)
    digits_jobs = [job for job, folder in logs.items() if folder.startswith("rule_train_seeds_0_to_1/digits")]
    assert len(digits_jobs) == 2
    # The digits pilot runs (its gradient optimizers', before its budget job) ask for a GPU too.
    pilot_jobs = [job for job, folder in logs.items() if folder.startswith("rule_pilot_seeds_0_to_1/digits")]
    assert {"rule_data/iris", "rule_data/digits", "rule_aggregate", "rule_report"} <= set(folders)

    # GPUs: each digits run asked for one and was granted a (fake) one, in the config's
    # cluster.gpu_partition and gpu_account; every other job kept the profile's partition.
    assert all("gres/gpu=1" in accounting[job]["tres"] for job in digits_jobs)
    for job, entry in accounting.items():
        assert entry["partition"] == ("gpu" if job in digits_jobs + pilot_jobs else "main"), (logs[job], entry)
    assert all(accounting[job]["account"] == "proj1" for job in digits_jobs)  # the others: the user's default
    for summary_path in (tmp_path / "results" / "runs" / "digits").rglob("summary.json"):
        summary = json.loads(summary_path.read_text())
        assert summary["cuda_visible_devices"] in ("0", "1")
        assert summary["device"] == "cpu"  # device: auto, and a fake GPU is no CUDA device
    for summary_path in (tmp_path / "results" / "runs" / "iris").rglob("summary.json"):
        assert json.loads(summary_path.read_text())["cuda_visible_devices"] is None
