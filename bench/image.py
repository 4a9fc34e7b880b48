"""The CPU image (Dockerfile.gpu on Debian bookworm, offline weights): its size, and `nst serve`
inside it from process start to the first `/readyz` 200, beside the same figure outside it.

Builds the image first (devstack/cpu_image.py: root, podman and debootstrap; cached steps are
reused), so the figures are the current Dockerfile's and code's.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from devstack import cpu_image
from devstack.processes import free_ports
from devstack.seaweedfs import SeaweedFS


@dataclass(frozen=True)
class ImageFigures:
    size_bytes: int
    ready_s: float


def measure_image(service_env: dict[str, str]) -> ImageFigures:
    cpu_image.ensure_base()
    cpu_image.build()
    config = cpu_image.inspect()
    with tempfile.TemporaryDirectory(prefix="nst-bench-image-") as directory:
        (s3_port,) = free_ports(1)
        storage = SeaweedFS(directory=Path(directory) / "seaweedfs", s3_port=s3_port).start()
        env = {**service_env, **storage.service_env(), "CUDA_VISIBLE_DEVICES": ""}
        try:
            with cpu_image.mounted(config.image_id) as root, cpu_image.serving(
                    root, config, env, Path(directory) / "service.log") as served:
                return ImageFigures(config.size_bytes, served.ready_s)
        finally:
            storage.stop()


def describe(figures: ImageFigures) -> str:
    return (f"CPU image (`Dockerfile.gpu` on Debian bookworm, offline weights): "
            f"{figures.size_bytes / 1e9:.2f} GB; `nst serve` inside it, process start to "
            f"`/readyz` 200: {figures.ready_s:.1f} s (outside it: the Cold start: ready row).")
