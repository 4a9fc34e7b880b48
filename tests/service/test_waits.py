"""The wait estimate's arithmetic (service/waits.py); tests/service/test_service_queue.py checks it
against a real queue."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from service.waits import Pace, WaitEstimate


@dataclass
class FakeJob:
    total_steps: int
    pixels: int
    pace: Pace = field(default_factory=Pace)


def test_the_first_epoch_counts_only_until_a_later_one_is_timed():
    pace = Pace()
    pace.frame(10, 5.0)  # the first epoch: 0.5 s a step, set-up included
    assert pace.per_step == pytest.approx(0.5)
    pace.frame(20, 6.0)  # then 0.1 s a step
    assert pace.per_step == pytest.approx(0.1)
    pace.frame(30, 7.4)  # 0.14: the mean with the newest weighing half
    assert pace.per_step == pytest.approx(0.12)


def test_the_wait_is_the_work_ahead_at_the_running_jobs_pace_then_the_recent_one():
    waits = WaitEstimate()
    running = FakeJob(total_steps=100, pixels=1000)
    ahead = FakeJob(total_steps=50, pixels=4000)
    assert waits.wait_s([running], [ahead], slots=1) is None  # no pace yet
    running.pace.frame(10, 2.0)
    running.pace.frame(20, 3.0)  # 0.1 s a step: 80 steps left are 8 s
    assert waits.wait_s([running], [], slots=1) == pytest.approx(8.0)
    # The job between runs at the same pace per step-pixel: 50 steps at 4x the pixels, 20 s.
    assert waits.wait_s([running], [ahead], slots=1) == pytest.approx(28.0)
    assert waits.wait_s([running], [ahead], slots=2) == pytest.approx(14.0)

    waits.job_ended(running)  # 1e-4 s per step-pixel, now the recent pace for jobs not started
    fresh = FakeJob(total_steps=100, pixels=1000)
    assert waits.wait_s([fresh], [ahead], slots=1) == pytest.approx(10.0 + 20.0)
