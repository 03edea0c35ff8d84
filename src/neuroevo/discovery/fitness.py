"""The fitness of an update rule (write-up section 3.3): per task and seed, train the task's
model for `max_steps` minibatches with GenomeOptimizer, then

    fitness = val_accuracy + 0.05 * max(0, 1 - mean training loss of the last 50 steps)

and the genome's fitness is the mean over tasks and seeds. A run whose loss becomes NaN,
infinite, or explodes (above `explode_factor` times its first loss) stops at once and
scores `DIVERGED_FITNESS`: it never stops the study.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

from neuroevo.data.prepare import PreparedData
from neuroevo.discovery.tasks import Task, build_model
from neuroevo.models.cnn import EVAL_CHUNK, augment
from neuroevo.training.fitness import DIVERGED_FITNESS, EXPLODE_FACTOR, LAST_STEPS, task_fitness
from neuroevo.update_rules import Genome, GenomeOptimizer


@dataclass
class TaskResult:
    fitness: float
    val_acc: float
    final_loss: float
    steps: int
    diverged: bool


def data_on_device(data: PreparedData, device: str) -> PreparedData:
    """The splits as tensors on `device`, moved once per job rather than once per task run."""

    def as_tensors(arrays):
        return {split: torch.as_tensor(array, device=device) for split, array in arrays.items()}

    return PreparedData(data.name, data.n_classes, as_tensors(data.x), as_tensors(data.y))


def evaluate_on_task(
    rule: Genome | Callable[[list[torch.Tensor]], torch.optim.Optimizer],
    task: Task,
    data: PreparedData,
    seed: int,
    max_steps: int,
    explode_factor: float = EXPLODE_FACTOR,
    on_step: Callable[[int], None] | None = None,
) -> TaskResult:
    """Trains with `rule`: a genome (run by GenomeOptimizer with `max_steps` as its horizon), or
    a function that builds an optimizer over the model's parameters (a baseline's, scored on
    the same terms). Runs on the device of `data`'s tensors (see data_on_device); numpy arrays
    run on the CPU. `on_step` sees the number of steps taken after each."""
    torch.manual_seed(seed)  # the model's initial weights
    generator = torch.Generator().manual_seed(seed)  # subsample, order and augmentation: on the CPU
    model, shape = build_model(task, data)
    x_all, y_all = torch.as_tensor(data.x["train"]), torch.as_tensor(data.y["train"])
    device = x_all.device
    model.to(device)
    keep = torch.randperm(len(y_all), generator=generator)[: task.subsample].to(device)
    x, y = x_all[keep].view(-1, *shape), y_all[keep]
    params = list(model.parameters())
    optimizer = GenomeOptimizer(params, rule, total_steps=max_steps) if isinstance(rule, Genome) else rule(params)
    losses: list[float] = []
    step = 0
    while step < max_steps:
        for indices in torch.randperm(len(y), generator=generator).to(device).split(task.batch_size):
            batch = augment(x[indices], generator) if task.augment else x[indices]
            loss = torch.nn.functional.cross_entropy(model(batch), y[indices])
            value = loss.item()
            if not math.isfinite(value) or (losses and value > explode_factor * max(losses[0], 1e-3)):
                return TaskResult(DIVERGED_FITNESS, 0.0, value, step + 1, True)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(value)
            step += 1
            if on_step:
                on_step(step)
            if step == max_steps:
                break
    with torch.no_grad():
        logits = torch.cat(
            [model(chunk) for chunk in torch.as_tensor(data.x["val"]).view(-1, *shape).split(EVAL_CHUNK)]
        )
        val_acc = float((logits.argmax(-1) == torch.as_tensor(data.y["val"])).float().mean())
    final_loss = sum(losses[-LAST_STEPS:]) / len(losses[-LAST_STEPS:])
    if not all(math.isfinite(float(p.detach().sum())) for p in model.parameters()):
        return TaskResult(DIVERGED_FITNESS, 0.0, final_loss, step, True)
    return TaskResult(task_fitness(val_acc, final_loss), val_acc, final_loss, step, False)
