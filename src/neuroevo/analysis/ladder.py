"""The ladder of budgets (issue 33): every equal-budget run goes on to B x the top multiple once
and is scored at each rung's mark (B x a multiple); this module reads those rungs.

- rung_table: one row per (run, rung) from the summaries' `rungs`, a diverged rung scored 0
  (neuroevo.analysis.diverged: every accuracy DIVERGED_SCORE, losses as read).
- ladder_verdicts: at every rung, each evolutionary optimizer against the best gradient
  optimizer at that rung (re-picked on validation there: analysis.verdict.best_gradient, never
  one with a diverged rung there), on test accuracy paired by seed, with the verdict machinery
  of neuroevo.analysis.verdict; Holm runs over the dataset's evolutionary optimizers x rungs.
- the parity multiples that follow from them: neuroevo.analysis.parity.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from neuroevo.analysis.diverged import DIVERGED, diverged_counts, score_diverged
from neuroevo.analysis.verdict import (
    _no_reference_row,
    _ratio,
    best_gradient,
    diverged_columns,
    paired_verdicts,
)
from neuroevo.files.errors import CorruptFileError

# The measures of a rung, as a summary's rungs hold them (training/summary.py).
RUNG_MEASURES = (
    "multiple",
    "mark_flops",
    "status",
    "epoch",
    "steps",
    "flops",
    "sample_evals",
    "model_evals",
    "grad_evals",
    "train_s",
    "wall_s",
    "train_loss",
    "train_acc",
    "val_loss",
    "val_acc",
    "test_loss",
    "test_acc",
)
RUNG_STATUSES = ("reached", DIVERGED)
RUN_COLUMNS = ("dataset", "optimizer", "optimizer_kind", "seed", "n_test")
RUNG_COLUMNS = (*RUN_COLUMNS, *RUNG_MEASURES, "diverged")
VERDICT_COLUMNS = (
    "dataset",
    "multiple",
    "mark_flops",
    "overshoot",
    "optimizer",
    "reference",
    "n",
    "n_nonzero",
    "family",
    "mean_acc",
    "reference_mean_acc",
    "median_acc",
    "reference_median_acc",
    "hl",
    "ci_low",
    "ci_high",
    "tost_low",
    "tost_high",
    "p_equivalent",
    "p_worse",
    "p_difference",
    "p_equivalent_holm",
    "p_worse_holm",
    "p_difference_holm",
    "seeds_needed",
    "verdict",
    "reason",
    "margin",
    "alpha",
    "n_runs",
    "n_diverged",
    "reference_n_runs",
    "reference_n_diverged",
    "budget_flops",
    "budget_source",
    "target_val_acc",
    "flops",
    "flops_reference",
    "flops_ratio",
    "seconds",
    "seconds_reference",
    "seconds_ratio",
)


# --- The rungs table ----------------------------------------------------------------------------


def rung_rows(summary: dict) -> list[dict]:
    """One row per rung of a run summary (none without `rungs`), with the run's keys; ValueError
    when `rungs` is not a list of dicts with every measure of RUNG_MEASURES."""
    rungs = summary.get("rungs")
    if rungs is None:
        return []
    if not isinstance(rungs, list) or not all(isinstance(rung, dict) for rung in rungs):
        raise ValueError(f"rungs must be a list of objects, one per rung, got {type(rungs).__name__}")
    rows = []
    for index, rung in enumerate(rungs):
        missing = [name for name in RUNG_MEASURES if name not in rung]
        if missing:
            raise ValueError(f"rung {index} lacks {', '.join(missing)}")
        if rung["status"] not in RUNG_STATUSES:
            raise ValueError(f"rung {index}'s status is {rung['status']!r}, not one of {', '.join(RUNG_STATUSES)}")
        wrong = [name for name in RUNG_MEASURES if name != "status" and not _number_or_null(rung[name])]
        if wrong:
            raise ValueError(f"rung {index}'s {', '.join(wrong)} not a number")
        rows.append({key: summary.get(key) for key in RUN_COLUMNS} | {name: rung[name] for name in RUNG_MEASURES})
    return rows


def _number_or_null(value) -> bool:
    return value is None or (isinstance(value, (int, float)) and not isinstance(value, bool))


def rung_table(summaries: list[dict], paths: Iterable | None = None) -> pd.DataFrame:
    """The rungs table: one row per (run, rung) of the summaries, columns RUNG_COLUMNS, a
    diverged rung's accuracies DIVERGED_SCORE (its losses as read), `diverged` its status said
    so. Runs without rungs give no rows (an empty table with the columns when none has). A
    summary whose rungs are damaged is refused (CorruptFileError) by its path, given `paths`
    (one per summary), else by its run."""
    paths = list(paths) if paths is not None else [None] * len(summaries)
    rows = []
    for summary, path in zip(summaries, paths, strict=True):
        try:
            rows += rung_rows(summary)
        except ValueError as error:
            run = "/".join(str(summary.get(key)) for key in ("dataset", "optimizer", "seed"))
            where, remedy = (
                (run, "rerun it")
                if path is None
                else (path, f"delete its run folder {Path(path).parent} and rerun snakemake")
            )
            raise CorruptFileError(f"{where}: corrupt run summary ({error}); {remedy}") from error
    table = pd.DataFrame(rows, columns=list(RUNG_COLUMNS[:-1]))
    numeric = [name for name in RUNG_MEASURES if name not in ("status", "steps")]
    table[numeric] = table[numeric].astype(float)
    for name in ("seed", "steps"):  # counts stay ints where every run has them
        if table[name].notna().all():
            table[name] = table[name].astype(int)
    table["diverged"] = (table["status"] == DIVERGED).astype(bool)
    return score_diverged(table)


# --- Verdicts at every rung ---------------------------------------------------------------------


def rung_key(optimizer: str, multiple: float) -> str:
    """A column of the wide by-seed table: an optimizer at a rung."""
    return f"{optimizer} @ {float(multiple)!r}"


def by_seed(rungs: pd.DataFrame, column: str = "test_acc") -> pd.DataFrame:
    """`column` per seed (rows) and (optimizer, rung) (columns named by _key)."""
    table = rungs.assign(key=[rung_key(o, m) for o, m in zip(rungs["optimizer"], rungs["multiple"], strict=True)])
    return table.pivot_table(index="seed", columns="key", values=column, aggfunc="first")


def evolutionary_optimizers(rungs: pd.DataFrame) -> list[str]:
    return list(dict.fromkeys(rungs.loc[rungs["optimizer_kind"] == "evolution", "optimizer"]))


def rung_multiples(rungs: pd.DataFrame) -> list[float]:
    return sorted({float(value) for value in rungs["multiple"]})


def rung_mark(rungs: pd.DataFrame, multiple: float) -> float:
    """A rung's mark in FLOPs (B x the multiple, the same for every run of a dataset)."""
    marks = rungs.loc[rungs["multiple"] == multiple, "mark_flops"]
    return float(marks.iloc[0]) if len(marks) else math.nan


