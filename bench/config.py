"""What one benchmark run measures and how long it spends on each figure: full and quick."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"  # samples/ and references/, beside the checkout
SAMPLES = SHARED / "samples"


@dataclass(frozen=True)
class Controls:
    """The painting controls' measures (bench/painting_controls.py): jobs of `epochs` x `steps`
    at `size` px on the first `colour_pairs` and `scale_pairs` pairs; steering after
    `steer_before` steps, judged `steer_after` steps later, in epochs of `steer_epoch` steps;
    `style_only` adds the brush scale on texture alone."""

    size: int = 192
    epochs: int = 5
    steps: int = 20
    colour_pairs: int = 2
    scale_pairs: int = 2
    style_only: bool = True
    steer_before: int = 100
    steer_after: int = 200
    steer_epoch: int = 20


# About 3 minutes on a quiet 2-core machine.
QUICK_CONTROLS = Controls(size=128, epochs=3, steps=20, colour_pairs=1, scale_pairs=1,
                          style_only=False, steer_before=60, steer_after=120)


@dataclass(frozen=True)
class BenchConfig:
    quick: bool = False
    command: str = "make bench"
    samples: Path = SAMPLES
    content: str = "tubingen.jpg"
    style: str = "starry_night.jpg"
    output: Path = ROOT / "docs" / "benchmarks.md"
    images: Path = ROOT / "docs" / "images"  # bench-reference.png and bench-nst.png go here

    # Step speed: per (backbone, size), `speed_rounds` alternating rounds of `speed_epochs` epochs
    # of `speed_steps` steps on each side; the first nst epoch of each round is not timed.
    backbones: tuple[str, ...] = ("vgg19", "vgg16")
    speed_sizes: tuple[int, ...] = (256, 512)
    speed_skipped: tuple[tuple[str, int], ...] = ()  # (backbone, size) rows left out
    speed_rounds: int = 4
    speed_epochs: int = 3
    speed_steps: int = 5

    # Time to quality: the reference's full run is `reference_epochs` x `reference_steps`.
    quality_size: int = 256
    reference_epochs: int = 10
    reference_steps: int = 100

    # The service figures.
    service: bool = True
    service_env: dict = field(default_factory=dict)  # extra NST_* for `nst serve` (tests only)
    cold_start_size: int = 256
    cold_start_steps: int | None = None  # None: nst's default steps per epoch
    streaming_size: int = 256
    streaming_epochs: int = 10
    streaming_steps: int = 10
    streaming_rounds: int = 3
    memory_size: int = 512
    memory_epochs: int = 2
    memory_steps: int = 3
    image: bool = True  # the CPU image's size and ready time (image.py; root and podman)
    controls: Controls | None = QUICK_CONTROLS  # the full measures: python -m bench.painting_controls

    # Robustness (bench/robustness.py): the first `robustness_pairs` of its PAIRS, each as a
    # 3 x 15-step job at every size, and the first `robustness_default_jobs` of them also as the
    # default job at `robustness_default_size`.
    robustness_pairs: int = 10
    robustness_sizes: tuple[int, ...] = (128, 192, 256, 384, 512)
    robustness_default_jobs: int = 10
    robustness_default_size: int = 256

    # Shapes, on a service of their own with NST_MAX_SIZE = `shape_max_size`: one-step jobs of
    # random size and aspect ratio, resident memory after the first `shape_first_jobs` and after
    # `shape_jobs`; then `shape_latency_rounds` pairs of a never-seen shape and the same again.
    shape_min_size: int = 96
    shape_max_size: int = 1024
    shape_first_jobs: int = 5
    shape_jobs: int = 50
    shape_latency_rounds: int = 3

    # Stop latency: one epoch of `stop_steps` steps at `stop_size` px, stopped `stop_after_s` in
    # (a cancel on the main service, SIGTERM on a service of its own).
    stop_size: int = 512
    stop_steps: int = 500
    stop_after_s: float = 5.0

    def at_size(self, size: int) -> "BenchConfig":
        """Every image size set to `size` (a smoke run, e.g. 64 px in the tests)."""
        return dataclasses.replace(
            self, speed_sizes=(size,), speed_skipped=(), quality_size=size,
            cold_start_size=size, streaming_size=size, memory_size=size,
            robustness_pairs=1, robustness_sizes=(size,), robustness_default_jobs=0,
            shape_min_size=size, shape_max_size=size, stop_size=size,
            controls=self.controls and Controls(size=size, epochs=2, steps=2, colour_pairs=1,
                                                scale_pairs=1, style_only=False,
                                                steer_before=4, steer_after=4, steer_epoch=2),
            service_env={**self.service_env, "NST_DEFAULT_SIZE": str(size)},
        )


FULL = BenchConfig()

# A few minutes here: fewer and shorter rounds, time to quality at 128 px over 10 x 20 reference
# steps, no VGG19 row at 512 px, robustness on four pairs (chelsea x starry_night, which once
# diverged, among them), shapes up to 384 px, stops at 256 px. Written beside the full run's
# document, never over it.
QUICK = BenchConfig(
    quick=True,
    command="python -m bench --quick",
    output=ROOT / "artifacts" / "benchmarks-quick.md",
    images=ROOT / "artifacts",
    speed_skipped=(("vgg19", 512),),
    speed_rounds=2, speed_epochs=2, speed_steps=5,
    quality_size=128, reference_epochs=10, reference_steps=20,
    streaming_epochs=5, streaming_steps=2, streaming_rounds=1,
    memory_epochs=1, memory_steps=2,
    robustness_pairs=4, robustness_sizes=(128, 256), robustness_default_jobs=1,
    robustness_default_size=128,
    shape_max_size=384, stop_size=256, stop_after_s=3.0,
    image=False,
)
