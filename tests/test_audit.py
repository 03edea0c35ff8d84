"""The prior-work audit's verdicts: a claim is confirmed or refuted only by a test that could
reach significance and did, a stand-in dataset never answers for another's numbers, missing
runs make a claim "not run", and the claims file is read strictly."""

import math
import re

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from conftest import REPOSITORY

from neuroevo.analysis.audit import (
    CONFIRMED,
    INCONCLUSIVE,
    NOT_RUN,
    REFUTED,
    UNTESTABLE,
    ClaimError,
    Evidence,
    as_published,
    audit,
    check_claims,
    double_softmax_bound,
)
from neuroevo.report.audit_section import audit_lines

RNG = np.random.default_rng(0)


def _runs(values: dict[tuple[str, str], list[float]], metric: str = "test_acc") -> pd.DataFrame:
    return pd.DataFrame(
        [
            {"dataset": dataset, "optimizer": optimizer, "seed": seed, metric: value}
            for (dataset, optimizer), series in values.items()
            for seed, value in enumerate(series)
        ]
    )


def _claim(kind, **fields):
    return {"id": f"x.{kind}", "write_up": "001", "claim": "a claim", "kind": kind, **fields}


def _verdict(claim, evidence):
    return audit([claim], evidence).iloc[0]


NEAR = list(0.90 + RNG.normal(0, 0.002, 10))  # about 0.90, tightly


@pytest.mark.parametrize(
    "values, verdict",
    [(NEAR, CONFIRMED), ([value - 0.1 for value in NEAR], REFUTED), (NEAR[:3], INCONCLUSIVE)],
)
def test_a_number_is_confirmed_within_its_margin_refuted_beyond_it_and_three_seeds_decide_nothing(values, verdict):
    evidence = Evidence(runs=_runs({("iris", "adam"): values}))
    claim = _claim("value", select={"dataset": "iris", "optimizer": "adam"}, metric="test_acc", value=0.9, margin=0.02)
    row = _verdict(claim, evidence)
    assert row["verdict"] == verdict and row["n"] == len(values) and row["theirs"] == "0.9"


ABOVE = [0.90, 0.91, 0.92, 0.93, 0.94, 0.95, 0.96, 0.97]
BELOW = [value - 0.05 for value in ABOVE]


@pytest.mark.parametrize(
    "mine, other, seeds, verdict",
    [
        (ABOVE, BELOW, 8, CONFIRMED),
        (BELOW, ABOVE, 8, REFUTED),
        (ABOVE, BELOW, 5, INCONCLUSIVE),  # 5 pairs: a one-sided test cannot reach 0.05 over 2 comparisons
    ],
)
def test_an_ordering_needs_a_test_that_can_decide_it(mine, other, seeds, verdict):
    evidence = Evidence(runs=_runs({("d", "a"): mine[:seeds], ("d", "b"): other[:seeds], ("d", "c"): other[:seeds]}))
    claim = _claim(
        "better",
        select={"dataset": "d", "optimizer": "a"},
        against=[{"dataset": "d", "optimizer": "b"}, {"dataset": "d", "optimizer": "c"}],
        metric="test_acc",
    )
    row = _verdict(claim, evidence)
    assert row["verdict"] == verdict
    if verdict == INCONCLUSIVE:
        assert "the smallest Holm-corrected p these pairs can reach" in row["reason"]


def test_not_worse_and_not_better_use_the_margin():
    close = [value + (0.001 if seed % 2 else -0.001) for seed, value in enumerate(ABOVE)]
    evidence = Evidence(runs=_runs({("d", "a"): close, ("d", "b"): ABOVE, ("d", "low"): BELOW}))
    select, against = {"dataset": "d", "optimizer": "a"}, [{"dataset": "d", "optimizer": "b"}]
    assert _verdict(_claim("not_worse", select=select, against=against, metric="test_acc"), evidence)["verdict"] == (
        CONFIRMED
    )
    assert _verdict(_claim("not_better", select=select, against=against, metric="test_acc"), evidence)["verdict"] == (
        CONFIRMED
    )
    # Above "low" by 0.05: not "not better" (refuted), and "not worse" holds.
    low = [{"dataset": "d", "optimizer": "low"}]
    assert _verdict(_claim("not_better", select=select, against=low, metric="test_acc"), evidence)["verdict"] == REFUTED


