"""The names the config, the schema and the code share, written once."""

# The datasets neuroevo.data.datasets loads (a test checks the two agree).
DATASET_NAMES = ("iris", "digits", "mnist", "mnist14", "fashion_mnist", "fashion_mnist14", "cifar10")
# Those whose examples are square images, which the CNN needs (Iris is 4 measurements).
IMAGE_DATASETS = ("digits", "mnist", "mnist14", "fashion_mnist", "fashion_mnist14", "cifar10")

# The optimizers' modules (neuroevo.optimizers' registry), in the schema's order, which also
# gives each its colour in every figure.
OPTIMIZER_NAMES = (
    "sgd",
    "adam",
    "rmsprop",
    "adamw",
    "evolved_prior",
    "evolved",
    "cmaes",
    "layerwise_cmaes",
    "es",
    "deep_ga",
    "pgpe",
)
