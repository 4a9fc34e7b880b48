"""The painting controls' measures: the figures mean what bench/painting_controls.py says."""

import numpy as np
from PIL import Image

from bench.painting_controls import chroma_correlation, stroke_size


def stripes(period: int, size: int = 192) -> np.ndarray:
    wave = 127.5 + 127.5 * np.sin(2 * np.pi * np.arange(size) / period)
    return np.repeat(np.tile(wave, (size, 1))[..., np.newaxis], 3, axis=2).astype(np.uint8)


def test_stroke_size_follows_the_wavelength():
    assert 7 < stroke_size(stripes(8)) < 9
    assert 3 < stroke_size(stripes(32)) / stroke_size(stripes(8)) < 5


def test_chroma_correlation_sees_the_colours_not_the_light():
    rng = np.random.default_rng(0)
    photo = rng.integers(0, 256, (12, 16, 3), dtype=np.uint8)
    photo = np.asarray(Image.fromarray(photo).resize((128, 96), Image.Resampling.NEAREST))
    darker = (photo * 0.7).astype(np.uint8)
    grey = np.repeat(photo.mean(axis=2, keepdims=True), 3, axis=2).astype(np.uint8)
    assert chroma_correlation(darker, photo) > 0.95
    assert abs(chroma_correlation(grey, photo)) < 0.3
