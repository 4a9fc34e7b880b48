"""What one benchmark run measures and how long it spends on each figure: full and quick."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT.parent / "shared" / "samples"


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

    def at_size(self, size: int) -> "BenchConfig":
        """Every image size set to `size` (a smoke run, e.g. 64 px in the tests)."""
        return dataclasses.replace(
            self, speed_sizes=(size,), speed_skipped=(), quality_size=size,
            cold_start_size=size, streaming_size=size, memory_size=size,
            service_env={**self.service_env, "NST_DEFAULT_SIZE": str(size)},
        )


FULL = BenchConfig()

# A few minutes here: fewer and shorter rounds, time to quality at 128 px over 10 x 20 reference
# steps, no VGG19 row at 512 px. Written beside the full run's document, never over it.
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
    image=False,
)
