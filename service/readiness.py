"""Start-up and health: the model loaded and warmed in the background, `/healthz` and `/readyz`."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse

from .engine_child import EngineLost
from .engine_process import EngineProcess
from .jobs import JobManager
from .pools import Pool, PoolBusy
from .settings import Settings
from .storage import Storage, StorageError

log = logging.getLogger("nst.service")

READY_CHECK_TTL_S = 2.0
# A probe waits this long for a storage check under way, then answers 503; the check goes on, and
# the next probe gets its result. Kubernetes' and Cloud Run's probes time out after 1 s by default.
READY_CHECK_WAIT_S = 0.8


class Readiness:
    """The engine once it is loaded and warm, and whether the service can take jobs now."""

    def __init__(self, settings: Settings, engine: EngineProcess, jobs: JobManager,
                 storage: Storage, pool: Pool) -> None:
        self.settings = settings
        self.engine = engine
        self.jobs = jobs
        self.storage = storage
        self.pool = pool
        self.created = time.perf_counter()
        self.ready = False
        self.startup_error: str | None = None
        self._storage_checked_at = -READY_CHECK_TTL_S
        self._storage_problem: str | None = "not checked yet"
        self._storage_check: asyncio.Future[None] | None = None

    @asynccontextmanager
    async def lifespan(self, app: Starlette) -> AsyncIterator[None]:
        # Start-up runs in the background so /healthz answers (and /readyz says 503) meanwhile.
        start_up = asyncio.create_task(self._start_up())
        yield
        start_up.cancel()
        await asyncio.to_thread(self.engine.close)

    async def _start_up(self) -> None:
        settings = self.settings
        try:
            load_s, warm_s = await asyncio.to_thread(self.engine.start)
        except Exception as error:  # noqa: BLE001 (a dead engine is reported by /healthz)
            self.startup_error = (str(error) if isinstance(error, EngineLost)  # names its cause
                                  else f"{type(error).__name__}: {error}")
            log.error("event=startup_failed error=%r", self.startup_error)
            return
        try:
            await self.pool.run(self.storage.ensure_bucket)
            self._storage_problem = None
        except StorageError as error:
            log.warning("event=storage_unavailable error=%r", str(error))
        self.ready = True
        model = self.engine.model
        log.info(
            "event=ready backbone=%s weights=%s precision=%s load_s=%.2f warm_s=%.2f "
            "warm_size=%d since_app_created_s=%.2f since_process_start_s=%s",
            model.backbone, model.weights, model.precision, load_s, warm_s,
            settings.default_size, time.perf_counter() - self.created, _process_age_s(),
        )

    def storage_failed(self, error: StorageError) -> None:
        """A job could not store its result: /readyz says so until storage answers again."""
        self._storage_problem = f"storage unreachable: {error.public}"
        self._storage_checked_at = time.perf_counter()

    async def healthz(self, request: Request) -> JSONResponse:
        error = self.startup_error or self.engine.failure
        if error:
            return JSONResponse({"status": "failed", "error": error}, status_code=503)
        return JSONResponse({"status": "ok"})

    async def readyz(self, request: Request) -> JSONResponse:
        problem = await self._problem()
        body = {"ready": problem is None, "running": self.jobs.running, "queued": self.jobs.waiting}
        if problem:
            return JSONResponse({**body, "reason": problem}, status_code=503)
        return JSONResponse({**body, "model": self.engine.model.as_dict()})

    async def _problem(self) -> str | None:
        if self.startup_error:
            return f"start-up failed: {self.startup_error}"
        if self.engine.failure:
            return self.engine.failure
        if not self.ready:
            return "loading and warming up the model"
        if not self.jobs.accepting:
            return "shutting down"
        now = time.perf_counter()
        if self._storage_check is None and now - self._storage_checked_at >= READY_CHECK_TTL_S:
            self._storage_checked_at = now
            self._storage_check = asyncio.ensure_future(self._check_storage())
        if self._storage_check is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._storage_check), READY_CHECK_WAIT_S)
            except asyncio.TimeoutError:
                return f"storage did not answer within {READY_CHECK_WAIT_S} s"
        return self._storage_problem

    async def _check_storage(self) -> None:
        try:
            await self.pool.run(self.storage.check)
            self._storage_problem = None
        except StorageError as error:
            self._storage_problem = f"storage unreachable: {error.public}"
        except PoolBusy:
            self._storage_problem = "storage check still under way"
        finally:
            self._storage_checked_at = time.perf_counter()
            self._storage_check = None


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
