"""The report's opening along the budget ladder (issue 33), from a tiny synthetic study: run
summaries with rungs (no training), aggregated, the report-figures command's tables and ladder
figure, then the report: the primary endpoint, the answer in words, the verdict-by-budget table
with a column per rung, and the figure; one rung only, and no rungs at all, still render."""

import json
import math
from pathlib import Path

import matplotlib.colors
import numpy as np
import pandas as pd
import pytest

from neuroevo.analysis.aggregate import aggregate
from neuroevo.analysis.verdict import BETTER, EQUIVALENT, INCONCLUSIVE, NO_REFERENCE, WORSE
from neuroevo.report import figures
from neuroevo.report.answer import answers, cell, ladder_table, primary_endpoint
from neuroevo.report.render import render_report

REPOSITORY = Path(__file__).resolve().parents[1]
TEMPLATE = REPOSITORY / "report" / "templates" / "report.md.j2"
B = 1e6
MULTIPLES = [1.0, 4.0, 16.0]
SEEDS = range(10)
KINDS = {"sgd": "gradient", "adam": "gradient", "cmaes": "evolution", "deep_ga": "evolution"}
# Median test (and validation) accuracy at each rung: sgd is flat at its plateau from 1x; cmaes
# closes the gap at 16x; deep_ga never does.
LEVELS = {
    "sgd": [0.9, 0.9, 0.9],
    "adam": [0.85, 0.86, 0.86],
    "cmaes": [0.6, 0.8, 0.9],
    "deep_ga": [0.5, 0.55, 0.6],
}
CONFIG = {"report": {"alpha": 0.05, "equivalence_margin": 0.01, "primary_endpoint": "parity"}}
SPLITS = ("train", "val", "test")


def _scores(accuracy: float) -> dict:
    return {f"{split}_acc": accuracy for split in SPLITS} | {f"{split}_loss": 1 - accuracy for split in SPLITS}


def _rung(multiple: float, accuracy: float) -> dict:
    """A reached rung of the summary's `rungs` (training/summary.py's keys)."""
    flops = B * multiple
    work = {"flops": flops, "sample_evals": flops / 10, "model_evals": flops / 100, "grad_evals": flops / 100}
    timing = {"epoch": multiple, "steps": int(multiple * 10), "train_s": multiple, "wall_s": 1.5 * multiple}
    return {"multiple": multiple, "mark_flops": flops, "status": "reached", **timing, **work, **_scores(accuracy)}


def _summary(optimizer: str, seed: int, accuracies: list[float], multiples: list[float]) -> dict:
    """A run's summary: the early-stopping arm at its top rung's model, budget_* fields the top
    rung's, one entry of `rungs` per multiple (without a budget, none of them)."""
    top = accuracies[-1]
    summary = {
        "dataset": "toy",
        "optimizer": optimizer,
        "optimizer_kind": KINDS[optimizer],
        "seed": seed,
        "status": "early_stopped",
        "device": "cpu",
        "epochs": 3,
        "train_time_s": 1.0,
        "flops": 3 * B,
        "model_evals": 30,
        "grad_evals": 30,
        **_scores(top),
        "hyperparameters": {"lr": 0.1} if KINDS[optimizer] == "gradient" else {"sigma0": 0.5},
        "training": {"budget_flops": B if multiples else None, "budget_multiples": multiples or [1.0]},
    }
    if not multiples:
        return summary
    end = _rung(multiples[-1], top)
    return summary | {
        "budget_status": "reached",
        "budget_epoch": end["epoch"],
        "budget_train_time_s": end["train_s"],
        "budget_wall_time_s": end["wall_s"],
        **{f"budget_{name}": end[name] for name in ("flops", "sample_evals", "model_evals", "grad_evals")},
        **{f"budget_{name}": value for name, value in _scores(top).items()},
        "rungs": [_rung(multiple, value) for multiple, value in zip(multiples, accuracies, strict=True)],
    }


def _history(optimizer: str, seed: int, accuracies: list[float], multiples: list[float]) -> pd.DataFrame:
    """A run's history (its keys on every row): validation accuracy 0.1 for the initial model,
    then at each epoch's end the rungs' (without rungs, the levels at B, 2B, 3B)."""
    marks = [0.0, *(B * multiple for multiple in multiples)] if multiples else [0.0, B, 2 * B, 3 * B]
    values = [0.1, *accuracies]
    return pd.DataFrame(
        {
            "dataset": "toy",
            "optimizer": optimizer,
            "seed": seed,
            "epoch": range(len(marks)),
            "flops": marks,
            "train_s": [flops / B for flops in marks],
            "wall_s": [1.5 * flops / B for flops in marks],
            "val_acc": values,
            "val_loss": [1 - value for value in values],
        }
    )


