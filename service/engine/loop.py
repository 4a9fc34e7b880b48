"""The optimisation loop: one compiled graph call per epoch, one Frame out after each."""

from __future__ import annotations

import dataclasses
import functools
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from . import colors, images
from .errors import BadImage
from .features import (CONTENT_LAYERS, STYLE_LAYER_WEIGHTS, STYLE_LAYERS, ZOOMED_LAYER_WEIGHTS,
                       ZOOMED_LAYERS, content_and_style, pooling_layers, truncate, zoomed_grams)
from .losses import weighted_terms
from .optimizers import OPTIMIZERS
from .info import Frame, ModelInfo, Sizes
from .params import StyleParams, blend_weights
from .signals import Steering, StopSignal
from .weights import load_vgg

LOSS_NAMES = ("total", "style", "content", "tv")
# The painting magnified for a brush scale above 1, longer side at most: twice the service's
# default NST_MAX_SIZE. Its Grams are taken once per job.
MAX_MAGNIFIED_SIDE = 2048

Paintings = np.ndarray | Sequence[np.ndarray]  # one painting, or up to MAX_STYLES to blend


@dataclass(frozen=True)
class Prepared:
    """A job's images at their working sizes and its targets."""

    photo: np.ndarray  # the content at the output size, in its own colours
    content: np.ndarray  # what the run starts from and is compared with (grey in luminance)
    painting: np.ndarray  # the first painting as the network sees it (init "style" starts from it)
    targets: tuple  # (content features, blended style Grams)
    grams: list  # each painting's Grams, per style term (5; 8 above brush scale 1): what a steered
    # blend is made of


def _blended(grams: list, weights: Sequence[float]) -> tuple:
    """jcjohnson/neural-style's blend: per layer, the weighted sum of the paintings' Grams."""
    return tuple(tf.add_n([w * layers[i] for w, layers in zip(weights, grams)])
                 for i in range(len(grams[0])))


