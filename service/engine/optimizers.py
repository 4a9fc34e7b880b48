"""Optimisers as pure functions of tensors, so a whole epoch of them runs inside one graph.

Each has `init(image) -> state` and `update(image, gradient, state, learning_rate) ->
(image, state)`; the state is a tuple of tensors carried by the epoch's `tf.while_loop` and from
one epoch (one graph call) to the next.
"""

from __future__ import annotations

import tensorflow as tf


class Adam:
    """Adam with the TensorFlow tutorial's settings: beta_1 0.99, epsilon 0.1."""


    def __init__(self, beta_1: float = 0.99, beta_2: float = 0.999, epsilon: float = 0.1):
        self.beta_1, self.beta_2, self.epsilon = beta_1, beta_2, epsilon

    def init(self, image: tf.Tensor) -> tuple:
        return tf.zeros_like(image), tf.zeros_like(image), tf.constant(0.0)

    def update(self, image, gradient, state, learning_rate):
        first_moment, second_moment, step = state
        step = step + 1.0
        first_moment = self.beta_1 * first_moment + (1.0 - self.beta_1) * gradient
        second_moment = self.beta_2 * second_moment + (1.0 - self.beta_2) * tf.square(gradient)
        rate = learning_rate * tf.sqrt(1.0 - self.beta_2**step) / (1.0 - self.beta_1**step)
        image = image - rate * first_moment / (tf.sqrt(second_moment) + self.epsilon)
        return image, (first_moment, second_moment, step)


class LBFGS:
    """Limited-memory BFGS with a fixed step, as the original neural-style uses it (no line search).

    The curvature pairs are measured between the images actually visited, after clipping, so they
    stay true secants of the objective; a pair with no positive curvature is skipped.
    """


    def __init__(self, history: int = 10):
        self.history = history

    def init(self, image: tf.Tensor) -> tuple:
        size = tf.size(image)
        empty = tf.zeros(tf.stack([self.history, size]))
        return tf.zeros_like(image), tf.zeros_like(image), empty, empty, tf.zeros([self.history]), \
            tf.constant(0)

    def update(self, image, gradient, state, learning_rate):
        previous_image, previous_gradient, s_history, y_history, rho, iteration = state
        g = tf.reshape(gradient, [-1])
        s = tf.reshape(image - previous_image, [-1])
        y = g - tf.reshape(previous_gradient, [-1])
        curvature = tf.tensordot(y, s, 1)
        accept = (iteration > 0) & (curvature > 1e-10)
        s_history, y_history, rho = tf.cond(
            accept,
            lambda: (
                tf.concat([s_history[1:], s[tf.newaxis]], 0),
                tf.concat([y_history[1:], y[tf.newaxis]], 0),
                tf.concat([rho[1:], [1.0 / curvature]], 0),
            ),
            lambda: (s_history, y_history, rho),
        )
        direction = -self._inverse_hessian_times(g, s_history, y_history, rho)
        # Before any curvature is known, a step of total length 1 along the gradient (as torch).
        first = tf.minimum(1.0, 1.0 / tf.reduce_sum(tf.abs(g)))
        scale = tf.where(tf.reduce_any(rho > 0), learning_rate, first * learning_rate)
        new_image = image + scale * tf.reshape(direction, tf.shape(image))
        return new_image, (image, gradient, s_history, y_history, rho, iteration + 1)

    def _inverse_hessian_times(self, g, s_history, y_history, rho):
        """The two-loop recursion; empty slots have rho 0 and change nothing."""
        q = g
        alphas = []
        for i in reversed(range(self.history)):
            alpha = rho[i] * tf.tensordot(s_history[i], q, 1)
            q = q - alpha * y_history[i]
            alphas.append(alpha)
        newest_y = y_history[-1]
        yy = tf.tensordot(newest_y, newest_y, 1)
        gamma = tf.where(yy > 0, tf.tensordot(s_history[-1], newest_y, 1) / tf.maximum(yy, 1e-30), 1.0)
        r = gamma * q
        for i, alpha in zip(range(self.history), reversed(alphas)):
            beta = rho[i] * tf.tensordot(y_history[i], r, 1)
            r = r + (alpha - beta) * s_history[i]
        return r


OPTIMIZERS = {"adam": Adam(), "lbfgs": LBFGS()}
