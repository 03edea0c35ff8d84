"""The budget rule (issue 33, item 1): B is the FLOPs at which the cheapest gradient optimizer's
median validation accuracy over its pilot runs first comes within fraction x delta of its own
plateau (neuroevo.analysis.budget_rule), checked against B computed by hand; and the budget
file it writes is read back only when it is whole."""

import json
import os

import pandas as pd
import pytest

from neuroevo.analysis.budget_rule import derive_budget, median_curve, read_budget
from neuroevo.files.atomic import write_json

MARGIN, FRACTION, MULTIPLES = 0.1, 0.5, [0.25, 1.0, 4.0]


def _history(optimizer: str, seed: int, flops: list[float], val: list[float], seconds: list[float], dataset="toy"):
    return pd.DataFrame(
        {
            "dataset": dataset,
            "optimizer": optimizer,
            "seed": seed,
            "epoch": range(len(flops)),
            "flops": flops,
            "val_acc": val,
            "train_s": seconds,
        }
    )


# sgd's three pilot runs; seed 2 stopped early at 250 FLOPs and is carried flat from there.
SGD = [
    ([0, 100, 200, 300, 400], [0.1, 0.5, 0.8, 0.9, 0.9], [0, 1, 2, 3, 4]),
    ([0, 100, 200, 300, 400], [0.1, 0.6, 0.85, 0.92, 0.92], [0, 1.2, 2.4, 3.6, 4.8]),
    ([0, 100, 200, 250], [0.1, 0.4, 0.7, 0.88], [0, 0.8, 1.6, 2.0]),
]
# adam: steps of 50 FLOPs, a higher plateau reached later; seed k is 0.001 k above seed 0.
ADAM_VAL = [0.1, 0.3, 0.5, 0.7, 0.8, 0.85, 0.93, 0.95, 0.95]


def _pilots(rmsprop_diverged: bool = True) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Pilot runs and histories of sgd, adam and rmsprop (one of whose runs diverged: its curve
    would be the cheapest), with an evolutionary run and another dataset's run, both ignored."""
    histories = [_history("sgd", seed, *values) for seed, values in enumerate(SGD)]
    flops = [50.0 * index for index in range(len(ADAM_VAL))]
    histories += [
        _history("adam", seed, flops, [v + 0.001 * seed for v in ADAM_VAL], [f / 40 for f in flops])
        for seed in range(3)
    ]
    histories += [_history("rmsprop", seed, [0, 50], [0.1, 0.99], [0, 0.5]) for seed in range(3)]
    histories += [_history("es", 0, [0, 10], [0.1, 0.99], [0, 0.1])]
    histories += [_history("sgd", 0, [0, 1], [0.1, 0.99], [0, 0.1], dataset="other")]
    runs = pd.DataFrame(
        [
            {"dataset": "toy", "optimizer": name, "optimizer_kind": "gradient", "seed": seed, "status": "early_stopped"}
            for name in ("sgd", "adam", "rmsprop")
            for seed in range(3)
        ]
        + [{"dataset": "toy", "optimizer": "es", "optimizer_kind": "evolution", "seed": 0, "status": "early_stopped"}]
        + [{"dataset": "other", "optimizer": "sgd", "optimizer_kind": "gradient", "seed": 0, "status": "diverged"}]
    )
    if rmsprop_diverged:
        runs.loc[(runs["optimizer"] == "rmsprop") & (runs["seed"] == 1), "status"] = "diverged"
    return runs, pd.concat(histories, ignore_index=True)


def test_the_median_curve_carries_each_run_flat_and_takes_the_median_at_every_flops_point():
    _, histories = _pilots()
    curve = median_curve(histories[(histories["optimizer"] == "sgd") & (histories["dataset"] == "toy")])
    assert list(curve.columns) == ["flops", "median", "train_s", "epoch"]
    assert list(curve["flops"]) == [0, 100, 200, 250, 300, 400]  # the union of the runs' points
    # At 250 seed 0 and 1 are still at their 200 row (0.8, 0.85), seed 2 at its last (0.88).
    assert list(curve["median"]) == pytest.approx([0.1, 0.5, 0.8, 0.85, 0.9, 0.9])
    assert list(curve["train_s"]) == pytest.approx([0, 1, 2, 2, 3, 4])  # (4, 4.8, 2.0) at 400: 4
    assert list(curve["epoch"]) == [0, 1, 2, 2, 3, 4]


