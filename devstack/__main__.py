"""`make run` (`python -m devstack`): storage, service and web app on localhost, until Ctrl+C.

Ports come from S3_PORT (8333), SERVICE_PORT (8000) and WEB_PORT (8050); SeaweedFS keeps its data
under .data/seaweedfs (NST_DATA_DIR moves .data), and its internal ports are picked free at each
start. S3 credentials are AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY if set, else a local
development pair. The tests and the benchmark start SeaweedFS with the same `SeaweedFS` class.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from .processes import port_is_free, stop_process, wait_for_http
from .seaweedfs import LOCAL_ACCESS_KEY, LOCAL_SECRET_KEY, SeaweedFS

ROOT = Path(__file__).resolve().parent.parent


Child = tuple[str, subprocess.Popen, float]  # name, process, seconds it gets to stop


def main() -> int:
    ports = {name: int(os.environ.get(name, default)) for name, default in
             (("S3_PORT", "8333"), ("SERVICE_PORT", "8000"), ("WEB_PORT", "8050"))}
    busy = [f"{name}={port}" for name, port in ports.items() if not port_is_free(port)]
    if busy:
        print(f"nst stack: port(s) in use: {', '.join(busy)}; set other ports, e.g. "
              "SERVICE_PORT=8100 make run", file=sys.stderr)
        return 1
    data = Path(os.environ.get("NST_DATA_DIR", ROOT / ".data"))
    storage = SeaweedFS(
        directory=data / "seaweedfs", s3_port=ports["S3_PORT"],
        access_key=os.environ.get("AWS_ACCESS_KEY_ID", LOCAL_ACCESS_KEY),
        secret_key=os.environ.get("AWS_SECRET_ACCESS_KEY", LOCAL_SECRET_KEY),
        bucket=os.environ.get("NST_S3_BUCKET", "nst-results"),
    )
    children: list[Child] = []
    stopping = False
    _stop_on_signals()
    try:
        _start(storage, ports["SERVICE_PORT"], ports["WEB_PORT"], children)
        return _watch(children)
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


def _stop_on_signals() -> None:
    def on_signal(sig: int, frame) -> None:  # noqa: ANN001
        raise KeyboardInterrupt

    # Explicitly for SIGINT too: a shell starts background jobs with SIGINT ignored.
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)


def _start(storage: SeaweedFS, service_port: int, web_port: int, children: list[Child]) -> None:
    """SeaweedFS, then the service (until ready), then the web app; each joins `children`."""
    web_origins = f"http://127.0.0.1:{web_port},http://localhost:{web_port}"
    service_env = {
        **os.environ, **storage.service_env(), "PORT": str(service_port), "NST_HOST": "127.0.0.1",
        "NST_ALLOWED_ORIGINS": os.environ.get("NST_ALLOWED_ORIGINS", web_origins),
    }
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
    web_env = {**service_env, "WEB_PORT": str(web_port),
               "NST_SERVICE_URL": f"ws://127.0.0.1:{service_port}/ws/stylize"}
    web = subprocess.Popen([sys.executable, "-m", "web.app"], cwd=ROOT, env=web_env,
                           start_new_session=True)
    children.append(("web app", web, 15.0))
    wait_for_http(f"http://127.0.0.1:{web_port}/", web, 120, "the web app")
    print(
        f"\nnst stack is up (service ready in {ready_s:.0f} s):\n"
        f"  web app     http://127.0.0.1:{web_port}/\n"
        f"  service     ws://127.0.0.1:{service_port}/ws/stylize   "
        f"(health: http://127.0.0.1:{service_port}/readyz)\n"
        f"  results     http://127.0.0.1:{service_port}/v1/results\n"
        f"  S3          {storage.endpoint}  bucket {storage.bucket}  key {storage.access_key}\n"
        f"Try: .venv/bin/nst client CONTENT.jpg STYLE.jpg --url "
        f"ws://127.0.0.1:{service_port}/ws/stylize --epochs 5 --steps-per-epoch 20 --size 256 "
        "-o out.png\nCtrl+C stops everything.\n", flush=True)


def _watch(children: list[Child]) -> int:
    """Until a child exits (1) or Ctrl+C / SIGTERM (KeyboardInterrupt)."""
    while True:
        for name, process, _ in children:
            if process.poll() is not None:
                print(f"nst stack: {name} exited with {process.returncode}; stopping the rest",
                      file=sys.stderr, flush=True)
                return 1
        time.sleep(1)


def _stop_all(children: list[Child]) -> None:
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
