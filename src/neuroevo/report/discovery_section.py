"""The report section of a discovery study: what the GA found, the baselines tuned on its
terms, and the rules against the baselines under the write-up's protocol (its section 5; the
runs are described in neuroevo.config.discovery, loaded and tested in
neuroevo.analysis.comparison). The score is the last model's test accuracy; the GA's fitness
(validation split) is shown apart, as what selected the rule, without significance marks.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import pandas as pd

from neuroevo.analysis.comparison import RULES, SCORE, load_comparison, load_discovery_summary, task_verdicts
from neuroevo.analysis.diverged import is_diverged, score_diverged
from neuroevo.analysis.runs import read_json_object, settings, write_table
from neuroevo.config.discovery import TUNED_SUFFIX, comparison_settings, labels
from neuroevo.discovery.ga import genome_evaluations
from neuroevo.discovery.study import held_out_tasks, parse_study
from neuroevo.report.cells import compact, number, verdict_cells
from neuroevo.report.render import at_bound
from neuroevo.update_rules import TERM_TYPES, Genome

TUNING_KEYS = ("optimizer", "tuned_values", "n_trials", "objective", "search_space")


def _mean_std(values: pd.Series) -> str:
    """Scores differ in the third decimal: fixed four decimals, "mean ± std" over seeds."""
    return f"{values.mean():.4f}" + (f" ± {values.std(ddof=1):.4f}" if len(values) > 1 else "")


def score_table(runs: pd.DataFrame, order: list[str], tasks: list[str], column: str, overall: bool) -> list[str]:
    """Markdown lines: per label and task, mean ± std over seeds of `column`, the highest mean of
    each column bold (a description; the verdicts test); with `overall`, a column of the mean
    over the tasks per seed. Each header states the task's seeds; a diverged run scores 0 (the
    caller's runs are scored by neuroevo.analysis.diverged.score_diverged) and is counted."""
    counts = {task: runs.loc[runs["task"] == task, "seed"].nunique() for task in tasks}
    columns = {
        task: {
            label: runs[(runs["task"] == task) & (runs["label"] == label)].set_index("seed")[column] for label in order
        }
        for task in tasks
    }
    names = list(tasks)
    if overall and len(tasks) > 1:
        wide = runs[runs["task"].isin(tasks)].pivot_table(index=["label", "seed"], columns="task", values=column)
        wide = wide.dropna()
        columns["mean over tasks"] = {
            label: wide.loc[label].mean(axis=1) if label in wide.index.get_level_values(0) else pd.Series(dtype=float)
            for label in order
        }
        counts["mean over tasks"] = int(wide.reset_index()["seed"].nunique())
        names.append("mean over tasks")
    best = {
        name: max((values.mean() for values in columns[name].values() if len(values)), default=math.nan)
        for name in names
    }
    lines = [
        "| optimizer | diverged | " + " | ".join(f"{name} (n = {counts[name]} seeds)" for name in names) + " |",
        "|---|---|" + "---:|" * len(names),
    ]
    for label in order:
        mine = runs[(runs["label"] == label) & runs["task"].isin(tasks)]
        if not len(mine):
            continue
        cells = []
        for name in names:
            values = columns[name][label]
            text = _mean_std(values) if len(values) else "-"
            cells.append(f"**{text}**" if len(values) and values.mean() == best[name] else text)
        diverged = int(is_diverged(mine["status"]).sum())
        lines.append(f"| {_label(label)} | {diverged} | {' | '.join(cells)} |")
    return lines


def _label(label: str) -> str:
    return f"{label[: -len(TUNED_SUFFIX)]} (tuned)" if label.endswith(TUNED_SUFFIX) else label


def _reference(label: str) -> str:
    return _label(label) if label.endswith(TUNED_SUFFIX) else f"{label} (default)"


