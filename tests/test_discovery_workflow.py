"""Discovery studies through Snakemake: the `discover` rule writes the best genome, its
history and figure; the comparison runs through `train` and the section joins the report;
a bad discovery block is refused before any job, naming the key."""

import json
import re

import pandas as pd
import pytest
from conftest import TINY_CONFIG, snakemake

TINY_DISCOVERY = """
discovery:
  tiny:
    tasks: [{dataset: iris, hidden: 8, batch_size: 16}]
    settings: {population: 3, generations: 2, tournament_size: 2, max_steps: 20}
    comparison: {optimizers: [evolved, adam], seeds: [10, 11], max_steps: 30}
"""


def test_discover_rule_writes_the_best_genome_history_and_figure(tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text(TINY_CONFIG.read_text() + TINY_DISCOVERY)
    snakemake(tmp_path, "--cores", "2", "results/discovery/tiny/best_genome.json", configfile=config)
    out = tmp_path / "results" / "discovery" / "tiny"
    for name in ("best_genome.json", "history.parquet", "fitness.png", "summary.json"):
        assert (out / name).stat().st_size > 0
    # Rerunning finds it done: the checkpoint does not make it run again.
    again = snakemake(tmp_path, "--cores", "2", "results/discovery/tiny/best_genome.json", configfile=config)
    assert "Nothing to be done" in again.stdout + again.stderr


def test_the_discovered_rule_is_compared_and_its_section_joins_the_report(tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text(TINY_CONFIG.read_text() + TINY_DISCOVERY)
    snakemake(tmp_path, "--cores", "2", configfile=config)
    out = tmp_path / "results" / "discovery" / "tiny"
    summary = json.loads((out / "comparison" / "iris" / "evolved" / "11" / "summary.json").read_text())
    assert (
        summary["steps"] == 30
        and summary["hyperparameters"]["genome_file"] == "results/discovery/tiny/best_genome.json"
    )
    assert summary["hyperparameters"]["total_steps"] == 30
    section = (out / "section.md").read_text()
    assert "| optimizer | runs | overall fitness |" in section and "| optimizer | runs | iris |" in section
    assert "**Untestable** against the best:" in section  # 2 seeds against 2
    report = (tmp_path / "results" / "report" / "report.md").read_text()
    assert "## Optimizer discovery: `tiny`" in report and "](../discovery/tiny/fitness.png)" in report
    assert len(pd.read_parquet(out / "comparison.parquet")) == 4
    # A longer comparison reruns the comparison, not the GA.
    config.write_text(TINY_CONFIG.read_text() + TINY_DISCOVERY.replace("max_steps: 30", "max_steps: 40"))
    planned = snakemake(tmp_path, "--dry-run", configfile=config).stdout
    # Its 2 optimizers x 2 seeds on iris: a block of seeds per optimizer.
    assert re.search(r"^compare_run_tiny_seeds_10_to_11\s+2$", planned, re.MULTILINE) and not re.search(
        r"^discover\s", planned, re.MULTILINE
    )


@pytest.mark.parametrize(
    "old, new, message",
    [
        ("max_steps", "max_stepz", "max_stepz"),  # the schema's refusal
        (
            "seeds: [10, 11]",
            "seeds: [0, 11]",
            "discovery.tiny: comparison.seeds: seed(s) 0 are also the GA's settings.seeds",
        ),
    ],
)
def test_a_bad_discovery_block_is_refused_before_any_job(old, new, message, tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text(TINY_CONFIG.read_text() + TINY_DISCOVERY.replace(old, new))
    result = snakemake(tmp_path, "--dry-run", configfile=config, check=False)
    assert result.returncode != 0
    assert message in result.stdout + result.stderr
    assert not (tmp_path / "results").exists()
