"""The budget rule (issue 33): a dataset's base budget B measured from its own gradient runs
instead of set by hand so that the study fits its time.

B is the forward-equivalent FLOPs at which the cheapest gradient optimizer's median validation
accuracy over seeds first comes within `fraction` x delta (the equivalence margin) of its own
plateau, the highest value of that median curve. Within delta/2 (fraction 0.5) of its best,
that optimizer has done, by its pilot runs, all but half a margin of what it will do; the
other gradient optimizers may need more (their own points are in the file) and may plateau
higher, so B is where gradient training first gets done, not where every gradient optimizer
is: rungs above B ask how much more the evolutionary optimizers need. The curves are those of
pilot runs under early stopping only (no FLOP budget), so that B does not depend on itself;
pilot runs that ended at max_epochs are named in the rule's sentence (their plateau may lie later).

An optimizer with a pilot run that diverged is listed with its counts but left out of the rule
(neuroevo.analysis.diverged: an optimizer that blows up on some seeds is no reference). The
budget file (`results/budget/{dataset}.json`) holds the rule in words with its numbers, B and
the ladder's marks; read_budget refuses a damaged one by name.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from neuroevo.analysis.diverged import diverged_counts
from neuroevo.analysis.runs import read_json_object
from neuroevo.files.errors import CorruptFileError

TOLERANCE = 1e-12  # a median exactly at plateau - fraction x margin is within (float residue aside)
RUN_KEYS = ("dataset", "optimizer", "seed")  # the columns that tell one run's history rows apart
BUDGET_KEYS = (
    "dataset",
    "rule",
    "fraction",
    "margin",
    "source",
    "base_flops",
    "rule_flops",
    "hand_flops",
    "cheapest",
    "multiples",
    "marks",
    "optimizers",
)
OPTIMIZER_KEYS = ("plateau_val_acc", "reach_flops", "reach_train_s", "reach_epoch", "n_runs", "n_diverged")
SOURCES = ("rule", "hand")


def median_curve(histories: pd.DataFrame, x: str = "flops", y: str = "val_acc") -> pd.DataFrame:
    """The median over runs of `y` against `x`: each run's rows as a step function of `x` (at a
    point, the value of its last row at or below it; a run that stopped early is carried flat
    at its last row), the median over runs at every point of the union of the runs' `x` values
    from where every run has a row (runs start at 0 FLOPs, the initial model). Columns: `x`,
    median, and the median over runs of train_s and epoch at each point (where the histories
    have them), so that a point of the curve says what it took in seconds and epochs too."""
    runs = _runs(histories, x)
    extras = [name for name in ("train_s", "epoch") if name in histories and name not in (x, y)]
    if not runs or not len(histories):
        return pd.DataFrame(columns=[x, "median", *extras])
    start = max(float(rows[x].iloc[0]) for rows in runs)
    points = np.unique(np.concatenate([rows[x].to_numpy(float) for rows in runs]))
    points = points[points >= start]
    curve = {x: points}
    for column, name in ((y, "median"), *((extra, extra) for extra in extras)):
        values = np.stack([_step(rows[x].to_numpy(float), rows[column].to_numpy(float), points) for rows in runs])
        curve[name] = np.median(values, axis=0)
    return pd.DataFrame(curve)


def _runs(histories: pd.DataFrame, x: str) -> list[pd.DataFrame]:
    """Each run's rows (told apart by RUN_KEYS), in the order of `x`, then of epoch."""
    order = [x, "epoch"] if "epoch" in histories and x != "epoch" else [x]
    keys = [key for key in RUN_KEYS if key in histories]
    groups = [rows for _, rows in histories.groupby(keys, sort=False)] if keys else [histories]
    return [rows.sort_values(order, kind="stable") for rows in groups if len(rows)]


def _step(xs: np.ndarray, ys: np.ndarray, points: np.ndarray) -> np.ndarray:
    """A run's value at each point: that of its last row at or below it (`xs` sorted)."""
    return ys[np.searchsorted(xs, points, side="right") - 1]


def _reach(curve: pd.DataFrame, x: str, margin: float, fraction: float) -> dict:
    """An optimizer's plateau (the curve's highest median) and the first point of its curve
    within fraction x margin of it."""
    plateau = float(curve["median"].max())
    within = curve[curve["median"] >= plateau - fraction * margin - TOLERANCE].iloc[0]
    return {
        "plateau_val_acc": plateau,
        "reach_flops": float(within[x]),
        "reach_train_s": _number(within.get("train_s")),
        "reach_epoch": _number(within.get("epoch")),
    }


def _number(value) -> float | None:
    """A finite float for the budget file (strict JSON), else None."""
    return float(value) if value is not None and math.isfinite(float(value)) else None


