"""The VGG feature extractor: a Keras model truncated after the deepest layer the losses read."""

from __future__ import annotations

import keras
import tensorflow as tf

CONTENT_LAYERS = ("block5_conv2",)
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


def preprocess(image: tf.Tensor) -> tf.Tensor:
    """RGB in [0, 1] to the input VGG was trained on."""
    return tf.reverse(image, axis=[-1]) * 255.0 - _BGR_MEAN