def _study(tmp_path: Path, multiples: list[float] = MULTIPLES) -> Path:
    """The aggregate's tables of a tiny study (runs, metrics, tests, histories, rungs) in
    tmp_path/summary: every optimizer on 10 seeds, each accuracy its LEVELS at the rung with a
    little noise per run and rung."""
    rng = np.random.default_rng(0)
    paths = []
    for optimizer, levels in LEVELS.items():
        for seed in SEEDS:
            chosen = [levels[MULTIPLES.index(multiple)] for multiple in multiples] or levels
            accuracies = [round(value + rng.normal(0, 0.002), 4) for value in chosen]
            path = tmp_path / "runs" / optimizer / str(seed) / "summary.json"
            path.parent.mkdir(parents=True)
            path.write_text(json.dumps(_summary(optimizer, seed, accuracies, multiples)))
            _history(optimizer, seed, accuracies, multiples).to_parquet(path.with_name("history.parquet"))
            paths.append(path)
    aggregate(paths, tmp_path / "summary")
    return tmp_path / "summary"


def _budget(tmp_path: Path, multiples: list[float] = MULTIPLES, source: str = "rule") -> Path:
    """The dataset's budget file (neuroevo.analysis.budget_rule's form)."""
    entry = {"plateau_val_acc": 0.9, "reach_flops": 5e5, "reach_train_s": 0.5, "reach_epoch": 1.0}
    budget = {
        "dataset": "toy",
        "rule": "B is where sgd comes within 0.005 of its plateau.",
        "fraction": 0.5,
        "margin": 0.01,
        "source": source,
        "base_flops": B,
        "rule_flops": B if source == "rule" else 7e5,
        "hand_flops": None if source == "rule" else B,
        "cheapest": "sgd",
        "multiples": multiples,
        "marks": [B * multiple for multiple in multiples],
        "optimizers": {
            "sgd": entry | {"n_runs": 10, "n_diverged": 0},
            "adam": entry | {"reach_flops": 8e5, "n_runs": 10, "n_diverged": 0},
        },
    }
    path = tmp_path / "budget" / "toy.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(budget))
    return path


def _render(summary: Path, tmp_path: Path, budget_paths=(), config=CONFIG) -> str:
    out = tmp_path / "report" / "report.md"
    figures_dir = tmp_path / "report" / "figures"
    render_report(summary, TEMPLATE, config, out, REPOSITORY, figures_dir=figures_dir, budget_paths=list(budget_paths))
    return out.read_text()


def test_a_tiny_study_opens_with_the_endpoint_the_answer_the_table_and_the_figure(tmp_path):
    summary, budget = _study(tmp_path), _budget(tmp_path)
    figures_dir = tmp_path / "report" / "figures"
    figures.write_report_figures(summary, figures_dir, budgets={"toy": json.loads(budget.read_text())})
    verdicts = pd.read_parquet(summary / "verdicts.parquet")
    parity = pd.read_parquet(summary / "parity.parquet").set_index("optimizer")
    assert len(verdicts) == 2 * len(MULTIPLES) and set(verdicts["optimizer"]) == {"cmaes", "deep_ga"}
    assert parity.loc["cmaes", "parity_multiple"] == 16 and math.isnan(parity.loc["deep_ga", "parity_multiple"])
    assert (summary / "parity.csv").exists() and (summary / "verdicts.csv").exists()
    assert (figures_dir / "toy_ladder.png").stat().st_size > 10_000
    assert (figures_dir / "toy_cost.png").exists()  # the existing figures stay

    report = _render(summary, tmp_path, [budget])
    # The opening, in order, before today's details.
    order = ["## Primary endpoint", "## The answer", "## Verdict by budget", "](figures/toy_ladder.png)", "## Setup"]
    assert [report.index(heading) for heading in order] == sorted(report.index(heading) for heading in order)
    assert (
        "Holm-corrected over the dataset's evolutionary optimizers x its rungs (toy: 2 evolutionary optimizers x 3"
        in (report)
    )
    assert "Everything else is secondary (descriptive, not part of the endpoint's tests): the cost to parity" in report
    assert "the early-stopping arm, the best-validation model within the budget and aRT to target" in report
    answer = report.split("## The answer")[1].split("## Verdict by budget")[0]
    assert "On toy (B = 1M FLOPs per run by the rule, from sgd's pilot runs; rungs 1x, 4x, 16x B)" in answer
    assert "cmaes matches sgd at 16x B (equiv. " in answer
    assert "deep_ga is shown equivalent to the gradient reference at no rung up to 16x (at 16x: worse " in answer
    assert "is not shown to reach sgd's best on the ladder (test acc 0.9" in answer and "within δ by 16x" in answer
    assert "The rule: B is where sgd comes within 0.005 of its plateau." in answer
    lines = report.splitlines()
    assert "| dataset | optimizer | vs | 1x B | 4x B | 16x B | parity | cost to parity |" in lines
    (cmaes,) = [line for line in lines if line.startswith("| toy | cmaes |")]
    assert cmaes.count("worse \N{MINUS SIGN}") == 2 and "| **equiv. " in cmaes and "| 16x | 16x B = " in cmaes
    (deep_ga,) = [line for line in lines if line.startswith("| toy | deep_ga |")]
    assert deep_ga.endswith("| not within 16x | not within 16x |")
    # The dataset's details: the ladder's rows with their rung, the top rung's equal-budget arm.
    assert any(line.startswith("| 4x | deep_ga | sgd | 10 |") for line in lines)
    assert "### toy: Equal budget, top rung (16x B = 16M FLOPs per run)" in lines
    assert "### toy: Early stopping (secondary)" in lines and "Secondary. Cost to reach each target" in report


