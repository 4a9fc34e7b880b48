"""One benchmark run: every figure measured in turn, a failure recorded and the rest still run."""

from __future__ import annotations

import argparse
import dataclasses
import shlex
import sys
import time
import traceback
from collections.abc import Callable
from datetime import datetime, timezone

from service.engine import Engine, StyleParams
from service.engine.images import encode_png

from . import painting_controls, report
from .abuse import measure_abuse
from .cold_start import ColdStart, first_frame_seconds
from .config import FULL, QUICK, BenchConfig
from .document import write_document
from .flops import Floor, conv_flops_per_step
from .image import describe as describe_image, measure_image
from .live_service import LiveService
from .machine import describe_machine
from .memory import measure_memory
from .models import BenchModel, default_backbone, load_model
from .quality import measure_time_to_quality
from .robustness import PAIRS, measure_robustness
from .samples import Samples
from .shapes import measure_shapes
from .step_speed import measure_step_speed
from .stops import measure_cancel, measure_sigterm, seconds_per_step
from .streaming import measure_streaming


def main(args: argparse.Namespace) -> int:
    """What `python -m bench [--quick]` runs."""
    config = QUICK if args.quick else FULL
    overrides = {name: getattr(args, name) for name in ("samples", "output", "backbones")
                 if getattr(args, name) is not None}
    if "output" in overrides:  # the images go beside it, not over the committed ones
        overrides["images"] = overrides["output"].parent
    config = dataclasses.replace(config, command=_command_line(), **overrides)
    if args.size:
        config = config.at_size(args.size)
    results = run(config)
    return 1 if results.failures else 0


def run(config: BenchConfig) -> report.Results:
    """Measure what `config` asks for, print the table, write the document; returns the Results."""
    samples = Samples.read(config.samples / config.content, config.samples / config.style)
    models = {backbone: load_model(backbone) for backbone in config.backbones}
    quality_model = models.get(default_backbone()) or load_model(default_backbone())
    results = report.Results(config, describe_machine(), quality_model.engine.model.precision,
                             datetime.now(timezone.utc))
    if any(model.weights == "random" for model in models.values()):
        results.notes.append(
            "random weights: ImageNet VGG19 weights cannot be downloaded on this machine; "
            "a step costs the same whatever the weights hold.")

    _measure_step_speeds(config, results, samples, models)
    _attempt(results, f"time to quality {config.quality_size} px",
             lambda: _measure_time_to_quality(config, results, samples, quality_model))
    _measure_robustness(config, results, quality_model)
    if config.controls:
        _attempt(results, "the painting controls", lambda: setattr(
            results, "painting_controls",
            painting_controls.report(quality_model.engine, config.controls)))

    if config.service:
        _measure_service(config, results, samples, models)
        _attempt(results, "nst serve: memory and first frame over many shapes",
                 lambda: _measure_shapes(config, results, samples))
        _attempt(results, "nst serve: stop latency of cancel and SIGTERM",
                 lambda: _measure_stops(config, results, samples))
        _attempt(results, "nst serve: answers under abuse", lambda: setattr(
            results, "abuse", measure_abuse(config.service_env, samples.files())))
    if config.image:
        _attempt(results, "the CPU image", lambda: results.notes.append(
            describe_image(measure_image(config.service_env))))

    results.finished = datetime.now(timezone.utc)
    generated = report.render(results)
    print(generated)
    write_document(config.output, generated)
    _say(f"wrote {config.output}")
    return results


def _measure_time_to_quality(config: BenchConfig, results: report.Results, samples: Samples,
                             model: BenchModel) -> None:
    """nst's time to the reference's objective, and both sides' pictures beside the document."""
    results.quality = measure_time_to_quality(
        model, *samples.at(config.quality_size), config.quality_size,
        config.reference_epochs, config.reference_steps)
    config.images.mkdir(parents=True, exist_ok=True)
    pictures = {"bench-reference.png": results.quality.reference_image,
                "bench-nst.png": results.quality.nst_image}
    for name, image in pictures.items():
        (config.images / name).write_bytes(encode_png(image))


def _measure_step_speeds(config: BenchConfig, results: report.Results, samples: Samples,
                         models: dict[str, BenchModel]) -> None:
    """Step speed, and the arithmetic floor beside it, per size and backbone."""
    for size in config.speed_sizes:
        for backbone, model in models.items():
            if (backbone, size) in config.speed_skipped:
                continue

            def step_speed(model=model, size=size) -> None:
                speed = measure_step_speed(model, *samples.at(size), size, config.speed_rounds,
                                           config.speed_epochs, config.speed_steps)
                results.step_speeds.append(speed)
                results.floors.append(Floor(
                    speed.model, speed.backbone, size,
                    conv_flops_per_step(speed.backbone, *speed.shape),
                    speed.nst_s, speed.reference_s, model.engine.model.precision))

            _attempt(results, f"step speed {backbone} {size} px", step_speed)


