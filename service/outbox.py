"""A socket's outgoing messages, bounded however slow the client (`Outbox`)."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Literal

from . import metrics


class Outbox:
    """The messages waiting to go out on one socket, in order, never more than a few.

    A frame is droppable: if the newest queued message is an unsent frame, a newer frame takes its
    place, so a slow client costs at most one pending frame, never an unbounded buffer. Anything
    queued after a frame (the next frame excepted) pins it, so the final frame always arrives
    before `done`. Replies to the client's own messages (errors about them) are bounded too: past
    MAX_REPLIES unsent, the oldest gives way. The rest (`accepted`, `queued`, `done`, a job's
    error) is a handful per job.
    """

    MAX_REPLIES = 8

    def __init__(self) -> None:
        self._items: deque[tuple[str, Literal["message", "frame", "reply"]]] = deque()
        self._ready = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self.dropped = 0
        self.replies_dropped = 0

    def put(self, text: str, droppable: bool = False) -> None:
        if droppable and self._items and self._items[-1][1] == "frame":
            self._items.pop()
            self.dropped += 1
            metrics.FRAMES_DROPPED.inc()
        self._append(text, "frame" if droppable else "message")

    def reply(self, text: str) -> None:
        """Queue an answer to a client's message; the oldest unsent one goes past MAX_REPLIES."""
        replies = [item for item in self._items if item[1] == "reply"]
        if len(replies) >= self.MAX_REPLIES:
            self._items.remove(replies[0])
            self.replies_dropped += 1
        self._append(text, "reply")

    def _append(self, text: str, kind: Literal["message", "frame", "reply"]) -> None:
        self._items.append((text, kind))
        self._idle.clear()
        self._ready.set()

    def __len__(self) -> int:
        return len(self._items)

    async def pump(self, send: Callable[[str], Awaitable[None]]) -> None:
        """Send messages as they come, for as long as the socket lives (cancel to stop)."""
        while True:
            while not self._items:
                self._idle.set()
                self._ready.clear()
                await self._ready.wait()
            text, _ = self._items.popleft()
            await send(text)
            if not self._items:
                self._idle.set()

    async def flushed(self) -> None:
        """Return once every queued message has been handed to the socket."""
        await self._idle.wait()
