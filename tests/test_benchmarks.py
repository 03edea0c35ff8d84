"""The benchmarks keep running (their figures are ratios printed for the reader, not asserted)."""

import subprocess
import sys

import pandas as pd
import pytest
from conftest import REPOSITORY, tool_environment


@pytest.mark.parametrize(
    ("script", "printed"),
    [
        ("population_eval.py", "target"),
        ("cmaes_generation.py", "target"),
        ("evolution_budget.py", "target"),
        ("cmaes_budget.py", "target"),
        ("pipeline_overhead.py", "target"),
        ("deep_ga_generation.py", "x faster"),
        ("cnn_population_eval.py", "target"),
        ("cnn_budget.py", "target"),
        ("layerwise_depth.py", "layerwise / cmaes at the same FLOPs"),
    ],
)
def test_benchmark_runs_quickly_and_prints_its_target(script, printed):
    result = subprocess.run(
        [sys.executable, str(REPOSITORY / "benchmarks" / script), "--quick"],
        capture_output=True,
        text=True,
        env=tool_environment(),
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert printed in result.stdout


def test_scaling_benchmark_writes_its_figure_and_table(tmp_path):
    result = subprocess.run(
        [sys.executable, str(REPOSITORY / "benchmarks" / "cmaes_scaling.py"), "--quick", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        env=tool_environment(),
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "pycma diagonal / torch sep" in result.stdout
    table = pd.read_csv(tmp_path / "cmaes_scaling.csv")
    assert set(table["mode"]) == {"pycma full", "pycma VkD", "pycma diagonal", "torch sep", "torch mirrored"}
    assert sorted(set(table["n"])) == [100, 300, 1000, 3000] and (table["ms_per_generation"] > 0).all()
    assert (tmp_path / "cmaes_scaling.png").stat().st_size > 10_000
