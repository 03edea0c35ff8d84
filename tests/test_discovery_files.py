"""The discovery study's files: an unreadable checkpoint (torn, or valid JSON that is not a
study's state) is set aside, never deleted, and the study starts over to the same result; a
genome file that cannot be run is refused naming the file and the key."""

import json
import logging

import pytest

from neuroevo.config.run_spec import RunSpec, TrainingSettings
from neuroevo.data.prepare import load_prepared
from neuroevo.discovery.ga import DiscoverySettings, discover
from neuroevo.discovery.tasks import Task
from neuroevo.training.loop import train
from neuroevo.update_rules import PRIOR_GENOME
from neuroevo.update_rules.genome import GenomeError

SETTINGS = dict(population=4, generations=2, tournament_size=2, max_steps=30, seeds=[0])
TASKS = [Task("digits", hidden=8, batch_size=64)]


class Interrupted(Exception):
    pass


@pytest.fixture(scope="module")
def digits(digits_data):
    return {"digits": load_prepared(digits_data)}


@pytest.fixture(scope="module")
def studies(digits, tmp_path_factory):
    """An uninterrupted study's end state, and the checkpoint a study stopped in generation 1
    (after one of its genomes) leaves."""
    folder = tmp_path_factory.mktemp("studies")
    whole = discover(TASKS, digits, DiscoverySettings(**SETTINGS), folder / "whole.json")
    evaluated = []

    def stop_in_generation_1(member):
        evaluated.append(member)
        if len(evaluated) == 5:
            raise Interrupted

    with pytest.raises(Interrupted):
        discover(
            TASKS, digits, DiscoverySettings(**SETTINGS), folder / "stopped.json", on_evaluated=stop_in_generation_1
        )
    return whole, (folder / "stopped.json").read_text()


def _wrong_fitness(state):
    state["population"][1]["fitness"] = "0.61"


def _no_rng(state):
    del state["rng"]


def _bad_genome(state):
    state["population"][0]["genome"]["lr_log10"] = "-3"


def _lost_history(state):
    state["history"] = []


def _population_not_a_list(state):
    state["population"] = {"0": state["population"][0]}


CORRUPTIONS = {
    "torn": None,
    "fitness a string": _wrong_fitness,
    "rng missing": _no_rng,
    "genome gene a string": _bad_genome,
    "history lost": _lost_history,
    "population not a list": _population_not_a_list,
}


@pytest.mark.parametrize("corruption", list(CORRUPTIONS))
def test_an_unreadable_discovery_checkpoint_is_set_aside_and_the_study_restarts(
    corruption, digits, studies, tmp_path, caplog
):
    whole, stopped = studies
    if CORRUPTIONS[corruption] is None:
        content = stopped[: len(stopped) // 2]  # cut mid-file
    else:
        state = json.loads(stopped)
        CORRUPTIONS[corruption](state)
        content = json.dumps(state)
    checkpoint = tmp_path / "checkpoint.json"
    checkpoint.write_text(content)

    with caplog.at_level(logging.WARNING, logger="neuroevo"):
        state = discover(TASKS, digits, DiscoverySettings(**SETTINGS), checkpoint)
    assert state["best"] == whole["best"] and state["history"] == whole["history"]
    kept = list(tmp_path.glob("checkpoint.json.unreadable-*"))
    assert len(kept) == 1 and kept[0].read_text() == content  # set aside as it was, never deleted
    assert str(checkpoint) in caplog.text and str(kept[0]) in caplog.text and "starts over" in caplog.text


def test_a_second_unreadable_checkpoint_does_not_replace_the_first_set_aside(digits, tmp_path):
    checkpoint = tmp_path / "checkpoint.json"
    settings = DiscoverySettings(**SETTINGS | {"generations": 1, "population": 2, "max_steps": 5})
    for content in ("{", "[1"):
        checkpoint.write_text(content)
        discover(TASKS, digits, settings, checkpoint)
    assert sorted(path.read_text() for path in tmp_path.glob("checkpoint.json.unreadable-*")) == ["[1", "{"]


GOOD = json.dumps(PRIOR_GENOME.to_dict(), indent=2)


@pytest.mark.parametrize(
    "content, key",
    [
        (GOOD[: len(GOOD) // 2], "not a complete genome JSON"),  # torn: today "Unterminated string ..."
        (GOOD.replace('"beta1": 0.8553020861538518', '"beta1": "0.85"'), "beta1: must be a number"),
        (GOOD.replace('"use_m": true', '"use_m": "yes"'), "use_m: must be true or false"),
        (GOOD.replace('"warmup_steps": 100', '"warmup_steps": 1.5'), "warmup_steps: must be a whole number"),
        (GOOD.replace('"lr_log10": -2.9198932483267144', '"lr_log10": 400'), "lr_log10: must be in"),
        (GOOD.replace('"eps_log10": -8.26423960220415', '"eps_log10": 5'), "eps_log10: must be in [-30.0, 0.0]"),
        (
            GOOD.replace('"alphas": [\n    0.41205802174892475', '"alphas": [\n    NaN'),
            "alphas[0]: must be a finite number",
        ),
        ("[1, 2]", "one JSON object of genome fields"),
    ],
)
def test_a_genome_file_that_cannot_be_run_is_refused_naming_the_file_and_key(content, key, iris_data, tmp_path):
    genome_file = tmp_path / "genome.json"
    genome_file.write_text(content)
    spec = RunSpec(
        "iris",
        "evolved",
        0,
        hidden=8,
        training=TrainingSettings(max_epochs=1),
        hyperparameters={"genome_file": str(genome_file)},
    )
    with pytest.raises(GenomeError) as error:
        train(spec, iris_data)
    assert str(error.value).startswith(f"{genome_file}: ") and key in str(error.value)
