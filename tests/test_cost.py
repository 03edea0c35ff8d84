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
            "wall_s": [0.0, 1.0, 2.0, 0.0, 2.5, 5.0],
        }
    )
    row = cost_to_target("digits", runs, histories, target=0.8).iloc[0]
    assert (row["n_reached"], row["median_sample_evals"], row["median_seconds"]) == (1, 20.0, 2.0)
    # The one success cost 20; the failure is charged all 50 it spent: aRT (20 + 50) / 1.
    assert (row["art_sample_evals"], row["art_seconds"]) == (70.0, 7.0)
