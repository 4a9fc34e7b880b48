"""The painting controls: keeping the photo's colours, the brush scale, blending paintings."""

import numpy as np
import pytest
from skimage.color import rgb2lab
from skimage.transform import resize as resize_float

from service.engine import BadImage, BadParams, StyleParams
from service.engine import colors
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


def test_style_scale_sets_the_paintings_size_relative_to_the_output(engine, style):
    assert engine.style_size(style.shape, StyleParams(size=96)) == (60, 96)
    assert engine.style_size(style.shape, StyleParams(size=96, style_scale=0.5)) == (30, 48)
    assert engine.style_size(style.shape, StyleParams(size=96, style_scale=2)) == (120, 192)
    capped = engine.style_size(style.shape, StyleParams(size=1024, style_scale=4))
    assert max(capped) == engine.sizes.max_style_side == 2048


def test_style_scale_changes_the_style_target(engine, content, style):
    small, large = (engine.style_targets(style, content, StyleParams(size=96, style_scale=scale))
                    for scale in (0.5, 2))
    assert not np.allclose(small[0].numpy(), large[0].numpy(), rtol=0.05)


def test_a_painting_too_small_at_its_scale_is_refused_with_the_reason(engine, style):
    strip = np.zeros((20, 200, 3), np.uint8)  # 10:1 comes out at 64 x 6 px at style_scale 0.5
    engine.style_size(strip.shape, StyleParams(size=128, style_scale=2))
    with pytest.raises(BadImage, match="style_scale 0.5 makes the painting 64 px"):
        engine.style_size(strip.shape, StyleParams(size=128, style_scale=0.5))
    with pytest.raises(BadParams, match="style_scale must be a number from 0.25 to 4, got 5"):
        StyleParams(style_scale=5)
    with pytest.raises(BadParams, match="preserve_colors must be one of none, luminance, hist"):
        StyleParams(preserve_colors="yes")


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
