"""The three terms of Gatys et al.'s objective, as pure functions of tensors."""

from __future__ import annotations

import tensorflow as tf


def gram_matrix(features: tf.Tensor) -> tf.Tensor:
    """Channel correlations of (B, H, W, C) features, divided by the number of locations H*W.

    Gatys et al. divide by 4 N^2 M^2 inside the loss instead; normalising the Gram matrix by the
    locations (as the TensorFlow tutorial does) keeps one style weight meaningful across sizes.
    """
    gram = tf.einsum("bijc,bijd->bcd", features, features)
    shape = tf.shape(features)
    locations = tf.cast(shape[1] * shape[2], gram.dtype)
    return gram / locations


def style_loss(grams: list[tf.Tensor], target_grams: list[tf.Tensor]) -> tf.Tensor:
    """Mean squared Gram-matrix distance, averaged over the style layers."""
    per_layer = [tf.reduce_mean(tf.square(g - t)) for g, t in zip(grams, target_grams)]
    return tf.add_n(per_layer) / len(per_layer)


def content_loss(features: list[tf.Tensor], target_features: list[tf.Tensor]) -> tf.Tensor:
    """Mean squared feature distance, averaged over the content layers."""
    per_layer = [tf.reduce_mean(tf.square(f - t)) for f, t in zip(features, target_features)]
    return tf.add_n(per_layer) / len(per_layer)


def total_variation_loss(image: tf.Tensor) -> tf.Tensor:
    """Mean absolute difference between vertical neighbours, plus the same between horizontal ones.

    A mean, like the style and content terms, so one weight means the same picture at every size
    (tf.image.total_variation is a sum, whose pull grows 4x with each doubling of the side).
    """
    down = image[:, 1:, :, :] - image[:, :-1, :, :]
    right = image[:, :, 1:, :] - image[:, :, :-1, :]
    return tf.reduce_mean(tf.abs(down)) + tf.reduce_mean(tf.abs(right))


def weighted_terms(
    image: tf.Tensor,
    features: tuple[list[tf.Tensor], list[tf.Tensor]],
    targets: tuple[list[tf.Tensor], list[tf.Tensor]],
    weights: tuple | tf.Tensor,
) -> tf.Tensor:
    """[total, style, content, tv] of `image`, from its (content features, Grams) and the targets'.

    `weights` is (style, content, total variation).
    """
    (content_features, grams), (content_targets, style_targets) = features, targets
    style = weights[0] * style_loss(grams, list(style_targets))
    content = weights[1] * content_loss(content_features, list(content_targets))
    tv = weights[2] * total_variation_loss(image)
    return tf.stack([style + content + tv, style, content, tv])
