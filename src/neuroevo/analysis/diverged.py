"""The one rule for a run that diverged, wherever a run is read by the model it ends with: the
equal-budget arm (neuroevo.analysis.arms), the verdicts (neuroevo.analysis.verdict), a study's
section read at the end of its budget (neuroevo.report.study_section) and the discovery
comparison, which scores the last model (neuroevo.analysis.comparison).

- A diverged run scores DIVERGED_SCORE: every accuracy of it (each `*_acc` column: train, val,
  test, the best-validation model's within the budget, the last model's) is 0, never the
  accuracy of the model it blew up with; its losses are left as they were read (the last model
  scored: a huge loss shows the explosion). It stays in every table and is counted
  (`diverged_counts`, "k of n diverged").
- A diverged run reaches no target of a cost table, whatever its history showed before it
  diverged, and is charged all it spent (neuroevo.analysis.cost).
- A gradient optimizer any of whose runs diverged is never a verdict's reference.

The early-stopping arm reads every run at its best-validation model before its stop, a
divergence included (that model was trained, not exploded); a diverged run there keeps its
accuracies and is counted, and reaches no target (the same cost rule).
"""

from __future__ import annotations

import pandas as pd

DIVERGED = "diverged"  # the status of a run that diverged (a summary's status or budget_status)
DIVERGED_SCORE = 0.0  # every accuracy of a diverged run, as the discovery comparison scores it
# The rule in words, for the report's text about the arms and the verdicts.
RULE = (
    "a run that diverged before its budget's end scores 0 (as in the discovery comparison) and is counted as diverged"
)


def is_accuracy(column: str) -> bool:
    """Whether a column is an accuracy the rule sets to DIVERGED_SCORE."""
    return column.endswith("_acc")


def is_diverged(status) -> pd.Series | bool:
    """Per run (a Series of statuses) or of one run (a status), whether it diverged."""
    return status == DIVERGED


def scored(value, status, column: str):
    """One run's `column` under the rule: DIVERGED_SCORE for an accuracy of a diverged run,
    else `value` as it is."""
    return DIVERGED_SCORE if is_diverged(status) and is_accuracy(column) else value


def score_diverged(frame: pd.DataFrame, status: str = "status") -> pd.DataFrame:
    """A copy of a table of runs with the rule applied: every accuracy column (is_accuracy) of
    the runs whose `status` column says diverged is DIVERGED_SCORE; other columns as they are."""
    frame = frame.copy()
    if status not in frame or not len(frame):
        return frame
    diverged = is_diverged(frame[status]).fillna(False).astype(bool).to_numpy()
    if diverged.any():
        for column in [column for column in frame.columns if is_accuracy(str(column))]:
            frame[column] = frame[column].astype(float)
            frame.loc[diverged, column] = DIVERGED_SCORE
    return frame


def diverged_keys(runs: pd.DataFrame, keys: tuple[str, ...] = ("optimizer", "seed")) -> set[tuple]:
    """The `keys` of the runs that diverged (none without a status column)."""
    if "status" not in runs or not len(runs):
        return set()
    mine = runs[is_diverged(runs["status"]).fillna(False).astype(bool)]
    return set(mine[list(keys)].itertuples(index=False, name=None))


def diverged_counts(runs: pd.DataFrame, by: str = "optimizer") -> dict[str, tuple[int, int]]:
    """Per value of `by` (an optimizer, a study's variant, a comparison's label): (runs that
    diverged, runs), in the table's order."""
    counts = {}
    for name, group in runs.groupby(by, sort=False):
        diverged = int(is_diverged(group["status"]).sum()) if "status" in group else 0
        counts[name] = (diverged, len(group))
    return counts


def diverged_text(diverged: int, runs: int) -> str:
    """ "k of n diverged", or "" when none did."""
    return f"{diverged} of {runs} diverged" if diverged else ""
