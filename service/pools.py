"""Bounded worker pools, one per kind of blocking work, so that one stuck cannot starve another.

A hung storage server holds the threads of `storage` (the /v1 routes) and of `readiness`, never
those that decode a new job's images or parse a client's message. A pool refuses work beyond its
workers and backlog (PoolBusy) rather than queueing it without end.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

from .settings import Settings

T = TypeVar("T")


class PoolBusy(Exception):
    """Every worker of a pool is busy and its backlog is full."""


class Pool:
    def __init__(self, name: str, workers: int, backlog: int) -> None:
        self.name = name
        self.limit = workers + backlog
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"nst-{name}")
        self._lock = threading.Lock()
        self._in_flight = 0  # running or waiting for a worker; a cancelled await does not end it

    @property
    def in_flight(self) -> int:
        return self._in_flight

    async def run(self, function: Callable[..., T], *args: object) -> T:
        with self._lock:
            if self._in_flight >= self.limit:
                raise PoolBusy(self.name)
            self._in_flight += 1
        future = self._executor.submit(function, *args)
        future.add_done_callback(self._finished)
        return await asyncio.wrap_future(future)

    def _finished(self, _: Future) -> None:
        with self._lock:
            self._in_flight -= 1


@dataclass(frozen=True)
class Pools:
    # One worker: a decode may briefly hold a whole picture at full size (a PNG has no reduced
    # decoding), so decoding one at a time bounds that memory; queued jobs are few anyway.
    decode: Pool
    # JSON validation and base64 of messages too big to parse on the event loop.
    parse: Pool
    # The /v1 routes' storage calls; when storage hangs they fill up and /v1 answers 503 at once.
    storage: Pool
    # The /readyz storage check: one at a time, its result shared by every probe meanwhile.
    readiness: Pool

    @classmethod
    def create(cls, settings: Settings) -> "Pools":
        admitted = settings.max_concurrent_jobs + settings.max_queue  # jobs decoding at most
        return cls(decode=Pool("decode", 1, admitted), parse=Pool("parse", 2, 64),
                   storage=Pool("storage", 4, 16), readiness=Pool("readiness", 1, 0))