def budget_fields(budgets: dict | None, dataset: str, rungs: pd.DataFrame) -> dict:
    """B, where it came from and the rule's B, from the dataset's budget file when given; else B
    from the rungs themselves (mark / multiple), its source unknown."""
    budget = (budgets or {}).get(dataset)
    if budget is not None:
        rule = budget.get("rule_flops")
        return {
            "base_flops": float(budget["base_flops"]),
            "budget_source": budget.get("source"),
            "rule_flops": math.nan if rule is None else float(rule),
        }
    first = rungs.iloc[0]
    return {"base_flops": float(first["mark_flops"] / first["multiple"]), "budget_source": None, "rule_flops": math.nan}


def _cost_fields(costs: pd.DataFrame | None, dataset: str, optimizer: str, reference: str | None) -> dict:
    """The aRT columns of a verdict row from the caller's cost_to_target rows (NaN without)."""
    nan = math.nan
    fields = dict.fromkeys(("target_val_acc", "flops", "flops_reference", "flops_ratio"), nan)
    fields |= dict.fromkeys(("seconds", "seconds_reference", "seconds_ratio"), nan)
    if costs is None or not len(costs):
        return fields
    mine = costs[costs["dataset"] == dataset] if "dataset" in costs else costs
    if "main_target" in mine:
        mine = mine[mine["main_target"].astype(bool)]
    mine = mine.drop_duplicates("optimizer").set_index("optimizer")
    if "target_val_acc" in mine and len(mine):
        fields["target_val_acc"] = float(mine["target_val_acc"].iloc[0])
    for name in ("flops", "seconds"):
        column = f"art_{name}"
        if column not in mine:
            continue
        if optimizer in mine.index:
            fields[name] = float(mine.loc[optimizer, column])
        if reference in mine.index:
            fields[f"{name}_reference"] = float(mine.loc[reference, column])
        fields[f"{name}_ratio"] = _ratio(fields[name], fields[f"{name}_reference"])
    return fields


