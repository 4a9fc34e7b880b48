"""The loss terms agree with a plain NumPy reading of their definitions."""

import numpy as np
import tensorflow as tf

from service.engine.losses import content_loss, gram_matrix, style_loss, total_variation_loss

rng = np.random.default_rng(7)


def numpy_gram(features: np.ndarray) -> np.ndarray:
    _, height, width, channels = features.shape
    flat = features.reshape(-1, channels)
    return (flat.T @ flat)[np.newaxis] / (height * width)


def test_gram_matrix_is_channel_correlation_over_locations():
    features = rng.normal(size=(1, 5, 7, 4)).astype(np.float32)
    np.testing.assert_allclose(gram_matrix(tf.constant(features)).numpy(), numpy_gram(features),
                               rtol=1e-5)


def test_gram_matrix_gradient_is_the_products_derivative():
    """d/dF of sum(W * G) for G = F^T F / HW is F (W + W^T) / HW, W not symmetric, in a graph
    whose height and width are open as the engine's epoch is traced."""
    features = rng.normal(size=(1, 5, 7, 4)).astype(np.float32)
    weights = rng.normal(size=(1, 4, 4)).astype(np.float32)

    @tf.function(input_signature=[tf.TensorSpec([1, None, None, 4])])
    def gradient(image_features):
        with tf.GradientTape() as tape:
            tape.watch(image_features)
            weighted = tf.reduce_sum(weights * gram_matrix(image_features))
        return tape.gradient(weighted, image_features)

    flat = features.reshape(-1, 4)
    expected = (flat @ (weights[0] + weights[0].T) / (5 * 7)).reshape(features.shape)
    np.testing.assert_allclose(gradient(tf.constant(features)).numpy(), expected, rtol=1e-5,
                               atol=1e-6)


def test_gram_matrix_of_bfloat16_features_is_float32_with_a_bfloat16_gradient():
    """The network's bfloat16 features give the float32 Gram of their values; the gradient goes
    back to the network in its own precision."""
    features = tf.cast(rng.normal(size=(1, 6, 5, 8)), tf.bfloat16)
    weights = rng.normal(size=(1, 8, 8)).astype(np.float32)
    with tf.GradientTape() as tape:
        tape.watch(features)
        gram = gram_matrix(features)
        weighted = tf.reduce_sum(weights * gram)
    gradient = tape.gradient(weighted, features)
    values = features.numpy().astype(np.float32)
    assert gram.dtype == tf.float32 and gradient.dtype == tf.bfloat16
    np.testing.assert_allclose(gram.numpy(), numpy_gram(values), rtol=1e-5)
    expected = values.reshape(-1, 8) @ (weights[0] + weights[0].T) / 30
    np.testing.assert_allclose(gradient.numpy().astype(np.float32).reshape(-1, 8), expected,
                               rtol=0.03, atol=0.03)


def relative(value: np.ndarray, target: np.ndarray) -> float:
    return np.mean((value - target) ** 2) / np.mean(target**2)


def test_style_loss_averages_relative_gram_distance_over_layers():
    layers = [rng.normal(size=(1, 6, 6, c)).astype(np.float32) for c in (3, 8)]
    targets = [rng.normal(size=(1, c, c)).astype(np.float32) for c in (3, 8)]
    expected = np.mean([relative(numpy_gram(f), t) for f, t in zip(layers, targets)])
    grams = [gram_matrix(tf.constant(f)) for f in layers]
    assert np.isclose(style_loss(grams, [tf.constant(t) for t in targets]).numpy(), expected,
                      rtol=1e-5)


def test_every_style_layer_counts_alike_whatever_the_size_of_its_features():
    small = rng.normal(size=(1, 4, 4)).astype(np.float32)
    target, off_by_a_tenth = [small, small * 1000], [small * 1.1, small * 1100]
    loss = style_loss([tf.constant(g) for g in off_by_a_tenth], [tf.constant(t) for t in target])
    assert np.isclose(loss.numpy(), 0.01, rtol=1e-4)


def test_content_loss_is_relative_squared_feature_distance():
    features = [rng.normal(size=(1, 4, 4, 16)).astype(np.float32) for _ in range(2)]
    targets = [rng.normal(size=(1, 4, 4, 16)).astype(np.float32) for _ in range(2)]
    expected = np.mean([relative(f, t) for f, t in zip(features, targets)])
    loss = content_loss([tf.constant(f) for f in features], [tf.constant(t) for t in targets])
    assert np.isclose(loss.numpy(), expected, rtol=1e-5)


def test_total_variation_averages_absolute_neighbour_differences():
    image = rng.uniform(size=(1, 9, 11, 3)).astype(np.float32)
    expected = np.abs(np.diff(image, axis=1)).mean() + np.abs(np.diff(image, axis=2)).mean()
    assert np.isclose(total_variation_loss(tf.constant(image)).numpy(), expected, rtol=1e-5)


def test_total_variation_of_noise_is_the_same_at_every_size():
    small, large = (rng.uniform(size=(1, side, side, 3)).astype(np.float32) for side in (32, 256))
    assert np.isclose(total_variation_loss(tf.constant(small)).numpy(),
                      total_variation_loss(tf.constant(large)).numpy(), rtol=0.05)


def test_a_flat_image_has_no_total_variation():
    assert total_variation_loss(tf.fill((1, 8, 8, 3), 0.5)).numpy() == 0.0


def test_a_style_layer_counts_by_its_weight():
    target = [np.ones((1, 2, 2), np.float32)] * 2
    off = [tf.constant(target[0] * 1.1), tf.constant(target[1] * 1.5)]  # errors 0.01 and 0.25
    loss = style_loss(off, [tf.constant(t) for t in target], layer_weights=(0.3, 1.0))
    assert np.isclose(loss.numpy(), (0.3 * 0.01 + 0.25) / 1.3, rtol=1e-5)
