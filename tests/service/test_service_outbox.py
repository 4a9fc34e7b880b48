"""A slow client never makes the server buffer without bound: stale frames give way to newer ones.

The Outbox is what the socket handler sends from; here a real asyncio sender that blocks (as
uvicorn's send blocks while a slow client's TCP buffer is full) stands in for the socket.
"""

from __future__ import annotations

import asyncio

from service.outbox import Outbox


def _run_slow_client(put_messages) -> tuple[list[str], int, int]:
    async def scenario() -> tuple[list[str], int, int]:
        outbox = Outbox()
        sent: list[str] = []
        release = asyncio.Event()

        async def slow_send(text: str) -> None:
            await release.wait()  # the client reads nothing until released
            sent.append(text)

        pump = asyncio.create_task(outbox.pump(slow_send))
        await asyncio.sleep(0)
        put_messages(outbox)
        most_pending = len(outbox)
        release.set()
        await asyncio.wait_for(outbox.flushed(), 5)
        pump.cancel()
        return sent, most_pending, outbox.dropped

    return asyncio.run(scenario())


def test_a_stalled_client_gets_the_newest_frame_then_the_final_frame_and_done():
    def job(outbox: Outbox) -> None:
        outbox.put("accepted")
        for epoch in range(1, 50):
            outbox.put(f"frame {epoch}", droppable=True)
        outbox.put("frame 50 (final)")
        outbox.put("done")

    sent, most_pending, dropped = _run_slow_client(job)

    # Fifty frames came while the client read nothing; at most one stale frame ever waited.
    assert sent == ["accepted", "frame 49", "frame 50 (final)", "done"]
    assert most_pending == 4 and dropped == 48


def test_a_frame_followed_by_any_other_message_is_never_dropped():
    def interrupted_job(outbox: Outbox) -> None:
        outbox.put("accepted")
        outbox.put("frame 1", droppable=True)
        outbox.put("frame 2", droppable=True)  # the last one before a shutdown interrupted it
        outbox.put("done (interrupted)")
        outbox.put("frame 1 of the next job", droppable=True)

    sent, _, dropped = _run_slow_client(interrupted_job)

    assert sent == ["accepted", "frame 2", "done (interrupted)", "frame 1 of the next job"]
    assert dropped == 1


def test_replies_to_a_client_that_never_reads_stay_bounded_and_job_messages_stay():
    def flooding_client(outbox: Outbox) -> None:
        outbox.put("accepted")
        for index in range(1000):
            outbox.reply(f"error {index}")
        outbox.put("done")

    sent, most_pending, _ = _run_slow_client(flooding_client)

    assert most_pending == 2 + Outbox.MAX_REPLIES
    assert sent == ["accepted", *(f"error {index}" for index in range(1000 - Outbox.MAX_REPLIES,
                                                                        1000)), "done"]
