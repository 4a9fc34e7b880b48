"""Steering a running job: new weights or a new blend from the next step, with no retracing."""

import dataclasses
import threading
import time

import pytest

from service.engine import BadParams, Steering, StyleParams

PARAMS = StyleParams(epochs=3, steps_per_epoch=4, size=64)


def test_a_steer_between_frames_applies_from_the_next_step_without_retracing(engine, content,
                                                                              style):
    list(engine.stylize(content, style, PARAMS))  # traced once
    before = engine.tracing_count("lbfgs-adam")
    steering = Steering()
    run = engine.stylize(content, style, PARAMS, steering=steering)
    first = next(run)
    steering.steer(style_weight=0.0, content_weight=500.0)
    second, third = list(run)
    assert first.losses["style"] > 0
    assert second.losses["style"] == 0 and third.losses["style"] == 0
    assert steering.applied == [(4, {"style_weight": 0.0, "content_weight": 500.0})]
    assert [f.step for f in (first, second, third)] == [4, 8, 12]
    assert engine.tracing_count("lbfgs-adam") == before


def test_a_steer_from_another_thread_ends_the_running_epoch_early(engine, content, style):
    params = StyleParams(epochs=1, steps_per_epoch=400, size=64)
    steering = Steering()
    timer = threading.Timer(1.0, steering.steer, kwargs={"tv_weight": 0.0})
    started = time.perf_counter()
    timer.start()
    (frame,) = list(engine.stylize(content, style, params, steering=steering))
    timer.join()
    (step, changes), = steering.applied
    assert 0 < step < 400 and changes == {"tv_weight": 0.0}
    assert frame.step == 400 and frame.losses["tv"] == 0  # the epoch's remaining steps ran
    assert time.perf_counter() - started > 1.0


@pytest.mark.parametrize("brush", [1.0, 2.0])  # above 1 the blend has eight terms per painting
def test_a_steered_blend_moves_the_style_target(engine, content, style, full_painting, brush):
    params = dataclasses.replace(PARAMS, style_scale=brush)
    steering = Steering(paintings=2)
    run = engine.stylize(content, [style, full_painting], params, style_blend=(1, 0),
                         steering=steering)
    next(run)
    steering.steer(style_blend=[0, 3])
    last = list(run)[-1]
    assert steering.applied == [(4, {"style_blend": [0.0, 1.0]})]
    only_b = engine.objective(last.image, content, full_painting, params)
    assert last.losses["style"] == pytest.approx(only_b["style"], rel=0.05)


@pytest.mark.parametrize("changes, message", [
    ({"style_weight": -1}, "style_weight must be a number from 0"),
    ({"init": "noise"}, "only style_weight, content_weight, tv_weight, style_blend can be steered"),
    ({"style_blend": [1, 1]}, "style_blend has 2 weights for 1 paintings"),
])
def test_a_bad_steer_is_refused_and_changes_nothing(changes, message):
    steering = Steering()
    with pytest.raises(BadParams, match=message):
        steering.steer(**changes)
    assert steering.take() == {} and not steering.variable.numpy()
