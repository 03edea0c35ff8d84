"""One study's report section: its figures and a Markdown file (study.md) with the
question, what ran, the figures, a table of final accuracies per variant and, for a study
with `verdict: true`, each evolutionary variant's verdict against the best gradient one.
Runs with a FLOP budget (training.budget_flops) are read at the end of it (the equal-budget
arm: a run that diverged first scores 0 and is counted, neuroevo.analysis.diverged); the others
at their best-validation-loss model.

Runs are read from the summaries passed in (a study's run folders are
STUDY_DIR/VARIANT/SEED/summary.json, which is where the variant comes from), so runs of
variants no longer in the study file never mix in. Links in study.md are relative to its
folder; `rebased` rewrites them for a document elsewhere (the main report).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pandas as pd

from neuroevo.analysis.diverged import RULE, is_diverged, scored
from neuroevo.analysis.runs import load_history, load_runs, run_summary
from neuroevo.analysis.verdict import best_gradient, diverged_columns, paired_verdicts, reference_absence
from neuroevo.config.defaults import ALIGNMENT_SIGMA
from neuroevo.report.cells import compact, median_iqr, number, verdict_cells
from neuroevo.report.plots import alignment_by_seed, plot_alignment, plot_curves

# What the section reads of each run; a summary without them is refused by name.
RUN_KEYS = (
    "seed",
    "optimizer_kind",
    "status",
    "val_acc",
    "test_acc",
    "epochs",
    "sample_evals",
    "model",
    "n_parameters",
    "training",
    "hyperparameters",
)


def variant_runs(summary_paths: list[str | Path]) -> dict[str, list[tuple[dict, pd.DataFrame]]]:
    """Variant -> [(summary, history)] in seed order."""
    paths = sorted(map(Path, summary_paths), key=lambda path: (path.parent.parent.name, int(path.parent.name)))
    summaries = [run_summary(row) for row in load_runs(paths, RUN_KEYS).to_dict("records")]
    runs: dict[str, list[tuple[dict, pd.DataFrame]]] = {}
    for path, summary in zip(paths, summaries, strict=True):
        runs.setdefault(path.parent.parent.name, []).append((summary, load_history(path)))
    return runs


def _settings_text(settings: dict) -> str:
    return ", ".join(f"{key} = {value}" for key, value in settings.items()) or "-"


def budgeted(runs: dict[str, list[tuple[dict, pd.DataFrame]]]) -> bool:
    """Whether every run had a FLOP budget: the section then reads each at the end of it."""
    summaries = [summary for entries in runs.values() for summary, _ in entries]
    return bool(summaries) and all(isinstance(summary.get("budget_status"), str) for summary in summaries)


def _score(summary: dict, key: str, budget: bool) -> float:
    """A run's `key` in the section's arm: at the end of its FLOP budget, or of its best model.
    At the end of the budget an accuracy of a run that diverged first is 0, as the main report's
    equal-budget arm scores it (neuroevo.analysis.diverged)."""
    if not budget:
        return summary[key]
    return scored(summary[f"budget_{key}"], summary["budget_status"], key)


def results_table(study: dict, runs: dict[str, list[tuple[dict, pd.DataFrame]]]) -> list[str]:
    """Markdown rows: per variant, final validation and test accuracy, epochs and sample
    evaluations (with a FLOP budget: at its end, and the FLOPs), as median [IQR] over seeds."""
    budget = budgeted(runs)
    keys = ("val_acc", "test_acc", "epoch" if budget else "epochs", "sample_evals") + (("flops",) if budget else ())
    lines = [
        "| variant | optimizer | settings | runs | val acc | test acc | epochs | sample evals |"
        + (" FLOPs |" if budget else ""),
        "|---|---|---|---|---|---|---|---|" + ("---|" if budget else ""),
    ]
    for label, variant in study["variants"].items():
        summaries = [summary for summary, _ in runs.get(label, [])]
        diverged = sum(bool(is_diverged(_score(summary, "status", budget))) for summary in summaries)
        count = f"{len(summaries)}" + (f" ({diverged} diverged)" if diverged else "")
        cells = [median_iqr([_score(summary, key, budget) for summary in summaries]) for key in keys]
        lines.append(
            f"| {label} | {variant['optimizer']} | {_settings_text(variant.get('settings', {}))} | {count} | {' | '.join(cells)} |"
        )
    return lines


def _results_note(runs: dict[str, list[tuple[dict, pd.DataFrame]]]) -> str:
    if not budgeted(runs):
        return "Median [interquartile range] over seeds; accuracies of the model with the best validation loss."
    budgets = sorted({summary["training"]["budget_flops"] for entries in runs.values() for summary, _ in entries})
    return (
        f"Median [interquartile range] over seeds; every run is read at the end of its budget of "
        f"{' or '.join(compact(value) for value in budgets)} forward-equivalent FLOPs (the model there, mid-epoch; "
        f"epochs are fractional), whatever its validation loss did before; {RULE}."
    )


def verdict_lines(runs: dict[str, list[tuple[dict, pd.DataFrame]]], margin: float, alpha: float) -> list[str]:
    """Each evolutionary variant against the gradient variant of the highest median validation
    accuracy (picked on validation, compared on test; never one any of whose runs diverged),
    paired by seed, as the report's datasets: a diverged run scores 0 at the end of a budget and
    is counted in its row ("k of n diverged")."""
    budget = budgeted(runs)
    columns = ["optimizer", "optimizer_kind", "seed", "status", "val_acc", "test_acc"]
    rows = [
        {
            "optimizer": label,
            "optimizer_kind": summary["optimizer_kind"],
            "seed": summary["seed"],
            "status": _score(summary, "status", budget),
            "val_acc": _score(summary, "val_acc", budget),
            "test_acc": _score(summary, "test_acc", budget),
        }
        for label, entries in runs.items()
        for summary, _ in entries
    ]
    frame = pd.DataFrame(rows, columns=columns)
    reference = best_gradient(frame)
    evolutionary = list(dict.fromkeys(frame.loc[frame["optimizer_kind"] == "evolution", "optimizer"]))
    if not evolutionary or not (frame["optimizer_kind"] == "gradient").any():
        return ["No verdict: the study needs a gradient variant and an evolutionary one.", ""]
    if reference is None:
        return [f"No verdict: {reference_absence(frame, 'variant')}.", ""]
    by_seed = frame.pivot_table(index="seed", columns="optimizer", values="test_acc")
    verdicts = paired_verdicts(by_seed, [(label, reference) for label in evolutionary], margin, alpha)
    family = f"{len(verdicts)} variant{'s' if len(verdicts) != 1 else ''}"
    lines = [
        f"Verdicts: each evolutionary variant against `{reference}`, the gradient variant of the highest median "
        f"validation accuracy (picked on validation, compared on test; never one with a diverged run), on test "
        f"accuracy{' at the end of the budget' if budget else ''}, paired by seed"
        f"{' (' + RULE + ')' if budget else ''}; δ = {number(margin, 3)} test accuracy; "
        f"Holm over the {family}, α = {alpha}. The difference is the Hodges-Lehmann estimate (evolutionary − "
        "gradient) with its exact signed-rank 95% interval; the decisive test is the one the verdict rests on "
        "(TOST for equivalence, one-sided for worse by more than δ, two-sided for better).",
        "",
        "| variant | against | n (non-zero) | test accuracy (mean) | difference [95% CI] | decisive test | p (Holm) | verdict |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in verdicts:
        cells = verdict_cells(row | diverged_columns(frame, row["optimizer"], reference))
        lines.append(
            f"| {cells['optimizer']} | {cells['reference']} | {cells['n']} ({cells['n_nonzero']}) | {cells['accuracy']} | "
            f"{cells['effect']} | {cells['test']} | {cells['p_decisive']} | {cells['verdict']} |"
        )
    return [*lines, ""]


def model_text(model: dict) -> str:
    """The model in words, from a summary's model block."""
    if model.get("kind", "mlp") == "cnn":
        return "CNN (two 3x3 convolutions with max pooling, then a linear classifier)"
    hidden = model["hidden"]
    widths = "-".join(map(str, hidden)) if isinstance(hidden, list | tuple) else str(hidden)
    layers = "hidden units" if not isinstance(hidden, list | tuple) or len(hidden) == 1 else "hidden units per layer"
    return f"MLP with {widths} {layers} ({model['activation']})"


