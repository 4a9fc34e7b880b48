"""Jobs between sockets and the engine: a bounded queue, N slots, one worker thread per running job.

Everything here but `Job.emit` and the job's `work` runs on the event loop. The work (stylize,
store) runs in a daemon thread: TensorFlow blocks, and a daemon thread never holds up the process
exit after a shutdown gave up waiting for it.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Protocol

from pydantic import BaseModel

from . import metrics
from .protocol import Error, Queued

log = logging.getLogger("nst.jobs")

StopReason = Literal["cancelled", "interrupted"]


class QueueFull(Exception):
    """Every slot is busy and the queue holds NST_MAX_QUEUE jobs already."""


class ShuttingDown(Exception):
    """The server is draining and takes no new jobs."""


class TooManyJobs(Exception):
    """The client holds NST_MAX_JOBS_PER_CLIENT running or waiting jobs already."""


class Outbox:
    """The messages waiting to go out on one socket, in order, never more than a few.

    A frame is droppable: if the newest queued message is an unsent frame, a newer frame takes its
    place, so a slow client costs at most one pending frame, never an unbounded buffer. Anything
    queued after a frame (the next frame excepted) pins it, so the final frame always arrives
    before `done`. Replies to the client's own messages (errors about them) are bounded too: past
    MAX_REPLIES unsent, the oldest gives way. The rest (`accepted`, `queued`, `done`, a job's
    error) is a handful per job.
    """

    MAX_REPLIES = 8

    def __init__(self) -> None:
        self._items: deque[tuple[str, Literal["message", "frame", "reply"]]] = deque()
        self._ready = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self.dropped = 0
        self.replies_dropped = 0

    def put(self, text: str, droppable: bool = False) -> None:
        if droppable and self._items and self._items[-1][1] == "frame":
            self._items.pop()
            self.dropped += 1
            metrics.FRAMES_DROPPED.inc()
        self._append(text, "frame" if droppable else "message")

    def reply(self, text: str) -> None:
        """Queue an answer to a client's message; the oldest unsent one goes past MAX_REPLIES."""
        replies = [item for item in self._items if item[1] == "reply"]
        if len(replies) >= self.MAX_REPLIES:
            self._items.remove(replies[0])
            self.replies_dropped += 1
        self._append(text, "reply")

    def _append(self, text: str, kind: Literal["message", "frame", "reply"]) -> None:
        self._items.append((text, kind))
        self._idle.clear()
        self._ready.set()

    def __len__(self) -> int:
        return len(self._items)

    async def pump(self, send: Callable[[str], Awaitable[None]]) -> None:
        """Send messages as they come, for as long as the socket lives (cancel to stop)."""
        while True:
            while not self._items:
                self._idle.set()
                self._ready.clear()
                await self._ready.wait()
            text, _ = self._items.popleft()
            await send(text)
            if not self._items:
                self._idle.set()

    async def flushed(self) -> None:
        """Return once every queued message has been handed to the socket."""
        await self._idle.wait()


class StopFlag(Protocol):
    """What stops a running job: a threading.Event, or the engine's StopSignal, which the compiled
    loop reads before every step."""

    def set(self) -> None: ...

    def is_set(self) -> bool: ...


@dataclass(eq=False)
class Job:
    """One client's request from the queue to `done`. `work` runs in a worker thread."""

    id: str
    created_at: datetime
    outbox: Outbox
    loop: asyncio.AbstractEventLoop
    work: Callable[["Job"], None]
    position: int = 0
    state: Literal["queued", "running", "ended"] = "queued"
    stop_reason: StopReason | None = None
    stop_flag: StopFlag = field(default_factory=threading.Event, repr=False)
    client: str = ""  # who asked (an address), for NST_MAX_JOBS_PER_CLIENT

    def emit(self, message: BaseModel, droppable: bool = False) -> None:
        """Queue a message for the client; safe from any thread, in call order."""
        if isinstance(message, Error):
            metrics.ERRORS.labels(message.code).inc()
        self.loop.call_soon_threadsafe(self.outbox.put, message.model_dump_json(), droppable)

    def stop(self, reason: StopReason) -> None:
        self.stop_reason = self.stop_reason or reason
        self.stop_flag.set()

    @property
    def should_stop(self) -> bool:
        return self.stop_flag.is_set()

    @property
    def active(self) -> bool:
        return self.state != "ended"