def ladder_verdicts(
    rungs: pd.DataFrame,
    margin: float,
    alpha: float,
    budgets: dict[str, dict] | None = None,
    costs: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The ladder's verdicts (verdicts.parquet): one row per (dataset, rung, evolutionary
    optimizer), columns VERDICT_COLUMNS. At each rung the reference is the gradient optimizer of
    the highest median validation accuracy there (best_gradient: never one with a diverged rung
    there); the tests are Holm-corrected over the dataset's evolutionary optimizers x rungs that
    have a reference (`family`); a rung without a reference gives NO_REFERENCE rows saying why.
    `budgets` (dataset -> budget file) give budget_flops and budget_source; `costs` (the caller's
    cost_to_target rows at the dataset's target) the aRT columns, the same on every rung."""
    rows = []
    rungs = score_diverged(rungs)
    for dataset, mine in rungs.groupby("dataset", sort=False):
        rows += _dataset_ladder(str(dataset), mine, margin, alpha, budgets, costs)
    return pd.DataFrame(rows, columns=list(VERDICT_COLUMNS))


def _dataset_ladder(dataset, rungs, margin, alpha, budgets, costs) -> list[dict]:
    evolutionary = evolutionary_optimizers(rungs)
    if not evolutionary or not (rungs["optimizer_kind"] == "gradient").any():
        return []
    budget = budget_fields(budgets, dataset, rungs)
    wide = by_seed(rungs)
    # A gradient optimizer that diverged at any rung is no reference at any rung (as the plateau's).
    unstable = unstable_gradient(rungs)
    pairs, rows, references = [], {}, {}
    for multiple in rung_multiples(rungs):
        at_rung = rungs[rungs["multiple"] == multiple]
        reference = references[multiple] = best_gradient(at_rung[~at_rung["optimizer"].isin(unstable)])
        for optimizer in evolutionary:
            if reference is None:
                rows[(multiple, optimizer)] = _no_reference_row(dataset, rungs, optimizer) | {
                    "median_acc": float(at_rung.loc[at_rung["optimizer"] == optimizer, "test_acc"].median()),
                    "reference_median_acc": math.nan,
                    "margin": margin,
                    "alpha": alpha,
                }
            elif rung_key(optimizer, multiple) in wide:
                pairs.append((optimizer, multiple))
    columns = [
        (rung_key(optimizer, multiple), rung_key(references[multiple], multiple)) for optimizer, multiple in pairs
    ]
    tested = paired_verdicts(wide, columns, margin, alpha) if pairs else []
    for (optimizer, multiple), (key, reference_key), row in zip(pairs, columns, tested, strict=True):
        reference = references[multiple]
        at_rung = rungs[rungs["multiple"] == multiple]
        paired = wide[[key, reference_key]].dropna()
        rows[(multiple, optimizer)] = row | {
            "dataset": dataset,
            "optimizer": optimizer,
            "reference": reference,
            "median_acc": float(paired[key].median()),
            "reference_median_acc": float(paired[reference_key].median()),
            **diverged_columns(at_rung, optimizer, reference),
        }
    out = []
    for multiple in rung_multiples(rungs):
        for optimizer in evolutionary:
            if (multiple, optimizer) not in rows:
                continue
            row = rows[(multiple, optimizer)]
            row |= {"dataset": dataset, "multiple": multiple, "mark_flops": rung_mark(rungs, multiple)}
            row["overshoot"] = _overshoot(rungs, multiple, [optimizer, row.get("reference")])
            row |= {"budget_flops": budget["base_flops"], "budget_source": budget["budget_source"]}
            row |= _cost_fields(costs, dataset, optimizer, row["reference"])
            out.append({column: row.get(column, math.nan) for column in VERDICT_COLUMNS})
    return out


def unstable_gradient(rungs: pd.DataFrame) -> set[str]:
    """The gradient optimizers with a diverged rung anywhere on the ladder."""
    gradient = rungs[rungs["optimizer_kind"] == "gradient"]
    return {name for name, (diverged, _) in diverged_counts(gradient).items() if diverged}


def _overshoot(rungs: pd.DataFrame, multiple: float, optimizers: list) -> float:
    """The largest FLOPs spent at a rung over its mark among the runs of `optimizers` there: a
    rung is read at the step that spends its mark, and an evolutionary generation on a small
    dataset can be a large share of a low rung (1.0: exactly at the mark)."""
    mine = rungs[(rungs["multiple"] == multiple) & rungs["optimizer"].isin([name for name in optimizers if name])]
    reached = mine[mine["status"] != DIVERGED]
    return float((reached["flops"] / reached["mark_flops"]).max()) if len(reached) else math.nan
