"""The report section of a discovery study: what the GA found, and the discovered rule
against the standard optimizers under the write-up's protocol (its section 5; the runs are
described in neuroevo.config.discovery, loaded and tested in neuroevo.analysis.comparison).
The tables are the write-up's: overall fitness (per seed, the mean over tasks) and fitness
per task, with the best bold and those a test cannot separate from it marked, as in every
table of the report.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd

from neuroevo.analysis.comparison import fitness_tests, load_comparison, load_discovery_summary
from neuroevo.analysis.runs import settings, write_table
from neuroevo.analysis.stats import TEST_NAMES
from neuroevo.config.discovery import comparison_settings
from neuroevo.discovery.study import parse_study
from neuroevo.report.cells import compact, marked
from neuroevo.update_rules import TERM_TYPES, Genome


def _fitness(values: np.ndarray) -> str:
    """Fitness differs in the third decimal: fixed four decimals, "mean ± std" over seeds."""
    return f"{np.mean(values):.4f}" + (f" ± {np.std(values, ddof=1):.4f}" if len(values) > 1 else "")


def fitness_tables(
    runs: pd.DataFrame, optimizers: list[str], tasks: list[str], alpha: float, test: str = "wilcoxon"
) -> tuple[list[str], list[str]]:
    """Markdown lines of the overall table (per seed, the mean over tasks) and of the per-task
    table (neuroevo.analysis.comparison.fitness_tests), plus the names the tests could not
    reach alpha for."""
    columns, tests, untestable = fitness_tests(runs, optimizers, tasks, alpha, test)

    def rows(names: list[str]) -> list[str]:
        lines = []
        for optimizer in optimizers:
            mine = runs[runs["optimizer"] == optimizer]
            diverged = int((mine["status"] == "diverged").sum())
            count = f"{len(mine)}" + (f" ({diverged} diverged)" if diverged else "")
            cells = [
                marked(
                    _fitness(columns[name][optimizer]),
                    tests[name][optimizer]["is_best"],
                    tests[name][optimizer]["tied_with_best"],
                    tests[name][optimizer]["testable"],
                )
                if len(columns[name][optimizer])
                else "-"
                for name in names
            ]
            lines.append(f"| {optimizer} | {count} | {' | '.join(cells)} |")
        return lines

    overall_lines = ["| optimizer | runs | overall fitness |", "|---|---|---:|", *rows(["overall"])]
    task_lines = ["| optimizer | runs | " + " | ".join(tasks) + " |", "|---|---|" + "---:|" * len(tasks), *rows(tasks)]
    return overall_lines + [""] + task_lines, untestable


def test_accuracy_table(runs: pd.DataFrame, optimizers: list[str], tasks: list[str]) -> list[str]:
    lines = ["| optimizer | " + " | ".join(tasks) + " |", "|---|" + "---:|" * len(tasks)]
    for optimizer in optimizers:
        cells = []
        for task in tasks:
            values = runs[(runs["optimizer"] == optimizer) & (runs["task"] == task)]["test_acc"]
            cells.append(f"{values.median():.4f}" if len(values) else "-")
        lines.append(f"| {optimizer} | {' | '.join(cells)} |")
    return lines


def genome_text(genome: Genome) -> str:
    """The rule in one line: its weighted terms and its scalars and flags."""
    terms = " + ".join(
        f"{alpha:.3g}·{TERM_TYPES[term]}" for term, alpha in zip(genome.term_types, genome.alphas, strict=True)
    )
    flags = [
        name
        for name in ("use_m", "use_v", "use_bias_correction", "use_gradient_clipping", "use_warmup", "use_cosine_decay")
        if getattr(genome, name)
    ]
    decay = "none" if genome.wd_log10 is None else f"{10**genome.wd_log10:.2g}"
    return (
        f"update = lr · ({terms}); lr {10**genome.lr_log10:.3g}, beta1 {genome.beta1:.3g}, beta2 {genome.beta2:.4g}, "
        f"eps {10**genome.eps_log10:.2g}, weight decay {decay}; flags: {', '.join(flags) or 'none'}"
    )


def write_section(
    name: str,
    study: dict,
    discovery_dir: str | Path,
    summary_paths: list[str | Path],
    out: str | Path,
    alpha: float = 0.05,
    test: str = "wilcoxon",
) -> None:
    """The report section (Markdown, links relative to its folder) and comparison.parquet beside it."""
    out, discovery_dir = Path(out), Path(discovery_dir)
    tasks, discovery = parse_study(study)
    comparison = comparison_settings(study)
    steps, comparison_seeds = comparison["max_steps"], comparison["seeds"]
    out.parent.mkdir(parents=True, exist_ok=True)
    runs = load_comparison(summary_paths)
    write_table(runs, out.with_name("comparison.parquet"))
    summary = load_discovery_summary(discovery_dir)
    genome = Genome.load(discovery_dir / "best_genome.json")
    task_names = [task.dataset for task in tasks]
    optimizers = [name for name in comparison["optimizers"] if name in set(runs["optimizer"])]
    tables, untestable = fitness_tables(runs, optimizers, task_names, alpha, test)
    task_text = ", ".join(
        f"{task.dataset} ({task.model}{f' {task.hidden}' if task.model == 'mlp' else ''}, {task.subsample} examples)"
        for task in tasks
    )
    figure = os.path.relpath(discovery_dir / "fitness.png", out.parent)
    hyperparameters = {
        optimizer: dict(sorted(settings(group.iloc[0], "hyperparameters").items()))
        for optimizer, group in runs.groupby("optimizer", sort=False)
    }
    lines = [
        f"## Optimizer discovery: `{name}`",
        "",
        "A genetic algorithm over update rules (the optimizer-discovery write-up): population "
        f"{discovery.population}, {discovery.generations} generations, tournaments of {discovery.tournament_size}, "
        f"{discovery.elites} elite(s); fitness = validation accuracy + 0.05 · max(0, 1 − mean training loss of the last 50 steps) "
        f"after {discovery.max_steps} steps, averaged over the tasks {task_text} and seeds {', '.join(map(str, discovery.seeds))}.",
        "",
        f"Best discovery fitness {summary['best_fitness']:.4f} after {summary['generations']} generations "
        f"({', '.join(f'{task} {value:.4f}' for task, value in summary['best_per_task'].items())}). The discovered rule "
        f"(`evolved` below): {genome_text(genome)}.",
        "",
        f"![Fitness by generation]({figure})",
        "",
        f"### Discovered rule against standard optimizers ({steps} steps per task)",
        "",
        f"Each optimizer trains each task for {steps} minibatches on seeds "
        f"{', '.join(map(str, comparison_seeds))} (never the GA's seeds), through the same `train` command as every run; "
        "fitness is that of the discovery, of the last model. Overall fitness: per seed, the mean over tasks.",
        "",
        *tables,
        "",
        f"Mean ± std over seeds. **Bold**: the best mean in the column and any equal to it; †: not significantly different "
        f"from the best (two-sided {TEST_NAMES[test]}, Holm-corrected within each column, p ≥ {alpha}). A diverged run "
        "scores 0 and is counted.",
    ]
    if untestable:
        lines.append(
            f"**Untestable** against the best: {', '.join(untestable)} - with these seeds' non-zero differences and "
            f"this many comparisons no outcome could reach p < {alpha} after correction; marked (untestable), never †."
        )
    lines += [
        "",
        "Test accuracy (model with the best validation loss), median over seeds:",
        "",
        *test_accuracy_table(runs, optimizers, task_names),
        "",
    ]
    lines += ["<details><summary>Hyperparameters and the discovered genome</summary>", ""]
    lines += [
        f"- {optimizer}: " + ", ".join(f"{key} = {value}" for key, value in values.items())
        for optimizer, values in hyperparameters.items()
    ]
    lines += ["", "```json", json.dumps(genome.to_dict(), indent=2), "```", "", "</details>", ""]
    seconds = runs.groupby("optimizer")["train_time_s"].median()
    lines.append(
        "Median seconds of training per run: "
        + ", ".join(f"{optimizer} {compact(seconds[optimizer])}" for optimizer in optimizers)
        + "."
    )
    out.write_text("\n".join(lines) + "\n")
