"""The benchmarks keep running (their figures are ratios printed for the reader, not asserted)."""

import subprocess
import sys

import pytest

from conftest import REPOSITORY, tool_environment


@pytest.mark.parametrize("script", ["population_eval.py", "cmaes_generation.py", "evolution_budget.py", "cmaes_budget.py"])
def test_benchmark_runs_quickly_and_prints_its_target(script):
    result = subprocess.run(
        [sys.executable, str(REPOSITORY / "benchmarks" / script), "--quick"],
        capture_output=True, text=True, env=tool_environment(), timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "target" in result.stdout
