"""The workflow against hostile or changing inputs (issue 14), through real Snakemake runs:
no config value or path is ever run as shell code, a changed genome file reruns exactly the
runs that train with it, GPU jobs can go to a partition (and account) of their own, and the
default discovery study can be switched off."""

import json
import os
import re
import shlex
import shutil

import pytest
from conftest import REPOSITORY, snakemake
from test_discovery_workflow import TINY_DISCOVERY
from test_workflow import block_kind, planned_jobs

GENOME = REPOSITORY / "docs" / "example-run" / "default" / "discovery" / "small" / "best_genome.json"

# Each would create a file named PWNED... if it reached a shell unquoted.
DATA_DIR = "data $(touch PWNED_data_dir); touch PWNED_data_dir2 `touch PWNED_backtick`"
GENOME_FILE = "genomes/it's $(touch PWNED_genome).json"
CONFIGFILE = "config $(touch PWNED_configfile).yaml"


# Iris with sgd and `evolved` (its genome_file from the config), the study `genome` (an
# evolved and an sgd variant), and a discovery study that `discovery_enabled=false` leaves out.
HARDENED = (
    f"""
datasets: [iris]
optimizers: [sgd, evolved]
seeds: 2
model: {{hidden: 8}}
training: {{batch_size: 16, max_epochs: 3}}
tuning: {{enabled: false}}
data: {{dir: {DATA_DIR!r}}}
optimizer_settings: {{evolved: {{genome_file: "{GENOME_FILE}"}}}}
studies: [genome]
study_dir: tests/tiny/studies
"""
    + TINY_DISCOVERY
)
DISCOVERY_OFF = ("--config", "discovery_enabled=false")


def _pwned(*folders):
    return [path for folder in folders for path in folder.rglob("PWNED*")]


@pytest.fixture(scope="module")
def hardened_run(tmp_path_factory):
    """One real run of HARDENED without discovery: (workdir, its config file)."""
    workdir = tmp_path_factory.mktemp("hardened")
    (workdir / GENOME_FILE).parent.mkdir()
    shutil.copy(GENOME, workdir / GENOME_FILE)
    configfile = workdir / CONFIGFILE
    configfile.write_text(HARDENED)
    snakemake(workdir, "--cores", "2", *DISCOVERY_OFF, configfile=configfile)
    return workdir, configfile


def _regenerate_command(workdir):
    report = (workdir / "results" / "report" / "report.md").read_text()
    return re.search(r"^- Regenerate: `(.*)`", report, re.MULTILINE).group(1)


def test_shell_syntax_in_paths_and_config_strings_is_never_executed(hardened_run):
    workdir, configfile = hardened_run
    summary = json.loads((workdir / "results" / "runs" / "iris" / "evolved" / "1" / "summary.json").read_text())
    assert summary["hyperparameters"]["genome_file"] == GENOME_FILE  # trained with it, a plain path
    # Names that reach the shell are refused by the schema (studies, discovery, CLI targets).
    refused = [
        ("--config", 'studies=["x$(touch PWNED_study)"]'),
        ("--config", 'discovery={"x$(touch PWNED_discovery)": {"tasks": [{"dataset": "iris"}]}}'),
        ("results/runs/iris/sgd/0$(touch PWNED_target)/summary.json",),
        ("results/discovery/x$(touch PWNED_target2)/section.md",),
    ]
    for args in refused:
        assert snakemake(workdir, "--cores", "1", *args, configfile=configfile, check=False).returncode != 0
    assert _pwned(workdir, REPOSITORY) == []
    # The report's command to regenerate it is meant to be pasted into a shell: quoted paths.
    words = shlex.split(_regenerate_command(workdir))
    assert words[words.index("--configfile") + 1] == CONFIGFILE


