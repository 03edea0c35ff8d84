"""The discovered rule's comparison: the train loop's step budget, subsample, CNN and
last-model scores; the protocol's checks and run specs; the verdicts and the section's tables."""

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from conftest import REPOSITORY

from neuroevo.analysis.comparison import task_verdicts
from neuroevo.config.discovery import (
    COMPARISON_DEFAULTS,
    TASK_DEFAULTS,
    check_comparison,
    comparison_run_spec,
    comparison_runs,
    labels,
)
from neuroevo.config.run_spec import RunSpec
from neuroevo.data.prepare import load_prepared, subsample_train
from neuroevo.discovery.ga import DiscoverySettings
from neuroevo.discovery.tasks import Task
from neuroevo.report.discovery_section import score_table
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
    assert summary["final_test_acc"] == history["test_acc"].iloc[-1]  # the comparison's score
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


def test_the_cnn_trains_with_gradient_optimizers(digits_data):
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
    # (Evolutionary optimizers on the CNN: tests/test_population_models.py.)


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
        ({"tasks": [{"dataset": "digits"}, {"dataset": "digits"}]}, "tasks: digits appear(s) twice"),
        (_study(tuned=["evolved_prior"]), "comparison.tuned: evolved_prior cannot be tuned"),
        (_study(held_out=[{"dataset": "iris", "hidden": 8}]), "comparison.held_out[0]: the name 'iris' is taken"),
        (
            _study(held_out=[{"name": "other", "dataset": "iris", "hidden": 8}]),
            "comparison.held_out[0]: the GA trains on this task (iris)",
        ),
        (
            _study(tuned=["adam"], tuning={"search_spaces": {"sgd": {}}}),
            "comparison.tuning.search_spaces.sgd: not a tuned baseline; tuned: adam",
        ),
        (
            _study(tuning={"search_spaces": {"adam": {"momentum": {"distribution": "uniform", "low": 0, "high": 1}}}}),
            "'momentum' is not a hyperparameter of optimizer 'adam'",
        ),
    ],
)
def test_a_bad_comparison_is_refused_naming_the_key(study, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")):
        check_comparison(study, SCHEMA)


def test_run_specs_follow_the_protocol():
    study = _study(max_steps=500, hyperparameters={"adam": {"lr": 0.003}})
    evolved = comparison_run_spec(study, "iris", "evolved", "results/discovery/x/best_genome.json")
    assert evolved["hyperparameters"] == {"genome_file": "results/discovery/x/best_genome.json", "total_steps": 500}
    assert evolved["model"] == {"kind": "mlp", "hidden": 8}
    assert evolved["training"]["max_steps"] == 500 and evolved["training"]["patience"] >= 500
    assert comparison_run_spec(study, "digits", "sgd", "g.json")["hyperparameters"] == {"lr": 0.01, "momentum": 0.9}
    assert comparison_run_spec(study, "digits", "adam", "g.json")["hyperparameters"] == {"lr": 0.003}  # the config wins
    # A tuned baseline: its fixed values, and the comparison's horizon for its schedule (the lr
    # and the schedule come from its tuning result, through the train command's --tuned).
    tuned = comparison_run_spec(study, "digits", "sgd_tuned", "g.json")
    assert tuned["hyperparameters"] == {"lr": 0.01, "momentum": 0.9, "total_steps": 500}


def test_tuned_baselines_and_held_out_tasks_are_runs_of_their_own():
    study = _study(tuned=["adam"], held_out=[{"name": "iris_wide", "dataset": "iris", "hidden": 64}], seeds=[5])
    assert labels(study) == [*COMPARISON_DEFAULTS["optimizers"], "adam_tuned"]
    runs = comparison_runs(study)
    assert ("iris_wide", "adam_tuned", 5) in runs and len(runs) == 3 * 7
    spec = comparison_run_spec(study, "iris_wide", "evolved_prior", "g.json")
    assert spec["model"] == {"kind": "mlp", "hidden": 64} and spec["training"]["batch_size"] == 128


def test_the_schema_defaults_mirror_the_code():
    study = SCHEMA["properties"]["discovery"]["additionalProperties"]["properties"]

    def defaults(block):
        return {key: value["default"] for key, value in block["properties"].items() if "default" in value}

    assert study["tasks"]["items"] == study["comparison"]["properties"]["held_out"]["items"]  # one task schema
    assert defaults(SCHEMA["$defs"]["discovery_task"]) == TASK_DEFAULTS
    assert {key: getattr(Task("digits"), key) for key in TASK_DEFAULTS} == TASK_DEFAULTS
    assert defaults(study["comparison"]) == COMPARISON_DEFAULTS
    settings = DiscoverySettings()
    assert defaults(study["settings"]) == {key: getattr(settings, key) for key in defaults(study["settings"])}
    assert set(study["settings"]["properties"]) == {field.name for field in dataclasses.fields(DiscoverySettings)}


def _runs(test: dict[str, list[float]], val: dict[str, list[float]] | None = None) -> pd.DataFrame:
    val = val or test
    return pd.DataFrame(
        [
            {
                "task": "a",
                "label": label,
                "seed": seed,
                "status": "budget",
                "final_test_acc": value,
                "final_val_acc": val[label][seed],
                "fitness": val[label][seed],
            }
            for label, series in test.items()
            for seed, value in enumerate(series)
        ]
    )


BETTER = [0.90, 0.91, 0.92, 0.93, 0.94, 0.95, 0.96, 0.97]
WORSE = [value - 0.05 for value in BETTER]


def test_each_rule_meets_the_best_default_and_tuned_baseline_picked_on_validation():
    # adam has the higher test accuracy, adamw the higher validation accuracy: adamw is the
    # reference, so the test split that scores the verdict never also picks the reference.
    close = [value + (0.001 if seed % 2 else -0.001) for seed, value in enumerate(BETTER)]  # within delta
    test = {"evolved": BETTER, "adam": WORSE, "adamw": [v - 0.06 for v in BETTER], "adam_tuned": close}
    val = test | {"adam": [0.5] * 8, "adamw": [0.6] * 8}
    rows = task_verdicts(_runs(test, val), "a", ["adam", "adamw"], ["adam_tuned"], margin=0.01, alpha=0.05)
    assert [(row["optimizer"], row["reference"], row["reference_kind"]) for row in rows] == [
        ("evolved", "adamw", "default"),
        ("evolved", "adam_tuned", "tuned"),
    ]
    against_default, against_tuned = rows
    assert against_default["family"] == 2 and against_default["n"] == 8
    assert against_default["verdict"] == "better" and against_default["hl"] == pytest.approx(0.06)
    assert against_tuned["verdict"] == "equivalent within delta" and against_tuned["p_equivalent_holm"] < 0.05
    # No rule among the runs: no verdict.
    assert task_verdicts(_runs({"adam": WORSE}), "a", ["adam"], [], 0.01, 0.05) == []


def test_the_score_table_states_seeds_per_task_and_bolds_only_the_highest_mean():
    runs = _runs({"evolved": BETTER, "adam": WORSE, "adam_tuned": BETTER[:6]})
    lines = score_table(runs, ["evolved", "adam", "adam_tuned"], ["a"], "final_test_acc", overall=False)
    assert lines[0] == "| optimizer | diverged | a (n = 8 seeds) |"
    rows = {line.split(" | ")[0].strip("| "): line for line in lines[2:]}
    assert "**0.9350 ± 0.0245**" in rows["evolved"] and "**" not in rows["adam"]
    assert "adam (tuned)" in rows and "**" not in rows["adam (tuned)"]


def test_a_baseline_whose_runs_diverged_is_picked_as_it_scores_not_by_its_last_good_epoch():
    # adamw's diverged runs keep a high validation accuracy of their last scored epoch, but score 0.
    runs = _runs(
        {"evolved": BETTER, "adam": WORSE, "adamw": BETTER}, {"evolved": BETTER, "adam": WORSE, "adamw": [0.99] * 8}
    )
    runs.loc[(runs["label"] == "adamw") & (runs["seed"] < 5), ["status", "final_test_acc"]] = ["diverged", 0.0]
    rows = task_verdicts(runs, "a", ["adam", "adamw"], [], margin=0.01, alpha=0.05)
    assert [row["reference"] for row in rows] == ["adam"]


def test_a_tasks_default_name_leaves_the_gas_fingerprint_as_it_was():
    from neuroevo.discovery.ga import task_identity

    assert "name" not in task_identity(Task("digits")) and task_identity(Task("digits", name="d2"))["name"] == "d2"
