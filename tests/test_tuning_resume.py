"""A tuning job killed at any point and rerun ends with the trials and best values of an
uninterrupted study: mid-trial (a real kill -9), between trials, between a trial's creation
and its suggestion, and in the middle of a journal write (a torn last record). A journal
that cannot be read is refused naming the file."""

import json
import signal
import subprocess
import sys
import time

import optuna
import pandas as pd
import pytest
from conftest import tool_environment

from neuroevo.config.run_spec import RunSpec
from neuroevo.training.tune import JournalError, tune

SPACE = {"lr": {"distribution": "log_uniform", "low": 0.001, "high": 0.3}}
# Trials of 2 x 30 epochs (no early stopping): a trial killed after its first epoch has ~1 s left to run.
SPEC = json.dumps({"model": {"hidden": 8}, "training": {"batch_size": 16, "max_epochs": 30, "patience": 100}})
TRIALS, STARTUP = 5, 2  # completed trials
TIMING = ["datetime_start", "datetime_complete", "duration"]  # the only columns a kill may change
# Journal operations (optuna.storages.journal JournalOperation) and trial states (TrialState).
CREATE_TRIAL, SET_TRIAL_PARAM, SET_TRIAL_STATE, SET_INTERMEDIATE = 4, 5, 6, 7
COMPLETE, PRUNED = 1, 2


def _tune_in_process(data, journal):
    spec = RunSpec.from_json("digits", "adam", 0, SPEC)  # as the tune command builds it
    result, trials = tune(
        spec, data, SPACE, [1000, 1001], TRIALS, journal, study_seed=0, startup_trials=STARTUP, pruning=True
    )
    return result, trials


def _command(data, folder):
    return [
        sys.executable,
        "-m",
        "neuroevo",
        "tune",
        "--data",
        str(data),
        "--dataset",
        "digits",
        "--optimizer",
        "adam",
        "--spec",
        SPEC,
        "--search-space",
        json.dumps(SPACE),
        "--trials",
        str(TRIALS),
        "--startup-trials",
        str(STARTUP),
        "--study-seed",
        "0",
        "--pruning",
        "on",
        "--storage",
        str(folder / "adam.journal"),
        "--out",
        str(folder / "adam.json"),
        "--trials-out",
        str(folder / "adam.parquet"),
    ]


def _records(journal):
    """The journal's complete records, in order (a torn last line is skipped)."""
    lines = journal.read_bytes().split(b"\n")[:-1] if journal.exists() else []
    return [json.loads(line) for line in lines]