def _setup_lines(name: str, study: dict, runs: dict[str, list[tuple[dict, pd.DataFrame]]]) -> list[str]:
    """Dataset, model, seeds and the resolved settings the runs used (from their summaries)."""
    # The shared training settings are those of a variant without training keys of its own.
    plain = [label for label, entries in runs.items() if entries and not study["variants"][label].get("training")]
    first = runs[plain[0]][0][0] if plain else next((entries[0][0] for entries in runs.values() if entries), None)
    lines = [f"Study `{name}`, dataset `{study['dataset']}`."]
    if first:
        lines[0] += f" {model_text(first['model'])}, {first['n_parameters']:,} parameters."
        lines.append(f"Training: {_settings_text(first['training'])}.")
        for label, entries in runs.items():
            own = (
                {key: value for key, value in entries[0][0]["training"].items() if first["training"].get(key) != value}
                if entries
                else {}
            )
            if own:
                lines.append(f"Variant `{label}` differs: {_settings_text(own)}.")
    seeds = sorted({summary["seed"] for entries in runs.values() for summary, _ in entries})
    lines.append(
        f"Seeds: {', '.join(map(str, seeds))}. Every figure shows the median over seeds (line) and the interquartile range (band)."
    )
    lines += ["", "<details><summary>Hyperparameters of each variant</summary>", ""]
    for label, entries in runs.items():
        if entries:
            lines.append(f"- {label}: {_settings_text(entries[0][0]['hyperparameters'])}")
    lines += ["", "</details>"]
    return lines


