import dataclasses
import math

import pytest
import toy_optimizer

from neuroevo.config.run_spec import RunSpec, TrainingSettings
from neuroevo.optimizers import OPTIMIZERS, get_optimizer, register
from neuroevo.optimizers.schema import optimizer_schema
from neuroevo.training.loop import check_settings, train
from neuroevo.training.summary import TIMING_COLUMNS, TIMING_KEYS

# The registry's optimizers, and a toy one (tests/toy_optimizer.py) that a test registers as
# a new optimizer is: every test below that takes `name` runs on both.
NAMES = sorted(OPTIMIZERS) + [toy_optimizer.OPTIMIZER.name]


@pytest.fixture(autouse=True)
def toy_registered(monkeypatch):
    """The toy in the registry for one test: through `register`, the function each line of
    REGISTRY goes through, into a copy of OPTIMIZERS that the test's end throws away."""
    monkeypatch.setattr("neuroevo.optimizers.OPTIMIZERS", dict(OPTIMIZERS))
    import neuroevo.optimizers

    register(toy_optimizer)
    return neuroevo.optimizers.OPTIMIZERS


def _required_settings(name, folder):
    """What an optimizer cannot run without: `evolved` needs a genome file."""
    if name != "evolved":
        return {}
    from neuroevo.update_rules import PRIOR_GENOME

    PRIOR_GENOME.save(folder / "genome.json")
    return {"genome_file": str(folder / "genome.json")}


# The write-up's genome warms its learning rate up over 100 steps: give it more than 70.
EPOCHS = {"evolved": 40, "evolved_prior": 40}


@pytest.mark.parametrize("name", NAMES)
def test_every_optimizer_lowers_the_loss_on_iris(name, iris_data, tmp_path, toy_registered):
    training = TrainingSettings(batch_size=16, max_epochs=EPOCHS.get(name, 10), patience=10)
    spec = RunSpec(
        "iris", name, seed=1, hidden=8, training=training, hyperparameters=_required_settings(name, tmp_path)
    )
    summary, history = train(spec, iris_data)
    assert summary["status"] in ("completed", "early_stopped")
    assert history["train_loss"].iloc[-1] < 0.8 * history["train_loss"].iloc[0]
    assert summary["val_acc"] > history["val_acc"].iloc[0]
    counts_gradients = toy_registered[name].kind == "gradient"
    assert (summary["grad_evals"] > 0) == counts_gradients
    assert summary["sample_evals"] >= summary["model_evals"] > 0


@pytest.mark.parametrize("name", NAMES)
def test_the_same_seed_gives_the_same_run(name, iris_data, tmp_path):
    def run(seed):
        training = TrainingSettings(batch_size=16, max_epochs=2)
        spec = RunSpec(
            "iris", name, seed=seed, hidden=8, training=training, hyperparameters=_required_settings(name, tmp_path)
        )
        summary, history = train(spec, iris_data)
        timings = [*TIMING_KEYS, "result_key"]
        return {key: value for key, value in summary.items() if key not in timings}, history.drop(
            columns=list(TIMING_COLUMNS)
        )

    (first, first_history), (again, again_history) = run(3), run(3)
    assert first == again
    assert first_history.equals(again_history)
    assert first["train_loss"] > 0 and len(first_history) == 3  # epoch 0 and two epochs: the runs did run


@pytest.mark.parametrize("name", NAMES)
def test_hyperparameters_are_a_dataclass_with_defaults(name, toy_registered):
    spec = toy_registered[name]
    assert dataclasses.is_dataclass(spec.hyperparameters)
    spec.hyperparameters()  # every field has a default


@pytest.mark.parametrize("name", NAMES)
def test_the_written_schema_has_a_block_and_a_search_space_for_every_optimizer(name, toy_registered):
    schema = optimizer_schema(toy_registered)["$defs"]
    block = schema["optimizer_settings"]["properties"][name]
    fields = dataclasses.fields(toy_registered[name].hyperparameters)
    assert {key: value["default"] for key, value in block["properties"].items()} == {
        field.name: field.default for field in fields
    }
    assert all(value["description"] for value in block["properties"].values())
    assert schema["search_spaces"]["properties"][name]["default"] == toy_registered[name].search_space
    assert name in schema["optimizer"]["enum"]
    assert (name in schema["gradient_optimizer"]["enum"]) == (toy_registered[name].kind == "gradient")


