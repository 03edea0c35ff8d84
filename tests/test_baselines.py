"""Baselines on the discovered rule's terms: the warmup + cosine schedule is the genome's, a
scheduled optimizer trains, and a baseline's tuning on the GA's tasks is reproducible, spends
the GA's number of evaluations and resumes instead of repeating its trials."""

import math

import pytest
import torch

from neuroevo.config.run_spec import RunSpec, TrainingSettings
from neuroevo.data.prepare import load_prepared
from neuroevo.discovery.baselines import Scheduled, baseline_fitness, tune_baseline
from neuroevo.discovery.ga import DiscoverySettings, genome_evaluations
from neuroevo.discovery.tasks import Task
from neuroevo.optimizers import get_optimizer
from neuroevo.training.loop import train
from neuroevo.update_rules import Genome
from neuroevo.update_rules.genome_optimizer import scheduled_lr

SPACE = {
    "lr": {"distribution": "log_uniform", "low": 0.001, "high": 0.1},
    "schedule": {"distribution": "categorical", "choices": ["constant", "warmup_cosine"]},
}
SETTINGS = DiscoverySettings(population=3, generations=2, elites=1, tournament_size=2, max_steps=30, seeds=[0])


def test_the_warmup_cosine_schedule_is_the_genomes_step_for_step():
    adam = get_optimizer("adam")
    hyperparameters = adam.make_hyperparameters(
        {"lr": 0.02, "schedule": "warmup_cosine", "warmup_fraction": 0.1, "total_steps": 300}
    )
    genome = Genome(term_types=[3], alphas=[1.0], lr_log10=math.log10(0.02))
    genome = Genome.from_dict(genome.to_dict() | {"use_warmup": True, "warmup_steps": 30, "use_cosine_decay": True})
    parameter = torch.zeros(3, requires_grad=True)
    stepped = Scheduled(adam.build([parameter], hyperparameters), hyperparameters)
    for step in range(1, 301):
        parameter.grad = torch.ones(3)
        stepped.step()
        assert stepped.optimizer.param_groups[0]["lr"] == pytest.approx(
            scheduled_lr(genome, step, 300), rel=1e-12, abs=1e-15
        )
    assert stepped.optimizer.param_groups[0]["lr"] == pytest.approx(0.0, abs=1e-12)  # decayed to 0 at the horizon
    constant = adam.make_hyperparameters({"lr": 0.02})
    assert Scheduled(adam.build([parameter], constant), constant).schedule is None


@pytest.mark.parametrize("name", ["sgd", "rmsprop", "adam", "adamw"])
def test_a_scheduled_baseline_trains_and_differs_from_its_constant_run(name, iris_data):
    def run(schedule):
        training = TrainingSettings(batch_size=16, max_epochs=30, patience=30)
        values = {"schedule": schedule, "total_steps": 180, "lr": 0.05}
        return train(RunSpec("iris", name, seed=2, hidden=8, training=training, hyperparameters=values), iris_data)

    (scheduled, history), (constant, _) = run("warmup_cosine"), run("constant")
    assert history["train_loss"].iloc[-1] < 0.8 * history["train_loss"].iloc[0]
    assert scheduled["hyperparameters"]["schedule"] == "warmup_cosine"
    assert scheduled["final_train_loss"] != constant["final_train_loss"]


def test_an_unknown_schedule_is_refused_naming_it():
    adam = get_optimizer("adam")
    hyperparameters = adam.make_hyperparameters({"schedule": "step"})
    with pytest.raises(ValueError, match="schedule: unknown schedule 'step'; known: constant, warmup_cosine"):
        Scheduled(adam.build([torch.zeros(2, requires_grad=True)], hyperparameters), hyperparameters)


@pytest.fixture(scope="module")
def iris_task(iris_data):
    return [Task("iris", hidden=8, batch_size=16)], {"iris": load_prepared(iris_data)}


def test_a_baseline_is_tuned_on_the_gas_budget_reproducibly_and_resumes(iris_task, tmp_path):
    tasks, data = iris_task
    fixed = {"lr": 0.01, "momentum": 0.9}
    first, trials = tune_baseline("sgd", tasks, data, SETTINGS, fixed, SPACE, tmp_path / "a.journal")
    assert first["n_trials"] == genome_evaluations(SETTINGS) == 5  # 3 genomes, then 2 children
    assert first["task_runs_per_trial"] == 1 and first["steps_per_task_run"] == 30
    assert set(first["tuned_values"]) == {"lr", "schedule"} and first["hyperparameters"]["momentum"] == 0.9
    assert len(trials) == 5
    # The trial's fitness is the GA's fitness of these values: recomputed, the same.
    again = baseline_fitness("sgd", first["hyperparameters"], tasks, data, SETTINGS)
    assert again["fitness"] == first["objective"]
    # Another journal, the same study: the same trials; the same journal: nothing run again.
    other, _ = tune_baseline("sgd", tasks, data, SETTINGS, fixed, SPACE, tmp_path / "b.journal")
    assert other["tuned_values"] == first["tuned_values"] and other["objective"] == first["objective"]
    rerun, rerun_trials = tune_baseline("sgd", tasks, data, SETTINGS, fixed, SPACE, tmp_path / "a.journal")
    assert rerun == first and len(rerun_trials) == 5


def test_an_optimizer_without_a_torch_build_cannot_be_tuned_as_a_baseline(iris_task):
    tasks, data = iris_task
    with pytest.raises(ValueError, match="cmaes: not a torch.optim optimizer"):
        baseline_fitness("cmaes", {}, tasks, data, SETTINGS)
