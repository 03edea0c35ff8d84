"""The ladder of budgets (issue 33): every equal-budget run goes on to B x the top multiple once
and is scored at each rung's mark (B x a multiple); this module reads those rungs.

- rung_table: one row per (run, rung) from the summaries' `rungs`, a diverged rung scored 0
  (neuroevo.analysis.diverged: every accuracy DIVERGED_SCORE, losses as read).
- ladder_verdicts: at every rung, each evolutionary optimizer against the best gradient
  optimizer at that rung (re-picked on validation there: analysis.verdict.best_gradient, never
  one with a diverged rung there), on test accuracy paired by seed, with the verdict machinery
  of neuroevo.analysis.verdict; Holm runs over the dataset's evolutionary optimizers x rungs.
- parity_table: per (dataset, evolutionary optimizer) the two parity multiples. Equal-budget
  parity: the smallest rung whose verdict is "equivalent" or "better". Cost to parity: the
  smallest rung at which its test accuracy is equivalent within delta to, or better than, the
  best gradient optimizer's plateau (the test accuracy per seed at its rung of highest median
  validation accuracy; a gradient optimizer that ever diverged is never this reference), by the
  same tests, Holm over the dataset's evolutionary optimizers x rungs; in FLOPs, seconds, and as
  a multiple of the reference's own cost to reach its plateau (the smallest rung at which the
  reference itself is equivalent to it, by the same test, in the same family).
  Neither is ever extrapolated: without a rung that decides, "not within {top}x".
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from neuroevo.analysis.diverged import DIVERGED, diverged_counts, score_diverged
from neuroevo.analysis.verdict import (
    BETTER,
    EQUIVALENT,
    NO_REFERENCE,
    _no_reference_row,
    _ratio,
    best_gradient,
    diverged_columns,
    paired_verdicts,
    reference_absence,
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
PARITY = (EQUIVALENT, BETTER)  # the verdicts that count as parity
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
PARITY_COLUMNS = (
    "dataset",
    "optimizer",
    "multiples",
    "top_multiple",
    "base_flops",
    "budget_source",
    "rule_flops",
    "margin",
    "alpha",
    "family",
    "parity_multiple",
    "parity_flops",
    "parity_reference",
    "parity_hl",
    "parity_text",
    "plateau_reference",
    "plateau_multiple",
    "plateau_test_acc",
    "cost_multiple",
    "cost_flops",
    "cost_seconds",
    "reference_cost_flops",
    "reference_cost_seconds",
    "cost_ratio_flops",
    "cost_ratio_seconds",
    "cost_p",
    "cost_text",
    "test_resolution",
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


def _key(optimizer: str, multiple: float) -> str:
    """A column of the wide by-seed table: an optimizer at a rung."""
    return f"{optimizer} @ {float(multiple)!r}"


def _by_seed(rungs: pd.DataFrame, column: str = "test_acc") -> pd.DataFrame:
    """`column` per seed (rows) and (optimizer, rung) (columns named by _key)."""
    table = rungs.assign(key=[_key(o, m) for o, m in zip(rungs["optimizer"], rungs["multiple"], strict=True)])
    return table.pivot_table(index="seed", columns="key", values=column, aggfunc="first")


def _evolutionary(rungs: pd.DataFrame) -> list[str]:
    return list(dict.fromkeys(rungs.loc[rungs["optimizer_kind"] == "evolution", "optimizer"]))


def _multiples(rungs: pd.DataFrame) -> list[float]:
    return sorted({float(value) for value in rungs["multiple"]})


def _mark(rungs: pd.DataFrame, multiple: float) -> float:
    """A rung's mark in FLOPs (B x the multiple, the same for every run of a dataset)."""
    marks = rungs.loc[rungs["multiple"] == multiple, "mark_flops"]
    return float(marks.iloc[0]) if len(marks) else math.nan