def _verdict(multiple: float, optimizer: str, verdict: str, hl: float, reference: str | None = "sgd") -> dict:
    return {
        "dataset": "toy",
        "multiple": multiple,
        "mark_flops": B * multiple,
        "optimizer": optimizer,
        "reference": reference,
        "n": 10,
        "n_nonzero": 10,
        "family": 2,
        "mean_acc": 0.9 + hl,
        "reference_mean_acc": 0.9,
        "hl": hl,
        "ci_low": hl - 0.01,
        "ci_high": hl + 0.01,
        "p_equivalent_holm": 0.01 if verdict == EQUIVALENT else 0.5,
        "p_worse_holm": 0.01 if verdict == WORSE else 0.5,
        "p_difference_holm": 0.5,
        "verdict": verdict,
        "reason": "",
        "margin": 0.01,
        "alpha": 0.05,
        "budget_flops": B,
        "target_val_acc": 0.85,
        "flops_ratio": 2.0,
        "seconds_ratio": 3.0,
    }


def _parity(optimizer: str, parity: float, cost: float, reference: str = "sgd") -> dict:
    return {
        "dataset": "toy",
        "optimizer": optimizer,
        "multiples": [1.0],
        "top_multiple": 1.0,
        "base_flops": B,
        "budget_source": "hand",
        "rule_flops": 7e5,
        "parity_multiple": parity,
        "parity_reference": None if math.isnan(parity) else reference,
        "parity_text": "not within 1x" if math.isnan(parity) else f"{parity:g}x",
        "plateau_multiple": 1.0,
        "plateau_reference": reference,
        "plateau_test_acc": 0.9,
        "cost_multiple": cost,
        "cost_flops": B * cost,
        "cost_ratio_flops": 2.0,
        "cost_ratio_seconds": math.nan,
        "cost_text": "not within 1x" if math.isnan(cost) else f"{cost:g}x B = 1M FLOPs, 2x {reference}'s cost",
    }


def test_one_rung_renders_one_column_and_a_rung_endpoint_its_verdicts(tmp_path):
    summary = _study(tmp_path, multiples=[1.0])
    pd.DataFrame([_verdict(1.0, "cmaes", BETTER, 0.03), _verdict(1.0, "deep_ga", WORSE, -0.284)]).to_parquet(
        summary / "verdicts.parquet"
    )
    pd.DataFrame([_parity("cmaes", 1.0, 1.0), _parity("deep_ga", math.nan, math.nan)]).to_parquet(
        summary / "parity.parquet"
    )
    config = {"report": CONFIG["report"] | {"primary_endpoint": 1}}
    report = _render(summary, tmp_path, [_budget(tmp_path, [1.0], source="hand")], config)
    lines = report.splitlines()
    assert "| dataset | optimizer | vs | 1x B (primary) | parity | cost to parity |" in lines
    assert "| toy | deep_ga | sgd | worse \N{MINUS SIGN}0.284 | not within 1x | not within 1x |" in lines
    assert "| toy | cmaes | sgd | **better +0.030** | 1x | 1x B = 1M FLOPs, 2x sgd's cost |" in lines
    assert "Endpoint: the verdicts at the 1x rung (1x B)" in report
    assert "secondary (descriptive, not part of the endpoint's tests): the verdicts at the other rungs, the equal-" in (
        report
    )
    assert "(toy: 2 evolutionary optimizers x 1 rung = 2 tests)" in report
    assert "B = 1M FLOPs per run, set by hand, where the rule would have given 700k" in report
    assert (
        "At the primary rung 1x B: cmaes better +0.030 against sgd; deep_ga worse \N{MINUS SIGN}0.284 against sgd."
        in (report)
    )
    assert (
        "cmaes beats sgd at 1x B (better +0.030), and reaches sgd's best on the ladder (test acc 0.900 at 1x) within δ at 1x B"
        in report
    )
    assert "2x sgd's own FLOPs to reach it." in report  # no seconds ratio in the table: none written
    assert "### toy: Equal budget, top rung (1x B = 1M FLOPs per run)" in lines


