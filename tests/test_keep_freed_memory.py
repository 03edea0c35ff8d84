"""Every job keeps freed memory (glibc's mallopt): a population's evaluations stop faulting
their activations in again, and the fitness values are those of the default allocator."""

import subprocess
import sys

import pytest

# A population evaluation as the CMA-ES jobs run it (P = 64, B = 512, bf16 deviations), in a
# fresh process since the setting is process-wide: prints the minor page faults per evaluation
# after a warm-up, then the fitness values' bits.
EVALUATIONS = """
import resource, sys, torch
from neuroevo.models.device import keep_freed_memory
from neuroevo.models.mlp import MLPSpec, init_parameters, population_cross_entropy, population_logits
torch.set_num_threads(2)
if sys.argv[1] == "keep":
    assert keep_freed_memory()
spec, generator = MLPSpec(196, 32, 10, "relu"), torch.Generator().manual_seed(0)
x, y = torch.randn(512, 196, generator=generator), torch.randint(0, 10, (512,), generator=generator)
population = init_parameters(spec, 0) + 0.1 * torch.randn(64, spec.n_parameters, generator=generator)
def fitness():
    return population_cross_entropy(population_logits(spec, population, x, "bf16"), y)
for _ in range(10):
    fitness()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(100):
    values = fitness()
print((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 100)
print(values.numpy().tobytes().hex())
"""


def _evaluate(allocator: str) -> tuple[float, str]:
    result = subprocess.run(
        [sys.executable, "-c", EVALUATIONS, allocator], capture_output=True, text=True, check=True, timeout=300
    )
    faults, values = result.stdout.split()
    return float(faults), values


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_kept_memory_stops_the_page_faults_and_changes_no_result():
    kept_faults, kept_values = _evaluate("keep")
    default_faults, default_values = _evaluate("default")
    # Measured on a 2-core AMD EPYC: 760-2,450 faults per evaluation by default, 0-13 kept; one
    # activation tensor of 4 MiB is 1,024 pages, so faulting it in again cannot pass.
    assert kept_faults < 64, f"{kept_faults} page faults per evaluation with freed memory kept ({default_faults} not)"
    assert kept_values == default_values
