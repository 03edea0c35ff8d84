"""What the prior-work audit tests its claims on (neuroevo.analysis.audit): the evidence (the
main runs, the studies' runs and histories, the discovery comparisons, the ES alignment) and
the selection of one metric per seed that a claim names, with what stood in for a missing
dataset."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd


class ClaimError(ValueError):
    """A claim the audit cannot read; the message names its id and the key."""


@dataclass
class Evidence:
    """What the claims are tested on: the main runs, the studies' runs (with `variant`), the
    discovery comparisons' runs (with `task`, `label`) and the ES alignment measurement."""

    runs: pd.DataFrame = field(default_factory=pd.DataFrame)
    studies: dict[str, pd.DataFrame] = field(default_factory=dict)
    study_histories: dict[str, pd.DataFrame] = field(default_factory=dict)  # with variant and seed
    comparisons: dict[str, pd.DataFrame] = field(default_factory=dict)
    alignment: pd.DataFrame | None = None
    stand_ins: dict[str, str] = field(default_factory=dict)  # the write-up's dataset -> the one run


class Missing(Exception):
    """The selection's runs are not in the evidence: the claim is not run (the message says why)."""


@dataclass
class Sample:
    values: pd.Series  # one value per seed
    label: str  # how the section names it
    stand_in: str = ""  # the dataset that stood in, if one did


def _at_generation(evidence: Evidence, where: dict, metric: str, generation: int) -> Sample:
    """A study variant's metric per seed in its history's last row at or before `generation`
    (a deep-GA history row closes an epoch of several generations)."""
    study, variant = where["study"], where.get("variant")
    history = evidence.study_histories.get(study)
    if history is None or "generation" not in history:
        raise Missing(f"the histories of the study {study} are not in this audit")
    mine = history[(history["variant"] == variant) & (history["generation"] <= generation)]
    if not len(mine):
        raise Missing(f"no history of {study}/{variant} up to generation {generation}")
    if metric not in mine:
        raise ClaimError(f"the histories of {study}/{variant} have no column {metric!r}")
    last = mine.sort_values("generation").groupby("seed").tail(1).set_index("seed")[metric].astype(float)
    return Sample(last.sort_index(), f"{study}/{variant} at generation {generation}")


def common_generation(evidence: Evidence, selections: list[dict]) -> int:
    """The most generations every run of these study variants reached: where a comparison at
    equal generations (the deep-GA write-up's axis) can be made."""
    reached = []
    for where in selections:
        history = evidence.study_histories.get(where.get("study"))
        if history is None or "generation" not in history:
            raise Missing(f"the histories of the study {where.get('study')} are not in this audit")
        mine = history[history["variant"] == where.get("variant")]
        if not len(mine):
            raise Missing(f"no history of {where.get('study')}/{where.get('variant')}")
        reached.append(int(mine.groupby("seed")["generation"].max().min()))
    return min(reached)


def select(
    evidence: Evidence, where: dict, metric: str, on_stand_in: bool = False, generation: int | None = None
) -> Sample:
    """The metric per seed of the runs `where` names (a study's at `generation` from its
    histories, when given); Missing if they are not in the evidence."""
    if generation is not None:
        return _at_generation(evidence, where, metric, generation)
    where = dict(where)
    stand_in = ""
    if "study" in where:
        study = where.pop("study")
        if study not in evidence.studies:
            raise Missing(f"the study {study} is not in this audit")
        frame, label = evidence.studies[study], f"{study}/{where.get('variant')}"
    elif "discovery" in where:
        name = where.pop("discovery")
        if name not in evidence.comparisons:
            raise Missing(f"the discovery comparison {name} is not in this audit")
        frame, label = evidence.comparisons[name], f"{where.get('label')} on {where.get('task')}"
    else:
        frame = evidence.runs
        dataset = where.get("dataset")
        present = set(frame["dataset"]) if len(frame) else set()
        if dataset not in present and dataset in evidence.stand_ins:
            if not on_stand_in:
                raise Missing(
                    f"needs {dataset}'s files; {evidence.stand_ins[dataset]} stood in, and its numbers are not {dataset}'s"
                )
            stand_in = where["dataset"] = evidence.stand_ins[dataset]
        label = f"{where.get('optimizer')} on {where['dataset']}"
    mask = np.ones(len(frame), dtype=bool)
    for key, value in where.items():
        if key not in frame:
            raise Missing(f"no runs with {key} = {value}")
        mask &= (frame[key] == value).to_numpy()
    chosen = frame[mask]
    if not len(chosen):
        raise Missing(f"no runs of {label}")
    if metric not in chosen:
        raise ClaimError(f"the runs of {label} have no metric {metric!r}")
    values = chosen.groupby("seed")[metric].mean().astype(float)
    return Sample(values, label, stand_in)


def paired(a: Sample, b: Sample) -> tuple[np.ndarray, np.ndarray]:
    """The two samples' values on the seeds both have."""
    both = pd.concat([a.values.rename("a"), b.values.rename("b")], axis=1).dropna()
    return both["a"].to_numpy(), both["b"].to_numpy()
