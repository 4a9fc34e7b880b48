"""Answers under abuse, on a live `nst serve`: what a client waits for while others misbehave.

- `busy`: the queue full (one job running, NST_MAX_QUEUE=1 waiting), a `start` with two 5000 x 5000
  PNGs, to its `busy` answer (median of BUSY_ROUNDS); no image is decoded for it.
- Storage hung: the service's SeaweedFS frozen with SIGSTOP and HUNG_CALLS `/v1/results` calls
  waiting on it; then `/healthz` (median of PROBES) and a small `start` to its `accepted`.
- A 40 MB message: the slowest `/healthz` while a 40 MB `start` (two 15 MB uploads of noise) is
  received and parsed, probed every 10 ms (median over BIG_MESSAGE_ROUNDS messages).
"""

from __future__ import annotations

import functools
import io
import os
import signal
import statistics
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass

import numpy as np
from PIL import Image
from websockets.sync.client import ClientConnection, connect

from service import protocol
from service.engine import StyleParams
from service.protocol import Accepted, Cancel, Done, Error

from .live_service import LiveService
from .streaming import start_message

BUSY_ROUNDS = 5
BIG_MESSAGE_ROUNDS = 3
PROBES = 5
HUNG_CALLS = 20
LONG_JOB = StyleParams(epochs=50, steps_per_epoch=50, size=64)
# The production image's limits, so that 5000 x 5000 px and 40 MB messages are admissible.
# A public gallery, so that `/v1/results` asks storage without tokens.
SERVICE_ENV = {"NST_MAX_QUEUE": "1", "NST_MAX_PIXELS": "40000000", "NST_MAX_UPLOAD_MB": "16",
               "NST_S3_ATTEMPTS": "1", "NST_S3_TIMEOUT_S": "30", "NST_PUBLIC_GALLERY": "true"}


@dataclass(frozen=True)
class Abuse:
    busy_s: float
    healthz_40mb_s: float  # the slowest probe
    healthz_storage_hung_s: float
    accepted_storage_hung_s: float


def measure_abuse(env: dict[str, str], files: tuple[bytes, bytes]) -> Abuse:
    with LiveService({**env, **SERVICE_ENV}) as service:
        http_url = f"http://127.0.0.1:{service.port}"
        healthz_40mb_s = statistics.median(
            slowest_healthz_during_big_message(service.ws_url, http_url)
            for _ in range(BIG_MESSAGE_ROUNDS))
        busy_s = _busy(service.ws_url, files)
        healthz_s, accepted_s = _with_storage_hung(service, http_url, files)
    return Abuse(busy_s, healthz_40mb_s, healthz_s, accepted_s)


def _busy(url: str, files: tuple[bytes, bytes]) -> float:
    huge = _huge_png()
    with connect(url, max_size=None, open_timeout=15) as running, \
            connect(url, max_size=None, open_timeout=15) as waiting:
        for socket, position in ((running, 0), (waiting, 1)):
            socket.send(start_message(*files, LONG_JOB).model_dump_json(exclude_none=True))
            accepted = _next(socket)
            if not (isinstance(accepted, Accepted) and accepted.position == position):
                raise RuntimeError(f"expected accepted at {position}, got {accepted!r}")
        message = start_message(huge, huge, LONG_JOB).model_dump_json(exclude_none=True)
        timings = []
        for _ in range(BUSY_ROUNDS):
            with connect(url, max_size=None, open_timeout=15) as late:
                began = time.perf_counter()
                late.send(message)
                answer = _next(late)
                timings.append(time.perf_counter() - began)
            if not (isinstance(answer, Error) and answer.code == "busy"):
                raise RuntimeError(f"expected busy, got {answer!r}")
        for socket in (running, waiting):  # a job outlives its socket: cancel it
            socket.send(Cancel(type="cancel").model_dump_json())
        for socket in (running, waiting):
            while not isinstance(_next(socket), (Done, Error)):
                pass
    return statistics.median(timings)


