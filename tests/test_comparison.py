"""The discovered rule's comparison: the train loop's step budget, subsample, CNN and
last-model fitness; the protocol's checks and run specs; the section's tables."""

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from conftest import REPOSITORY

from neuroevo.config.discovery import COMPARISON_DEFAULTS, TASK_DEFAULTS, check_comparison, comparison_run_spec
from neuroevo.config.run_spec import RunSpec
from neuroevo.data.prepare import load_prepared, subsample_train
from neuroevo.discovery.ga import DiscoverySettings
from neuroevo.discovery.tasks import Task
from neuroevo.report.discovery_section import fitness_tables
from neuroevo.training.fitness import task_fitness
from neuroevo.training.loop import train

SCHEMA = yaml.safe_load((REPOSITORY / "workflow" / "schemas" / "config.schema.yaml").read_text())


def _spec(optimizer, model="mlp", **training):
    text = json.dumps(
        {"model": {"kind": model, "hidden": 8}, "training": {"batch_size": 16, **training}, "hyperparameters": {}}
    )
    return RunSpec.from_json("digits", optimizer, 5, text)


def test_a_step_budget_stops_after_exactly_that_many_steps_and_scores_the_last_model(digits_data):
    summary, history = train(_spec("adam", max_steps=70, max_epochs=1000, patience=1000), digits_data)
    assert summary["steps"] == 70 and summary["status"] == "budget"
    assert "step budget 70" in summary["message"]
    assert summary["final_val_acc"] == history["val_acc"].iloc[-1]  # the last model, not the best one
    assert summary["fitness"] == pytest.approx(task_fitness(summary["final_val_acc"], summary["final_train_loss"]))
    assert summary["final_train_loss"] < history["train_loss"].iloc[0]


def test_subsample_is_drawn_per_seed_and_the_same_for_the_same_seed(digits_data):
    data = load_prepared(digits_data)
    first, again, other = (subsample_train(data, 100, seed) for seed in (3, 3, 4))
    assert first.x["train"].shape == (100, data.n_features)
    assert np.array_equal(first.x["train"], again.x["train"]) and not np.array_equal(first.x["train"], other.x["train"])
    assert np.array_equal(first.x["val"], data.x["val"])
    # The examples the discovery fitness trains the same task and seed on.
    keep = torch.randperm(len(data.y["train"]), generator=torch.Generator().manual_seed(3))[:100].numpy()
    assert np.array_equal(first.y["train"], data.y["train"][keep])


def test_the_cnn_trains_with_gradient_optimizers_only(digits_data):
    summary, history = train(_spec("adam", "cnn", max_steps=150, max_epochs=1000, patience=1000), digits_data)
    assert summary["model"]["kind"] == "cnn" and summary["n_parameters"] > 1000
    assert summary["train_loss"] < 0.2 * history["train_loss"].iloc[0]
    # Augmented minibatches: other losses than plain ones, the same for the same seed.
    augmented = [
        train(_spec("adam", "cnn", max_steps=20, max_epochs=1000, augment=True), digits_data)[0] for _ in range(2)
    ]
    assert augmented[0]["final_train_loss"] == augmented[1]["final_train_loss"]
    plain, _ = train(_spec("adam", "cnn", max_steps=20, max_epochs=1000), digits_data)
    assert plain["final_train_loss"] != augmented[0]["final_train_loss"]
    with pytest.raises(ValueError, match="cmaes is an evolutionary optimizer; the CNN runs gradient optimizers only"):
        train(_spec("cmaes", "cnn", max_epochs=1), digits_data)


def _study(**comparison):
    return {
        "tasks": [{"dataset": "digits"}, {"dataset": "iris", "hidden": 8}],
        "settings": {"seeds": [0, 1]},
        "comparison": comparison,
    }


