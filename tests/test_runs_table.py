"""The table of runs (neuroevo.analysis.runs): settings as GROUP.KEY columns that come back
from Parquet exactly as the summaries had them, and the report cells (neuroevo.report.cells)."""

import json
import math

import pandas as pd
import pyarrow.parquet
import pytest

from neuroevo.analysis.aggregate import aggregate
from neuroevo.analysis.runs import SETTING_KEYS, read_table, run_summary, runs_table, settings, write_table
from neuroevo.files.errors import CorruptFileError
from neuroevo.report.cells import compact, marked, mean_std, median_iqr, number, p_value

METRICS = {
    "train_time_s": 1.0,
    "train_loss": 0.1,
    "train_acc": 0.9,
    "val_loss": 0.2,
    "val_acc": 0.9,
    "test_loss": 0.2,
    "test_acc": 0.9,
    "model_evals": 10,
    "grad_evals": 10,
    "flops": 1000,
    "epochs": 3,
}
# Optimizers with different keys, a null value, per-layer lists where another has a number, an int among floats.
SUMMARIES = [
    {
        "dataset": "iris",
        "optimizer": "cmaes",
        "optimizer_kind": "evolution",
        "seed": 0,
        "status": "completed",
        "device": "cpu",
        **METRICS,
        "hyperparameters": {"sigma0": 0.5, "popsize": None, "diagonal": False},
        "model": {"hidden": 8},
        "versions": {"torch": "2.1"},
    },
    {
        "dataset": "iris",
        "optimizer": "layerwise_cmaes",
        "optimizer_kind": "evolution",
        "seed": 0,
        "status": "completed",
        "device": "cpu",
        **METRICS,
        "hyperparameters": {"sigma0": 0.5, "popsize": [12, 6], "diagonal": [True, False]},
        "model": {"hidden": 8},
        "versions": {"torch": "2.1"},
    },
    {
        "dataset": "iris",
        "optimizer": "deep_ga",
        "optimizer_kind": "evolution",
        "seed": 0,
        "status": "completed",
        "device": "cpu",
        **METRICS,
        "hyperparameters": {"popsize": 116, "sigma": 0.01},
        "model": {"hidden": 8},
        "versions": {"torch": "2.1"},
    },
    {
        "dataset": "iris",
        "optimizer": "sgd",
        "optimizer_kind": "gradient",
        "seed": 0,
        "status": "completed",
        "device": "cpu",
        **METRICS,
        "hyperparameters": {"lr": 1},
        "model": {"hidden": 8},
        "versions": {"torch": "2.1"},
    },
    {
        "dataset": "iris",
        "optimizer": "sgd",
        "optimizer_kind": "gradient",
        "seed": 1,
        "status": "completed",
        "device": "cpu",
        **METRICS,
        "hyperparameters": {"lr": 0.25},
        "model": {"hidden": 8},
        "versions": {"torch": "2.1"},
    },
]


def test_settings_survive_parquet_and_null_is_not_a_missing_key(tmp_path):
    write_table(runs_table(SUMMARIES), tmp_path / "runs.parquet")
    back = read_table(tmp_path / "runs.parquet")
    assert [run_summary(row) for row in back.to_dict("records")] == [
        summary | {"training": {}} for summary in SUMMARIES
    ]
    cmaes, layerwise, deep_ga, sgd, _ = (row for _, row in back.iterrows())
    assert settings(cmaes, "hyperparameters") == {
        "sigma0": 0.5,
        "popsize": None,
        "diagonal": False,
    }  # null, a key of cmaes
    assert settings(sgd, "hyperparameters") == {"lr": 1} and type(settings(sgd, "hyperparameters")["lr"]) is int
    assert (
        settings(layerwise, "hyperparameters")["popsize"] == [12, 6]
        and settings(deep_ga, "hyperparameters")["popsize"] == 116
        and settings(cmaes, "versions") == {"torch": "2.1"}
    )
    # Typed columns where Parquet keeps the values; JSON text, named so, where it would not.
    schema = pyarrow.parquet.read_schema(tmp_path / "runs.parquet")
    assert (
        str(schema.field("hyperparameters.sigma0").type) == "double"
        and str(schema.field("model.hidden").type) == "int64"
    )
    assert {"hyperparameters.popsize.json", "hyperparameters.diagonal.json", "hyperparameters.lr.json"} <= set(
        schema.names
    )
    assert "hyperparameters" not in schema.names and list(back[SETTING_KEYS][3]) == [
        "hyperparameters.lr",
        "model.hidden",
        "versions.torch",
    ]


def test_the_aggregate_writes_settings_as_columns_and_the_report_reads_them_back(tmp_path):
    paths = []
    for index, summary in enumerate(SUMMARIES):
        path = tmp_path / "runs" / str(index) / "summary.json"
        path.parent.mkdir(parents=True)
        path.write_text(json.dumps(summary))
        pd.DataFrame({"epoch": [0], "val_acc": [0.5]}).to_parquet(path.with_name("history.parquet"))
        paths.append(path)
    aggregate(paths, tmp_path / "summary")
    runs = read_table(tmp_path / "summary" / "runs.parquet")
    assert runs.loc[runs["optimizer"] == "cmaes", "hyperparameters.sigma0"].tolist() == [0.5]
    assert runs["model.hidden"].tolist() == [8] * 5 and runs["versions.torch"].tolist() == ["2.1"] * 5
    metrics = read_table(tmp_path / "summary" / "metrics.parquet").set_index("optimizer")
    assert settings(metrics.loc["cmaes"], "hyperparameters") == SUMMARIES[0]["hyperparameters"]
    assert settings(metrics.loc["sgd"], "hyperparameters") == {"lr": 1}  # the first run's; no other optimizer's keys
    assert settings(metrics.loc["deep_ga"], "hyperparameters") == {"popsize": 116, "sigma": 0.01}
    assert "hyperparameters.popsize.json" in (tmp_path / "summary" / "metrics.csv").read_text().splitlines()[0]


def test_cells_write_numbers_p_values_and_the_marks():
    assert number(0.123456) == "0.1235" and number(float("nan")) == "-" and number(None) == "-"
    assert p_value(0.0004) == "< 0.001" and p_value(0.04567) == "0.046" and p_value(math.nan) == "-"
    assert mean_std(0.91234, 0.01234) == "0.9123 ± 0.012" and mean_std(0.9, math.nan) == "0.9"
    assert marked("1", True, True) == "**1**" and marked("1", False, True) == "1 †" and marked("1", False, False) == "1"
    assert marked("1", False, True, testable=False) == "1 (untestable)"
    assert compact(28_800) == "28.8k" and compact(3_200_000) == "3.2M" and compact(3150) == "3.15e+03"
    assert median_iqr([1, 2, 3, float("inf")]) == "2 [1.5, 2.5]" and median_iqr([]) == "-"


def test_a_table_of_an_older_aggregate_is_refused_with_how_to_remake_it(tmp_path):
    path = tmp_path / "runs.parquet"
    pd.DataFrame({"optimizer": ["sgd"], "hyperparameters": ['{"lr": 0.1}']}).to_parquet(path)
    with pytest.raises(
        CorruptFileError,
        match=f"^{path}: a table of an older aggregate .*hyperparameters.*snakemake --forcerun {path}$",
    ):
        read_table(path)
