"""The pipeline through Snakemake itself: lint, a tiny study end to end, and reruns."""

import re
import shutil
import zipfile
from pathlib import Path

import pytest
from conftest import REPOSITORY, TINY_CONFIG, snakemake


def block_kind(rule: str) -> str:
    """The kind of a block rule's name (train, pilot, study_run, compare_run), else the name itself."""
    for kind in ("train", "pilot", "study_run", "compare_run"):
        if rule == kind or rule.startswith(f"{kind}_") and "_seeds_" in rule:
            return kind
    return rule


def planned_jobs(workdir, *extra, raw: bool = False, **options) -> dict[str, int]:
    """Rule -> number of jobs a dry run would execute; the rules of blocks of runs counted
    under their kind (train_seeds_0_to_2 as train) unless `raw`."""
    output = snakemake(workdir, "--dry-run", *extra, **options).stdout
    table = output.split("Job stats:")[-1] if "Job stats:" in output else ""
    planned: dict[str, int] = {}
    for rule, count in re.findall(r"^(\w+)\s+(\d+)$", table, re.MULTILINE):
        if rule != "total":
            kind = rule if raw else block_kind(rule)
            planned[kind] = planned.get(kind, 0) + int(count)
    return planned


def test_lint_is_clean(tmp_path):
    result = snakemake(tmp_path, "--lint", check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Lints for" not in result.stdout + result.stderr


@pytest.fixture(scope="module")
def tiny_study(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("tiny")
    snakemake(workdir, "--cores", "2")
    return workdir


FIGURES = ("iris_cost.png", "iris_test_acc.png", "iris_ecdf.png", "iris_ladder.png")


def test_tiny_study_runs_end_to_end_and_reports_a_highlighted_table(tiny_study):
    report = (tiny_study / "results" / "report" / "report.md").read_text()
    # The report opens with the primary endpoint, the answer in words and the verdict by budget.
    opening = [report.index(heading) for heading in ("## Primary endpoint", "## The answer", "## Verdict by budget")]
    assert opening == sorted(opening) and opening[-1] < report.index("## Setup")
    assert "On iris (B = 1M FLOPs per run, set by hand" in report
    assert "## iris" in report
    lines = report.splitlines()
    for title in ("### iris: Early stopping (secondary)", "### iris: Equal budget, top rung (1x B = 1M FLOPs per run)"):
        start = lines.index(
            next(line for line in lines[lines.index(title) :] if line.startswith("| optimizer | runs |"))
        )
        table = lines[start : start + 6]
        assert len(table) == 6 and table[-1].startswith("| layerwise_cmaes")  # header, rule, one row per optimizer
        assert any("**" in line for line in table[2:])  # the best of each compared column in bold
        assert all(cell.count("**") == 0 for line in table[2:] for cell in line.split("|")[4:6])  # epochs, time
    rows = [line for line in lines if line.startswith("| ")]
    assert "(untestable)" in report and not any(" †" in line for line in rows)  # 3 seed pairs cannot reach p < 0.05
    verdicts = [line for line in lines if line.startswith("| 1x | cmaes | adam |")]  # the dataset's ladder rows
    assert verdicts and all("inconclusive (n = 3 seed pairs" in line for line in verdicts)
    compact = [line for line in lines if line.startswith("| iris | cmaes | adam |")]  # the verdict by budget
    assert compact and all("| incon. " in line and "not within 1x" in line for line in compact)
    for heading in (
        "Effects on test accuracy",
        "| optimizer | seed pairs | p Wilcoxon | p Mann-Whitney | A12 |",
        "Cost to reach each target validation accuracy",
        "No rank test across datasets: 1 dataset(s)",
        "forward-equivalent FLOPs",
        "Config hash: `",
        "Regenerate: `snakemake",
    ):
        assert heading in report
    for figure in FIGURES:
        assert (tiny_study / "results" / "report" / "figures" / figure).stat().st_size > 10_000
        assert f"](figures/{figure})" in report
    for optimizer in ("sgd", "adam", "cmaes", "layerwise_cmaes"):
        assert (tiny_study / "results" / "runs" / "iris" / optimizer / "2" / "history.parquet").exists()


def test_snakemakes_own_report_registers_the_figures_and_tables(tiny_study):
    snakemake(tiny_study, "--report", "report.zip")
    with zipfile.ZipFile(tiny_study / "report.zip") as archive:
        names = {Path(name).name for name in archive.namelist()}
    assert {
        "report.html",
        "report.md",
        "metrics.csv",
        "tests.csv",
        "cost_to_target.csv",
        "verdicts.csv",
        "parity.csv",
        *FIGURES,
    } <= names


def test_deleting_one_run_reruns_only_its_block_the_aggregate_and_the_report(tiny_study):
    assert planned_jobs(tiny_study) == {}
    figure = tiny_study / "results" / "report" / "figures" / "iris_cost.png"
    before = figure.stat().st_mtime_ns
    runs = tiny_study / "results" / "runs" / "iris"
    untouched = {path: path.read_text() for path in runs.glob("*/*/summary.json")}
    shutil.rmtree(runs / "cmaes" / "1")
    planned = planned_jobs(tiny_study, raw=True)
    assert planned == {"train_seeds_0_to_2": 1, "aggregate": 1, "report_figures": 1, "report": 1, "all": 1}
    snakemake(tiny_study, "--cores", "2")
    assert planned_jobs(tiny_study) == {}
    # The block's other runs were restored as they were, not trained again; no other block ran.
    assert {path: path.read_text() for path in untouched if "cmaes/1/" not in path.as_posix()} == {
        path: text for path, text in untouched.items() if "cmaes/1/" not in path.as_posix()
    }
    log = (tiny_study / "results" / "logs" / "train" / "iris" / "cmaes" / "seeds_0_to_2.log").read_text()
    assert log.count("restored the finished result") == 2
    assert (runs / "cmaes" / "1" / "summary.json").exists()
    assert figure.stat().st_mtime_ns > before  # figures and tables redrawn from all current runs


def test_editing_one_optimizer_block_reruns_only_that_optimizers_jobs(tiny_study, tmp_path):
    edited = tmp_path / "edited.yaml"
    edited.write_text(TINY_CONFIG.read_text() + "optimizer_settings:\n  adam:\n    lr: 0.02\n")
    planned = planned_jobs(tiny_study, configfile=edited)
    # adam's block, its pilot runs and the budget job (the report shows what the rule gives beside
    # iris's B set by hand, which the other runs read from their specs: none of them reruns)
    assert planned == {"train": 1, "pilot": 1, "budget": 1, "aggregate": 1, "report_figures": 1, "report": 1, "all": 1}


def test_snakefmt_is_clean():
    import subprocess
    import sys

    from conftest import tool_environment

    files = [str(REPOSITORY / "Snakefile"), str(REPOSITORY / "workflow")]
    result = subprocess.run(
        [sys.executable, "-m", "snakefmt", "--check", *files], capture_output=True, text=True, env=tool_environment()
    )
    assert result.returncode == 0, result.stdout + result.stderr