def test_without_rungs_the_ladder_sections_are_absent(tmp_path):
    summary = _study(tmp_path, multiples=[])
    figures.write_report_figures(summary, tmp_path / "report" / "figures")
    assert not len(pd.read_parquet(summary / "verdicts.parquet")) and not len(
        pd.read_parquet(summary / "parity.parquet")
    )
    assert not list((tmp_path / "report" / "figures").glob("*_ladder.png"))
    report = _render(summary, tmp_path)
    for heading in ("## Primary endpoint", "## The answer", "## Verdict by budget", "top rung"):
        assert heading not in report
    assert "## toy" in report and "### toy: Early stopping (secondary)" in report


def test_the_answer_and_the_cells_say_what_the_tables_hold():
    verdicts = pd.DataFrame(
        [
            _verdict(1.0, "cmaes", WORSE, -0.2),
            _verdict(4.0, "cmaes", EQUIVALENT, 0.002),
            _verdict(1.0, "es", INCONCLUSIVE, -0.012, reference="adam"),
            _verdict(4.0, "es", NO_REFERENCE, math.nan, reference=None),
        ]
    )
    parity = pd.DataFrame([_parity("cmaes", 4.0, math.nan), _parity("es", math.nan, math.nan)])
    parity["multiples"], parity["top_multiple"], parity["budget_source"] = [[1.0, 4.0]] * 2, 4.0, "rule"
    (answer,) = answers(verdicts, parity, {}, CONFIG)
    assert answer["text"].startswith("On toy (B = 1M FLOPs per run by the rule; rungs 1x, 4x B): ")
    assert (
        "cmaes matches sgd at 4x B (equiv. +0.002), and is not shown to reach sgd's best on the ladder"
        in answer["text"]
    )
    assert "es has no gradient reference at 4x" in answer["text"]
    table = ladder_table(verdicts, parity, CONFIG)
    assert table["columns"] == ["1x B", "4x B"]
    assert [row["cells"] for row in table["rows"]] == [
        ["worse \N{MINUS SIGN}0.200", "**equiv. +0.002**"],
        ["incon. \N{MINUS SIGN}0.012", "no ref."],
    ]
    assert table["rows"][1]["reference"] == "adam"
    assert cell(None) == "-"
    endpoint = primary_endpoint(CONFIG, verdicts)
    assert endpoint["families"] == ["toy: 2 evolutionary optimizers x 2 rungs = 2 tests"]  # the table's family
    assert "equal-budget parity multiple" in endpoint["what"] and endpoint["margin"] == "0.01"


def test_the_ladder_figure_marks_the_rungs_the_parity_rung_and_the_plateau(tmp_path, monkeypatch):
    drawn = {}
    monkeypatch.setattr(figures, "save", lambda figure, out: drawn.setdefault(out.name, figure))
    rows = [
        {"optimizer": name, "optimizer_kind": KINDS[name], "seed": seed, "multiple": multiple}
        | {"mark_flops": B * multiple, "test_acc": levels[index] + 0.001 * seed}
        for name, levels in LEVELS.items()
        for index, multiple in enumerate(MULTIPLES)
        for seed in range(3)
    ]
    parity = pd.DataFrame([_parity("cmaes", 16.0, 16.0), _parity("deep_ga", math.nan, math.nan)])
    figures.plot_ladder("toy", pd.DataFrame(rows), parity, 0.01, tmp_path / "toy_ladder.png")
    axes = drawn["toy_ladder.png"].axes[0]
    assert axes.get_xscale() == "log" and [label.get_text() for label in axes.get_xticklabels()] == ["1x", "4x", "16x"]
    lines = {line.get_label(): line for line in axes.get_lines()}
    stars = [line for line in axes.get_lines() if line.get_marker() == "*" and len(line.get_xdata())]
    assert len(stars) == 1 and list(stars[0].get_xdata()) == [16.0]  # cmaes's parity, deep_ga has none
    assert matplotlib.colors.same_color(stars[0].get_color(), lines["cmaes"].get_color())
    assert stars[0].get_ydata()[0] == pytest.approx(0.901)  # its median at 16x
    assert lines["sgd"].get_linestyle() == "--" and lines["cmaes"].get_linestyle() == "-"
    assert sum(1 for line in axes.get_lines() if list(line.get_xdata()) in ([1.0, 1.0], [4.0, 4.0])) == 2  # rungs
    (band,) = [patch for patch in axes.patches if "best on the ladder" in patch.get_label()]
    assert band.get_label() == "sgd's best on the ladder 0.900 ± δ"
    low, high = band.get_y(), band.get_y() + band.get_height()  # the band is 0.9 +- 0.01
    assert (low, high) == (pytest.approx(0.89), pytest.approx(0.91))
