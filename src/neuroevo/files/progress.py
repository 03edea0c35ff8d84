"""A job's heartbeat in its log: so that `tail -f` on a job log (or a SLURM log) shows movement
during a long run, a block of runs or the discovery GA, at least one line every `interval`
seconds while the work ticks, and never more.

A job's work is `total` units (the runs of a block, the generations of a GA); the loop inside a
unit ticks with what it is doing and how far through the unit it is, from which the line's
estimate of the time left is taken: from the job's start at the first line, then from the
progress made since the first line (a resumed job's restored runs, ended trials or finished
generations count as done but took no time). A run's share done is that of its budget, so
early stopping can end it sooner.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

log = logging.getLogger("neuroevo")
INTERVAL_SECONDS = 30.0


def duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    return f"{minutes} min {seconds:02d} s" if minutes else f"{seconds} s"


class Progress:
    def __init__(
        self, total: int = 1, unit: str = "run", interval: float = INTERVAL_SECONDS, clock: Callable = time.monotonic
    ):
        self.total, self.unit, self.interval, self.clock = total, unit, interval, clock
        self.start = self.last = clock()
        self.index, self.label = 0, ""
        self.first: tuple[float, float] | None = None  # (time, share done) at the first line

    def begin(self, index: int, label: str = "") -> None:
        """Unit `index` (0-based) of `total` starts; `label` says which (a seed)."""
        self.index, self.label = index, label

    def tick(self, detail: Callable[[], tuple[str, float]]) -> bool:
        """Logs a line if `interval` seconds have passed since the last one; `detail()` (only
        called then) gives what the unit is doing and the fraction of it done (0 to 1)."""
        now = self.clock()
        if now - self.last < self.interval:
            return False
        self.last = now
        text, fraction = detail()
        done = min((self.index + min(max(fraction, 0.0), 1.0)) / self.total, 1.0)
        elapsed = now - self.start
        since, done_then = self.first or (self.start, 0.0)
        self.first = self.first or (now, done)
        rate = (done - done_then) / (now - since) if now > since else 0.0
        left = f", about {duration((1 - done) / rate)} left" if rate > 0 else ""
        where = f"{self.unit} {self.index + 1} of {self.total}" + (f" ({self.label})" if self.label else "")
        log.info("progress: %s: %s; %s elapsed%s", where, text, duration(elapsed), left)
        return True
