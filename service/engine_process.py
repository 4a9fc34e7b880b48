"""The engine in a child process, replaced when it has grown.

TensorFlow's oneDNN kernels keep primitives for every image shape a process has run and never
give them back (docs/benchmarks.md, "Memory over many shapes"), so a service painting photos of
every aspect ratio would grow without bound. The engine therefore runs in a child process
(service/engine_worker.py), and the service's own process never loads TensorFlow. After a job, a
child that has grown by more than NST_ENGINE_RECYCLE_MB since it warmed up is replaced: a new one
loads and warms in the background while the old one serves on, and the old one exits once its
jobs are done. A child that dies (killed for memory, say) fails only the jobs it was running, and
is replaced the same way.

`EngineProcess` offers what the service uses of the engine (`model`, `sizes`, `stylize`);
`RemoteStop` and `RemoteSteering` are the engine's StopSignal and
Steering across the pipe, so a stop or a steer still takes effect within a step.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence

import numpy as np

from . import metrics
from .engine_child import EngineChild, EngineLost
from .engine.errors import EngineError
from .engine.info import Frame, ModelInfo, Sizes
from .engine.params import StyleParams, check_steer
from .settings import Settings, megabytes

log = logging.getLogger("nst.service")

# How long a job closed early waits for the engine to confirm its end (it stops within a step).
END_WAIT_S = 60.0


class _Remote:
    """Where a control's messages go once its job runs: a child and the job's id there."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._target: tuple[EngineChild, str] | None = None

    def attach(self, child: EngineChild, job_id: str) -> None:
        with self._lock:
            self._target = child, job_id
            self._attached()

    def detach(self) -> None:
        with self._lock:
            self._target = None

    def _attached(self) -> None:
        """Send what was asked before the job ran (called under the lock)."""

    def _tell(self, kind: str, *rest: object) -> None:
        if self._target is not None:
            child, job_id = self._target
            child.tell((kind, job_id, *rest))


class RemoteStop(_Remote):
    """The engine's StopSignal across the pipe: `set()` from any thread ends the run within one
    optimisation step, and the run yields the image it reached as its last frame."""

    def __init__(self) -> None:
        super().__init__()
        self._event = threading.Event()

    def set(self) -> None:
        with self._lock:
            self._event.set()
            self._tell("stop")

    def is_set(self) -> bool:
        return self._event.is_set()

    def _attached(self) -> None:
        if self._event.is_set():
            self._tell("stop")


class RemoteSteering(_Remote):
    """The engine's Steering across the pipe: `steer()` checks the changes here (BadParams, and
    the run goes on unchanged) and the engine applies them from its next step; `applied` and
    `on_applied` follow the engine's confirmations."""

    def __init__(self, paintings: int = 1,
                 on_applied: Callable[[int, dict[str, object]], None] | None = None) -> None:
        super().__init__()
        self.paintings = paintings
        self.on_applied = on_applied
        self.applied: list[tuple[int, dict[str, object]]] = []
        self._pending: dict[str, object] = {}

    def steer(self, **changes: object) -> None:
        check_steer(self.paintings, changes)
        with self._lock:
            if self._target is None:
                self._pending.update(changes)
            else:
                self._tell("steer", changes)

    def record(self, step: int, changes: dict[str, object]) -> None:
        """`changes` took effect after `step` steps."""
        self.applied.append((step, changes))
        if self.on_applied is not None:
            self.on_applied(step, changes)

    def _attached(self) -> None:
        if self._pending:
            self._tell("steer", self._pending)
            self._pending = {}


