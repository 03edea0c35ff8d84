"""Discovery studies through Snakemake: the `discover` rule writes the best genome, its
history and figure; a baseline is tuned on the GA's tasks; the comparison (a held-out task
too) runs through `train` and the section joins the report; a bad discovery block is refused
before any job, naming the key."""

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
    comparison:
      optimizers: [evolved, adam]
      tuned: [adam]
      tuning: {trials: 2, startup_trials: 1}
      held_out: [{name: iris_narrow, dataset: iris, hidden: 4, batch_size: 16}]
      seeds: [10, 11]
      max_steps: 30
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
    # The tuned baseline runs its tuning's values, its schedule over the comparison's steps.
    tuning = json.loads((out / "tuning" / "adam.json").read_text())
    assert tuning["n_trials"] == 2 and set(tuning["tuned_values"]) == {"lr", "schedule"}
    tuned = json.loads((out / "comparison" / "iris_narrow" / "adam_tuned" / "10" / "summary.json").read_text())
    assert {key: tuned["hyperparameters"][key] for key in tuning["tuned_values"]} == tuning["tuned_values"]
    assert tuned["hyperparameters"]["total_steps"] == 30 and tuned["model"]["hidden"] == 4
    section = (out / "section.md").read_text()
    assert "### Baselines tuned on the rule's terms" in section and "| adam | 2 |" in section
    assert "| optimizer | diverged | iris (n = 2 seeds) |" in section
    assert "Held out (tasks the GA never saw: iris_narrow" in section
    assert "| iris_narrow | evolved | adam (default) | 2 (" in section
    assert "inconclusive (n = 2 seed pairs" in section  # 2 seeds can never decide
    report = (tmp_path / "results" / "report" / "report.md").read_text()
    assert "## Optimizer discovery: `tiny`" in report and "](../discovery/tiny/fitness.png)" in report
    assert len(pd.read_parquet(out / "comparison.parquet")) == 2 * 3 * 2  # tasks x labels x seeds
    # A longer comparison reruns the comparison, not the GA nor the tuning.
    config.write_text(TINY_CONFIG.read_text() + TINY_DISCOVERY.replace("max_steps: 30", "max_steps: 40"))
    planned = snakemake(tmp_path, "--dry-run", configfile=config).stdout
    # One job per task and block of seeds trains its 3 labels.
    assert re.search(r"^compare_run_tiny_seeds_10_to_11\s+2$", planned, re.MULTILINE)
    assert not re.search(r"^(discover|tune_baseline)\s", planned, re.MULTILINE)


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
