"""Defaults written once (neuroevo.config.defaults) equal the schemas' defaults, and the code
outside the workflow that needs them (the `data` command, prepare(), the alignment
measurement and its settings) takes them from there: a split or a measurement made by hand
is the pipeline's."""

import inspect

from neuroevo.cli import build_parser
from neuroevo.config.checks import config_schema
from neuroevo.config.defaults import ALIGNMENT_SIGMA, SPLIT_FRACTION
from neuroevo.config.studies import alignment_settings
from neuroevo.config.workflow import study_schema


def test_split_fraction_is_the_config_schemas_default_for_both_shares():
    data = config_schema()["properties"]["data"]["properties"]
    assert data["val_fraction"]["default"] == SPLIT_FRACTION
    assert data["test_fraction"]["default"] == SPLIT_FRACTION


def test_a_split_made_by_hand_uses_the_pipelines_fractions():
    from neuroevo.data.prepare import prepare

    parameters = inspect.signature(prepare).parameters
    assert parameters["val_fraction"].default == SPLIT_FRACTION
    assert parameters["test_fraction"].default == SPLIT_FRACTION
    args = build_parser().parse_args(["data", "--dataset", "iris", "--out", "iris.npz"])
    assert (args.val_fraction, args.test_fraction) == (SPLIT_FRACTION, SPLIT_FRACTION)


def test_alignment_sigma_is_the_study_schemas_default_everywhere():
    from neuroevo.analysis.gradient_alignment import measure

    assert study_schema()["properties"]["alignment"]["properties"]["sigma"]["default"] == ALIGNMENT_SIGMA
    assert inspect.signature(measure).parameters["sigma"].default == ALIGNMENT_SIGMA
    study = {"alignment": {"hidden": [8], "pairs": [1]}, "seeds": 2}
    assert alignment_settings(study, {})["sigma"] == ALIGNMENT_SIGMA
