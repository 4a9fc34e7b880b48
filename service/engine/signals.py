"""What reaches a running job from another thread: a stop, and changes to its weights and blend.
Both are variables the compiled loop reads before every step, so an epoch stays one graph call."""

from __future__ import annotations

import threading
from collections.abc import Callable

import tensorflow as tf

from .params import check_steer


class StopSignal:
    """A flag the compiled loop reads before every step: `set()` from any thread stops the run
    within one optimisation step, and the run yields the image it reached as its last frame.

    A variable read in the `tf.while_loop` condition rather than a Python callback, so the whole
    epoch stays one graph call (and stays compilable by XLA on a GPU).
    """

    def __init__(self) -> None:
        self._flag = tf.Variable(False, trainable=False)

    def set(self) -> None:
        self._flag.assign(True)

    def is_set(self) -> bool:
        return bool(self._flag.numpy())

    @property
    def variable(self) -> tf.Variable:
        """What the compiled loop reads."""
        return self._flag


class Steering:
    """Changes to a running job's loss weights and blend, applied from its next step.

    `steer()` (from any thread) checks and records a change and ends the running epoch's graph
    call at the next step, through a variable the compiled loop reads as it reads StopSignal's.
    The run then applies the change and runs the epoch's remaining steps: the weights and the
    blended targets are graph arguments of unchanged shapes, so nothing is traced again. The
    optimiser restarts from the image reached, since its history and the guard's last objective
    were measured under the old weights (for lbfgs-adam: 200 L-BFGS steps again). `applied`
    lists (step, changes) as they took effect.
    """

    def __init__(self, paintings: int = 1,
                 on_applied: Callable[[int, dict[str, object]], None] | None = None) -> None:
        self.paintings = paintings  # how many weights a steered blend must have
        self.on_applied = on_applied  # called from the run's thread as a change takes effect
        self._flag = tf.Variable(False, trainable=False)
        self._lock = threading.Lock()
        self._pending: dict[str, object] = {}
        self.applied: list[tuple[int, dict[str, object]]] = []

    def steer(self, **changes: object) -> None:
        """Record `changes` (any of STEERABLE); BadParams if a name or value is wrong (the run
        goes on unchanged)."""
        check_steer(self.paintings, changes)
        with self._lock:
            self._pending.update(changes)
            self._flag.assign(True)

    def take(self) -> dict[str, object]:
        with self._lock:
            changes, self._pending = self._pending, {}
            self._flag.assign(False)
            return changes

    def record(self, step: int, changes: dict[str, object]) -> None:
        """`changes` took effect after `step` steps: the run's steps from `step + 1` use them."""
        self.applied.append((step, changes))
        if self.on_applied is not None:
            self.on_applied(step, changes)

    @property
    def variable(self) -> tf.Variable:
        return self._flag
