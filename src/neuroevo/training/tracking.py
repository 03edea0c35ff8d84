"""Optional experiment tracking of training runs (the prior study logged to Weights & Biases).

`tracking: wandb` logs each run's per-epoch history rows and its summary. wandb is an
optional extra (pip install 'neuroevo[tracking]'), imported only when asked for; its API key
stays in wandb's own settings (WANDB_API_KEY or ~/.netrc) and is never passed, logged or
written here. WANDB_MODE=offline records runs locally without an account.
"""

from __future__ import annotations

import numbers
from pathlib import Path

TRACKERS = ("none", "wandb")


class Tracker:
    """on_epoch(row) for each history row, finish(summary) once."""

    def on_epoch(self, row: dict) -> None:
        pass

    def finish(self, summary: dict) -> None:
        pass


class WandbTracker(Tracker):
    def __init__(self, project: str, name: str, group: str, config: dict, directory: str | Path):
        try:
            import wandb
        except ImportError:
            raise RuntimeError(
                "tracking: wandb needs the wandb package: pip install 'neuroevo[tracking]' (or set tracking: none)"
            ) from None
        Path(directory).mkdir(parents=True, exist_ok=True)
        self.run = wandb.init(
            project=project, name=name, group=group, config=config, dir=str(directory), reinit="finish_previous"
        )

    def on_epoch(self, row: dict) -> None:
        self.run.log(_numbers(row), step=int(row["epoch"]))

    def finish(self, summary: dict) -> None:
        self.run.summary.update(_numbers(summary) | {"status": summary["status"]})
        self.run.finish()


def _numbers(row: dict) -> dict:
    """The numeric entries (wandb charts numbers; nested settings go into the run's config)."""
    return {
        key: value for key, value in row.items() if isinstance(value, numbers.Number) and not isinstance(value, bool)
    }


def make_tracker(kind: str, project: str, name: str, group: str, config: dict, directory: str | Path) -> Tracker:
    if kind not in TRACKERS:
        raise ValueError(f"tracking: unknown tracker {kind!r}; known: {', '.join(TRACKERS)}")
    return WandbTracker(project, name, group, config, directory) if kind == "wandb" else Tracker()
