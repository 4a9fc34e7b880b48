"""The Starlette app: health routes, the `/ws/stylize` socket, and the `/v1` results API.

The socket handler parses, checks, queues, and streams; the engine and the storage calls run in
worker threads (service/jobs.py), so the event loop always answers health checks and other sockets.
"""

from __future__ import annotations

import asyncio
import hmac
import io
import logging
import os
import platform
import re
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from importlib import metadata as package_metadata

import numpy as np
from PIL import Image
from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from . import protocol
from .engine import BadImage, BadParams, Engine, EngineError, Frame, StyleParams
from .engine.params import KNOBS, Knob
from .engine.images import decode_image, encode_jpeg, encode_png
from .jobs import Job, JobManager, Outbox, QueueFull, ShuttingDown
from .protocol import Accepted, Cancel, Done, Error, FrameMessage, Start
from .settings import Settings
from .storage import Storage, StorageError, iso, utc_now

log = logging.getLogger("nst.service")

JOB_ID = re.compile(r"^[0-9a-f]{32}$")
FRAME_JPEG_QUALITY = 85
THUMBNAIL_PX = 256
READY_CHECK_TTL_S = 2.0
_SNIFF = {b"\x89PNG": ("png", "image/png"), b"\xff\xd8": ("jpg", "image/jpeg"),
          b"RIFF": ("webp", "image/webp")}


