"""Jobs between sockets and the engine: a bounded queue, N slots, one worker thread per running job.

Everything here runs on the event loop but the job's `work` (stylize, store), which runs in a
daemon thread: TensorFlow blocks, and a daemon thread never holds up the process exit after a
shutdown gave up waiting for it. An ended job stays findable for NST_DETACH_GRACE_S, so a socket
that attaches again still gets its `done`.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import deque
from collections.abc import Callable

from .job import Job, StopReason
from .protocol import Error, Queued
from .waits import WaitEstimate

log = logging.getLogger("nst.jobs")

# What a drain keeps of NST_SHUTDOWN_GRACE_S (half of it, if that is less) for the running jobs to
# stop within a step and store their images: longer than a step plus a healthy store takes.
STOP_AND_STORE_S = 5.0


class QueueFull(Exception):
    """Every slot is busy and the queue holds NST_MAX_QUEUE jobs already."""


class ShuttingDown(Exception):
    """The server is draining and takes no new jobs."""


class TooManyJobs(Exception):
    """The client holds NST_MAX_JOBS_PER_CLIENT running or waiting jobs already."""


class JobManager:
    def __init__(self, slots: int, max_queue: int, detach_grace_s: float = 300.0,
                 max_per_client: int | None = None) -> None:
        self.slots = slots
        self.max_queue = max_queue
        self.detach_grace_s = detach_grace_s
        self.max_per_client = max_per_client or slots + max_queue
        self.accepting = True
        self._held: list[str] = []  # a place for each admitted job whose images are decoding
        self._waiting: deque[Job] = deque()
        self._running: set[Job] = set()
        self._tasks: dict[Job, asyncio.Task] = {}
        self._jobs: dict[str, Job] = {}  # every job not yet forgotten, by id
        self._waits = WaitEstimate()

    def find(self, job_id: str, resume_token: str) -> Job | None:
        """The job with this id if the token is its own; None alike for an unknown id and a wrong
        token, so an answer tells nothing about other people's jobs."""
        job = self._jobs.get(job_id)
        return job if job is not None and job.token_matches(resume_token) else None

    def wait_s(self, job: Job) -> float | None:
        """The estimated seconds until a waiting job starts (0 once it runs)."""
        if job not in self._waiting:
            return 0.0
        ahead = list(self._waiting)[:self._waiting.index(job)]
        return self._waits.wait_s(self._running, ahead, self.slots)

    @property
    def running(self) -> int:
        return len(self._running)

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    @property
    def detached(self) -> int:
        """Jobs running, waiting or kept for reattachment that no socket follows."""
        return sum(job.follower is None for job in self._jobs.values())

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
        self._jobs[job.id] = job
        job.position = len(self._waiting)
        self._dispatch(notify=job)
        return job.position

    def cancel(self, job: Job, reason: StopReason = "cancelled") -> None:
        """Stop a job: at once if it waits, within an optimisation step if it runs."""
        if job in self._waiting:
            self._waiting.remove(job)
            job.emit(Error(code="cancelled", message="the job was cancelled before it started",
                           job_id=job.id))
            self._ended(job)
            log.info("event=job_cancelled job_id=%s while=queued", job.id)
            self._renumber()
        elif job in self._running and not job.stop(reason):
            log.info("event=stop_ignored job_id=%s reason=%s while=storing", job.id, reason)

    async def drain(self, grace_s: float) -> None:
        """Take no new jobs, turn the queue away, let running jobs (followed or not) run until
        STOP_AND_STORE_S before `grace_s` ends, then stop them: they store their images in time."""
        self.accepting = False
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace_s
        while self._waiting:
            job = self._waiting.popleft()
            job.emit(Error(code="shutting_down", job_id=job.id,
                           message="the server is shutting down; submit the job again"))
            self._ended(job)
        jobs, tasks = list(self._tasks), list(self._tasks.values())
        if not tasks:
            return
        reserve_s = min(STOP_AND_STORE_S, grace_s / 2)
        log.info("event=drain_started running=%d grace_s=%.1f", len(tasks), grace_s)
        _, pending = await asyncio.wait(tasks, timeout=grace_s - reserve_s)
        if pending:
            for job in list(self._running):
                job.stop("interrupted")
            log.info("event=drain_interrupting running=%d", len(pending))
            # A stop takes effect within an optimisation step, then the job stores its image.
            await asyncio.wait(pending, timeout=max(deadline - loop.time(), STOP_AND_STORE_S))
        # Let the final frames and `done` reach the sockets before the server closes them.
        flushes = [asyncio.ensure_future(job.follower.flushed()) for job in jobs
                   if job.follower is not None]
        if not flushes:
            return
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
                job.emit(Queued(job_id=job.id, position=0, wait_s=0.0))
            else:
                job.position = 0
        if started:
            self._renumber(skip=notify)

    def _renumber(self, skip: Job | None = None) -> None:
        for position, job in enumerate(self._waiting, start=1):
            if job.position != position:
                job.position = position
                if job is not skip:
                    job.emit(Queued(job_id=job.id, position=position,
                                    wait_s=self.wait_s(job)))

    async def _run(self, job: Job) -> None:
        try:
            await _in_daemon_thread(job.work, job, name=f"job-{job.id[:8]}")
        except Exception:
            log.exception("event=job_crashed job_id=%s", job.id)
            job.emit(Error(code="internal", job_id=job.id,
                           message=f"job {job.id} failed unexpectedly; the server log has details"))
        finally:
            self._waits.job_ended(job)
            self._ended(job)
            self._running.discard(job)
            self._tasks.pop(job, None)
            self._dispatch()

    def _ended(self, job: Job) -> None:
        """The job is over; an `attach` still finds it (and its `done`) for detach_grace_s."""
        job.state = "ended"
        job.loop.call_later(self.detach_grace_s, self._jobs.pop, job.id, None)


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
