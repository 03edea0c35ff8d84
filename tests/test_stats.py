import numpy as np
import pandas as pd
import pytest

from neuroevo.analysis.aggregate import significance_tests
from neuroevo.analysis.stats import mann_whitney_p, min_attainable_p


def test_three_seeds_can_never_be_significant_and_ten_can():
    assert min_attainable_p(3, 3) >= 0.1
    assert min_attainable_p(10, 10) < 0.001
    assert mann_whitney_p(np.arange(10), np.arange(10) + 100) < 0.001
    assert mann_whitney_p([0, 0, 0], [0, 0, 0]) == 1.0


def _runs(values_by_optimizer, diverged=()):
    rows = []
    for optimizer, values in values_by_optimizer.items():
        for seed, value in enumerate(values):
            status = "diverged" if optimizer in diverged else "completed"
            row = {
                "dataset": "toy",
                "optimizer": optimizer,
                "seed": seed,
                "status": status,
                "test_acc": value,
                "test_loss": -value,
            }
            rows.append(
                row
                | {
                    m: 1.0
                    for m in (
                        "train_time_s",
                        "train_loss",
                        "train_acc",
                        "val_loss",
                        "val_acc",
                        "model_evals",
                        "grad_evals",
                        "flops",
                        "epochs",
                    )
                }
            )
    return pd.DataFrame(rows)


def test_best_is_marked_and_only_the_indistinguishable_are_tied():
    rng = np.random.default_rng(0)
    runs = _runs(
        {
            "good": 0.9 + rng.normal(0, 0.01, 10),
            "as_good": 0.9 + rng.normal(0, 0.01, 10),
            "bad": 0.5 + rng.normal(0, 0.01, 10),
        }
    )
    tests = significance_tests(runs, alpha=0.05).set_index(["metric", "optimizer"])
    accuracy = tests.loc["test_acc"]
    best = accuracy[accuracy["is_best"]].index.tolist()
    assert len(best) == 1 and best[0] in ("good", "as_good")
    assert (
        not accuracy.loc["bad", "tied_with_best"] and accuracy.loc["bad", "p_value"] < 0.01
    )  # 10 pairs: at best 2/1024
    other = "as_good" if best[0] == "good" else "good"
    assert accuracy.loc[other, "tied_with_best"]
    assert tests.loc[("test_loss", best[0]), "is_best"]  # lower loss is better
    assert accuracy["testable"].all()


def test_an_optimizer_whose_runs_all_diverged_is_never_bold():
    rng = np.random.default_rng(1)
    runs = _runs(
        {"exploded": 0.95 + rng.normal(0, 0.01, 10), "sound": 0.9 + rng.normal(0, 0.01, 10)}, diverged={"exploded"}
    )
    runs.loc[runs["optimizer"] == "exploded", "train_time_s"] = 0.1  # it stopped first, so it is "fastest"
    tests = significance_tests(runs, alpha=0.05)
    assert not tests[tests["optimizer"] == "exploded"]["is_best"].any()
    assert (tests[tests["is_best"]]["optimizer"] == "sound").all() and tests["is_best"].sum() == tests[
        "metric"
    ].nunique()
    one_sound_run = _runs({"exploded": [0.95] * 10, "sound": [0.9] * 10}, diverged={"exploded"})
    one_sound_run.loc[0, "status"] = "completed"  # one of its runs did not diverge: it competes
    tests = significance_tests(one_sound_run, alpha=0.05).set_index(["metric", "optimizer"])
    assert tests.loc[("test_acc", "exploded"), "is_best"]


def test_known_answers_of_the_paired_test_holm_and_a12():
    from neuroevo.analysis.stats import a12, holm, wilcoxon_p

    # Exact two-sided Wilcoxon: 6 pairs all one way is 2/64; W- = 6 is 2 x 14/64.
    assert wilcoxon_p([1, 2, 3, 4, 5, 6], [0, 0, 0, 0, 0, 0]) == pytest.approx(0.03125)
    assert wilcoxon_p([1, 2, 3, 4, 5, -6], [0] * 6) == pytest.approx(0.4375)
    assert wilcoxon_p([0.5, 0.5], [0.5, 0.5]) == 1.0
    assert min_attainable_p(5, 5, "wilcoxon") == pytest.approx(0.0625)  # 5 seeds can never reach 0.05
    # Holm: sorted 0.005, 0.01, 0.03, 0.04 times 4, 3, 2, 1, made monotone.
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert np.isnan(holm([0.01, float("nan")])[1]) and holm([0.01, float("nan")])[0] == pytest.approx(0.01)
    assert a12([1, 2, 3], [1, 2, 3]) == 0.5
    assert a12([4, 5, 6], [1, 2, 3]) == 1.0 and a12([1, 2, 3], [4, 5, 6]) == 0.0
    assert a12([1, 2], [2, 3]) == 0.125