def _budget_fields(budgets: dict | None, dataset: str, rungs: pd.DataFrame) -> dict:
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
    evolutionary = _evolutionary(rungs)
    if not evolutionary or not (rungs["optimizer_kind"] == "gradient").any():
        return []
    budget = _budget_fields(budgets, dataset, rungs)
    by_seed = _by_seed(rungs)
    # A gradient optimizer that diverged at any rung is no reference at any rung (as the plateau's).
    unstable = _unstable(rungs)
    pairs, rows, references = [], {}, {}
    for multiple in _multiples(rungs):
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
            elif _key(optimizer, multiple) in by_seed:
                pairs.append((optimizer, multiple))
    columns = [(_key(optimizer, multiple), _key(references[multiple], multiple)) for optimizer, multiple in pairs]
    tested = paired_verdicts(by_seed, columns, margin, alpha) if pairs else []
    for (optimizer, multiple), (key, reference_key), row in zip(pairs, columns, tested, strict=True):
        reference = references[multiple]
        at_rung = rungs[rungs["multiple"] == multiple]
        paired = by_seed[[key, reference_key]].dropna()
        rows[(multiple, optimizer)] = row | {
            "dataset": dataset,
            "optimizer": optimizer,
            "reference": reference,
            "median_acc": float(paired[key].median()),
            "reference_median_acc": float(paired[reference_key].median()),
            **diverged_columns(at_rung, optimizer, reference),
        }
    out = []
    for multiple in _multiples(rungs):
        for optimizer in evolutionary:
            if (multiple, optimizer) not in rows:
                continue
            row = rows[(multiple, optimizer)]
            row |= {"dataset": dataset, "multiple": multiple, "mark_flops": _mark(rungs, multiple)}
            row["overshoot"] = _overshoot(rungs, multiple, [optimizer, row.get("reference")])
            row |= {"budget_flops": budget["base_flops"], "budget_source": budget["budget_source"]}
            row |= _cost_fields(costs, dataset, optimizer, row["reference"])
            out.append({column: row.get(column, math.nan) for column in VERDICT_COLUMNS})
    return out


def _unstable(rungs: pd.DataFrame) -> set[str]:
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


# --- Parity multiples ---------------------------------------------------------------------------


def multiple_text(value: float) -> str:
    """A multiple of B, compactly: "0.25x", "16x"."""
    return f"{value:g}x"


def flops_text(value: float) -> str:
    """FLOPs compactly, two significant digits: 1.6e9."""
    text = f"{value:.2g}"
    if "e" not in text:
        return text
    mantissa, exponent = text.split("e")
    return f"{mantissa}e{int(exponent)}"


def ratio_text(value: float) -> str:
    """A cost ratio to two significant digits, without an exponent below a million: 70, 1200."""
    return f"{float(f'{value:.2g}'):g}"


def plateau_reference(rungs: pd.DataFrame) -> tuple[str | None, float, float]:
    """The best gradient optimizer over the whole ladder: of those that never diverged at any
    rung, the one whose median validation accuracy at its best rung is highest (then mean, then
    order); with that rung (the smallest of its highest median) and its median test accuracy
    there. (None, NaN, NaN) without one."""
    gradient = rungs[rungs["optimizer_kind"] == "gradient"]
    gradient = gradient[~gradient["optimizer"].isin(_unstable(rungs))]
    if not len(gradient):
        return None, math.nan, math.nan
    by = gradient.groupby(["optimizer", "multiple"], sort=False)
    table = pd.DataFrame({"median": by["val_acc"].median(), "mean": by["val_acc"].mean()}).reset_index()
    table = table.sort_values(["median", "mean", "multiple"], ascending=[False, False, True], kind="stable")
    best = table.iloc[0]
    name, multiple = str(best["optimizer"]), float(best["multiple"])
    mine = gradient[(gradient["optimizer"] == name) & (gradient["multiple"] == multiple)]
    return name, multiple, float(mine["test_acc"].median())


