"""How long a waiting job will wait: the work ahead of it, at the pace jobs have been going.

A step costs about the same per pixel at one size, so a job's work is its steps times its output
pixels. A running job that has sent a frame is timed by its own recent pace (seconds per step over
its last epochs, smoothed: its first epoch carries the set-up, so it counts only until a second
one ends); a job not yet started is timed by the median pace (seconds per step-pixel) of the last
RECENT jobs, or by the running jobs' pace before any job has ended. No pace at all (the first job
of a fresh process): no estimate.
"""

from __future__ import annotations

import statistics
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

RECENT = 8


@dataclass
class Pace:
    """A running job's seconds per step: its first epoch's until a later epoch ends (the first
    carries the set-up), then a running mean of the later ones, the newest weighing half."""

    steps: int = 0
    seconds: float = 0.0  # since the job's first step, at `steps`
    per_step: float | None = None
    settled: bool = False  # an epoch after the first has been timed

    def frame(self, steps: int, seconds: float) -> None:
        if steps <= self.steps or seconds <= self.seconds:
            return
        latest = (seconds - self.seconds) / (steps - self.steps)
        self.per_step = (self.per_step + latest) / 2 if self.settled and self.per_step else latest
        self.settled = self.steps > 0
        self.steps, self.seconds = steps, seconds


class Timed(Protocol):
    total_steps: int
    pixels: int
    pace: Pace


class WaitEstimate:
    def __init__(self) -> None:
        self._paces: deque[float] = deque(maxlen=RECENT)

    def job_ended(self, job: Timed) -> None:
        pace = _own_pace(job)
        if pace is not None:
            self._paces.append(pace)

    def wait_s(self, running: Iterable[Timed], ahead: Iterable[Timed], slots: int) -> float | None:
        """Seconds until a job behind `ahead` starts, `running` taking the `slots`; None without a
        pace to go by."""
        running, ahead = list(running), list(ahead)
        pace = self._pace(running)
        if pace is None:
            return None
        left = sum(_remaining_s(job, pace) for job in running)
        queued = sum(job.total_steps * job.pixels * pace for job in ahead)
        return round((left + queued) / max(1, slots), 1)

    def _pace(self, running: list[Timed]) -> float | None:
        if self._paces:
            return statistics.median(self._paces)
        measured = [pace for pace in map(_own_pace, running) if pace is not None]
        return statistics.median(measured) if measured else None


def _own_pace(job: Timed) -> float | None:
    """Seconds per step-pixel of the job's own recent steps."""
    per_step = job.pace.per_step
    return per_step / job.pixels if per_step and job.pixels > 0 else None


def _remaining_s(job: Timed, pace: float) -> float:
    own = _own_pace(job)
    return (job.total_steps - job.pace.steps) * job.pixels * (own if own is not None else pace)
