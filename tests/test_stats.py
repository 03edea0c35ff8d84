import numpy as np

from neuroevo.aggregate import significance_tests
from neuroevo.stats import mann_whitney_p, min_attainable_p

import pandas as pd


def test_three_seeds_can_never_be_significant_and_ten_can():
    assert min_attainable_p(3, 3) >= 0.1
    assert min_attainable_p(10, 10) < 0.001
    assert mann_whitney_p(np.arange(10), np.arange(10) + 100) < 0.001
    assert mann_whitney_p([0, 0, 0], [0, 0, 0]) == 1.0


def _runs(values_by_optimizer):
    rows = []
    for optimizer, values in values_by_optimizer.items():
        for seed, value in enumerate(values):
            row = {"dataset": "toy", "optimizer": optimizer, "seed": seed, "test_acc": value, "test_loss": -value}
            rows.append(row | {m: 1.0 for m in ("train_time_s", "train_loss", "train_acc", "val_loss", "val_acc", "model_evals", "grad_evals")})
    return pd.DataFrame(rows)


def test_best_is_marked_and_only_the_indistinguishable_are_tied():
    rng = np.random.default_rng(0)
    runs = _runs({
        "good": 0.9 + rng.normal(0, 0.01, 10),
        "as_good": 0.9 + rng.normal(0, 0.01, 10),
        "bad": 0.5 + rng.normal(0, 0.01, 10),
    })
    tests = significance_tests(runs, alpha=0.05).set_index(["metric", "optimizer"])
    accuracy = tests.loc["test_acc"]
    best = accuracy[accuracy["is_best"]].index.tolist()
    assert len(best) == 1 and best[0] in ("good", "as_good")
    assert not accuracy.loc["bad", "tied_with_best"] and accuracy.loc["bad", "p_value"] < 0.001
    other = "as_good" if best[0] == "good" else "good"
    assert accuracy.loc[other, "tied_with_best"]
    assert tests.loc[("test_loss", best[0]), "is_best"]  # lower loss is better
    assert accuracy["testable"].all()
