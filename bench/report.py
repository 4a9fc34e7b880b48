"""The results of one run: a flat dict of figures, and the table (bench/document.py writes it)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from service.engine import StyleParams

from .abuse import Abuse
from .cold_start import ColdStart
from .config import BenchConfig
from .flops import Floor
from .machine import Machine
from .memory import Memory
from .quality import TimeToQuality
from . import robustness
from .robustness import Verdict
from .shapes import Shapes
from .step_speed import StepSpeed
from .stops import Stop
from .streaming import Streaming

TARGETS = {
    "step_speed": "≥ 1.5× at 512 px (aim 2×)",
    "time_to_quality": "≤ 0.5 (aim 0.2)",
    "streaming": "< 1.03",
    "first_frame": "≤ 15 s",
    "robustness": "every run passes",
    "shape_memory": "≤ 143 MiB (150 MB)",
    "new_shape": "≤ +0.5 s",
    "sigterm": "`done` ≤ 10 s (Cloud Run's SIGKILL)",
    "busy": "≤ 50 ms",
    "accepted_storage_hung": "≤ 0.5 s",
    "healthz": "≤ 50 ms",
}


@dataclass
class Results:
    config: BenchConfig
    machine: Machine
    precision: str
    started: datetime
    step_speeds: list[StepSpeed] = field(default_factory=list)
    floors: list[Floor] = field(default_factory=list)
    quality: TimeToQuality | None = None
    cold_start: ColdStart | None = None
    streaming: Streaming | None = None
    memory: Memory | None = None
    robustness: list[Verdict] = field(default_factory=list)
    shapes: Shapes | None = None
    cancel: Stop | None = None
    sigterm: Stop | None = None
    abuse: Abuse | None = None
    painting_controls: list[str] = field(default_factory=list)  # Markdown, as it prints
    notes: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    finished: datetime | None = None


def figures(results: Results) -> dict[str, float | None]:
    """Every number the run produced, by a stable name (None: the figure could not be reached)."""
    out: dict[str, float | None] = {}
    for speed in results.step_speeds:
        key = f"step_speed.{speed.backbone}.{speed.size}"
        out |= {f"{key}.nst_s": speed.nst_s, f"{key}.reference_s": speed.reference_s,
                f"{key}.ratio": speed.ratio}
    for floor in results.floors:
        key = f"floor.{floor.backbone}.{floor.size}"
        out |= {f"{key}.flops_per_step": floor.flops_per_step,
                f"{key}.nst_flops_per_s": floor.nst_flops_per_s,
                f"{key}.h100_tf32_s": floor.h100_tf32_s, f"{key}.h100_bf16_s": floor.h100_bf16_s,
                f"{key}.fraction_of_peak": floor.fraction_of_peak}
    if quality := results.quality:
        out |= {"time_to_quality.reference_s": quality.reference_s,
                "time_to_quality.reference_loss": quality.reference_loss,
                "time_to_quality.nst_s": quality.nst_s if quality.reached else None,
                "time_to_quality.ratio": quality.ratio}
    if streaming := results.streaming:
        out |= {"streaming.service_s": streaming.service_s,
                "streaming.inside_service_s": streaming.inside_service_s,
                "streaming.engine_s": streaming.engine_s, "streaming.ratio": streaming.ratio}
    if cold := results.cold_start:
        out |= {"cold_start.first_frame_s": cold.first_frame_s, "cold_start.ready_s": cold.ready_s}
    if memory := results.memory:
        out |= {"memory.peak_during_mib": memory.peak_during_mib,
                "memory.high_water_mib": memory.high_water_mib}
    if results.robustness:
        out |= {"robustness.runs": len(results.robustness),
                "robustness.passed": sum(verdict.passed for verdict in results.robustness)}
    if shapes := results.shapes:
        out |= {f"shapes.{name}": getattr(shapes, name) for name in (
            "after_first_mib", "after_all_mib", "growth_mib", "new_shape_s", "seen_shape_s",
            "new_shape_extra_s")}
    for stop in (results.cancel, results.sigterm):
        if stop:
            key = f"stop.{stop.how.lower()}"
            out |= {f"{key}.step_s": stop.step_s, f"{key}.frame_s": stop.frame_s,
                    f"{key}.end_s": stop.end_s}
    if abuse := results.abuse:
        out |= {f"abuse.{name}": getattr(abuse, name) for name in (
            "busy_s", "accepted_storage_hung_s", "healthz_storage_hung_s", "healthz_40mb_s")}
    return out


# The table --------------------------------------------------------------------------------------

def render(results: Results) -> str:
    """The generated part of the document (also what the command prints)."""
    machine = results.machine
    lines = [
        f"Run `{results.config.command}` on {results.started:%Y-%m-%d %H:%M} UTC"
        + (f", {_minutes(results)} min" if results.finished else "") + ".",
        "",
        f"- Machine: {machine.cpu}, {machine.cores} cores, {machine.ram_gib:.0f} GiB RAM; "
        f"device: {machine.device}; engine precision: {results.precision}; "
        f"nst's default optimiser: {StyleParams().optimizer}.",
        "- Versions: " + ", ".join(f"{name} {version}"
                                   for name, version in machine.versions.items()) + ".",
        "",
        "| Figure | Setting | nst | Reference / baseline | Ratio | Target |",
        "| --- | --- | --- | --- | --- | --- |",
        *_step_speed_rows(results),
        *_quality_rows(results),
        *_streaming_rows(results),
        *_cold_start_rows(results),
        *_memory_rows(results),
        *_robustness_rows(results),
        *_shape_rows(results),
        *_stop_rows(results),
        *_abuse_rows(results),
        "",
    ]
    if results.robustness:
        lines += _robustness_table(results.robustness)
    if results.floors:
        lines += _floor_table(results.floors)
    if results.quality:
        lines += _quality_history(results.quality)
    if results.painting_controls:
        lines += ["The painting controls (`bench/painting_controls.py`, its quick form):", "",
                  *results.painting_controls, ""]
    lines += [f"- Note: {note}" for note in results.notes]
    lines += [f"- **Not measured**: {failure}" for failure in results.failures]
    return "\n".join(lines).rstrip() + "\n"


def _step_speed_rows(results: Results) -> list[str]:
    rows = []
    for speed in results.step_speeds:
        height, width = speed.shape
        rows.append(
            f"| Step speed (s/step, median of {len(speed.nst_samples)}) | {speed.model}, "
            f"{speed.size} px ({width}×{height}), nst in {results.precision} "
            f"| {speed.nst_s:.3f} | {speed.reference_s:.3f} | **{speed.ratio:.2f}×** faster "
            f"| {TARGETS['step_speed']} |")
    for backbone, size in results.config.speed_skipped:
        rows.append(f"| Step speed | {backbone}, {size} px | skipped in this run | | | |")
    return rows


def _quality_rows(results: Results) -> list[str]:
    quality = results.quality
    if quality is None:
        return []
    reached = quality.reached
    last = quality.nst_history[-1]
    nst = (f"{quality.nst_s:.1f} s ({reached.step} steps)" if reached
           else f"not reached in {last.step} steps ({quality.nst_s:.1f} s)")
    ratio = (f"**{quality.ratio:.2f}**" if quality.ratio
             else f"> {quality.nst_s / quality.reference_s:.2f}")
    return [
        f"| Time to quality (wall time to objective ≤ L) | {quality.model}, {quality.size} px, "
        f"nst in {results.precision}, L = {quality.reference_loss:.4g} "
        f"(the reference's {quality.reference_steps} steps) "
        f"| {nst} | {quality.reference_s:.1f} s | {ratio} | {TARGETS['time_to_quality']} |"]


def _streaming_rows(results: Results) -> list[str]:
    streaming = results.streaming
    if streaming is None:
        return []
    return [
        f"| Streaming overhead (job wall time, median of {len(streaming.service_samples)}) "
        f"| service over WebSocket vs bare engine, {streaming.size} px, {streaming.epochs} × "
        f"{streaming.steps_per_epoch} steps, frames every epoch, storage on "
        f"| {streaming.service_s:.2f} s (engine inside it: {streaming.inside_service_s:.2f} s) "
        f"| {streaming.engine_s:.2f} s (bare engine) "
        f"| **{streaming.ratio:.3f}** ({(streaming.ratio - 1) * 100:+.1f}%) "
        f"| {TARGETS['streaming']} |"]


def _cold_start_rows(results: Results) -> list[str]:
    cold = results.cold_start
    if cold is None:
        return []
    first = "failed" if cold.first_frame_s is None else f"{cold.first_frame_s:.1f} s"
    return [
        f"| Cold start: first frame | `nst stylize --size {cold.size}`, process start to the first "
        f"frame ({cold.steps_per_epoch} steps in epoch 1) | {first} | | "
        f"| {TARGETS['first_frame']} |",
        f"| Cold start: ready | `nst serve`, process start to `/readyz` 200 (model loaded and "
        f"warmed) | {cold.ready_s:.1f} s | | | |",
    ]


def _memory_rows(results: Results) -> list[str]:
    memory = results.memory
    if memory is None:
        return []
    return [
        f"| Memory (peak RSS of the service) | during a {memory.size} px job (VmRSS sampled every "
        f"50 ms; {memory.before_mib:.0f} MiB before it) | {memory.peak_during_mib:.0f} MiB | | "
        f"| high-water mark since start {memory.high_water_mib:.0f} MiB |"]


def _robustness_rows(results: Results) -> list[str]:
    verdicts = results.robustness
    if not verdicts:
        return []
    passed = sum(verdict.passed for verdict in verdicts)
    pairs = len(dict.fromkeys(verdict.pair for verdict in verdicts))
    jobs = ", ".join(f"{job} at {', '.join(str(size) for size in sizes)} px"
                     for job, sizes in _sizes_by_job(verdicts).items())
    return [f"| Robustness (each run judged as a picture; table below) | {pairs} pair(s); {jobs} "
            f"| **{passed} of {len(verdicts)}** pass | | | {TARGETS['robustness']} |"]


def _sizes_by_job(verdicts: list[Verdict]) -> dict[str, list[int]]:
    sizes: dict[str, list[int]] = {}
    for verdict in verdicts:
        if verdict.size not in sizes.setdefault(verdict.job, []):
            sizes[verdict.job].append(verdict.size)
    return sizes


def _shape_rows(results: Results) -> list[str]:
    shapes = results.shapes
    if shapes is None:
        return []
    return [
        f"| Memory over many shapes (service VmRSS growth) | one-step jobs of random shape "
        f"({shapes.min_size}–{shapes.max_size} px, 1:3 to 3:1): {shapes.after_first_mib:.0f} MiB "
        f"after {shapes.first_jobs} jobs, {shapes.after_all_mib:.0f} MiB after "
        f"{len(shapes.shapes)} | **{shapes.growth_mib:+.0f} MiB** | | "
        f"| {TARGETS['shape_memory']} |",
        f"| First frame at a new shape (median of {len(shapes.new_shape_samples)}) | one-step "
        f"job, sending `start` to the frame: a never-seen shape vs the same shape again "
        f"| {shapes.new_shape_s:.2f} s | {shapes.seen_shape_s:.2f} s (seen) "
        f"| **{shapes.new_shape_extra_s:+.2f} s** | {TARGETS['new_shape']} |",
    ]


def _stop_rows(results: Results) -> list[str]:
    rows = []
    if cancel := results.cancel:
        rows.append(
            f"| Stop: `cancel` | {_long_job(cancel)}: `cancel` to the last frame / to `done` "
            f"cancelled (stored) | **{cancel.frame_s:.2f} s** / {cancel.end_s:.2f} s "
            f"| {cancel.step_s:.3f} s/step | | ≤ one step + 0.5 s ({cancel.bound_s:.2f} s) |")
    if sigterm := results.sigterm:
        rows.append(
            f"| Stop: SIGTERM | {_long_job(sigterm)}, NST_SHUTDOWN_GRACE_S=0: SIGTERM to the "
            f"last frame / to `done` interrupted (stored) | **{sigterm.frame_s:.2f} s** / "
            f"**{sigterm.end_s:.2f} s** | {sigterm.step_s:.3f} s/step | "
            f"| the stop ≤ one step + 0.5 s ({sigterm.bound_s:.2f} s); {TARGETS['sigterm']} |")
    return rows


def _abuse_rows(results: Results) -> list[str]:
    abuse = results.abuse
    if abuse is None:
        return []
    return [
        f"| Busy answer (`bench/abuse.py`) | queue full, a `start` of two 5000 × 5000 PNGs "
        f"| **{abuse.busy_s * 1e3:.1f} ms** | | | {TARGETS['busy']} |",
        f"| Storage hung (SIGSTOP), 20 `/v1` calls waiting | `start` to `accepted` / `/healthz` "
        f"| **{abuse.accepted_storage_hung_s * 1e3:.0f} ms** / "
        f"**{abuse.healthz_storage_hung_s * 1e3:.1f} ms** | | "
        f"| {TARGETS['accepted_storage_hung']} / {TARGETS['healthz']} |",
        f"| `/healthz` during a 40 MB message | the slowest probe (every 10 ms) while it is "
        f"received and parsed | **{abuse.healthz_40mb_s * 1e3:.0f} ms** | | "
        f"| {TARGETS['healthz']} |",
    ]


def _long_job(stop: Stop) -> str:
    return (f"1 × {stop.steps_per_epoch} steps at {stop.size} px, stopped {stop.after_s:g} s in "
            f"(at step {stop.steps_done})")


def _robustness_table(verdicts: list[Verdict]) -> list[str]:
    return ["Robustness (`bench/robustness.py`), a row per photo × painting, a column per job "
            "and size:", "", *robustness.markdown(verdicts), ""]


def _floor_table(floors: list[Floor]) -> list[str]:
    lines = [
        "Arithmetic floor: convolution FLOPs per step (forward + gradient w.r.t. the input), "
        "the throughput achieved here, and the bound an H100 would set (495 TFLOP/s dense TF32, "
        "790 bf16).",
        "",
        "| Network, size | GFLOP / step | nst GFLOP/s here | reference GFLOP/s here "
        "| H100 floor TF32 | H100 floor bf16 | nst / H100 peak |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for floor in floors:
        lines.append(
            f"| {floor.model}, {floor.size} px | {floor.flops_per_step / 1e9:.1f} "
            f"| {floor.nst_flops_per_s / 1e9:.1f} | {floor.reference_flops_per_s / 1e9:.1f} "
            f"| {floor.h100_tf32_s * 1e3:.3g} ms/step | {floor.h100_bf16_s * 1e3:.3g} ms/step "
            f"| {floor.fraction_of_peak:.2e} |")
    return lines + [""]


def _quality_history(quality: TimeToQuality) -> list[str]:
    """Both sides' objective over time: where nst stands when the reference ends, and why."""
    def points(history: list) -> str:
        return "; ".join(f"step {point.step} at {point.seconds:.0f} s: {point.objective:.4g}"
                         for point in history)

    return ["Time to quality, the objective as each side went (its own time only):", "",
            f"- nst ({quality.nst_params.epochs} × {quality.nst_params.steps_per_epoch} steps, "
            f"lr {quality.nst_params.learning_rate}): {points(quality.nst_history)}",
            f"- reference: {points(quality.reference_history)}", ""]


def _minutes(results: Results) -> str:
    return f"{(results.finished - results.started).total_seconds() / 60:.0f}"

