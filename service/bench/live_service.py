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
import urllib.error
import urllib.request
from pathlib import Path

from service.engine import ModelInfo
from service.stack import SeaweedFS, free_ports, stop_process

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
            **os.environ, **self.extra_env,
            "PORT": str(self.port), "NST_HOST": "127.0.0.1", "NST_LOG_LEVEL": "warning",
            "NST_S3_ENDPOINT": self.storage.endpoint, "NST_S3_BUCKET": self.storage.bucket,
            "AWS_ACCESS_KEY_ID": self.storage.access_key,
            "AWS_SECRET_ACCESS_KEY": self.storage.secret_key,
        }
        env.pop("NST_API_KEY", None)
        log = open(self.directory / "service.log", "wb")
        started = time.perf_counter()
        self.process = subprocess.Popen(nst_command("serve"), env=env, stdout=log,
                                        stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                        start_new_session=True)
        log.close()
        self._wait_ready(started)
        self.ready_s = time.perf_counter() - started

    def _wait_ready(self, started: float) -> None:
        url = f"http://127.0.0.1:{self.port}/readyz"
        while time.perf_counter() - started < READY_TIMEOUT_S:
            if self.process.poll() is not None:
                raise RuntimeError(f"nst serve exited with {self.process.returncode}:\n"
                                   + self.log_tail())
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200:
                        model = json.load(response)["model"]
                        self.model = ModelInfo(model["backbone"], model["weights"],
                                               model.get("precision", "float32"))
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(POLL_S)
        raise RuntimeError(f"nst serve was not ready in {READY_TIMEOUT_S} s:\n" + self.log_tail())

    def log_tail(self, lines: int = 20) -> str:
        path = self.directory / "service.log"
        text = path.read_text(errors="replace") if path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def __exit__(self, *exc_info) -> None:
        stop_process(self.process, 30)
        if self.storage is not None:
            self.storage.stop()
        shutil.rmtree(self.directory, ignore_errors=True)
