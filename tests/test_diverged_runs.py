"""One rule for a diverged run (issue 32, item 7): wherever a run is read by the model it ends
with, the equal-budget arm, the verdicts, a study's section and the discovery comparison, a
run that diverged scores 0, is counted ("k of n diverged"), reaches no target of a cost table,
and a gradient optimizer with a diverged run is never a verdict's reference. Healthy runs'
numbers stay as they were."""

import numpy as np
import pandas as pd
import pytest

from neuroevo.analysis.arms import BUDGET, arm_histories, arm_runs
from neuroevo.analysis.cost import cost_to_target, runtime_ecdf
from neuroevo.analysis.verdict import best_gradient, dataset_verdicts
from neuroevo.report.render import cost_rows, verdict_rows

SPLITS = ("train", "val", "test")
BUDGET_FLOPS = 1000.0


def _budgeted_runs(entries: list[tuple[str, str, int, str, float]]) -> pd.DataFrame:
    """A runs table as the aggregate writes it, from (optimizer, kind, seed, budget status,
    accuracy): every accuracy of the run's model at the end of the budget (or, diverged, its
    last scored model's: the exploded model's, train loss about 6e5) is `accuracy`."""
    rows = []
    for optimizer, kind, seed, status, accuracy in entries:
        diverged = status == "diverged"
        rows.append(
            {
                "dataset": "iris",
                "optimizer": optimizer,
                "optimizer_kind": kind,
                "seed": seed,
                "status": "diverged" if diverged else "early_stopped",
                "epochs": 3,
                **{f"{split}_acc": accuracy for split in SPLITS},
                **{f"{split}_loss": 0.3 for split in SPLITS},
                "flops": 300.0,
                "training.budget_flops": BUDGET_FLOPS,
                "budget_status": status,
                "budget_epoch": 2.0 if diverged else 10.0,
                "budget_train_time_s": 1.0,
                "budget_wall_time_s": 1.5,
                **{f"budget_{name}": 200.0 if diverged else BUDGET_FLOPS for name in ("flops", "sample_evals")},
                **{f"budget_{name}": 20.0 for name in ("model_evals", "grad_evals")},
                **{f"budget_{split}_acc": accuracy for split in SPLITS},
                **{f"budget_{split}_loss": 6e5 if diverged else 0.2 for split in SPLITS},
                "budget_best_epoch": 1.0,
                "budget_best_val_acc": accuracy,
                "budget_best_test_acc": accuracy,
            }
        )
    return pd.DataFrame(rows)


def _histories(runs: pd.DataFrame, peak: dict[tuple[str, int], float]) -> pd.DataFrame:
    """Per run, val accuracy rising linearly to `peak[(optimizer, seed)]` over 11 epochs of 100
    FLOPs and 1 s each (a diverged run's rows up to its divergence look like a healthy one's)."""
    rows = [
        {
            "dataset": "iris",
            "optimizer": optimizer,
            "seed": seed,
            "epoch": step,
            "val_acc": peak[(optimizer, seed)] * step / 10,
            "flops": 100.0 * step,
            "train_s": float(step),
        }
        for optimizer, seed in zip(runs["optimizer"], runs["seed"], strict=True)
        for step in range(11)
    ]
    return pd.DataFrame(rows)


# cmaes with sigma0 1e3 on Iris: every run diverged, its last models scoring 0.77 and 0.87.
CMAES_DIVERGED = [("cmaes", "evolution", 0, "diverged", 0.77), ("cmaes", "evolution", 1, "diverged", 0.87)]
CMAES_DIVERGED += [("cmaes", "evolution", 2, "diverged", 0.87)]
ADAM = [("adam", "gradient", seed, "reached", value) for seed, value in enumerate((0.98, 0.99, 1.0))]