def test_the_lowest_spread_and_a_growing_cost_ratio():
    steady, noisy = list(0.9 + RNG.normal(0, 0.001, 25)), list(0.9 + RNG.normal(0, 0.05, 25))
    evidence = Evidence(runs=_runs({("d", "a"): steady, ("d", "b"): noisy}))
    claim = _claim(
        "lower_spread",
        select={"dataset": "d", "optimizer": "a"},
        against=[{"dataset": "d", "optimizer": "b"}],
        metric="test_acc",
    )
    assert _verdict(claim, evidence)["verdict"] == CONFIRMED
    seconds = {
        ("small", "cmaes"): list(2 + RNG.random(10)),
        ("small", "adam"): [1.0] * 10,
        ("large", "cmaes"): list(20 + RNG.random(10)),
        ("large", "adam"): [1.0] * 10,
    }
    evidence = Evidence(runs=_runs(seconds, "train_time_s"))
    grows = _claim(
        "grows",
        metric="train_time_s",
        small={
            "select": {"dataset": "small", "optimizer": "cmaes"},
            "ratio_to": {"dataset": "small", "optimizer": "adam"},
        },
        large={
            "select": {"dataset": "large", "optimizer": "cmaes"},
            "ratio_to": {"dataset": "large", "optimizer": "adam"},
        },
    )
    assert _verdict(grows, evidence)["verdict"] == CONFIRMED
    shrinks = grows | {"small": grows["large"], "large": grows["small"]}
    assert _verdict(shrinks, evidence)["verdict"] == REFUTED


def test_a_stand_in_never_answers_for_another_datasets_numbers_but_may_for_an_ordering():
    evidence = Evidence(
        runs=_runs({("fashion_mnist14", "adam"): ABOVE, ("fashion_mnist14", "sgd"): BELOW}),
        stand_ins={"mnist14": "fashion_mnist14"},
    )
    value = _claim("value", select={"dataset": "mnist14", "optimizer": "adam"}, metric="test_acc", value=0.9)
    row = _verdict(value, evidence)
    assert row["verdict"] == NOT_RUN and "needs mnist14's files; fashion_mnist14 stood in" in row["reason"]
    ordering = _claim(
        "better",
        on_stand_in=True,
        select={"dataset": "mnist14", "optimizer": "adam"},
        against=[{"dataset": "mnist14", "optimizer": "sgd"}],
        metric="test_acc",
    )
    row = _verdict(ordering, evidence)
    assert row["verdict"] == CONFIRMED and "(on fashion_mnist14, standing in)" in row["ours"]
    lines = audit_lines(audit([value, ordering], evidence), 0.05, evidence.stand_ins)
    assert "**fashion_mnist14 stands in for mnist14**" in "\n".join(lines)
    assert "Verdicts: confirmed 1, refuted 0, inconclusive 0, untestable as published 0, not run 1." in lines


def test_runs_that_are_not_there_make_a_claim_not_run():
    evidence = Evidence(runs=_runs({("iris", "adam"): ABOVE}))
    study = _claim("better", select={"study": "ga_gamma", "variant": "a"}, against=[], metric="test_acc")
    assert _verdict(study, evidence)["reason"] == "the study ga_gamma is not in this audit"
    assert _verdict(_claim("slope", expected="zero"), evidence)["verdict"] == NOT_RUN


