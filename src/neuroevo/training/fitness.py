"""The optimizer-discovery write-up's fitness of a finished training run (section 3.3):

    fitness = val_accuracy + 0.05 * max(0, 1 - mean training loss of the last 50 steps)

shared by the discovery GA (neuroevo.discovery.fitness) and the training loop, whose
summaries score the last model the same way; a diverged run scores DIVERGED_FITNESS.
"""

import math

DIVERGED_FITNESS = 0.0  # below any trained model's (val accuracy >= 0 plus a bonus >= 0)
LAST_STEPS = 50
EXPLODE_FACTOR = 10.0  # a loss above this multiple of the first loss is divergence (also in training runs)


def task_fitness(val_acc: float, final_loss: float) -> float:
    """The write-up's task-level fitness from the validation accuracy after training and
    the mean training loss of the last LAST_STEPS steps."""
    return val_acc + 0.05 * max(0.0, 1.0 - final_loss)


def last_model_fitness(val_acc: float, steps: int, final_loss: float, diverged: bool) -> dict:
    """A training run's last model scored as the write-up's fitness (its summary's fields): its
    validation accuracy plus 0.05 x max(0, 1 - mean loss of the last 50 steps); a diverged
    run scores DIVERGED_FITNESS."""
    return {
        "steps": steps,
        "final_train_loss": final_loss,
        "final_val_acc": val_acc,
        "fitness": DIVERGED_FITNESS if diverged else task_fitness(val_acc, final_loss),
    }


def divergence(history: list[dict]) -> str:
    """Why a training run's evaluated model diverged, or "": its loss on the whole training
    set is not finite or above EXPLODE_FACTOR times the initial model's (minibatch and
    population losses are too noisy to judge by: a population on 4 examples can average 10x)."""
    loss, initial, epoch = history[-1]["train_loss"], history[0]["train_loss"], history[-1]["epoch"]
    if math.isfinite(loss) and loss <= EXPLODE_FACTOR * max(initial, 1e-3):
        return ""
    return (
        f"the model's training loss became {loss:.4g} in epoch {epoch}, more than {EXPLODE_FACTOR:g} x the "
        f"initial {initial:.4g}; stopped, best model so far reported"
    )
