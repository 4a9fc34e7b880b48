"""`/ws/stylize`: the socket loop. It parses, admits, queues and streams; nothing else.

The engine and the storage calls run in worker threads (service/jobs.py, service/running.py), so
the event loop always answers health checks and other sockets. A socket follows one job at a time,
the one it started or attached to; when the socket goes, the job runs on without it.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
import uuid

from pydantic import ValidationError
from starlette.websockets import WebSocket, WebSocketDisconnect

from . import metrics, protocol
from .admission import JobRequest, RequestError, check, decode
from .connections import Connections, IdleTimer, close_when_idle
from .engine import BadParams
from .engine_process import RemoteSteering, RemoteStop
from .job import Job
from .jobs import JobManager, QueueFull, ShuttingDown, TooManyJobs
from .outbox import Outbox
from .pools import PoolBusy, Pools
from .protocol import Accepted, Attach, Cancel, Error, Start, Steer, Steered
from .readiness import Readiness
from .running import JobRunner
from .settings import Settings
from .storage import utc_now

log = logging.getLogger("nst.service")

# Messages up to this size are parsed on the event loop (microseconds); bigger ones, a `start` with
# its images, in the parse pool, so a 40 MB message never stalls the loop.
PARSE_INLINE_MAX = 64 * 1024


class StylizeSocket:
    def __init__(self, settings: Settings, jobs: JobManager, readiness: Readiness,
                 runner: JobRunner, connections: Connections, pools: Pools) -> None:
        self.settings = settings
        self.jobs = jobs
        self.readiness = readiness
        self.runner = runner
        self.connections = connections
        self.pools = pools

    async def handle(self, websocket: WebSocket) -> None:
        if not await self.connections.admit(websocket, self.jobs.accepting):
            return
        outbox, idle = Outbox(), IdleTimer(self.settings.idle_timeout_s)
        helpers = [asyncio.create_task(_pump(outbox, websocket)),
                   asyncio.create_task(close_when_idle(idle, websocket))]
        try:
            await self._receive_loop(websocket, outbox, idle)
        finally:
            for helper in helpers:
                helper.cancel()
            self.connections.release()

    async def _receive_loop(self, websocket: WebSocket, outbox: Outbox, idle: IdleTimer) -> None:
        """Answer every message until the client goes; its job runs on, to be attached again."""
        job: Job | None = None
        client = websocket.client.host if websocket.client else "unknown"
        rate = MessageRate(self.settings.max_messages_per_s)
        try:
            while True:
                message = await websocket.receive()
                idle.touch(job)
                if message["type"] == "websocket.disconnect":
                    break
                if not rate.allows():
                    log.warning("event=socket_flooding client=%s limit_per_s=%s", client,
                                self.settings.max_messages_per_s)
                    await websocket.close(1008, "too many messages; see NST_MAX_MESSAGES_PER_S")
                    break
                if message.get("text") is None:
                    _reply(outbox, "bad_request",
                           "send JSON text messages; binary ones are not part of the protocol")
                    continue
                try:
                    followed = await self._on_message(message["text"], outbox, job, client)
                    if job is not None and followed is not job:
                        job.detach(outbox)  # an ended job: this socket follows another now
                    job = followed
                    idle.touch(job)
                except Exception:  # noqa: BLE001 (a bug must not take the connection down)
                    log.exception("event=message_failed")
                    _reply(outbox, "internal", "the server failed on this message; its log has "
                           "the details")
        except WebSocketDisconnect:
            pass
        finally:
            if job is not None and job.active and job.followed_by(outbox):
                log.info("event=job_detached job_id=%s state=%s", job.id, job.state)
            if job is not None:
                job.detach(outbox)

    async def _on_message(self, text: str, outbox: Outbox, job: Job | None,
                          client: str) -> Job | None:
        """Handle one client message; returns the connection's current job."""
        try:
            message = (protocol.client_message.validate_json(text) if len(text) <= PARSE_INLINE_MAX
                       else await self.pools.parse.run(protocol.client_message.validate_json, text))
        except ValidationError as error:
            _reply(outbox, "bad_request", protocol.describe_validation_error(error))
            return job
        except PoolBusy:
            _reply(outbox, "busy", "the server is parsing many messages; try again in a minute")
            return job
        following = job is not None and job.active and job.followed_by(outbox)
        if isinstance(message, Steer):
            self._steer(message, outbox, job if following else None)
            return job
        if isinstance(message, Cancel):
            if not following:
                _reply(outbox, "bad_request", "there is no job to cancel on this connection")
            else:
                self.jobs.cancel(job, "cancelled")
            return job
        if following and not (isinstance(message, Attach) and message.job_id == job.id):
            _reply(outbox, "bad_request", f"job {job.id} is still running on this connection; "
                   "wait for 'done' or send 'cancel' first")
            return job
        if isinstance(message, Attach):
            return self._attach(message, outbox) or job
        return await self._start(message, outbox, client) or job

    @staticmethod
    def _steer(steer: Steer, outbox: Outbox, job: Job | None) -> None:
        """Hand the changes to the job's run; it answers `steered` when they take effect."""
        changes = steer.model_dump(exclude={"type"}, exclude_none=True)
        if job is None or job.steering is None:
            _reply(outbox, "bad_request", "there is no job to steer on this connection")
        elif not changes:
            _reply(outbox, "bad_request", "name at least one of "
                   f"{', '.join((*protocol.STEERABLE, 'style_blend'))} to steer")
        else:
            try:
                job.steering.steer(**changes)
            except BadParams as error:
                _reply(outbox, "bad_request", f"steer: {error}")
                return
            log.info("event=job_steer job_id=%s changes=%s", job.id, ",".join(changes))

    def _attach(self, attach: Attach, outbox: Outbox) -> Job | None:
        job = self.jobs.find(attach.job_id, attach.resume_token)
        if job is None:
            log.info("event=attach_refused")
            _reply(outbox, "unknown_job", "no job with that job_id and resume_token is running "
                   "or recently ended here; a stored result stays readable at /v1/jobs/{job_id}")
            return None
        log.info("event=job_attached job_id=%s state=%s taken_over=%s", job.id, job.state,
                 job.follower is not None and job.follower is not outbox)
        job.attach(outbox, self.jobs.wait_s(job))
        return job

    async def _start(self, start: Start, outbox: Outbox, client: str) -> Job | None:
        """Check the start's headers, hold a place in the queue, and only then decode its images:
        a `busy` answer costs no decoding, and a queued job holds its images at the job's size."""
        if not self.readiness.ready:
            _reply(outbox, "not_ready", "the model is still loading; try again in a few seconds")
            return None
        try:
            checked = await self.pools.parse.run(check, start, self.settings,
                                                 self.readiness.engine.sizes)
            self._hold(client)
            try:
                request = await self.pools.decode.run(decode, checked, self.settings)
            except BaseException:
                self.jobs.release(client)
                raise
        except RequestError as error:
            log.info("event=job_refused code=%s reason=%r", error.code, error.message)
            _reply(outbox, error.code, error.message)
            return None
        except PoolBusy as busy:
            log.warning("event=job_refused code=busy pool=%s", busy)
            _reply(outbox, "busy", "the server is busy; try again in a minute")
            return None
        job = Job(id=uuid.uuid4().hex, resume_token=secrets.token_urlsafe(24),
                  created_at=utc_now(), loop=asyncio.get_running_loop(), stop_flag=RemoteStop(),
                  steering=RemoteSteering(len(request.styles)),
                  work=lambda job: self.runner.run(job, request), follower=outbox, client=client,
                  total_steps=request.params.total_steps, pixels=request.width * request.height)
        job.steering.on_applied = lambda step, changes: job.emit(
            Steered(job_id=job.id, step=step + 1, changes=changes))
        try:
            position = self.jobs.submit(job)
        except ShuttingDown:
            _reply(outbox, "shutting_down", "the server is shutting down; submit the job again")
            return None
        self._accepted(job, position, request)
        return job

    def _hold(self, client: str) -> None:
        """A place in the queue for the client's job, or a RequestError saying why there is none."""
        try:
            self.jobs.hold(client)
        except QueueFull:
            raise RequestError("busy", f"the queue is full ({self.settings.max_queue} jobs "
                               "waiting); try again in a minute") from None
        except TooManyJobs:
            raise RequestError("busy", f"you have {self.jobs.max_per_client} jobs running or "
                               "waiting (NST_MAX_JOBS_PER_CLIENT); wait for one to end") from None
        except ShuttingDown:
            raise RequestError("shutting_down", "the server is shutting down; submit the job "
                               "again") from None

    def _accepted(self, job: Job, position: int, request: JobRequest) -> None:
        params = request.params
        metrics.JOBS_ACCEPTED.inc()
        job.accepted = Accepted(
            job_id=job.id, resume_token=job.resume_token, position=position,
            wait_s=self.jobs.wait_s(job),
            model=protocol.Model(**self.readiness.engine.model.as_dict()),
            output_size=protocol.OutputSize(width=request.width, height=request.height),
            epochs=params.epochs, steps_per_epoch=params.steps_per_epoch,
            total_steps=params.total_steps,
            weights=protocol.Weights(**{name: getattr(params, name) for name in protocol.STEERABLE},
                                     style_blend=list(request.style_blend)),
        )
        job.follower.put(job.accepted.model_dump_json())
        log.info("event=job_accepted job_id=%s position=%d size=%dx%d epochs=%d steps_per_epoch=%d",
                 job.id, position, request.width, request.height, params.epochs,
                 params.steps_per_epoch)


async def _pump(outbox: Outbox, websocket: WebSocket) -> None:
    try:
        await outbox.pump(metrics.counting_frames(websocket.send_text))
    except (WebSocketDisconnect, RuntimeError, OSError):
        pass  # the client is gone; the receive loop sees the disconnect and detaches its job


def _reply(outbox: Outbox, code: protocol.ErrorCode, message: str) -> None:
    metrics.ERRORS.labels(code).inc()
    outbox.reply(Error(code=code, message=message).model_dump_json())


class MessageRate:
    """A token bucket: `per_s` messages a second on average, in bursts of up to `per_s`."""

    def __init__(self, per_s: float) -> None:
        self.per_s = per_s
        self._tokens = max(per_s, 1.0)
        self._at = time.monotonic()

    def allows(self) -> bool:
        now = time.monotonic()
        self._tokens = min(max(self.per_s, 1.0), self._tokens + (now - self._at) * self.per_s)
        self._at = now
        if self._tokens < 1.0:
            return False
        self._tokens -= 1.0
        return True
