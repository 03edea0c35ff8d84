"""Tuning search spaces as config data, checked before any job starts.

Imports nothing heavy (no torch, no optuna at import time): the Snakefile uses it to refuse
a bad search space, with the key named, before the first job.

A search space maps hyperparameter -> distribution:
    {"distribution": "log_uniform" | "uniform", "low": x, "high": y}
    {"distribution": "int", "low": m, "high": n}          # inclusive, optionally "log": true
    {"distribution": "categorical", "choices": [...]}
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

DISTRIBUTIONS = ("log_uniform", "uniform", "int", "categorical")


class SearchSpaceError(ValueError):
    """A search space that cannot be sampled; the message names the key."""


def check_search_space(optimizer: str, space: dict, hyperparameters: Iterable[str]) -> None:
    known = set(hyperparameters)
    for key, distribution in space.items():
        where = f"tuning.search_spaces.{optimizer}.{key}"
        if key not in known:
            raise SearchSpaceError(
                f"{where}: {key!r} is not a hyperparameter of optimizer {optimizer!r} (known: {', '.join(sorted(known))})"
            )
        kind = distribution.get("distribution")
        if kind not in DISTRIBUTIONS:
            raise SearchSpaceError(f"{where}: unknown distribution {kind!r} (known: {', '.join(DISTRIBUTIONS)})")
        if kind == "categorical":
            if not distribution.get("choices"):
                raise SearchSpaceError(f"{where}: a categorical distribution needs a non-empty list of choices")
            continue
        low, high = distribution.get("low"), distribution.get("high")
        if not all(isinstance(bound, (int, float)) and not isinstance(bound, bool) for bound in (low, high)):
            raise SearchSpaceError(f"{where}: low and high must be numbers, got low={low!r}, high={high!r}")
        if low > high:
            raise SearchSpaceError(f"{where}: low ({low}) is greater than high ({high})")
        if (kind == "log_uniform" or distribution.get("log")) and low <= 0:
            raise SearchSpaceError(f"{where}: a log distribution needs positive bounds, got low={low}")
        if kind == "int" and not (float(low).is_integer() and float(high).is_integer()):
            raise SearchSpaceError(f"{where}: an int distribution needs integer bounds, got {low}..{high}")


def check_tuning_seeds(tuning_seeds: Iterable[int], evaluation_seeds: Iterable[int]) -> None:
    """Reported test numbers must never be tuned on: the two seed sets are disjoint."""
    shared = sorted(set(tuning_seeds) & set(evaluation_seeds))
    if shared:
        raise SearchSpaceError(
            f"tuning.seeds {shared} are also evaluation seeds; tuning seeds must be disjoint from `seeds`"
        )


def suggest(trial: Any, space: dict) -> dict:
    """Values for one Optuna trial."""
    values = {}
    for key, distribution in space.items():
        kind = distribution["distribution"]
        if kind == "categorical":
            values[key] = trial.suggest_categorical(key, distribution["choices"])
        elif kind == "int":
            values[key] = trial.suggest_int(
                key, int(distribution["low"]), int(distribution["high"]), log=bool(distribution.get("log"))
            )
        else:
            values[key] = trial.suggest_float(key, distribution["low"], distribution["high"], log=kind == "log_uniform")
    return values
