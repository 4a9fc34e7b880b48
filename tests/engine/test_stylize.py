"""A real stylization with the offline weights on real photographs."""

import dataclasses

import numpy as np
import pytest

from service.engine import BadImage, BadParams, StyleParams

PARAMS = StyleParams(epochs=4, steps_per_epoch=25, size=96)


@pytest.fixture(scope="module")
def frames(engine, content, style):
    return list(engine.stylize(content, style, PARAMS))


def test_one_frame_per_epoch_with_progress(frames):
    assert [f.epoch for f in frames] == [1, 2, 3, 4]
    assert [f.step for f in frames] == [25, 50, 75, 100]
    assert all(f.total_steps == 100 and f.epochs == 4 for f in frames)
    assert all(a.elapsed_s < b.elapsed_s for a, b in zip(frames, frames[1:]))
    assert frames[-1].image.shape == (72, 96, 3) and frames[-1].image.dtype == np.uint8


def test_style_loss_falls_by_more_than_half(frames, engine, content, style):
    start = next(engine.stylize(content, style, dataclasses.replace(PARAMS, steps_per_epoch=1)))
    assert frames[-1].losses["style"] < 0.5 * start.losses["style"]
    assert frames[-1].losses["total"] < start.losses["total"]
    for frame in frames:
        parts = frame.losses["style"] + frame.losses["content"] + frame.losses["tv"]
        assert np.isclose(frame.losses["total"], parts, rtol=1e-4)


def test_output_differs_from_the_content(frames, content):
    from service.engine.images import resize

    original = resize(content, 72, 96).astype(np.float32)
    assert np.abs(frames[-1].image.astype(np.float32) - original).mean() > 5


def test_same_seed_same_image_and_other_seed_another(engine, content, style):
    params = StyleParams(epochs=1, steps_per_epoch=3, size=64, init="noise", seed=3)
    first = next(engine.stylize(content, style, params)).image
    again = next(engine.stylize(content, style, params)).image
    other = next(engine.stylize(content, style, dataclasses.replace(params, seed=4))).image
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)


def test_style_initialisation_starts_from_the_painting(engine, content, style):
    params = StyleParams(epochs=1, steps_per_epoch=1, size=64, init="style", learning_rate=0.0,
                         optimizer="adam")
    image = next(engine.stylize(content, style, params)).image.astype(np.float32)
    from service.engine.images import resize

    assert np.abs(image - resize(style, 48, 64)).mean() < 8
    assert np.abs(image - resize(content, 48, 64)).mean() > 20


def test_closing_after_the_first_frame_stops_the_run(engine, content, style):
    run = engine.stylize(content, style, StyleParams(epochs=50, steps_per_epoch=2, size=64))
    first = next(run)
    run.close()
    assert first.epoch == 1
    with pytest.raises(StopIteration):
        next(run)


def test_loss_weights_default_by_backbone(engine):
    resolved = engine.resolved(StyleParams(style_weight=5.0))
    assert (resolved.style_weight, resolved.content_weight, resolved.tv_weight) == (5.0, 1e3, 3e3)
    assert (resolved.optimizer, resolved.learning_rate) == ("lbfgs-adam", 0.035)
    assert engine.resolved(StyleParams(optimizer="adam")).learning_rate == 0.05
    assert engine.resolved(StyleParams(optimizer="lbfgs")).learning_rate == 1.0


def test_bad_parameters_and_images_raise_typed_errors(engine, content):
    with pytest.raises(BadParams, match="epochs"):
        StyleParams(epochs=0)
    with pytest.raises(BadParams, match="init"):
        StyleParams(init="paint")
    with pytest.raises(BadParams, match="optimizer"):
        StyleParams(optimizer="sgd")
    with pytest.raises(BadParams, match="tv_weight"):
        StyleParams(tv_weight=-1)
    with pytest.raises(BadImage, match="style image"):
        next(engine.stylize(content, np.zeros((4, 4)), StyleParams(size=32)))
