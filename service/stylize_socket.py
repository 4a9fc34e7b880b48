"""`/ws/stylize`: the socket loop. It parses, admits, queues and streams; nothing else.

The engine and the storage calls run in worker threads (service/jobs.py, service/running.py), so
the event loop always answers health checks and other sockets. A socket follows one job at a time,
the one it started or attached to; when the socket goes, the job runs on without it.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import uuid

from pydantic import ValidationError
from starlette.websockets import WebSocket, WebSocketDisconnect

from . import metrics, protocol
from .admission import JobRequest, RequestError, admit
from .connections import Connections, IdleTimer, close_when_idle
from .engine import StopSignal
from .jobs import Job, JobManager, Outbox, QueueFull, ShuttingDown
from .protocol import Accepted, Attach, Cancel, Error, Start
from .readiness import Readiness
from .running import JobRunner
from .settings import Settings
from .storage import utc_now

log = logging.getLogger("nst.service")


class StylizeSocket:
    def __init__(self, settings: Settings, jobs: JobManager, readiness: Readiness,
                 runner: JobRunner, connections: Connections) -> None:
        self.settings = settings
        self.jobs = jobs
        self.readiness = readiness
        self.runner = runner
        self.connections = connections

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
        try:
            while True:
                message = await websocket.receive()
                idle.touch(job)
                if message["type"] == "websocket.disconnect":
                    break
                if message.get("text") is None:
                    _reply(outbox, "bad_request",
                           "send JSON text messages; binary ones are not part of the protocol")
                    continue
                try:
                    followed = await self._on_message(message["text"], outbox, job)
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

    async def _on_message(self, text: str, outbox: Outbox, job: Job | None) -> Job | None:
        """Handle one client message; returns the connection's current job."""
        try:
            message = protocol.client_message.validate_json(text)
        except ValidationError as error:
            _reply(outbox, "bad_request", protocol.describe_validation_error(error))
            return job
        following = job is not None and job.active and job.followed_by(outbox)
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
        return await self._start(message, outbox) or job

    def _attach(self, attach: Attach, outbox: Outbox) -> Job | None:
        job = self.jobs.find(attach.job_id, attach.resume_token)
        if job is None:
            log.info("event=attach_refused")
            _reply(outbox, "unknown_job", "no job with that job_id and resume_token is running "
                   "or recently ended here; a stored result stays readable at /v1/jobs/{job_id}")
            return None
        log.info("event=job_attached job_id=%s state=%s taken_over=%s", job.id, job.state,
                 job.follower is not None and job.follower is not outbox)
        job.attach(outbox)
        return job

    async def _start(self, start: Start, outbox: Outbox) -> Job | None:
        if not self.readiness.ready:
            _reply(outbox, "not_ready", "the model is still loading; try again in a few seconds")
            return None
        try:
            request = await asyncio.to_thread(admit, start, self.settings, self.readiness.engine)
        except RequestError as error:
            _reply(outbox, error.code, error.message)
            return None
        job = Job(id=uuid.uuid4().hex, resume_token=secrets.token_urlsafe(24),
                  created_at=utc_now(), loop=asyncio.get_running_loop(), stop_flag=StopSignal(),
                  work=lambda job: self.runner.run(job, request), follower=outbox)
        try:
            position = self.jobs.submit(job)
        except QueueFull:
            _reply(outbox, "busy", f"the queue is full ({self.settings.max_queue} jobs waiting); "
                   "try again in a minute")
            log.info("event=job_refused reason=busy")
            return None
        except ShuttingDown:
            _reply(outbox, "shutting_down", "the server is shutting down; submit the job again")
            return None
        self._accepted(job, position, request)
        return job

    def _accepted(self, job: Job, position: int, request: JobRequest) -> None:
        params = request.params
        metrics.JOBS_ACCEPTED.inc()
        job.accepted = Accepted(
            job_id=job.id, resume_token=job.resume_token, position=position,
            model=protocol.Model(**self.readiness.engine.model.as_dict()),
            output_size=protocol.OutputSize(width=request.width, height=request.height),
            epochs=params.epochs, steps_per_epoch=params.steps_per_epoch,
            total_steps=params.total_steps,
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
    outbox.put(Error(code=code, message=message).model_dump_json())
