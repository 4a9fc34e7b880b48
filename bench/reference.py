"""The reference: the TensorFlow tutorial's style transfer, written as the tutorial publishes it.

https://www.tensorflow.org/tutorials/generative/style_transfer — a `StyleContentModel` whose VGG
outputs its layers as a list, the image a `tf.Variable` initialised with the content, Keras Adam
(lr 0.02, beta_1 0.99, epsilon 0.1), one `@tf.function` call per step, and the image clipped to
[0, 1] after each step. Only the loss is pluggable: the tutorial's own (for step speed) or the
benchmark's objective (for time to quality).
"""

from __future__ import annotations

from collections.abc import Callable

import keras
import numpy as np
import tensorflow as tf

from service.engine.features import BACKBONES, CONTENT_LAYERS, STYLE_LAYERS, dtype_policy

from .objective import to_unit

# The tutorial's loss weights, tuned for ImageNet VGG19.
STYLE_WEIGHT, CONTENT_WEIGHT, TOTAL_VARIATION_WEIGHT = 1e-2, 1e4, 30.0
_PREPROCESS = {"vgg19": keras.applications.vgg19.preprocess_input,
               "vgg16": keras.applications.vgg16.preprocess_input}

Loss = Callable[[tf.Variable], tf.Tensor]


def reference_vgg(backbone: str, weights_from: keras.Model) -> keras.Model:
    """A float32 VGG with the same weights as the engine's, so both sides compute alike."""
    with dtype_policy("float32"):
        vgg = BACKBONES[backbone](include_top=False, weights=None)
    vgg.set_weights(weights_from.get_weights())
    return vgg


def gram_matrix(input_tensor: tf.Tensor) -> tf.Tensor:
    result = tf.linalg.einsum("bijc,bijd->bcd", input_tensor, input_tensor)
    input_shape = tf.shape(input_tensor)
    num_locations = tf.cast(input_shape[1] * input_shape[2], tf.float32)
    return result / num_locations


class StyleContentModel:
    """The tutorial's extractor: image in [0, 1] to {"style": Grams, "content": features}."""

    def __init__(self, vgg: keras.Model, backbone: str) -> None:
        self.style_layers, self.content_layers = list(STYLE_LAYERS), list(CONTENT_LAYERS)
        outputs = [vgg.get_layer(name).output for name in self.style_layers + self.content_layers]
        self.vgg = keras.Model([vgg.input], outputs)
        self.vgg.trainable = False
        self.preprocess_input = _PREPROCESS[backbone]

    def __call__(self, inputs: tf.Tensor) -> dict[str, dict[str, tf.Tensor]]:
        outputs = self.vgg(self.preprocess_input(inputs * 255.0))
        style_outputs = outputs[: len(self.style_layers)]
        content_outputs = outputs[len(self.style_layers):]
        return {
            "content": dict(zip(self.content_layers, content_outputs)),
            "style": {name: gram_matrix(output)
                      for name, output in zip(self.style_layers, style_outputs)},
        }


def tutorial_loss(extractor: StyleContentModel, content: np.ndarray, style: np.ndarray) -> Loss:
    """The tutorial's `style_content_loss` plus its total-variation term, with its weights."""
    style_targets = extractor(to_unit(style))["style"]
    content_targets = extractor(to_unit(content))["content"]

    def loss(image: tf.Variable) -> tf.Tensor:
        outputs = extractor(image)
        style_loss = tf.add_n([tf.reduce_mean((outputs["style"][name] - style_targets[name]) ** 2)
                               for name in outputs["style"]])
        style_loss *= STYLE_WEIGHT / len(style_targets)
        content_loss = tf.add_n([
            tf.reduce_mean((outputs["content"][name] - content_targets[name]) ** 2)
            for name in outputs["content"]])
        content_loss *= CONTENT_WEIGHT / len(content_targets)
        return style_loss + content_loss + TOTAL_VARIATION_WEIGHT * tf.image.total_variation(image)

    return loss


def clip_0_1(image: tf.Tensor) -> tf.Tensor:
    return tf.clip_by_value(image, clip_value_min=0.0, clip_value_max=1.0)


class Reference:
    """One image being optimised the tutorial's way. `run(steps)` makes `steps` train_step calls."""

    def __init__(self, loss: Loss, content: np.ndarray) -> None:
        self.loss = loss
        self.image = tf.Variable(to_unit(content))
        self.optimizer = keras.optimizers.Adam(learning_rate=0.02, beta_1=0.99, epsilon=1e-1)
        self.optimizer.build([self.image])
        self.train_step = tf.function(self._train_step)
        # Traced here, not in the first timed call; tracing runs nothing, so Adam starts fresh.
        self.train_step.get_concrete_function(self.image)

    def _train_step(self, image: tf.Variable) -> None:
        with tf.GradientTape() as tape:
            loss = self.loss(image)
        grad = tape.gradient(loss, image)
        self.optimizer.apply_gradients([(grad, image)])
        image.assign(clip_0_1(image))

    def run(self, steps: int) -> np.ndarray:
        """`steps` optimisation steps, then the image as uint8 (shown after each epoch)."""
        for _ in range(steps):
            self.train_step(self.image)
        return self.result()

    def result(self) -> np.ndarray:
        return np.round(self.image.numpy()[0] * 255.0).astype(np.uint8)
