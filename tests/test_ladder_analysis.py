"""The ladder's analysis (issue 33, items 3 and 4): the rungs table, the verdicts at every rung
(reference re-picked on validation per rung, Holm over evolutionary optimizers x rungs) and the
parity multiples, on synthetic paired data whose answer is known: a shift that closes at the
16x rung gives 16x, one that never closes gives "not within 64x"."""

import json

import numpy as np
import pandas as pd
import pytest

from neuroevo.analysis.aggregate import aggregate
from neuroevo.analysis.arms import BUDGET, arm_histories
from neuroevo.analysis.ladder import RUNG_COLUMNS, ladder_verdicts, rung_table
from neuroevo.analysis.parity import parity_table
from neuroevo.analysis.runs import read_table
from neuroevo.analysis.verdict import EQUIVALENT, NO_REFERENCE, WORSE
from neuroevo.files.errors import CorruptFileError

MULTIPLES = [0.25, 1.0, 4.0, 16.0, 64.0]
SEEDS = range(10)
B = 1e6
MARGIN, ALPHA = 0.02, 0.05
OFFSET = {seed: 0.001 * (seed - 4.5) for seed in SEEDS}  # each seed's own level, shared by every optimizer
NOISE = {seed: 0.0001 * (seed + 1) * (-1) ** seed for seed in SEEDS}  # tiny, distinct, both signs
# sgd climbs to its plateau at 64x (validation); adam is best on validation at the 4x rung only.
GRADIENT = {
    "sgd": {"val": [0.80, 0.85, 0.88, 0.90, 0.905], "test": [0.70, 0.80, 0.85, 0.90, 0.90]},
    "adam": {"val": [0.50, 0.50, 0.89, 0.50, 0.50], "test": [0.50, 0.50, 0.86, 0.50, 0.50]},
}
# Each evolutionary optimizer's test accuracy: the rung's reference's plus this shift (plus noise).
SHIFTS = {"pgpe": [-0.3, -0.2, -0.1, 0.0, 0.0], "cmaes": [-0.3] * 5}


def _row(optimizer, kind, seed, index, val, test, status="reached"):
    multiple = MULTIPLES[index]
    return {
        "dataset": "toy",
        "optimizer": optimizer,
        "optimizer_kind": kind,
        "seed": seed,
        "multiple": multiple,
        "mark_flops": B * multiple,
        "status": status,
        "epoch": multiple * 3,
        "steps": int(multiple * 30),
        "flops": B * multiple,
        "sample_evals": 10.0,
        "model_evals": 10.0,
        "grad_evals": 10.0,
        "train_s": multiple * (10 if kind == "evolution" else 1),
        "wall_s": multiple * 12,
        "train_loss": 0.3,
        "train_acc": test,
        "val_loss": 0.3,
        "val_acc": val,
        "test_loss": 0.3,
        "test_acc": test,
        "diverged": status == "diverged",
    }


def _ladder() -> pd.DataFrame:
    rows = []
    for seed in SEEDS:
        for name, values in GRADIENT.items():
            for index in range(len(MULTIPLES)):
                val, test = values["val"][index] + OFFSET[seed], values["test"][index] + OFFSET[seed]
                rows.append(_row(name, "gradient", seed, index, val, test))
        for name, shifts in SHIFTS.items():
            for index, shift in enumerate(shifts):
                reference = "adam" if MULTIPLES[index] == 4 else "sgd"
                test = GRADIENT[reference]["test"][index] + OFFSET[seed] + shift + NOISE[seed]
                rows.append(_row(name, "evolution", seed, index, 0.5, test))
    return pd.DataFrame(rows, columns=list(RUNG_COLUMNS))


BUDGETS = {
    "toy": {
        "base_flops": B,
        "source": "rule",
        "rule_flops": B,
        "optimizers": {"sgd": {"reach_flops": 2e5, "reach_train_s": 0.5}},
    }
}