def _same_trials(trials: pd.DataFrame, reference: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(
        trials.drop(columns=TIMING).reset_index(drop=True), reference.drop(columns=TIMING).reset_index(drop=True)
    )


@pytest.fixture(scope="module")
def uninterrupted(digits_data, tmp_path_factory):
    folder = tmp_path_factory.mktemp("uninterrupted")
    result, trials = _tune_in_process(digits_data, folder / "adam.journal")
    assert set(trials["state"]) == {"COMPLETE", "PRUNED"}  # both kinds of trial get replayed
    assert (trials["state"] == "COMPLETE").sum() == TRIALS == result["n_complete"]  # pruned ones do not count
    assert (
        (trials["state"] == "COMPLETE") & (trials["number"] >= 3)
    ).any()  # a trial to kill mid-way, with trials before it
    return folder / "adam.journal", result, trials


# kill -9 (the scheduler, the OOM killer) and Ctrl-C, which Optuna would turn into a failed trial.
@pytest.mark.parametrize("stop", [signal.SIGKILL, signal.SIGINT], ids=["kill -9", "ctrl-c"])
def test_a_tuning_job_killed_mid_trial_reruns_to_the_uninterrupted_study(stop, digits_data, uninterrupted, tmp_path):
    _, reference_result, reference_trials = uninterrupted
    # The study is seeded, so the reference says which trial will run all its epochs: killing
    # it after its first epoch leaves several epochs of margin. (A trial about to be pruned
    # could end between the poll and the signal, and the kill would land between trials.)
    target = int(reference_trials.query("state == 'COMPLETE' and number >= 3")["number"].iloc[0])
    journal = tmp_path / "adam.journal"
    process = subprocess.Popen(
        _command(digits_data, tmp_path),
        env=tool_environment(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        # Ctrl-C reaches the job even when the suite runs in the background, where the shell
        # starts every process with SIGINT ignored (and Python then keeps it ignored).
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 120
    while True:  # kill once the target trial has reported an epoch
        assert process.poll() is None and time.monotonic() < deadline, (
            "the tuning job ended before it could be killed mid-trial"
        )
        if any(r["op_code"] == SET_INTERMEDIATE and r["trial_id"] == target for r in _records(journal)):
            break
        time.sleep(0.005)
    process.send_signal(stop)
    process.wait()
    storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(journal)))
    states = [t.state for t in optuna.load_study(study_name=None, storage=storage).get_trials()]
    assert optuna.trial.TrialState.RUNNING in states and not (tmp_path / "adam.json").exists()  # really cut mid-trial

    subprocess.run(_command(digits_data, tmp_path), env=tool_environment(), check=True, capture_output=True)
    _same_trials(
        pd.read_parquet(tmp_path / "adam.parquet"), reference_trials
    )  # same numbers, parameters, values, states
    assert json.loads((tmp_path / "adam.json").read_text()) == json.loads(json.dumps(reference_result))


def _cut_after(records, predicate, nth):
    """The index just past the `nth` record that satisfies `predicate`."""
    hits = [index for index, record in enumerate(records) if predicate(record)]
    return hits[nth - 1] + 1


CUTS = {
    # A kill after the third trial ended, before the fourth was created.
    "between trials": lambda r: _cut_after(
        r, lambda x: x["op_code"] == SET_TRIAL_STATE and x["state"] in (COMPLETE, PRUNED), 3
    ),
    # A kill after the fifth trial was created, before its learning rate was drawn.
    "trial created": lambda r: _cut_after(r, lambda x: x["op_code"] == CREATE_TRIAL, 5),
    # A kill after the fifth trial's learning rate was drawn, before its first epoch.
    "parameters drawn": lambda r: _cut_after(r, lambda x: x["op_code"] == SET_TRIAL_PARAM, 5),
}


@pytest.mark.parametrize("cut", sorted(CUTS))
def test_a_tuning_job_killed_between_journal_records_reruns_to_the_uninterrupted_study(
    cut, digits_data, uninterrupted, tmp_path
):
    """The journal is all a tuning job leaves behind: cutting the uninterrupted one back to a
    record is what a kill -9 right after writing that record leaves (too brief a moment to
    hit with a real kill)."""
    reference_journal, reference_result, reference_trials = uninterrupted
    lines = reference_journal.read_bytes().splitlines(keepends=True)
    keep = CUTS[cut](_records(reference_journal))
    journal = tmp_path / "adam.journal"
    journal.write_bytes(b"".join(lines[:keep]))

    result, trials = _tune_in_process(digits_data, journal)
    _same_trials(trials, reference_trials)
    assert result == reference_result


def test_a_journal_torn_mid_record_is_cut_back_with_a_backup_and_resumed(digits_data, uninterrupted, tmp_path):
    """A kill in the middle of a write leaves a last line without its newline; today's rerun
    appended onto it and stranded the study (`Expecting ',' delimiter`)."""
    reference_journal, reference_result, reference_trials = uninterrupted
    lines = reference_journal.read_bytes().splitlines(keepends=True)
    keep = CUTS["between trials"](_records(reference_journal))
    torn = b"".join(lines[:keep]) + lines[keep][: len(lines[keep]) // 2]
    journal = tmp_path / "adam.journal"
    journal.write_bytes(torn)

    result, trials = _tune_in_process(digits_data, journal)
    _same_trials(trials, reference_trials)
    assert result == reference_result
    assert (tmp_path / "adam.journal.bak").read_bytes() == torn  # the original is kept


def test_an_unreadable_journal_is_refused_naming_the_file_and_what_to_do(digits_data, uninterrupted, tmp_path):
    reference_journal, _, _ = uninterrupted
    lines = reference_journal.read_bytes().splitlines(keepends=True)
    journal = tmp_path / "adam.journal"
    journal.write_bytes(
        b"".join(lines[:5]) + b'{"op_code": 4, "worker_id"' + b"".join(lines[5:])
    )  # a garbled record inside
    before = journal.read_bytes()
    with pytest.raises(JournalError) as error:
        _tune_in_process(digits_data, journal)
    message = str(error.value)
    assert (
        str(journal) in message and "line 6" in message and "head -n 5" in message and "move the file aside" in message
    )
    assert journal.read_bytes() == before  # left as it was, for the user to decide


def test_a_lock_file_left_by_a_killed_job_does_not_stall_the_rerun(digits_data, uninterrupted, tmp_path):
    """A kill during a write leaves Optuna's lock file too; Optuna would wait 30 s to break it."""
    reference_journal, reference_result, _ = uninterrupted
    lines = reference_journal.read_bytes().splitlines(keepends=True)
    journal = tmp_path / "adam.journal"
    journal.write_bytes(b"".join(lines[: CUTS["between trials"](_records(reference_journal))]))
    (tmp_path / "adam.journal.lock").symlink_to(journal)
    start = time.monotonic()
    result, _ = _tune_in_process(digits_data, journal)
    assert result == reference_result and time.monotonic() - start < 20
    assert not (tmp_path / "adam.journal.lock").exists()
