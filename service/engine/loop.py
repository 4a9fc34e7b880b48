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
from .features import CONTENT_LAYERS, STYLE_LAYERS, content_and_style, pooling_layers, truncate
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


class StopSignal:
    """A flag the compiled loop reads before every step: `set()` from any thread stops the run
    within one optimisation step, and the run yields the image it reached as its last frame.

    A variable read in the `tf.while_loop` condition rather than a Python callback, so the whole
    epoch stays one graph call (and stays compilable by XLA on a GPU).
    """

    def __init__(self) -> None:
        self._flag = tf.Variable(False, trainable=False)

    def set(self) -> None:
        self._flag.assign(True)

    def is_set(self) -> bool:
        return bool(self._flag.numpy())

    @property
    def variable(self) -> tf.Variable:
        """What the compiled loop reads."""
        return self._flag


class Engine:
    """A loaded feature extractor and the compiled epoch that optimises an image against it.

    The epoch function takes every job-specific value as a tensor argument and is traced once per
    optimiser with the image's height and width left open, so jobs of any shape share one graph
    and memory does not grow with the number of aspect ratios seen.
    """

    def __init__(self, vgg, model: ModelInfo) -> None:
        self.model = model
        self.extractor = truncate(vgg, STYLE_LAYERS + CONTENT_LAYERS)
        self.min_side = 2 ** pooling_layers(self.extractor)
        self._epochs = {
            name: tf.function(functools.partial(self._epoch_graph, optimizer))
            for name, optimizer in OPTIMIZERS.items()
        }
        self._traced: set[str] = set()

    @classmethod
    def load(
        cls, backbone: str | None = None, weights: str = "auto", precision: str = "auto"
    ) -> "Engine":
        vgg, model = load_vgg(backbone, weights, precision)
        return cls(vgg, model)

    def resolved(self, params: StyleParams) -> StyleParams:
        return params.resolved()

    def output_size(self, shape: tuple[int, ...], size: int, name: str = "content"
                    ) -> tuple[int, int]:
        """(height, width) of the `name` image at `size` px; BadImage if the network cannot take
        it (its shorter side would vanish in the poolings)."""
        return images.output_size(shape, size, self.min_side, name)

    def warm(self, size: int) -> None:
        """Trace and run one step at `size` px (square), so the first job starts hot."""
        picture = np.full((size, size, 3), 128, np.uint8)
        params = StyleParams(epochs=1, steps_per_epoch=1, size=size)
        for _ in self.stylize(picture, picture, params):
            pass

    def stylize(
        self, content: np.ndarray, style: np.ndarray, params: StyleParams,
        stop: StopSignal | None = None,
    ) -> Iterator[Frame]:
        """Optimise an image towards `content` painted like `style`, yielding a Frame per epoch.

        Each `next()` runs one epoch; closing the generator between epochs cancels the run, and
        `stop.set()` ends it within a step, with a last frame of the image reached.
        """
        started = time.perf_counter()
        params = self.resolved(params)
        stop = stop or StopSignal()
        content, style, targets = self._prepared(content, style, params)
        image = tf.constant(_initial_image(params, content, style))
        optimizer = OPTIMIZERS[params.optimizer]
        arguments = [
            image, optimizer.init(image), *targets,
            tf.constant([params.style_weight, params.content_weight, params.tv_weight]),
            tf.constant(params.steps_per_epoch), tf.constant(params.learning_rate, tf.float32),
            stop.variable,
        ]
        epoch_graph = self._compiled(params.optimizer, arguments)
        step = 0
        for epoch in range(1, params.epochs + 1):
            arguments[0], arguments[1], steps_done = epoch_graph(*arguments)
            step += int(steps_done)
            accepted, terms = optimizer.accepted(arguments[1])
            if not np.isfinite(float(terms[0])):  # stopped before the first step
                return
            yield Frame(
                epoch=epoch,
                epochs=params.epochs,
                step=step,
                total_steps=params.total_steps,
                losses=dict(zip(LOSS_NAMES, (float(x) for x in terms.numpy()))),
                image=_to_uint8(accepted),
                elapsed_s=time.perf_counter() - started,
            )
            if stop.is_set():
                return

    def objective(self, image: np.ndarray, content: np.ndarray, style: np.ndarray,
                  params: StyleParams) -> dict[str, float]:
        """The loss terms of `image` (uint8, at the job's output size) in the job's objective: the
        figures a frame of that image would report."""
        params = self.resolved(params)
        content, _, targets = self._prepared(content, style, params)
        if image.shape != content.shape:
            raise BadImage(f"the image is {image.shape[:2]}, the job's output {content.shape[:2]}")
        weights = tf.constant([params.style_weight, params.content_weight, params.tv_weight])
        terms = self._losses(_to_tensor(image), *targets, weights)
        return dict(zip(LOSS_NAMES, (float(x) for x in terms.numpy())))

    def _prepared(self, content: np.ndarray, style: np.ndarray, params: StyleParams):
        """Content and style at the job's size, and the (content, style) targets as tuples."""
        height, width = self.output_size(_checked(content, "content").shape, params.size)
        content = images.resize(content, height, width)
        style_height, style_width = self.output_size(_checked(style, "style").shape, params.size,
                                                     "style")
        style = images.resize(style, style_height, style_width)
        content_targets, _ = self._features(_to_tensor(content))
        _, style_targets = self._features(_to_tensor(style))
        return content, style, (tuple(content_targets), tuple(style_targets))

    def _compiled(self, optimizer: str, arguments: list):
        """The optimiser's epoch function, traced on first use for images of any height and width."""
        if optimizer not in self._traced:
            self._epochs[optimizer].get_concrete_function(*_any_image_size(arguments))
            self._traced.add(optimizer)
        return self._epochs[optimizer]

    def _features(self, image: tf.Tensor) -> tuple[list[tf.Tensor], list[tf.Tensor]]:
        return content_and_style(self.extractor, image)

    def _losses(self, image, content_targets, style_targets, weights) -> tf.Tensor:
        return weighted_terms(image, self._features(image), (content_targets, style_targets),
                              weights)

    def _epoch_graph(self, optimizer, trial, state, content_targets, style_targets, weights, steps,
                     learning_rate, stop):
        """Up to `steps` steps (fewer if `stop` is set); each step evaluates the objective once."""
        def one_step(i, trial, state):
            with tf.GradientTape() as tape:
                tape.watch(trial)
                terms = self._losses(trial, content_targets, style_targets, weights)
                total = terms[0]
            gradient = tape.gradient(total, trial)
            trial, state = optimizer.update(trial, terms, gradient, state, learning_rate)
            return i + 1, trial, state

        def running(i, *_):
            return (i < steps) & tf.logical_not(stop.read_value())

        state = optimizer.begin_epoch(state)
        steps_done, trial, state = tf.while_loop(running, one_step, (tf.constant(0), trial, state),
                                                 parallel_iterations=1)
        return trial, state, steps_done


def _any_image_size(arguments: list) -> list:
    """Specs for `arguments` with every image-sized dimension open: (1, H, W, C) images and
    features become (1, None, None, C), flattened vectors (the L-BFGS history) (None,)."""
    def relax(value):
        if not isinstance(value, tf.Tensor):
            return value
        shape = value.shape.as_list()
        if len(shape) == 4:
            shape = [shape[0], None, None, shape[3]]
        elif len(shape) == 1:
            shape = [None]
        return tf.TensorSpec(shape, value.dtype)

    return tf.nest.map_structure(relax, arguments)


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