class EngineProcess:
    """The engine as the service sees it, running in a child process that is replaced when it
    has grown or has died. `start()` blocks until the first child has loaded and warmed."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._recycle_bytes = megabytes(settings.engine_recycle_mb)
        self._changed = threading.Condition()
        self._child: EngineChild | None = None
        self._replacing = False
        self._failure: str | None = None
        self._closed = False
        self.model: ModelInfo | None = None
        self.sizes: Sizes | None = None
        metrics.ENGINE_RESIDENT.set_function(lambda: self.resident_bytes)

    def start(self) -> tuple[float, float]:
        """Load and warm the first engine; its (load, warm) seconds."""
        child = EngineChild(self._settings, self._lost)
        with self._changed:
            self._child, self.model, self.sizes = child, child.model, child.sizes
        return child.load_s, child.warm_s

    def close(self) -> None:
        with self._changed:
            self._closed = True
            child, self._child = self._child, None
            self._changed.notify_all()
        if child is not None:
            child.close()

    @property
    def failure(self) -> str | None:
        """Why no engine can run jobs (a replacement failed to load), else None."""
        return self._failure

    @property
    def resident_bytes(self) -> int:
        """What the current engine process holds in memory."""
        child = self._child
        return child.rss() if child is not None else 0

    def stylize(
        self, content: np.ndarray, styles: Sequence[np.ndarray], params: StyleParams,
        stop: RemoteStop | None = None, style_blend: Sequence[float] | None = None,
        steering: RemoteSteering | None = None,
    ) -> Iterator[Frame]:
        """Engine.stylize in the child: a Frame per epoch. Closing the generator early stops the
        run (within a step) and waits for the engine to confirm it."""
        child = self._take()
        job_id, inbox, ended = uuid.uuid4().hex, queue.SimpleQueue(), False
        child.jobs[job_id] = inbox
        controls = [control for control in (stop, steering) if control is not None]
        try:
            child.send(("start", job_id, content, list(styles), params, style_blend))
            for control in controls:
                control.attach(child, job_id)
            while True:
                kind, *rest = inbox.get()
                if kind == "frame":
                    yield rest[0]
                elif kind == "steered":
                    steering.record(*rest)
                else:
                    ended = True
                    _raise_failure(kind, rest)
                    return
        except OSError:  # the pipe broke under send: the engine is gone
            ended = True
            raise EngineLost("the engine process ended during the job") from None
        finally:
            for control in controls:
                control.detach()
            if not ended:
                _wait_for_end(child, job_id, inbox)
            del child.jobs[job_id]
            self._ended(child)

    def _take(self) -> EngineChild:
        with self._changed:
            while self._child is None:
                if self._failure is not None or self._closed:
                    raise EngineLost(self._failure or "the service is shutting down")
                self._changed.wait()
            self._child.running += 1
            return self._child

    def _ended(self, child: EngineChild) -> None:
        with self._changed:
            child.running -= 1
            retire = child.retired and child.running == 0
            grown = child.rss() - child.warm_rss
            replace = (child is self._child and not self._replacing
                       and grown > self._recycle_bytes)
            if replace:
                self._replacing = True
        if retire:
            child.close()
        if replace:
            self._replace_soon(f"grown {grown / 2**20:.0f} MiB since warm-up")

    def _lost(self, child: EngineChild) -> None:
        """The child's pipe closed: if it was the current engine, load another."""
        with self._changed:
            if child is not self._child or self._closed:
                return
            self._child = None
            replace, self._replacing = not self._replacing, True
        log.error("event=engine_lost pid=%s exit_code=%s", child.process.pid,
                  child.process.exitcode)
        if replace:
            self._replace_soon("lost")

    def _replace_soon(self, reason: str) -> None:
        threading.Thread(target=self._replace, args=(reason,), name="engine-replace",
                         daemon=True).start()

    def _replace(self, reason: str) -> None:
        began = time.perf_counter()
        try:
            child = EngineChild(self._settings, self._lost)
        except Exception as error:  # noqa: BLE001 (jobs waiting for an engine get the reason)
            log.error("event=engine_replace_failed reason=%r error=%r", reason, str(error))
            with self._changed:
                self._replacing = False
                if self._child is None:
                    self._failure = f"the engine could not be restarted: {error}"
                self._changed.notify_all()
            return
        with self._changed:
            old, self._child, self._replacing = self._child, child, False
            if self._closed:
                old, self._child = child, None
            elif old is not None:
                old.retired = True
            self._changed.notify_all()
        metrics.ENGINE_REPLACED.labels(reason.split()[0]).inc()
        log.info("event=engine_replaced reason=%r pid=%d start_s=%.2f", reason,
                 child.process.pid, time.perf_counter() - began)
        if old is not None and old.running == 0:
            old.close()


def _raise_failure(kind: str, rest: list) -> None:
    if kind == "lost":
        raise EngineLost("the engine process ended during the job")
    failure = rest[0]
    if failure is None:
        return
    what, text = failure
    if what == "engine":
        raise EngineError(text)
    raise EngineLost(f"the engine failed ({text}); the engine's log has the trace")


def _wait_for_end(child: EngineChild, job_id: str, inbox: queue.SimpleQueue) -> None:
    """Stop a run the caller left early and wait (within a step) until the engine has let go."""
    child.tell(("stop", job_id))
    deadline = time.monotonic() + END_WAIT_S
    while (left := deadline - time.monotonic()) > 0:
        try:
            kind, *_ = inbox.get(timeout=left)
        except queue.Empty:
            break
        if kind in ("end", "lost"):
            return
    log.warning("event=engine_stop_unconfirmed job_id=%s", job_id)
