"""Optimisers as pure functions of tensors, so a whole epoch of them runs inside one graph.

Each has `init(image) -> state` and `update(image, gradient, state, learning_rate) ->
(image, state)`; the state is a tuple of tensors carried by the epoch's `tf.while_loop` and from
one epoch (one graph call) to the next.
"""

from __future__ import annotations

import tensorflow as tf


class Adam:
    """Adam with the TensorFlow tutorial's settings: beta_1 0.99, epsilon 0.1.

    With `warmup_steps`, the rate rises linearly to `learning_rate` over that many steps, so that
    Adam taking over a half-optimised image does not throw it back with its first, sign-like steps.
    """

    def __init__(self, beta_1: float = 0.99, beta_2: float = 0.999, epsilon: float = 0.1,
                 warmup_steps: int = 0):
        self.beta_1, self.beta_2, self.epsilon = beta_1, beta_2, epsilon
        self.warmup_steps = warmup_steps

    def init(self, image: tf.Tensor) -> tuple:
        return tf.zeros_like(image), tf.zeros_like(image), tf.constant(0.0)

    def climb(self, state: tuple) -> tf.Tensor:
        """How far above the last accepted objective a step may land (a fraction of it)."""
        return tf.constant(float("inf"))

    def update(self, image, gradient, state, learning_rate):
        first_moment, second_moment, step = state
        step = step + 1.0
        first_moment = self.beta_1 * first_moment + (1.0 - self.beta_1) * gradient
        second_moment = self.beta_2 * second_moment + (1.0 - self.beta_2) * tf.square(gradient)
        rate = learning_rate * tf.sqrt(1.0 - self.beta_2**step) / (1.0 - self.beta_1**step)
        if self.warmup_steps:
            rate *= tf.minimum(1.0, step / self.warmup_steps)
        image = image - rate * first_moment / (tf.sqrt(second_moment) + self.epsilon)
        return image, (first_moment, second_moment, step)


# L-BFGS steps may land at most this fraction above the last accepted objective: enough for the
# bfloat16 network's rounding (steps below its resolution change the objective by that much, up or
# down), far too little for the wild steps that once threw whole pictures into noise.
LBFGS_CLIMB = 0.01