def test_the_verdicts_at_each_rung_repick_the_reference_and_run_holm_over_optimizers_x_rungs():
    verdicts = ladder_verdicts(_ladder(), MARGIN, ALPHA, BUDGETS)
    assert len(verdicts) == 2 * len(MULTIPLES)  # one row per (rung, evolutionary optimizer)
    assert set(verdicts["family"]) == {2 * len(MULTIPLES)}  # the family: 2 optimizers x 5 rungs
    pgpe = verdicts[verdicts["optimizer"] == "pgpe"].set_index("multiple")
    # adam is best on validation at 4x only; sgd elsewhere: the reference follows.
    assert list(pgpe["reference"]) == ["sgd", "sgd", "adam", "sgd", "sgd"]
    assert list(pgpe["verdict"]) == [WORSE, WORSE, WORSE, EQUIVALENT, EQUIVALENT]
    assert pgpe.loc[4.0, "hl"] == pytest.approx(-0.1, abs=1e-3)  # against adam's 0.86, not sgd's 0.85
    assert pgpe.loc[16.0, "mark_flops"] == 16 * B and pgpe.loc[16.0, "n"] == 10
    # All ten differences one way: exact one-sided p 1/1024 each, Holm over ten tests.
    assert pgpe.loc[16.0, "p_equivalent"] == pytest.approx(1 / 1024)
    assert pgpe.loc[16.0, "p_equivalent_holm"] == pytest.approx(10 / 1024)
    assert set(verdicts.loc[verdicts["optimizer"] == "cmaes", "verdict"]) == {WORSE}
    assert set(verdicts["budget_flops"]) == {B} and set(verdicts["budget_source"]) == {"rule"}
    assert verdicts["flops"].isna().all()  # no aRT rows given
    assert pgpe.loc[1.0, "median_acc"] == pytest.approx(0.6, abs=1e-3)
    assert pgpe.loc[1.0, "reference_median_acc"] == pytest.approx(0.8, abs=1e-3)


def test_the_parity_multiples_of_a_shift_that_closes_at_16x_and_one_that_never_does():
    rungs = _ladder()
    verdicts = ladder_verdicts(rungs, MARGIN, ALPHA, BUDGETS)
    parity = parity_table(rungs, verdicts, BUDGETS, MARGIN, ALPHA).set_index("optimizer")
    pgpe, cmaes = parity.loc["pgpe"], parity.loc["cmaes"]
    assert (pgpe["parity_multiple"], pgpe["parity_text"], pgpe["parity_reference"]) == (16.0, "16x", "sgd")
    assert pgpe["parity_flops"] == 16 * B and abs(pgpe["parity_hl"]) < MARGIN
    assert np.isnan(cmaes["parity_multiple"]) and cmaes["parity_text"] == "not within 64x"
    assert pd.isna(cmaes["parity_reference"]) and np.isnan(cmaes["parity_flops"])
    # Cost to parity: against sgd's plateau (its highest median validation accuracy: 64x).
    assert (pgpe["plateau_reference"], pgpe["plateau_multiple"]) == ("sgd", 64.0)
    assert pgpe["plateau_test_acc"] == pytest.approx(0.90)
    assert pgpe["cost_multiple"] == 16.0 and pgpe["cost_flops"] == 16 * B and pgpe["cost_seconds"] == 160.0
    # sgd's own cost to its plateau, by the same test: its smallest rung equivalent to it (16x,
    # test acc 0.90 as at 64x), not the budget file's pilot figure.
    assert (pgpe["reference_cost_flops"], pgpe["reference_cost_seconds"]) == (16 * B, 16.0)
    assert pgpe["cost_ratio_flops"] == pytest.approx(1.0) and pgpe["cost_ratio_seconds"] == pytest.approx(10.0)
    # TOST, Holm over 2 optimizers x 5 rungs and sgd's 4 rungs below its plateau
    assert pgpe["cost_p"] == pytest.approx(14 / 1024)
    assert pgpe["cost_text"] == "16x B = 1.6e7 FLOPs, 1x sgd's cost"
    assert np.isnan(cmaes["cost_multiple"]) and cmaes["cost_text"] == "not within 64x"
    assert np.isnan(cmaes["cost_ratio_flops"]) and np.isnan(cmaes["cost_p"])
    assert set(parity["family"]) == {14} and list(pgpe["multiples"]) == MULTIPLES and pgpe["top_multiple"] == 64.0
    assert (pgpe["base_flops"], pgpe["budget_source"], pgpe["rule_flops"]) == (B, "rule", B)


def test_a_multiple_that_closes_only_past_the_ladder_is_never_guessed():
    # pgpe's shift closes at 16x: on a ladder cut at 4x it is "not within 4x", never a projection.
    rungs = _ladder()
    rungs = rungs[rungs["multiple"] <= 4.0]
    verdicts = ladder_verdicts(rungs, MARGIN, ALPHA)
    parity = parity_table(rungs, verdicts, None, MARGIN, ALPHA).set_index("optimizer")
    assert parity.loc["pgpe", "parity_text"] == "not within 4x" and np.isnan(parity.loc["pgpe", "parity_multiple"])
    assert set(parity["family"]) == {2 * 3 + 2}  # and sgd's 2 rungs below its plateau (4x)
    assert parity.loc["pgpe", "base_flops"] == B and pd.isna(parity.loc["pgpe", "budget_source"])


