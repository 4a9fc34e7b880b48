"""Robustness: does every job paint? Many photos and paintings, many sizes, short and full jobs.

Each run is judged as a picture, not by its own loss:
(a) frames never get worse: each frame's objective is at most the one before (the first at most
    the initial image's);
(b) it is painted: the final image's style term is at most 0.8 x the photo's;
(c) it keeps the photo's layout: a 16 x 12 grey thumbnail correlates with the photo's at > 0.7;
(d) it is not a blur: its mean absolute Laplacian is at least half the photo's.
"""

from __future__ import annotations

import argparse
import functools
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from service.engine import Engine, StyleParams
from service.engine.images import read_image, resize

from .config import SHARED

# Photos from three sources (the shared samples, the references' own photo, scikit-image's data
# module) crossed with the four shared paintings; chelsea x starry_night is the pair on which the
# unguarded L-BFGS diverged at 192 px.
PAIRS: tuple[tuple[str, str], ...] = (
    ("tubingen", "starry_night"),
    ("tubingen", "the_scream"),
    ("golden_gate", "woman-with-hat-matisse"),
    ("chelsea", "starry_night"),
    ("astronaut", "the_scream"),
    ("coffee", "woman-with-hat-matisse"),
    ("rocket", "shipwreck"),
    ("camera", "starry_night"),
    ("coins", "shipwreck"),
    ("immunohistochemistry", "the_scream"),
)
SHORT_SIZES = (128, 192, 256, 384, 512)
SHORT_JOB = StyleParams(epochs=3, steps_per_epoch=15)
DEFAULT_JOB_SIZE = 256

STYLE_RATIO_MAX = 0.8
LAYOUT_MIN = 0.7
SHARPNESS_MIN = 0.5


@functools.cache
def picture(name: str, shared: Path) -> np.ndarray:
    """A photo or painting by name: `shared`/samples, `shared`/references, or scikit-image.

    Read once per process, and read-only, since every caller shares the one array."""
    for folder in (shared / "samples", shared / "references"):
        path = folder / f"{name}.jpg"
        if path.is_file():
            image = read_image(str(path))
            break
    else:
        from skimage import data

        image = getattr(data, name)()
        if image.ndim == 2:
            image = np.stack([image] * 3, axis=-1)
        image = np.ascontiguousarray(image[..., :3]).astype(np.uint8)
    image.setflags(write=False)
    return image


@dataclass(frozen=True)
class Verdict:
    pair: str
    size: int
    job: str
    steps: int
    seconds: float
    monotone: bool
    style_ratio: float
    layout: float
    sharpness: float

    @property
    def passed(self) -> bool:
        return (self.monotone and self.style_ratio <= STYLE_RATIO_MAX
                and self.layout > LAYOUT_MIN and self.sharpness >= SHARPNESS_MIN)

    def failures(self) -> list[str]:
        return [what for what, ok in (
            ("frames got worse", self.monotone),
            (f"style term {self.style_ratio:.2f} of the photo's", self.style_ratio <= STYLE_RATIO_MAX),
            (f"layout correlation {self.layout:.2f}", self.layout > LAYOUT_MIN),
            (f"sharpness {self.sharpness:.2f} of the photo's", self.sharpness >= SHARPNESS_MIN),
        ) if not ok]


def judge(engine: Engine, content: np.ndarray, style: np.ndarray, params: StyleParams,
          label: str = "") -> Verdict:
    """Run one job and judge it as a picture."""
    started = time.perf_counter()
    frames = list(engine.stylize(content, style, params))
    seconds = time.perf_counter() - started
    photo = resize(content, *engine.output_size(content.shape, params.size))
    before = engine.objective(photo, content, style, params)
    after = engine.objective(frames[-1].image, content, style, params)
    totals = [before["total"]] + [frame.losses["total"] for frame in frames]
    return Verdict(
        pair=label, size=params.size, job=f"{params.epochs} x {params.steps_per_epoch}",
        steps=frames[-1].step, seconds=seconds,
        monotone=all(b <= a for a, b in zip(totals, totals[1:])),
        style_ratio=after["style"] / before["style"],
        layout=layout_correlation(photo, frames[-1].image),
        sharpness=laplacian(frames[-1].image) / laplacian(photo),
    )


def layout_correlation(photo: np.ndarray, image: np.ndarray) -> float:
    """Correlation of the two pictures' 16 x 12 grey thumbnails."""
    def thumbnail(picture: np.ndarray) -> np.ndarray:
        grey = Image.fromarray(picture).convert("L").resize((16, 12), Image.Resampling.BOX)
        return np.asarray(grey, np.float64).ravel()

    return float(np.corrcoef(thumbnail(photo), thumbnail(image))[0, 1])


def laplacian(image: np.ndarray) -> float:
    """Mean absolute 4-neighbour Laplacian of the grey image, in grey levels."""
    grey = np.asarray(Image.fromarray(image).convert("L"), np.float64)
    centre = grey[1:-1, 1:-1]
    return float(np.abs(grey[:-2, 1:-1] + grey[2:, 1:-1] + grey[1:-1, :-2] + grey[1:-1, 2:]
                        - 4 * centre).mean())