def _measure_service(config: BenchConfig, results: report.Results, samples: Samples,
                     models: dict[str, BenchModel]) -> None:
    """Cold start of `nst stylize`, then one live `nst serve`: ready time, streaming, memory."""
    first_frame: list[float] = []
    _attempt(results, f"cold start of nst stylize at {config.cold_start_size} px",
             lambda: first_frame.append(first_frame_seconds(
                 samples.content_path, samples.style_path, config.cold_start_size,
                 config.cold_start_steps)))

    def service_figures() -> None:
        with LiveService(config.service_env) as service:
            _say(f"nst serve ready in {service.ready_s:.1f} s ({service.model})")
            results.cold_start = ColdStart(
                config.cold_start_size, config.cold_start_steps or StyleParams().steps_per_epoch,
                first_frame[0] if first_frame else None, service.ready_s)
            same = models.get(service.model.backbone)
            engine = (same.engine if same and same.engine.model == service.model
                      else Engine.load(service.model.backbone, service.model.weights,
                                       service.model.precision))
            results.streaming = measure_streaming(
                service.ws_url, engine, samples.files(), (samples.content, samples.style),
                StyleParams(epochs=config.streaming_epochs,
                            steps_per_epoch=config.streaming_steps, size=config.streaming_size),
                config.streaming_rounds)
            results.memory = measure_memory(
                service.ws_url, service.pid, samples.files(),
                StyleParams(epochs=config.memory_epochs, steps_per_epoch=config.memory_steps,
                            size=config.memory_size))

    _attempt(results, "nst serve: ready time, streaming overhead, memory", service_figures)


def _measure_robustness(config: BenchConfig, results: report.Results, model: BenchModel) -> None:
    """Each pair as a short job at every size, the first few also as the default job; a pair
    that fails to run is listed, and the others still run."""
    shared = config.samples.parent  # samples/, references/ (scikit-image has the rest)
    for index, pair in enumerate(PAIRS[:config.robustness_pairs]):
        default_size = (config.robustness_default_size
                        if index < config.robustness_default_jobs else None)

        def robustness(pair=pair, default_size=default_size) -> None:
            results.robustness.extend(measure_robustness(
                model.engine, shared, [pair], config.robustness_sizes, default_size))

        _attempt(results, f"robustness {' × '.join(pair)}", robustness)


def _measure_shapes(config: BenchConfig, results: report.Results, samples: Samples) -> None:
    """A service of its own, so that nothing but these jobs has touched its memory."""
    env = {**config.service_env, "NST_MAX_SIZE": str(config.shape_max_size)}
    with LiveService(env) as service:
        results.shapes = measure_shapes(
            service.ws_url, service.pid, samples.content, samples.files()[1],
            config.shape_min_size, config.shape_max_size, config.shape_first_jobs,
            config.shape_jobs, config.shape_latency_rounds)


def _measure_stops(config: BenchConfig, results: report.Results, samples: Samples) -> None:
    """A service that lets the long epoch run and stops it at SIGTERM with no grace period."""
    env = {**config.service_env, "NST_SHUTDOWN_GRACE_S": "0",
           "NST_MAX_STEPS_PER_EPOCH": str(max(config.stop_steps, StyleParams().steps_per_epoch))}
    params = StyleParams(epochs=1, steps_per_epoch=config.stop_steps, size=config.stop_size)
    with LiveService(env) as service:
        step_s = seconds_per_step(service.ws_url, samples.files(), config.stop_size)
        results.cancel = measure_cancel(service.ws_url, samples.files(), params,
                                        config.stop_after_s, step_s)
        results.sigterm = measure_sigterm(service.ws_url, service.process, samples.files(),
                                          params, config.stop_after_s, step_s)


def _attempt(results: report.Results, name: str, measure: Callable[[], None]) -> None:
    """Run one measurement; a failure is reported in the table, and the others still run."""
    _say(f"{name} ...")
    began = time.perf_counter()
    try:
        measure()
    except Exception as error:  # noqa: BLE001
        traceback.print_exc()
        results.failures.append(f"{name}: {type(error).__name__}: {error}")
    _say(f"{name}: {time.perf_counter() - began:.0f} s")


def _command_line() -> str:
    return shlex.join(["python", "-m", "bench", *sys.argv[1:]])


def _say(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)