def test_the_verdicts_take_the_callers_art_rows():
    costs = pd.DataFrame(
        {
            "dataset": "toy",
            "optimizer": ["sgd", "adam", "pgpe", "cmaes"],
            "target_val_acc": 0.8,
            "art_flops": [1e5, 2e5, 4e6, float("inf")],
            "art_seconds": [1.0, 2.0, 30.0, float("inf")],
        }
    )
    verdicts = ladder_verdicts(_ladder(), MARGIN, ALPHA, BUDGETS, costs).set_index(["optimizer", "multiple"])
    assert verdicts.loc[("pgpe", 1.0), "flops_ratio"] == pytest.approx(40.0)  # against sgd's aRT
    assert verdicts.loc[("pgpe", 4.0), "flops_reference"] == 2e5 and verdicts.loc[("pgpe", 4.0), "flops_ratio"] == 20
    assert verdicts.loc[("pgpe", 1.0), "seconds_ratio"] == pytest.approx(30.0)
    assert verdicts.loc[("cmaes", 1.0), "flops_ratio"] == float("inf")
    assert set(verdicts["target_val_acc"]) == {0.8}


def _summary(optimizer, kind, seed, rungs, dataset="toy"):
    return {
        "dataset": dataset,
        "optimizer": optimizer,
        "optimizer_kind": kind,
        "seed": seed,
        "status": "early_stopped",
        "device": "cpu",
        **dict.fromkeys(("train_time_s", "train_loss", "val_loss", "test_loss", "model_evals", "grad_evals"), 1.0),
        **dict.fromkeys(("train_acc", "val_acc", "test_acc"), 0.5),
        "flops": 100.0,
        "epochs": 3,
        "training": {"budget_flops": 100.0, "budget_multiples": [1.0, 4.0]},
        "rungs": rungs,
    }


def _rung(multiple, status, val, test):
    """A summary's rung: a diverged one holds the last scored model's scores (here its `val` and
    `test`, and a huge loss)."""
    return {
        "multiple": multiple,
        "mark_flops": 100.0 * multiple,
        "status": status,
        "epoch": 2.5 * multiple,
        "steps": int(10 * multiple),
        **dict.fromkeys(("flops", "sample_evals", "model_evals", "grad_evals"), 100.0 * multiple),
        "train_s": multiple,
        "wall_s": multiple,
        "train_loss": 6e5 if status == "diverged" else 0.2,
        "train_acc": test,
        "val_loss": 0.2,
        "val_acc": val,
        "test_loss": 0.2,
        "test_acc": test,
    }


def _diverging_study() -> list[dict]:
    """rmsprop is best on validation, but seed 0 diverged between the 1x and the 4x mark."""
    summaries = []
    for seed in range(6):
        rmsprop = [_rung(1.0, "reached", 0.99, 0.98), _rung(4.0, "diverged" if seed == 0 else "reached", 0.99, 0.98)]
        summaries.append(_summary("rmsprop", "gradient", seed, rmsprop))
        summaries.append(
            _summary("sgd", "gradient", seed, [_rung(1.0, "reached", 0.9, 0.9), _rung(4.0, "reached", 0.95, 0.94)])
        )
        summaries.append(
            _summary("es", "evolution", seed, [_rung(1.0, "reached", 0.5, 0.5), _rung(4.0, "reached", 0.7, 0.7)])
        )
    return summaries


def test_a_diverged_rung_scores_0_and_its_optimizer_is_no_reference_there():
    rungs = rung_table(_diverging_study())
    assert list(rungs.columns) == list(RUNG_COLUMNS) and len(rungs) == 6 * 3 * 2
    exploded = rungs[(rungs["optimizer"] == "rmsprop") & (rungs["seed"] == 0) & (rungs["multiple"] == 4.0)].iloc[0]
    assert exploded["diverged"] and exploded["status"] == "diverged"
    assert (exploded["train_acc"], exploded["val_acc"], exploded["test_acc"]) == (0.0, 0.0, 0.0)  # not 0.98
    assert exploded["train_loss"] == 6e5  # losses as read
    assert rungs["steps"].dtype.kind == "i" and rungs["seed"].dtype.kind == "i"
    verdicts = ladder_verdicts(rungs, MARGIN, ALPHA).set_index("multiple")
    # rmsprop, best on validation at 1x, diverged at 4x: no reference at any rung of the ladder.
    assert verdicts.loc[1.0, "reference"] == "sgd" and verdicts.loc[4.0, "reference"] == "sgd"
    assert (verdicts.loc[4.0, "reference_n_runs"], verdicts.loc[4.0, "n_runs"]) == (6, 6)
    parity = parity_table(rungs, verdicts.reset_index(), None, MARGIN, ALPHA).iloc[0]
    assert parity["plateau_reference"] == "sgd" and parity["plateau_multiple"] == 4.0  # rmsprop diverged somewhere
    assert parity["plateau_test_acc"] == pytest.approx(0.94)


