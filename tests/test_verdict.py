"""The report's verdicts and the tables around them, with known answers (issue 17): the verdict
words from synthetic paired results, the equal-budget arm's view of the runs, ranks only over
enough datasets, one colour per optimizer in every figure, tuned values at a bound flagged."""

import math

import numpy as np
import pandas as pd
import pytest

from neuroevo.analysis.verdict import BETTER, EQUIVALENT, INCONCLUSIVE, WORSE, dataset_verdicts, seeds_to_decide


def _runs(accuracies: dict[str, np.ndarray], kinds: dict[str, str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Runs (test and val accuracy per seed) and histories: val accuracy rises to the run's at
    a cost of 100 FLOPs and 1 s per 0.1 of accuracy; a budget of 1,000."""
    runs, rows = [], []
    for name, values in accuracies.items():
        for seed, value in enumerate(values):
            runs.append(
                {
                    "dataset": "toy",
                    "optimizer": name,
                    "optimizer_kind": kinds[name],
                    "seed": seed,
                    "test_acc": value,
                    "val_acc": value,
                    "training.budget_flops": 1000.0,
                }
            )
            for step in range(11):
                rows.append(
                    {
                        "optimizer": name,
                        "seed": seed,
                        "epoch": step,
                        "val_acc": value * step / 10,
                        "flops": 100.0 * step,
                        "train_s": float(step),
                    }
                )
    return pd.DataFrame(runs), pd.DataFrame(rows)


KINDS = {"adam": "gradient", "sgd": "gradient", "cmaes": "evolution", "es": "evolution", "ga": "evolution"}


def test_the_verdict_words_follow_the_tests():
    rng = np.random.default_rng(0)
    adam = 0.9 + rng.normal(0, 0.002, 10)
    runs, histories = _runs(
        {
            "adam": adam,
            "sgd": adam - 0.05,  # the worse gradient optimizer is not the reference
            "cmaes": adam + rng.normal(0, 0.001, 10),  # identical in distribution, well inside 0.01
            "es": adam - 0.02 + rng.normal(0, 0.001, 10),  # shifted by 2 delta
            "ga": adam + 0.02 + rng.normal(0, 0.001, 10),
        },
        KINDS,
    )
    rows = {row["optimizer"]: row for row in dataset_verdicts("toy", runs, histories, 0.01, 0.05, 0.8)}
    assert {row["reference"] for row in rows.values()} == {"adam"}
    assert rows["cmaes"]["verdict"] == EQUIVALENT and rows["cmaes"]["p_equivalent_holm"] < 0.05
    assert (
        rows["es"]["verdict"] == WORSE
        and -0.03 < rows["es"]["ci_low"] < rows["es"]["hl"] < rows["es"]["ci_high"] < -0.01
    )
    assert rows["ga"]["verdict"] == BETTER and rows["ga"]["hl"] > 0
    # The cost ratio is the aRT ratio to the target: 0.8 is reached at 0.8 / value of the run's rise.
    assert rows["cmaes"]["flops_ratio"] == pytest.approx(1.0, abs=0.15)
    assert rows["es"]["flops"] > rows["es"]["flops_reference"]


def test_too_few_seeds_give_inconclusive_with_the_reason():
    runs, histories = _runs({"adam": np.array([0.9, 0.92, 0.91]), "cmaes": np.array([0.85, 0.93, 0.9])}, KINDS)
    (row,) = dataset_verdicts("toy", runs, histories, 0.01, 0.05, 0.8)
    assert row["verdict"] == INCONCLUSIVE
    assert "n = 3 seed pairs (3 non-zero)" in row["reason"] and "smallest Holm-corrected two-sided p" in row["reason"]
    assert "seeds would decide" in row["reason"] and math.isnan(row["ci_low"])  # no 95% interval from 3 pairs


def test_the_seeds_to_decide_never_undercut_what_the_exact_test_can_reach():
    # A wide shift, little spread: the normal approximation says 2, but 6 one-sided pairs are the least at 0.05 / 4.
    assert seeds_to_decide(np.array([-0.2, -0.21, -0.19]), 0.01, 0.05 / 4) == 7
    assert seeds_to_decide(np.array([0.0, 0.0, 0.0]), 0.01, 0.05) is None


def test_the_equal_budget_arm_reads_the_budget_fields_under_the_plain_names():
    from neuroevo.analysis.arms import BUDGET, EARLY, arm_histories, arm_runs

    runs = pd.DataFrame(
        {
            "dataset": ["toy"] * 2,
            "optimizer": ["adam", "adam"],
            "seed": [0, 1],
            "status": ["early_stopped", "early_stopped"],
            "epochs": [2, 2],
            "test_acc": [0.5, 0.6],
            "budget_status": ["reached", "diverged"],
            "budget_epoch": [3.5, 2.0],
            "budget_test_acc": [0.7, 0.1],
            "budget_flops": [350.0, 200.0],
        }
    )
    view = arm_runs(runs, BUDGET)
    # The diverged run scores 0, not its last model's 0.1 (tests/test_diverged_runs.py).
    assert list(view["test_acc"]) == [0.7, 0.0] and list(view["status"]) == ["budget", "diverged"]
    assert list(view["epochs"]) == [3.5, 2.0] and "budget_test_acc" not in view
    assert arm_runs(runs, EARLY) is runs
    history = pd.DataFrame(
        {"dataset": "toy", "optimizer": "adam", "seed": 0, "epoch": [0, 1, 2, 3, 4], "flops": [0, 100, 200, 300, 400]}
    )
    assert list(arm_histories(runs.iloc[:1], history, EARLY)["epoch"]) == [0, 1, 2]  # up to the early stop


def test_ranks_across_datasets_need_five_datasets_and_give_the_critical_difference():
    from neuroevo.analysis.ranks import critical_difference, rank_tests

    rng = np.random.default_rng(0)
    rows = [
        {"dataset": f"d{index}", "optimizer": name, "seed": seed, "test_acc": value + rng.normal(0, 0.01)}
        for index in range(5)
        for name, value in (("adam", 0.9), ("cmaes", 0.8), ("es", 0.7), ("sgd", 0.85))
        for seed in range(10)
    ]
    runs = pd.DataFrame(rows)
    summary, ranks, _, reason = rank_tests(runs[runs["dataset"].isin(["d0", "d1", "d2"])])
    assert not summary and "needs at least 5 datasets" in reason  # 30 seed blocks do not make 3 datasets 30
    summary, ranks, _, reason = rank_tests(runs)
    assert not reason and summary["blocks"] == 5 and list(ranks.index) == ["adam", "sgd", "cmaes", "es"]
    # Demsar (2006), table 5: q_0.05 for 4 classifiers is 2.569; CD = q sqrt(k (k + 1) / 6N).
    assert critical_difference(4, 5, 0.05) == pytest.approx(2.569 * math.sqrt(4 * 5 / 30), abs=2e-3)
    assert summary["critical_difference"] == pytest.approx(critical_difference(4, 5, 0.05))


def test_an_optimizer_has_one_colour_across_figures(tmp_path, monkeypatch):
    import matplotlib.colors

    from neuroevo.report import figures

    drawn = {}
    monkeypatch.setattr(figures, "save", lambda figure, out: drawn.setdefault(out.name, figure))
    history = pd.DataFrame(
        {
            "optimizer": np.repeat(["es", "cmaes"], 6),
            "seed": np.tile(np.repeat([0, 1], 3), 2),
            "epoch": np.tile([0, 1, 2], 4),
            "flops": np.tile([0.0, 10.0, 20.0], 4),
            "train_s": np.tile([0.0, 1.0, 2.0], 4),
            "val_acc": np.tile([0.1, 0.5, 0.7], 4),
        }
    )
    figures.plot_cost_curves("toy", history, tmp_path / "cost.png", anytime=True)
    runs = pd.DataFrame({"optimizer": ["cmaes", "cmaes", "es", "es"], "test_acc": [0.5, 0.6, 0.7, 0.8]})
    figures.plot_test_accuracy_boxes("toy", {"early_stopping": runs}, tmp_path / "boxes.png")
    lines = {line.get_label(): line.get_color() for line in drawn["cost.png"].axes[0].get_lines()}
    dots = drawn["boxes.png"].axes[0].collections  # one scatter per optimizer, in the table's order
    for index, name in enumerate(["cmaes", "es"]):
        assert matplotlib.colors.same_color(dots[index].get_facecolor()[0], lines[name])
    assert not matplotlib.colors.same_color(lines["cmaes"], lines["es"])


def test_a_tuned_value_at_a_search_space_bound_is_flagged():
    from neuroevo.report.render import at_bound

    space = {"distribution": "log_uniform", "low": 0.001, "high": 1.0}
    assert at_bound(0.858, space) == "high"  # within 5% of the log range of 1.0
    assert at_bound(0.03, space) == "" and at_bound(0.0011, space) == "low"
    assert at_bound(60, {"distribution": "int", "low": 8, "high": 64, "log": True}) == "high"


def test_the_reference_is_picked_on_validation_not_on_the_test_accuracy_it_is_compared_on():
    from neuroevo.analysis.verdict import best_gradient

    runs = pd.DataFrame(
        {
            "optimizer": ["sgd"] * 3 + ["adam"] * 3 + ["cmaes"] * 3,
            "optimizer_kind": ["gradient"] * 6 + ["evolution"] * 3,
            "val_acc": [0.9] * 3 + [0.8] * 3 + [0.99] * 3,
            "test_acc": [0.8] * 3 + [0.9] * 3 + [0.99] * 3,
        }
    )
    assert best_gradient(runs) == "sgd"


def test_a_run_that_diverged_before_the_budget_is_charged_all_of_it():
    from neuroevo.analysis.arms import BUDGET, arm_histories

    runs = pd.DataFrame(
        {
            "dataset": "toy",
            "optimizer": "es",
            "seed": [0, 1],
            "budget_status": ["reached", "diverged"],
            "budget_epoch": [4.0, 1.0],
            "budget_wall_time_s": [2.0, 0.5],
            "budget_train_time_s": [1.0, 0.2],
            "training.budget_flops": [400.0, 400.0],
            **{f"budget_{name}": [400.0, 100.0] for name in ("flops", "sample_evals", "model_evals", "grad_evals")},
            **{f"budget_{split}_{what}": 0.5 for split in ("train", "val", "test") for what in ("loss", "acc")},
        }
    )
    history = pd.DataFrame(
        {"dataset": "toy", "optimizer": "es", "seed": [0, 0, 1], "epoch": [0, 1, 0], "flops": [0, 100, 0]}
    )
    ends = arm_histories(runs, history, BUDGET).groupby("seed")["flops"].max()
    assert list(ends) == [400.0, 400.0]


def test_a_difference_of_exactly_the_margin_is_a_tie_of_the_shifted_test():
    from neuroevo.analysis.equivalence import one_sided_p

    d = np.array([-0.01, -0.01, -0.01, -0.03, -0.02, -0.04])  # accuracy in steps of 1/100
    # d + 0.01 leaves float residue (~1e-18) for the three exact ties: they must drop out, not count as wins.
    assert one_sided_p(d + 0.01, "less") == one_sided_p(np.array([-0.02, -0.01, -0.03]), "less")


def test_the_cd_diagram_labels_its_axis_and_draws_its_critical_difference(tmp_path, monkeypatch):
    from neuroevo.analysis.ranks import rank_tests
    from neuroevo.report import figures

    rng = np.random.default_rng(1)
    runs = pd.DataFrame(
        [
            {"dataset": f"d{index}", "optimizer": name, "seed": 0, "test_acc": value + rng.normal(0, 0.05)}
            for index in range(5)
            for name, value in (("adam", 0.9), ("cmaes", 0.8), ("es", 0.7))
        ]
    )
    summary, ranks, nemenyi, reason = rank_tests(runs)
    drawn = {}
    monkeypatch.setattr(figures, "save", lambda figure, out: drawn.setdefault("cd", figure))
    figures.plot_critical_difference(ranks, nemenyi, summary, reason, 0.05, tmp_path / "cd.png")
    axes = drawn["cd"].axes[0]
    assert "mean rank" in axes.get_xlabel()
    assert any(text.get_text().strip() == f"CD = {summary['critical_difference']:.2f}" for text in axes.texts)
