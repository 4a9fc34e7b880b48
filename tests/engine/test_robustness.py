"""Every job paints: monotone frames where L-BFGS once diverged, a stop within a step, one traced
graph for every shape, and shapes the network cannot take refused before any work."""

import threading
import time
from pathlib import Path

import numpy as np
import pytest

from bench.robustness import judge, main, picture
from service.engine import BadImage, StopSignal, StyleParams

SHARED = Path(__file__).resolve().parents[3] / "shared"


def test_the_pair_that_diverged_now_paints_with_frames_that_never_get_worse(engine):
    # Unguarded L-BFGS: first frame 2.95e7 (the photo is ~3e5) and noise to the end.
    content, style = picture("chelsea", SHARED), picture("starry_night", SHARED)
    verdict = judge(engine, content, style, StyleParams(size=192, epochs=4, steps_per_epoch=15))
    assert verdict.passed, verdict.failures()


def test_a_bad_step_is_taken_back_not_shown(engine, content, style):
    # A learning rate that throws every unguarded step far away: the frames still never rise.
    params = StyleParams(size=64, epochs=4, steps_per_epoch=5, optimizer="adam", learning_rate=50)
    photo_total = engine.objective(_at(content, 48, 64), content, style, params)["total"]
    totals = [frame.losses["total"] for frame in engine.stylize(content, style, params)]
    assert totals[0] <= photo_total
    assert all(later <= earlier for earlier, later in zip(totals, totals[1:]))


def test_a_stop_ends_a_long_epoch_within_a_step(engine, content, style):
    params = StyleParams(size=64, epochs=1, steps_per_epoch=100_000)
    stop = StopSignal()
    frames, finished = [], threading.Event()

    def run():
        frames.extend(engine.stylize(content, style, params, stop=stop))
        finished.set()

    threading.Thread(target=run, daemon=True).start()
    time.sleep(3.0)  # tracing, then a few hundred steps
    stop.set()
    stopped = time.perf_counter()
    assert finished.wait(timeout=10), "the epoch ran on after the stop"
    latency = time.perf_counter() - stopped
    [frame] = frames
    seconds_per_step = frame.elapsed_s / frame.step
    assert latency <= seconds_per_step + 0.5
    assert 0 < frame.step < params.steps_per_epoch
    # The frame is the image the run reached, not the photo it started from.
    assert np.abs(frame.image.astype(float) - _at(content, 48, 64)).mean() > 2


def test_jobs_of_many_shapes_share_one_traced_graph(engine, content, style):
    rng = np.random.default_rng(7)
    next(engine.stylize(content, style, StyleParams(size=128, epochs=1, steps_per_epoch=1)))
    traces = _traces(engine)
    for _ in range(12):
        size = int(rng.integers(96, 257))
        ratio = float(np.exp(rng.uniform(np.log(1 / 3), np.log(3))))
        height, width = (size, max(16, round(size * ratio))) if ratio < 1 else \
            (max(16, round(size / ratio)), size)
        photo = _at(content, height, width)
        frame = next(engine.stylize(photo, style, StyleParams(size=size, epochs=1,
                                                              steps_per_epoch=2)))
        assert frame.image.shape[:2] == engine.output_size(photo.shape, size)
    assert _traces(engine) == traces


def test_a_shape_the_network_cannot_take_is_refused_before_any_work(engine, style):
    strip = np.zeros((40, 2000, 3), np.uint8)
    with pytest.raises(BadImage, match=r"2000x40 px \(50:1\).*at least 16 px.*32:1"):
        engine.output_size(strip.shape, 512)
    with pytest.raises(BadImage, match="style image"):
        next(engine.stylize(style, strip, StyleParams(size=512)))
    assert engine.output_size((40, 2000, 3), 800) == (16, 800)


def _at(image: np.ndarray, height: int, width: int) -> np.ndarray:
    from service.engine.images import resize

    return resize(image, height, width)


def _traces(engine) -> int:
    return sum(f.experimental_get_tracing_count() for f in engine._epochs.values())


def test_the_robustness_command_judges_a_pair_of_any_photo_and_refuses_an_unknown_one(capsys):
    with pytest.raises(SystemExit) as refused:
        main(["--pairs", "nosuch-the_scream"])
    assert refused.value.code == 2 and "no picture named 'nosuch'" in capsys.readouterr().err
    with pytest.raises(SystemExit) as refused:
        main(["--sizes", "128,12a"])
    assert refused.value.code == 2 and "not '128,12a'" in capsys.readouterr().err

    code = main(["--pairs", "retina-starry_night", "--sizes", "64", "--short-only"])
    table = capsys.readouterr().out
    row = next(line for line in table.splitlines() if line.startswith("| retina × starry_night |"))
    assert "| Pair | 64 px, 3 x 15 |" in table and row.count("|") == 3
    assert code == (0 if "✓" in row else 1)