def parity_table(
    rungs: pd.DataFrame,
    verdicts: pd.DataFrame,
    budgets: dict[str, dict] | None,
    margin: float,
    alpha: float,
) -> pd.DataFrame:
    """The parity multiples (parity.parquet): one row per (dataset, evolutionary optimizer),
    columns PARITY_COLUMNS. Equal-budget parity from `verdicts` (ladder_verdicts); cost to
    parity tested here against the plateau reference's per-seed test accuracy at its plateau
    rung (paired_verdicts: TOST, one-sided and two-sided Wilcoxon, Holm over the dataset's
    evolutionary optimizers and the reference x rungs; "equivalent" or "better" counts; the
    reference's own cost to its plateau is its smallest rung equivalent to it); `budgets`
    (dataset -> budget file) give B, its source and the rule's B."""
    rows = []
    rungs = score_diverged(rungs)
    for dataset, mine in rungs.groupby("dataset", sort=False):
        theirs = verdicts[verdicts["dataset"] == dataset] if len(verdicts) else verdicts
        rows += _dataset_parity(str(dataset), mine, theirs, budgets, margin, alpha)
    return pd.DataFrame(rows, columns=list(PARITY_COLUMNS))


def _dataset_parity(dataset, rungs, verdicts, budgets, margin, alpha) -> list[dict]:
    evolutionary = _evolutionary(rungs)
    if not evolutionary or not (rungs["optimizer_kind"] == "gradient").any():
        return []
    multiples = _multiples(rungs)
    budget = _budget_fields(budgets, dataset, rungs)
    reference, plateau_multiple, plateau_test = plateau_reference(rungs)
    costs = _cost_tests(rungs, evolutionary, multiples, reference, plateau_multiple, margin, alpha)
    reach = _reference_cost(rungs, costs, reference, multiples, plateau_multiple)
    n_test = rungs["n_test"].dropna() if "n_test" in rungs else pd.Series(dtype=float)
    resolution = 1 / float(n_test.median()) if len(n_test) else math.nan
    rows = []
    for optimizer in evolutionary:
        row = {"dataset": dataset, "optimizer": optimizer, "multiples": multiples, "top_multiple": multiples[-1]}
        row |= budget | {"margin": margin, "alpha": alpha, "family": len(costs), "test_resolution": resolution}
        row |= _equal_budget_parity(verdicts, optimizer, multiples)
        row |= {"plateau_reference": reference, "plateau_multiple": plateau_multiple, "plateau_test_acc": plateau_test}
        row |= _cost_to_parity(rungs, costs, optimizer, multiples, reference, reach, absence=reference_absence(rungs))
        rows.append(row)
    return rows


def _equal_budget_parity(verdicts: pd.DataFrame, optimizer: str, multiples: list[float]) -> dict:
    """The smallest rung whose verdict is equivalent or better, or "not within" the top rung
    that had a reference (every rung in a ladder whose gradient side never diverged)."""
    mine = verdicts[verdicts["optimizer"] == optimizer].sort_values("multiple") if len(verdicts) else verdicts
    decided = mine[mine["verdict"].isin(PARITY)] if len(mine) else mine
    if len(decided):
        first = decided.iloc[0]
        return {
            "parity_multiple": float(first["multiple"]),
            "parity_flops": float(first["mark_flops"]),
            "parity_reference": first["reference"],
            "parity_hl": float(first["hl"]),
            "parity_text": multiple_text(float(first["multiple"])),
        }
    tested = mine[mine["verdict"] != NO_REFERENCE] if len(mine) else mine
    text = f"not within {multiple_text(float(tested['multiple'].max()))}" if len(tested) else "no reference"
    return {
        "parity_multiple": math.nan,
        "parity_flops": math.nan,
        "parity_reference": None,
        "parity_hl": math.nan,
        "parity_text": text,
    }