class Engine:
    """A loaded feature extractor and the compiled epoch that optimises an image against it.

    The epoch function takes every job-specific value as a tensor argument and is traced once per
    optimiser (and once more for brush scales above 1) with the image's height and width left
    open, so jobs of any shape share one graph and memory does not grow with the number of aspect
    ratios seen.
    """

    def __init__(self, vgg, model: ModelInfo) -> None:
        self.model = model
        self.extractor = truncate(vgg, STYLE_LAYERS + CONTENT_LAYERS)
        self.sizes = Sizes(2 ** pooling_layers(self.extractor))
        # One graph per optimiser, and one more for brush scales above 1 (zoomed), whose style
        # loss has more terms.
        self._epochs = {
            (name, zoomed): tf.function(functools.partial(self._epoch_graph, optimizer, zoomed))
            for name, optimizer in OPTIMIZERS.items() for zoomed in (False, True)
        }
        self._traced: set[tuple[str, bool]] = set()

    @classmethod
    def load(
        cls, backbone: str | None = None, weights: str = "auto", precision: str = "auto",
    ) -> "Engine":
        vgg, model = load_vgg(backbone, weights, precision)
        return cls(vgg, model)

    def resolved(self, params: StyleParams) -> StyleParams:
        return params.resolved()

    def output_size(self, shape: tuple[int, ...], size: int, name: str = "content",
                    zoom: float = 1.0) -> tuple[int, int]:
        return self.sizes.output_size(shape, size, name, zoom)

    def style_size(self, shape: tuple[int, ...], params: StyleParams) -> tuple[int, int]:
        return self.sizes.style_size(shape, params)

    def warm(self, size: int) -> None:
        """Trace and run one step at `size` px (square), so the first job starts hot (the first job
        above brush scale 1 traces its own graph)."""
        picture = np.full((size, size, 3), 128, np.uint8)
        params = StyleParams(epochs=1, steps_per_epoch=1, size=size)
        for _ in self.stylize(picture, picture, params):
            pass

    def stylize(
        self, content: np.ndarray, style: Paintings, params: StyleParams,
        stop: StopSignal | None = None, style_blend: Sequence[float] | None = None,
        steering: Steering | None = None,
    ) -> Iterator[Frame]:
        """Optimise an image towards `content` painted like `style`, yielding a Frame per epoch.

        `style` is one painting or several, whose Gram matrices are blended by `style_blend`
        (equal weights if None; see `params.blend_weights`). Each `next()` runs one epoch; closing
        the generator between epochs cancels the run, and `stop.set()` ends it within a step,
        with a last frame of the image reached. `steering.steer(...)` changes the weights or the
        blend from the next step (see Steering).

        With `preserve_colors="luminance"` the optimisation runs on grey images (the photo's and
        the paintings' luminance), so the guard and the losses see the optimiser's own iterates;
        each frame is that iterate's luminance with the photo's colour put back.
        """
        started = time.perf_counter()
        params = self.resolved(params)
        stop, steering = stop or StopSignal(), steering or Steering()
        job = self._prepared(content, style, params, style_blend)
        image = tf.constant(_initial_image(params, job.content, job.painting))
        optimizer = OPTIMIZERS[params.optimizer]
        arguments = [
            image, optimizer.init(image), *job.targets,
            _weights(params), tf.constant(params.steps_per_epoch),
            tf.constant(params.learning_rate, tf.float32), stop.variable, steering.variable,
            _zoom(params),
        ]
        epoch_graph = self._compiled((params.optimizer, params.zoomed), arguments)
        step = 0
        for epoch in range(1, params.epochs + 1):
            remaining = params.steps_per_epoch
            while remaining and not stop.is_set():
                arguments[5] = tf.constant(remaining)
                arguments[0], arguments[1], steps_done = epoch_graph(*arguments)
                step, remaining = step + int(steps_done), remaining - int(steps_done)
                if remaining and not stop.is_set():
                    params = self._steered(steering, step, params, job, arguments, optimizer)
            accepted, terms = optimizer.accepted(arguments[1])
            if not np.isfinite(float(terms[0])):  # stopped before the first step
                return
            yield Frame(
                epoch=epoch,
                epochs=params.epochs,
                step=step,
                total_steps=params.total_steps,
                losses=dict(zip(LOSS_NAMES, (float(x) for x in terms.numpy()))),
                image=_emitted(_to_uint8(accepted), job.photo, params),
                elapsed_s=time.perf_counter() - started,
            )
            if stop.is_set():
                return

    @staticmethod
    def _steered(steering: Steering, step: int, params: StyleParams, job: Prepared,
                 arguments: list, optimizer) -> StyleParams:
        """Apply what `steering` holds to the run's arguments; the parameters now in force."""
        changes = steering.take()
        blend = changes.pop("style_blend", None)
        params = dataclasses.replace(params, **changes)
        arguments[4] = _weights(params)
        if blend is not None:
            weights = blend_weights(len(job.grams), blend)
            arguments[3] = _blended(job.grams, weights)
            changes["style_blend"] = list(weights)
        image, _ = optimizer.accepted(arguments[1])
        arguments[0], arguments[1] = image, optimizer.init(image)
        steering.record(step, changes)
        return params

    def objective(self, image: np.ndarray, content: np.ndarray, style: Paintings,
                  params: StyleParams, style_blend: Sequence[float] | None = None
                  ) -> dict[str, float]:
        """The loss terms of `image` (uint8, at the job's output size) in the job's objective: the
        figures a frame of that image would report (of its luminance, in luminance mode)."""
        params = self.resolved(params)
        job = self._prepared(content, style, params, style_blend)
        if image.shape != job.content.shape:
            raise BadImage(f"the image is {image.shape[:2]}, the job's output "
                           f"{job.content.shape[:2]}")
        if params.preserve_colors == "luminance":
            image = colors.grey(image)
        terms = self._losses(_to_tensor(image), *job.targets, _weights(params), _zoom(params),
                             params.zoomed)
        return dict(zip(LOSS_NAMES, (float(x) for x in terms.numpy())))

    def style_targets(self, style: Paintings, content: np.ndarray, params: StyleParams,
                      style_blend: Sequence[float] | None = None) -> list[tf.Tensor]:
        """The blended Gram matrices a job of `params` optimises towards, one per style term (a
        style layer; above brush scale 1, every layer and then ZOOMED_LAYERS again)."""
        return list(self._prepared(content, style, params, style_blend).targets[1])

    def _prepared(self, content: np.ndarray, style: Paintings, params: StyleParams,
                  style_blend: Sequence[float] | None = None) -> Prepared:
        height, width = self.output_size(_checked(content, "content").shape, params.size,
                                         zoom=params.style_zoom)
        photo = images.resize(content, height, width)
        weights = blend_weights(len(_listed(style)), style_blend)
        paintings = [self._painting(painting, photo, params) for painting in _listed(style)]
        content = colors.grey(photo) if params.preserve_colors == "luminance" else photo
        content_targets, _ = self._features(_to_tensor(content))
        grams = [self._painting_grams(painting, params) for painting in paintings]
        return Prepared(photo, content, paintings[0],
                        (tuple(content_targets), _blended(grams, weights)), grams)

    def _painting_grams(self, painting: np.ndarray, params: StyleParams) -> list[tf.Tensor]:
        """The style targets of a painting at its working size. Above brush scale 1: every style
        layer's of the painting magnified by the scale (nothing finer than the working size shows
        comes in; its longer side at most MAX_MAGNIFIED_SIDE, so above 1024 px the magnification
        is less), then ZOOMED_LAYERS' of the painting itself, which the output seen that many
        times smaller is held to: the deep layers see too little of a magnified painting's large
        forms to paint them larger (docs/benchmarks.md)."""
        grams = self._features(_to_tensor(painting))[1]
        if not params.zoomed:
            return grams
        height, width = painting.shape[:2]
        scale = max(1.0, min(params.style_zoom, MAX_MAGNIFIED_SIDE / max(height, width)))
        magnified = images.resize(painting, round(height * scale), round(width * scale))
        return [*self._features(_to_tensor(magnified))[1],
                *(grams[STYLE_LAYERS.index(name)] for name in ZOOMED_LAYERS)]

    def _painting(self, style: np.ndarray, photo: np.ndarray, params: StyleParams) -> np.ndarray:
        """A painting at its working size, in the colours `preserve_colors` asks for."""
        painting = images.resize(style, *self.style_size(_checked(style, "style").shape, params))
        if params.preserve_colors == "luminance":
            return colors.match_luminance(painting, photo)
        if params.preserve_colors == "histogram":
            return colors.match_histogram(painting, photo)
        return painting

    def _compiled(self, key: tuple[str, bool], arguments: list):
        """The epoch function of (optimiser, zoomed), traced on first use for images of any height
        and width."""
        if key not in self._traced:
            self._epochs[key].get_concrete_function(*_any_image_size(arguments))
            self._traced.add(key)
        return self._epochs[key]

    def tracing_count(self, optimizer: str, zoomed: bool = False) -> int:
        """How many times the optimiser's epoch function was traced: one, however many jobs."""
        return self._epochs[(optimizer, zoomed)].experimental_get_tracing_count()

    def _features(self, image: tf.Tensor) -> tuple[list[tf.Tensor], list[tf.Tensor]]:
        return content_and_style(self.extractor, image)

    def _losses(self, image, content_targets, style_targets, weights, zoom, zoomed: bool
                ) -> tf.Tensor:
        content, grams = self._features(image)
        layer_weights = STYLE_LAYER_WEIGHTS
        if zoomed:
            grams = [*grams, *zoomed_grams(self.extractor, image, zoom)]
            layer_weights = STYLE_LAYER_WEIGHTS + ZOOMED_LAYER_WEIGHTS
        return weighted_terms(image, (content, grams), (content_targets, style_targets), weights,
                              layer_weights)

    def _epoch_graph(self, optimizer, zoomed, trial, state, content_targets, style_targets,
                     weights, steps, learning_rate, stop, steer, zoom):
        """Up to `steps` steps (fewer if `stop` or `steer` is set); each step evaluates the
        objective once."""
        def one_step(i, trial, state):
            with tf.GradientTape() as tape:
                tape.watch(trial)
                terms = self._losses(trial, content_targets, style_targets, weights, zoom, zoomed)
                total = terms[0]
            gradient = tape.gradient(total, trial)
            trial, state = optimizer.update(trial, terms, gradient, state, learning_rate)
            return i + 1, trial, state

        def running(i, *_):
            return (i < steps) & tf.logical_not(stop.read_value() | steer.read_value())

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


def _zoom(params: StyleParams) -> tf.Tensor:
    """How much smaller than the output the style loss sees it: `style_scale` above 1 (below 1
    the painting is shrunk instead; see Sizes.style_size)."""
    return tf.constant(params.style_zoom, tf.float32)


def _weights(params: StyleParams) -> tf.Tensor:
    """(style, content, total variation)."""
    return tf.constant([params.style_weight, params.content_weight, params.tv_weight])


def _listed(style: Paintings) -> list[np.ndarray]:
    return [style] if isinstance(style, np.ndarray) else list(style)


def _emitted(image: np.ndarray, photo: np.ndarray, params: StyleParams) -> np.ndarray:
    if params.preserve_colors == "luminance":
        return colors.with_colors_of(image, photo)
    return image


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