class RequestError(Exception):
    def __init__(self, code: protocol.ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class InputImage:
    pixels: np.ndarray
    file: bytes
    extension: str
    content_type: str


@dataclass(frozen=True)
class JobRequest:
    """A `start` message checked and decoded: everything a worker needs, nothing from the socket."""

    params: StyleParams
    content: InputImage
    style: InputImage
    height: int
    width: int


def create_app(settings: Settings, engine: Engine | None = None) -> Starlette:
    service = Service(settings, engine)
    cors = Middleware(
        CORSMiddleware,
        allow_origins=settings.allowed_origins,
        allow_methods=["GET"],
        allow_headers=["Authorization"],
        max_age=600,
    )
    routes = [
        Route("/healthz", service.healthz),
        Route("/readyz", service.readyz),
        WebSocketRoute("/ws/stylize", service.stylize_socket),
        Mount("/v1", routes=[
            Route("/jobs/{job_id}", service.job),
            Route("/results", service.results),
        ], middleware=[cors]),
    ]
    app = Starlette(routes=routes, lifespan=service.lifespan)
    app.state.service = service
    return app


class Service:
    """What the routes share: settings, engine, job manager, storage, readiness."""

    def __init__(self, settings: Settings, engine: Engine | None) -> None:
        self.settings = settings
        self.engine = engine
        self.jobs = JobManager(settings.max_concurrent_jobs, settings.max_queue)
        self.storage = Storage(settings)
        self.created = time.perf_counter()
        self.ready = False
        self.startup_error: str | None = None
        self._storage_checked_at = -READY_CHECK_TTL_S
        self._storage_problem: str | None = "not checked yet"

    # Lifecycle ------------------------------------------------------------------------------------

    @asynccontextmanager
    async def lifespan(self, app: Starlette) -> AsyncIterator[None]:
        # Start-up runs in the background so /healthz answers (and /readyz says 503) meanwhile.
        start_up = asyncio.create_task(self._start_up())
        yield
        start_up.cancel()

    async def _start_up(self) -> None:
        settings = self.settings
        try:
            began = time.perf_counter()
            if self.engine is None:
                self.engine = await asyncio.to_thread(
                    Engine.load, settings.backbone, settings.weights, settings.precision
                )
            loaded = time.perf_counter()
            await asyncio.to_thread(self.engine.warm, settings.default_size)
            warmed = time.perf_counter()
        except Exception as error:  # noqa: BLE001 (a dead engine is reported by /healthz)
            self.startup_error = f"{type(error).__name__}: {error}"
            log.error("event=startup_failed error=%r", self.startup_error)
            return
        try:
            await asyncio.to_thread(self.storage.ensure_bucket)
            self._storage_problem = None
        except StorageError as error:
            log.warning("event=storage_unavailable error=%r", str(error))
        self.ready = True
        log.info(
            "event=ready backbone=%s weights=%s precision=%s load_s=%.2f warm_s=%.2f "
            "warm_size=%d since_app_created_s=%.2f since_process_start_s=%s",
            self.engine.model.backbone, self.engine.model.weights,
            self.engine.model.precision, loaded - began,
            warmed - loaded, settings.default_size, time.perf_counter() - self.created,
            _process_age_s(),
        )

    # Health ---------------------------------------------------------------------------------------

    async def healthz(self, request: Request) -> JSONResponse:
        if self.startup_error:
            return JSONResponse({"status": "failed", "error": self.startup_error}, status_code=503)
        return JSONResponse({"status": "ok"})

    async def readyz(self, request: Request) -> JSONResponse:
        problem = await self._readiness_problem()
        body = {"ready": problem is None, "running": self.jobs.running, "queued": self.jobs.waiting}
        if problem:
            return JSONResponse({**body, "reason": problem}, status_code=503)
        return JSONResponse({**body, "model": self.engine.model.as_dict()})

    async def _readiness_problem(self) -> str | None:
        if self.startup_error:
            return f"start-up failed: {self.startup_error}"
        if not self.ready:
            return "loading and warming up the model"
        if not self.jobs.accepting:
            return "shutting down"
        now = time.perf_counter()
        if now - self._storage_checked_at >= READY_CHECK_TTL_S:
            self._storage_checked_at = now
            try:
                await asyncio.to_thread(self.storage.check)
                self._storage_problem = None
            except StorageError as error:
                self._storage_problem = f"storage unreachable: {error}"
        return self._storage_problem

    # The WebSocket --------------------------------------------------------------------------------

    async def stylize_socket(self, websocket: WebSocket) -> None:
        await websocket.accept()
        refusal = self._refusal(websocket)
        if refusal:
            code, message, close_code = refusal
            log.info("event=socket_refused code=%s origin=%r", code,
                     websocket.headers.get("origin"))
            await websocket.send_text(Error(code=code, message=message).model_dump_json())
            await websocket.close(close_code)
            return
        outbox = Outbox()
        pump = asyncio.create_task(_pump(outbox, websocket))
        job: Job | None = None
        try:
            while True:
                message = await websocket.receive()
                if message["type"] == "websocket.disconnect":
                    break
                if message.get("text") is None:
                    _reply(outbox, "bad_request",
                           "send JSON text messages; binary ones are not part of protocol v1")
                    continue
                try:
                    job = await self._on_message(message["text"], outbox, job)
                except Exception:  # noqa: BLE001 (a bug must not take the connection down)
                    log.exception("event=message_failed")
                    _reply(outbox, "internal", "the server failed on this message; its log has "
                           "the details")
        except WebSocketDisconnect:
            pass
        finally:
            if job is not None and job.active:
                log.info("event=client_gone job_id=%s", job.id)
                self.jobs.cancel(job, "cancelled")
            pump.cancel()

    def _refusal(self, connection: HTTPConnection) -> tuple[protocol.ErrorCode, str, int] | None:
        if not self._authorized(connection):
            return ("unauthorized",
                    "this service needs an API key: add ?token=KEY to the URL or an "
                    "'Authorization: Bearer KEY' header", 1008)
        origin = connection.headers.get("origin")
        allowed = self.settings.allowed_origins
        if origin is not None and "*" not in allowed and origin.rstrip("/") not in allowed:
            return ("forbidden_origin",
                    f"pages from {origin} may not use this service; the operator can add it to "
                    "NST_ALLOWED_ORIGINS", 1008)
        if not self.jobs.accepting:
            return ("shutting_down", "the server is shutting down; connect again to reach another "
                    "instance", 1012)
        return None

    def _authorized(self, connection: HTTPConnection) -> bool:
        if self.settings.api_key is None:
            return True
        expected = self.settings.api_key.get_secret_value().encode()
        header = connection.headers.get("authorization", "")
        offered = header[7:] if header.lower().startswith("bearer ") else ""
        offered = offered or connection.query_params.get("token", "")
        return hmac.compare_digest(offered.encode(), expected)

    async def _on_message(self, text: str, outbox: Outbox, job: Job | None) -> Job | None:
        """Handle one client message; returns the connection's current job."""
        try:
            message = protocol.client_message.validate_json(text)
        except ValidationError as error:
            _reply(outbox, "bad_request", protocol.describe_validation_error(error))
            return job
        if isinstance(message, Cancel):
            if job is None or not job.active:
                _reply(outbox, "bad_request", "there is no job to cancel on this connection")
            else:
                self.jobs.cancel(job, "cancelled")
            return job
        if job is not None and job.active:
            _reply(outbox, "bad_request", f"job {job.id} is still running on this connection; "
                   "wait for 'done' or send 'cancel' first")
            return job
        return await self._start(message, outbox) or job

    async def _start(self, start: Start, outbox: Outbox) -> Job | None:
        if not self.ready:
            _reply(outbox, "not_ready", "the model is still loading; try again in a few seconds")
            return None
        try:
            request = await asyncio.to_thread(self._checked_request, start)
        except RequestError as error:
            _reply(outbox, error.code, error.message)
            return None
        job_id = uuid.uuid4().hex
        job = Job(id=job_id, created_at=utc_now(), outbox=outbox,
                  loop=asyncio.get_running_loop(), work=lambda job: self._run(job, request))
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
        params = request.params
        outbox.put(Accepted(
            job_id=job_id, position=position, model=protocol.Model(**self.engine.model.as_dict()),
            output_size=protocol.OutputSize(width=request.width, height=request.height),
            epochs=params.epochs, steps_per_epoch=params.steps_per_epoch,
            total_steps=params.total_steps,
        ).model_dump_json())
        log.info("event=job_accepted job_id=%s position=%d size=%dx%d epochs=%d steps_per_epoch=%d",
                 job_id, position, request.width, request.height, params.epochs,
                 params.steps_per_epoch)
        return job

    def _checked_request(self, start: Start) -> JobRequest:
        """Limits, parameters and images of a `start` message (blocking: decodes images)."""
        values = {knob.name: getattr(start, knob.name) for knob in KNOBS}
        for knob in KNOBS:
            if knob.limit:
                values[knob.name] = self._within_limit(knob, values[knob.name])
        try:
            params = StyleParams.from_values(values)
        except BadParams as error:
            raise RequestError("bad_request", str(error)) from None
        content = self._image(start.content, "content")
        style = self._image(start.style, "style")
        height, width = self.engine.output_size(content.pixels.shape, params.size)
        return JobRequest(self.engine.resolved(params), content, style, height, width)

    def _within_limit(self, knob: Knob, value: int | None) -> int:
        """`value`, or this server's default (NST_DEFAULT_*, capped by the limit) when unset."""
        limit = getattr(self.settings, knob.limit)
        if value is None:
            return min(getattr(self.settings, f"default_{knob.name}", knob.default), limit)
        if value > limit:
            raise RequestError("bad_request", f"{knob.name} is {value}, over this server's limit "
                               f"of {limit} (NST_{knob.limit.upper()})")
        return value

    def _image(self, text: str, field: str) -> InputImage:
        try:
            data = protocol.decode_image_field(text, field, self.settings.max_upload_bytes)
            pixels = decode_image(data, self.settings.max_pixels)
        except (protocol.ImageFieldError, BadImage) as error:
            message = str(error) if str(error).startswith(field) else f"{field}: {error}"
            raise RequestError("bad_image", message) from None
        extension, content_type = next(
            (kind for magic, kind in _SNIFF.items() if data.startswith(magic)),
            ("bin", "application/octet-stream"),
        )
        return InputImage(pixels, data, extension, content_type)

    # One job, in its worker thread ----------------------------------------------------------------

    def _run(self, job: Job, request: JobRequest) -> None:
        started = utc_now()
        log.info("event=job_started job_id=%s queued_s=%.3f", job.id,
                 (started - job.created_at).total_seconds())
        history: list[dict] = []
        last: Frame | None = None
        frames = self.engine.stylize(request.content.pixels, request.style.pixels, request.params)
        try:
            for frame in frames:
                last = frame
                history.append({"epoch": frame.epoch, "step": frame.step, **frame.losses,
                                "elapsed_s": round(frame.elapsed_s, 3)})
                job.emit(_frame_message(job.id, frame), droppable=frame.epoch < frame.epochs)
                if job.should_stop:
                    break
        except EngineError as error:
            log.warning("event=job_failed job_id=%s error=%r", job.id, str(error))
            job.emit(Error(code="bad_request", message=str(error), job_id=job.id))
            return
        except Exception as error:  # noqa: BLE001 (the client gets one sentence, the log the trace)
            log.exception("event=job_failed job_id=%s", job.id)
            job.emit(Error(code="internal", job_id=job.id, message=(
                f"the engine failed on job {job.id} ({type(error).__name__}); "
                "the server log has details")))
            return
        finally:
            frames.close()
        if job.stop_reason == "cancelled":
            log.info("event=job_cancelled job_id=%s while=running epochs_done=%d", job.id,
                     len(history))
            job.emit(Error(code="cancelled", message="the job was cancelled", job_id=job.id))
            return
        if last is None:
            job.emit(Error(code="shutting_down", job_id=job.id, message=(
                "the server shut down before the first epoch finished; submit the job again")))
            return
        status: protocol.JobStatus = "interrupted" if job.stop_reason else "finished"
        job.emit(self._store(job, request, status, started, history, last))

    def _store(self, job: Job, request: JobRequest, status: protocol.JobStatus, started: datetime,
               history: list[dict], last: Frame) -> Done:
        finished = utc_now()
        png = encode_png(last.image)
        metadata = self._metadata(job, request, status, started, finished, history, last, len(png))
        files = {
            "result.png": (png, "image/png"),
            "thumbnail.jpg": (_thumbnail(last.image), "image/jpeg"),
            f"content.{request.content.extension}": (request.content.file,
                                                     request.content.content_type),
            f"style.{request.style.extension}": (request.style.file, request.style.content_type),
        }
        try:
            result = self.storage.save_job(job.id, files, metadata, job.created_at)
        except StorageError as error:
            elapsed_s = round((utc_now() - job.created_at).total_seconds(), 3)
            self._storage_problem = f"storage unreachable: {error}"
            self._storage_checked_at = time.perf_counter()
            log.error("event=job_not_stored job_id=%s status=%s error=%r", job.id, status,
                      str(error))
            return Done(job_id=job.id, status=status, elapsed_s=elapsed_s, stored=False,
                        image=protocol.data_uri(png, "image/png"), storage_error=str(error))
        elapsed_s = round((utc_now() - job.created_at).total_seconds(), 3)
        log.info("event=job_finished job_id=%s status=%s epochs_done=%d stylize_s=%.3f "
                 "total_s=%.3f frames_dropped=%d", job.id, status, last.epoch, last.elapsed_s,
                 elapsed_s, job.outbox.dropped)
        return Done(job_id=job.id, status=status, elapsed_s=elapsed_s, stored=True, result=result)

    def _metadata(self, job: Job, request: JobRequest, status: str, started: datetime,
                  finished: datetime, history: list[dict], last: Frame, png_bytes: int) -> dict:
        params = request.params
        return {
            "job_id": job.id,
            "status": status,
            "created_at": iso(job.created_at),
            "started_at": iso(started),
            "finished_at": iso(finished),
            "params": params.as_dict(),
            "model": self.engine.model.as_dict(),
            "size": {"width": request.width, "height": request.height},
            "epochs_done": last.epoch,
            "steps_done": last.step,
            "losses": history,
            "timings": {
                "queued_s": round((started - job.created_at).total_seconds(), 3),
                "stylize_s": round(last.elapsed_s, 3),
                "total_s": round((finished - job.created_at).total_seconds(), 3),
            },
            "versions": _versions(),
            "inputs": {
                name: {"key": self.storage.job_key(job.id, f"{name}.{image.extension}"),
                       "content_type": image.content_type, "bytes": len(image.file),
                       "width": int(image.pixels.shape[1]), "height": int(image.pixels.shape[0])}
                for name, image in (("content", request.content), ("style", request.style))
            },
            "result": {"key": self.storage.job_key(job.id, "result.png"), "bytes": png_bytes,
                       "thumbnail_key": self.storage.job_key(job.id, "thumbnail.jpg")},
        }

    # /v1 ------------------------------------------------------------------------------------------

    async def job(self, request: Request) -> JSONResponse:
        if not self._authorized(request):
            return _http_error(401, "unauthorized", "add 'Authorization: Bearer KEY' or ?token=KEY")
        job_id = request.path_params["job_id"]
        if not JOB_ID.match(job_id):
            return _http_error(404, "not_found", f"no job {job_id!r}")
        try:
            metadata = await asyncio.to_thread(self.storage.job_metadata, job_id)
        except StorageError as error:
            return _http_error(503, "storage_unavailable", str(error))
        if metadata is None:
            return _http_error(404, "not_found", f"no job {job_id!r}")
        return JSONResponse({**metadata, **self._urls(metadata)})

    async def results(self, request: Request) -> JSONResponse:
        if not self._authorized(request):
            return _http_error(401, "unauthorized", "add 'Authorization: Bearer KEY' or ?token=KEY")
        try:
            limit = int(request.query_params.get("limit", "20"))
        except ValueError:
            limit = 0
        if not 1 <= limit <= 100:
            return _http_error(400, "bad_request", "limit must be a whole number from 1 to 100")
        try:
            jobs = await asyncio.to_thread(self.storage.recent_jobs, limit)
        except StorageError as error:
            return _http_error(503, "storage_unavailable", str(error))
        fields = ("job_id", "status", "created_at", "finished_at", "params", "model", "size")
        return JSONResponse({"results": [
            {**{name: job.get(name) for name in fields}, **self._urls(job)} for job in jobs
        ]})

    def _urls(self, metadata: dict) -> dict:
        result = metadata.get("result", {})
        url = self.storage.presigned_url(result.get("key") or
                                         self.storage.job_key(metadata["job_id"], "result.png"))
        thumbnail_key = result.get("thumbnail_key")
        thumbnail_url = self.storage.presigned_url(thumbnail_key) if thumbnail_key else url
        return {"url": url, "thumbnail_url": thumbnail_url, "expires_in": self.storage.expires_s}


async def _pump(outbox: Outbox, websocket: WebSocket) -> None:
    try:
        await outbox.pump(websocket.send_text)
    except (WebSocketDisconnect, RuntimeError, OSError):
        pass  # the client is gone; the receive loop sees the disconnect and cancels its job


def _reply(outbox: Outbox, code: protocol.ErrorCode, message: str) -> None:
    outbox.put(Error(code=code, message=message).model_dump_json())


def _frame_message(job_id: str, frame: Frame) -> FrameMessage:
    return FrameMessage(
        job_id=job_id, epoch=frame.epoch, epochs=frame.epochs, step=frame.step,
        total_steps=frame.total_steps, losses=protocol.Losses(**frame.losses),
        elapsed_s=round(frame.elapsed_s, 3),
        image=protocol.data_uri(encode_jpeg(frame.image, FRAME_JPEG_QUALITY), "image/jpeg"),
    )


def _thumbnail(image: np.ndarray) -> bytes:
    picture = Image.fromarray(image)
    picture.thumbnail((THUMBNAIL_PX, THUMBNAIL_PX))
    buffer = io.BytesIO()
    picture.save(buffer, format="JPEG", quality=85)
    return buffer.getvalue()


def _http_error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


def _process_age_s() -> str:
    """Seconds since this process started (Linux), so start-up time includes imports."""
    try:
        with open("/proc/self/stat") as stat, open("/proc/uptime") as uptime:
            # Field 22 is the start time in clock ticks since boot; the name (field 2) may hold
            # spaces, so count from its closing parenthesis.
            start_ticks = int(stat.read().rsplit(")", 1)[1].split()[19])
            return f"{float(uptime.read().split()[0]) - start_ticks / os.sysconf('SC_CLK_TCK'):.2f}"
    except (OSError, ValueError, IndexError):
        return "unknown"


def _versions() -> dict:
    def version(package: str) -> str:
        try:
            return package_metadata.version(package)
        except package_metadata.PackageNotFoundError:
            return "unknown"

    return {"nst": version("nst"), "tensorflow": version("tensorflow"),
            "python": platform.python_version(), "protocol": protocol.VERSION}
