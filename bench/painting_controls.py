"""The painting controls measured (issue 17): the photo's colours, blending, brush scale, steering.

`python -m bench.painting_controls [--quick] [--sheets docs/images/controls]` prints a Markdown
report for docs/benchmarks.md:
- colour: the output's chroma (Lab a*, b* of 16 x 12 thumbnails) against the photo's, r >= 0.9 with
  `luminance` and at least 0.1 lower with `none`; the luminance style term (the output's luminance
  against the luminance painting's Grams, over the photo's) falls at least as far with `luminance`;
- blend: the style distance of the 50/50 blend's output to A lies between the A-only and B-only
  outputs' (and the same for B);
- scale: the stroke size (`stroke_size`: the wavelength at the centre of the spectrum's energy
  per octave) of the output, in the window where the photo is flattest, grows >= 1.5x from
  style_scale 0.5 to 2; first checked on each painting resized 2x, which must read 2x;
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

from .config import QUICK_CONTROLS, Controls
from .robustness import picture
from .sheets import SHARED, save_small_png, sheet

COLOR_PAIRS = (("tubingen", "starry_night"), ("golden_gate", "the_scream"))
BLEND = ("tubingen", "starry_night", "the_scream")  # photo, A, B
SCALE_PAIRS = (("tubingen", "starry_night"), ("tubingen", "the_scream"))
SCALES = (0.5, 1.0, 2.0)  # style_scale; the target compares the ends
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
    """The wavelength in px at the centre of the grey image's spectral energy per octave: the
    power-weighted mean of log frequency (Hann-windowed), from two cycles across the image to
    the Nyquist limit. Larger strokes, a longer wavelength, and a picture resized 2x measures 2x.
    The linear-frequency centroid used before weighs the finest detail most, so a larger copy
    of a painting, which shows more fine brushwork, measured hardly larger."""
    grey = colors.luminance(image).astype(np.float64)
    grey -= grey.mean()
    window = np.outer(np.hanning(grey.shape[0]), np.hanning(grey.shape[1]))
    power = np.abs(np.fft.fft2(grey * window)) ** 2
    radius = np.hypot(np.fft.fftfreq(grey.shape[0])[:, None], np.fft.fftfreq(grey.shape[1])[None, :])
    inside = (radius >= 2.0 / min(grey.shape)) & (radius <= 0.5)
    mean_log_frequency = (power[inside] * np.log(radius[inside])).sum() / power[inside].sum()
    return float(np.exp(-mean_log_frequency))


def flattest_window(photo: np.ndarray, height: float = 0.3,
                    width: float = 0.45) -> tuple[slice, slice]:
    """The window (that fraction of the photo's height and width) with the least gradient energy:
    there the output's texture is the painting's, not the photo's edges."""
    grey = colors.luminance(photo).astype(np.float64)
    detail = sum(gradient ** 2 for gradient in np.gradient(grey))
    h, w = round(grey.shape[0] * height), round(grey.shape[1] * width)
    summed = np.pad(detail.cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    totals = summed[h:, w:] - summed[:-h, w:] - summed[h:, :-w] + summed[:-h, :-w]
    top, left = np.unravel_index(np.argmin(totals), totals.shape)
    return slice(top, top + h), slice(left, left + w)


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


def measure_scale(engine: Engine, params: StyleParams, pairs, sheets: Path | None,
                  style_only: bool = False) -> list[str]:
    """Stroke size against style_scale, first checked on each painting resized 2x (it must read
    2x), then on the outputs: whole, and in the photo's flattest window. With `style_only`, also
    texture alone (no content term, from noise), which tells the painting's strokes apart from
    what the photo holds them to."""
    lines = ["| pair | painting resized 2× reads | painting at its working size (px) | "
             "output, whole (px) | output, photo's flattest window (px) | growth 0.5 → 2 "
             "(window) |", "| --- | --- | --- | --- | --- | --- |"]
    texture_lines = ["| painting | texture alone (px) | growth 0.5 → 2 |", "| --- | --- | --- |"]
    for photo_name, painting_name in pairs:
        photo_full, painting = picture(photo_name, SHARED), picture(painting_name, SHARED)
        photo = resize(photo_full, *engine.output_size(photo_full.shape, params.size))
        jobs = {scale: dataclasses.replace(params, style_scale=scale) for scale in SCALES}
        outputs = {scale: final_image(engine, photo_full, painting, job)
                   for scale, job in jobs.items()}
        working = {scale: resize(painting, *engine.style_size(painting.shape, job))
                   for scale, job in jobs.items()}
        at_one = working[1.0]
        doubled = stroke_size(resize(at_one, 2 * at_one.shape[0], 2 * at_one.shape[1]))
        window = flattest_window(photo)
        in_window = {scale: stroke_size(image[window]) for scale, image in outputs.items()}
        growth = in_window[2.0] / in_window[0.5]
        lines.append(f"| {photo_name} × {painting_name} | {doubled / stroke_size(at_one):.2f}× | "
                     f"{_row(working)} | {_row(outputs)} | {_per_scale(in_window)} | "
                     f"{growth:.2f}× {'✓' if growth >= 1.5 else '✗'} |")
        if style_only:  # from noise, twice the steps: noise takes longer to fill in
            textures = {scale: final_image(engine, photo_full, painting, dataclasses.replace(
                job, content_weight=0.0, init="noise", epochs=2 * job.epochs))
                for scale, job in jobs.items()}
            sizes = {scale: stroke_size(image) for scale, image in textures.items()}
            texture_lines.append(f"| {painting_name} | {_per_scale(sizes)} | "
                                 f"{sizes[2.0] / sizes[0.5]:.2f}× |")
        if sheets:
            save_small_png(sheet([photo, *outputs.values()], photo.shape[0]),
                           sheets / f"scale-{photo_name}-{painting_name}.png")
        print(lines[-1], file=sys.stderr, flush=True)
    return lines + (["", "Texture alone (content weight 0, from noise, twice the steps), whole "
                     "image:", "",
                     *texture_lines] if style_only else [])


def _row(images: dict[float, np.ndarray]) -> str:
    return _per_scale({scale: stroke_size(image) for scale, image in images.items()})


def _per_scale(sizes: dict[float, float]) -> str:
    return " / ".join(f"{sizes[scale]:.1f}" for scale in SCALES)


STEER_TO = {"style_weight": 1e5, "tv_weight": 1e3}  # ten times the style, a third of the smoothing


def measure_steering(engine: Engine, params: StyleParams, before_steps: int = 100,
                     after_steps: int = 200, epoch_steps: int = 20) -> list[str]:
    photo, painting = (picture(name, SHARED) for name in SCALE_PAIRS[0])
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


def report(engine: Engine, controls: Controls, sheets: Path | None = None) -> list[str]:
    """Every measure, as Markdown."""
    params = StyleParams(size=controls.size, epochs=controls.epochs,
                         steps_per_epoch=controls.steps)
    if sheets:
        sheets.mkdir(parents=True, exist_ok=True)
    return [f"{params.size} px, {params.total_steps} steps per job, {engine.model.backbone} "
            f"({engine.model.weights} weights), defaults otherwise.", "",
            "Colour (panels: photo | none | luminance | histogram):", "",
            *measure_colors(engine, params, COLOR_PAIRS[:controls.colour_pairs], sheets), "",
            "Blend (panels: photo | A only | 50/50 | B only):", "",
            *measure_blend(engine, params, sheets), "",
            "Brush scale, stroke sizes at style_scale 0.5 / 1 / 2 (panels: photo | 0.5 | 1 | 2):",
            "", *measure_scale(engine, params, SCALE_PAIRS[:controls.scale_pairs], sheets,
                               controls.style_only), "",
            "Steering:", "",
            *measure_steering(engine, params, controls.steer_before, controls.steer_after,
                              controls.steer_epoch)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.painting_controls",
                                     description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="128 px, 60 steps, one pair each (what `make bench` runs)")
    parser.add_argument("--sheets", type=Path, help="save contact sheets (256-colour PNG) here")
    args = parser.parse_args(argv)
    engine = Engine.load("vgg16", "offline")
    print("\n".join(report(engine, QUICK_CONTROLS if args.quick else Controls(), args.sheets)))
    return 0


if __name__ == "__main__":
    from service.cli import start_tensorflow

    start_tensorflow()
    sys.exit(main())
