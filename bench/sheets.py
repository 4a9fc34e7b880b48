"""Contact sheets for judging pictures: photo | nst | neural-style's reference, one PNG per pair.

`python -m bench.sheets --size 512 --out docs/images/quality` paints every pair with the
engine's defaults and prints a Markdown table (seconds, the worst edge's roughness, each loss
term's share) for docs/quality.md. The reference pairs are jcjohnson/neural-style's classic
outputs in ../shared/references; the other photos come from scikit-image's `data` module, which
the defaults were not tuned on.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from service.engine import Engine, StyleParams
from service.engine.images import output_size, read_image, resize

from .config import SHARED
from .robustness import picture


@dataclass(frozen=True)
class Pair:
    photo: str  # a file in samples/ or references/ (without .jpg), or a scikit-image `data` name
    painting: str  # a file in samples/, without .jpg
    reference: str | None = None  # neural-style's output in references/, if it made one

    @property
    def name(self) -> str:
        return f"{self.photo}-{self.painting}"


PAIRS = (
    Pair("tubingen", "starry_night", "tubingen_starry.png"),
    Pair("tubingen", "the_scream", "tubingen_scream.png"),
    Pair("tubingen", "shipwreck", "tubingen_shipwreck.png"),
    Pair("golden_gate", "the_scream", "golden_gate_scream.png"),
    Pair("golden_gate", "woman-with-hat-matisse", "golden_gate_matisse.png"),
    Pair("chelsea", "starry_night"),
    Pair("astronaut", "the_scream"),
    Pair("coffee", "woman-with-hat-matisse"),
    Pair("rocket", "shipwreck"),
)


def edge_roughness(image: np.ndarray) -> dict[str, float]:
    """Each side's roughness over the interior's: 1 means the edge looks like the rest.

    Roughness of a row is its mean absolute difference between horizontal neighbours (of a column,
    between vertical ones); a side's figure is its outermost row or column over the median of the
    rows or columns inside (the outer 1/32 left out). neural-style's references score 1.3-2.6 on
    their worst side.
    """
    pixels = image.astype(np.float32)
    rows = np.abs(np.diff(pixels, axis=1)).mean(axis=(1, 2))
    columns = np.abs(np.diff(pixels, axis=0)).mean(axis=(0, 2))

    def ratio(profile: np.ndarray, index: int) -> float:
        inside = max(2, len(profile) // 32)
        return float(profile[index] / max(np.median(profile[inside:-inside]), 1e-6))

    return {"top": ratio(rows, 0), "bottom": ratio(rows, -1),
            "left": ratio(columns, 0), "right": ratio(columns, -1)}


def edge_excess(image: np.ndarray, photo: np.ndarray) -> dict[str, float]:
    """Each side's roughness over the photo's on that side, where the photo's exceeds 1: a border
    that is busy in the photo (a lattice tower touching it) is not an edge line in the output."""
    photo_roughness = edge_roughness(photo)
    return {side: value / max(1.0, photo_roughness[side])
            for side, value in edge_roughness(image).items()}


def worst_side(sides: dict[str, float]) -> str:
    """The roughest side and its figure, as the table prints it: `3.18 bottom`."""
    side = max(sides, key=sides.get)
    return f"{sides[side]:.2f} {side}"


def sheet(panels: list[np.ndarray], height: int, gap: int = 4) -> np.ndarray:
    """The panels side by side at one height, white between them."""
    scaled = [resize(panel, height, round(panel.shape[1] * height / panel.shape[0]))
              for panel in panels]
    width = sum(panel.shape[1] for panel in scaled) + gap * (len(scaled) - 1)
    canvas = np.full((height, width, 3), 255, np.uint8)
    left = 0
    for panel in scaled:
        canvas[:, left:left + panel.shape[1]] = panel
        left += panel.shape[1] + gap
    return canvas


def save_small_png(image: np.ndarray, path: Path) -> None:
    """A 256-colour palette PNG: a third of the bytes, and the strokes still read."""
    Image.fromarray(image).quantize(256, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)


def paint(engine: Engine, pair: Pair, params: StyleParams, shared: Path = SHARED) -> dict:
    photo = picture(pair.photo, shared)
    painting = picture(pair.painting, shared)
    started = time.perf_counter()
    frame = None
    for frame in engine.stylize(photo, painting, params):
        pass
    seconds = time.perf_counter() - started
    photo_at_size = resize(photo, *output_size(photo.shape, params.size))
    panels = [photo_at_size, frame.image]
    if pair.reference:
        panels.append(read_image(str(shared / "references" / pair.reference)))
    total = frame.losses["total"]
    return {
        "sheet": sheet(panels, frame.image.shape[0]),
        "image": frame.image,
        "seconds": seconds,
        "roughness": worst_side(edge_roughness(frame.image)),
        "excess": worst_side(edge_excess(frame.image, photo_at_size)),
        "shares": {term: frame.losses[term] / total for term in ("style", "content", "tv")},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.sheets", description=__doc__)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--epochs", type=int, help="default: the engine's")
    parser.add_argument("--steps-per-epoch", type=int, help="default: the engine's")
    parser.add_argument("--style-scale", type=float, help="the brush scale; default: the engine's")
    parser.add_argument("--content-weight", type=float, help="default: the engine's")
    parser.add_argument("--out", type=Path, default=Path("docs/images/quality"))
    parser.add_argument("--suffix", default="", help="appended to each file name, e.g. -before")
    parser.add_argument("--pairs", help="comma-separated photo-painting names; default: all")
    parser.add_argument("--shared", type=Path, default=SHARED,
                        help="the folder with samples/ and references/")
    parser.add_argument("--backbone", default="vgg16")
    parser.add_argument("--weights", default="offline")
    args = parser.parse_args(argv)

    chosen = set(args.pairs.split(",")) if args.pairs else None
    unknown = (chosen or set()) - {pair.name for pair in PAIRS}
    if unknown:
        parser.error(f"no such pair: {', '.join(sorted(unknown))} "
                     f"(the pairs: {', '.join(pair.name for pair in PAIRS)})")
    pairs = [pair for pair in PAIRS if chosen is None or pair.name in chosen]
    overrides = {name: value for name, value in
                 (("epochs", args.epochs), ("steps_per_epoch", args.steps_per_epoch),
                  ("style_scale", args.style_scale), ("content_weight", args.content_weight))
                 if value is not None}
    params = StyleParams(size=args.size, **overrides)
    engine = Engine.load(args.backbone, args.weights)
    args.out.mkdir(parents=True, exist_ok=True)
    print("| pair | sheet | seconds | worst edge | against the photo's "
          "| style / content / tv share |")
    print("| --- | --- | --- | --- | --- | --- |")
    for pair in pairs:
        result = paint(engine, pair, params, args.shared)
        path = args.out / f"{pair.name}-{args.size}{args.suffix}.png"
        save_small_png(result["sheet"], path)
        shares = " / ".join(f"{share:.2f}" for share in result["shares"].values())
        print(f"| {pair.name} | {path.name} | {result['seconds']:.0f} | "
              f"{result['roughness']} | {result['excess']} | {shares} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
