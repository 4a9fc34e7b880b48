"""The painting controls measured (issue 17): the photo's colours, blending, brush scale, steering.

`python -m bench.painting_controls [--quick] [--sheets docs/images/controls]` prints a Markdown
report for docs/benchmarks.md:
- colour: the output's chroma (Lab a*, b* of 16 x 12 thumbnails) against the photo's, r >= 0.9 with
  `luminance` and at least 0.1 lower with `none`; the luminance style term (the output's luminance
  against the luminance painting's Grams, over the photo's) falls at least as far with `luminance`;
- blend: the style distance of the 50/50 blend's output to A lies between the A-only and B-only
  outputs' (and the same for B);
- scale: the dominant stroke size (the power spectrum's centroid wavelength) grows >= 1.5x from
  style_scale 0.5 to 2;
- steering (the engine's, no socket): 200 steps after a steer, the objective under the new weights
  is within 10 % of a job run with the new weights from the start for 200 steps, and no epoch after
  the steer takes more than 1.2x the median epoch before it (nothing is traced again).
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
from pathlib import Path

import numpy as np
from PIL import Image
from skimage.color import rgb2lab

from service.engine import Engine, Steering, StyleParams
from service.engine import colors
from service.engine.images import resize

from .robustness import picture
from .sheets import SHARED, save_small_png, sheet

COLOR_PAIRS = (("tubingen", "starry_night"), ("golden_gate", "the_scream"))
BLEND = ("tubingen", "starry_night", "the_scream")  # photo, A, B
SCALE = ("tubingen", "starry_night")
MODES = ("none", "luminance", "histogram")


def final_image(engine: Engine, photo, style, params: StyleParams, blend=None) -> np.ndarray:
    frame = None
    for frame in engine.stylize(photo, style, params, style_blend=blend):
        pass
    return frame.image


def chroma_correlation(image: np.ndarray, photo: np.ndarray) -> float:
    """Correlation of Lab a* and b* of 16 x 12 thumbnails (BOX-averaged)."""
    def chroma(picture_: np.ndarray) -> np.ndarray:
        thumbnail = np.asarray(Image.fromarray(picture_).resize((16, 12), Image.Resampling.BOX))
        return rgb2lab(thumbnail)[..., 1:].ravel()
    return float(np.corrcoef(chroma(image), chroma(photo))[0, 1])


def stroke_size(image: np.ndarray) -> float:
    """The wavelength in px at the centroid of the grey image's power spectrum (Hann-windowed):
    larger strokes, a longer wavelength. On the painting itself it grows with its working size
    (printed beside the outputs' as the check that it measures scale)."""
    residual = colors.luminance(image)
    residual -= residual.mean()
    power = np.abs(np.fft.fft2(residual * np.outer(np.hanning(residual.shape[0]),
                                                   np.hanning(residual.shape[1])))) ** 2
    fy = np.fft.fftfreq(residual.shape[0])[:, None]
    fx = np.fft.fftfreq(residual.shape[1])[None, :]
    radius = np.hypot(fy, fx)
    inside = (radius > 0) & (radius <= 0.5)
    centroid = float((power[inside] * radius[inside]).sum() / power[inside].sum())
    return 1.0 / centroid


def measure_colors(engine: Engine, params: StyleParams, pairs, sheets: Path | None) -> list[str]:
    lines = ["| pair | chroma r: none / luminance / histogram | luminance style term / photo's: "
             "none / luminance | holds |", "| --- | --- | --- | --- |"]
    for photo_name, painting_name in pairs:
        photo_full, painting = picture(photo_name, SHARED), picture(painting_name, SHARED)
        photo = resize(photo_full, *engine.output_size(photo_full.shape, params.size))
        outputs = {mode: final_image(engine, photo_full, painting,
                                     dataclasses.replace(params, preserve_colors=mode))
                   for mode in MODES}
        chroma = {mode: chroma_correlation(image, photo) for mode, image in outputs.items()}
        luminance_job = dataclasses.replace(params, preserve_colors="luminance")
        start = engine.objective(photo, photo_full, painting, luminance_job)["style"]
        falls = {mode: engine.objective(outputs[mode], photo_full, painting,
                                        luminance_job)["style"] / start
                 for mode in ("none", "luminance")}
        holds = (chroma["luminance"] >= 0.9 and chroma["none"] <= chroma["luminance"] - 0.1
                 and falls["luminance"] <= falls["none"])
        lines.append(f"| {photo_name} × {painting_name} | "
                     + " / ".join(f"{chroma[m]:.2f}" for m in MODES) + " | "
                     + " / ".join(f"{falls[m]:.2f}" for m in ("none", "luminance"))
                     + f" | {'✓' if holds else '✗'} |")
        if sheets:
            panels = [photo, *(outputs[m] for m in MODES)]
            save_small_png(sheet(panels, photo.shape[0]),
                           sheets / f"colors-{photo_name}-{painting_name}.png")
        print(lines[-1], file=sys.stderr, flush=True)
    return lines


def measure_blend(engine: Engine, params: StyleParams, sheets: Path | None) -> list[str]:
    photo_name, a_name, b_name = BLEND
    photo, a, b = (picture(name, SHARED) for name in BLEND)
    outputs = {"A only": final_image(engine, photo, a, params),
               "50/50": final_image(engine, photo, [a, b], params, (0.5, 0.5)),
               "B only": final_image(engine, photo, b, params)}
    # Style distance: the style term's relative Gram error (the weight divided out).
    distance = {target: {job: engine.objective(image, photo, painting, params)["style"]
                         / params.style_weight for job, image in outputs.items()}
                for target, painting in (("A", a), ("B", b))}
    lines = [f"A = {a_name}, B = {b_name}, photo {photo_name}.", "",
             "| style distance to | A-only output | 50/50 output | B-only output | between |",
             "| --- | --- | --- | --- | --- |"]
    for target, row in distance.items():
        low, high = sorted((row["A only"], row["B only"]))
        lines.append(f"| {target} | {row['A only']:.3f} | {row['50/50']:.3f} | "
                     f"{row['B only']:.3f} | {'✓' if low < row['50/50'] < high else '✗'} |")
    if sheets:
        first = outputs["A only"]
        save_small_png(sheet([resize(photo, *first.shape[:2]), *outputs.values()],
                             first.shape[0]), sheets / f"blend-{a_name}-{b_name}.png")
    return lines


def measure_scale(engine: Engine, params: StyleParams, sheets: Path | None) -> list[str]:
    photo_full, painting = (picture(name, SHARED) for name in SCALE)
    photo = resize(photo_full, *engine.output_size(photo_full.shape, params.size))
    scales = (0.5, 1.0, 2.0)
    outputs = {scale: final_image(engine, photo_full, painting,
                                  dataclasses.replace(params, style_scale=scale))
               for scale in scales}
    sizes = {scale: stroke_size(image) for scale, image in outputs.items()}
    in_painting = {scale: stroke_size(resize(painting, *engine.style_size(
        painting.shape, dataclasses.replace(params, style_scale=scale)))) for scale in scales}
    growth = sizes[2.0] / sizes[0.5]
    lines = ["| style_scale | " + " | ".join(f"{s:g}" for s in scales) + " |",
             "| --- |" + " --- |" * len(scales),
             "| output's stroke size (px) | " + " | ".join(f"{sizes[s]:.1f}" for s in scales)
             + " |",
             "| the painting's, at its working size | "
             + " | ".join(f"{in_painting[s]:.1f}" for s in scales) + " |", "",
             f"Growth from 0.5 to 2: {growth:.2f}x ({'✓' if growth >= 1.5 else '✗'} ≥ 1.5x)."]
    if sheets:
        save_small_png(sheet([photo, *outputs.values()], photo.shape[0]),
                       sheets / f"scale-{SCALE[0]}-{SCALE[1]}.png")
    return lines


STEER_TO = {"style_weight": 1e5, "tv_weight": 1e3}  # ten times the style, a third of the smoothing


def measure_steering(engine: Engine, params: StyleParams, before_steps: int = 100,
                     after_steps: int = 200, epoch_steps: int = 20) -> list[str]:
    photo, painting = (picture(name, SHARED) for name in SCALE)
    before_epochs, after_epochs = before_steps // epoch_steps, after_steps // epoch_steps
    job = dataclasses.replace(params, epochs=before_epochs + after_epochs,
                              steps_per_epoch=epoch_steps)
    steering = Steering()
    frames = []
    for frame in engine.stylize(photo, painting, job, steering=steering):
        frames.append(frame)
        if frame.epoch == 1:  # traced by now, if this process had not yet
            traced = engine.tracing_count(job.optimizer)
        if frame.epoch == before_epochs:
            steering.steer(**STEER_TO)
    steered = engine.objective(frames[-1].image, photo, painting,
                               dataclasses.replace(job, **STEER_TO))["total"]
    fresh_job = dataclasses.replace(job, epochs=after_epochs, **STEER_TO)
    fresh = engine.objective(final_image(engine, photo, painting, fresh_job), photo, painting,
                             fresh_job)["total"]
    retraced = engine.tracing_count(job.optimizer) - traced
    seconds = [b.elapsed_s - a.elapsed_s for a, b in zip(frames, frames[1:])]
    before = statistics.median(seconds[:before_epochs - 1])
    after = seconds[before_epochs - 1:]
    ratio = steered / fresh
    return [f"Steered after {before_steps} steps to {STEER_TO}, then {after_steps} steps; "
            f"a fresh job with those weights, {after_steps} steps.", "",
            "| objective after the steer / the fresh job's | epoch after the steer / median "
            "before: median, slowest | graphs traced again | holds |",
            "| --- | --- | --- | --- |",
            f"| {ratio:.3f} | {statistics.median(after) / before:.2f}, {max(after) / before:.2f} "
            f"| {retraced} | {'✓' if ratio <= 1.1 and max(after) <= 1.2 * before else '✗'} |"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.painting_controls",
                                     description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="128 px, 60 steps, one colour pair (about a minute)")
    parser.add_argument("--sheets", type=Path, help="save contact sheets (256-colour PNG) here")
    args = parser.parse_args(argv)
    if args.quick:
        params, pairs = StyleParams(size=128, epochs=3, steps_per_epoch=20), COLOR_PAIRS[:1]
    else:
        params, pairs = StyleParams(size=192, epochs=5, steps_per_epoch=20), COLOR_PAIRS
    if args.sheets:
        args.sheets.mkdir(parents=True, exist_ok=True)
    engine = Engine.load("vgg16", "offline")
    report = [f"{params.size} px, {params.total_steps} steps per job, offline VGG16, defaults "
              "otherwise.", "", "Colour (panels: photo | none | luminance | histogram):", "",
              *measure_colors(engine, params, pairs, args.sheets), "",
              "Blend (panels: photo | A only | 50/50 | B only):", "",
              *measure_blend(engine, params, args.sheets), "",
              "Brush scale (panels: photo | style_scale 0.5 | 1 | 2):", "",
              *measure_scale(engine, params, args.sheets), "",
              "Steering:", "", *measure_steering(engine, params)]
    print("\n".join(report))
    return 0


if __name__ == "__main__":
    from service.cli import start_tensorflow

    start_tensorflow()
    sys.exit(main())
