"""Child processes on loopback: free ports, one readiness poller, and a polite stop."""

from __future__ import annotations

import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request


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


def wait_for_http(url: str, process: subprocess.Popen, timeout_s: float, what: str, *,
                  any_status: bool = False, interval_s: float = 0.2) -> bytes:
    """Poll `url` until it answers 200 (or anything, with `any_status`); returns the body.

    Fails early if `process` exits, and with a RuntimeError naming `what` after `timeout_s`.
    """
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode} before it was ready")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200 or any_status:
                    return response.read()
        except urllib.error.HTTPError as error:
            if any_status:
                return error.read()
        except OSError:
            pass
        time.sleep(interval_s)
    raise RuntimeError(f"{what} was not ready at {url} after {timeout_s:.0f} s")


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


class LocalService:
    """The addresses of an `nst serve` listening on 127.0.0.1:`port` (a subclass sets `port`)."""

    port: int

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws/stylize"
