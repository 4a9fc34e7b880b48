"""`nst`: stylize on this machine, serve the WebSocket service, talk to one, run the web app."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import sys
import time
from pathlib import Path


@contextlib.contextmanager
def _quiet_stderr():
    """Hide the C++ lines TensorFlow prints while it starts (TF_CPP_MIN_LOG_LEVEL misses some)."""
    sys.stderr.flush()
    saved = os.dup(2)
    with open(os.devnull, "w") as devnull:
        os.dup2(devnull.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def start_tensorflow() -> None:
    with _quiet_stderr():
        import tensorflow as tf

        tf.config.list_physical_devices()  # probes for CUDA now, while stderr is hidden


from .engine.params import KNOBS, MAX_STYLES, StyleParams, blend_weights  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    started = time.perf_counter()
    args = _parser().parse_args(argv)
    try:
        return args.run(args, started)
    except KeyboardInterrupt:
        print("nst: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # the edge: one sentence, no traceback
        from .engine import EngineError

        if not isinstance(error, (EngineError, OSError)):
            raise
        print(f"nst: error: {error}", file=sys.stderr)
        return 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nst", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    stylize = commands.add_parser("stylize", help="paint CONTENT in the style of STYLE, here")
    _add_job_options(stylize)
    _add_model_options(stylize)
    stylize.add_argument("--frames-dir", type=Path, help="also save every epoch's frame here")
    stylize.add_argument("--report", type=Path, help="write timings and losses as JSON here")
    stylize.set_defaults(run=_stylize)

    client = commands.add_parser("client", help="run a job on an nst service")
    _add_job_options(client)
    client.add_argument("--url", default="ws://127.0.0.1:8000/ws/stylize",
                        help="the service's WebSocket URL (default: %(default)s)")
    client.add_argument("--token", default=os.environ.get("NST_API_KEY"),
                        help="API key (default: $NST_API_KEY)")
    client.set_defaults(run=lambda args, _: _lazy("service.client").main(args))

    serve = commands.add_parser("serve", help="run the WebSocket service (configured by NST_*)")
    # The service's own process never loads TensorFlow: its engine runs in a child process.
    serve.set_defaults(run=lambda args, _: _lazy("service.server").main())

    web = commands.add_parser("web", help="run the web app (configured by NST_WEB_*, WEB_PORT)")
    web.set_defaults(run=lambda args, _: _web_app().main())

    return parser


def _add_job_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("content", type=Path, help="the photograph (PNG, JPEG or WebP)")
    parser.add_argument("style", type=Path, nargs="+",
                        help=f"the painting, or up to {MAX_STYLES} to blend (PNG, JPEG or WebP)")
    parser.add_argument("--style-blend", type=_numbers, metavar="W,W,...",
                        help="the paintings' weights in the blend, e.g. 0.7,0.3 (default: equal)")
    parser.add_argument("-o", "--output", type=Path, default=Path("out.png"),
                        help="where to save the final image (default: %(default)s)")
    for knob in KNOBS:
        default = f" (default {knob.default_text})" if knob.default is not None else ""
        parser.add_argument(knob.option, type=knob.kind, choices=knob.choices or None,
                            help=knob.help + default)


def _add_model_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--backbone", choices=("vgg19", "vgg16"),
                        default=os.environ.get("NST_BACKBONE"),
                        help="default: $NST_BACKBONE, else vgg19 (vgg16 with offline weights)")
    parser.add_argument("--weights", default=os.environ.get("NST_WEIGHTS", "auto"),
                        help="auto, imagenet, offline or a Keras weights file (default: "
                             "$NST_WEIGHTS, else auto)")
    parser.add_argument("--precision", choices=("auto", "float32", "bfloat16"),
                        default=os.environ.get("NST_PRECISION", "auto"),
                        help="what the network computes in; auto is bfloat16 where the hardware "
                             "has it (default: $NST_PRECISION, else auto)")


def _numbers(text: str) -> list[float]:
    try:
        return [float(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a list of numbers such as 0.7,0.3"
                                         ) from None


def job_params(args: argparse.Namespace) -> StyleParams:
    """StyleParams from the options a user gave; the rest keep their defaults."""
    return StyleParams.from_values(vars(args))


def _stylize(args: argparse.Namespace, started: float) -> int:
    from tqdm import tqdm

    start_tensorflow()
    from .engine import Engine
    from .engine.images import encode_png, read_image

    params = job_params(args)
    blend = blend_weights(len(args.style), args.style_blend)

    content = read_image(str(args.content))
    styles = [read_image(str(path)) for path in args.style]
    engine = Engine.load(args.backbone, args.weights, args.precision)
    params = engine.resolved(params)
    height, width = engine.output_size(content.shape, params.size, zoom=params.style_zoom)
    for style in styles:
        engine.style_size(style.shape, params)
    if args.frames_dir:
        args.frames_dir.mkdir(parents=True, exist_ok=True)

    frames = []
    first_frame_seconds = None
    with tqdm(total=params.total_steps, unit="step", desc=f"{engine.model.backbone}") as bar:
        for frame in engine.stylize(content, styles, params, style_blend=blend):
            first_frame_seconds = first_frame_seconds or time.perf_counter() - started
            frames.append(frame)
            bar.set_description(f"epoch {frame.epoch}/{frame.epochs}")
            bar.set_postfix({name: f"{value:.3g}" for name, value in frame.losses.items()})
            bar.update(frame.step - bar.n)
            if args.frames_dir:
                (args.frames_dir / f"frame-{frame.epoch:03d}.png").write_bytes(encode_png(frame.image))

    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_bytes(encode_png(frames[-1].image))
    model = engine.model
    print(f"saved {args.output} ({width}x{height}, {model.backbone} {model.weights} weights, "
          f"{model.precision}, painted in {frames[-1].elapsed_s:.1f} s)")
    if args.report:
        _write_report(args.report, engine, params, blend, frames, first_frame_seconds, started)
    return 0


def _write_report(path: Path, engine, params: StyleParams, blend: tuple[float, ...], frames: list,
                  first_frame_seconds: float | None, started: float) -> None:
    height, width = frames[-1].image.shape[:2]
    report = {
        **engine.model.as_dict(),
        "size": [height, width],
        "steps": params.total_steps,
        "params": params.as_dict(),
        "style_blend": list(blend),
        "seconds_per_step": steady_seconds_per_step(frames, params.steps_per_epoch),
        "first_frame_seconds": first_frame_seconds,
        "total_seconds": time.perf_counter() - started,
        "losses": [{"epoch": f.epoch, "step": f.step, **f.losses} for f in frames],
    }
    path.write_text(json.dumps(report, indent=2) + "\n")


def steady_seconds_per_step(frames: list, steps_per_epoch: int) -> float | None:
    """Median seconds per step over the epochs after the first (which includes tracing)."""
    epoch_seconds = [b.elapsed_s - a.elapsed_s for a, b in zip(frames, frames[1:])]
    if not epoch_seconds:
        return None
    return statistics.median(epoch_seconds) / steps_per_epoch


def _web_app():
    try:
        import web.app
    except ModuleNotFoundError as error:  # the service's image leaves the web app out
        raise OSError(f"the web app is not installed here ({error}); install the project with "
                      "its `web` extra from a checkout that has web/") from None
    return web.app


def _lazy(module: str):
    import importlib

    return importlib.import_module(module)


if __name__ == "__main__":
    sys.exit(main())
