"""One job from the queue to `done`: what it tells whoever follows it, how it is stopped and steered.

Everything here but `Job.emit`, `Job.stop` and the job's `work` runs on the event loop. A job
belongs to no socket: a socket follows it (`Job.attach`) and may go, and the job runs on. It keeps
its newest frame and its last message, so a socket that attaches later (by job id and resume token)
catches up.
"""

from __future__ import annotations

import asyncio
import hmac
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Protocol

from pydantic import BaseModel

from . import metrics
from .outbox import Outbox
from .protocol import Accepted, Done, Error, FrameMessage, Weights
from .waits import Pace

StopReason = Literal["cancelled", "interrupted"]


class StopFlag(Protocol):
    """What stops a running job: a threading.Event, or the engine's StopSignal, which the compiled
    loop reads before every step."""

    def set(self) -> None: ...

    def is_set(self) -> bool: ...


class SteerHandle(Protocol):
    """What changes a running job's loss weights: the engine's Steering."""

    applied: list[tuple[int, dict[str, object]]]  # (steps done, changes) as they took effect

    def steer(self, **changes: object) -> None: ...


@dataclass(eq=False)
class Job:
    """One client's request from the queue to `done`. `work` runs in a worker thread."""

    id: str
    resume_token: str = field(repr=False)
    created_at: datetime
    loop: asyncio.AbstractEventLoop
    work: Callable[["Job"], None]
    position: int = 0
    state: Literal["queued", "running", "ended"] = "queued"
    stop_reason: StopReason | None = None
    stop_flag: StopFlag = field(default_factory=threading.Event, repr=False)
    steering: SteerHandle | None = field(default=None, repr=False)
    client: str = ""  # who asked (an address), for NST_MAX_JOBS_PER_CLIENT
    total_steps: int = 0  # with pixels (of the output) and its pace: the wait estimate
    pixels: int = 0
    pace: Pace = field(default_factory=Pace, repr=False)
    accepted: Accepted | None = field(default=None, repr=False)
    follower: Outbox | None = field(default=None, repr=False)
    newest_frame: str | None = field(default=None, repr=False)
    last_message: str | None = field(default=None, repr=False)
    _storing: bool = field(default=False, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def emit(self, message: BaseModel, droppable: bool = False) -> None:
        """Queue a message for whoever follows the job; safe from any thread, in call order.
        Serialised here, so a frame's JPEG or an inline PNG is encoded off the event loop."""
        if isinstance(message, Error):
            metrics.ERRORS.labels(message.code).inc()
        if isinstance(message, FrameMessage):
            self.pace.frame(message.step, message.elapsed_s)
        kind = ("frame" if isinstance(message, FrameMessage) else
                "last" if isinstance(message, (Done, Error)) else "other")
        self.loop.call_soon_threadsafe(self._deliver, message.model_dump_json(), kind, droppable)

    def _deliver(self, text: str, kind: str, droppable: bool) -> None:
        if kind == "frame":
            self.newest_frame = text
        elif kind == "last":
            self.last_message = text
        if self.follower is not None:
            self.follower.put(text, droppable)

    def attach(self, outbox: Outbox, wait_s: float | None = None) -> None:
        """`outbox` follows the job from now on: `accepted` (with the position and wait now), the
        newest frame, and the last message if the job has ended. A previous follower is told."""
        previous, self.follower = self.follower, outbox
        if previous is not None and previous is not outbox:
            previous.put(Error(code="taken_over", job_id=self.id, message=(
                f"another connection attached to job {self.id}; this one no longer follows it"
            )).model_dump_json())
        if self.accepted is not None:
            outbox.put(self.accepted.model_copy(update={
                "position": self.position, "wait_s": wait_s, "weights": self.weights_now(),
            }).model_dump_json())
        if self.newest_frame is not None:
            outbox.put(self.newest_frame, droppable=self.last_message is None)
        if self.last_message is not None:
            outbox.put(self.last_message)

    def weights_now(self) -> Weights | None:
        """The loss weights and blend the job uses now: as accepted, with each steer applied."""
        if self.accepted is None or self.accepted.weights is None:
            return None
        weights = self.accepted.weights.model_dump()
        for _, changes in list(self.steering.applied if self.steering else ()):
            weights.update(changes)
        return Weights(**weights)

    def detach(self, outbox: Outbox) -> None:
        if self.follower is outbox:
            self.follower = None

    def followed_by(self, outbox: Outbox) -> bool:
        return self.follower is outbox

    def stop(self, reason: StopReason) -> bool:
        """Ask the work to stop; False once it is storing its result, which a stop no longer
        changes (so the status the client is told is the one stored)."""
        with self._lock:
            if self._storing:
                return False
            self.stop_reason = self.stop_reason or reason
            self.stop_flag.set()
            return True

    def storing(self) -> StopReason | None:
        """From the work, before it stores: stops count no more; why it stopped, if it did."""
        with self._lock:
            self._storing = True
            return self.stop_reason

    def token_matches(self, token: str) -> bool:
        return hmac.compare_digest(token.encode(), self.resume_token.encode())

    @property
    def should_stop(self) -> bool:
        return self.stop_flag.is_set()

    @property
    def active(self) -> bool:
        return self.state != "ended"
