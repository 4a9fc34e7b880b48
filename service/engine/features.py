"""The VGG feature extractor: a Keras model truncated after the deepest layer the losses read."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import keras
import tensorflow as tf

from .losses import gram_matrix

# Gatys et al.'s conv4_2: block5_conv2 (the TensorFlow tutorial's) let the subject's detail
# dissolve late in a run while the loss barely moved.
CONTENT_LAYERS = ("block4_conv2",)
STYLE_LAYERS = ("block1_conv1", "block2_conv1", "block3_conv1", "block4_conv1", "block5_conv1")
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
