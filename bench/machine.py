"""The machine and software a benchmark ran on, as the report prints them."""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass
from importlib import metadata

import tensorflow as tf

PACKAGES = ("tensorflow", "keras", "numpy")


@dataclass(frozen=True)
class Machine:
    cpu: str
    cores: int
    ram_gib: float
    gpus: tuple[str, ...]
    versions: dict[str, str]

    @property
    def device(self) -> str:
        return ", ".join(self.gpus) if self.gpus else f"CPU ({self.cores} cores)"


def describe_machine() -> Machine:
    gpus = tuple(
        tf.config.experimental.get_device_details(gpu).get("device_name", gpu.name)
        for gpu in tf.config.list_physical_devices("GPU")
    )
    versions = {"python": platform.python_version()}
    versions.update({name: metadata.version(name) for name in PACKAGES})
    return Machine(_cpu_model(), os.cpu_count() or 0, _ram_gib(), gpus, versions)


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _ram_gib() -> float:
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) / 1024**2
    except OSError:
        pass
    return float("nan")