def test_the_toy_block_carries_its_fields_bounds():
    block = optimizer_schema({"toy": toy_optimizer.OPTIMIZER})["$defs"]["optimizer_settings"]["properties"]["toy"]
    assert block["properties"] == {
        "lr": {"description": "Step size.", "type": "number", "exclusiveMinimum": 0, "default": 0.5},
        "steps_per_batch": {
            "description": "Gradient steps on each minibatch.",
            "type": "integer",
            "minimum": 1,
            "default": 1,
        },
    }


def test_register_refuses_a_module_that_breaks_the_contract_by_name(toy_registered):
    import types

    with pytest.raises(ValueError, match="optimizer 'toy' is registered already"):
        register(toy_optimizer)
    bare = types.ModuleType("my_optimizer")
    with pytest.raises(TypeError, match="optimizer module my_optimizer: needs OPTIMIZER"):
        register(bare)
    bare.OPTIMIZER, bare.Hyperparameters = (
        dataclasses.replace(toy_optimizer.OPTIMIZER, name="mine"),
        toy_optimizer.Hyperparameters,
    )
    with pytest.raises(TypeError, match="my_optimizer: OPTIMIZER.search_space must be the module's SEARCH_SPACE"):
        register(bare)
    assert "mine" not in toy_registered


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
    wrong_length = RunSpec(
        "iris", "layerwise_cmaes", seed=0, hidden=8, training=settings, hyperparameters={"popsize": [12]}
    )
    with pytest.raises(ValueError, match=r"popsize \[12\] must list one size per layer: the model has 2 layers"):
        train(wrong_length, iris_data)
    # Deeper MLPs have more layers: three sizes for two hidden layers, refused by check_settings
    # (before any data is read) when they are two.
    deep = RunSpec(
        "iris", "layerwise_cmaes", seed=0, hidden=[8, 4], training=settings, hyperparameters={"popsize": [12, 6, 6]}
    )
    assert train(deep, iris_data)[0]["hyperparameters"]["popsize"] == [12, 6, 6]
    with pytest.raises(ValueError, match=r"hyperparameters.popsize \[12, 6\] .* has 3 layers"):
        check_settings(RunSpec("iris", "layerwise_cmaes", seed=0, hidden=[8, 4], hyperparameters={"popsize": [12, 6]}))
    whole_model = RunSpec("iris", "cmaes", seed=0, hidden=8, training=settings, hyperparameters={"popsize": [12, 6]})
    with pytest.raises(ValueError, match="cmaes: popsize must be one number"):
        train(whole_model, iris_data)


def test_a_diverging_run_is_recorded_with_a_clear_message(iris_data):
    spec = RunSpec(
        "iris",
        "sgd",
        seed=0,
        hidden=8,
        training=TrainingSettings(max_epochs=5),
        hyperparameters={"lr": 1e38},
    )
    summary, _ = train(spec, iris_data)
    assert summary["status"] == "diverged"
    assert "training loss became" in summary["message"]
    assert math.isfinite(summary["test_loss"])  # the best model before divergence is reported


def test_evolved_without_a_genome_file_is_refused_by_name(iris_data, tmp_path):
    spec = RunSpec("iris", "evolved", seed=0, hidden=8, training=TrainingSettings(max_epochs=1))
    with pytest.raises(ValueError, match="evolved: genome_file is required"):
        train(spec, iris_data)
    missing = RunSpec(
        "iris",
        "evolved",
        seed=0,
        hidden=8,
        training=TrainingSettings(max_epochs=1),
        hyperparameters={"genome_file": str(tmp_path / "nowhere.json")},
    )
    with pytest.raises(ValueError, match="no genome file"):
        train(missing, iris_data)


def test_an_exploding_but_finite_loss_is_recorded_as_diverged(iris_data):
    spec = RunSpec(
        "iris",
        "sgd",
        seed=0,
        hidden=8,
        training=TrainingSettings(max_epochs=20, patience=5),
        hyperparameters={"lr": 30.0},
    )
    summary, history = train(spec, iris_data)
    assert math.isfinite(history["train_loss"].iloc[-1]) and history["train_loss"].iloc[-1] > 1e5  # finite, not NaN
    assert summary["status"] == "diverged"  # not early_stopped, as it was when only NaN counted
    assert "more than 10 x the initial" in summary["message"]
    assert summary["val_loss"] == history["val_loss"].iloc[:-1].min()  # the best model before it, reported
