"""The painting controls: keeping the photo's colours, the brush scale, blending paintings."""

import numpy as np
import pytest
from skimage.color import rgb2lab
from skimage.filters import gaussian
from skimage.transform import resize as resize_float

import tensorflow as tf

from service.engine import BadImage, BadParams, StyleParams
from service.engine import colors, loop
from service.engine.features import (STYLE_LAYERS, ZOOMED_LAYERS, content_and_style,
                                     seen_smaller, zoomed_grams)
from service.engine.losses import relative_error
from service.engine.images import resize
from service.engine.params import blend_weights

SHORT = StyleParams(epochs=2, steps_per_epoch=15, size=96)


def chroma_correlation(image: np.ndarray, photo: np.ndarray) -> float:
    """Correlation of the Lab a* and b* channels of 16 x 12 thumbnails (the issue's measure)."""
    def chroma(picture):
        thumbnail = resize_float(picture, (12, 16), anti_aliasing=True)
        return rgb2lab(thumbnail)[..., 1:].ravel()
    return float(np.corrcoef(chroma(image), chroma(photo))[0, 1])


def test_luminance_keeps_the_photos_colour_and_paints_its_luminance(engine, content, style):
    params = StyleParams(epochs=2, steps_per_epoch=15, size=96, preserve_colors="luminance")
    image = list(engine.stylize(content, style, params))[-1].image
    photo = resize(content, 72, 96)
    yiq = np.array(colors._RGB_TO_YIQ)
    # Only rounding to uint8 and clipping to the gamut separate the frame's colour from the photo's.
    colour_error = np.abs((image.astype(float) - photo.astype(float)) @ yiq[1:].T)
    assert np.median(colour_error) < 1.5
    assert chroma_correlation(image, photo) >= 0.9
    assert np.abs(colors.luminance(image) - colors.luminance(photo)).mean() > 5


def test_histogram_gives_the_painting_the_photos_colour_statistics(content, style):
    matched = colors.match_histogram(style, content).reshape(-1, 3).astype(float)
    photo = content.reshape(-1, 3).astype(float)
    painting = style.reshape(-1, 3).astype(float)
    np.testing.assert_allclose(matched.mean(axis=0), photo.mean(axis=0), atol=3)
    np.testing.assert_allclose(np.cov(matched.T), np.cov(photo.T), rtol=0.15, atol=30)
    assert np.abs(np.cov(painting.T) - np.cov(photo.T)).max() > 200  # the test means something


def test_histogram_paints_with_the_matched_painting(engine, content, style):
    none = engine.style_targets(style, content, SHORT)
    matched = engine.style_targets(style, content, StyleParams(size=96,
                                                               preserve_colors="histogram"))
    painting = colors.match_histogram(resize(style, 60, 96), resize(content, 72, 96))
    expected = engine.style_targets(painting, content, SHORT)
    assert not np.allclose(none[0].numpy(), matched[0].numpy(), rtol=0.05)
    np.testing.assert_array_equal(matched[0].numpy(), expected[0].numpy())


def test_style_scale_shrinks_the_painting_below_1_and_never_enlarges_it(engine, style):
    assert engine.style_size(style.shape, StyleParams(size=96)) == (60, 96)
    assert engine.style_size(style.shape, StyleParams(size=96, style_scale=0.5)) == (30, 48)
    assert engine.style_size(style.shape, StyleParams(size=96, style_scale=2)) == (60, 96)
    assert engine.style_size(style.shape, StyleParams(size=1024, style_scale=4)) == (640, 1024)


def test_style_scale_changes_the_style_target(engine, content, style):
    small, large = (engine.style_targets(style, content, StyleParams(size=96, style_scale=scale))
                    for scale in (0.5, 1))
    assert not np.allclose(small[0].numpy(), large[0].numpy(), rtol=0.05)


