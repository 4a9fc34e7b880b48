"""Shapes: does a service that has painted many image shapes keep its memory, and does a new shape
start as quickly as a known one?

One-step jobs on a live `nst serve` of their own, each with the sample photo resized to a random
shape: the longer side uniform from `min_size` to the service's NST_MAX_SIZE, the aspect ratio
log-uniform from 1:3 to 3:1. The service's VmRSS (its process and its engine process, once no
engine replacement is under way) is read after the first few jobs and after all of them. Then, in rounds, a one-step job at a shape never sent before and the same job again, each
timed from sending `start` to receiving the first frame.
"""

from __future__ import annotations

import io
import math
import statistics
import time
from dataclasses import dataclass

import numpy as np
from PIL import Image

from service.engine import StyleParams
from service.job_client import run_job
from service.protocol import Error, FrameMessage

from .memory import settled_tree_mib
from .streaming import JOB_TIMEOUT_S, start_message

ASPECT_MAX = 3.0  # the widest and the tallest picture: 3:1 and 1:3
SEED = 12  # the same shapes in every run


@dataclass(frozen=True)
class Shapes:
    min_size: int
    max_size: int
    shapes: list[tuple[int, int]]  # (height, width) of each job before the latency rounds
    first_jobs: int
    after_first_mib: float  # VmRSS after the first `first_jobs` jobs
    after_all_mib: float  # VmRSS after all of `shapes`
    new_shape_samples: list[float]  # seconds from `start` to the first frame, a never-seen shape
    seen_shape_samples: list[float]  # the same shape, sent again right after

    @property
    def growth_mib(self) -> float:
        return self.after_all_mib - self.after_first_mib

    @property
    def new_shape_s(self) -> float:
        return statistics.median(self.new_shape_samples)

    @property
    def seen_shape_s(self) -> float:
        return statistics.median(self.seen_shape_samples)

    @property
    def new_shape_extra_s(self) -> float:
        """What a never-seen shape costs over a seen one (median of the per-round differences)."""
        return statistics.median(new - seen for new, seen in
                                 zip(self.new_shape_samples, self.seen_shape_samples))


def measure_shapes(url: str, pid: int, content: np.ndarray, style: bytes, min_size: int,
                   max_size: int, first_jobs: int, jobs: int, latency_rounds: int) -> Shapes:
    """`content`: the decoded photo to resize; `style`: the painting's file as uploaded."""
    rng = np.random.default_rng(SEED)
    shapes = [random_shape(rng, min_size, max_size) for _ in range(jobs)]
    for shape in shapes[:first_jobs]:
        first_frame_s(url, photo_file(content, shape), style)
    after_first = settled_tree_mib(pid)
    for shape in shapes[first_jobs:]:
        first_frame_s(url, photo_file(content, shape), style)
    after_all = settled_tree_mib(pid)
    seen, new_samples, seen_samples = set(shapes), [], []
    for _ in range(latency_rounds):
        shape = random_shape(rng, min_size, max_size)
        while shape in seen:
            shape = random_shape(rng, min_size, max_size)
        seen.add(shape)
        photo = photo_file(content, shape)
        new_samples.append(first_frame_s(url, photo, style))
        seen_samples.append(first_frame_s(url, photo, style))
    return Shapes(min_size, max_size, shapes, first_jobs, after_first, after_all, new_samples,
                  seen_samples)


def random_shape(rng: np.random.Generator, min_size: int, max_size: int) -> tuple[int, int]:
    """(height, width): the longer side uniform in [min_size, max_size], width / height
    log-uniform in [1/3, 3]."""
    longer = int(rng.integers(min_size, max_size + 1))
    aspect = math.exp(rng.uniform(-math.log(ASPECT_MAX), math.log(ASPECT_MAX)))
    if aspect >= 1:
        return max(1, round(longer / aspect)), longer
    return longer, max(1, round(longer * aspect))


def photo_file(content: np.ndarray, shape: tuple[int, int]) -> bytes:
    """The photo stretched to `shape`, as the JPEG a client would upload."""
    height, width = shape
    buffer = io.BytesIO()
    Image.fromarray(content).resize((width, height), Image.Resampling.LANCZOS).save(
        buffer, "JPEG", quality=90)
    return buffer.getvalue()


def first_frame_s(url: str, photo: bytes, style: bytes) -> float:
    """A one-step job whose output is the photo's own shape: seconds from sending `start` (the
    socket opened just before) to receiving the frame."""
    width, height = Image.open(io.BytesIO(photo)).size
    params = StyleParams(epochs=1, steps_per_epoch=1, size=max(width, height))
    first_frame: list[float] = []
    started = time.perf_counter()
    last = run_job(url, start_message(photo, style, params),
                   lambda message: isinstance(message, FrameMessage)
                   and first_frame.append(time.perf_counter()), timeout_s=JOB_TIMEOUT_S)
    if isinstance(last, Error) or not first_frame:
        raise RuntimeError(f"the service refused a {width}x{height} px job: {last}")
    return first_frame[0] - started