def _optimizer_entries(runs: pd.DataFrame, histories: pd.DataFrame, margin: float, fraction: float) -> dict:
    """Per gradient optimizer of `runs`: its plateau and reach (null when a pilot run diverged
    or no history is left), and its runs and how many diverged."""
    entries = {}
    for name, (diverged, count) in diverged_counts(runs).items():
        mine = histories[histories["optimizer"] == name]
        usable = not diverged and len(mine)
        reach = _reach(median_curve(mine), "flops", margin, fraction) if usable else {}
        entries[str(name)] = {key: reach.get(key) for key in OPTIMIZER_KEYS[:4]} | {
            "n_runs": count,
            "n_diverged": diverged,
        }
    return entries


def derive_budget(
    dataset: str,
    runs: pd.DataFrame,
    histories: pd.DataFrame,
    margin: float,
    fraction: float,
    multiples: list[float],
    hand_flops: float | None = None,
) -> dict:
    """The budget file of `dataset` from its gradient optimizers' pilot runs (a table of runs
    and their histories, as load_runs and load_histories give them; other datasets' and
    evolutionary optimizers' rows are ignored): the rule's B (rule_flops, always computed when a
    gradient optimizer is usable), the B used (base_flops: `hand_flops` when set by hand, else
    the rule's) and the ladder's marks (B x `multiples`). ValueError when the rule gives no
    budget and none was set by hand."""
    _check_multiples(multiples, "multiples")
    _positive(hand_flops, "hand_flops", optional=True)
    if not margin > 0 or not 0 < fraction <= 1:
        raise ValueError(f"the rule needs a positive margin and a fraction in (0, 1], got {margin} and {fraction}")
    if "dataset" in runs:
        runs = runs[runs["dataset"] == dataset]
    if "dataset" in histories:
        histories = histories[histories["dataset"] == dataset]
    gradient = runs[runs["optimizer_kind"] == "gradient"] if "optimizer_kind" in runs else runs.iloc[0:0]
    optimizers = _optimizer_entries(gradient, histories, margin, fraction)
    usable = {name: entry for name, entry in optimizers.items() if entry["reach_flops"] is not None}
    cheapest = min(usable, key=lambda name: usable[name]["reach_flops"]) if usable else None
    rule_flops = usable[cheapest]["reach_flops"] if cheapest else None
    why_none = _why_no_rule(optimizers, rule_flops)
    if hand_flops is None and why_none:
        raise ValueError(
            f"{dataset}: the budget rule gives no budget ({why_none}); set training.budget_flops by hand to a number"
        )
    base = float(hand_flops) if hand_flops is not None else float(rule_flops)
    return {
        "dataset": dataset,
        "rule": _rule_text(optimizers, cheapest, rule_flops, margin, fraction, hand_flops, why_none)
        + _capped_text(gradient),
        "fraction": float(fraction),
        "margin": float(margin),
        "source": "hand" if hand_flops is not None else "rule",
        "base_flops": base,
        "rule_flops": rule_flops,
        "hand_flops": None if hand_flops is None else float(hand_flops),
        "cheapest": cheapest,
        "multiples": [float(value) for value in multiples],
        "marks": [base * float(value) for value in multiples],
        "optimizers": optimizers,
    }


def _why_no_rule(optimizers: dict, rule_flops: float | None) -> str:
    """Why the rule gives no positive budget ("" when it does)."""
    if not optimizers:
        return "no gradient optimizer ran a pilot run"
    if rule_flops is None:
        diverged = [
            f"{name} {entry['n_diverged']} of {entry['n_runs']}"
            for name, entry in optimizers.items()
            if entry["n_diverged"]
        ]
        why = f"diverged in some pilot run ({', '.join(diverged)} diverged)" if diverged else ""
        if len(diverged) < len(optimizers):
            why += (" or " if why else "") + "left no pilot history"
        return f"every gradient optimizer {why}"
    if not rule_flops > 0:
        return "the initial model is already within the margin of the plateau, so the rule gives 0 FLOPs"
    return ""


def _capped_text(runs: pd.DataFrame) -> str:
    """A caveat per gradient optimizer some of whose pilot runs ran out of max_epochs (status
    "completed") rather than patience: its curve may still rise past the pilot's end, so its
    plateau, and B when it is the cheapest, are the pilot's, not a converged run's."""
    if "status" not in runs or not len(runs):
        return ""
    capped = [
        f"{name}'s in {int((group['status'] == 'completed').sum())} of {len(group)}"
        for name, group in runs.groupby("optimizer", sort=False)
        if (group["status"] == "completed").any()
    ]
    if not capped:
        return ""
    return f" Pilot runs that ended at max_epochs, not by patience (their plateau may lie later): {', '.join(capped)}."