class JobManager:
    def __init__(self, slots: int, max_queue: int, max_per_client: int | None = None) -> None:
        self.slots = slots
        self.max_queue = max_queue
        self.max_per_client = max_per_client or slots + max_queue
        self.accepting = True
        self._held: list[str] = []  # a place for each admitted job whose images are decoding
        self._waiting: deque[Job] = deque()
        self._running: set[Job] = set()
        self._tasks: dict[Job, asyncio.Task] = {}

    @property
    def running(self) -> int:
        return len(self._running)

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    def hold(self, client: str) -> None:
        """Hold a place in the queue for a job of `client` while its images decode.

        Either `submit` the job or `release` the place. Raises ShuttingDown, QueueFull (every slot
        and place taken, held ones included) or TooManyJobs (NST_MAX_JOBS_PER_CLIENT).
        """
        if not self.accepting:
            raise ShuttingDown()
        if len(self._running) + len(self._waiting) + len(self._held) >= self.slots + self.max_queue:
            raise QueueFull()
        jobs = [job.client for job in (*self._running, *self._waiting)] + self._held
        if jobs.count(client) >= self.max_per_client:
            raise TooManyJobs()
        self._held.append(client)

    def release(self, client: str) -> None:
        self._held.remove(client)

    def submit(self, job: Job) -> int:
        """Queue a job into the place `hold` kept and start it if a slot is free. Returns its
        position (0: running).

        The job's thread starts only after the caller's next await, so a message the caller queues
        right after this call (`accepted`) goes out before the job's first frame.
        """
        self.release(job.client)
        if not self.accepting:
            raise ShuttingDown()
        self._waiting.append(job)
        job.position = len(self._waiting)
        self._dispatch(notify=job)
        return job.position

    def cancel(self, job: Job, reason: StopReason = "cancelled") -> None:
        """Stop a job: at once if it waits, within an optimisation step if it runs."""
        if job in self._waiting:
            self._waiting.remove(job)
            job.state = "ended"
            job.emit(Error(code="cancelled", message="the job was cancelled before it started",
                           job_id=job.id))
            log.info("event=job_cancelled job_id=%s while=queued", job.id)
            self._renumber()
        elif job in self._running:
            job.stop(reason)

    async def drain(self, grace_s: float, interrupt_timeout_s: float = 60.0) -> None:
        """Take no new jobs, turn the queue away, give running jobs `grace_s`, then stop them."""
        self.accepting = False
        while self._waiting:
            job = self._waiting.popleft()
            job.state = "ended"
            job.emit(Error(code="shutting_down", job_id=job.id,
                           message="the server is shutting down; submit the job again"))
        jobs, tasks = list(self._tasks), list(self._tasks.values())
        if not tasks:
            return
        log.info("event=drain_started running=%d grace_s=%.1f", len(tasks), grace_s)
        _, pending = await asyncio.wait(tasks, timeout=grace_s)
        if pending:
            for job in list(self._running):
                job.stop("interrupted")
            log.info("event=drain_interrupting running=%d", len(pending))
            # A stop takes effect within an optimisation step, then the job stores its image.
            await asyncio.wait(pending, timeout=interrupt_timeout_s)
        # Let the final frames and `done` reach the sockets before the server closes them.
        flushes = [asyncio.ensure_future(job.outbox.flushed()) for job in jobs]
        _, unflushed = await asyncio.wait(flushes, timeout=2.0)
        for flush in unflushed:
            flush.cancel()

    def _dispatch(self, notify: Job | None = None) -> None:
        started = False
        while self._waiting and len(self._running) < self.slots:
            job = self._waiting.popleft()
            job.state = "running"
            self._running.add(job)
            self._tasks[job] = asyncio.get_running_loop().create_task(self._run(job))
            started = True
            if job is not notify:
                job.position = 0
                job.emit(Queued(job_id=job.id, position=0))
            else:
                job.position = 0
        if started:
            self._renumber(skip=notify)

    def _renumber(self, skip: Job | None = None) -> None:
        for position, job in enumerate(self._waiting, start=1):
            if job.position != position:
                job.position = position
                if job is not skip:
                    job.emit(Queued(job_id=job.id, position=position))

    async def _run(self, job: Job) -> None:
        try:
            await _in_daemon_thread(job.work, job, name=f"job-{job.id[:8]}")
        except Exception:
            log.exception("event=job_crashed job_id=%s", job.id)
            job.emit(Error(code="internal", job_id=job.id,
                           message=f"job {job.id} failed unexpectedly; the server log has details"))
        finally:
            job.state = "ended"
            self._running.discard(job)
            self._tasks.pop(job, None)
            self._dispatch()


async def _in_daemon_thread(function: Callable[[Job], None], job: Job, name: str) -> None:
    loop = asyncio.get_running_loop()
    finished: asyncio.Future[None] = loop.create_future()

    def settle(error: BaseException | None) -> None:
        if not finished.done():
            finished.set_exception(error) if error else finished.set_result(None)

    def target() -> None:
        try:
            function(job)
        except BaseException as error:  # noqa: BLE001 (handed to the event loop)
            loop.call_soon_threadsafe(settle, error)
        else:
            loop.call_soon_threadsafe(settle, None)

    threading.Thread(target=target, name=name, daemon=True).start()
    await finished
