"""Prometheus metrics, served at `/metrics` behind NST_API_KEY or NST_ADMIN_KEY when either is set.

prometheus-client's default registry: the metrics below plus its process metrics (CPU, resident
memory, open files). Counters are bumped where the event happens, with one-line calls; the gauges
of the queue are read from the JobManager at each scrape. docs/deploy.md lists them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, get_args

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Gauge, Histogram
from prometheus_client import generate_latest
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .auth import operator_authorized
from .protocol import ErrorCode
from .settings import Settings

if TYPE_CHECKING:
    from .connections import Connections
    from .jobs import JobManager

QUEUE_LENGTH = Gauge("nst_queue_length", "Jobs waiting for a free slot (the autoscaling signal)")
JOBS_RUNNING = Gauge("nst_jobs_running", "Jobs running on the engine")
# Jobs whose socket went away while they run or wait to be reattached (resume_token).
JOBS_DETACHED = Gauge("nst_jobs_detached", "Jobs running or kept for reattachment with no socket")
CONNECTIONS = Gauge("nst_connections", "Open WebSockets (at most NST_MAX_CONNECTIONS)")
# The engine runs in a child process (service/engine_process.py): process_resident_memory_bytes
# is the service's own process only.
ENGINE_RESIDENT = Gauge("nst_engine_resident_bytes", "Resident memory of the engine process")
ENGINE_REPLACED = Counter("nst_engine_replaced",
                          "Engine processes replaced, by reason (grown or lost)", ["reason"])

JOBS_ACCEPTED = Counter("nst_jobs_accepted", "Jobs admitted to the queue")
JOBS_ENDED = Counter("nst_jobs_ended", "Jobs that ran and ended, by status", ["status"])
JOB_STATUSES = ("finished", "interrupted", "cancelled", "failed")
JOB_WAIT = Histogram("nst_job_queue_wait_seconds", "Time from accepted to running",
                     buckets=(0.1, 1, 5, 15, 30, 60, 120, 300, 600, 1800))
JOB_DURATION = Histogram("nst_job_duration_seconds",
                         "Painting time of finished and interrupted jobs (first to last step)",
                         buckets=(1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600, 1200, 1800, 3600))
STEPS_PER_SECOND = Histogram("nst_job_steps_per_second",
                             "Optimisation steps per second of finished and interrupted jobs",
                             buckets=(0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500))

FRAMES_SENT = Counter("nst_frames_sent", "Frames handed to client sockets")
FRAMES_DROPPED = Counter("nst_frames_dropped",
                         "Frames replaced by a newer one before a slow client read them")
ERRORS = Counter("nst_errors", "Error messages sent and handshakes refused, by code", ["code"])
STORAGE_FAILURES = Counter("nst_storage_failures",
                           "Results that could not be stored (the client got the image inline)")

# Every label value from the start, so rates and alerts see a 0 rather than no series.
for _code in get_args(ErrorCode):
    ERRORS.labels(_code)
for _status in JOB_STATUSES:
    JOBS_ENDED.labels(_status)

_FRAME_PREFIX = '{"type":"frame"'  # `type` is the first field of every server message


def counting_frames(send: Callable[[str], Awaitable[None]]) -> Callable[[str], Awaitable[None]]:
    """`send`, counting the frames that went out."""
    async def send_counted(text: str) -> None:
        await send(text)
        if text.startswith(_FRAME_PREFIX):
            FRAMES_SENT.inc()
    return send_counted


def job_ended(status: str, steps: int = 0, painting_s: float = 0.0) -> None:
    JOBS_ENDED.labels(status).inc()
    if status in ("finished", "interrupted") and painting_s > 0:
        JOB_DURATION.observe(painting_s)
        STEPS_PER_SECOND.observe(steps / painting_s)


class MetricsRoute:
    """`GET /metrics` in Prometheus' text format."""

    def __init__(self, settings: Settings, jobs: JobManager, connections: Connections) -> None:
        self.settings = settings
        self.jobs = jobs
        self.connections = connections

    async def endpoint(self, request: Request) -> Response:
        if not operator_authorized(request, self.settings):
            return JSONResponse({"error": {"code": "unauthorized", "message":
                                 "add 'Authorization: Bearer KEY' (NST_API_KEY or NST_ADMIN_KEY)"}},
                                status_code=401)
        QUEUE_LENGTH.set(self.jobs.waiting)
        JOBS_RUNNING.set(self.jobs.running)
        JOBS_DETACHED.set(self.jobs.detached)
        CONNECTIONS.set(self.connections.open)
        return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
