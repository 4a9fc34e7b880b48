"""The image's CMD as a real process here, for the tests that check what the image expects of it."""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

from infra_files import VENV_BIN
from devstack.processes import free_ports, stop_process, wait_for_http
from devstack.seaweedfs import SeaweedFS

# What cannot be as in the image here: no ImageNet download (the offline VGG16 instead), loopback
# only, a tiny warm-up on two shared CPU cores.
LOCAL_OVERRIDES = {
    "NST_HOST": "127.0.0.1",
    "NST_WEIGHTS": "offline",
    "NST_BACKBONE": "vgg16",
    "NST_DEFAULT_SIZE": "32",
    "NST_SHUTDOWN_GRACE_S": "2",
    "CUDA_VISIBLE_DEVICES": "",
}


@contextlib.contextmanager
def running_image_command(command: list[str], image_env: dict[str, str], storage: SeaweedFS,
                          workdir: Path, timeout_s: float = 240) -> Iterator[tuple[subprocess.Popen, int]]:
    """`command` (the image's CMD, run from this venv) with the image's environment, storing into
    `storage`; yields (process, port) once /readyz answers 200."""
    (port,) = free_ports(1)
    inherited = {k: v for k, v in os.environ.items() if not k.startswith(("NST_", "AWS_"))}
    env = {
        **inherited, **image_env, **LOCAL_OVERRIDES, "PORT": str(port),
        "PATH": f"{VENV_BIN}:{os.environ['PATH']}",
        "KERAS_HOME": str(workdir / "keras"), **storage.service_env(),
    }
    log_path = workdir / "service.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen([str(VENV_BIN / command[0]), *command[1:]], env=env, cwd=workdir,
                                   stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        try:
            wait_for_http(f"http://127.0.0.1:{port}/readyz", process, timeout_s, "the image's CMD")
        except RuntimeError as error:
            raise RuntimeError(f"{error}\n--- log ---\n{log_path.read_text()[-3000:]}") from None
        yield process, port
    finally:
        stop_process(process, 30)