def test_an_alignment_that_falls_as_one_over_root_n_refutes_scaling():
    rows = [
        {"n_parameters": n, "pairs": pairs, "cosine_similarity": math.sqrt(pairs / n) * math.exp(RNG.normal(0, 0.1))}
        for n in (1666, 6634, 26506, 105994)
        for pairs in (1, 4, 16, 64)
        for _ in range(4)
    ]
    row = _verdict(_claim("slope", expected="zero"), Evidence(alignment=pd.DataFrame(rows)))
    slope = float(row["ours"].split("slope of n ")[1].split(",")[0])
    assert row["verdict"] == REFUTED and slope == pytest.approx(-0.5, abs=0.03)


def test_the_double_softmax_floor_is_what_torch_gives_for_a_perfect_prediction_softmaxed_twice():
    for classes in (3, 10):
        perfect = torch.nn.functional.one_hot(torch.tensor([0]), classes).float()  # probabilities of a sure model
        loss = torch.nn.functional.cross_entropy(perfect, torch.tensor([0]))  # applied to them as if logits
        assert double_softmax_bound(classes) == pytest.approx(float(loss))
    assert double_softmax_bound(3) == pytest.approx(0.551, abs=5e-4)
    assert double_softmax_bound(10) == pytest.approx(1.461, abs=5e-4)
    claim = _claim("loss_bound", classes=3, losses=[0.62, 0.71], select={"dataset": "iris", "optimizer": "adam"})
    row = _verdict(claim, Evidence(runs=_runs({("iris", "adam"): [0.05] * 3}, "test_loss")))
    assert (
        row["verdict"] == UNTESTABLE and "all above it" in row["reason"] and "ours: adam on iris: 0.0500" in row["ours"]
    )


def test_three_seeds_as_published_cannot_reach_significance():
    text = as_published({"seeds": 3})
    assert text.startswith("untestable as published") and "p = 0.25" in text and "below 0.1" in text


@pytest.mark.parametrize(
    "claim, message",
    [
        ({"id": "a", "write_up": "001", "claim": "c", "kind": "guess"}, "a.kind: unknown kind 'guess'"),
        ({"id": "a", "write_up": "001", "claim": "c", "kind": "note", "vale": 1}, "a: unknown key(s) vale"),
        ({"write_up": "001", "claim": "c", "kind": "note"}, "claims[0]: a claim needs id"),
    ],
)
def test_a_bad_claim_is_refused_naming_it(claim, message):
    with pytest.raises(ClaimError, match=re.escape(message)):
        check_claims([claim])


def test_the_shipped_claims_file_reads_and_covers_every_write_up():
    claims = yaml.safe_load((REPOSITORY / "config" / "audit" / "prior-work-claims.yaml").read_text())
    check_claims(claims)
    assert {claim["write_up"] for claim in claims} == {"000", "001", "002", "003", "004"}


IRIS_ADAM_BEATS_SGD = _claim(
    "better",
    select={"dataset": "iris", "optimizer": "adam"},
    against=[{"dataset": "iris", "optimizer": "sgd"}],
    metric="test_acc",
)


def test_the_audit_command_reads_the_runs_and_writes_the_section(tmp_path):
    import subprocess
    import sys

    from conftest import tool_environment

    runs = _runs({("iris", "adam"): ABOVE, ("iris", "sgd"): BELOW})
    runs.to_parquet(tmp_path / "runs.parquet", index=False)
    claims = [
        IRIS_ADAM_BEATS_SGD,
        _claim("value", select={"study": "ga_gamma", "variant": "a"}, metric="test_acc", value=0.9) | {"id": "y"},
    ]
    (tmp_path / "claims.yaml").write_text(yaml.safe_dump(claims))
    out = tmp_path / "audit" / "section.md"
    command = [sys.executable, "-m", "neuroevo", "audit", "--claims", str(tmp_path / "claims.yaml")]
    command += ["--runs", str(tmp_path / "runs.parquet"), "--out", str(out)]
    subprocess.run(command, env=tool_environment(), check=True, capture_output=True)
    section = out.read_text()
    assert "## Prior-work audit" in section and "### 001, CMA-ES neuroevolution" in section
    assert "Verdicts: confirmed 1, refuted 0, inconclusive 0, untestable as published 0, not run 1." in section
    assert list(pd.read_parquet(out.with_name("audit.parquet"))["verdict"]) == [CONFIRMED, NOT_RUN]
    # A claims file that is not one is refused by name.
    (tmp_path / "bad.yaml").write_text("claims: {a: 1}\n")
    command[command.index("--claims") + 1] = str(tmp_path / "bad.yaml")
    failed = subprocess.run(command, env=tool_environment(), capture_output=True, text=True)
    assert failed.returncode != 0 and "bad.yaml: expected a YAML list of claims" in failed.stderr


