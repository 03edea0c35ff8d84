"""Runs in blocks: a job trains the runs of one (dataset, optimizer) or (study, variant) for
consecutive seeds, `runs_per_job` of them, in one process (torch imported and the data read
once), each run in its own folder as before. The workflow defines one rule per block of seeds
(a rule's outputs are patterns, so a block's run folders must be spelled out): the rules of
the main runs, of each study and of each discovery comparison, named after their seeds.
"""

from __future__ import annotations

from neuroevo.config.discovery import comparison_settings
from neuroevo.config.studies import study_seeds
from neuroevo.config.workflow import study_settings, training_settings


def seed_blocks(seeds: list[int], runs_per_job: int) -> list[list[int]]:
    """The seeds, in their order, cut into consecutive blocks of `runs_per_job` (the last may
    be shorter). Added seeds form new blocks; the earlier ones keep theirs unless the last was
    short, which then grows (its finished runs are restored, not retrained)."""
    if runs_per_job < 1:
        raise ValueError(f"runs_per_job must be at least 1, got {runs_per_job}")
    return [seeds[start : start + runs_per_job] for start in range(0, len(seeds), runs_per_job)]


def seeds_label(block: list[int]) -> str:
    """seeds_0_to_4 (a block of one seed: seeds_3): a block's log file and rule name end so."""
    return f"seeds_{block[0]}_to_{block[-1]}" if len(block) > 1 else f"seeds_{block[0]}"


def block_name(kind: str, block: list[int], owner: str = "") -> str:
    """The block's rule name: train_seeds_0_to_4, study_run_ga_gamma_seeds_0_to_4,
    compare_run_small_seeds_100_to_107."""
    return "_".join(filter(None, (kind, owner, seeds_label(block))))


def _runs_per_job(config: dict, trainings: list[dict]) -> int:
    """A run under a wall-time budget is measured again rather than restored (its result is
    the machine's), so a rerun of its block would retrain the others: such runs get a job each."""
    return 1 if any(training.get("max_seconds") for training in trainings) else config["runs_per_job"]


def main_blocks(config: dict) -> list[list[int]]:
    trainings = [training_settings(config, dataset) for dataset in config["datasets"]]
    return seed_blocks(study_seeds(config), _runs_per_job(config, trainings))


def comparison_blocks(config: dict) -> dict[str, list[list[int]]]:
    """Each discovery study's blocks of comparison seeds (every study's, enabled or not: each
    is a target of its own)."""
    return {
        name: seed_blocks(comparison_settings(study)["seeds"], config["runs_per_job"])
        for name, study in config["discovery"].items()
    }


def study_names(config: dict) -> list[str]:
    """The studies whose runs the workflow defines: those listed in `studies`. Only they are
    read: a study file merely lying in study_dir costs nothing (one of 100,000 seeds made
    every `snakemake` call take half a minute when every file there was read)."""
    return list(config["studies"])


def study_blocks(config: dict, study: dict) -> list[list[int]]:
    trainings = [study_settings(config, study, variant)["training"] for variant in study["variants"]]
    return seed_blocks(study_seeds(study), _runs_per_job(config, trainings))
