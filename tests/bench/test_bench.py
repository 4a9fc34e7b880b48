"""The benchmark (`python -m bench`) end to end at a tiny size: every figure is produced, and the document is written.

This checks that the benchmark works, not how fast anything is: the figures must exist and be
finite positive numbers. Everything is real: both networks, the reference, SeaweedFS, `nst serve`,
`nst stylize` in its own process.
"""

import dataclasses
import math
import re

import pytest

from bench.quality import main as quality_main
from bench.runner import run
from bench.config import QUICK
from bench.document import BEGIN, END
from bench.report import figures

SIZE = 64
# Differences and counts that may honestly be zero or negative in a run.
SIGNED = {"robustness.passed", "shapes.growth_mib", "shapes.new_shape_extra_s"}


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bench")
    output = folder / "benchmarks.md"
    output.write_text("# Benchmarks\n\nHand-written text above.\n\n"
                      f"{BEGIN}\nan old table\n{END}\n\n## Levers\n\nHand-written text below.\n")
    config = dataclasses.replace(
        QUICK.at_size(SIZE), command="pytest tests/bench", output=output, images=folder,
        speed_rounds=1, speed_epochs=2, speed_steps=2,
        reference_epochs=2, reference_steps=3,
        cold_start_steps=2, streaming_epochs=2, streaming_steps=2, memory_steps=1,
        shape_first_jobs=2, shape_jobs=5, shape_latency_rounds=1, stop_after_s=2.0,
    )
    return run(config), folder


def test_every_figure_is_a_finite_positive_number(bench):
    results, _ = bench
    assert results.failures == []
    values = figures(results)
    expected = {
        *(f"step_speed.{backbone}.{SIZE}.{name}" for backbone in ("vgg19", "vgg16")
          for name in ("nst_s", "reference_s", "ratio")),
        *(f"floor.{backbone}.{SIZE}.{name}" for backbone in ("vgg19", "vgg16")
          for name in ("flops_per_step", "nst_flops_per_s", "h100_tf32_s", "h100_bf16_s",
                       "fraction_of_peak")),
        "time_to_quality.reference_s", "time_to_quality.reference_loss",
        "time_to_quality.nst_s", "time_to_quality.ratio",
        "streaming.service_s", "streaming.inside_service_s", "streaming.engine_s",
        "streaming.ratio",
        "cold_start.first_frame_s", "cold_start.ready_s",
        "memory.peak_during_mib", "memory.high_water_mib",
        "robustness.runs", "robustness.passed",
        "shapes.after_first_mib", "shapes.after_all_mib", "shapes.growth_mib",
        "shapes.new_shape_s", "shapes.seen_shape_s", "shapes.new_shape_extra_s",
        *(f"stop.{how}.{name}" for how in ("cancel", "sigterm")
          for name in ("step_s", "frame_s", "end_s")),
        "abuse.busy_s", "abuse.accepted_storage_hung_s", "abuse.healthz_storage_hung_s",
        "abuse.healthz_40mb_s",
    }
    assert expected <= values.keys()
    bad = {name: value for name, value in values.items()
           if value is None or not math.isfinite(value) or (value <= 0 and name not in SIGNED)}
    assert bad == {}


def test_the_painting_controls_are_measured_and_written(bench):
    results, folder = bench
    rows = [line for line in results.painting_controls if line.startswith("| tubingen × ")]
    assert len(rows) == 2  # the colour pair and the brush scale's pair
    text = (folder / "benchmarks.md").read_text()
    assert "The painting controls (`bench/painting_controls.py`" in text and rows[1] in text


def test_the_robustness_runs_are_judged_and_every_verdict_is_in_the_table(bench):
    results, folder = bench
    [verdict] = results.robustness  # one pair, one size, the short job
    assert (verdict.size, verdict.job, verdict.steps) == (SIZE, "3 x 15", 45)
    assert all(math.isfinite(value) for value in
               (verdict.style_ratio, verdict.layout, verdict.sharpness, verdict.seconds))
    text = (folder / "benchmarks.md").read_text()
    assert f"| {verdict.pair} | {'✓' if verdict.passed else '✗'}" in text
    assert f"{int(verdict.passed)} of 1 runs pass" in text


def test_the_stops_come_within_the_long_epoch(bench):
    results, _ = bench
    for stop in (results.cancel, results.sigterm):
        assert 0 < stop.steps_done < stop.steps_per_epoch
        assert 0 < stop.frame_s <= stop.end_s


def test_both_sides_are_judged_by_the_same_objective(bench):
    results, _ = bench
    quality = results.quality
    reached = quality.reached
    assert reached is not None and reached.objective <= quality.reference_loss
    assert all(point.objective > quality.reference_loss for point in quality.nst_history[:-1])


def test_the_document_keeps_the_hand_written_text_around_the_new_table(bench):
    results, folder = bench
    text = (folder / "benchmarks.md").read_text()
    assert "Hand-written text above." in text and "## Levers" in text
    assert "an old table" not in text
    for needed in ("pytest tests/bench", results.machine.cpu, "tensorflow", "keras", "numpy",
                   "python", "Step speed", "Time to quality", "Streaming overhead",
                   "Cold start", "Memory", "H100",
                   "Robustness", "First frame at a new shape", "Stop: `cancel`", "Stop: SIGTERM",
                   "Busy answer", "Storage hung"):
        assert needed in text
    # The ratios depend on the hardware's precision (bfloat16 or float32), so their rows say it.
    ratio_rows = [line for line in text.splitlines()
                  if line.startswith(("| Step speed (", "| Time to quality"))]
    assert len(ratio_rows) == 3
    assert all(f"nst in {results.precision}" in row for row in ratio_rows), ratio_rows
    assert (folder / "bench-reference.png").stat().st_size > 0
    assert (folder / "bench-nst.png").stat().st_size > 0


def test_the_time_to_quality_command_prints_the_figure_it_measured(capsys):
    code = quality_main(["--size", "64", "--reference-epochs", "2", "--reference-steps", "5",
                         "--optimizer", "adam"])
    out = capsys.readouterr().out
    first, *frames, last = out.strip().splitlines()
    assert "64 px" in first and "the reference's 10 steps" in first
    assert "nst's optimiser adam:" in first
    assert frames and all(line.startswith("  nst step ") for line in frames)
    if code == 0:
        ratio, nst_s, reference_s = (float(x) for x in re.findall(
            r"time to quality ([\d.]+) \(([\d.]+) s, \d+ steps, against ([\d.]+) s\)", last)[0])
        assert math.isclose(ratio, nst_s / reference_s, rel_tol=0.02, abs_tol=0.006)
    else:
        assert code == 1 and last.startswith("nst did not reach L")
