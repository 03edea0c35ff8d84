"""The optimizer-discovery write-up's fitness of a finished training run (section 3.3):

    fitness = val_accuracy + 0.05 * max(0, 1 - mean training loss of the last 50 steps)

shared by the discovery GA (neuroevo.discovery.fitness) and the training loop, whose
summaries score the last model the same way; a diverged run scores DIVERGED_FITNESS.
"""

DIVERGED_FITNESS = 0.0  # below any trained model's (val accuracy >= 0 plus a bonus >= 0)
LAST_STEPS = 50
EXPLODE_FACTOR = 10.0  # a loss above this multiple of the first loss is divergence (also in training runs)


def task_fitness(val_acc: float, final_loss: float) -> float:
    """The write-up's task-level fitness from the validation accuracy after training and
    the mean training loss of the last LAST_STEPS steps."""
    return val_acc + 0.05 * max(0.0, 1.0 - final_loss)
