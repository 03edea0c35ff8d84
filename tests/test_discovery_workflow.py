"""Discovery studies through Snakemake: the `discover` rule writes the best genome, its
history and figure; a bad discovery block is refused before any job, naming the key."""

from conftest import TINY_CONFIG, snakemake

TINY_DISCOVERY = """
discovery:
  tiny:
    tasks: [{dataset: iris, hidden: 8, batch_size: 16}]
    settings: {population: 3, generations: 2, tournament_size: 2, max_steps: 20}
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


def test_a_bad_discovery_block_is_refused_before_any_job(tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text(TINY_CONFIG.read_text() + TINY_DISCOVERY.replace("max_steps", "max_stepz"))
    result = snakemake(tmp_path, "--dry-run", configfile=config, check=False)
    assert result.returncode != 0
    assert "max_stepz" in result.stdout + result.stderr
    assert not (tmp_path / "results").exists()
