import dataclasses
import math

import pytest

from neuroevo.optimizers import OPTIMIZERS, get_optimizer
from neuroevo.config.run_spec import RunSpec, TrainingSettings
from neuroevo.training.loop import train


def _required_settings(name, folder):
    """What an optimizer cannot run without: `evolved` needs a genome file."""
    if name != "evolved":
        return {}
    from neuroevo.update_rules import PRIOR_GENOME

    PRIOR_GENOME.save(folder / "genome.json")
    return {"genome_file": str(folder / "genome.json")}


# The write-up's genome warms its learning rate up over 100 steps: give it more than 70.
EPOCHS = {"evolved": 40, "evolved_prior": 40}


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_every_optimizer_lowers_the_loss_on_iris(name, iris_data, tmp_path):
    training = TrainingSettings(batch_size=16, max_epochs=EPOCHS.get(name, 10), patience=10)
    spec = RunSpec("iris", name, seed=1, hidden=8, training=training, hyperparameters=_required_settings(name, tmp_path))
    summary, history = train(spec, iris_data)
    assert summary["status"] in ("completed", "early_stopped")
    assert history["train_loss"].iloc[-1] < 0.8 * history["train_loss"].iloc[0]
    assert summary["val_acc"] > history["val_acc"].iloc[0]
    counts_gradients = OPTIMIZERS[name].kind == "gradient"
    assert (summary["grad_evals"] > 0) == counts_gradients
    assert summary["sample_evals"] >= summary["model_evals"] > 0


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_hyperparameters_are_a_dataclass_with_defaults(name):
    spec = OPTIMIZERS[name]
    assert dataclasses.is_dataclass(spec.hyperparameters)
    spec.hyperparameters()  # every field has a default


def test_unknown_hyperparameter_is_refused_by_name():
    with pytest.raises(ValueError, match="'lrr'.*'sgd'"):
        get_optimizer("sgd").make_hyperparameters({"lrr": 0.1})
    with pytest.raises(KeyError, match="unknown optimizer 'nadam'"):
        get_optimizer("nadam")


def test_cma_settings_resolve_to_concrete_values(iris_data):
    spec = RunSpec("iris", "layerwise_cmaes", seed=0, hidden=8, training=TrainingSettings(max_epochs=1))
    summary, _ = train(spec, iris_data)
    resolved = summary["hyperparameters"]
    assert resolved["engine"] == ["pycma", "pycma"]  # 40 and 27 parameters: full covariance
    assert all(isinstance(size, int) and size >= 4 for size in resolved["popsize"])


def test_layerwise_takes_one_population_size_per_layer(iris_data):
    settings = TrainingSettings(max_epochs=1)
    spec = RunSpec("iris", "layerwise_cmaes", seed=0, hidden=8, training=settings, hyperparameters={"popsize": [12, 6]})
    summary, _ = train(spec, iris_data)
    assert summary["hyperparameters"]["popsize"] == [12, 6]
    wrong_length = RunSpec("iris", "layerwise_cmaes", seed=0, hidden=8, training=settings, hyperparameters={"popsize": [12]})
    with pytest.raises(ValueError, match=r"popsize \[12\] must list one size per layer \(2 layers\)"):
        train(wrong_length, iris_data)
    whole_model = RunSpec("iris", "cmaes", seed=0, hidden=8, training=settings, hyperparameters={"popsize": [12, 6]})
    with pytest.raises(ValueError, match="cmaes: popsize must be one number"):
        train(whole_model, iris_data)


def test_a_diverging_run_is_recorded_with_a_clear_message(iris_data):
    spec = RunSpec(
        "iris", "sgd", seed=0, hidden=8,
        training=TrainingSettings(max_epochs=5), hyperparameters={"lr": 1e38},
    )
    summary, _ = train(spec, iris_data)
    assert summary["status"] == "diverged"
    assert "training loss became" in summary["message"]
    assert math.isfinite(summary["test_loss"])  # the best model before divergence is reported


def test_evolved_without_a_genome_file_is_refused_by_name(iris_data, tmp_path):
    spec = RunSpec("iris", "evolved", seed=0, hidden=8, training=TrainingSettings(max_epochs=1))
    with pytest.raises(ValueError, match="evolved: genome_file is required"):
        train(spec, iris_data)
    missing = RunSpec("iris", "evolved", seed=0, hidden=8, training=TrainingSettings(max_epochs=1),
                      hyperparameters={"genome_file": str(tmp_path / "nowhere.json")})
    with pytest.raises(ValueError, match="no genome file"):
        train(missing, iris_data)


def test_an_exploding_but_finite_loss_is_recorded_as_diverged(iris_data):
    spec = RunSpec("iris", "sgd", seed=0, hidden=8, training=TrainingSettings(max_epochs=20, patience=5), hyperparameters={"lr": 30.0})
    summary, history = train(spec, iris_data)
    assert math.isfinite(history["train_loss"].iloc[-1]) and history["train_loss"].iloc[-1] > 1e5  # finite, not NaN
    assert summary["status"] == "diverged"  # not early_stopped, as it was when only NaN counted
    assert "more than 10 x the initial" in summary["message"]
    assert summary["val_loss"] == history["val_loss"].iloc[:-1].min()  # the best model before it, reported