def alignment_table(alignment: pd.DataFrame) -> list[str]:
    """Median cosine similarity over seeds: one row per hidden size, one column per pairs."""
    table = (
        alignment_by_seed(alignment)
        .groupby(["hidden", "n_parameters", "pairs"])["cosine_similarity"]
        .median()
        .unstack()
    )
    lines = ["| hidden | parameters | " + " | ".join(f"{pairs} pairs" for pairs in table.columns) + " |"]
    lines.append("|---|---|" + "---|" * len(table.columns))
    for (hidden, n_parameters), row in table.iterrows():
        lines.append(f"| {hidden} | {n_parameters:,} | " + " | ".join(f"{value:.3f}" for value in row) + " |")
    return lines


def write_study_section(
    name: str,
    study: dict,
    summary_paths: list[str | Path],
    out: str | Path,
    figures_dir: str | Path,
    alignment_path: str | Path | None = None,
    missing_data: str | None = None,
    margin: float = 0.01,
    alpha: float = 0.05,
) -> None:
    """study.md at `out` and its figures; with `missing_data` (why nothing ran) the section
    says that in place of results."""
    out, figures_dir = Path(out), Path(figures_dir)
    figures_dir.mkdir(parents=True, exist_ok=True)
    if missing_data:
        out.parent.mkdir(parents=True, exist_ok=True)
        heading = [f"## {study['title']}", "", study["question"].strip(), ""]
        out.write_text("\n".join([*heading, f"Study `{name}`, dataset `{study['dataset']}`: {missing_data}.", ""]))
        return
    runs = variant_runs(summary_paths)
    histories = {label: [history for _, history in runs.get(label, [])] for label in study["variants"]}

    def link(title: str, path: Path) -> str:
        return f"![{title}]({os.path.relpath(path, out.parent)})"

    lines = [f"## {study['title']}", "", study["question"].strip(), "", *_setup_lines(name, study, runs), ""]
    lines += [
        *results_table(study, runs),
        "",
        _results_note(runs),
        "",
    ]
    if study.get("verdict"):
        lines += verdict_lines(runs, margin, alpha)
    for figure in study["figures"]:
        path = figures_dir / f"{figure['name']}.png"
        plot_curves(histories, figure, path)
        lines += [link(figure.get("title") or f"{figure['y']} vs {figure['x']}", path), ""]
    if alignment_path:
        alignment = pd.read_parquet(alignment_path)
        block = study["alignment"]
        lines += [
            "### ES gradient alignment",
            "",
            f"Cosine similarity between the ES estimate (antithetic pairs, sigma {block.get('sigma', ALIGNMENT_SIGMA)}, "
            f"rank shaping {'on' if block.get('rank_shaping', True) else 'off'}) and the true gradient at each seed's "
            f"initial weights, averaged over {block.get('batches', 4)} minibatches of {block.get('batch_size', 256)} "
            "examples; median over seeds. On a locally linear loss, P Gaussian pairs in n dimensions give about sqrt(P / (P + n)).",
            "",
            *alignment_table(alignment),
            "",
        ]
        for title, path in plot_alignment(alignment, figures_dir).items():
            lines += [link(title, path), ""]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines))


LINK = re.compile(r"(\]\()([^)\s]+)(\))")


def rebased(markdown: str, from_dir: str | Path, to_dir: str | Path) -> str:
    """Markdown written in `from_dir` with its relative links rewritten to work from `to_dir`."""

    def rewrite(match: re.Match) -> str:
        target = match.group(2)
        if re.match(r"^([a-z]+:|/|#)", target):
            return match.group(0)
        return match.group(1) + os.path.relpath(Path(from_dir) / target, to_dir) + match.group(3)

    return LINK.sub(rewrite, markdown)
