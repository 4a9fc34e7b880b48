"""The sockets one process holds: refused at the handshake when they may not open, counted
against NST_MAX_CONNECTIONS, closed after NST_IDLE_TIMEOUT_S without a job.

A refusal is an HTTP answer to the upgrade request (403 for a missing key or a foreign Origin,
503 when full or shutting down) with a JSON `{"error": {"code", "message"}}` body, so no socket is
opened for a client that may not use it.
"""

from __future__ import annotations

import asyncio
import logging
import time

from starlette.responses import JSONResponse
from starlette.websockets import WebSocket

from . import metrics
from .auth import Refusal, socket_refusal
from .job import Job
from .settings import Settings

log = logging.getLogger("nst.service")

# WebSocket close codes (RFC 6455, 7.4.1), for a server that cannot answer the handshake with a
# status of our choosing (no ASGI denial-response extension): it sends 403 for any close before
# the upgrade, so "try again later" has to come after it.
POLICY_VIOLATION = 1008
TRY_AGAIN_LATER = 1013
IDLE_CLOSE = 1000
BUSY_RETRY_AFTER_S = 5


class Connections:
    """Counts this process's open sockets and decides whether a new one may open."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.open = 0

    async def admit(self, websocket: WebSocket, accepting: bool) -> bool:
        """Accept the socket, or refuse it at the handshake; True if it is open (then `release`
        it when it ends)."""
        refusal = socket_refusal(websocket, self.settings, accepting) or self._full()
        if refusal is not None:
            log.info("event=socket_refused code=%s status=%d origin=%r open=%d", refusal.code,
                     refusal.status, (websocket.headers.get("origin") or "")[:80], self.open)
            metrics.ERRORS.labels(refusal.code).inc()
            await _deny(websocket, refusal)
            return False
        self.open += 1  # before the await, so handshakes in flight count too
        try:
            await websocket.accept()
        except BaseException:
            self.release()
            raise
        return True

    def release(self) -> None:
        self.open -= 1

    def _full(self) -> Refusal | None:
        if self.open < self.settings.max_connections:
            return None
        return Refusal(503, "busy", f"this instance holds {self.settings.max_connections} "
                       "connections already; try again in a few seconds")


async def _deny(websocket: WebSocket, refusal: Refusal) -> None:
    if "websocket.http.response" in websocket.scope.get("extensions", {}):
        headers = {"Retry-After": str(BUSY_RETRY_AFTER_S)} if refusal.code == "busy" else None
        await websocket.send_denial_response(JSONResponse(
            {"error": {"code": refusal.code, "message": refusal.message}},
            status_code=refusal.status, headers=headers))
    elif refusal.status == 403:
        await websocket.close(POLICY_VIOLATION)
    else:
        await websocket.accept()
        await websocket.close(TRY_AGAIN_LATER, refusal.message[:120])


class IdleTimer:
    """When a socket has had no message and no job of its own for `timeout_s`."""

    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        self.job: Job | None = None
        self._last = time.monotonic()

    def touch(self, job: Job | None) -> None:
        """A message arrived; `job` is the connection's job after it."""
        self.job = job
        self._last = time.monotonic()

    async def expired(self) -> None:
        """Return once the socket has been idle for `timeout_s`."""
        tick = min(1.0, self.timeout_s / 4)
        while True:
            if self.job is not None and self.job.active:
                self._last = time.monotonic()
            remaining = self._last + self.timeout_s - time.monotonic()
            if remaining <= 0:
                return
            await asyncio.sleep(min(tick, remaining))


async def close_when_idle(idle: IdleTimer, websocket: WebSocket) -> None:
    await idle.expired()
    log.info("event=socket_idle_closed idle_s=%.1f", idle.timeout_s)
    try:
        await websocket.close(IDLE_CLOSE, f"idle for {idle.timeout_s:g} s without a job; "
                              "connect again to start one")
    except (RuntimeError, OSError):
        pass  # the client went at the same moment
