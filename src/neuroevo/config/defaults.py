"""Defaults that code outside the schema needs as well, written once: a hand-made split or an
alignment measurement gets what the pipeline would give it. tests/test_defaults.py checks
that each equals its schema default (the schema is what the workflow fills configs from).
"""

# data.val_fraction and data.test_fraction of config.schema.yaml: the `data` command's and
# prepare()'s defaults, so that a split made by hand is the pipeline's split.
SPLIT_FRACTION = 0.2

# alignment.sigma of study.schema.yaml: the perturbation scale of the ES estimates whose
# cosine similarity to the true gradient a study's `alignment` block measures.
ALIGNMENT_SIGMA = 0.02

# The report's tests across datasets: rank tests (Friedman, Nemenyi) only over at least this
# many datasets (Demsar 2006: with fewer no pair can be told apart), performance profiles
# over at least this many datasets with a FLOP budget.
MIN_RANK_DATASETS = 5
MIN_PROFILE_DATASETS = 3
