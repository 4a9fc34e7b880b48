"""The in-graph optimisers do what their textbooks say, on problems with known answers."""

import numpy as np
import tensorflow as tf

from service.engine.optimizers import LBFGS, Adam, Backtracking, LBFGSThenAdam

curvatures = tf.constant(np.linspace(1.0, 100.0, 12).reshape(1, 2, 2, 3), tf.float32)
target = tf.constant(np.linspace(-1.0, 1.0, 12).reshape(1, 2, 2, 3), tf.float32)


def gradient(x):
    """Of the ill-conditioned quadratic 0.5 * sum(curvatures * (x - target)^2)."""
    return curvatures * (x - target)


def test_adam_step_matches_the_formula():
    adam = Adam(beta_1=0.9, beta_2=0.999, epsilon=0.1)
    x = tf.zeros_like(target)
    g = gradient(x)
    x1, (m, v, step) = adam.update(x, g, adam.init(x), 0.02)
    m_expected, v_expected = 0.1 * g.numpy(), 0.001 * g.numpy() ** 2
    rate = 0.02 * np.sqrt(1 - 0.999) / (1 - 0.9)
    np.testing.assert_allclose(m.numpy(), m_expected, rtol=1e-6)
    np.testing.assert_allclose(x1.numpy(), -rate * m_expected / (np.sqrt(v_expected) + 0.1),
                               rtol=1e-5)
    assert step.numpy() == 1.0


def test_lbfgs_solves_an_ill_conditioned_quadratic_in_few_steps():
    lbfgs = LBFGS(history=5)
    x = tf.zeros_like(target)
    state = lbfgs.init(x)
    for _ in range(25):
        x, state = lbfgs.update(x, gradient(x), state, 1.0)
    np.testing.assert_allclose(x.numpy(), target.numpy(), atol=1e-3)


def test_lbfgs_first_step_is_a_short_step_down_the_gradient():
    lbfgs = LBFGS()
    x = tf.zeros_like(target)
    g = gradient(x)
    x1, _ = lbfgs.update(x, g, lbfgs.init(x), 1.0)
    expected = -g.numpy() * min(1.0, 1.0 / np.abs(g.numpy()).sum())
    np.testing.assert_allclose(x1.numpy(), expected, rtol=1e-5)


def test_adam_warmup_scales_the_first_steps_linearly():
    plain, warm = Adam(), Adam(warmup_steps=4)
    x = tf.zeros_like(target)
    g = gradient(x)
    x_plain, _ = plain.update(x, g, plain.init(x), 0.02)
    x_warm, state = warm.update(x, g, warm.init(x), 0.02)
    np.testing.assert_allclose(x_warm.numpy(), x_plain.numpy() / 4, rtol=1e-5)
    for _ in range(10):
        x, state = warm.update(x, gradient(x), state, 0.02)
    assert state[2].numpy() == 11.0


def test_lbfgs_then_adam_follows_lbfgs_then_hands_over_to_adam():
    hybrid, lbfgs, adam = LBFGSThenAdam(switch=3), LBFGS(), Adam(warmup_steps=100)
    x = tf.zeros_like(target)
    x_hybrid, hybrid_state = x, hybrid.init(x)
    x_lbfgs, lbfgs_state = x, lbfgs.init(x)
    for _ in range(3):
        x_hybrid, hybrid_state = hybrid.update(x_hybrid, gradient(x_hybrid), hybrid_state, 0.5)
        x_lbfgs, lbfgs_state = lbfgs.update(x_lbfgs, gradient(x_lbfgs), lbfgs_state, 1.0)
    np.testing.assert_allclose(x_hybrid.numpy(), x_lbfgs.numpy(), rtol=1e-6)
    # The fourth step is Adam's first, at a hundredth of the rate, from where L-BFGS left off.
    x_adam, _ = adam.update(x_lbfgs, gradient(x_lbfgs), adam.init(x), 0.5)
    x_hybrid, hybrid_state = hybrid.update(x_hybrid, gradient(x_hybrid), hybrid_state, 0.5)
    np.testing.assert_allclose(x_hybrid.numpy(), x_adam.numpy(), rtol=1e-6)
    assert hybrid_state[1][2].numpy() == 1.0 and int(hybrid_state[2]) == 4


def quadratic(x):
    return 0.5 * tf.reduce_sum(curvatures * tf.square(x - target))


def run_backtracking(optimizer, epochs, steps_per_epoch, learning_rate):
    """Trial objectives, accepted objectives and frames (accepted at each epoch's end) of
    `optimizer` on the quadratic, from the box's centre."""
    x = tf.fill(target.shape, 0.5)
    state = optimizer.init(x)
    trials, accepted, frames = [], [], []
    for _ in range(epochs):
        state = optimizer.begin_epoch(state)
        for _ in range(steps_per_epoch):
            terms = tf.stack([quadratic(x), 0.0, 0.0, 0.0])
            trials.append(float(terms[0]))
            x, state = optimizer.update(x, terms, gradient(x), state, learning_rate)
            accepted.append(float(Backtracking.accepted(state)[1][0]))
        frames.append(accepted[-1])
    return trials, accepted, frames, state


def test_backtracking_keeps_lbfgs_converging_in_the_box_never_climbing_past_one_percent():
    # The target is clipped to [0, 1], so the box's solution is the clipped target.
    _, accepted, frames, state = run_backtracking(Backtracking(LBFGS(history=5)), 6, 10, 1.0)
    image = Backtracking.accepted(state)[0].numpy()
    np.testing.assert_allclose(image, np.clip(target.numpy(), 0, 1), atol=1e-3)
    assert all(b <= a for a, b in zip(frames, frames[1:]))
    assert all(b <= a * 1.01 for a, b in zip(accepted, accepted[1:]))


def test_backtracking_halves_adam_steps_that_climb_above_the_last_frame():
    # Adam at a rate of 5 overshoots the box's [0, 1] many times over.
    trials, accepted, frames, _ = run_backtracking(Backtracking(Adam()), 6, 5, 5.0)
    assert any(t != a for t, a in zip(trials, accepted)), "no step was rejected: shows nothing"
    assert any(b > a for a, b in zip(accepted, accepted[1:])), "Adam never climbed"
    bars = [accepted[0]] + frames[:-1]
    for epoch, bar in enumerate(bars):
        assert max(accepted[epoch * 5:(epoch + 1) * 5]) <= bar
    assert all(b <= a for a, b in zip(frames, frames[1:]))
    assert frames[-1] < 0.5 * accepted[0]


def test_backtracking_restarts_the_inner_optimiser_after_too_many_halvings():
    class Uphill:
        """Proposes a step up the gradient every time (a broken curvature model)."""

        def init(self, image):
            return (tf.constant(0.0),)

        def climb(self, state):
            return tf.constant(0.0)

        def update(self, image, gradient, state, learning_rate):
            return image + 0.1 * gradient, (state[0] + 1.0,)

    guard = Backtracking(Uphill(), max_halvings=3)
    _, accepted, _, state = run_backtracking(guard, 1, 12, 1.0)
    assert all(b <= a for a, b in zip(accepted, accepted[1:]))
    assert float(state[4][0]) < 4  # the inner state was reset by a restart