def test_the_same_optimizer_under_two_names_is_never_significant():
    rng = np.random.default_rng(1)
    values = 0.9 + rng.normal(0, 0.02, 10)
    runs = _runs({"adam": values, "adam_again": values, "worse": values - 0.1})
    for test in ("wilcoxon", "mann_whitney"):
        tests = significance_tests(runs, alpha=0.05, test=test).set_index(["metric", "optimizer"]).loc["test_acc"]
        twin = "adam_again" if tests.loc["adam", "best"] == "adam" else "adam"
        # Equal means: the twin is co-best (bold), and no test tells it apart.
        assert tests.loc[twin, "is_best"] and tests.loc[twin, "p_holm"] == 1.0
        assert tests.loc[twin, "a12"] == 0.5 and tests.loc[twin, "difference"] == 0.0
        assert not tests.loc["worse", "tied_with_best"] and tests.loc["worse", "a12"] == 1.0
        low, high = tests.loc["worse", ["ci_low", "ci_high"]]
        assert low - 1e-9 <= 0.1 <= high + 1e-9


def test_of_equal_means_all_are_co_best_and_the_first_is_the_reference_whatever_the_hash_seed():
    import os
    import subprocess
    import sys

    # Three optimizers tied on every metric; the best was once picked from a set, so by PYTHONHASHSEED.
    script = (
        "import pandas as pd; from neuroevo.analysis.aggregate import significance_tests; "
        "rows = [{'dataset': 'toy', 'optimizer': name, 'seed': seed, 'status': 'completed', "
        "**{m: 1.0 for m in ('train_time_s', 'train_loss', 'train_acc', 'val_loss', 'val_acc', 'test_loss', 'test_acc', "
        "'model_evals', 'grad_evals')}} for name in ('zeta', 'alpha', 'mu') for seed in range(3)]; "
        "tests = significance_tests(pd.DataFrame(rows), alpha=0.05); print(sorted(set(tests['best'])), "
        "sorted(set(tests[tests['is_best']]['optimizer'])))"
    )
    for hash_seed in ("0", "1", "2", "3"):
        result = subprocess.run(
            [sys.executable, "-c", script],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": hash_seed},
        )
        assert result.stdout.strip() == "['zeta'] ['alpha', 'mu', 'zeta']"


def test_ties_at_the_resolution_of_the_data_are_co_best():
    """Iris: 30 test examples, 10 seeds; adam and deep_ga both average 293/300. Both are bold,
    neither is "not different" from the other."""
    from neuroevo.analysis.stats import compare_with_best

    adam = pd.Series([29 / 30] * 7 + [1.0] * 3)
    deep_ga = pd.Series([1.0] * 3 + [29 / 30] * 7)  # the same mean, in another float order
    deep_ga = deep_ga.iloc[::-1].reset_index(drop=True)
    worse = pd.Series([28 / 30] * 10)
    result = compare_with_best({"deep_ga": deep_ga, "adam": adam, "worse": worse}, False, 0.05, resolution=1 / 300)
    assert result["deep_ga"]["is_best"] and result["adam"]["is_best"] and not result["worse"]["is_best"]
    assert not result["adam"]["tied_with_best"]  # bold, not †


def test_four_zero_differences_of_ten_are_untestable_under_holm_over_five_and_never_dagger():
    """6 non-zero pairs: the smallest two-sided p is 2/64, times 5 comparisons 0.156 > 0.05."""
    from neuroevo.analysis.stats import compare_with_best
    from neuroevo.report.cells import marked

    rng = np.random.default_rng(2)
    best = pd.Series(0.9 + rng.normal(0, 0.01, 10))
    same_four = best.copy()
    same_four.iloc[4:] -= 0.05  # 4 zero differences, 6 far worse
    samples = {"best": best + 0.1, "four_zeros": (best + 0.1).where(same_four == best, same_four)}
    samples |= {f"other{index}": best - 0.2 - 0.01 * index for index in range(4)}
    result = compare_with_best(samples, False, 0.05)
    entry = result["four_zeros"]
    assert entry["n_nonzero_pairs"] == 6 and not entry["testable"] and not entry["tied_with_best"]
    assert marked("0.9", entry["is_best"], entry["tied_with_best"], entry["testable"]) == "0.9 (untestable)"
    assert all(result[f"other{index}"]["testable"] for index in range(4))


def test_a_nan_p_never_ties():
    from neuroevo.analysis.stats import compare_with_best

    result = compare_with_best({"a": pd.Series([1.0, 2.0, 3.0] * 3), "b": pd.Series([np.nan] * 9)}, False, 0.05)
    assert not result["b"]["tied_with_best"]
