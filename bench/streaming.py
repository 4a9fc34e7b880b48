"""Streaming overhead: one job through the service over a real WebSocket, and on the bare engine.

The service side is timed by the client, from connecting to receiving `done`: it includes
sending and decoding the images, a JPEG frame per epoch, storing the result in SeaweedFS, and the
socket. The bare side is `Engine.stylize` on the decoded images in this process. One untimed job
warms each side (tracing for this image size), then rounds alternate which side goes first.
"""

from __future__ import annotations

import base64
import statistics
import time
from dataclasses import dataclass

import numpy as np

from service.engine import Engine, StyleParams
from service.job_client import run_job
from service.protocol import Error, FrameMessage, Start

JOB_TIMEOUT_S = 1800


@dataclass(frozen=True)
class Streaming:
    size: int
    epochs: int
    steps_per_epoch: int
    service_samples: list[float]  # seconds per job, send `start` to `done`
    engine_samples: list[float]  # seconds per job, bare engine
    # The engine's own time inside the service (its last frame's elapsed_s): tells whether the
    # overhead is around the engine (decoding, encoding, storage, socket) or in it.
    inside_service_samples: list[float]

    @property
    def service_s(self) -> float:
        return statistics.median(self.service_samples)

    @property
    def engine_s(self) -> float:
        return statistics.median(self.engine_samples)

    @property
    def inside_service_s(self) -> float:
        return statistics.median(self.inside_service_samples)

    @property
    def ratio(self) -> float:
        """Service wall time over the bare engine's (1.03 is 3% overhead)."""
        return self.service_s / self.engine_s


def run_service_job(url: str, content: bytes, style: bytes,
                    params: StyleParams) -> tuple[float, float]:
    """One job over the WebSocket: (wall time, the engine's time by its last frame).

    Raises if the job does not end in `done`.
    """
    start = Start(type="start", content=base64.b64encode(content).decode(),
                  style=base64.b64encode(style).decode(), epochs=params.epochs,
                  steps_per_epoch=params.steps_per_epoch, size=params.size)
    frames: list[FrameMessage] = []
    started = time.perf_counter()
    last = run_job(url, start, lambda message: isinstance(message, FrameMessage)
                   and frames.append(message), timeout_s=JOB_TIMEOUT_S)
    wall_s = time.perf_counter() - started
    if isinstance(last, Error):
        raise RuntimeError(f"the service refused the benchmark job ({last.code}): {last.message}")
    return wall_s, frames[-1].elapsed_s if frames else float("nan")


def run_engine_job(engine: Engine, content: np.ndarray, style: np.ndarray,
                   params: StyleParams) -> float:
    started = time.perf_counter()
    for _ in engine.stylize(content, style, params):
        pass
    return time.perf_counter() - started


def measure_streaming(url: str, engine: Engine, files: tuple[bytes, bytes],
                      images: tuple[np.ndarray, np.ndarray], params: StyleParams,
                      rounds: int) -> Streaming:
    """`files`: the encoded images the client sends; `images`: the same, decoded, for the engine."""
    run_service_job(url, *files, params)
    run_engine_job(engine, *images, params)
    service_jobs: list[tuple[float, float]] = []
    engine_samples: list[float] = []
    for round_number in range(rounds):
        service_first = round_number % 2 == 0
        if service_first:
            service_jobs.append(run_service_job(url, *files, params))
        engine_samples.append(run_engine_job(engine, *images, params))
        if not service_first:
            service_jobs.append(run_service_job(url, *files, params))
    return Streaming(params.size, params.epochs, params.steps_per_epoch,
                     [wall for wall, _ in service_jobs], engine_samples,
                     [inside for _, inside in service_jobs])
