"""The one judge of time to quality: nst's default loss, on the network in use.

Both sides of the benchmark are scored by this function, never by the loss they report, so the
comparison is between optimisers, schedules and implementations, not between objectives.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from service.engine.features import (
    CONTENT_LAYERS, STYLE_LAYER_WEIGHTS, STYLE_LAYERS, content_and_style, truncate,
)
from service.engine.images import resize
from service.engine.losses import weighted_terms
from service.engine.params import StyleParams


class Objective:
    """style_weight * style + content_weight * content + tv_weight * tv, nst's defaults, float32.

    `content` and `style` are uint8 images already at the size being judged; the images scored
    must have the content's shape (smaller ones, e.g. from a coarse-to-fine schedule, are resized).
    """

    def __init__(self, vgg, content: np.ndarray, style: np.ndarray) -> None:
        params = StyleParams()
        self.weights = (params.style_weight, params.content_weight, params.tv_weight)
        self.extractor = truncate(vgg, STYLE_LAYERS + CONTENT_LAYERS)
        self.shape = content.shape
        content_targets, _ = content_and_style(self.extractor, to_unit(content))
        _, style_targets = content_and_style(self.extractor, to_unit(style))
        self.targets = (content_targets, style_targets)
        self._value = tf.function(self.loss)

    def loss(self, image: tf.Tensor) -> tf.Tensor:
        """The objective of a (1, H, W, 3) float32 image in [0, 1], differentiable."""
        features = content_and_style(self.extractor, image)
        return weighted_terms(image, features, self.targets, self.weights, STYLE_LAYER_WEIGHTS)[0]

    def __call__(self, image: np.ndarray) -> float:
        """The objective of a uint8 (H, W, 3) image, as a frame or a saved result holds it."""
        if image.shape != self.shape:
            image = resize(image, *self.shape[:2])
        return float(self._value(to_unit(image)))


def to_unit(image: np.ndarray) -> tf.Tensor:
    """uint8 (H, W, 3) to a float32 (1, H, W, 3) tensor in [0, 1]."""
    return tf.constant(image[np.newaxis].astype(np.float32) / 255.0)
