"""The optimisation loop: one compiled graph call per epoch, one Frame out after each."""

from __future__ import annotations

import functools
import time
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from . import images
from .errors import BadImage
from .features import CONTENT_LAYERS, STYLE_LAYERS, content_and_style, truncate
from .losses import weighted_terms
from .optimizers import OPTIMIZERS
from .params import StyleParams
from .weights import ModelInfo, load_vgg

LOSS_NAMES = ("total", "style", "content", "tv")


@dataclass(frozen=True)
class Frame:
    """The image after an epoch, with where the run stands. Plain data: no tensors."""

    epoch: int
    epochs: int
    step: int
    total_steps: int
    losses: dict[str, float]
    image: np.ndarray  # (H, W, 3) uint8
    elapsed_s: float


class Engine:
    """A loaded feature extractor and the compiled epoch that optimises an image against it.

    The epoch function takes every job-specific value as a tensor argument, so it is traced once
    per image size and reused by every epoch and every later job of that size.
    """

    def __init__(self, vgg, model: ModelInfo) -> None:
        self.model = model
        self.extractor = truncate(vgg, STYLE_LAYERS + CONTENT_LAYERS)
        self._epochs = {
            name: tf.function(functools.partial(self._epoch_graph, optimizer))
            for name, optimizer in OPTIMIZERS.items()
        }

    @classmethod
    def load(
        cls, backbone: str | None = None, weights: str = "auto", precision: str = "auto"
    ) -> "Engine":
        vgg, model = load_vgg(backbone, weights, precision)
        return cls(vgg, model)

    def resolved(self, params: StyleParams) -> StyleParams:
        return params.resolved()

    output_size = staticmethod(images.output_size)

    def warm(self, size: int) -> None:
        """Trace and run one step at `size` px (square), so the first job of that size starts hot."""
        picture = np.full((size, size, 3), 128, np.uint8)
        params = StyleParams(epochs=1, steps_per_epoch=1, size=size)
        for _ in self.stylize(picture, picture, params):
            pass

    def stylize(
        self, content: np.ndarray, style: np.ndarray, params: StyleParams
    ) -> Iterator[Frame]:
        """Optimise an image towards `content` painted like `style`, yielding a Frame per epoch.

        Each `next()` runs one epoch; closing the generator between epochs cancels the run.
        """
        started = time.perf_counter()
        params = self.resolved(params)
        height, width = self.output_size(_checked(content, "content").shape, params.size)
        content = images.resize(content, height, width)
        style_height, style_width = self.output_size(_checked(style, "style").shape, params.size)
        style = images.resize(style, style_height, style_width)

        content_targets, _ = self._features(_to_tensor(content))
        _, style_targets = self._features(_to_tensor(style))
        image = tf.constant(_initial_image(params, content, style))
        optimizer = OPTIMIZERS[params.optimizer]
        state = optimizer.init(image)
        weights = tf.constant(
            [params.style_weight, params.content_weight, params.tv_weight], tf.float32
        )
        for epoch in range(1, params.epochs + 1):
            image, state, losses = self._epochs[params.optimizer](
                image, state, tuple(content_targets), tuple(style_targets), weights,
                tf.constant(params.steps_per_epoch), tf.constant(params.learning_rate, tf.float32),
            )
            yield Frame(
                epoch=epoch,
                epochs=params.epochs,
                step=epoch * params.steps_per_epoch,
                total_steps=params.total_steps,
                losses=dict(zip(LOSS_NAMES, (float(x) for x in losses.numpy()))),
                image=_to_uint8(image),
                elapsed_s=time.perf_counter() - started,
            )

    def _features(self, image: tf.Tensor) -> tuple[list[tf.Tensor], list[tf.Tensor]]:
        return content_and_style(self.extractor, image)

    def _losses(self, image, content_targets, style_targets, weights) -> tf.Tensor:
        return weighted_terms(image, self._features(image), (content_targets, style_targets),
                              weights)

    def _epoch_graph(
        self, optimizer, image, state, content_targets, style_targets, weights, steps, learning_rate
    ):
        def one_step(i, image, state):
            with tf.GradientTape() as tape:
                tape.watch(image)
                total = self._losses(image, content_targets, style_targets, weights)[0]
            gradient = tape.gradient(total, image)
            image, state = optimizer.update(image, gradient, state, learning_rate)
            return i + 1, tf.clip_by_value(image, 0.0, 1.0), state

        _, image, state = tf.while_loop(
            lambda i, *_: i < steps, one_step, (tf.constant(0), image, state)
        )
        # The losses of the image the frame shows, not of the one before the last update.
        losses = self._losses(image, content_targets, style_targets, weights)
        return image, state, losses


def _checked(image: np.ndarray, name: str) -> np.ndarray:
    if not (isinstance(image, np.ndarray) and image.dtype == np.uint8 and image.ndim == 3
            and image.shape[2] == 3 and min(image.shape[:2]) >= 1):
        raise BadImage(f"the {name} image must be an (H, W, 3) uint8 array")
    return image


def _to_tensor(image: np.ndarray) -> tf.Tensor:
    return tf.constant(image[np.newaxis].astype(np.float32) / 255.0)


def _to_uint8(image: tf.Tensor) -> np.ndarray:
    return np.round(np.clip(image.numpy()[0], 0.0, 1.0) * 255.0).astype(np.uint8)


def _initial_image(params: StyleParams, content: np.ndarray, style: np.ndarray) -> np.ndarray:
    height, width = content.shape[:2]
    if params.init == "content":
        start = content
    elif params.init == "style":
        start = images.resize(style, height, width)
    else:  # "noise"; StyleParams admits no other value
        rng = np.random.default_rng(params.seed)
        start = rng.integers(0, 256, size=(height, width, 3), dtype=np.uint8)
    return start[np.newaxis].astype(np.float32) / 255.0