def measure_robustness(engine: Engine, shared: Path, pairs=PAIRS, sizes=SHORT_SIZES,
                       default_size: int | None = DEFAULT_JOB_SIZE) -> list[Verdict]:
    """Every pair at every size as a short job, and (with `default_size`) as the default job."""
    verdicts = []
    for content_name, style_name in pairs:
        content, style = picture(content_name, shared), picture(style_name, shared)
        label = f"{content_name} × {style_name}"
        jobs = [StyleParams(epochs=SHORT_JOB.epochs, steps_per_epoch=SHORT_JOB.steps_per_epoch,
                            size=size) for size in sizes]
        if default_size:
            jobs.append(StyleParams(size=default_size))
        for params in jobs:
            verdict = judge(engine, content, style, params, label)
            print(f"  robustness {label} {params.size} px {verdict.job}: "
                  f"{'pass' if verdict.passed else 'FAIL: ' + ', '.join(verdict.failures())}",
                  flush=True)
            verdicts.append(verdict)
    return verdicts


def markdown(verdicts: list[Verdict]) -> list[str]:
    """The table: one row per pair, one cell per size and job."""
    columns = sorted({(v.job, v.size) for v in verdicts}, key=lambda c: (c[0] != "3 x 15", c[1]))
    lines = ["| Pair | " + " | ".join(f"{size} px, {job}" for job, size in columns) + " |",
             "| --- |" + " --- |" * len(columns)]
    for pair in dict.fromkeys(v.pair for v in verdicts):
        cells = {(v.job, v.size): v for v in verdicts if v.pair == pair}
        lines.append(f"| {pair} | " + " | ".join(_cell(cells.get(c)) for c in columns) + " |")
    passed = sum(v.passed for v in verdicts)
    lines.append("")
    lines.append(f"{passed} of {len(verdicts)} runs pass. A cell: style term of the output / "
                 "the photo's (≤ 0.8), layout correlation (> 0.7), sharpness / the photo's "
                 "(≥ 0.5); ✓ when all hold and no frame was worse than the one before.")
    return lines


def _cell(verdict: Verdict | None) -> str:
    if verdict is None:
        return ""
    mark = "✓" if verdict.passed else "✗ " + "; ".join(verdict.failures())
    return (f"{mark} {verdict.style_ratio:.2f} / {verdict.layout:.2f} / "
            f"{verdict.sharpness:.2f}")


def main(argv: list[str] | None = None) -> int:
    """The robustness table alone (the full benchmark's, without its timing parts)."""
    parser = argparse.ArgumentParser(prog="python -m bench.robustness", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", help="comma-separated photo-painting names, e.g. "
                        "immunohistochemistry-the_scream; any scikit-image photo or shared "
                        "picture by name; default: the ten pairs of PAIRS")
    parser.add_argument("--sizes", type=_sizes, default=SHORT_SIZES,
                        help="the short jobs' sizes in px, comma-separated; default: "
                        + ",".join(map(str, SHORT_SIZES)))
    jobs = parser.add_mutually_exclusive_group()
    jobs.add_argument("--default-job-only", action="store_true",
                      help="only the default job (20 x 50 steps at 256 px), not the short ones")
    jobs.add_argument("--short-only", action="store_true",
                      help="only the short jobs (3 x 15 steps), not the default one")
    parser.add_argument("--shared", type=Path, default=SHARED,
                        help="the folder with samples/ and references/")
    parser.add_argument("--backbone", default="vgg16")
    parser.add_argument("--weights", default="offline")
    args = parser.parse_args(argv)
    # A photo's name has no hyphen, so a pair splits at its first ("coffee-woman-with-hat-matisse").
    pairs = [tuple(name.split("-", 1)) for name in args.pairs.split(",")] if args.pairs else PAIRS
    if any(len(pair) != 2 for pair in pairs):
        parser.error(f"--pairs takes photo-painting names, not {args.pairs!r}")
    for name in {name for pair in pairs for name in pair}:
        try:
            picture(name, args.shared)
        except (AttributeError, ImportError):  # ImportError: scikit-image would download it
            parser.error(f"no picture named {name!r} in {args.shared} or scikit-image's data")
    engine = Engine.load(args.backbone, args.weights)
    verdicts = measure_robustness(
        engine, args.shared, pairs,
        sizes=() if args.default_job_only else args.sizes,
        default_size=None if args.short_only else DEFAULT_JOB_SIZE)
    print("\n".join(markdown(verdicts)))
    return 0 if all(verdict.passed for verdict in verdicts) else 1


def _sizes(text: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(size) for size in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"sizes are whole numbers of px, not {text!r}") from None
    if any(size < 1 for size in sizes):
        raise argparse.ArgumentTypeError(f"sizes are positive, not {text!r}")
    return sizes


if __name__ == "__main__":
    sys.exit(main())
