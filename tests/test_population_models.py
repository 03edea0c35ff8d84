"""Models as population functions: deeper MLPs and the CNNs evaluate a population as one
batched computation that equals a loop over candidates, layerwise candidates equal whole
networks, and a model that cannot be built is refused by key before any work."""

import pytest
import torch

from neuroevo.config.checks import SpecError, check_spec
from neuroevo.config.run_spec import RunSpec, TrainingSettings
from neuroevo.models import cnn as cnn_module
from neuroevo.models.cnn import CNN_LAYERS, FlatCNN
from neuroevo.models.layers import layer_population_logits
from neuroevo.models.mlp import MLP, MLPSpec, population_cross_entropy, population_logits
from neuroevo.models.problem import Problem, WorkCounter, layer_count
from neuroevo.optimizers import OPTIMIZERS
from neuroevo.training.loop import check_settings, train


def _loop(network_logits, population, x):
    return torch.stack([network_logits(candidate, x) for candidate in population])


@pytest.mark.parametrize("hidden", [16, [16, 12], [24, 16, 8]])
def test_deep_mlp_population_logits_equal_a_loop_over_networks(hidden):
    spec = MLPSpec(20, hidden, 5, "tanh")
    generator = torch.Generator().manual_seed(0)
    population = torch.randn(9, spec.n_parameters, generator=generator) * 0.3
    x = torch.randn(13, 20, generator=generator)
    expected = _loop(lambda flat, x: MLP(spec).load_flat(flat)(x).detach(), population, x)
    torch.testing.assert_close(population_logits(spec, population, x), expected)
    assert len(spec.groups) == layer_count("mlp", hidden) == len(spec.widths) + 1


@pytest.mark.parametrize("n_features", [64, 784, 3072])  # digits 8x8, MNIST 28x28, CIFAR-10 3x32x32
def test_batched_cnn_population_logits_equal_a_loop_over_candidates(n_features, monkeypatch):
    model = FlatCNN(n_features, 10)
    generator = torch.Generator().manual_seed(1)
    population = torch.randn(6, model.n_parameters, generator=generator) * 0.05
    x = torch.randn(5, n_features, generator=generator)
    expected = _loop(model.network_logits, population, x)
    torch.testing.assert_close(model.population_logits(population, x), expected)
    # Chunks of two candidates (the memory bound) give the same logits.
    monkeypatch.setattr(cnn_module, "CNN_CHUNK_ELEMENTS", 2 * 5 * model.largest_activation)
    assert model.candidates_per_chunk(5) == 2
    torch.testing.assert_close(model.population_logits(population, x), expected)
    assert len(model.groups) == CNN_LAYERS == layer_count("cnn", 16)


@pytest.mark.parametrize("model", [MLPSpec(196, [32, 16], 10), FlatCNN(784, 10)], ids=["mlp-3-layers", "cnn"])
def test_layerwise_candidates_equal_whole_networks_and_count_what_is_computed(model):
    """Layer k's candidates reuse the mean's activations before k: their losses are those of
    the whole networks, and the FLOPs counted are the shared layers once plus each candidate's
    layers from k on."""
    generator = torch.Generator().manual_seed(2)
    n_features = 196 if isinstance(model, MLPSpec) else 784
    x = torch.randn(32, n_features, generator=generator)
    y = torch.randint(0, 10, (32,), generator=generator)
    spec = model if isinstance(model, MLPSpec) else MLPSpec(n_features, 16, 10)
    problem = Problem(spec, {"train": x}, {"train": y}, cnn=None if isinstance(model, MLPSpec) else model)
    mean = torch.randn(problem.n_parameters, generator=generator) * 0.1
    sizes = [7, 5, 3]
    blocks = [
        torch.randn(size, group.size, generator=generator) * 0.1
        for size, group in zip(sizes, problem.groups, strict=True)
    ]

    fast = problem.layer_population_loss(mean, blocks, (x, y))

    whole = []
    for group, block in zip(problem.groups, blocks, strict=True):
        population = mean.expand(block.shape[0], -1).clone()
        population[:, group.part] = block
        whole.append(population)
    expected = population_cross_entropy(problem._logits(torch.cat(whole), x), y)
    torch.testing.assert_close(fast, expected)
    for layer, block in enumerate(blocks):
        logits = layer_population_logits(problem.model, mean, layer, block, x)
        torch.testing.assert_close(logits, problem._logits(whole[layer], x))

    # FLOPs: per layer k, the mean's layers before k once, each candidate's layers from k on.
    forward = problem.forward_flops
    assert problem.layer_flops[0] == (0, forward)
    for shared, own in problem.layer_flops[1:]:
        assert shared > 0 and own > 0 and shared + own == forward
    if isinstance(model, MLPSpec):  # 196 -> 32 -> 16 -> 10
        assert problem.layer_flops[1] == (2 * 196 * 32, 2 * 32 * 16 + 2 * 16 * 10)
        assert problem.layer_flops[2] == (2 * 196 * 32 + 2 * 32 * 16, 2 * 16 * 10)
    flops = 32 * sizes[0] * forward
    for k in (1, 2):
        shared, own = problem.layer_flops[k]
        flops += 32 * (shared + sizes[k] * own)
    assert problem.counter == WorkCounter(sample_evals=32 * sum(sizes), model_evals=sum(sizes), flops=flops)