def _with_storage_hung(service: LiveService, http_url: str, files: tuple[bytes, bytes]
                       ) -> tuple[float, float]:
    storage = service.storage.process
    time.sleep(2.5)  # the readiness check's last answer goes stale: /readyz asks storage again
    os.kill(storage.pid, signal.SIGSTOP)
    try:
        for _ in range(HUNG_CALLS):
            threading.Thread(target=_get, args=(f"{http_url}/v1/results", 60), daemon=True).start()
        time.sleep(1.0)
        probes = []
        for _ in range(PROBES):
            began = time.perf_counter()
            _get(f"{http_url}/healthz", 10)
            probes.append(time.perf_counter() - began)
        with connect(service.ws_url, max_size=None, open_timeout=15) as socket:
            began = time.perf_counter()
            socket.send(start_message(*files, LONG_JOB).model_dump_json(exclude_none=True))
            accepted = _next(socket)
            accepted_s = time.perf_counter() - began
            socket.send(Cancel(type="cancel").model_dump_json())  # it stores once storage thaws
        if not isinstance(accepted, Accepted):
            raise RuntimeError(f"expected accepted, got {accepted!r}")
    finally:
        os.kill(storage.pid, signal.SIGCONT)
    return statistics.median(probes), accepted_s


def slowest_healthz_during_big_message(url: str, http_url: str) -> float:
    """The slowest `/healthz`, probed every 10 ms, while a 40 MB `start` of noise is received and
    parsed, to its `bad_image` answer. Raises if a probe was not answered 200."""
    message = _big_message()
    latencies: list[float] = []
    statuses: list[int | None] = []
    done = threading.Event()

    def probe() -> None:
        while not done.is_set():
            began = time.perf_counter()
            statuses.append(_status(f"{http_url}/healthz", 10))
            latencies.append(time.perf_counter() - began)
            time.sleep(0.01)

    prober = threading.Thread(target=probe, daemon=True)
    prober.start()
    try:
        with connect(url, max_size=None, open_timeout=15) as socket:
            socket.send(message)
            answer = _next(socket)
    finally:
        done.set()
        prober.join()
    if not (isinstance(answer, Error) and answer.code == "bad_image"
            and "not a PNG" in answer.message):
        raise RuntimeError(f"expected bad_image for 40 MB of noise, got {answer!r}")
    if len(statuses) < 3 or set(statuses) != {200}:
        raise RuntimeError(f"/healthz answered {statuses} while the message was handled")
    return max(latencies)


@functools.cache
def _big_message() -> str:
    """A 40 MB `start` of two 15 MB uploads of noise (not images), built once for every round."""
    noise = np.random.default_rng(0).integers(0, 256, 15 * 1024 * 1024, np.uint8).tobytes()
    return start_message(noise, noise, LONG_JOB).model_dump_json(exclude_none=True)


def _huge_png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (5000, 5000), (40, 90, 160)).save(buffer, "PNG")
    return buffer.getvalue()


def _next(socket: ClientConnection) -> object:
    return protocol.server_message.validate_json(socket.recv(timeout=120))


def _get(url: str, timeout_s: float) -> None:
    _status(url, timeout_s)  # a 503 or a timeout: only the time it took matters here


def _status(url: str, timeout_s: float) -> int | None:
    """The HTTP status, or None when there was no answer within the timeout."""
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            response.read()
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return None


def main() -> None:
    """`python -m bench.abuse`: these figures alone, in under a minute."""
    from .config import SAMPLES

    files = tuple((SAMPLES / name).read_bytes() for name in ("tubingen.jpg", "starry_night.jpg"))
    abuse = measure_abuse({}, files)
    print(f"busy answer, queue full, two 5000 x 5000 PNGs: {abuse.busy_s * 1e3:.1f} ms\n"
          f"storage hung: accepted in {abuse.accepted_storage_hung_s * 1e3:.0f} ms, "
          f"/healthz in {abuse.healthz_storage_hung_s * 1e3:.1f} ms\n"
          f"/healthz during a 40 MB message, slowest probe: {abuse.healthz_40mb_s * 1e3:.0f} ms")


if __name__ == "__main__":
    main()
