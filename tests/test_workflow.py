"""The pipeline through Snakemake itself: lint, a tiny study end to end, and reruns."""

import re
import shutil

import pytest

from conftest import REPOSITORY, TINY_CONFIG, snakemake


def planned_jobs(workdir, *extra, **options) -> dict[str, int]:
    """Rule -> number of jobs a dry run would execute."""
    output = snakemake(workdir, "--dry-run", *extra, **options).stdout
    table = output.split("Job stats:")[-1] if "Job stats:" in output else ""
    return {rule: int(count) for rule, count in re.findall(r"^(\w+)\s+(\d+)$", table, re.MULTILINE) if rule != "total"}


def test_lint_is_clean(tmp_path):
    result = snakemake(tmp_path, "--lint", check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Lints for" not in result.stdout + result.stderr


@pytest.fixture(scope="module")
def tiny_study(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("tiny")
    snakemake(workdir, "--cores", "2")
    return workdir


def test_tiny_study_runs_end_to_end_and_reports_a_highlighted_table(tiny_study):
    report = (tiny_study / "results" / "report" / "report.md").read_text()
    assert "## iris" in report
    table = [line for line in report.splitlines() if line.startswith("| ")]
    assert len(table) == 1 + 4  # header + one row per optimizer
    assert any("**" in line for line in table[1:])  # the best of each column in bold
    assert "Mann-Whitney" in report
    assert "Too few seeds to be testable" in report  # 3 seeds cannot reach p < 0.05
    for optimizer in ("sgd", "adam", "cmaes", "layerwise_cmaes"):
        assert (tiny_study / "results" / "runs" / "iris" / optimizer / "2" / "history.parquet").exists()


def test_deleting_one_run_reruns_only_that_run_the_aggregate_and_the_report(tiny_study):
    assert planned_jobs(tiny_study) == {}
    shutil.rmtree(tiny_study / "results" / "runs" / "iris" / "cmaes" / "1")
    assert planned_jobs(tiny_study) == {"train": 1, "aggregate": 1, "report": 1, "all": 1}
    snakemake(tiny_study, "--cores", "2")
    assert planned_jobs(tiny_study) == {}


def test_editing_one_optimizer_block_reruns_only_that_optimizers_jobs(tiny_study, tmp_path):
    edited = tmp_path / "edited.yaml"
    edited.write_text(TINY_CONFIG.read_text() + "optimizer_settings:\n  adam:\n    lr: 0.02\n")
    assert planned_jobs(tiny_study, configfile=edited) == {"train": 3, "aggregate": 1, "report": 1, "all": 1}


def test_snakefmt_is_clean():
    import subprocess
    import sys

    from conftest import tool_environment

    files = [str(REPOSITORY / "Snakefile"), str(REPOSITORY / "workflow")]
    result = subprocess.run(
        [sys.executable, "-m", "snakefmt", "--check", *files], capture_output=True, text=True, env=tool_environment()
    )
    assert result.returncode == 0, result.stdout + result.stderr