def _rule_text(optimizers, cheapest, rule_flops, margin, fraction, hand_flops, why_none) -> str:
    """The rule in one sentence, with its numbers."""
    rule = (
        f"B is the forward-equivalent FLOPs at which the cheapest gradient optimizer's median validation accuracy over "
        f"its pilot runs (early stopping, no budget) first comes within {fraction:g} x delta = {fraction * margin:.4g} "
        f"of its own plateau"
    )
    if why_none:
        rule += f"; here it gives none ({why_none})"
    else:
        entry = optimizers[cheapest]
        others = ", ".join(
            f"{name}'s at {other['reach_flops']:.3g}"
            for name, other in optimizers.items()
            if name != cheapest and other["reach_flops"] is not None
        )
        rule += (
            f": {cheapest}'s median comes within it at {rule_flops:.3g} FLOPs ("
            + (f"epoch {entry['reach_epoch']:g}, " if entry["reach_epoch"] is not None else "")
            + f"plateau {entry['plateau_val_acc']:.4f}, {entry['n_runs']} runs)"
            + (f"; {others}" if others else "")
        )
    excluded = [name for name, entry in optimizers.items() if entry["n_diverged"]]
    if excluded and not why_none:
        rule += f", {', '.join(excluded)} left out for a diverged pilot run"
    if hand_flops is not None:
        rule += f"; B = {float(hand_flops):.3g} FLOPs was set by hand (training.budget_flops) instead"
    return rule + "."


# --- Reading a budget file ------------------------------------------------------------------

BUDGET_LIMIT = 1 << 24  # a budget file is a kilobyte or two


def read_budget(path: str | Path) -> dict:
    """The budget file at `path` (a regular file, of derive_budget's form), its keys and values
    checked: base_flops positive and finite, multiples positive and increasing, marks base_flops
    x multiples. ValueError (CorruptFileError) naming the file and how to remake it otherwise;
    FileNotFoundError, naming it and the job that writes it, when there is none."""
    path = Path(path)
    remedy = f"delete it and rerun the budget job (snakemake --forcerun {path})"
    if not path.exists() and not path.is_symlink():
        raise FileNotFoundError(f"{path}: no budget file; run the budget job first (snakemake {path})")
    budget = read_json_object(path, BUDGET_KEYS, "budget file", remedy)
    try:
        _check_budget(budget)
    except (ValueError, TypeError) as error:
        raise CorruptFileError(f"{path}: corrupt budget file ({error}); {remedy}") from error
    return budget


def _positive(value, name: str, optional: bool = False) -> None:
    if optional and value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < math.inf:
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")


def _check_multiples(multiples, name: str) -> None:
    if not isinstance(multiples, (list, tuple)) or not multiples:
        raise ValueError(f"{name} must be a non-empty list of positive numbers, got {multiples!r}")
    for value in multiples:
        _positive(value, name)
    if any(later <= earlier for earlier, later in zip(multiples, multiples[1:], strict=False)):
        raise ValueError(f"{name} must be strictly increasing, got {list(multiples)}")


def _check_budget(budget: dict) -> None:
    """ValueError naming the first key of a budget file that is not as derive_budget writes it."""
    if not isinstance(budget["dataset"], str) or not isinstance(budget["rule"], str):
        raise ValueError("dataset and rule must be text")
    if budget["source"] not in SOURCES:
        raise ValueError(f"source must be one of {', '.join(SOURCES)}, got {budget['source']!r}")
    for name in ("fraction", "margin", "base_flops"):
        _positive(budget[name], name)
    hand = budget["source"] == "hand"
    _positive(budget["rule_flops"], "rule_flops", optional=hand)
    _positive(budget["hand_flops"], "hand_flops", optional=not hand)
    if hand and budget["hand_flops"] != budget["base_flops"]:
        raise ValueError(f"base_flops {budget['base_flops']!r} is not the hand-set hand_flops {budget['hand_flops']!r}")
    if not hand and (budget["hand_flops"] is not None or budget["rule_flops"] != budget["base_flops"]):
        raise ValueError("a rule's budget must have base_flops = rule_flops and hand_flops null")
    _check_multiples(budget["multiples"], "multiples")
    marks = budget["marks"]
    expected = [budget["base_flops"] * value for value in budget["multiples"]]
    if not isinstance(marks, list) or len(marks) != len(expected):
        raise ValueError(f"marks must be a list of {len(expected)} numbers (base_flops x multiples), got {marks!r}")
    for mark, value in zip(marks, expected, strict=True):
        _positive(mark, "marks")
        if not math.isclose(mark, value, rel_tol=1e-9):
            raise ValueError(f"marks must be base_flops x multiples ({expected}), got {marks}")
    if budget["cheapest"] is not None and not isinstance(budget["cheapest"], str):
        raise ValueError(f"cheapest must be an optimizer's name or null, got {budget['cheapest']!r}")
    _check_optimizers(budget["optimizers"], budget["cheapest"])


def _check_optimizers(optimizers, cheapest) -> None:
    if not isinstance(optimizers, dict) or not all(isinstance(entry, dict) for entry in optimizers.values()):
        raise ValueError("optimizers must map each gradient optimizer to its entry")
    for name, entry in optimizers.items():
        missing = [key for key in OPTIMIZER_KEYS if key not in entry]
        if missing:
            raise ValueError(f"optimizers.{name} lacks {', '.join(missing)}")
    if cheapest is not None and cheapest not in optimizers:
        raise ValueError(f"cheapest {cheapest!r} is not one of the optimizers listed")
