"""Memory: the service's resident set while it runs a 512 px job.

Read from /proc (Linux) over the service's process and its children (the engine runs in one,
service/engine_process.py): VmRSS summed and sampled during the job, and the sum of VmHWM, each
process's high-water mark, after it (at least the true peak of the whole). The service has done
nothing but start, warm up and run this job.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path

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
    before = tree_mib(pid, "VmRSS")
    peak = before
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.wait(SAMPLE_EVERY_S):
            peak = max(peak, tree_mib(pid, "VmRSS"))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        run_service_job(url, *files, params)
    finally:
        done.set()
        sampler.join()
    return Memory(params.size, before, peak, tree_mib(pid, "VmHWM"))


def status_mib(pid: int, field: str) -> float:
    """A `kB` line of /proc/PID/status, in MiB."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"/proc/{pid}/status has no {field}")


def tree_mib(pid: int, field: str = "VmRSS") -> float:
    """`field` summed over the process and its descendants, in MiB."""
    total = 0.0
    for member in [pid, *descendants(pid)]:
        try:
            total += status_mib(member, field)
        except (OSError, RuntimeError):  # exited meanwhile (a zombie has no VmRSS)
            pass
    return total


def descendants(pid: int) -> list[int]:
    children = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children += [int(child) for child in (task / "children").read_text().split()]
        except OSError:
            pass
    return [grand for child in children for grand in (child, *descendants(child))]


def engine_processes(pid: int) -> int:
    """How many engine processes the service has: two while one replaces another."""
    count = 0
    for child in descendants(pid):
        try:
            count += b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes()
        except OSError:
            pass
    return count


def settled_tree_mib(pid: int, timeout_s: float = 120.0) -> float:
    """The tree's VmRSS once no engine replacement is under way (one engine process)."""
    deadline = time.monotonic() + timeout_s
    while engine_processes(pid) != 1:
        if time.monotonic() > deadline:
            raise RuntimeError(f"the service's engine did not settle within {timeout_s:.0f} s")
        time.sleep(0.2)
    return tree_mib(pid)