def _cost_tests(rungs, evolutionary, multiples, reference, plateau_multiple, margin, alpha) -> dict:
    """(optimizer, rung) -> its paired_verdicts row against the reference's plateau test
    accuracy per seed; Holm over every (evolutionary optimizer, rung) pair. {} without a
    reference."""
    if reference is None:
        return {}
    by_seed = _by_seed(rungs)
    plateau = _key(reference, plateau_multiple)
    # The reference's own rungs are tested against its plateau too (in the same Holm family):
    # its cost to the plateau is the smallest rung at which it is equivalent to it, so that both
    # sides of the cost ratio are measured by one test on the ladder.
    keys = [(optimizer, multiple) for optimizer in [*evolutionary, reference] for multiple in multiples]
    keys = [key for key in keys if _key(*key) in by_seed and key != (reference, plateau_multiple)]
    tested = paired_verdicts(by_seed, [(_key(*key), plateau) for key in keys], margin, alpha)
    return dict(zip(keys, tested, strict=True))


def _reference_cost(rungs, costs, reference, multiples, plateau_multiple) -> dict:
    """The plateau reference's own cost to its plateau: the smallest rung at which its test
    accuracy is equivalent to (or better than) the plateau's by the same test (its plateau rung
    itself, untested: no difference), its mark and its runs' median seconds in steps there; {}
    without a reference."""
    if reference is None:
        return {}
    tested = [m for m in multiples if costs.get((reference, m), {}).get("verdict") in PARITY]
    first = min([*tested, plateau_multiple])
    at_rung = rungs[(rungs["optimizer"] == reference) & (rungs["multiple"] == first)]
    return {"reach_flops": _mark(rungs, first), "reach_train_s": float(at_rung["train_s"].median())}


def _cost_to_parity(rungs, costs, optimizer, multiples, reference, reach, absence) -> dict:
    """The smallest rung at which `optimizer` is equivalent to or better than the plateau, with
    its cost, the reference's own cost to its plateau (its smallest rung equivalent to it, by
    the same test) and their ratios; NaN and "not within {top}x" when no rung is."""
    reference_flops, reference_seconds = _finite(reach.get("reach_flops")), _finite(reach.get("reach_train_s"))
    fields = {"reference_cost_flops": reference_flops, "reference_cost_seconds": reference_seconds}
    found = [m for m in multiples if costs.get((optimizer, m), {}).get("verdict") in PARITY]
    if not found:
        text = f"no reference ({absence})" if reference is None else f"not within {multiple_text(multiples[-1])}"
        nan = math.nan
        return (
            fields
            | {"cost_multiple": nan, "cost_flops": nan, "cost_seconds": nan}
            | {
                "cost_ratio_flops": nan,
                "cost_ratio_seconds": nan,
                "cost_p": nan,
                "cost_text": text,
            }
        )
    multiple = found[0]
    test = costs[(optimizer, multiple)]
    at_rung = rungs[(rungs["optimizer"] == optimizer) & (rungs["multiple"] == multiple)]
    flops, seconds = _mark(rungs, multiple), float(at_rung["train_s"].median())
    ratio_flops, ratio_seconds = _divide(flops, reference_flops), _divide(seconds, reference_seconds)
    text = f"{multiple_text(multiple)} B = {flops_text(flops)} FLOPs"
    if math.isfinite(ratio_flops):
        text += f", {ratio_text(ratio_flops)}x {reference}'s cost"
    return fields | {
        "cost_multiple": multiple,
        "cost_flops": flops,
        "cost_seconds": seconds,
        "cost_ratio_flops": ratio_flops,
        "cost_ratio_seconds": ratio_seconds,
        # The Holm p of the test that decided: TOST for "equivalent", two-sided for "better".
        "cost_p": float(test["p_equivalent_holm"] if test["verdict"] == EQUIVALENT else test["p_difference_holm"]),
        "cost_text": text,
    }


def _finite(value) -> float:
    return float(value) if value is not None and np.isfinite(float(value)) else math.nan


def _divide(cost: float, reference: float) -> float:
    """cost / reference; NaN when the reference is unknown or not positive."""
    return cost / reference if math.isfinite(reference) and reference > 0 else math.nan