@pytest.mark.parametrize(
    "model, key",
    [
        ({"hidden": []}, "model.hidden"),
        ({"hidden": 0}, "model.hidden"),
        ({"hidden": [16, -2]}, "model.hidden"),
        ({"hidden": [16, 0]}, "model.hidden"),
    ],
)
def test_a_model_without_layers_or_with_a_non_positive_width_is_refused_by_key(model, key):
    with pytest.raises(SpecError, match=key):
        check_spec({"model": model}, "cmaes")
    with pytest.raises(ValueError, match="model.hidden"):
        MLPSpec(4, model["hidden"], 3)


def test_a_cnn_on_data_that_are_not_square_images_is_refused_before_any_work(iris_data):
    spec = RunSpec("iris", "cmaes", seed=0, model="cnn", training=TrainingSettings(max_epochs=1))
    with pytest.raises(
        ValueError, match=r"model: cnn needs square images of at least 4x4 pixels .* 4 features would be 1x2x2"
    ):
        train(spec, iris_data)


def test_a_cnn_evolutionary_run_evaluates_in_fp32_and_says_so(digits_data):
    """bf16 covers the MLP's first layer only: a CNN run asked for bf16 runs, and is filed, as fp32."""
    training = TrainingSettings(batch_size=64, max_epochs=1, subsample=256, eval_precision="bf16")
    summary, _ = train(RunSpec("digits", "cmaes", seed=0, model="cnn", training=training), digits_data)
    assert summary["eval_precision"] == "fp32" and "CNN" in summary["eval_precision_why"]


def test_layerwise_popsize_of_the_wrong_length_for_the_cnn_is_refused():
    spec = RunSpec("digits", "layerwise_cmaes", seed=0, model="cnn", hyperparameters={"popsize": [8, 8]})
    with pytest.raises(ValueError, match=r"hyperparameters.popsize \[8, 8\] .* the model has 3 layers"):
        check_settings(spec)
    check_settings(RunSpec("digits", "layerwise_cmaes", seed=0, model="cnn", hyperparameters={"popsize": [8, 8, 4]}))


EVOLUTIONARY = sorted(name for name, spec in OPTIMIZERS.items() if spec.kind == "evolution")


@pytest.mark.parametrize("name", EVOLUTIONARY)
def test_every_evolutionary_optimizer_lowers_the_loss_on_a_small_cnn_task(name, digits_data):
    """The small CNN on digits' 8x8 images (a subsample, so that it takes seconds)."""
    training = TrainingSettings(batch_size=64, max_epochs=8, patience=10, subsample=512)
    spec = RunSpec("digits", name, seed=0, model="cnn", training=training)
    summary, history = train(spec, digits_data)
    assert summary["status"] in ("completed", "early_stopped")
    assert history["train_loss"].iloc[-1] < 0.9 * history["train_loss"].iloc[0]
    assert summary["model_evals"] > 0 and summary["grad_evals"] == 0
