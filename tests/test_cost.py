"""COCO's average runtime charges the runs that miss the target their whole cost (issue 17)."""

import math

import pandas as pd

from neuroevo.analysis.cost import average_runtime, cost_to_target


def test_average_runtime_charges_failures_their_whole_cost():
    # Two of three runs reach the target (at 10 and 30); the third spent 50 without: (10 + 30 + 50) / 2.
    assert average_runtime([10.0, None, 30.0], [100.0, 50.0, 200.0]) == 45.0
    assert math.isinf(average_runtime([None, None], [5.0, 7.0]))


def test_the_cost_table_gives_the_median_of_the_successes_and_the_art_of_all():
    runs = pd.DataFrame({"optimizer": ["es", "es"], "seed": [0, 1]})
    histories = pd.DataFrame(
        {
            "optimizer": ["es"] * 6,
            "seed": [0, 0, 0, 1, 1, 1],
            "epoch": [0, 1, 2, 0, 1, 2],
            "val_acc": [0.1, 0.5, 0.9, 0.1, 0.3, 0.4],
            "sample_evals": [0, 10, 20, 0, 25, 50],
            "train_s": [0.0, 1.0, 2.0, 0.0, 2.5, 5.0],
        }
    )
    row = cost_to_target("digits", runs, histories, target=0.8).iloc[0]
    assert (row["n_reached"], row["median_sample_evals"], row["median_seconds"]) == (1, 20.0, 2.0)
    # The one success cost 20; the failure is charged all 50 it spent: aRT (20 + 50) / 1.
    assert (row["art_sample_evals"], row["art_seconds"]) == (70.0, 7.0)


def test_several_targets_each_get_their_art_and_the_ecdf_counts_every_pair():
    from neuroevo.analysis.cost import runtime_ecdf

    runs = pd.DataFrame({"optimizer": ["es", "es"], "seed": [0, 1]})
    histories = pd.DataFrame(
        {
            "optimizer": ["es"] * 6,
            "seed": [0, 0, 0, 1, 1, 1],
            "epoch": [0, 1, 2, 0, 1, 2],
            "val_acc": [0.1, 0.5, 0.9, 0.1, 0.6, 0.7],
            "flops": [0, 100, 200, 0, 100, 200],
        }
    )
    table = cost_to_target("digits", runs, histories, target=[0.5, 0.8]).set_index("target_val_acc")
    # 0.5: both reach it at 100; 0.8: seed 0 at 200, seed 1 charged its 200 - (200 + 200) / 1.
    assert table.loc[0.5, "art_flops"] == 100.0 and table.loc[0.8, "art_flops"] == 400.0
    assert list(table["n_reached"]) == [2, 1]
    curve = runtime_ecdf(histories, [0.5, 0.8])["es"]
    # Four (run, target) pairs, three reached: at 100, 100 and 200.
    assert list(curve["x"]) == [100.0, 100.0, 200.0] and list(curve["fraction"]) == [0.25, 0.5, 0.75]