class LBFGS:
    """Limited-memory BFGS with a fixed step, as the original neural-style uses it (no line search).

    The curvature pairs are measured between the images actually visited, after clipping, so they
    stay true secants of the objective; a pair with no positive curvature is skipped. The history is
    a tuple of vectors, so shifting it moves no data; 30 pairs reach in 700 steps the loss 10 pairs
    reach in 1000, for about 7% more time per step at 256 px (docs/benchmarks.md).
    """

    def __init__(self, history: int = 30):
        self.history = history

    def init(self, image: tf.Tensor) -> tuple:
        empty = (tf.zeros([tf.size(image)]),) * self.history
        return tf.zeros_like(image), tf.zeros_like(image), empty, empty, tf.zeros([self.history]), \
            tf.constant(0)

    def climb(self, state: tuple) -> tf.Tensor:
        return tf.constant(LBFGS_CLIMB)

    def update(self, image, gradient, state, learning_rate):
        previous_image, previous_gradient, s_history, y_history, rho, iteration = state
        g = tf.reshape(gradient, [-1])
        s = tf.reshape(image - previous_image, [-1])
        y = g - tf.reshape(previous_gradient, [-1])
        curvature = tf.reduce_sum(y * s)
        accept = (iteration > 0) & (curvature > 1e-10)
        s_history, y_history, rho = tf.cond(
            accept,
            lambda: (
                s_history[1:] + (s,),
                y_history[1:] + (y,),
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
        """The two-loop recursion; empty slots have rho 0 and change nothing.

        Dot products as multiply-and-sum: 2-3x faster than `tf.tensordot` on vectors this long.
        """
        q = g
        alphas = []
        for i in reversed(range(self.history)):
            alpha = rho[i] * tf.reduce_sum(s_history[i] * q)
            q = q - alpha * y_history[i]
            alphas.append(alpha)
        newest_y = y_history[-1]
        yy = tf.reduce_sum(newest_y * newest_y)
        gamma = tf.where(yy > 0, tf.reduce_sum(s_history[-1] * newest_y) / tf.maximum(yy, 1e-30),
                         1.0)
        r = gamma * q
        for i, alpha in zip(range(self.history), reversed(alphas)):
            beta = rho[i] * tf.reduce_sum(y_history[i] * r)
            r = r + (alpha - beta) * s_history[i]
        return r


class LBFGSThenAdam:
    """L-BFGS (full steps) for the first `switch` steps, then Adam at `learning_rate`, warmed up.

    L-BFGS is far ahead early and Adam far ahead late (docs/benchmarks.md, Levers): at 256 px,
    L-BFGS for 200 steps then Adam at 0.035 reached the loss of the tutorial's 1000 Adam steps in
    600 steps, where Adam alone (at its best rate, 0.05) took 900 and L-BFGS alone 1400. Both
    states ride along; only the active one changes.
    """

    def __init__(self, switch: int = 200, lbfgs: LBFGS | None = None, adam: Adam | None = None):
        self.switch = switch
        self.lbfgs = lbfgs or LBFGS()
        self.adam = adam or Adam(warmup_steps=100)

    def init(self, image: tf.Tensor) -> tuple:
        return self.lbfgs.init(image), self.adam.init(image), tf.constant(0)

    def climb(self, state: tuple) -> tf.Tensor:
        return tf.where(state[2] < self.switch, self.lbfgs.climb(state[0]),
                        self.adam.climb(state[1]))

    def update(self, image, gradient, state, learning_rate):
        lbfgs_state, adam_state, step = state

        def by_lbfgs():
            new_image, new_state = self.lbfgs.update(image, gradient, lbfgs_state, 1.0)
            return new_image, new_state, adam_state

        def by_adam():
            new_image, new_state = self.adam.update(image, gradient, adam_state, learning_rate)
            return new_image, lbfgs_state, new_state

        image, lbfgs_state, adam_state = tf.cond(step < self.switch, by_lbfgs, by_adam)
        return image, (lbfgs_state, adam_state, step + 1)




class Backtracking:
    """Any optimiser above, guarded so that no frame is worse than the frame before it.

    Each step evaluates one trial image. A trial that is no worse than the last frame, and at most
    the inner optimiser's `climb` above the last accepted image, is accepted and the inner
    optimiser proposes the next step from it; any other is halved towards the last accepted image
    and tried again (a backtracking line search that spends one objective evaluation per step,
    like any other step). So the image at the end of an epoch, the frame, is never worse than the
    frame before, and no L-BFGS step can throw the picture away: unguarded, its second step took
    chelsea x starry_night at 192 px from 4.5e5 to 2.95e7, and every later frame stayed noise;
    bounded by the last frame alone, it landed below the photo's objective in an inverted,
    grainy picture. Adam climbs freely below the last frame: its progress needs small climbs.
    Neither is held to strict descent (Armijo): the network sees the image in bfloat16, where a
    short step changes the objective by rounding alone, and a strictly monotone search stalled
    (docs/benchmarks.md, Levers). After `max_halvings` rejections in a row the inner optimiser
    restarts (L-BFGS forgets its history) from the accepted image. Trials stay in [0, 1]: the
    accepted image and a clipped proposal are both in the box, so every point between them is too.

    The state is (accepted image, its [total, style, content, tv], displacement of the trial from
    it, halvings so far, inner state, objective of the last frame).
    """

    def __init__(self, inner, shrink: float = 0.5, max_halvings: int = 8):
        self.inner = inner
        self.shrink, self.max_halvings = shrink, max_halvings

    def init(self, image: tf.Tensor) -> tuple:
        unevaluated = tf.constant([float("inf"), 0.0, 0.0, 0.0])
        return (image, unevaluated, tf.zeros_like(image), tf.constant(0), self.inner.init(image),
                tf.constant(float("inf")))

    @staticmethod
    def accepted(state: tuple) -> tuple[tf.Tensor, tf.Tensor]:
        return state[0], state[1]

    @staticmethod
    def begin_epoch(state: tuple) -> tuple:
        """Mark the accepted image as the last frame: no later frame may be worse."""
        return (*state[:5], state[1][0])

    def update(self, trial, terms, gradient, state, learning_rate):
        """The next trial image, given the objective's terms and gradient at this one."""
        accepted, accepted_terms, displacement, halvings, inner_state, frame = state
        frame = tf.where(tf.math.is_inf(frame), terms[0], frame)  # the first image sets the bar

        def propose(image, gradient, inner_state):
            proposal, inner_state = self.inner.update(image, gradient, inner_state, learning_rate)
            return tf.clip_by_value(proposal, 0.0, 1.0) - image, inner_state

        def accept():
            displacement, new_inner = propose(trial, gradient, inner_state)
            return trial, terms, displacement, tf.constant(0), new_inner

        def backtrack():
            return accepted, accepted_terms, self.shrink * displacement, halvings + 1, inner_state

        def restart():
            # The gradient at the accepted image is not kept (it would cost an image of memory
            # in every state); the trial's, a halved step away, points the same way.
            displacement, new_inner = propose(accepted, gradient, self.inner.init(accepted))
            return accepted, accepted_terms, displacement, tf.constant(0), new_inner

        climb = self.inner.climb(inner_state)
        bar = tf.where(tf.math.is_inf(climb), frame,
                       tf.minimum(frame, accepted_terms[0] + climb * tf.abs(accepted_terms[0])))
        state = tf.cond(terms[0] <= bar, accept,
                        lambda: tf.cond(halvings < self.max_halvings, backtrack, restart))
        return state[0] + state[2], (*state, frame)


OPTIMIZERS = {
    "lbfgs-adam": Backtracking(LBFGSThenAdam()),
    "adam": Backtracking(Adam()),
    "lbfgs": Backtracking(LBFGS()),
}
