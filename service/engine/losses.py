"""The three terms of Gatys et al.'s objective, as pure functions of tensors."""

from __future__ import annotations

from collections.abc import Sequence

import tensorflow as tf


@tf.custom_gradient
def gram_matrix(features: tf.Tensor) -> tf.Tensor:
    """Channel correlations of one image's (1, H, W, C) features, divided by the number of
    locations H*W, in float32 whatever the features' precision.

    Gatys et al. divide by 4 N^2 M^2 inside the loss instead; normalising the Gram matrix by the
    locations (as the TensorFlow tutorial does) keeps one style weight meaningful across sizes.

    One matrix product of the (H*W, C) features with themselves, and its gradient written out as
    one more, F (dG + dG^T) / HW, in the features' own precision, since it flows back into the
    network that computed them: differentiating an einsum of F with itself takes a product for
    each operand and adds them, and oneDNN's batched einsum is slower than its plain matmul on this
    reduction over every pixel. The Grams cost up to a third of a step (docs/benchmarks.md).
    """
    shape = tf.shape(features)
    flat = tf.reshape(features, [-1, shape[3]])
    flat32 = tf.cast(flat, tf.float32)
    locations = tf.cast(shape[1] * shape[2], tf.float32)
    gram = tf.matmul(flat32, flat32, transpose_a=True)[tf.newaxis] / locations

    def gradient(upstream: tf.Tensor) -> tf.Tensor:
        symmetric = (upstream[0] + tf.transpose(upstream[0])) / locations
        return tf.reshape(tf.matmul(flat, tf.cast(symmetric, features.dtype)), shape)

    return gram, gradient


def relative_error(value: tf.Tensor, target: tf.Tensor) -> tf.Tensor:
    """Mean squared distance from `target`, over the target's own mean square."""
    return tf.reduce_mean(tf.square(value - target)) / (tf.reduce_mean(tf.square(target)) + 1e-8)


def style_loss(grams: list[tf.Tensor], target_grams: list[tf.Tensor],
               layer_weights: Sequence[float] | None = None) -> tf.Tensor:
    """Relative squared Gram-matrix distance, a weighted mean over the style layers (equal
    weights when `layer_weights` is None).

    Gatys et al. weigh each layer's absolute distance, which lets block1's and block2's Grams
    (10^3 to 10^4 times the size of block4's and block5's) decide the loss: the deep layers, which
    carry the painting's large forms, were left as far from the painting's as the photo's were.
    Relative to each target, a layer counts by its weight alone.
    """
    weights = layer_weights or [1.0] * len(grams)
    per_layer = [w * relative_error(g, t) for w, g, t in zip(weights, grams, target_grams)]
    return tf.add_n(per_layer) / sum(weights)


def content_loss(features: list[tf.Tensor], target_features: list[tf.Tensor]) -> tf.Tensor:
    """Relative squared feature distance, averaged over the content layers."""
    per_layer = [relative_error(f, t) for f, t in zip(features, target_features)]
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
    layer_weights: Sequence[float] | None = None,
) -> tf.Tensor:
    """[total, style, content, tv] of `image`, from its (content features, Grams) and the targets'.

    `weights` is (style, content, total variation); `layer_weights` each Gram's share of the style
    term.
    """
    (content_features, grams), (content_targets, style_targets) = features, targets
    style = weights[0] * style_loss(grams, list(style_targets), layer_weights)
    content = weights[1] * content_loss(content_features, list(content_targets))
    tv = weights[2] * total_variation_loss(image)
    return tf.stack([style + content + tv, style, content, tv])