@pytest.mark.parametrize(
    "study, message",
    [
        (_study(seeds=[1, 2]), "comparison.seeds: seed(s) 1 are also the GA's settings.seeds"),
        (
            _study(hyperparameters={"sgd": {"lr": 0.1, "nesterov": True}}),
            "comparison.hyperparameters.sgd: unknown key(s) nesterov",
        ),
        (
            _study(hyperparameters={"evolved": {"genome_file": "x.json"}}),
            "comparison.hyperparameters.evolved: unknown key(s) genome_file",
        ),
        (_study(optimizers=["adam", "cmaes"]), "comparison.optimizers: cmaes cannot be compared"),
        ({"tasks": [{"dataset": "digits"}, {"dataset": "digits"}]}, "tasks: dataset(s) digits appear twice"),
    ],
)
def test_a_bad_comparison_is_refused_naming_the_key(study, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        check_comparison(study, SCHEMA)


def test_run_specs_follow_the_protocol():
    study = _study(max_steps=500, hyperparameters={"adam": {"lr": 0.003}})
    evolved = comparison_run_spec(study, "iris", "evolved", "results/discovery/x/best_genome.json")
    assert evolved["hyperparameters"] == {"genome_file": "results/discovery/x/best_genome.json", "total_steps": 500}
    assert evolved["model"] == {"kind": "mlp", "hidden": 8}
    assert evolved["training"]["max_steps"] == 500 and evolved["training"]["patience"] >= 500
    assert comparison_run_spec(study, "digits", "sgd", "g.json")["hyperparameters"] == {"lr": 0.01, "momentum": 0.9}
    assert comparison_run_spec(study, "digits", "adam", "g.json")["hyperparameters"] == {"lr": 0.003}  # the config wins


def test_the_schema_defaults_mirror_the_code():
    study = SCHEMA["properties"]["discovery"]["additionalProperties"]["properties"]

    def defaults(block):
        return {key: value["default"] for key, value in block["properties"].items() if "default" in value}

    assert defaults(study["tasks"]["items"]) == TASK_DEFAULTS
    assert {key: getattr(Task("digits"), key) for key in TASK_DEFAULTS} == TASK_DEFAULTS
    assert defaults(study["comparison"]) == COMPARISON_DEFAULTS
    settings = DiscoverySettings()
    assert defaults(study["settings"]) == {key: getattr(settings, key) for key in defaults(study["settings"])}
    assert set(study["settings"]["properties"]) == {field.name for field in dataclasses.fields(DiscoverySettings)}


def _runs(values: dict[str, list[float]]) -> pd.DataFrame:
    rows = [
        {
            "task": task,
            "optimizer": name,
            "seed": seed,
            "status": "budget",
            "fitness": value + (0.01 if task == "b" else 0),
        }
        for name, series in values.items()
        for seed, value in enumerate(series)
        for task in ("a", "b")
    ]
    return pd.DataFrame(rows)


def test_tables_bold_the_best_and_mark_only_what_a_test_cannot_separate():
    runs = _runs(
        {
            "evolved": [0.90, 0.91, 0.92, 0.93, 0.94, 0.95, 0.96, 0.97],
            "adam": [0.80, 0.81, 0.82, 0.83, 0.84, 0.85, 0.86, 0.87],  # separated: significant
            # The same but for noise each way at every seed: testable (8 non-zero pairs) and tied.
            "adamw": [0.901, 0.909, 0.921, 0.929, 0.941, 0.948, 0.961, 0.969],
        }
    )
    for test in ("wilcoxon", "mann_whitney"):
        lines, untestable = fitness_tables(runs, ["evolved", "adam", "adamw"], ["a", "b"], alpha=0.05, test=test)
        rows = {
            line.split(" | ")[0].strip("| "): line for line in lines if line.startswith("| ") and "runs" not in line
        }
        assert "**0.9350" in rows["evolved"]
        assert "†" not in rows["adam"] and "†" in rows["adamw"]
        assert untestable == []
    # One seed pair apart, seven identical: Wilcoxon drops the zeros, so it is untestable, not tied.
    one_apart = _runs({"evolved": [0.90, 0.91, 0.92], "adamw": [0.90, 0.91, 0.919]})
    lines, untestable = fitness_tables(one_apart, ["evolved", "adamw"], ["a", "b"], alpha=0.05)
    assert untestable == ["adamw"] and any("(untestable)" in line and "†" not in line for line in lines)
    # 6 seed pairs and 2 comparisons: Holm-corrected Wilcoxon cannot reach 0.05 (2 x 1/32).
    _, untestable = fitness_tables(runs[runs["seed"] < 6], ["evolved", "adam", "adamw"], ["a", "b"], alpha=0.05)
    assert untestable == ["adam", "adamw"]


def test_an_optimizer_whose_runs_diverged_is_never_bold_in_the_discovery_tables():
    runs = _runs({"evolved": [0.5] * 8, "adam": [0.3] * 8})
    runs.loc[runs["optimizer"] == "evolved", "status"] = "diverged"  # the higher score, but every run diverged
    lines, _ = fitness_tables(runs, ["evolved", "adam"], ["a", "b"], alpha=0.05)
    evolved, adam = ([line for line in lines if line.startswith(f"| {name} |")] for name in ("evolved", "adam"))
    assert len(evolved) == 2 and not any("**" in line for line in evolved)  # overall and per-task tables
    assert all("**0.3" in line for line in adam)
