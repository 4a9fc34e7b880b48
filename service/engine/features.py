"""The VGG feature extractor: a Keras model truncated after the deepest layer the losses read."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from pathlib import Path

import keras
import tensorflow as tf

from .losses import gram_matrix
from .params import MAX_STYLE_SCALE

# Gatys et al.'s conv4_2: block5_conv2 (the TensorFlow tutorial's) let the subject's detail
# dissolve late in a run while the loss barely moved.
CONTENT_LAYERS = ("block4_conv2",)
STYLE_LAYERS = ("block1_conv1", "block2_conv1", "block3_conv1", "block4_conv1", "block5_conv1")
# Each layer's share of the style term. block1_conv1's Gram is little more than the painting's
# colour statistics; at a full share it darkened a pale photo's background to the Scream's over a
# long job until the photo's layout was gone (immunohistochemistry: layout 0.24 after 1000 steps,
# 0.82 at 0.3), while the content layer, blind to flat brightness, did not object (docs/quality.md,
# "Worn away in a long job"). At 0.3 the other pairs' pictures look as they did.
STYLE_LAYER_WEIGHTS = (0.3, 1.0, 1.0, 1.0, 1.0)
# A brush scale above 1 also matches these on the output seen that many times smaller, against
# the painting at the output's size: the large forms the deep layers carry come out that many
# times larger (loop.Engine._painting_grams).
ZOOMED_LAYERS = STYLE_LAYERS[2:]
ZOOMED_LAYER_WEIGHTS = STYLE_LAYER_WEIGHTS[2:]
BACKBONES = {"vgg19": keras.applications.VGG19, "vgg16": keras.applications.VGG16}

# Caffe-style VGG input: BGR, 0..255, minus the ImageNet channel means (keras `preprocess_input`).
_BGR_MEAN = tf.constant([103.939, 116.779, 123.68])


def build_vgg(backbone: str, weights: str | None = None) -> keras.Model:
    """The full convolutional VGG (no classifier head), with Keras's `weights` argument."""
    return BACKBONES[backbone](include_top=False, weights=weights)


def truncate(vgg: keras.Model, layers: tuple[str, ...]) -> keras.Model:
    """A model from image to a dict of the named layers' outputs.

    A functional model keeps only the layers on a path to its outputs, so the layers past the
    deepest one named (block5_conv3 and on, the last pooling) are gone and cost nothing.
    """
    outputs = {name: vgg.get_layer(name).output for name in layers}
    model = keras.Model(vgg.input, outputs, name=f"{vgg.name}_features")
    model.trainable = False
    return model


def pooling_layers(model: keras.Model) -> int:
    """How many times the model halves its input: each halving needs the side to be at least 2."""
    return sum(isinstance(layer, keras.layers.MaxPooling2D) for layer in model.layers)


def preprocess(image: tf.Tensor) -> tf.Tensor:
    """RGB in [0, 1] to the input VGG was trained on."""
    return tf.reverse(image, axis=[-1]) * 255.0 - _BGR_MEAN


def content_and_style(extractor: keras.Model, image: tf.Tensor) -> tuple[list, list]:
    """(content features, style Gram matrices) of an RGB image in [0, 1], in float32.

    The losses stay in float32 whatever precision the network computes in (the Grams' gradient,
    which flows back into the network, is in the network's).
    """
    outputs = extractor(preprocess(image))
    return (
        [tf.cast(outputs[name], tf.float32) for name in CONTENT_LAYERS],
        [gram_matrix(outputs[name]) for name in STYLE_LAYERS],
    )


def zoomed_grams(extractor: keras.Model, image: tf.Tensor, zoom: tf.Tensor) -> list[tf.Tensor]:
    """The Grams of ZOOMED_LAYERS of the image seen `zoom` times smaller (`seen_smaller`)."""
    outputs = extractor(preprocess(seen_smaller(image, zoom)))
    return [gram_matrix(outputs[name]) for name in ZOOMED_LAYERS]


# The blur before shrinking by `zoom`: a Gaussian of 1 px per unit of zoom. Narrower (0.5 px), the
# shrink's gradient, spread back over the pixels it merged, left a grid of the zoom's period.
_BLUR_SIGMA_PER_ZOOM = 1.0
_BLUR_RADIUS = math.ceil(3 * _BLUR_SIGMA_PER_ZOOM * MAX_STYLE_SCALE)


def seen_smaller(image: tf.Tensor, zoom: tf.Tensor | float) -> tf.Tensor:
    """The (1, H, W, 3) image blurred and shrunk to 1/zoom of its size (zoom >= 1)."""
    zoom = tf.convert_to_tensor(zoom, tf.float32)
    offsets = tf.range(-_BLUR_RADIUS, _BLUR_RADIUS + 1, dtype=tf.float32)
    kernel = tf.exp(-0.5 * tf.square(offsets / (_BLUR_SIGMA_PER_ZOOM * zoom)))
    kernel = tf.tile((kernel / tf.reduce_sum(kernel))[:, tf.newaxis, tf.newaxis], [1, 3, 1])
    padding = [[0, 0], [_BLUR_RADIUS, _BLUR_RADIUS], [_BLUR_RADIUS, _BLUR_RADIUS], [0, 0]]
    rows = tf.nn.depthwise_conv2d(tf.pad(image, padding, mode="REFLECT"), kernel[tf.newaxis],
                                  [1, 1, 1, 1], "VALID")
    smooth = tf.nn.depthwise_conv2d(rows, kernel[:, tf.newaxis], [1, 1, 1, 1], "VALID")
    size = tf.cast(tf.shape(image)[1:3], tf.float32) / zoom
    return tf.image.resize(smooth, tf.cast(tf.round(size), tf.int32), method="bilinear")


PRECISIONS = ("auto", "float32", "bfloat16")


def default_precision() -> str:
    """bfloat16 where the hardware computes it natively, else float32.

    Measured here (Xeon with AMX): VGG16 steps at 256 px run about 3x faster in bfloat16, with the
    losses kept in float32 and the same loss curve. On a CPU without bf16 units it would be slower,
    and float16 would need loss scaling, so those stay float32.
    """
    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        capability = tf.config.experimental.get_device_details(gpus[0]).get("compute_capability")
        return "bfloat16" if capability and capability >= (8, 0) else "float32"
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return "float32"
    return "bfloat16" if ("amx_bf16" in flags or "avx512_bf16" in flags) else "float32"


@contextlib.contextmanager
def dtype_policy(precision: str) -> Iterator[None]:
    """Layers built inside compute in `precision`, with float32 variables."""
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_bfloat16" if precision == "bfloat16" else "float32")
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)
