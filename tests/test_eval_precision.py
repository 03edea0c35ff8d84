"""Population evaluation in bf16 and the fused loss: the fitness ranks and values are those of
fp32, a bf16 run still trains, `auto` picks bf16 only on hardware that computes it, and a bad
value is refused by name."""

import logging

import pytest
import torch
from scipy.stats import spearmanr

from neuroevo.config.run_spec import RunSpec, TrainingSettings
from neuroevo.data.prepare import load_prepared
from neuroevo.models import device as device_module
from neuroevo.models.mlp import MLPSpec, init_parameters, population_cross_entropy, population_logits
from neuroevo.models.problem import Problem
from neuroevo.training.loop import train


def test_the_fused_loss_equals_log_softmax_for_either_layout():
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(5, 300, 10, generator=generator) * 4  # contiguous [P, B, C], as the CNN's
    y = torch.randint(0, 10, (300,), generator=generator)
    reference = torch.stack([torch.nn.functional.cross_entropy(candidate, y) for candidate in logits])
    torch.testing.assert_close(population_cross_entropy(logits, y), reference)
    by_class = logits.transpose(1, 2).contiguous().transpose(1, 2)  # population_logits' layout
    torch.testing.assert_close(population_cross_entropy(by_class, y), reference)


def _trained_population(digits_data, sigma: float):
    """A CMA-ES-like population on real data: candidates around a network trained by Adam."""
    problem = Problem.from_data(load_prepared(digits_data), hidden=32, activation="relu")
    mean = init_parameters(problem.spec, 0).requires_grad_(True)
    adam, generator = torch.optim.Adam([mean], lr=1e-2), torch.Generator().manual_seed(1)
    for _ in range(200):
        problem.loss_and_grad(
            mean, problem.batch(torch.randint(0, problem.x["train"].shape[0], (64,), generator=generator))
        )
        adam.step()
    assert problem.evaluate(mean, "val")[1] > 0.85
    return problem, mean.detach() + sigma * torch.randn(64, problem.n_parameters, generator=generator)


@pytest.mark.parametrize("sigma", [0.3, 0.01, 1e-4])
def test_bf16_fitness_ranks_agree_with_fp32(digits_data, sigma):
    """The deviations from the population's mean go through bf16, the mean in fp32: the ranks
    agree at any spread, including one far below bf16's resolution of the weights."""
    problem, population = _trained_population(digits_data, sigma)
    x, y = problem.x["train"][:512], problem.y["train"][:512]
    fp32 = population_cross_entropy(population_logits(problem.spec, population, x, "fp32"), y)
    bf16 = population_cross_entropy(population_logits(problem.spec, population, x, "bf16"), y)
    assert spearmanr(fp32.numpy(), bf16.numpy()).statistic >= 0.99
    torch.testing.assert_close(bf16, fp32, rtol=2e-3, atol=2e-3)
    # A lone network (what is reported) is computed in fp32 exactly.
    one = population[:1]
    assert torch.equal(population_logits(problem.spec, one, x, "bf16"), population_logits(problem.spec, one, x))


def test_chunks_and_a_diverged_candidate_change_nothing_but_memory(monkeypatch):
    """Chunked candidates give the unchunked logits bit for bit; in bf16 a non-finite candidate
    (whose mean would spoil every deviation) leaves the others' fitness finite."""
    from neuroevo.models import mlp

    spec = MLPSpec(n_features=196, hidden=32, n_classes=10)
    generator = torch.Generator().manual_seed(0)
    population = init_parameters(spec, 0) + 0.05 * torch.randn(37, spec.n_parameters, generator=generator)
    x, y = torch.randn(256, 196, generator=generator), torch.randint(0, 10, (256,), generator=generator)
    whole = {precision: population_logits(spec, population, x, precision) for precision in ("fp32", "bf16")}
    monkeypatch.setattr(mlp, "HIDDEN_CHUNK_ELEMENTS", 5 * 32 * 256)  # chunks of 5 candidates
    for precision, logits in whole.items():
        assert torch.equal(population_logits(spec, population, x, precision), logits)
    population[3, 0] = float("inf")
    losses = population_cross_entropy(population_logits(spec, population, x, "bf16"), y)
    assert not torch.isfinite(losses[3]) and torch.isfinite(losses[torch.arange(37) != 3]).all()
    with pytest.raises(ValueError, match="precision: unknown value 'fp16'"):
        Problem(spec, {"train": x}, {"train": y}, precision="fp16")


def test_problem_scores_fitness_in_its_precision_and_reports_in_fp32(iris_data):
    data = load_prepared(iris_data)
    fp32, bf16 = (Problem.from_data(data, 8, "relu", precision=precision) for precision in ("fp32", "bf16"))
    population = init_parameters(fp32.spec, 0) + 0.1 * torch.randn(16, fp32.n_parameters)
    batch = fp32.batch(torch.arange(64))
    assert not torch.equal(fp32.population_loss(population, batch), bf16.population_loss(population, batch))
    assert fp32.evaluate(population[3], "val") == bf16.evaluate(population[3], "val")


@pytest.mark.parametrize("optimizer", ["cmaes", "deep_ga"])
def test_a_bf16_run_still_trains(iris_data, optimizer):
    spec = RunSpec(
        "iris", optimizer, 0, hidden=8, training=TrainingSettings(batch_size=32, max_epochs=30, eval_precision="bf16")
    )
    summary, history = train(spec, iris_data)
    assert summary["eval_precision"] == "bf16"
    assert history["train_loss"].iloc[-1] < 0.8 * history["train_loss"].iloc[0]
    assert summary["test_acc"] > 0.6


def test_auto_picks_bf16_only_where_hardware_computes_it(monkeypatch, caplog, iris_data):
    monkeypatch.setattr(device_module, "cpu_flags", lambda: {"avx2", "avx512f"})
    assert device_module.resolve_precision("auto", "cpu") == ("fp32", "auto: no bf16 matrix units on cpu")
    precision, why = device_module.resolve_precision("bf16", "cpu")
    assert precision == "bf16" and "emulated" in why
    spec = RunSpec("iris", "cmaes", 0, hidden=8, training=TrainingSettings(max_epochs=2, eval_precision="bf16"))
    with caplog.at_level(logging.WARNING, logger="neuroevo"):
        summary, _ = train(spec, iris_data)
    assert "emulated" in caplog.text and summary["eval_precision_why"] == why
    monkeypatch.setattr(device_module, "cpu_flags", lambda: {"avx512f", "avx512_bf16"})
    assert device_module.resolve_precision("auto", "cpu") == ("bf16", "auto: CPU with avx512_bf16")
    assert device_module.resolve_precision("fp32", "cpu")[0] == "fp32"


def test_gradient_runs_never_depend_on_the_precision(iris_data):
    summaries = [
        train(
            RunSpec("iris", "adam", 0, hidden=8, training=TrainingSettings(max_epochs=3, eval_precision=p)), iris_data
        )[0]
        for p in ("fp32", "bf16")
    ]
    assert summaries[0]["eval_precision"] == summaries[1]["eval_precision"] == "fp32"
    assert summaries[0]["test_loss"] == summaries[1]["test_loss"]


def test_an_unknown_precision_is_refused_by_name():
    with pytest.raises(ValueError, match="training.eval_precision: unknown value 'fp16'"):
        device_module.resolve_precision("fp16", "cpu")
    from neuroevo.config.checks import SpecError

    with pytest.raises(SpecError, match="eval_precision"):
        RunSpec.from_json("iris", "cmaes", 0, '{"training": {"eval_precision": "fp16"}}')
