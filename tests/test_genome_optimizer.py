"""Update-rule genomes and GenomeOptimizer: the write-up's genome runs in a plain torch
loop; Adam and SGD are special cases of it, step for step."""

import copy
import math

import pytest
import torch

from neuroevo.update_rules import PRIOR_GENOME, Genome, GenomeOptimizer
from neuroevo.update_rules.genome import GenomeError
from neuroevo.update_rules.genome_optimizer import scheduled_lr


def _model_and_data(seed=0):
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(6, 12), torch.nn.Tanh(), torch.nn.Linear(12, 3))
    x = torch.randn(64, 6, generator=generator)
    y = torch.randint(0, 3, (64,), generator=generator)
    return model, x, y


def _train(model, optimizer, x, y, steps):
    losses = []
    for _ in range(steps):
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


def _step_by_step(genome, reference_class, reference_settings, steps=30):
    model, x, y = _model_and_data()
    twin = copy.deepcopy(model)
    ours = GenomeOptimizer(model.parameters(), genome)
    reference = reference_class(twin.parameters(), **reference_settings)
    for _ in range(steps):
        _train(model, ours, x, y, 1)
        _train(twin, reference, x, y, 1)
        yield list(model.parameters()), list(twin.parameters())


def test_adam_term_alone_with_bias_correction_matches_torch_adam_step_for_step():
    genome = Genome(term_types=[3], alphas=[1.0], lr_log10=-2, beta1=0.9, beta2=0.99, eps_log10=-8)
    for ours, theirs in _step_by_step(genome, torch.optim.Adam, {"lr": 0.01, "betas": (0.9, 0.99), "eps": 1e-8}):
        for a, b in zip(ours, theirs, strict=True):
            torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_grad_alone_matches_torch_sgd_step_for_step():
    genome = Genome(term_types=[0], alphas=[1.0], lr_log10=-1)
    for ours, theirs in _step_by_step(genome, torch.optim.SGD, {"lr": 0.1}):
        for a, b in zip(ours, theirs, strict=True):
            torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-7)


def test_the_write_ups_evolved_genome_trains_a_model_in_a_plain_loop():
    model, x, y = _model_and_data()
    losses = _train(model, GenomeOptimizer(model.parameters(), PRIOR_GENOME, total_steps=300), x, y, 300)
    assert losses[-1] < 0.5 * losses[0]
    assert PRIOR_GENOME.terms == ["SIGN_GRAD", "SIGN_GRAD", "ADAM_TERM", "ADAM_TERM"]


def test_a_genome_round_trips_through_json(tmp_path):
    PRIOR_GENOME.save(tmp_path / "genome.json")
    assert Genome.load(tmp_path / "genome.json") == PRIOR_GENOME


def test_state_dict_resumes_an_optimizer_exactly():
    model, x, y = _model_and_data()
    optimizer = GenomeOptimizer(model.parameters(), PRIOR_GENOME, total_steps=40)
    _train(model, optimizer, x, y, 20)
    saved_model, saved_state = copy.deepcopy(model.state_dict()), copy.deepcopy(optimizer.state_dict())
    _train(model, optimizer, x, y, 20)

    resumed, _, _ = _model_and_data(seed=1)
    resumed.load_state_dict(saved_model)
    optimizer = GenomeOptimizer(resumed.parameters(), Genome(), total_steps=1)  # replaced by the state
    optimizer.load_state_dict(saved_state)
    _train(resumed, optimizer, x, y, 20)
    for a, b in zip(model.parameters(), resumed.parameters(), strict=True):
        assert torch.equal(a, b)


def test_schedule_warms_up_linearly_then_decays_to_zero():
    genome = Genome(lr_log10=-2, use_warmup=True, warmup_steps=10, use_cosine_decay=True)
    assert scheduled_lr(genome, 5, 110) == pytest.approx(0.005)
    assert scheduled_lr(genome, 10, 110) == pytest.approx(0.01)
    assert scheduled_lr(genome, 60, 110) == pytest.approx(0.005)
    assert scheduled_lr(genome, 110, 110) == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize(
    "fields, field",
    [
        ({"term_types": [9], "alphas": [1.0]}, "term_types"),
        ({"term_types": [0, 3], "alphas": [1.0]}, "alphas"),
        ({"beta1": 1.0}, "beta1"),
        ({"beta2": -0.1}, "beta2"),
        ({"lr_log10": math.nan}, "lr_log10"),
    ],
)
def test_a_bad_genome_is_refused_naming_the_field(fields, field):
    with pytest.raises(GenomeError, match=f"^{field}"):
        Genome(**fields)


def test_an_unknown_genome_field_is_refused_by_name():
    with pytest.raises(GenomeError, match="'lr'"):
        Genome.from_dict({"lr": 0.1})


@pytest.mark.parametrize(
    "fields, field",
    [
        ({"beta1": "0.9"}, "beta1"),
        ({"use_m": 1}, "use_m"),
        ({"warmup_steps": 10.0}, "warmup_steps"),
        ({"term_types": 3, "alphas": [1.0]}, "term_types"),
        ({"alphas": [math.inf]}, r"alphas\[0\]"),
        ({"lr_log10": 400.0}, "lr_log10"),
    ],
)
def test_a_genome_of_wrong_types_or_out_of_range_genes_is_refused_naming_the_field(fields, field):
    with pytest.raises(GenomeError, match=f"^{field}"):
        Genome(**fields)


def test_a_run_of_evolved_records_the_sha256_of_the_genome_file_it_read(iris_data, tmp_path):
    import hashlib

    from neuroevo.config.run_spec import RunSpec, TrainingSettings
    from neuroevo.training.loop import train

    genome_file = tmp_path / "genome.json"
    PRIOR_GENOME.save(genome_file)
    sha256 = hashlib.sha256(genome_file.read_bytes()).hexdigest()
    spec = RunSpec(
        "iris",
        "evolved",
        0,
        hidden=8,
        training=TrainingSettings(batch_size=16, max_epochs=3),
        hyperparameters={"genome_file": str(genome_file), "total_steps": 30},
    )
    summary, _ = train(spec, iris_data, tmp_path / "checkpoint.pt", checkpoint_seconds=0)
    assert summary["hyperparameters"]["genome_sha256"] == sha256

    resumed, _ = train(spec, iris_data, tmp_path / "checkpoint.pt", checkpoint_seconds=0)  # from the last checkpoint
    assert resumed["resumed"] and resumed["hyperparameters"]["genome_sha256"] == sha256  # kept in the run's state
