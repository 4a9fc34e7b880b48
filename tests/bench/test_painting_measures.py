"""The painting controls' measures: the figures mean what bench/painting_controls.py says."""

import numpy as np
from PIL import Image

from bench.painting_controls import chroma_correlation, flattest_window, stroke_size


def stripes(period: int, size: int = 192) -> np.ndarray:
    wave = 127.5 + 127.5 * np.sin(2 * np.pi * np.arange(size) / period)
    return np.repeat(np.tile(wave, (size, 1))[..., np.newaxis], 3, axis=2).astype(np.uint8)


def blotches(size: int, seed: int = 0) -> np.ndarray:
    """Brush-like marks at several scales: noise enlarged 4x and 16x, and fine noise."""
    rng = np.random.default_rng(seed)
    layers = [np.asarray(Image.fromarray(rng.integers(0, 256, (size // k, size // k),
                                                      dtype=np.uint8)).resize(
        (size, size), Image.Resampling.BICUBIC), dtype=np.float64) for k in (1, 4, 16)]
    grey = np.clip(sum(layers) / 3, 0, 255).astype(np.uint8)
    return np.repeat(grey[..., np.newaxis], 3, axis=2)


def test_stroke_size_follows_the_wavelength():
    assert 7 < stroke_size(stripes(8)) < 9
    assert 3.5 < stroke_size(stripes(32)) / stroke_size(stripes(8)) < 4.5


def test_a_picture_resized_2x_measures_2x():
    picture = blotches(128)
    doubled = np.asarray(Image.fromarray(picture).resize((256, 256), Image.Resampling.LANCZOS))
    assert 1.9 < stroke_size(doubled) / stroke_size(picture) < 2.1


def test_the_flattest_window_lies_where_the_photo_has_no_detail():
    photo = blotches(160)
    photo[100:, :80] = 128  # a flat patch, bottom left
    rows, columns = flattest_window(photo, height=0.3, width=0.45)
    assert rows.start >= 100 and columns.stop <= 80


def test_chroma_correlation_sees_the_colours_not_the_light():
    rng = np.random.default_rng(0)
    photo = rng.integers(0, 256, (12, 16, 3), dtype=np.uint8)
    photo = np.asarray(Image.fromarray(photo).resize((128, 96), Image.Resampling.NEAREST))
    darker = (photo * 0.7).astype(np.uint8)
    grey = np.repeat(photo.mean(axis=2, keepdims=True), 3, axis=2).astype(np.uint8)
    assert chroma_correlation(darker, photo) > 0.95
    assert abs(chroma_correlation(grey, photo)) < 0.3
