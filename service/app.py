"""The Starlette app: health routes, the `/ws/stylize` socket, and the `/v1` results API.

Only the wiring lives here. Each route's work is in a module named after it: readiness.py
(start-up, /healthz, /readyz), stylize_socket.py (the socket loop), connections.py (handshake,
connection cap, idle close), admission.py (checking a `start`), running.py (running and storing a
job), results_api.py (/v1), auth.py (API key, Origin), metrics.py (/metrics).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.routing import Mount, Route, WebSocketRoute

from .connections import Connections
from .engine_process import EngineProcess
from .jobs import JobManager
from .metrics import MetricsRoute
from .pools import Pools
from .readiness import Readiness
from .results_api import ResultsApi
from .retention import Retention
from .running import JobRunner
from .settings import Settings
from .storage import Storage
from .stylize_socket import StylizeSocket


def create_app(settings: Settings) -> Starlette:
    """The app for `settings`; the engine process starts (loads and warms) at start-up."""
    jobs = JobManager(settings.max_concurrent_jobs, settings.max_queue, settings.detach_grace_s,
                      settings.max_jobs_per_client)
    pools = Pools.create(settings)
    storage = Storage(settings)
    readiness = Readiness(settings, EngineProcess(settings), jobs, storage, pools.readiness)
    runner = JobRunner(lambda: readiness.engine, storage, readiness.storage_failed)
    results = ResultsApi(settings, storage, pools.storage)
    connections = Connections(settings)
    retention = Retention(settings, storage)
    cors = Middleware(
        CORSMiddleware,
        allow_origins=settings.allowed_origins,
        allow_methods=["GET", "DELETE"],
        allow_headers=["Authorization", "X-NST-Token", "X-NST-Tokens"],
        max_age=600,
    )
    routes = [
        Route("/healthz", readiness.healthz),
        Route("/readyz", readiness.readyz),
        Route("/metrics", MetricsRoute(settings, jobs, connections).endpoint),
        WebSocketRoute("/ws/stylize", StylizeSocket(settings, jobs, readiness, runner,
                                                    connections, pools).handle),
        Mount("/v1", routes=[
            Route("/jobs/{job_id}", results.job, methods=["GET", "DELETE"]),
            Route("/results", results.results),
        ], middleware=[cors]),
    ]

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with readiness.lifespan(app), retention.running():
            yield

    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.jobs = jobs  # nst serve drains them on SIGTERM
    return app