def test_a_diverged_run_scores_0_in_the_equal_budget_arm_not_its_exploded_models_accuracy():
    runs = _budgeted_runs(CMAES_DIVERGED + ADAM)
    view = arm_runs(runs, BUDGET).set_index(["optimizer", "seed"])
    cmaes = view.loc["cmaes"]
    assert list(cmaes["status"]) == ["diverged"] * 3
    for column in ("train_acc", "val_acc", "test_acc", "budget_best_val_acc", "budget_best_test_acc"):
        assert list(cmaes[column]) == [0.0, 0.0, 0.0], column  # not 0.77 and 0.87
    assert list(cmaes["train_loss"]) == [6e5] * 3  # the losses are left as read: they show the explosion
    # Healthy runs read as before: every budget_* value under its plain name, untouched.
    adam = runs[runs["optimizer"] == "adam"]
    for name in ("train_acc", "val_acc", "test_acc", "train_loss", "test_loss", "flops", "budget_best_test_acc"):
        source = name if name.startswith("budget_") else f"budget_{name}"
        assert np.array_equal(view.loc["adam", name].to_numpy(float), adam[source].to_numpy(float)), name
    assert set(view.loc["adam", "status"]) == {"budget"}
    # The arm's history row at the budget's end scores the diverged run 0 too (charged the whole budget).
    ends = arm_histories(
        runs, _histories(runs, {key: 0.9 for key in zip(runs["optimizer"], runs["seed"], strict=True)}), BUDGET
    )
    last = ends.groupby(["optimizer", "seed"]).last()
    assert list(last.loc["cmaes", "val_acc"]) == [0.0] * 3 and list(last.loc["cmaes", "flops"]) == [BUDGET_FLOPS] * 3
    assert list(last.loc["adam", "val_acc"]) == [0.98, 0.99, 1.0]


def test_the_verdict_row_counts_diverged_runs_and_the_rendered_row_says_k_of_n_diverged():
    runs = _budgeted_runs(CMAES_DIVERGED + ADAM)
    view = arm_runs(runs, BUDGET)
    histories = arm_histories(
        runs, _histories(runs, {key: 0.95 for key in zip(runs["optimizer"], runs["seed"], strict=True)}), BUDGET
    )
    (row,) = dataset_verdicts("iris", view, histories, 0.01, 0.05, 0.8)
    assert (row["optimizer"], row["reference"]) == ("cmaes", "adam")
    assert row["mean_acc"] == 0.0  # scored 0, not the exploded models' 0.837
    assert (row["n_diverged"], row["n_runs"]) == (3, 3)
    assert (row["reference_n_diverged"], row["reference_n_runs"]) == (0, 3)
    (rendered,) = verdict_rows(pd.DataFrame([row]))
    assert rendered["accuracy"].startswith("0 vs 0.99") and "cmaes: 3 of 3 diverged" in rendered["accuracy"]
    # A healthy comparison says nothing of divergence.
    healthy = _budgeted_runs([("cmaes", "evolution", seed, "reached", 0.9) for seed in range(3)] + ADAM)
    (row,) = dataset_verdicts("iris", arm_runs(healthy, BUDGET), histories, 0.01, 0.05, 0.8)
    assert row["n_diverged"] == 0 and "diverged" not in verdict_rows(pd.DataFrame([row]))[0]["accuracy"]


def test_a_studys_verdict_table_scores_a_diverged_run_0_and_counts_it():
    from neuroevo.report.study_section import results_table, verdict_lines

    def summary(kind, seed, status, accuracy):
        return {
            "optimizer_kind": kind,
            "seed": seed,
            "status": "diverged" if status == "diverged" else "early_stopped",
            "val_acc": accuracy,
            "test_acc": accuracy,
            "epochs": 3,
            "sample_evals": 100,
            "training": {"budget_flops": BUDGET_FLOPS},
            "budget_status": status,
            "budget_val_acc": accuracy,
            "budget_test_acc": accuracy,
            "budget_epoch": 2.0,
            "budget_sample_evals": 100,
            "budget_flops": BUDGET_FLOPS,
        }

    runs = {
        "cmaes_wide": [
            (summary("evolution", seed, status, value), None) for _, _, seed, status, value in CMAES_DIVERGED
        ],
        "adam": [(summary("gradient", seed, status, value), None) for _, _, seed, status, value in ADAM],
    }
    lines = verdict_lines(runs, 0.01, 0.05)
    (row,) = [line for line in lines if line.startswith("| cmaes_wide |")]
    assert "| 0 vs 0.99 (cmaes_wide: 3 of 3 diverged, each scored 0) |" in row
    study = {"variants": {"cmaes_wide": {"optimizer": "cmaes"}, "adam": {"optimizer": "adam"}}}
    (table_row,) = [line for line in results_table(study, runs) if line.startswith("| cmaes_wide |")]
    assert "| 3 (3 diverged) | 0 [0, 0] | 0 [0, 0] |" in table_row  # val and test accuracy: 0, not 0.87