def test_the_rule_gives_the_hand_computed_budget_and_leaves_out_an_optimizer_that_diverged():
    runs, histories = _pilots()
    budget = derive_budget("toy", runs, histories, MARGIN, FRACTION, MULTIPLES)
    # sgd: plateau 0.9, within 0.5 x 0.1 = 0.05 of it from 0.85 on: at 250 FLOPs (exactly 0.85,
    # which counts as within), 2.0 s (seeds at 2, 2.4, 2.0), epoch 2. adam: plateau 0.951, within
    # from 0.901: the 0.93 of 300 FLOPs. rmsprop would be cheapest (50 FLOPs) but a pilot diverged.
    assert budget["optimizers"]["sgd"] == {
        "plateau_val_acc": pytest.approx(0.9),
        "reach_flops": 250.0,
        "reach_train_s": 2.0,
        "reach_epoch": 2.0,
        "n_runs": 3,
        "n_diverged": 0,
    }
    assert budget["optimizers"]["adam"]["plateau_val_acc"] == pytest.approx(0.951)
    assert budget["optimizers"]["adam"]["reach_flops"] == 300.0
    assert budget["optimizers"]["adam"]["reach_train_s"] == 7.5
    assert budget["optimizers"]["rmsprop"] == {
        "plateau_val_acc": None,
        "reach_flops": None,
        "reach_train_s": None,
        "reach_epoch": None,
        "n_runs": 3,
        "n_diverged": 1,
    }
    assert set(budget["optimizers"]) == {"sgd", "adam", "rmsprop"}  # no evolutionary optimizer
    assert (budget["cheapest"], budget["rule_flops"], budget["base_flops"]) == ("sgd", 250.0, 250.0)
    assert (budget["source"], budget["hand_flops"]) == ("rule", None)
    assert budget["multiples"] == MULTIPLES and budget["marks"] == [62.5, 250.0, 1000.0]
    assert (budget["fraction"], budget["margin"], budget["dataset"]) == (FRACTION, MARGIN, "toy")
    rule = budget["rule"]
    assert (
        "0.5 x delta = 0.05" in rule
        and "sgd's median comes within it at 250 FLOPs" in rule
        and "rmsprop left out" in rule
    )
    assert rule.endswith(".") and rule.count(". ") == 0  # one sentence
    # Without the divergence rmsprop is usable and the cheapest.
    runs, histories = _pilots(rmsprop_diverged=False)
    assert derive_budget("toy", runs, histories, MARGIN, FRACTION, MULTIPLES)["cheapest"] == "rmsprop"


def test_a_hand_set_budget_is_used_and_the_rule_still_says_what_it_would_give():
    runs, histories = _pilots()
    budget = derive_budget("toy", runs, histories, MARGIN, FRACTION, MULTIPLES, hand_flops=1000.0)
    assert (budget["source"], budget["base_flops"], budget["hand_flops"]) == ("hand", 1000.0, 1000.0)
    assert (budget["rule_flops"], budget["cheapest"]) == (250.0, "sgd")
    assert budget["marks"] == [250.0, 1000.0, 4000.0]
    assert "set by hand" in budget["rule"] and "250 FLOPs" in budget["rule"]


def test_no_usable_gradient_optimizer_is_refused_with_what_to_do():
    runs, histories = _pilots()
    runs.loc[runs["optimizer"].isin(["sgd", "adam"]) & (runs["seed"] == 0), "status"] = "diverged"
    with pytest.raises(ValueError, match=r"^toy: the budget rule gives no budget \(every gradient optimizer diverged"):
        derive_budget("toy", runs, histories, MARGIN, FRACTION, MULTIPLES)
    with pytest.raises(ValueError, match="set training.budget_flops by hand"):
        derive_budget("toy", runs[runs["optimizer_kind"] == "evolution"], histories, MARGIN, FRACTION, MULTIPLES)
    # By hand it goes on, the rule giving none.
    budget = derive_budget("toy", runs, histories, MARGIN, FRACTION, MULTIPLES, hand_flops=500.0)
    assert budget["rule_flops"] is None and budget["base_flops"] == 500.0 and "gives none" in budget["rule"]


def test_a_budget_file_is_read_back_only_when_whole(tmp_path):
    runs, histories = _pilots()
    path = tmp_path / "toy.json"
    budget = derive_budget("toy", runs, histories, MARGIN, FRACTION, MULTIPLES)
    write_json(path, budget, allow_nan=False)
    assert read_budget(path) == budget
    hand = derive_budget("toy", runs, histories, MARGIN, FRACTION, MULTIPLES, hand_flops=1000.0)
    write_json(path, hand, allow_nan=False)
    assert read_budget(path) == hand
    remedy = "rerun the budget job"
    for damage in (
        {"base_flops": -1.0, "rule_flops": -1.0},
        {"base_flops": float("inf")},
        {"marks": [1.0, 2.0, 3.0]},
        {"multiples": [1.0, 0.25, 4.0]},
        {"source": "guess"},
        {"optimizers": []},
    ):
        path.write_text(json.dumps(budget | damage))
        with pytest.raises(ValueError, match=f"^{path}: corrupt budget file .*{remedy}"):
            read_budget(path)
    path.write_text(json.dumps({key: value for key, value in budget.items() if key != "marks"}))
    with pytest.raises(ValueError, match=f"^{path}: corrupt budget file \\(missing marks\\).*{remedy}"):
        read_budget(path)
    path.write_text('{"dataset": "toy", "base_flops": 2')  # cut off mid-write
    with pytest.raises(ValueError, match=f"^{path}: corrupt budget file"):
        read_budget(path)
    path.unlink()
    os.symlink("/dev/zero", path)  # never ends: refused as not a regular file
    with pytest.raises(ValueError, match=f"^{path}: corrupt budget file .*not a regular file"):
        read_budget(path)
    with pytest.raises(FileNotFoundError, match=f"^{tmp_path / 'none.json'}: no budget file; run the budget job"):
        read_budget(tmp_path / "none.json")


def test_a_median_exactly_at_the_edge_of_the_band_is_within():
    # 0.8 - 1.0 x 0.1 is 0.7000000000000001 in floats: the run's 0.7 at 10 FLOPs still counts.
    runs = pd.DataFrame(
        [{"dataset": "toy", "optimizer": "sgd", "optimizer_kind": "gradient", "seed": 0, "status": "x"}]
    )
    histories = _history("sgd", 0, [0, 10, 20], [0.1, 0.7, 0.8], [0, 1, 2])
    assert derive_budget("toy", runs, histories, 0.1, 1.0, [1])["rule_flops"] == 10.0
