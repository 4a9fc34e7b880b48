"""One job in its worker thread: run the engine, stream a frame per epoch, store the result.

Whatever happens the client gets one last message: `done` (stored, or with the image inline when
storage fails) or an `error`. A job stopped by a cancel or a shutdown stores the image it reached,
as `cancelled` or `interrupted`; its status is settled before storing begins, so `done` always
says what was stored.
"""

from __future__ import annotations

import io
import logging
import platform
from collections.abc import Callable
from datetime import datetime
from importlib import metadata as package_metadata

import numpy as np
from PIL import Image

from . import metrics, protocol
from .access import token_digest
from .admission import JobRequest
from .engine import EngineError, Frame
from .engine_child import EngineLost
from .engine_process import EngineProcess
from .engine.images import encode_jpeg, encode_png
from .job import Job
from .protocol import Done, Error, FrameMessage
from .records import JobRecord, SteerPoint
from .storage import Storage, StorageError, iso, utc_now

log = logging.getLogger("nst.service")

FRAME_JPEG_QUALITY = 85
THUMBNAIL_PX = 256


class JobRunner:
    """Runs admitted jobs on the engine and stores them; `engine` is read when a job starts."""

    def __init__(self, engine: Callable[[], EngineProcess], storage: Storage,
                 storage_failed: Callable[[StorageError], None]) -> None:
        self._engine = engine
        self.storage = storage
        self._storage_failed = storage_failed

    def run(self, job: Job, request: JobRequest) -> None:
        started = utc_now()
        metrics.JOB_WAIT.observe((started - job.created_at).total_seconds())
        log.info("event=job_started job_id=%s queued_s=%.3f", job.id,
                 (started - job.created_at).total_seconds())
        history: list[Frame] = []
        try:
            self._paint(job, request, history)
        except EngineError as error:
            log.warning("event=job_failed job_id=%s error=%r", job.id, str(error))
            metrics.job_ended("failed")
            job.emit(Error(code="bad_request", message=str(error), job_id=job.id))
            return
        except EngineLost as error:
            # The engine process died (killed for memory, say) and is being replaced: the frames
            # already painted are kept, as an interrupted job.
            log.error("event=job_engine_lost job_id=%s frames=%d error=%r", job.id, len(history),
                      str(error))
            if not history:
                metrics.job_ended("failed")
                job.emit(Error(code="internal", job_id=job.id, message=(
                    f"job {job.id} got no frame: {error}; submit the job again")))
                return
            job.stop("interrupted")
        except Exception as error:  # noqa: BLE001 (the client gets one sentence, the log the trace)
            log.exception("event=job_failed job_id=%s", job.id)
            metrics.job_ended("failed")
            job.emit(Error(code="internal", job_id=job.id, message=(
                f"the engine failed on job {job.id} ({type(error).__name__}); "
                "the server log has details")))
            return
        stop_reason = job.storing()
        if not history:
            metrics.job_ended("cancelled" if stop_reason == "cancelled" else "interrupted")
            job.emit(Error(code="cancelled", message="the job was cancelled before its first step",
                           job_id=job.id) if stop_reason == "cancelled" else
                     Error(code="shutting_down", job_id=job.id, message=(
                         "the server shut down before the job's first step; submit it again")))
            return
        last = history[-1]
        status: protocol.JobStatus = (stop_reason if stop_reason and last.step < last.total_steps
                                      else "finished")
        metrics.job_ended(status, last.step, last.elapsed_s)
        log.info("event=job_storing job_id=%s status=%s steps_done=%d", job.id, status, last.step)
        job.emit(self._store(job, request, status, started, history))

    def _paint(self, job: Job, request: JobRequest, history: list[Frame]) -> None:
        """Every epoch's frame, sent as it comes and kept in `history`; stops early when the job
        is told to."""
        frames = self._engine().stylize(request.content.pixels,
                                        [style.pixels for style in request.styles],
                                        request.params, stop=job.stop_flag,
                                        style_blend=request.style_blend, steering=job.steering)
        try:
            for frame in frames:
                history.append(frame)
                job.emit(_frame_message(job.id, frame), droppable=frame.epoch < frame.epochs)
                if job.should_stop:
                    break
        finally:
            frames.close()

    def _store(self, job: Job, request: JobRequest, status: protocol.JobStatus,
               started: datetime, history: list[Frame]) -> Done:
        last = history[-1]
        png = encode_png(last.image)
        record = self._record(job, request, status, started, history, len(png))
        files = {
            "result.png": (png, "image/png"),
            "thumbnail.jpg": (_thumbnail(last.image), "image/jpeg"),
            **{f"{name}.{image.extension}": (image.file, image.content_type)
               for name, image in request.named_inputs().items()},
        }
        try:
            result = self.storage.save_job(job.id, files, record.model_dump(mode="json"),
                                           job.created_at, record.token_sha256)
        except StorageError as error:
            metrics.STORAGE_FAILURES.inc()
            self._storage_failed(error)
            log.error("event=job_not_stored job_id=%s status=%s error=%r", job.id, status,
                      str(error))
            return Done(job_id=job.id, status=status, elapsed_s=_since(job.created_at),
                        stored=False, image=protocol.data_uri(png, "image/png"),
                        storage_error=error.public)
        elapsed_s = _since(job.created_at)
        log.info("event=job_finished job_id=%s status=%s epochs_done=%d stylize_s=%.3f "
                 "total_s=%.3f frames_dropped=%d", job.id, status, last.epoch, last.elapsed_s,
                 elapsed_s, job.follower.dropped if job.follower else 0)
        return Done(job_id=job.id, status=status, elapsed_s=elapsed_s, stored=True, result=result)

    def _record(self, job: Job, request: JobRequest, status: protocol.JobStatus,
                started: datetime, history: list[Frame], png_bytes: int) -> JobRecord:
        finished, last = utc_now(), history[-1]
        key = self.storage.job_key
        return JobRecord(
            job_id=job.id, status=status, created_at=iso(job.created_at),
            token_sha256=token_digest(job.resume_token),
            started_at=iso(started), finished_at=iso(finished),
            params=request.params.as_dict(), style_blend=list(request.style_blend),
            steers=[SteerPoint(step=step + 1, changes=changes)
                    for step, changes in (job.steering.applied if job.steering else [])],
            model=self._engine().model.as_dict(),
            size=protocol.OutputSize(width=request.width, height=request.height),
            epochs_done=last.epoch, steps_done=last.step,
            losses=[{"epoch": frame.epoch, "step": frame.step, **frame.losses,
                     "elapsed_s": round(frame.elapsed_s, 3)} for frame in history],
            timings={"queued_s": round((started - job.created_at).total_seconds(), 3),
                     "stylize_s": round(last.elapsed_s, 3),
                     "total_s": round((finished - job.created_at).total_seconds(), 3)},
            versions=_versions(),
            inputs={name: {"key": key(job.id, f"{name}.{image.extension}"),
                           "content_type": image.content_type, "bytes": len(image.file),
                           "width": image.width, "height": image.height}
                    for name, image in request.named_inputs().items()},
            result={"key": key(job.id, "result.png"), "bytes": png_bytes,
                    "thumbnail_key": key(job.id, "thumbnail.jpg")},
        )


def _since(moment: datetime) -> float:
    return round((utc_now() - moment).total_seconds(), 3)


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


def _versions() -> dict:
    def version(package: str) -> str:
        try:
            return package_metadata.version(package)
        except package_metadata.PackageNotFoundError:
            return "unknown"

    return {"nst": version("nst"), "tensorflow": version("tensorflow"),
            "python": platform.python_version(), "protocol": protocol.VERSION}
