"""The report's opening, in words and one compact table, written only from the tables that
neuroevo.analysis computes (verdicts.parquet: the ladder verdicts, one row per dataset, rung
and evolutionary optimizer; parity.parquet: the parity multiples, one row per dataset and
evolutionary optimizer) and the budget files (how each dataset's base budget B was set):

- the declared primary endpoint (config report.primary_endpoint) with its metric, delta, alpha
  and the Holm family each dataset's table states;
- the answer: per dataset a paragraph, its B and how it was set, its rungs, and per
  evolutionary optimizer its equal-budget parity and its cost to parity, or "not within" the
  top rung;
- the verdict-by-budget table: a row per (dataset, optimizer), a cell per rung with the verdict
  abbreviated and the Hodges-Lehmann estimate of the effect.

Nothing here tests or estimates anything: every number is read from a table and formatted.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from neuroevo.analysis.verdict import BETTER, EQUIVALENT, INCONCLUSIVE, NO_REFERENCE, WORSE
from neuroevo.report.cells import compact, number

PARITY = "parity"  # report.primary_endpoint: the equal-budget parity multiple
ABBREVIATIONS = {
    EQUIVALENT: "equiv.",
    WORSE: "worse",
    BETTER: "better",
    INCONCLUSIVE: "incon.",
    NO_REFERENCE: "no ref.",
}
# What is secondary besides the primary endpoint (everything else the report shows).
SECONDARY = (
    "the early-stopping arm",
    "the best-validation model within the budget",
    "aRT to target validation accuracies",
)


def missing(value) -> bool:
    """Whether a table cell holds no value (None, NaN, pandas' NA)."""
    if value is None:
        return True
    if isinstance(value, list | tuple | np.ndarray):  # a list cell (the parity table's multiples): present
        return False
    return bool(pd.isna(value))


def rung(multiple: float) -> str:
    """A rung as a multiple of B: "0.25x", "16x"."""
    return f"{float(multiple):g}x"


def signed(value: float) -> str:
    """An effect with its sign and a true minus: "+0.002", "−0.284"."""
    return f"{value:+.3f}".replace("-", "\N{MINUS SIGN}")


def _ratio(value) -> str:
    return f"{float(value):.3g}x"


def _endpoint(config: dict) -> str | float:
    value = config.get("report", {}).get("primary_endpoint", PARITY)
    return PARITY if value == PARITY else float(value)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _families(verdicts: pd.DataFrame) -> list[str]:
    """Per dataset its Holm family as the table states it: optimizers x rungs = tests."""
    families = []
    for dataset, rows in verdicts.groupby("dataset", sort=False):
        tested = rows[rows["verdict"] != NO_REFERENCE]
        optimizers, rungs = rows["optimizer"].nunique(), rows["multiple"].nunique()
        if not len(tested):
            families.append(f"{dataset}: no tests (no gradient reference at any rung)")
            continue
        family = int(tested["family"].max())
        families.append(
            f"{dataset}: {_count(optimizers, 'evolutionary optimizer')} x {_count(rungs, 'rung')} = {_count(family, 'test')}"
        )
    return families


def primary_endpoint(config: dict, verdicts: pd.DataFrame) -> dict:
    """The declared primary endpoint, in words: what is compared, the metric, delta, alpha, the
    correction with each dataset's family (from the verdict table), and what is secondary."""
    report = config.get("report", {})
    endpoint = _endpoint(config)
    if endpoint == PARITY:
        what = (
            "the equal-budget parity multiple: per dataset and evolutionary optimizer, the smallest rung of the "
            "budget ladder at which its test accuracy is equivalent within δ to, or better than, that of the "
            "gradient reference at the same rung (re-picked on validation at each rung), paired by seed"
        )
        secondary = ["the cost to parity (its own Holm family)", *SECONDARY]
    else:
        what = (
            f"the verdicts at the {rung(endpoint)} rung ({rung(endpoint)} B): each evolutionary optimizer's test "
            "accuracy against that of the gradient reference at that rung (picked on validation there), paired by seed"
        )
        absent = sorted(set(verdicts["dataset"]) - set(verdicts.loc[verdicts["multiple"] == endpoint, "dataset"]))
        if absent:
            what += f" (not a rung of {', '.join(absent)})"
        secondary = ["the verdicts at the other rungs", "the equal-budget parity and the cost to parity", *SECONDARY]
    return {
        "what": what,
        "metric": "test accuracy",
        "margin": number(float(report.get("equivalence_margin", 0.01)), 3),
        "alpha": number(float(report.get("alpha", 0.05)), 3),
        "families": _families(verdicts),
        "secondary": (
            "Everything else is secondary (descriptive, not part of the endpoint's tests): "
            + ", ".join(secondary[:-1])
            + f" and {secondary[-1]}."
        ),
    }


def _budget_text(parity: pd.DataFrame, budget: dict | None) -> tuple[str, str]:
    """How B was set: ("B = 230M FLOPs per run by the rule, from sgd's pilot runs", the rule's
    sentence) or ("B = 1M FLOPs per run, set by hand, where the rule would have given 300k", "");
    from the budget file, else the parity table's columns."""
    first = parity.iloc[0].to_dict() if len(parity) else {}
    budget = budget or {}
    base = budget.get("base_flops", first.get("base_flops"))
    source = budget.get("source", first.get("budget_source"))
    rule_flops = budget.get("rule_flops", first.get("rule_flops"))
    text = f"B = {compact(float(base))} FLOPs per run" if not missing(base) else "B unknown"
    if source == "rule":
        cheapest = budget.get("cheapest")
        return text + " by the rule" + (f", from {cheapest}'s pilot runs" if cheapest else ""), str(
            budget.get("rule", "")
        )
    if source == "hand":
        would = f", where the rule would have given {compact(float(rule_flops))}" if not missing(rule_flops) else ""
        return text + ", set by hand" + would, ""
    return text, ""


def _multiples(dataset_verdicts: pd.DataFrame, parity: pd.DataFrame) -> list[float]:
    if len(parity) and not missing(parity.iloc[0].get("multiples")):
        return [float(value) for value in parity.iloc[0]["multiples"]]
    return sorted(float(value) for value in dataset_verdicts["multiple"].unique())


def _at(rows: pd.DataFrame, optimizer: str, multiple: float):
    """The verdict row of `optimizer` at rung `multiple` (None when the table has none)."""
    found = rows[(rows["optimizer"] == optimizer) & (rows["multiple"] == multiple)]
    return found.iloc[0] if len(found) else None


def cell(row) -> str:
    """A verdict row as a compact cell: "worse −0.284", "equiv. +0.002", "no ref."."""
    if row is None:
        return "-"
    word = ABBREVIATIONS.get(row["verdict"], str(row["verdict"]))
    text = word if missing(row["hl"]) or not math.isfinite(row["hl"]) else f"{word} {signed(row['hl'])}"
    overshoot = row.get("overshoot") if hasattr(row, "get") else None
    return text + (OVERSHOT if _overshot(overshoot) else "")


def _parity_clause(entry, rows: pd.DataFrame, top: float) -> str:
    """ "pgpe matches sgd at 4x B (equiv. +0.002)" or "cmaes does not match the gradient
    reference within 64x (at 64x: worse −0.120 against sgd)"."""
    optimizer = entry["optimizer"]
    if not missing(entry["parity_multiple"]):
        row = _at(rows, optimizer, float(entry["parity_multiple"]))
        verb = "beats" if row is not None and row["verdict"] == BETTER else "matches"
        return f"{optimizer} {verb} {entry['parity_reference']} at {rung(entry['parity_multiple'])} B ({cell(row)})"
    row = _at(rows, optimizer, top)
    if row is None or row["verdict"] == NO_REFERENCE:
        return f"{optimizer} has no gradient reference at {rung(top)} (every gradient optimizer diverged in some run)"
    return (
        f"{optimizer} is shown equivalent to the gradient reference at no rung up to {rung(top)} "
        f"(at {rung(top)}: {cell(row)} against {row['reference']})"
    )


def _cost_clause(entry, top: float) -> str:
    """ "reaches sgd's plateau (test acc 0.962 at 1x) within δ at 16x B = 3.7G FLOPs, 70x sgd's own
    FLOPs to reach it (45x its seconds)" or "does not reach ... within δ by 64x"."""
    reference = entry["plateau_reference"]
    if missing(reference):
        return "no gradient optimizer has a plateau to reach (every one diverged in some run)"
    where = f" at {rung(entry['plateau_multiple'])}" if not missing(entry.get("plateau_multiple")) else ""
    plateau = f"{reference}'s best on the ladder (test acc {float(entry['plateau_test_acc']):.3f}{where})"
    if missing(entry["cost_multiple"]):
        return f"is not shown to reach {plateau} within δ by {rung(top)}"
    text = (
        f"reaches {plateau} within δ at {rung(entry['cost_multiple'])} B = {compact(float(entry['cost_flops']))} FLOPs"
    )
    if not missing(entry["cost_ratio_flops"]) and math.isfinite(entry["cost_ratio_flops"]):
        text += f", {_ratio(entry['cost_ratio_flops'])} {reference}'s own FLOPs to reach it"
        if not missing(entry["cost_ratio_seconds"]) and math.isfinite(entry["cost_ratio_seconds"]):
            text += f" ({_ratio(entry['cost_ratio_seconds'])} its seconds)"
    return text


OVERSHOT = "‡"  # a rung whose runs spent over OVERSHOOT_LIMIT x its mark by the step that spent it
OVERSHOOT_LIMIT = 1.1


def _overshot(value) -> bool:
    return value is not None and not missing(value) and float(value) > OVERSHOOT_LIMIT


def _reaches_neither(entry, rows: pd.DataFrame, top: float) -> bool:
    """Whether an optimizer has neither parity nor a cost to parity on the ladder, against a
    reference that exists at the top rung and a plateau that exists."""
    row = _at(rows, entry["optimizer"], top)
    return (
        missing(entry["parity_multiple"])
        and missing(entry["cost_multiple"])
        and not missing(entry["plateau_reference"])
        and row is not None
        and row["verdict"] != NO_REFERENCE
    )


def _neither_sentence(entries: list, rows: pd.DataFrame, top: float) -> str:
    """ "cmaes and pgpe match the gradient reference at no rung up to 64x (at 64x: cmaes worse
    −0.139 against adam; ...), nor reach adam's plateau (test acc 0.957 at 16x) within δ." """
    names = [str(entry["optimizer"]) for entry in entries]
    listed = ", ".join(names[:-1]) + f" and {names[-1]}"
    at_top = "; ".join(
        f"{name} {cell(row)} against {row['reference']}" for name in names for row in [_at(rows, name, top)]
    )
    plateaus = dict.fromkeys(
        f"{entry['plateau_reference']}'s best on the ladder (test acc {float(entry['plateau_test_acc']):.3f}"
        + (f" at {rung(entry['plateau_multiple'])})" if not missing(entry.get("plateau_multiple")) else ")")
        for entry in entries
    )
    return (
        f"{listed} are shown equivalent to the gradient reference at no rung up to {rung(top)} (at {rung(top)}: "
        f"{at_top}), nor to reach {' or '.join(plateaus)} within δ."
    )


def _endpoint_sentence(rows: pd.DataFrame, endpoint: float) -> str:
    at = rows[rows["multiple"] == endpoint]
    if not len(at):
        return f"The primary rung {rung(endpoint)} is not on this dataset's ladder."
    parts = [
        f"{row['optimizer']} {cell(row)}"
        + (f" against {row['reference']}" if isinstance(row["reference"], str) else "")
        for _, row in at.iterrows()
    ]
    return f"At the primary rung {rung(endpoint)} B: " + "; ".join(parts) + "."


def answers(
    verdicts: pd.DataFrame, parity: pd.DataFrame, budgets: dict[str, dict] | None = None, config: dict | None = None
) -> list[dict]:
    """Per dataset of the parity table: its name, the answer paragraph (B and how it was set,
    the rungs, the primary rung's verdicts when the endpoint is a rung, then per evolutionary
    optimizer its equal-budget parity and its cost to parity) and the budget rule's sentence
    when the rule set B ("" otherwise)."""
    endpoint = _endpoint(config or {})
    paragraphs = []
    for dataset, entries in parity.groupby("dataset", sort=False):
        rows = verdicts[verdicts["dataset"] == dataset]
        multiples = _multiples(rows, entries)
        top = float(entries["top_multiple"].iloc[0]) if "top_multiple" in entries else max(multiples)
        budget, rule = _budget_text(entries, (budgets or {}).get(dataset))
        text = [f"On {dataset} ({budget}; rungs {', '.join(rung(value) for value in multiples)} B):"]
        if endpoint != PARITY:
            text.append(_endpoint_sentence(rows, endpoint))
        resolution = entries["test_resolution"].iloc[0] if "test_resolution" in entries else math.nan
        margin = float(entries["margin"].iloc[0]) if "margin" in entries else math.nan
        if not missing(resolution) and resolution > margin:
            text.append(
                f"One test example is {float(resolution):.3f} of test accuracy here, more than δ = {margin:g}: "
                '"equivalent" needs every seed pair to tie exactly, so parity can hardly be shown on this '
                "test split (a larger one, or a larger δ, would decide)."
            )
        if "overshoot" in rows and any(_overshot(value) for value in rows["overshoot"]):
            text.append(
                f"{OVERSHOT}: at some rungs a run's last step spent over {OVERSHOOT_LIMIT:g}x the mark (one "
                "generation is a large share of a low rung), so those cells compare more than equal budgets."
            )
        neither = [entry for _, entry in entries.iterrows() if _reaches_neither(entry, rows, top)]
        if len(neither) > 1:  # one sentence for them, not one each that says the same
            text.append(_neither_sentence(neither, rows, top))
        for _, entry in entries.iterrows():
            if len(neither) <= 1 or not _reaches_neither(entry, rows, top):
                text.append(f"{_parity_clause(entry, rows, top)}, and {_cost_clause(entry, top)}.")
        paragraphs.append({"dataset": dataset, "text": " ".join(text), "rule": rule})
    return paragraphs


def ladder_table(verdicts: pd.DataFrame, parity: pd.DataFrame | None = None, config: dict | None = None) -> dict:
    """The verdict-by-budget table: a column per rung (the union of the datasets' rungs, the
    primary one marked), a row per (dataset, evolutionary optimizer) with its references, a
    cell per rung (the parity rung in bold; "-" off the dataset's ladder), its equal-budget
    parity and its cost to parity (the parity table's texts)."""
    endpoint = _endpoint(config or {})
    multiples = sorted(float(value) for value in verdicts["multiple"].unique())
    columns = [f"{rung(value)} B" + (" (primary)" if value == endpoint else "") for value in multiples]
    parity = parity if parity is not None and len(parity) else pd.DataFrame(columns=["dataset", "optimizer"])
    table = []
    for (dataset, optimizer), rows in verdicts.groupby(["dataset", "optimizer"], sort=False):
        found = parity[(parity["dataset"] == dataset) & (parity["optimizer"] == optimizer)]
        entry = found.iloc[0] if len(found) else None
        best = None if entry is None or missing(entry["parity_multiple"]) else float(entry["parity_multiple"])
        cells = []
        for value in multiples:
            text = cell(_at(rows, optimizer, value))
            cells.append(f"**{text}**" if value == best else text)
        references = [
            name for name in dict.fromkeys(rows.sort_values("multiple")["reference"]) if isinstance(name, str)
        ]
        table.append(
            {
                "dataset": dataset,
                "optimizer": optimizer,
                "reference": ", ".join(references) or "-",
                "cells": cells,
                "parity": "-" if entry is None else str(entry["parity_text"]),
                "cost": "-" if entry is None or missing(entry.get("cost_text")) else str(entry["cost_text"]),
            }
        )
    return {"columns": columns, "rows": table}