def test_the_audit_target_tests_its_claims_on_the_runs_and_joins_the_report(tmp_path):
    from conftest import TINY_CONFIG, snakemake

    claims = [
        IRIS_ADAM_BEATS_SGD,
        _claim("value", select={"dataset": "mnist14", "optimizer": "adam"}, metric="test_acc", value=0.9) | {"id": "m"},
    ]
    (tmp_path / "claims.yaml").write_text(yaml.safe_dump(claims))
    config = tmp_path / "config.yaml"
    config.write_text(
        TINY_CONFIG.read_text().replace("optimizers: [sgd, adam, cmaes, layerwise_cmaes]", "optimizers: [sgd, adam]")
        + "discovery_enabled: false\naudit: {claims: claims.yaml, stand_ins: {mnist14: digits}}\n"
    )
    snakemake(tmp_path, "--cores", "2", configfile=config)
    table = pd.read_parquet(tmp_path / "results" / "audit" / "audit.parquet")
    assert list(table["id"]) == ["x.better", "m"] and table["n"].iloc[0] == 3
    assert table["verdict"].iloc[1] == NOT_RUN  # no mnist14 runs, and no stand-in was needed
    report = (tmp_path / "results" / "report" / "report.md").read_text()
    assert "## Prior-work audit" in report


def test_a_stand_in_replaces_a_dataset_whose_files_are_missing(tmp_path):
    from conftest import TINY_CONFIG
    from test_workflow import planned_jobs

    config = tmp_path / "config.yaml"
    config.write_text(
        TINY_CONFIG.read_text().replace("datasets: [iris]", "datasets: [mnist14]")
        + "dataset_overrides: {mnist14: {batch_size: 8}}\n"
        + "discovery_enabled: false\naudit: {stand_ins: {mnist14: iris}}\n"
    )
    planned = planned_jobs(tmp_path, configfile=config)
    assert planned["data"] == 1 and planned["train"] == 4  # iris, in MNIST-14's place (no data/MNIST here)
    from conftest import snakemake

    listing = snakemake(tmp_path, "--dry-run", configfile=config).stdout
    assert "resources/data/iris.npz" in listing and "mnist14" not in listing


def test_deep_ga_claims_compare_at_the_generations_every_run_reached():
    # full: 4 epochs of 8 generations; small: many more generations, better early on too.
    rows = []
    for seed in range(8):
        for epoch in range(1, 5):
            rows.append(
                {"variant": "full", "seed": seed, "generation": 8 * epoch, "val_acc": 0.30 + 0.01 * epoch + seed / 1000}
            )
        for generation in range(10, 400, 10):
            rows.append(
                {"variant": "small", "seed": seed, "generation": generation, "val_acc": 0.2 + generation / 1000}
            )
    evidence = Evidence(study_histories={"ga": pd.DataFrame(rows)})
    claim = _claim(
        "better",
        select={"study": "ga", "variant": "full"},
        against=[{"study": "ga", "variant": "small"}],
        metric="val_acc",
        at_generation="common",
    )
    row = _verdict(claim, evidence)
    # At generation 32 (full's last) small's last row is generation 30: 0.23 against full's 0.34.
    assert row["verdict"] == CONFIRMED and "at generation 32" in row["ours"]
    assert _verdict(claim | {"at_generation": 400}, evidence)["verdict"] == REFUTED  # small at 390: 0.59
