"""One engine process (service/engine_worker.py) as the service's side holds it: its pipe, the
jobs running on it, its memory since warm-up. `EngineProcess` decides when one starts and ends."""

from __future__ import annotations

import multiprocessing
import queue
import threading
from collections.abc import Callable

from . import engine_worker
from .settings import Settings


class EngineLost(RuntimeError):
    """The engine process ended while loading or during a job."""


class EngineChild:
    """One engine process: its pipe, the jobs running on it, and its memory since warm-up."""

    def __init__(self, settings: Settings, on_lost: Callable[["EngineChild"], None]) -> None:
        context = multiprocessing.get_context("spawn")
        self.conn, child_end = context.Pipe()
        self.process = context.Process(
            target=engine_worker.serve, name="nst-engine", daemon=True,
            args=(child_end, settings.backbone, settings.weights, settings.precision,
                  settings.default_size))
        self.process.start()
        child_end.close()
        self.jobs: dict[str, queue.SimpleQueue] = {}
        self.running = 0  # jobs handed out, counted by EngineProcess under its lock
        self.retired = False  # replaced: exits once its last job ends
        self._send_lock = threading.Lock()
        self._on_lost = on_lost
        try:
            kind, *ready = self.conn.recv()
        except (EOFError, OSError):
            self.process.join(5)
            raise EngineLost(f"the engine process exited while loading "
                             f"(exit code {self.process.exitcode})") from None
        if kind == "failed":
            self.process.join(5)
            self.conn.close()
            raise EngineLost(ready[0])
        self.model, self.sizes, self.load_s, self.warm_s = ready
        self.warm_rss = self.rss()
        threading.Thread(target=self._read, name="engine-pipe", daemon=True).start()

    def send(self, message: tuple) -> None:
        with self._send_lock:
            self.conn.send(message)

    def tell(self, message: tuple) -> None:
        """Send if the process still listens: a stop or steer for a lost engine is moot."""
        try:
            self.send(message)
        except OSError:
            pass

    def rss(self) -> int:
        """Resident bytes of the process (0 once it is gone)."""
        try:
            with open(f"/proc/{self.process.pid}/status") as status:
                for line in status:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1]) * 1024
        except OSError:
            pass
        return 0

    def close(self) -> None:
        self.tell(("exit", ""))
        self.process.join(5)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()

    def _read(self) -> None:
        while True:
            try:
                kind, job_id, *rest = self.conn.recv()
            except (EOFError, OSError):
                break
            inbox = self.jobs.get(job_id)
            if inbox is not None:
                inbox.put((kind, *rest))
        self.conn.close()
        for inbox in list(self.jobs.values()):
            inbox.put(("lost",))
        self._on_lost(self)