@pytest.mark.parametrize(
    "setting, key, problem",
    [
        ("tracking_project: 'neuroevo$(touch PWNED)'", "['tracking_project']", "does not match"),
        ("tracking_project: 'neuroevo; touch PWNED'", "['tracking_project']", "does not match"),
        ("report: {targets: {'iris$(touch PWNED)': 0.9}}", "['report']['targets']", "is not one of"),
        ("cluster: {gpu_partition: 'gpu$(touch PWNED)'}", "['cluster']['gpu_partition']", "does not match"),
        ("cluster: {gpu_account: 'proj; touch PWNED'}", "['cluster']['gpu_account']", "does not match"),
    ],
)
def test_names_with_shell_syntax_are_refused_before_any_job_naming_the_key(setting, key, problem, tmp_path):
    configfile = tmp_path / "config.yaml"
    configfile.write_text(f"datasets: [iris]\noptimizers: [sgd]\nseeds: 1\ntuning: {{enabled: false}}\n{setting}\n")
    result = snakemake(
        tmp_path, "--cores", "1", "results/runs/iris/sgd/0/summary.json", configfile=configfile, check=False
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0 and "Error validating config file" in output
    assert problem in output and f"On instance{key}" in output
    assert _pwned(tmp_path) == [] and not (tmp_path / "results").exists()


def test_discovery_enabled_false_plans_no_discovery_jobs_and_the_report_builds(hardened_run):
    workdir, configfile = hardened_run
    report = (workdir / "results" / "report" / "report.md").read_text()
    assert "## iris" in report and "Optimizer discovery" not in report
    assert not (workdir / "results" / "discovery").exists()
    assert planned_jobs(workdir, *DISCOVERY_OFF, configfile=configfile) == {}
    # The regenerate command keeps the switch, so it too leaves discovery out.
    assert "--config discovery_enabled=false" in _regenerate_command(workdir)
    # The same config with the switch on (its default) has the study's jobs to do.
    planned = planned_jobs(workdir, configfile=configfile)
    assert {"discover": 1, "compare_run": 2, "discovery_section": 1, "report": 1}.items() <= planned.items()


def test_a_changed_genome_file_reruns_exactly_the_runs_that_train_with_it(hardened_run):
    workdir, configfile = hardened_run
    genome = workdir / GENOME_FILE
    original, times = genome.read_bytes(), genome.stat()
    try:
        genome.write_text(original.decode().replace('"use_m": true', '"use_m": false'))
        planned = planned_jobs(workdir, *DISCOVERY_OFF, configfile=configfile)
        # train: evolved's block of seeds 0 and 1 (not sgd's); study_run: the evolved variant's.
        assert planned == {
            "train": 1,
            "study_run": 1,
            "study": 1,
            "aggregate": 1,
            "report_figures": 1,
            "report": 1,
            "all": 1,
        }
    finally:  # the module's run up to date again for the other tests
        genome.write_bytes(original)
        os.utime(genome, ns=(times.st_atime_ns, times.st_mtime_ns))


def _job_resources(output):
    """(rule, wildcards, {resource: value}) of each job of a dry run."""
    jobs, rule, wildcards = [], None, ""
    for line in output.splitlines():
        line = line.strip()
        if match := re.match(r"rule (\w+):$", line):
            rule, wildcards = match.group(1), ""
        elif line.startswith("wildcards: "):
            wildcards = line.removeprefix("wildcards: ")
        elif line.startswith("resources: ") and rule:
            pairs = (item.split("=", 1) for item in line.removeprefix("resources: ").split(", "))
            jobs.append((rule, wildcards, dict(pairs)))
            rule = None
    return jobs


def test_gpu_jobs_go_to_the_gpu_partition_and_account_and_the_others_keep_the_profiles(tmp_path):
    configfile = tmp_path / "config.yaml"
    configfile.write_text(
        "datasets: [iris, digits]\noptimizers: [sgd]\nseeds: 1\ntuning: {enabled: false}\n"
        "studies: [tiny]\nstudy_dir: tests/tiny/studies\n"
        "cluster: {gpu_datasets: [iris], gpu_partition: gpu, gpu_account: gpu_acct}\n"
        + TINY_DISCOVERY.replace("max_steps: 20}", "max_steps: 20, device: cuda}")
    )
    # The profile's defaults, as `default-resources` of slurm/config.yaml would give them.
    output = snakemake(
        tmp_path,
        "--dry-run",
        "--default-resources",
        "slurm_partition=cpu",
        "slurm_account=cpu_acct",
        configfile=configfile,
    ).stdout
    jobs = _job_resources(output)
    asking = [job for job in jobs if job[2].get("gpu") == "1"]
    # The iris training and study runs, the GA, its tuned baseline and its comparison runs
    # (device: cuda) ask for a GPU. (One job per block of seeds: the comparison's per task, the
    # study's per variant.)
    kinds = sorted(block_kind(rule) for rule, _, _ in asking)
    assert kinds == ["compare_run"] * 2 + ["discover"] + ["study_run"] * 2 + ["train", "tune_baseline"]
    for rule, wildcards, resources in jobs:
        gpu = resources.get("gpu") == "1"
        assert resources["slurm_partition"] == ("gpu" if gpu else "cpu"), (rule, wildcards)
        assert resources["slurm_account"] == ("gpu_acct" if gpu else "cpu_acct"), (rule, wildcards)
    assert ("train_seeds_0", "dataset=digits, optimizer=sgd") in [(rule, wildcards) for rule, wildcards, _ in jobs]
