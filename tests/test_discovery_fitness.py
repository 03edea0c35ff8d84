"""The fitness of an update rule: a good rule scores above a useless one, the same seed
scores the same, and a diverging rule is penalized instead of crashing the study."""

import numpy as np
import pytest

from neuroevo.data.prepare import PreparedData, load_prepared
from neuroevo.discovery.fitness import DIVERGED_FITNESS, evaluate_on_task
from neuroevo.discovery.tasks import Task
from neuroevo.models.cnn import image_shape
from neuroevo.update_rules import PRIOR_GENOME, Genome

ADAM_LIKE = Genome(term_types=[3], alphas=[1.0], lr_log10=-2.5)


@pytest.fixture(scope="module")
def digits(digits_data):
    return load_prepared(digits_data)


def test_a_good_rule_scores_above_a_useless_one_and_the_same_seed_scores_the_same(digits):
    task = Task("digits", hidden=16, batch_size=64)
    good = evaluate_on_task(ADAM_LIKE, task, digits, seed=0, max_steps=150)
    useless = evaluate_on_task(Genome(term_types=[0], alphas=[1.0], lr_log10=-6), task, digits, seed=0, max_steps=150)
    assert good.val_acc > 0.85 and good.fitness > useless.fitness + 0.5
    assert good.fitness == pytest.approx(good.val_acc + 0.05 * max(0, 1 - good.final_loss))
    assert evaluate_on_task(ADAM_LIKE, task, digits, seed=0, max_steps=150) == good


def test_a_diverging_rule_is_stopped_and_penalized_not_fatal(digits):
    result = evaluate_on_task(
        Genome(term_types=[0], alphas=[1.0], lr_log10=1.5), Task("digits"), digits, seed=0, max_steps=150
    )
    assert result.diverged and result.fitness == DIVERGED_FITNESS and result.steps < 150


def _images(channels, side, n=256, classes=3):
    rng = np.random.default_rng(0)
    x = {
        split: rng.standard_normal((n, channels * side * side)).astype(np.float32) for split in ("train", "val", "test")
    }
    y = {split: rng.integers(0, classes, n) for split in ("train", "val", "test")}
    return PreparedData("synthetic", classes, x, y)


@pytest.mark.parametrize("channels, side, augment", [(1, 14, False), (3, 32, True)])
def test_cnn_tasks_train_on_square_images_with_optional_augmentation(channels, side, augment):
    data = _images(channels, side)
    assert image_shape(data.n_features) == (channels, side, side)
    result = evaluate_on_task(PRIOR_GENOME, Task("synthetic", model="cnn", batch_size=32, augment=augment), data, 0, 10)
    assert not result.diverged and result.steps == 10
