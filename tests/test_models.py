import torch

from neuroevo.models.mlp import MLP, MLPSpec, init_parameters, population_cross_entropy, population_logits
from neuroevo.models.problem import WorkCounter


def test_batched_population_loss_equals_a_loop_over_candidates():
    spec = MLPSpec(n_features=196, hidden=32, n_classes=10)
    generator = torch.Generator().manual_seed(0)
    population = torch.randn(17, spec.n_parameters, generator=generator) * 0.1
    x = torch.randn(64, 196, generator=generator)
    y = torch.randint(0, 10, (64,), generator=generator)

    batched = population_cross_entropy(population_logits(spec, population, x), y)

    model = MLP(spec)
    looped = torch.stack(
        [torch.nn.functional.cross_entropy(model.load_flat(candidate)(x), y) for candidate in population]
    )
    torch.testing.assert_close(batched, looped.detach(), rtol=1e-5, atol=1e-5)


def test_module_and_flat_layout_agree_on_initial_weights():
    spec = MLPSpec(4, 8, 3, "tanh")
    flat = init_parameters(spec, seed=3)
    assert flat.numel() == spec.n_parameters == sum(p.numel() for p in MLP(spec).parameters())
    model = MLP(spec).load_flat(flat)
    x = torch.randn(5, 4)
    torch.testing.assert_close(model(x), population_logits(spec, flat[None], x)[0])
    assert torch.equal(init_parameters(spec, seed=3), flat)
    assert not torch.equal(init_parameters(spec, seed=4), flat)


def test_layer_slices_cover_weights_and_bias_of_each_layer():
    spec = MLPSpec(4, 8, 3)
    slices = spec.layer_slices
    assert [s.stop - s.start for s in slices] == [4 * 8 + 8, 8 * 3 + 3]
    assert slices[-1].stop == spec.n_parameters


def test_work_counter_counts_population_and_gradient_work(iris_data):
    from neuroevo.data.prepare import load_prepared
    from neuroevo.models.problem import Problem

    problem = Problem.from_data(load_prepared(iris_data), hidden=8, activation="relu")
    forward = 2 * (4 * 8 + 8 * 3)  # per example: 2 FLOPs per multiply-add of the two layers
    assert problem.forward_flops == forward
    batch = problem.batch(torch.arange(10))
    problem.population_loss(torch.zeros(5, problem.n_parameters), batch)
    assert problem.counter.flops == 5 * 10 * forward
    params = torch.zeros(problem.n_parameters, requires_grad=True)
    problem.loss_and_grad(params, batch)
    # A gradient step: its forward and a backward of twice the forward, three forwards in all.
    assert problem.counter.flops - 5 * 10 * forward == 3 * 10 * forward
    assert problem.counter == WorkCounter(sample_evals=5 * 10 + 10, model_evals=6, grad_evals=1, flops=80 * forward)
    assert params.grad is not None


def test_forward_flops_of_the_cnn_come_from_its_shapes():
    """The CNN is on the same FLOP scale as the MLP: its count is that of its convolutions and
    its classifier, from their shapes."""
    import numpy as np

    from neuroevo.data.prepare import PreparedData
    from neuroevo.models.cnn import FlatCNN
    from neuroevo.models.problem import Problem

    x = {split: np.zeros((4, 196), dtype=np.float32) for split in ("train", "val", "test")}
    y = {split: np.zeros(4, dtype=np.int64) for split in ("train", "val", "test")}
    problem = Problem.from_data(PreparedData("fashion_mnist14", 10, x, y), hidden=16, activation="relu", model="cnn")
    module = FlatCNN(196, 10).module
    convs = [layer for layer in module.modules() if isinstance(layer, torch.nn.Conv2d)]
    linears = [layer for layer in module.modules() if isinstance(layer, torch.nn.Linear)]
    side, expected = 14, 0
    for conv in convs:  # "same" padding, then a 2x2 pooling halves the side
        expected += 2 * conv.in_channels * conv.out_channels * conv.kernel_size[0] * conv.kernel_size[1] * side * side
        side //= 2
    expected += sum(2 * layer.in_features * layer.out_features for layer in linears)
    assert problem.forward_flops == expected


def test_layerwise_fitness_shares_the_hidden_layer_and_equals_whole_networks():
    """Layerwise CMA-ES's fast path (the output layer's candidates reuse the mean's hidden
    activations) gives the losses of the whole networks, and counts each as a model."""
    from neuroevo.models.problem import Problem

    spec = MLPSpec(n_features=196, hidden=32, n_classes=10)
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(64, 196, generator=generator)
    y = torch.randint(0, 10, (64,), generator=generator)
    problem = Problem(spec, {"train": x}, {"train": y})
    mean = init_parameters(spec, seed=0)
    first, last = (
        torch.randn(size, part.stop - part.start, generator=generator) * 0.1
        for size, part in zip((7, 5), spec.layer_slices, strict=True)
    )

    fast = problem.layer_population_loss(mean, [first, last], (x, y))

    whole = []
    for part, block in zip(spec.layer_slices, (first, last), strict=True):
        population = mean.expand(block.shape[0], -1).clone()
        population[:, part] = block
        whole.append(population)
    torch.testing.assert_close(fast, population_cross_entropy(population_logits(spec, torch.cat(whole), x), y))
    # FLOPs are what was computed: 7 whole networks, the mean's hidden layer once, 5 output layers.
    hidden_layer, output_layer = 2 * 196 * 32, 2 * 32 * 10
    flops = 64 * (7 * (hidden_layer + output_layer) + hidden_layer + 5 * output_layer)
    assert problem.counter == WorkCounter(sample_evals=12 * 64, model_evals=12, grad_evals=0, flops=flops)


def test_the_gradient_steps_fast_path_is_the_same_network_and_gradient():
    """A gradient step computes one network with plain matmuls and torch's cross-entropy; its
    logits, loss and gradient are those of the population path."""
    from neuroevo.models.mlp import network_logits

    spec = MLPSpec(n_features=64, hidden=16, n_classes=10)
    generator = torch.Generator().manual_seed(0)
    x, y = torch.randn(32, 64, generator=generator), torch.randint(0, 10, (32,), generator=generator)
    params = init_parameters(spec, seed=3)
    torch.testing.assert_close(network_logits(spec, params, x), population_logits(spec, params.unsqueeze(0), x)[0])
    fast, slow = params.clone().requires_grad_(True), params.clone().requires_grad_(True)
    torch.nn.functional.cross_entropy(network_logits(spec, fast, x), y).backward()
    population_cross_entropy(population_logits(spec, slow.unsqueeze(0), x), y)[0].backward()
    torch.testing.assert_close(fast.grad, slow.grad)
