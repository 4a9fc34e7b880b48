"""`nst serve`: the app under uvicorn, configured by the environment, draining on SIGTERM.

Platforms (Cloud Run, Kubernetes) send SIGTERM, wait a grace period, then SIGKILL. On the first
SIGTERM or Ctrl+C the server keeps its socket open but takes no new jobs (new sockets and queued
jobs get `shutting_down`, /readyz says 503), lets running jobs (followed by a socket or not) run
until a few seconds before NST_SHUTDOWN_GRACE_S ends, then interrupts them within an optimisation
step, stores the image each reached as `interrupted`, sends `done` to whoever follows them, and
exits 0, all within the grace. A second signal exits at once. A SIGKILL loses what runs or waits.
"""

from __future__ import annotations

import asyncio
import copy
import ctypes
import logging
import sys
from types import FrameType

import uvicorn
from uvicorn.config import LOGGING_CONFIG

from .app import create_app
from .engine.params import MAX_STYLES  # no TensorFlow
from .jobs import JobManager
from .redaction import RedactSecrets
from .settings import Settings

log = logging.getLogger("nst.server")

# uvicorn's extra seconds, after our drain, for connections to close before it cancels them.
CLOSE_TIMEOUT_S = 5


def ws_message_limit(settings: Settings) -> int:
    """uvicorn's ws_max_size: a `start` holds the photo and up to MAX_STYLES paintings of
    NST_MAX_UPLOAD_MB each at most, in base64 (admission checks each image against its limit)."""
    return (1 + MAX_STYLES) * settings.max_upload_bytes * 4 // 3 + 64 * 1024


class DrainingServer(uvicorn.Server):
    """uvicorn's server, with our drain before its shutdown (which closes sockets with 1012)."""

    def __init__(self, config: uvicorn.Config, jobs: JobManager, grace_s: float) -> None:
        super().__init__(config)
        self.jobs = jobs
        self.grace_s = grace_s
        self._loop: asyncio.AbstractEventLoop | None = None
        self._draining = False

    async def serve(self, sockets=None) -> None:  # noqa: ANN001 (uvicorn's signature)
        self._loop = asyncio.get_running_loop()
        await super().serve(sockets)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        # Replaces uvicorn's handler, which would also re-raise the signal after shutdown and so
        # end the process with -15 instead of 0.
        if self._draining or self._loop is None:
            self.force_exit = self._draining
            self.should_exit = True
            return
        self._draining = True
        log.info("event=shutdown_requested signal=%d grace_s=%.1f running=%d queued=%d",
                 sig, self.grace_s, self.jobs.running, self.jobs.waiting)
        self._loop.call_soon_threadsafe(lambda: asyncio.ensure_future(self._drain_then_exit()))

    async def _drain_then_exit(self) -> None:
        try:
            await self.jobs.drain(self.grace_s)
        finally:
            log.info("event=drained")
            self.should_exit = True


def logging_config(level: str, secrets: list[str] = ()) -> dict:
    config = copy.deepcopy(LOGGING_CONFIG)
    config["filters"] = {"redact_secrets": {"()": RedactSecrets, "secrets": list(secrets)}}
    config["formatters"]["nst"] = {
        "format": "%(asctime)s %(levelname)s %(name)s %(message)s",
    }
    config["handlers"]["nst"] = {
        "formatter": "nst", "class": "logging.StreamHandler", "stream": "ext://sys.stderr",
    }
    for handler in config["handlers"].values():
        handler["filters"] = ["redact_secrets"]
    config["loggers"]["nst"] = {"handlers": ["nst"], "level": level.upper(), "propagate": False}
    return config


# glibc's mallopt parameter: how many malloc arenas threads may spread over.
_M_ARENA_MAX = -8


def limit_malloc_arenas(arenas: int = 2) -> None:
    """Let threads share `arenas` glibc malloc arenas instead of up to 8 per core.

    Each arena keeps what its threads freed, so with many threads (uvicorn's, the pools', the
    jobs', TensorFlow's) a burst of large messages or decodes stays in the process for good.
    """
    try:
        ctypes.CDLL("libc.so.6").mallopt(_M_ARENA_MAX, arenas)
    except (OSError, AttributeError):
        pass  # not glibc: its allocator has its own policy


def main() -> int:
    limit_malloc_arenas()
    settings = Settings()
    app = create_app(settings)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        ws_max_size=ws_message_limit(settings),
        # Compression lets a few KB off the wire inflate to thousands of queued messages at once
        # (a flood of 50 KB messages compresses 500:1); images and JPEG frames barely compress.
        ws_per_message_deflate=False,
        log_level=settings.log_level,
        log_config=logging_config(settings.log_level, [
            key.get_secret_value() for key in (settings.api_key, settings.admin_key) if key]),
        lifespan="on",
        timeout_graceful_shutdown=CLOSE_TIMEOUT_S,
    )
    server = DrainingServer(config, app.state.jobs, settings.shutdown_grace_s)
    log.info("event=starting host=%s port=%d backbone=%s weights=%s slots=%d max_queue=%d "
             "auth=%s origins=%s", settings.host, settings.port, settings.backbone or "auto",
             settings.weights, settings.max_concurrent_jobs, settings.max_queue,
             "api_key" if settings.api_key else "none", ",".join(settings.allowed_origins) or "-")
    server.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
