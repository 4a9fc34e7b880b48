"""Helpers for the service tests: small real pictures, raw protocol sockets, HTTP.

Every message a helper receives is validated against service.protocol, so each test also checks
that the server speaks the protocol it documents.
"""

from __future__ import annotations

import base64
import io
import json
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from PIL import Image
from websockets.sync.client import ClientConnection, connect

from service import job_client, protocol

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT.parent / "shared" / "samples"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
API_KEY = "test-api-key-7f3a"  # of the `strict_server` fixture
ALLOWED_ORIGIN = "http://allowed.test:8050"


def sample(name: str, longest: int, kind: str = "JPEG") -> bytes:
    """A sample picture from ../shared/samples (scikit-image's if shared/ is absent), shrunk."""
    if (SAMPLES / name).is_file():
        picture = Image.open(SAMPLES / name).convert("RGB")
    else:
        from skimage import data

        fallback = {"tubingen.jpg": "astronaut", "starry_night.jpg": "coffee"}.get(name, "chelsea")
        picture = Image.fromarray(getattr(data, fallback)())
    picture.thumbnail((longest, longest))
    buffer = io.BytesIO()
    picture.save(buffer, kind, **({"quality": 90} if kind == "JPEG" else {}))
    return buffer.getvalue()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def start(content: bytes, style: bytes, **fields) -> str:
    return json.dumps({"type": "start", "content": b64(content), "style": b64(style), **fields})


def open_socket(url: str, **options) -> ClientConnection:
    return connect(url, max_size=None, open_timeout=15, **options)


def receive(socket: ClientConnection, timeout_s: float = 60.0) -> dict:
    raw = socket.recv(timeout=timeout_s)
    protocol.server_message.validate_json(raw)
    return json.loads(raw)


def receive_until(socket: ClientConnection, types: tuple[str, ...] = ("done", "error"),
                  timeout_s: float = 120.0) -> list[dict]:
    """Messages up to and including the first whose type is in `types`."""
    deadline = time.monotonic() + timeout_s
    messages: list[dict] = []
    while True:
        messages.append(receive(socket, max(0.1, deadline - time.monotonic())))
        if messages[-1]["type"] in types:
            return messages


def run_job(url: str, content: bytes, style: bytes, timeout_s: float = 120.0,
            **fields) -> list[dict]:
    """One job through the service's own client (service.job_client): every message, as JSON,
    through `done` or `error`."""
    messages: list[dict] = []
    job_client.run_job(url, protocol.Start(type="start", content=b64(content), style=b64(style),
                                           **fields),
                       lambda message: messages.append(message.model_dump(mode="json")),
                       timeout_s=timeout_s)
    return messages


def is_cancelled(ending: dict) -> bool:
    """How a job ends after `cancel`: `done` with the image it reached, or, when no step had run,
    error `cancelled`."""
    return (ending["type"] == "done" and ending["status"] == "cancelled") or \
        ending.get("code") == "cancelled"


def attach(socket: ClientConnection, accepted: dict) -> None:
    socket.send(json.dumps({"type": "attach", "job_id": accepted["job_id"],
                            "resume_token": accepted["resume_token"]}))


def decode_data_uri(uri: str) -> tuple[str, bytes]:
    header, payload = uri.split(",", 1)
    return header, base64.b64decode(payload)


def image_size(data: bytes) -> tuple[int, int]:
    return Image.open(io.BytesIO(data)).size


def http_get(url: str, headers: dict[str, str] | None = None, timeout_s: float = 10.0,
             method: str = "GET"):
    """(status, headers, body) of a request, also for 4xx/5xx answers."""
    request = urllib.request.Request(url, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def get_json(url: str, **options) -> tuple[int, dict]:
    status, _, body = http_get(url, **options)
    return status, json.loads(body)


def wait_until(condition: Callable[[], bool], timeout_s: float, interval_s: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval_s)
    return condition()


class TcpRelay:
    """A TCP relay to a local port whose connections a test can cut, as a lost network would."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.connections: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            self.connections += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=_pipe, args=(source, sink), daemon=True).start()

    def cut(self) -> None:
        for connection in self.connections:
            _shut(connection)
        self.connections.clear()

    def close(self) -> None:
        self.listener.close()
        self.cut()


def _pipe(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        _shut(sink)


def _shut(connection: socket.socket) -> None:
    try:
        connection.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
