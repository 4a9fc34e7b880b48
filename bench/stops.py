"""Stop latency: how soon a `cancel` or SIGTERM ends a job that is inside one long epoch.

Both on a live `nst serve` over a real WebSocket. The job is one epoch of many steps; a few
seconds in, the client sends `cancel` (or the benchmark sends the service SIGTERM), and the clock
runs until the last frame (the image the job reached: the stop itself) and until the job's last
message (`done` cancelled or interrupted, after storing the image). Beside it, the service's
seconds per step at the same size, from a job of two short epochs (the second epoch's time).
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass

from websockets.sync.client import ClientConnection, connect

from service import protocol
from service.engine import StyleParams
from service.protocol import Accepted, Cancel, Done, Error, FrameMessage

from .streaming import JOB_TIMEOUT_S, start_message

TIMING_STEPS = 5  # steps in each of the two epochs that time a step
REPLY_TIMEOUT_S = 120.0  # the slowest answer expected after a stop: the step, then storing


@dataclass(frozen=True)
class Stop:
    how: str  # "cancel" or "SIGTERM"
    size: int
    steps_per_epoch: int
    after_s: float  # how long the job had run (from `accepted`) when it was told to stop
    step_s: float  # the service's seconds per step at this size
    steps_done: int  # where the epoch stopped
    frame_s: float  # from the stop to the last frame
    end_s: float  # from the stop to the job's last message

    @property
    def bound_s(self) -> float:
        """The target for the stop itself: one step plus 0.5 s."""
        return self.step_s + 0.5


def seconds_per_step(url: str, files: tuple[bytes, bytes], size: int) -> float:
    """The second of two epochs of TIMING_STEPS steps, per step (the first holds the targets)."""
    params = StyleParams(epochs=2, steps_per_epoch=TIMING_STEPS, size=size)
    with connect(url, max_size=None, open_timeout=15) as socket:
        socket.send(start_message(*files, params).model_dump_json(exclude_none=True))
        frames = [message for message, _ in _until_end(socket, JOB_TIMEOUT_S)
                  if isinstance(message, FrameMessage)]
    if len(frames) != 2:
        raise RuntimeError(f"the timing job ended after {len(frames)} of 2 frames")
    return (frames[1].elapsed_s - frames[0].elapsed_s) / TIMING_STEPS


def measure_cancel(url: str, files: tuple[bytes, bytes], params: StyleParams, after_s: float,
                   step_s: float) -> Stop:
    def cancel(socket: ClientConnection) -> None:
        socket.send(Cancel(type="cancel").model_dump_json())

    stop, last = _stopped_job(url, files, params, after_s, step_s, "cancel", cancel)
    if not (isinstance(last, Done) and last.status == "cancelled" and last.stored):
        raise RuntimeError(f"the job ended with {last!r}, not done cancelled and stored")
    return stop


def measure_sigterm(url: str, process: subprocess.Popen, files: tuple[bytes, bytes],
                    params: StyleParams, after_s: float, step_s: float) -> Stop:
    """The service must run with NST_SHUTDOWN_GRACE_S=0; it exits after this."""
    stop, last = _stopped_job(url, files, params, after_s, step_s, "SIGTERM",
                              lambda socket: process.send_signal(signal.SIGTERM))
    if not (isinstance(last, Done) and last.status == "interrupted" and last.stored):
        raise RuntimeError(f"the job ended with {last!r}, not done interrupted and stored")
    return stop


def _stopped_job(url: str, files: tuple[bytes, bytes], params: StyleParams, after_s: float,
                 step_s: float, how: str, stop: Callable[[ClientConnection], None]
                 ) -> tuple[Stop, Done | Error]:
    with connect(url, max_size=None, open_timeout=15) as socket:
        socket.send(start_message(*files, params).model_dump_json(exclude_none=True))
        accepted = protocol.server_message.validate_json(socket.recv(timeout=JOB_TIMEOUT_S))
        if not (isinstance(accepted, Accepted) and accepted.position == 0):
            raise RuntimeError(f"the long job did not start at once: {accepted!r}")
        time.sleep(after_s)
        stop(socket)
        stopped = time.perf_counter()
        messages = _until_end(socket, REPLY_TIMEOUT_S)
    frames = [(message, at) for message, at in messages if isinstance(message, FrameMessage)]
    if not frames:
        raise RuntimeError(f"the {how} job ended with no frame: {messages[-1][0]!r}")
    frame, frame_at = frames[-1]
    last, end_at = messages[-1]
    return Stop(how, params.size, params.steps_per_epoch, after_s, step_s, frame.step,
                frame_at - stopped, end_at - stopped), last


def _until_end(socket: ClientConnection, timeout_s: float) -> list[tuple[object, float]]:
    """Every server message up to `done` or `error`, with the time it arrived."""
    messages = []
    while True:
        message = protocol.server_message.validate_json(socket.recv(timeout=timeout_s))
        messages.append((message, time.perf_counter()))
        if isinstance(message, (Done, Error)):
            return messages