def test_a_diverged_run_reaches_no_target_whatever_its_history_showed():
    runs = _budgeted_runs([("es", "evolution", 0, "reached", 0.9), ("es", "evolution", 1, "diverged", 0.9)])
    view = arm_runs(runs, BUDGET)
    # Both histories climb to val accuracy 0.9, the diverged one before it blew up.
    histories = arm_histories(runs, _histories(runs, {("es", 0): 0.9, ("es", 1): 0.9}), BUDGET)
    row = cost_to_target("iris", view, histories, 0.8).iloc[0]
    assert (row["n_reached"], row["n_seeds"]) == (1, 2) and row["n_diverged"] == 1
    # Seed 0 reaches 0.8 at 900 FLOPs; the diverged seed is charged its whole budget: (900 + 1000) / 1.
    assert row["art_flops"] == pytest.approx(900.0 + BUDGET_FLOPS)
    assert list(runtime_ecdf(histories, [0.8], runs=view)["es"]["x"]) == [900.0]
    _, (rendered,) = cost_rows(cost_to_target("iris", view, histories, [0.5, 0.8]))
    assert rendered["optimizer"] == "es (1 of 2 diverged)" and rendered["cells"][1].startswith("1/2: ")


def test_a_gradient_optimizer_with_a_diverged_run_is_never_the_reference():
    # adam has the higher validation accuracy, but one of its runs diverged: sgd, all healthy, is the reference.
    entries = [("adam", "gradient", seed, "reached", 0.99) for seed in range(3)]
    entries[2] = ("adam", "gradient", 2, "diverged", 0.99)
    entries += [("sgd", "gradient", seed, "reached", 0.95) for seed in range(3)]
    entries += [("cmaes", "evolution", seed, "reached", 0.9) for seed in range(3)]
    view = arm_runs(_budgeted_runs(entries), BUDGET)
    assert best_gradient(view) == "sgd"
    assert best_gradient(view[view["optimizer"] != "sgd"]) is None  # every gradient optimizer left diverged somewhere
    # Then the verdict says so rather than pick one.
    from neuroevo.analysis.verdict import NO_REFERENCE

    no_sgd = view[view["optimizer"] != "sgd"]
    histories = pd.DataFrame(columns=["optimizer", "seed", "epoch", "val_acc", "flops", "train_s"])
    (row,) = dataset_verdicts("iris", no_sgd, histories, 0.01, 0.05, 0.8)
    assert row["verdict"] == NO_REFERENCE and row["reference"] is None
    assert "every gradient optimizer diverged in some run (adam 1 of 3 diverged)" in row["reason"]
    (rendered,) = verdict_rows(pd.DataFrame([row]))
    assert rendered["reference"] == "-" and rendered["verdict"].startswith("no reference (every gradient optimizer")


def test_the_discovery_comparison_and_the_equal_budget_arm_score_a_diverged_run_alike():
    from neuroevo.analysis.comparison import task_verdicts
    from neuroevo.report.study_section import _score

    # The same diverged run (last model's test accuracy 0.87) as each reads it.
    runs = _budgeted_runs([("cmaes", "evolution", 0, "diverged", 0.87), ("cmaes", "evolution", 1, "reached", 0.9)])
    arm_score = arm_runs(runs, BUDGET).set_index("seed").loc[0, "test_acc"]
    comparison = pd.DataFrame(
        [
            {
                "task": "a",
                "label": label,
                "seed": seed,
                "status": status,
                "final_test_acc": value,
                "final_val_acc": value,
            }
            for label, statuses in (("evolved", ["diverged", "budget"]), ("adam", ["budget", "budget"]))
            for seed, (status, value) in enumerate(zip(statuses, [0.87, 0.9], strict=True))
        ]
    )
    (row,) = task_verdicts(comparison, "a", ["adam"], [], 0.01, 0.05)
    comparison_score = 2 * row["mean_acc"] - 0.9  # the mean of seed 0's score and seed 1's 0.9
    study_score = _score(runs.iloc[0].to_dict(), "test_acc", budget=True)
    assert arm_score == pytest.approx(comparison_score) == study_score == 0.0  # not 0.87
    from neuroevo.analysis.diverged import DIVERGED_SCORE  # the one rule all three read

    assert arm_score == DIVERGED_SCORE and (row["n_diverged"], row["n_runs"]) == (1, 2)