def verdict_table(rows: list[dict]) -> list[str]:
    lines = [
        "| task | rule | against | n (non-zero) | test accuracy | difference [95% CI] | decisive test | p (Holm) | verdict |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        cells = verdict_cells(row)
        lines.append(
            f"| {row['task']} | {cells['optimizer']} | {_reference(cells['reference'])} | "
            f"{cells['n']} ({cells['n_nonzero']}) | {cells['accuracy']} | {cells['effect']} | {cells['test']} | "
            f"{cells['p_decisive']} | {cells['verdict']} |"
        )
    return lines


def tuning_lines(tuning_paths: list[str | Path], rule_fitness: float | None, evaluations: int) -> list[str]:
    """The tuned baselines' table: their values (flagged at a search-space bound), trials and
    the fitness they reached on the GA's terms, beside the rule's (when a GA ran)."""
    lines = ["| baseline | trials | tuned values | fitness (GA's tasks and seeds) |", "|---|---|---|---:|"]
    if rule_fitness is not None:
        lines.append(f"| the discovered rule (the GA's best) | {evaluations} genomes | - | {rule_fitness:.4f} |")
    for path in tuning_paths:
        result = read_json_object(path, TUNING_KEYS, "baseline tuning result", "rerun its tune_baseline job")
        values = []
        for key, value in result["tuned_values"].items():
            bound = at_bound(value, result["search_space"].get(key, {}))
            shown = number(value) if isinstance(value, float) else str(value)
            values.append(f"{key} {shown}" + (f" (at the {bound} bound)" if bound else ""))
        space = ", ".join(_space_text(key, value) for key, value in result["search_space"].items())
        lines.append(
            f"| {result['optimizer']} | {result['n_trials']} | {', '.join(values)} (over {space}) | "
            f"{result['objective']:.4f} |"
        )
    return lines


def _space_text(key: str, distribution: dict) -> str:
    if distribution.get("distribution") == "categorical":
        return f"{key} in {{{', '.join(map(str, distribution['choices']))}}}"
    return f"{key} in [{number(float(distribution['low']))}, {number(float(distribution['high']))}]"


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


def _ga_lines(
    discovery, tasks, evaluations: int, summary: dict, genome: Genome, discovery_dir: Path, out: Path
) -> list:
    figure = os.path.relpath(discovery_dir / "fitness.png", out.parent)
    return [
        "A genetic algorithm over update rules (the optimizer-discovery write-up): population "
        f"{discovery.population}, {discovery.generations} generations ({evaluations} genomes evaluated), tournaments of "
        f"{discovery.tournament_size}, {discovery.elites} elite(s); fitness = validation accuracy + 0.05 · max(0, 1 − mean "
        f"training loss of the last 50 steps) after {discovery.max_steps} steps, averaged over the tasks "
        f"{_task_text(tasks)} and seeds {', '.join(map(str, discovery.seeds))}.",
        "",
        f"Best discovery fitness {summary['best_fitness']:.4f} after {summary['generations']} generations "
        f"({', '.join(f'{task} {value:.4f}' for task, value in summary['best_per_task'].items())}). The discovered rule "
        f"(`evolved` below): {genome_text(genome)}.",
        "",
        f"![Fitness by generation]({figure})",
        "",
    ]


def _task_text(tasks) -> str:
    return ", ".join(
        f"{task.name} ({'' if task.name == task.dataset else f'{task.dataset}, '}"
        f"{task.model}{f' {task.hidden}' if task.model == 'mlp' else ''}, up to {task.subsample} training examples)"
        for task in tasks
    )


def write_section(
    name: str,
    study: dict,
    discovery_dir: str | Path,
    summary_paths: list[str | Path],
    out: str | Path,
    alpha: float = 0.05,
    margin: float = 0.01,
    tuning_paths: list[str | Path] = (),
) -> None:
    """The report section (Markdown, links relative to its folder), and comparison.parquet and
    comparison_verdicts.parquet beside it."""
    out, discovery_dir = Path(out), Path(discovery_dir)
    tasks, discovery = parse_study(study)
    held_out = [task.name for task in held_out_tasks(study)]
    comparison = comparison_settings(study)
    steps, comparison_seeds = comparison["max_steps"], comparison["seeds"]
    out.parent.mkdir(parents=True, exist_ok=True)
    runs = load_comparison(summary_paths)
    write_table(runs, out.with_name("comparison.parquet"))
    runs = score_diverged(runs)  # a diverged run scores 0 in every table below (neuroevo.analysis.diverged)
    has_ga = "evolved" in labels(study)  # else the published rule alone: no GA ran
    summary = load_discovery_summary(discovery_dir) if has_ga else None
    genome = Genome.load(discovery_dir / "best_genome.json") if has_ga else None
    order = [label for label in labels(study) if label in set(runs["label"])]
    defaults = [label for label in order if label not in RULES and not label.endswith(TUNED_SUFFIX)]
    tuned = [label for label in order if label.endswith(TUNED_SUFFIX)]
    ga_names = [task.name for task in tasks]
    verdicts = [
        row for task in ga_names + held_out for row in task_verdicts(runs, task, defaults, tuned, margin, alpha)
    ]
    pd.DataFrame(verdicts).to_parquet(out.with_name("comparison_verdicts.parquet"), index=False)
    evaluations = genome_evaluations(discovery)
    lines = [f"## Optimizer discovery: `{name}`", ""]
    if has_ga:
        lines += _ga_lines(discovery, tasks, evaluations, summary, genome, discovery_dir, out)
    else:
        lines += [
            f"No GA: this study puts the write-up's published rule (`evolved_prior`) to the tasks {_task_text(tasks)}.",
            "",
        ]
    if tuning_paths:
        lines += [
            "### Baselines tuned on the rule's terms",
            "",
            "Each tuned baseline had an Optuna study (TPE) over the values in its row's search space (by default its "
            "learning rate and its schedule: constant, or linear warmup then cosine decay to 0, as the write-up's "
            "genome), other settings as the default baseline's, on the GA's tasks and seeds "
            f"({', '.join(map(str, discovery.seeds))}) for the GA's {discovery.max_steps} steps per task run, scored "
            "by the GA's fitness: a trial costs what one genome evaluation costs.",
            "",
            *tuning_lines(list(tuning_paths), summary["best_fitness"] if has_ga else None, evaluations),
            "",
        ]
    lines += [
        f"### The rules against standard optimizers ({steps} steps per task)",
        "",
        f"Each optimizer trains each task for {steps} minibatches on seeds {', '.join(map(str, comparison_seeds))} "
        "(never the GA's seeds), through the training loop of every run, and is scored by the **test accuracy "
        "of the last model** (the write-up's protocol scores the last model; the GA and the tuning selected on the "
        "validation split). `evolved` is the discovered rule, `evolved_prior` the write-up's published one; default "
        "baselines run the usual settings, tuned ones the values above with their schedule over these "
        f"{steps} steps. Mean ± std over seeds; **bold**: the highest mean of the column (a description; the "
        "verdicts below test). A diverged run scores 0 and is counted.",
        "",
        *score_table(runs, order, ga_names, SCORE, overall=True),
        "",
    ]
    if held_out:
        lines += [
            f"Held out (tasks the GA never saw: {_task_text(held_out_tasks(study))}), a check of generalization:",
            "",
            *score_table(runs, order, held_out, SCORE, overall=False),
            "",
        ]
    lines += _verdict_lines(verdicts, margin, alpha)
    lines += [
        "<details><summary>Fitness of the last model (validation split: what the GA selects on), hyperparameters and "
        "the discovered genome</summary>",
        "",
        *score_table(runs, order, ga_names + held_out, "fitness", overall=False),
        "",
    ]
    hyperparameters = {
        label: dict(sorted(settings(group.iloc[0], "hyperparameters").items()))
        for label, group in runs.groupby("label", sort=False)
    }
    lines += [
        f"- {_label(label)}: " + ", ".join(f"{key} = {value}" for key, value in values.items())
        for label, values in hyperparameters.items()
    ]
    if genome is not None:
        lines += ["", "```json", json.dumps(genome.to_dict(), indent=2), "```"]
    lines += ["", "</details>", ""]
    seconds = runs.groupby("label")["train_time_s"].median()
    lines.append(
        "Median seconds of training per run: "
        + ", ".join(f"{_label(label)} {compact(seconds[label])}" for label in order)
        + "."
    )
    out.write_text("\n".join(lines) + "\n")


def _verdict_lines(verdicts: list[dict], margin: float, alpha: float) -> list[str]:
    if not verdicts:
        return ["No verdict: the comparison has no rule or no baseline to compare it with.", ""]
    families = sorted({row["family"] for row in verdicts})
    return [
        f"Verdicts: each rule against the task's best default and best tuned baseline (the highest median validation "
        f"accuracy of the last model: picked on validation, compared on test), paired by seed; δ = {number(margin, 3)} "
        f"test accuracy; Holm over the task's {' or '.join(map(str, families))} pairs, α = {alpha}. The difference is "
        "the Hodges-Lehmann estimate (rule − baseline) with its exact signed-rank interval; the decisive test is the "
        "one the verdict rests on (TOST for equivalence, one-sided for worse by more than δ, two-sided for better).",
        "",
        *verdict_table(verdicts),
        "",
    ]
