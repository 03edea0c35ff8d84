"""The GA over update rules: an interrupted study resumes from its checkpoint and ends with
the same best genome as an uninterrupted one; bad settings are refused by name."""

import json

import pytest

from neuroevo.data.prepare import load_prepared
from neuroevo.discovery.ga import DiscoverySettings, discover
from neuroevo.discovery.tasks import Task

SETTINGS = dict(population=4, generations=3, tournament_size=2, max_steps=40, seeds=[0])


class Interrupted(Exception):
    pass


@pytest.fixture(scope="module")
def digits(digits_data):
    return {"digits": load_prepared(digits_data)}


def test_a_study_interrupted_mid_generation_resumes_to_the_uninterrupted_best_genome(digits, tmp_path):
    tasks = [Task("digits", hidden=8, batch_size=64)]
    uninterrupted = discover(tasks, digits, DiscoverySettings(**SETTINGS), tmp_path / "whole.json")

    evaluated = []

    def stop_after_six(member):
        evaluated.append(member)
        if len(evaluated) == 6:  # in generation 1, after two of its genomes
            raise Interrupted

    checkpoint = tmp_path / "interrupted.json"
    with pytest.raises(Interrupted):
        discover(tasks, digits, DiscoverySettings(**SETTINGS), checkpoint, on_evaluated=stop_after_six)
    saved = json.loads(checkpoint.read_text())
    assert saved["generation"] == 1 and sum(m["fitness"] is not None for m in saved["population"]) >= 2

    evaluated_again = []
    resumed = discover(tasks, digits, DiscoverySettings(**SETTINGS), checkpoint, on_evaluated=evaluated_again.append)
    assert resumed["best"] == uninterrupted["best"]
    assert resumed["history"] == uninterrupted["history"]
    assert len(evaluated_again) < 4 * 3 - 1  # the finished evaluations were not redone


def test_best_so_far_never_decreases_and_elites_keep_their_fitness(digits, tmp_path):
    state = discover(
        [Task("digits", hidden=8, batch_size=64)], digits, DiscoverySettings(**SETTINGS), tmp_path / "c.json"
    )
    best = [row["best_so_far"] for row in state["history"]]
    assert best == sorted(best) and len(best) == 3


@pytest.mark.parametrize(
    "change, field",
    [({"tournament_size": 5}, "tournament_size"), ({"elites": 4}, "elites"), ({"population": 1}, "population")],
)
def test_bad_settings_are_refused_naming_the_field(change, field):
    with pytest.raises(ValueError, match=f"^{field}"):
        DiscoverySettings(**(SETTINGS | change))


def test_kill_9_mid_generation_then_rerun_gives_the_uninterrupted_best_genome(digits_data, tmp_path):
    import signal
    import subprocess
    import sys
    import time

    from conftest import tool_environment

    study = {"tasks": [{"dataset": "digits", "hidden": 8, "batch_size": 64}], "settings": SETTINGS | {"max_steps": 150}}

    def command(out_dir):
        return [
            sys.executable,
            "-m",
            "neuroevo",
            "discover",
            "--study-json",
            json.dumps(study),
            "--data",
            f"digits={digits_data}",
            "--out-dir",
            str(out_dir),
        ]

    env = tool_environment()
    subprocess.run(command(tmp_path / "whole"), env=env, check=True, capture_output=True)

    killed = tmp_path / "killed"
    process = subprocess.Popen(command(killed), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    checkpoint, deadline = killed / "checkpoint.json", time.monotonic() + 120
    while time.monotonic() < deadline:
        assert process.poll() is None, "the study ended before it could be killed mid-generation"
        try:
            state = json.loads(checkpoint.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            state = None
        if state and state["generation"] == 1 and any(m["fitness"] is not None for m in state["population"][1:]):
            break
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert not (killed / "best_genome.json").exists()

    subprocess.run(command(killed), env=env, check=True, capture_output=True)
    assert json.loads((killed / "best_genome.json").read_text()) == json.loads(
        (tmp_path / "whole" / "best_genome.json").read_text()
    )
    assert (killed / "fitness.png").stat().st_size > 0