def test_a_larger_brush_holds_the_output_to_the_painting_magnified_and_seen_smaller(
        engine, content, full_painting):
    """Above 1: every layer against the painting magnified from its output-size copy (not the
    finer brushwork of its original), and the deep layers of the output seen that many times
    smaller against the painting at the output's size."""
    at_output = resize(full_painting, *engine.style_size(full_painting.shape, StyleParams(size=96)))
    magnified = resize(at_output, 2 * at_output.shape[0], 2 * at_output.shape[1])
    targets = engine.style_targets(full_painting, content, StyleParams(size=96, style_scale=2))
    expected = [*engine.style_targets(magnified, content, StyleParams(size=max(magnified.shape))),
                *engine.style_targets(at_output, content, StyleParams(size=96))[2:]]
    assert len(targets) == len(expected) == 8
    for target, wanted in zip(targets, expected):
        np.testing.assert_allclose(target.numpy(), wanted.numpy(), rtol=1e-4, atol=1e-3)
    from_original = engine.style_targets(full_painting, content,
                                         StyleParams(size=max(magnified.shape)))
    assert not np.allclose(targets[0].numpy(), from_original[0].numpy(), rtol=0.05)


def test_brush_scales_above_1_share_one_more_traced_graph(engine, content, style):
    for size, scale in ((96, 2.0), (128, 1.5), (112, 4.0)):
        next(engine.stylize(content, style, StyleParams(size=size, style_scale=scale, epochs=1,
                                                        steps_per_epoch=1)))
    assert engine.tracing_count("lbfgs-adam", zoomed=True) == 1


def blobs(size: float, seed: int, shape=(96, 128)) -> np.ndarray:
    """A stationary texture of colour blobs about `size` px across."""
    noise = np.random.default_rng(seed).normal(size=(*shape, 3))
    smooth = gaussian(noise, sigma=size, channel_axis=-1)
    return np.clip(128 + 60 * smooth / smooth.std(), 0, 255).astype(np.uint8)


def test_a_larger_brush_prefers_marks_as_much_larger(engine):
    """With blobs of 2 px as the painting, blobs of 2 px score the lower style term at brush
    scale 1 and blobs of 4 px at brush scale 2 (all eight terms together)."""
    painting, same, doubled = blobs(2, 0), blobs(2, 1), blobs(4, 2)

    def style_term(image, scale):
        params = StyleParams(size=128, style_scale=scale)
        return engine.objective(image, painting, painting, params)["style"]

    assert style_term(same, 1) < style_term(doubled, 1)
    assert style_term(doubled, 2) < style_term(same, 2)


def test_the_deep_layers_see_the_output_as_many_times_smaller(engine):
    """Blobs of 4 px seen 2x smaller have the deep Grams of blobs of 2 px, not their own."""
    def deep_grams(image, zoom=None):
        tensor = tf.constant(image[np.newaxis] / 255.0, tf.float32)
        if zoom:
            return zoomed_grams(engine.extractor, tensor, tf.constant(zoom))
        return [content_and_style(engine.extractor, tensor)[1][STYLE_LAYERS.index(name)]
                for name in ZOOMED_LAYERS]

    def distance(grams, targets):
        return sum(float(relative_error(g, t)) for g, t in zip(grams, targets))

    seen = deep_grams(blobs(4, 0, (192, 256)), zoom=2.0)
    assert distance(seen, deep_grams(blobs(2, 1))) < distance(seen, deep_grams(blobs(4, 2)))


def test_seen_smaller_blurs_and_shrinks_by_the_zoom():
    flat = tf.fill((1, 17, 40, 3), 0.25)  # the smallest side brush scale 1.0625 lets through
    for zoom, shape in ((2.0, (1, 8, 20, 3)), (4.0, (1, 4, 10, 3))):
        small = seen_smaller(flat, tf.constant(zoom))
        assert small.shape == shape
        np.testing.assert_allclose(small.numpy(), 0.25, atol=1e-6)  # the padding adds nothing


