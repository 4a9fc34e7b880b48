"""The engine's own process: it loads and warms the model, then runs the jobs its pipe brings.

Started by service/engine_process.py (multiprocessing's spawn) and spoken to only through that
pipe. Each job runs in a thread of its own; `stop` and `steer` reach it through the engine's
StopSignal and Steering, which the compiled loop reads before every step. When the pipe closes
(the service exited, or was killed), this process exits too.

Messages in: ("start", job_id, content, styles, params, style_blend), ("stop", job_id),
("steer", job_id, changes), ("exit", ""). Out: ("ready", ModelInfo, Sizes, load_s, warm_s) or
("failed", reason) once; then ("frame", job_id, Frame), ("steered", job_id, step, changes) and
one ("end", job_id, failure) per job, failure None or (kind, text), kind "engine" or "internal".
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from multiprocessing.connection import Connection

from .engine.errors import EngineError  # no TensorFlow: the service's process imports this module

log = logging.getLogger("nst.engine")


def serve(conn: Connection, backbone: str, weights: str, precision: str, warm_size: int) -> None:
    # A replacement shares the GPU with the process it replaces until that one exits.
    os.environ.setdefault("TF_FORCE_GPU_ALLOW_GROWTH", "true")
    # Ctrl-C and a container's stop reach the whole process group; the service decides when its
    # jobs stop (and stores them), so the engine ignores both and ends with its pipe.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s %(message)s")
    from .cli import start_tensorflow

    start_tensorflow()
    from .engine import Engine

    worker = _Worker(conn)
    try:
        began = time.perf_counter()
        engine = Engine.load(backbone, weights, precision)
        loaded = time.perf_counter()
        engine.warm(warm_size)
    except Exception as error:  # noqa: BLE001 (the service reports it on /healthz)
        worker.send(("failed", f"{type(error).__name__}: {error}"))
        return
    worker.send(("ready", engine.model, engine.sizes, loaded - began,
                 time.perf_counter() - loaded))
    worker.serve(engine)


class _Worker:
    """The pipe's messages turned into jobs, each in its own thread, and their frames sent back."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.running: dict[str, tuple] = {}  # job id: (StopSignal, Steering)
        self._send_lock = threading.Lock()

    def send(self, message: tuple) -> None:
        with self._send_lock:
            self.conn.send(message)

    def serve(self, engine) -> None:
        from .engine import Steering, StopSignal

        while True:
            try:
                kind, job_id, *rest = self.conn.recv()
            except (EOFError, OSError):
                kind = "exit"  # the service is gone: nothing here is worth finishing
            if kind == "exit":
                os._exit(0)
            if kind == "start":
                content, styles, params, style_blend = rest
                self.running[job_id] = (StopSignal(), Steering(
                    len(styles), on_applied=lambda step, changes, job_id=job_id:
                    self.send(("steered", job_id, step, changes))))
                threading.Thread(target=self._run, name=f"job-{job_id[:8]}", daemon=True,
                                 args=(engine, job_id, content, styles, params, style_blend)
                                 ).start()
            elif (controls := self.running.get(job_id)) is not None:  # else it ended: moot
                stop, steering = controls
                if kind == "stop":
                    stop.set()
                elif kind == "steer":
                    steering.steer(**rest[0])  # already checked by the service, by the same rules

    def _run(self, engine, job_id: str, content, styles, params, style_blend) -> None:
        stop, steering = self.running[job_id]
        failure = None
        try:
            for frame in engine.stylize(content, styles, params, stop=stop,
                                        style_blend=style_blend, steering=steering):
                self.send(("frame", job_id, frame))
        except EngineError as error:
            failure = ("engine", str(error))
        except Exception as error:  # noqa: BLE001 (the job fails; the engine serves on)
            log.exception("event=engine_job_failed job_id=%s", job_id)
            failure = ("internal", type(error).__name__)
        finally:
            del self.running[job_id]
        self.send(("end", job_id, failure))
