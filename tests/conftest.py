"""Real servers for the tests of every part: SeaweedFS and `nst serve`, on free loopback ports.

Fixtures (session-scoped; every process they start is stopped at teardown, also when a test fails):

- `s3_server`: a running SeaweedFS (`weed mini`) in a temporary directory. It is a
  `devstack.seaweedfs.SeaweedFS` with `endpoint`, `access_key`, `secret_key`, `bucket`, `region`, and
  `stop()` / `kill()` / `start()`. Do not stop the shared one: a test that needs an outage starts
  its own with `start_s3_server()`.
- `start_s3_server()`: a factory for more SeaweedFS instances (own directory, own ports).
- `s3`: a boto3 client for `s3_server`; `s3_client_for(server)` makes one for another SeaweedFS.
- `service_server`: a real `nst serve` (`python -m service.cli serve`) with
  NST_WEIGHTS=offline, NST_BACKBONE=vgg16, NST_DEFAULT_SIZE=64 and small limits (SERVICE_LIMITS),
  storing into `s3_server`, ready (/readyz 200) before the first test uses it. A `ServiceServer`
  with `http_url`, `ws_url`, `env`, `process`, `log_path` and `log()`.
- `start_service(s3=None, **env)`: a factory for more servers with other settings, e.g.
  `start_service(NST_API_KEY="k", NST_MAX_QUEUE="1")`; `s3` picks the SeaweedFS (default
  `s3_server`); `wait_ready=False` returns as soon as /healthz answers.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

from devstack.processes import LocalService, free_ports, stop_process, wait_for_http
from devstack.seaweedfs import SeaweedFS

ROOT = Path(__file__).resolve().parents[1]

SERVICE_LIMITS = {
    "NST_BACKBONE": "vgg16",
    "NST_WEIGHTS": "offline",
    "NST_DEFAULT_SIZE": "64",
    "NST_MAX_SIZE": "256",
    "NST_MAX_EPOCHS": "60",
    "NST_MAX_STEPS_PER_EPOCH": "20",
    "NST_MAX_UPLOAD_MB": "2",
    "NST_MAX_PIXELS": "2000000",
    "NST_SHUTDOWN_GRACE_S": "2",
    "NST_S3_BACKOFF_S": "0.1",
    "NST_S3_TIMEOUT_S": "3",
    "CUDA_VISIBLE_DEVICES": "",
}
READY_TIMEOUT_S = 240


@dataclass
class ServiceServer(LocalService):
    port: int
    env: dict[str, str]
    process: subprocess.Popen
    log_path: Path
    storage: SeaweedFS

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, timeout_s: float = 30.0) -> int | None:
        return stop_process(self.process, timeout_s)


def s3_client(server: SeaweedFS):
    return boto3.client(
        "s3", endpoint_url=server.endpoint, region_name=server.region,
        aws_access_key_id=server.access_key, aws_secret_access_key=server.secret_key,
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"},
                      retries={"max_attempts": 2}),
    )


@pytest.fixture(scope="session")
def start_s3_server(tmp_path_factory) -> Iterator[Callable[..., SeaweedFS]]:
    started: list[SeaweedFS] = []

    def start(bucket: str = "nst-test-results") -> SeaweedFS:
        (port,) = free_ports(1)
        server = SeaweedFS(directory=tmp_path_factory.mktemp("seaweedfs"), s3_port=port,
                           bucket=bucket, access_key="nst-test", secret_key="nst-test-secret")
        started.append(server)
        return server.start()

    yield start
    for server in started:
        server.kill()


@pytest.fixture(scope="session")
def s3_server(start_s3_server) -> SeaweedFS:
    return start_s3_server()


@pytest.fixture(scope="session")
def s3(s3_server):
    return s3_client(s3_server)


@pytest.fixture(scope="session")
def s3_client_for() -> Callable[[SeaweedFS], object]:
    return s3_client


@pytest.fixture(scope="session")
def start_service(tmp_path_factory, s3_server) -> Iterator[Callable[..., ServiceServer]]:
    started: list[ServiceServer] = []

    def start(s3: SeaweedFS | None = None, wait_ready: bool = True,
              **overrides: str) -> ServiceServer:
        storage = s3 or s3_server
        (port,) = free_ports(1)
        inherited = {k: v for k, v in os.environ.items()
                     if not k.startswith(("NST_", "AWS_")) and k != "PORT"}
        env = {
            **inherited, **SERVICE_LIMITS, **storage.service_env(), "PORT": str(port),
            "NST_HOST": "127.0.0.1", **overrides,
        }
        log_path = tmp_path_factory.mktemp("service") / "service.log"
        with open(log_path, "wb") as log:
            process = subprocess.Popen([sys.executable, "-m", "service.cli", "serve"], cwd=ROOT,
                                       env=env, stdout=log, stderr=subprocess.STDOUT,
                                       stdin=subprocess.DEVNULL)
        server = ServiceServer(port, env, process, log_path, storage)
        started.append(server)
        route = "/readyz" if wait_ready else "/healthz"
        try:
            wait_for_http(server.http_url + route, process, READY_TIMEOUT_S, "the service")
        except RuntimeError as error:
            server.process.kill()
            raise RuntimeError(f"{error}\n--- service log ---\n{server.log()[-3000:]}") from None
        return server

    yield start
    for server in started:
        if server.process.poll() is None:
            server.process.kill()
            server.process.wait(30)


@pytest.fixture(scope="session")
def service_server(start_service) -> ServiceServer:
    return start_service()
