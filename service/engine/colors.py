"""Keeping the photo's colours: the two methods of Gatys et al., "Preserving Color in Neural
Artistic Style Transfer" (2016). uint8 RGB arrays in and out; no TensorFlow.

- luminance: the transfer runs on luminance images (the painting's luminance first given the
  photo's mean and spread), and the photo's colour channels are put back on the result.
- histogram: the painting's pixels are moved linearly so that their mean and covariance are the
  photo's, and the transfer runs on that painting.
"""

from __future__ import annotations

import numpy as np

# NTSC YIQ: Y is the luminance, I and Q the colour. Linear, so putting colour back is exact.
_RGB_TO_YIQ = np.array([[0.299, 0.587, 0.114],
                        [0.595716, -0.274453, -0.321263],
                        [0.211456, -0.522591, 0.311135]])
_YIQ_TO_RGB = np.linalg.inv(_RGB_TO_YIQ)


def luminance(image: np.ndarray) -> np.ndarray:
    """(H, W) float luminance, 0 to 255."""
    return image.astype(np.float64) @ _RGB_TO_YIQ[0]


def grey(image: np.ndarray) -> np.ndarray:
    """The image's luminance in all three channels: what the network sees in luminance mode."""
    return _to_uint8(np.repeat(luminance(image)[..., np.newaxis], 3, axis=2))


def match_luminance(painting: np.ndarray, photo: np.ndarray) -> np.ndarray:
    """The painting's luminance, shifted and scaled to the photo's mean and standard deviation, as
    a grey image (the paper's luminance matching: the painting's tones meet the photo's)."""
    source, target = luminance(painting), luminance(photo)
    matched = (source - source.mean()) * (target.std() / (source.std() + 1e-6)) + target.mean()
    return _to_uint8(np.repeat(matched[..., np.newaxis], 3, axis=2))


def with_colors_of(image: np.ndarray, photo: np.ndarray) -> np.ndarray:
    """`image`'s luminance with `photo`'s colour channels (I and Q); both the same size."""
    yiq = photo.astype(np.float64) @ _RGB_TO_YIQ.T
    yiq[..., 0] = luminance(image)
    return _to_uint8(yiq @ _YIQ_TO_RGB.T)


def match_histogram(painting: np.ndarray, photo: np.ndarray) -> np.ndarray:
    """The painting with the photo's per-channel mean and 3x3 colour covariance.

    x' = A (x - mean_painting) + mean_photo with A = C_photo^1/2 C_painting^-1/2 (symmetric
    square roots), the paper's "image analogies" variant; a colour the painting lacks entirely
    (a singular covariance) is not invented.
    """
    source = painting.reshape(-1, 3).astype(np.float64)
    target = photo.reshape(-1, 3).astype(np.float64)
    transform = _sqrtm(np.cov(target.T)) @ _sqrtm(np.cov(source.T), inverse=True)
    moved = (source - source.mean(axis=0)) @ transform.T + target.mean(axis=0)
    return _to_uint8(moved.reshape(painting.shape))


def _sqrtm(covariance: np.ndarray, inverse: bool = False) -> np.ndarray:
    values, vectors = np.linalg.eigh(covariance)
    values = np.clip(values, 1e-3, None)
    roots = values ** (-0.5 if inverse else 0.5)
    if inverse:
        roots[values <= 1e-3] = 0.0
    return (vectors * roots) @ vectors.T


def _to_uint8(image: np.ndarray) -> np.ndarray:
    return np.round(np.clip(image, 0, 255)).astype(np.uint8)
