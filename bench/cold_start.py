"""Cold start: from spawning a process to its first useful answer.

- `nst stylize` at 256 px, as a user types it (default model and job, only the size set): from
  spawning the process to the first frame's file appearing in `--frames-dir`. Python start-up,
  importing TensorFlow, loading the weights, tracing and the first epoch are all inside.
- `nst serve`: from spawning the process to the first `/readyz` 200 (timed by `LiveService`).
"""

from __future__ import annotations

import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from devstack.processes import stop_process

from .live_service import nst_command

TIMEOUT_S = 900
POLL_S = 0.02


@dataclass(frozen=True)
class ColdStart:
    size: int
    steps_per_epoch: int  # in the first epoch, before the first frame
    first_frame_s: float | None  # None: nst stylize failed (the failure is listed)
    ready_s: float  # nst serve to /readyz OK


def first_frame_seconds(content: Path, style: Path, size: int,
                        steps_per_epoch: int | None) -> float:
    """Spawn `nst stylize`, wait for its first frame on disk, stop it."""
    with tempfile.TemporaryDirectory(prefix="nst-bench-cold-") as directory:
        frames = Path(directory) / "frames"
        arguments = ["stylize", str(content), str(style), "--size", str(size),
                     "--frames-dir", str(frames), "-o", str(Path(directory) / "out.png")]
        if steps_per_epoch is not None:
            arguments += ["--steps-per-epoch", str(steps_per_epoch)]
        log_path = Path(directory) / "stderr.log"
        with open(log_path, "wb") as log:
            started = time.perf_counter()
            process = subprocess.Popen(nst_command(*arguments), stdout=subprocess.DEVNULL,
                                       stderr=log, stdin=subprocess.DEVNULL)
        try:
            while time.perf_counter() - started < TIMEOUT_S:
                if (frames / "frame-001.png").exists():
                    return time.perf_counter() - started
                if process.poll() is not None:
                    error = log_path.read_text(errors="replace")[-2000:]
                    raise RuntimeError(f"nst stylize exited with {process.returncode}: {error}")
                time.sleep(POLL_S)
            raise TimeoutError(f"nst stylize showed no frame in {TIMEOUT_S} s")
        finally:
            stop_process(process, 10)
