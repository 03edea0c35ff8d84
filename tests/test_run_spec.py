"""One shape for one run's settings: RunSpec.to_dict is the --spec layout plus the dataset,
optimizer and seed, from_dict reads it back, and the summary's settings blocks are its own."""

import json

import pytest

from neuroevo.config.checks import SpecError, check_spec
from neuroevo.config.run_spec import RunSpec, TrainingSettings

SPECS = [
    RunSpec("iris", "sgd", 0),
    RunSpec(
        "digits",
        "adam",
        7,
        model="cnn",
        hidden=32,
        activation="tanh",
        training=TrainingSettings(batch_size=16, max_steps=520, subsample=200, augment=True),
        hyperparameters={"lr": 0.003},
    ),
    RunSpec(
        "iris",
        "layerwise_cmaes",
        3,
        training=TrainingSettings(max_seconds=2.5, device="auto"),
        hyperparameters={"popsize": [20, 8], "diagonal": True},
    ),
]


@pytest.mark.parametrize("spec", SPECS, ids=lambda spec: spec.optimizer)
def test_from_dict_reads_back_what_to_dict_writes(spec):
    data = spec.to_dict()
    assert RunSpec.from_dict(data) == spec
    assert RunSpec.from_dict(json.loads(json.dumps(data))) == spec  # the JSON channel from rule to job too
    data["hyperparameters"].setdefault("popsize", []).append(1)  # a copy: editing it leaves the spec alone
    assert RunSpec.from_dict(spec.to_dict()) == spec


@pytest.mark.parametrize("spec", SPECS, ids=lambda spec: spec.optimizer)
def test_to_dict_is_the_spec_layout_plus_dataset_optimizer_and_seed(spec):
    data = spec.to_dict()
    assert list(data) == ["dataset", "optimizer", "seed", "model", "training", "hyperparameters"]
    assert (data["dataset"], data["optimizer"], data["seed"]) == (spec.dataset, spec.optimizer, spec.seed)
    assert data["model"] == {"kind": spec.model, "hidden": spec.hidden, "activation": spec.activation}
    layout = {key: data[key] for key in ("model", "training", "hyperparameters")}
    check_spec(layout, spec.optimizer)  # what --spec takes
    assert RunSpec.from_json(spec.dataset, spec.optimizer, spec.seed, json.dumps(layout)) == spec


def test_from_json_fills_defaults_as_before():
    spec = RunSpec.from_json("iris", "sgd", 2, json.dumps({"model": {"hidden": 8}, "training": {"max_epochs": 3}}))
    assert spec == RunSpec("iris", "sgd", 2, hidden=8, training=TrainingSettings(max_epochs=3))


@pytest.mark.parametrize(
    "data, message",
    [
        ({"dataset": "iris", "optimizer": "sgd", "seed": 0, "hidden": 8}, "unknown key(s) hidden, missing key(s) none"),
        ({"dataset": "iris", "optimizer": "sgd"}, "missing key(s) seed"),
        ({"dataset": "iris", "optimizer": "sgd", "seed": 0, "model": {"width": 8}}, "unknown key(s) model.width"),
        (
            {"dataset": "iris", "optimizer": "sgd", "seed": 0, "training": {"epochs": 8}},
            "unknown key(s) training.epochs",
        ),
    ],
)
def test_from_dict_refuses_another_layout_by_key(data, message):
    with pytest.raises(SpecError, match=message.replace("(", r"\(").replace(")", r"\)")):
        RunSpec.from_dict(data)


def test_tuned_values_replace_the_specs_and_are_checked_naming_their_source():
    spec = RunSpec("iris", "sgd", 0, hyperparameters={"lr": 0.5, "momentum": 0.9})
    tuned = spec.with_tuned({"lr": 0.1}, "--tuned t.json")
    assert tuned.hyperparameters == {"lr": 0.1, "momentum": 0.9} and tuned.seed == 0
    assert spec.hyperparameters == {"lr": 0.5, "momentum": 0.9}  # a new spec; this one unchanged
    with pytest.raises(SpecError, match=r"--tuned t\.json.*hyperparameters\.lr"):
        spec.with_tuned({"lr": -1.0}, "--tuned t.json")
    with pytest.raises(SpecError, match=r"--tuned t\.json.*'hyperparameters\.lrr'"):
        spec.with_tuned({"lrr": 0.1}, "--tuned t.json")


def test_the_summary_holds_the_specs_settings_blocks(iris_data):
    from neuroevo.training.loop import train
    from neuroevo.training.stopping import RunStatus

    spec = RunSpec("iris", "sgd", 0, hidden=8, training=TrainingSettings(max_epochs=1))
    summary, _ = train(spec, iris_data)
    data = spec.to_dict()
    assert (summary["dataset"], summary["optimizer"], summary["seed"]) == (
        data["dataset"],
        data["optimizer"],
        data["seed"],
    )
    assert summary["model"] == data["model"] and summary["training"] == data["training"]
    assert data["hyperparameters"].items() <= summary["hyperparameters"].items()  # and the optimizer's defaults
    assert summary["status"] in RunStatus.__args__
