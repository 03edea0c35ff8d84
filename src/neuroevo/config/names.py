"""The names the config, the schema and the code share, written once."""

# The datasets neuroevo.data.datasets loads (a test checks the two agree).
DATASET_NAMES = ("iris", "digits", "mnist", "mnist14", "fashion_mnist", "fashion_mnist14", "cifar10")