def test_the_magnified_painting_is_capped_and_never_shrunk(engine, content, full_painting,
                                                          monkeypatch):
    params = StyleParams(size=96, style_scale=2)
    at_output = resize(full_painting, *engine.style_size(full_painting.shape, params))
    height, width = at_output.shape[:2]
    capped = resize(at_output, round(height * 128 / 96), round(width * 128 / 96))
    for side, painting in ((128, capped), (64, at_output)):  # 64: under the output's own size
        monkeypatch.setattr(loop, "MAX_MAGNIFIED_SIDE", side)
        target = engine.style_targets(full_painting, content, params)[0]
        expected = engine.style_targets(painting, content,
                                        StyleParams(size=max(painting.shape)))[0]
        np.testing.assert_allclose(target.numpy(), expected.numpy(), rtol=1e-4, atol=1e-3)


def test_a_painting_too_small_at_its_scale_is_refused_with_the_reason(engine, style):
    strip = np.zeros((20, 200, 3), np.uint8)  # 10:1 comes out at 128 x 13 px at style_scale 0.5
    assert engine.style_size(strip.shape, StyleParams(size=256, style_scale=4)) == (26, 256)
    with pytest.raises(BadImage, match="style_scale 0.5 makes the painting 128 px"):
        engine.style_size(strip.shape, StyleParams(size=256, style_scale=0.5))
    with pytest.raises(BadParams, match="style_scale must be a number from 0.25 to 4, got 5"):
        StyleParams(style_scale=5)
    with pytest.raises(BadParams, match="preserve_colors must be one of none, luminance, hist"):
        StyleParams(preserve_colors="yes")


def test_an_output_too_small_for_its_brush_is_refused_with_the_reason(engine, content):
    # 128 x 96 at 128 px: brush scale 4 sees a 32 x 24 copy, over the 16 px the network needs;
    # at 64 px the copy would be 16 x 12.
    assert engine.output_size(content.shape, 128, zoom=4) == (96, 128)
    with pytest.raises(BadImage, match="brush scale 4 paints its style on a copy 4 times smal"):
        list(engine.stylize(content, content, StyleParams(size=64, style_scale=4, epochs=1,
                                                          steps_per_epoch=1)))


def test_a_blend_weighs_the_paintings_gram_targets(engine, content, style, full_painting):
    other = resize(full_painting, 120, 96)
    a_only = engine.style_targets(style, content, SHORT)
    b_only = engine.style_targets(other, content, SHORT)
    a_by_blend = engine.style_targets([style, other], content, SHORT, style_blend=(1, 0))
    halves = engine.style_targets([style, other], content, SHORT, style_blend=(2, 2))
    for a, b, by_blend, half in zip(a_only, b_only, a_by_blend, halves):
        np.testing.assert_array_equal(by_blend.numpy(), a.numpy())
        np.testing.assert_allclose(half.numpy(), (a.numpy() + b.numpy()) / 2, rtol=1e-5,
                                   atol=1e-6)


def test_a_blended_job_paints_from_several_paintings(engine, content, style, full_painting):
    params = StyleParams(epochs=2, steps_per_epoch=3, size=64)
    frames = list(engine.stylize(content, [style, full_painting], params, style_blend=(0.7, 0.3)))
    assert [f.step for f in frames] == [3, 6] and frames[-1].image.shape == (48, 64, 3)
    assert frames[-1].losses["style"] < frames[0].losses["style"] * 1.001


@pytest.mark.parametrize("count, blend, message", [
    (0, None, "a job takes 1 to 4 paintings, got 0"),
    (5, None, "a job takes 1 to 4 paintings, got 5"),
    (2, (1,), "style_blend has 1 weights for 2 paintings"),
    (2, (1, -1), "weights must be numbers of at least 0"),
    (2, (1, float("nan")), "weights must be numbers of at least 0"),
    (2, (0, 0), "must not all be 0"),
])
def test_bad_blends_are_refused_with_the_reason(count, blend, message):
    with pytest.raises(BadParams, match=message):
        blend_weights(count, blend)


def test_blends_are_normalised():
    assert blend_weights(2, (0.7, 0.3)) == pytest.approx((0.7, 0.3))
    assert blend_weights(3, (2, 1, 1)) == pytest.approx((0.5, 0.25, 0.25))
    assert blend_weights(4) == (0.25,) * 4
