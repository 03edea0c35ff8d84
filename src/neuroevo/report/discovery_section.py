"""The report section of a discovery study: what the GA found, and the discovered rule
against the standard optimizers under the write-up's protocol (its section 5; the runs are
described in neuroevo.config.discovery). The tables are the write-up's: overall fitness
(per seed, the mean over tasks) and fitness per task, with the best bold and those a test
cannot separate from it marked, as in every table of the report.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd

from neuroevo.config.discovery import comparison_settings
from neuroevo.discovery.study import parse_study
from neuroevo.analysis.stats import TEST_NAMES, compare_with_best
from neuroevo.report.study_section import compact
from neuroevo.analysis.runs import load_summary, read_json_object
from neuroevo.update_rules import TERM_TYPES, Genome

COLUMNS = ("status", "fitness", "final_val_acc", "final_train_loss", "test_acc", "steps", "train_time_s")


def load_comparison(summary_paths: list[str | Path]) -> pd.DataFrame:
    """One row per run (task, optimizer, seed) from .../comparison/TASK/OPTIMIZER/SEED/summary.json."""
    rows = []
    for path in map(Path, summary_paths):
        summary = load_summary(path, ("optimizer", "seed", *COLUMNS, "hyperparameters"))
        rows.append({
            "task": path.parents[2].name,
            "optimizer": summary["optimizer"],
            "seed": summary["seed"],
            **{column: summary[column] for column in COLUMNS},
            "hyperparameters": json.dumps(summary["hyperparameters"], sort_keys=True),
        })
    return pd.DataFrame(rows)


def load_discovery_summary(discovery_dir: str | Path) -> dict:
    """The GA's summary.json, refused by name if damaged."""
    path = Path(discovery_dir) / "summary.json"
    # The GA's folder also holds the comparison runs: redo the GA alone, never delete the folder.
    return read_json_object(path, ("best_fitness", "generations", "best_per_task"), "discovery summary",
                            f"rerun the discovery with snakemake --forcerun {path}")


def _cell(values: np.ndarray, result: dict) -> str:
    text = f"{np.mean(values):.4f}" + (f" ± {np.std(values, ddof=1):.4f}" if len(values) > 1 else "")
    if result["is_best"]:
        return f"**{text}**"
    return f"{text} †" if result["tied_with_best"] else text


def fitness_tables(runs: pd.DataFrame, optimizers: list[str], tasks: list[str], alpha: float, test: str = "wilcoxon") -> tuple[list[str], list[str]]:
    """Markdown lines of the overall table (per seed, the mean over tasks) and of the per-task
    table, plus the names the tests could not reach alpha for."""
    overall = runs.pivot_table(index=["optimizer", "seed"], columns="task", values="fitness").dropna()
    empty = pd.Series(dtype=float)
    overall_samples = {name: overall.loc[name].mean(axis=1) if name in overall.index else empty for name in optimizers}
    columns = {"overall": overall_samples}
    for task in tasks:
        by_task = runs[runs["task"] == task]
        columns[task] = {name: by_task[by_task["optimizer"] == name].set_index("seed")["fitness"] for name in optimizers}
    # An optimizer can be bold in a column only if some of its runs there did not diverge.
    sound = runs[runs["status"] != "diverged"]
    eligible = {"overall": set(sound["optimizer"])} | {task: set(sound[sound["task"] == task]["optimizer"]) for task in tasks}
    tests = {column: compare_with_best(samples, False, alpha, test, eligible[column]) for column, samples in columns.items()}
    untestable = sorted({name for results in tests.values() for name, result in results.items() if not result["testable"] and not result["is_best"]})

    def rows(names: list[str]) -> list[str]:
        lines = []
        for optimizer in optimizers:
            mine = runs[runs["optimizer"] == optimizer]
            diverged = int((mine["status"] == "diverged").sum())
            count = f"{len(mine)}" + (f" ({diverged} diverged)" if diverged else "")
            cells = [_cell(columns[name][optimizer], tests[name][optimizer]) if len(columns[name][optimizer]) else "-" for name in names]
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
    terms = " + ".join(f"{alpha:.3g}·{TERM_TYPES[term]}" for term, alpha in zip(genome.term_types, genome.alphas))
    flags = [name for name in ("use_m", "use_v", "use_bias_correction", "use_gradient_clipping", "use_warmup", "use_cosine_decay") if getattr(genome, name)]
    decay = "none" if genome.wd_log10 is None else f"{10 ** genome.wd_log10:.2g}"
    return (
        f"update = lr · ({terms}); lr {10 ** genome.lr_log10:.3g}, beta1 {genome.beta1:.3g}, beta2 {genome.beta2:.4g}, "
        f"eps {10 ** genome.eps_log10:.2g}, weight decay {decay}; flags: {', '.join(flags) or 'none'}"
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
    runs.to_parquet(out.with_name("comparison.parquet"), index=False)
    summary = load_discovery_summary(discovery_dir)
    genome = Genome.load(discovery_dir / "best_genome.json")
    task_names = [task.dataset for task in tasks]
    optimizers = [name for name in comparison["optimizers"] if name in set(runs["optimizer"])]
    tables, untestable = fitness_tables(runs, optimizers, task_names, alpha, test)
    task_text = ", ".join(f"{task.dataset} ({task.model}{f' {task.hidden}' if task.model == 'mlp' else ''}, {task.subsample} examples)" for task in tasks)
    figure = os.path.relpath(discovery_dir / "fitness.png", out.parent)
    hyperparameters = {optimizer: json.loads(group["hyperparameters"].iloc[0]) for optimizer, group in runs.groupby("optimizer", sort=False)}
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
        f"Mean ± std over seeds. **Bold**: the best mean in the column; †: not significantly different from the best "
        f"(two-sided {TEST_NAMES[test]}, Holm-corrected within each column, p ≥ {alpha}). A diverged run scores 0 and is counted.",
    ]
    if untestable:
        lines.append(
            f"**Too few seeds to be testable** for {', '.join(untestable)}: with these sample sizes and this many "
            f"comparisons no outcome can reach p < {alpha} after correction, so † there means \"untested\", not \"equal\"."
        )
    lines += ["", "Test accuracy (model with the best validation loss), median over seeds:", "", *test_accuracy_table(runs, optimizers, task_names), ""]
    lines += ["<details><summary>Hyperparameters and the discovered genome</summary>", ""]
    lines += [f"- {optimizer}: " + ", ".join(f"{key} = {value}" for key, value in values.items()) for optimizer, values in hyperparameters.items()]
    lines += ["", "```json", json.dumps(genome.to_dict(), indent=2), "```", "", "</details>", ""]
    seconds = runs.groupby("optimizer")["train_time_s"].median()
    lines.append("Median seconds of training per run: " + ", ".join(f"{optimizer} {compact(seconds[optimizer])}" for optimizer in optimizers) + ".")
    out.write_text("\n".join(lines) + "\n")
