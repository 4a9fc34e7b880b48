"""A real `nst serve` on a free loopback port, storing into a real SeaweedFS.

Started the way a deployment starts it (the `nst` command, configured by NST_* variables), and
timed from the moment the process is spawned to the first `/readyz` 200.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from devstack.processes import free_ports, stop_process, wait_for_http
from devstack.seaweedfs import SeaweedFS
from service.engine import ModelInfo

READY_TIMEOUT_S = 600
POLL_S = 0.1


def nst_command(*arguments: str) -> list[str]:
    """The `nst` console script beside this Python, else the same CLI through `python -m`."""
    script = Path(sys.executable).parent / "nst"
    if script.exists():
        return [str(script), *arguments]
    return [sys.executable, "-m", "service.cli", *arguments]


class LiveService:
    """SeaweedFS plus `nst serve`; a context manager that stops both (and removes its files)."""

    def __init__(self, env: dict[str, str] | None = None) -> None:
        self.extra_env = env or {}
        self.directory = Path(tempfile.mkdtemp(prefix="nst-bench-"))
        self.storage: SeaweedFS | None = None
        self.process: subprocess.Popen | None = None
        self.port = 0
        self.ready_s = float("nan")
        self.model: ModelInfo | None = None  # what /readyz says the service loaded

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws/stylize"

    @property
    def pid(self) -> int:
        return self.process.pid

    def __enter__(self) -> "LiveService":
        try:
            self._start()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _start(self) -> None:
        (s3_port, self.port) = free_ports(2)
        self.storage = SeaweedFS(directory=self.directory / "seaweedfs", s3_port=s3_port).start()
        env = {
            **os.environ, **self.extra_env, **self.storage.service_env(),
            "PORT": str(self.port), "NST_HOST": "127.0.0.1", "NST_LOG_LEVEL": "warning",
        }
        env.pop("NST_API_KEY", None)
        log = open(self.directory / "service.log", "wb")
        started = time.perf_counter()
        self.process = subprocess.Popen(nst_command("serve"), env=env, stdout=log,
                                        stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                        start_new_session=True)
        log.close()
        self._wait_ready()
        self.ready_s = time.perf_counter() - started

    def _wait_ready(self) -> None:
        url = f"http://127.0.0.1:{self.port}/readyz"
        try:
            body = wait_for_http(url, self.process, READY_TIMEOUT_S, "nst serve", interval_s=POLL_S)
        except RuntimeError as error:
            raise RuntimeError(f"{error}:\n{self.log_tail()}") from None
        model = json.loads(body)["model"]
        self.model = ModelInfo(model["backbone"], model["weights"],
                               model.get("precision", "float32"))

    def log_tail(self, lines: int = 20) -> str:
        path = self.directory / "service.log"
        text = path.read_text(errors="replace") if path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def __exit__(self, *exc_info) -> None:
        stop_process(self.process, 30)
        if self.storage is not None:
            self.storage.stop()
        shutil.rmtree(self.directory, ignore_errors=True)
