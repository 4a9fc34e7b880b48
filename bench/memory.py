"""Memory: the service's resident set while it runs a 512 px job.

Read from /proc (Linux): VmRSS sampled during the job, and VmHWM, the kernel's high-water mark of
the process, after it. The service has done nothing but start, warm up and run this job.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from service.engine import StyleParams

from .streaming import run_service_job

SAMPLE_EVERY_S = 0.05


@dataclass(frozen=True)
class Memory:
    size: int
    before_mib: float  # resident before the job
    peak_during_mib: float  # the largest VmRSS sampled during the job
    high_water_mib: float  # VmHWM after the job: the true peak since the process started


def measure_memory(url: str, pid: int, files: tuple[bytes, bytes], params: StyleParams) -> Memory:
    before = _status_mib(pid, "VmRSS")
    peak = before
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.wait(SAMPLE_EVERY_S):
            peak = max(peak, _status_mib(pid, "VmRSS"))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        run_service_job(url, *files, params)
    finally:
        done.set()
        sampler.join()
    return Memory(params.size, before, peak, _status_mib(pid, "VmHWM"))


def _status_mib(pid: int, field: str) -> float:
    """A `kB` line of /proc/PID/status, in MiB."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"/proc/{pid}/status has no {field}")
