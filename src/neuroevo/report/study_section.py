"""One study's report section: its figures and a Markdown file (study.md) with the
question, what ran, the figures and a table of final accuracies per variant.

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

from neuroevo.analysis.runs import load_history, load_runs, run_summary
from neuroevo.config.defaults import ALIGNMENT_SIGMA
from neuroevo.report.cells import median_iqr
from neuroevo.report.plots import alignment_by_seed, plot_alignment, plot_curves

# What the section reads of each run; a summary without them is refused by name.
RUN_KEYS = (
    "seed",
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


def results_table(study: dict, runs: dict[str, list[tuple[dict, pd.DataFrame]]]) -> list[str]:
    """Markdown rows: per variant, final validation and test accuracy (of the model with the
    best validation loss), epochs and sample evaluations, as median [IQR] over seeds."""
    lines = [
        "| variant | optimizer | settings | runs | val acc | test acc | epochs | sample evals |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for label, variant in study["variants"].items():
        summaries = [summary for summary, _ in runs.get(label, [])]
        diverged = sum(summary["status"] == "diverged" for summary in summaries)
        count = f"{len(summaries)}" + (f" ({diverged} diverged)" if diverged else "")
        cells = [
            median_iqr([summary[key] for summary in summaries])
            for key in ("val_acc", "test_acc", "epochs", "sample_evals")
        ]
        lines.append(
            f"| {label} | {variant['optimizer']} | {_settings_text(variant.get('settings', {}))} | {count} | {' | '.join(cells)} |"
        )
    return lines


def _setup_lines(name: str, study: dict, runs: dict[str, list[tuple[dict, pd.DataFrame]]]) -> list[str]:
    """Dataset, model, seeds and the resolved settings the runs used (from their summaries)."""
    # The shared training settings are those of a variant without training keys of its own.
    plain = [label for label, entries in runs.items() if entries and not study["variants"][label].get("training")]
    first = runs[plain[0]][0][0] if plain else next((entries[0][0] for entries in runs.values() if entries), None)
    lines = [f"Study `{name}`, dataset `{study['dataset']}`."]
    if first:
        model = first["model"]
        lines[0] += (
            f" MLP with {model['hidden']} hidden units ({model['activation']}), {first['n_parameters']:,} parameters."
        )
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
) -> None:
    out, figures_dir = Path(out), Path(figures_dir)
    figures_dir.mkdir(parents=True, exist_ok=True)
    runs = variant_runs(summary_paths)
    histories = {label: [history for _, history in runs.get(label, [])] for label in study["variants"]}

    def link(title: str, path: Path) -> str:
        return f"![{title}]({os.path.relpath(path, out.parent)})"

    lines = [f"## {study['title']}", "", study["question"].strip(), "", *_setup_lines(name, study, runs), ""]
    lines += [
        *results_table(study, runs),
        "",
        "Median [interquartile range] over seeds; accuracies of the model with the best validation loss.",
        "",
    ]
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
