"""Step speed: steady-state seconds per optimisation step, nst against the reference, alternating.

Each round runs nst, then the reference (the other way round on odd rounds), on the same images,
so a burst of load from other processes on the machine hits both sides alike. Both sides run the
same number of timed epochs of the same number of steps; nst's first epoch in every round (image
targets, and tracing in the first round) and one warm-up step of the reference are not timed.

`python -m bench.step_speed` measures this row alone (the full run's rounds, epochs and steps).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from dataclasses import dataclass

import numpy as np

from service.engine import StyleParams

from .models import BenchModel
from .reference import Reference, StyleContentModel, tutorial_loss


@dataclass(frozen=True)
class StepSpeed:
    model: str  # "vgg16 (offline weights)"
    backbone: str
    size: int
    shape: tuple[int, int]  # (height, width) of the optimised image
    nst_samples: list[float]  # seconds per step, one per timed epoch
    reference_samples: list[float]

    @property
    def nst_s(self) -> float:
        return statistics.median(self.nst_samples)

    @property
    def reference_s(self) -> float:
        return statistics.median(self.reference_samples)

    @property
    def ratio(self) -> float:
        """How many times faster nst steps than the reference (> 1: nst is faster)."""
        return self.reference_s / self.nst_s


def measure_step_speed(model: BenchModel, content: np.ndarray, style: np.ndarray, size: int,
                       rounds: int, epochs: int, steps: int) -> StepSpeed:
    """`content` and `style` already at `size`; `epochs` per round, the first one untimed."""
    extractor = StyleContentModel(model.vgg, model.backbone)
    reference = Reference(tutorial_loss(extractor, content, style), content)
    reference.run(1)
    params = StyleParams(epochs=epochs, steps_per_epoch=steps, size=size)
    nst_samples: list[float] = []
    reference_samples: list[float] = []
    for round_number in range(rounds):
        nst_first = round_number % 2 == 0
        if nst_first:
            nst_samples += _nst_epochs(model, content, style, params)
        reference_samples += _reference_epochs(reference, epochs - 1, steps)
        if not nst_first:
            nst_samples += _nst_epochs(model, content, style, params)
    return StepSpeed(model.label, model.backbone, size, content.shape[:2], nst_samples,
                     reference_samples)


def _nst_epochs(model: BenchModel, content, style, params: StyleParams) -> list[float]:
    frames = list(model.engine.stylize(content, style, params))
    return [(later.elapsed_s - earlier.elapsed_s) / (later.step - earlier.step)
            for earlier, later in zip(frames, frames[1:])]


def _reference_epochs(reference: Reference, epochs: int, steps: int) -> list[float]:
    samples = []
    for _ in range(epochs):
        started = time.perf_counter()
        reference.run(steps)
        samples.append((time.perf_counter() - started) / steps)
    return samples


def main(argv: list[str] | None = None) -> int:
    from .config import FULL
    from .models import load_model
    from .samples import Samples

    parser = argparse.ArgumentParser(prog="python -m bench.step_speed", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="256,512", help="comma-separated, default 256,512")
    parser.add_argument("--backbone", default="vgg16", choices=("vgg16", "vgg19"))
    parser.add_argument("--rounds", type=int, default=FULL.speed_rounds)
    args = parser.parse_args(argv)
    samples = Samples.read(FULL.samples / FULL.content, FULL.samples / FULL.style)
    model = load_model(args.backbone)
    for size in (int(text) for text in args.sizes.split(",")):
        speed = measure_step_speed(model, *samples.at(size), size, args.rounds,
                                   FULL.speed_epochs, FULL.speed_steps)
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        print(f"{speed.model}, {size} px {speed.shape}: nst {speed.nst_s:.3f} s/step, reference "
              f"{speed.reference_s:.3f} s/step, {speed.ratio:.2f}x (load average {load})",
              flush=True)
    return 0


if __name__ == "__main__":
    from service.cli import start_tensorflow

    start_tensorflow()
    sys.exit(main())
