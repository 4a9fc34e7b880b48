"""Time to quality: how long nst's defaults take to reach the loss the reference ends at.

Both sides are judged by one `Objective` (nst's default loss). The reference optimises that
objective the tutorial's way for its full 10 x 100 steps and ends at loss L (of its final image,
clipped and quantised like a frame). nst runs with its defaults; the figure is its wall time to
the first frame whose objective is at or below L, over the reference's wall time for all its
steps. The two sides take turns, a reference epoch then an nst frame, so load from other
processes hits both alike; nst goes on alone after the reference if it has not reached L yet.
Both are traced before any clock starts, and only time inside each side is counted (the
objective of nst's frames is evaluated while its generator is paused).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from service.engine import StyleParams
from service.engine.params import OPTIMIZER_NAMES

from .config import BenchConfig
from .models import BenchModel, default_backbone, load_model
from .objective import Objective
from .reference import Reference
from .samples import Samples


@dataclass(frozen=True)
class QualityPoint:
    step: int
    seconds: float
    objective: float


@dataclass(frozen=True)
class TimeToQuality:
    model: str
    size: int
    shape: tuple[int, int]
    reference_steps: int
    reference_s: float
    reference_loss: float  # L
    nst_params: StyleParams  # as resolved by the engine
    nst_history: list[QualityPoint]  # every frame nst produced, up to the one that reached L
    reference_history: list[QualityPoint]  # after each of the reference's epochs
    reference_image: np.ndarray = field(repr=False)
    nst_image: np.ndarray = field(repr=False)

    @property
    def reached(self) -> QualityPoint | None:
        last = self.nst_history[-1]
        return last if last.objective <= self.reference_loss else None

    @property
    def nst_s(self) -> float:
        """nst's time to L, or (if it never got there) to its last frame."""
        return self.nst_history[-1].seconds

    @property
    def ratio(self) -> float | None:
        """nst's time over the reference's (< 1: nst is faster); None if nst never reached L."""
        return self.nst_s / self.reference_s if self.reached else None


def measure_time_to_quality(model: BenchModel, content: np.ndarray, style: np.ndarray,
                            size: int, reference_epochs: int, reference_steps: int,
                            optimizer: str = StyleParams().optimizer) -> TimeToQuality:
    """`content` and `style` already at `size`; nst runs its defaults but for `optimizer`."""
    objective = Objective(model.vgg, content, style)
    reference = Reference(objective.loss, content)
    params = model.engine.resolved(StyleParams(size=size, optimizer=optimizer))
    _warm(model, content, style, params)

    reference_s = 0.0
    reference_history: list[QualityPoint] = []
    nst = _TimedFrames(model, content, style, params)
    try:
        for epoch in range(1, reference_epochs + 1):
            started = time.perf_counter()
            reference_image = reference.run(reference_steps)
            reference_s += time.perf_counter() - started
            reference_history.append(
                QualityPoint(epoch * reference_steps, reference_s, objective(reference_image)))
            nst.advance(objective)
        target = reference_history[-1].objective
        while not nst.exhausted and not nst.reached(target):
            nst.advance(objective)
    finally:
        nst.close()
    history, nst_image = nst.up_to(target)
    return TimeToQuality(
        model.label, size, content.shape[:2], reference_epochs * reference_steps, reference_s,
        target, params, history, reference_history, reference_image, nst_image,
    )


class _TimedFrames:
    """nst's frames, one `advance()` at a time, timing only what happens inside the engine."""

    def __init__(self, model: BenchModel, content, style, params: StyleParams) -> None:
        self.frames = model.engine.stylize(content, style, params)
        self.points: list[QualityPoint] = []
        self.images: list[np.ndarray] = []
        self.inside_s = 0.0
        self.exhausted = False

    def advance(self, objective: Objective) -> None:
        if self.exhausted:
            return
        started = time.perf_counter()
        frame = next(self.frames, None)
        self.inside_s += time.perf_counter() - started
        if frame is None:
            self.exhausted = True
            return
        self.points.append(QualityPoint(frame.step, self.inside_s, objective(frame.image)))
        self.images.append(frame.image)

    def reached(self, target: float) -> bool:
        return any(point.objective <= target for point in self.points)

    def up_to(self, target: float) -> tuple[list[QualityPoint], np.ndarray]:
        """The frames up to the first at or below `target` (all of them if none is), its image."""
        for index, point in enumerate(self.points):
            if point.objective <= target:
                return self.points[: index + 1], self.images[index]
        return self.points, self.images[-1]

    def close(self) -> None:
        self.frames.close()


def _warm(model: BenchModel, content: np.ndarray, style: np.ndarray, params: StyleParams) -> None:
    """Trace nst's graph for these shapes, as the reference's was traced when it was built."""
    for _ in model.engine.stylize(content, style,
                                  dataclasses.replace(params, epochs=1, steps_per_epoch=1)):
        pass


def main(argv: list[str] | None = None) -> int:
    """Time to quality alone, as the full benchmark measures it (its other figures left out)."""
    parser = argparse.ArgumentParser(prog="python -m bench.quality", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    full_run = BenchConfig()
    parser.add_argument("--size", type=int, default=full_run.quality_size)
    parser.add_argument("--reference-epochs", type=int, default=full_run.reference_epochs)
    parser.add_argument("--reference-steps", type=int, default=full_run.reference_steps)
    parser.add_argument("--samples", type=Path, default=full_run.samples,
                        help=f"the folder with {full_run.content} and {full_run.style}")
    parser.add_argument("--backbone", default=None, help="default: the engine's")
    parser.add_argument("--optimizer", choices=OPTIMIZER_NAMES, default=StyleParams().optimizer,
                        help="nst's optimiser (the reference's is always the tutorial's Adam); "
                        "default: %(default)s")
    args = parser.parse_args(argv)
    samples = Samples.read(args.samples / full_run.content, args.samples / full_run.style)
    model = load_model(args.backbone or default_backbone())
    quality = measure_time_to_quality(model, *samples.at(args.size), args.size,
                                      args.reference_epochs, args.reference_steps, args.optimizer)
    print(f"{quality.model}, {args.size} px, precision {model.engine.model.precision}, nst's "
          f"optimiser {quality.nst_params.optimizer}: L = {quality.reference_loss:.1f} (the "
          f"reference's {quality.reference_steps} steps, {quality.reference_s:.1f} s)")
    for point in quality.nst_history:
        print(f"  nst step {point.step}: objective {point.objective:.1f} at {point.seconds:.1f} s")
    if quality.ratio is None:
        print(f"nst did not reach L in {quality.nst_history[-1].step} steps")
        return 1
    print(f"time to quality {quality.ratio:.2f} ({quality.nst_s:.2f} s, "
          f"{quality.reached.step} steps, against {quality.reference_s:.2f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