def test_a_rung_without_a_reference_says_so_and_is_left_out_of_the_family():
    summaries = [summary for summary in _diverging_study() if summary["optimizer"] != "sgd"]
    verdicts = ladder_verdicts(rung_table(summaries), MARGIN, ALPHA).set_index("multiple")
    assert verdicts.loc[4.0, "verdict"] == NO_REFERENCE and pd.isna(verdicts.loc[4.0, "reference"])
    assert "every gradient optimizer diverged in some run (rmsprop 1 of 12 diverged)" in verdicts.loc[4.0, "reason"]
    # rmsprop diverged at 4x: it is the reference at no rung, 1x included.
    assert verdicts.loc[1.0, "verdict"] == NO_REFERENCE and verdicts.loc[1.0, "family"] == 0
    parity = parity_table(rung_table(summaries), verdicts.reset_index(), None, MARGIN, ALPHA).iloc[0]
    assert parity["parity_text"] == "no reference"
    assert pd.isna(parity["plateau_reference"]) and parity["cost_text"].startswith("no reference (every gradient")


def test_the_aggregate_writes_the_rungs_table_and_keeps_the_rungs_out_of_the_runs_table(tmp_path):
    summaries = _diverging_study()[:3] + [_summary("adam", "gradient", 0, None)]
    del summaries[-1]["rungs"]  # a run of a study without a ladder: no rows
    paths = []
    for index, summary in enumerate(summaries):
        path = tmp_path / "runs" / str(index) / "summary.json"
        path.parent.mkdir(parents=True)
        path.write_text(json.dumps(summary))
        pd.DataFrame({"epoch": [0], "val_acc": [0.5], "flops": [0.0]}).to_parquet(path.with_name("history.parquet"))
        paths.append(path)
    aggregate(paths, tmp_path / "summary")
    runs = read_table(tmp_path / "summary" / "runs.parquet")
    assert "rungs" not in runs and len(runs) == 4
    assert list(runs["training.budget_multiples"][0]) == [1.0, 4.0]
    rungs = pd.read_parquet(tmp_path / "summary" / "rungs.parquet")
    assert list(rungs.columns) == list(RUNG_COLUMNS) and len(rungs) == 3 * 2
    assert rungs.loc[rungs["optimizer"] == "rmsprop", "test_acc"].tolist() == [0.98, 0.0]  # seed 0 diverged at 4x
    # No run with rungs: the table is there, empty, with its columns.
    aggregate(paths[3:], tmp_path / "plain")
    empty = pd.read_parquet(tmp_path / "plain" / "rungs.parquet")
    assert list(empty.columns) == list(RUNG_COLUMNS) and len(empty) == 0
    # Damaged rungs are refused by the summary's path.
    paths[0].write_text(json.dumps(summaries[0] | {"rungs": [{"multiple": 1.0}]}))
    with pytest.raises(CorruptFileError, match=f"^{paths[0]}: corrupt run summary \\(rung 0 lacks mark_flops"):
        aggregate(paths, tmp_path / "summary")


def test_a_run_that_diverged_on_a_ladder_is_charged_up_to_the_top_rung():
    runs = pd.DataFrame(
        {
            "dataset": "toy",
            "optimizer": "es",
            "seed": [0, 1],
            "budget_status": ["reached", "diverged"],
            "budget_epoch": [4.0, 1.0],
            "budget_wall_time_s": [2.0, 0.5],
            "budget_train_time_s": [1.0, 0.2],
            "training.budget_flops": [100.0, 100.0],
            "training.budget_multiples": [[0.25, 1.0, 4.0], [0.25, 1.0, 4.0]],
            **{f"budget_{name}": [400.0, 100.0] for name in ("flops", "sample_evals", "model_evals", "grad_evals")},
            **{f"budget_{split}_{what}": 0.5 for split in ("train", "val", "test") for what in ("loss", "acc")},
        }
    )
    history = pd.DataFrame(
        {"dataset": "toy", "optimizer": "es", "seed": [0, 0, 1], "epoch": [0, 1, 0], "flops": [0, 100, 0]}
    )
    ends = arm_histories(runs, history, BUDGET).groupby("seed")["flops"].max()
    assert list(ends) == [400.0, 400.0]  # B x the top multiple, not B


def test_a_rung_of_the_wrong_kind_is_refused_by_its_run():
    (summary,) = _diverging_study()[:1]
    for damage, message in (
        ({"status": "exploded"}, "rung 0's status is 'exploded'"),
        ({"test_acc": "high"}, "rung 0's test_acc not a number"),
    ):
        broken = summary | {"rungs": [summary["rungs"][0] | damage]}
        with pytest.raises(CorruptFileError, match=f"^toy/rmsprop/0: corrupt run summary \\({message}"):
            rung_table([broken])
