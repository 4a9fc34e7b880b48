"""Memory bounded by the settings, not by what clients send, and answers that never wait on it.

Against a real `nst serve` with the production image limits (40 million pixels, 16 MB uploads),
eight waiting jobs of two 5000 x 5000 PNGs each, a 4,000-message flood, a 40 MB message and a
client over NST_MAX_JOBS_PER_CLIENT. Timings are asserted ten times looser than the targets
(docs/benchmarks.md has the measured figures), /healthz's against the platforms' probe timeout.
"""

from __future__ import annotations

import io
import json
import socket
import statistics
import threading
import time
from contextlib import ExitStack
from urllib.parse import urlsplit

import pytest
from PIL import Image
from bench.abuse import BIG_MESSAGE_ROUNDS, slowest_healthz_during_big_message
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect
from ws_jobs import get_json, http_get, open_socket, receive, receive_until, start, wait_until

LONG = {"epochs": 60, "steps_per_epoch": 200, "size": 64}
PER_CLIENT = 2


@pytest.fixture(scope="module")
def roomy_server(start_service):
    """The default limits of a production server, and two jobs per client."""
    return start_service(NST_MAX_PIXELS="40000000", NST_MAX_UPLOAD_MB="16", NST_MAX_QUEUE="8",
                         NST_MAX_STEPS_PER_EPOCH="200",
                         NST_MAX_JOBS_PER_CLIENT=str(PER_CLIENT))


@pytest.fixture(scope="module")
def huge_png() -> bytes:
    """5000 x 5000 px in about 80 KB: within NST_MAX_PIXELS, 75 MB once decoded at full size."""
    buffer = io.BytesIO()
    Image.new("RGB", (5000, 5000), (40, 90, 160)).save(buffer, "PNG")
    return buffer.getvalue()


def socket_from(url: str, address: str) -> ClientConnection:
    """A socket whose client address is `address` (any 127.x.y.z is this machine)."""
    parts = urlsplit(url)
    raw = socket.create_connection((parts.hostname, parts.port), timeout=15,
                                   source_address=(address, 0))
    return connect(url, sock=raw, max_size=None, open_timeout=15)  # a context manager


def rss_mb(server) -> float:
    with open(f"/proc/{server.process.pid}/status") as status:
        line = next(line for line in status if line.startswith("VmRSS:"))
    return int(line.split()[1]) / 1024


def cancel_jobs(clients: list[ClientConnection]) -> None:
    """Cancel each client's job (a job outlives its socket) and read to its last message."""
    for client in clients:
        client.send(json.dumps({"type": "cancel"}))
    for client in clients:
        receive_until(client, ("done", "error"), timeout_s=60)


def idle(server) -> bool:
    status = get_json(f"{server.http_url}/readyz")[1]
    return status["queued"] == 0 and status["running"] == 0


class PeakRss:
    """The server's largest RSS while the block runs, sampled every 10 ms."""

    def __init__(self, server) -> None:
        self.server = server
        self.peak = 0.0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._done.is_set():
            self.peak = max(self.peak, rss_mb(self.server))
            time.sleep(0.01)

    def __enter__(self) -> "PeakRss":
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._done.set()
        self._thread.join()
        self.peak = max(self.peak, rss_mb(self.server))


def test_eight_waiting_jobs_of_huge_pngs_add_little_memory_and_busy_answers_at_once(
        roomy_server, huge_png, pictures):
    with ExitStack() as sockets:
        running = sockets.enter_context(socket_from(roomy_server.ws_url, "127.0.0.1"))
        clients = [running]
        running.send(start(pictures.content, pictures.style, **LONG))
        assert receive(running)["position"] == 0
        assert receive(running)["type"] == "frame"  # running, warmed at this size
        before = rss_mb(roomy_server)
        with PeakRss(roomy_server) as peak:
            for index in range(8):  # two per address: NST_MAX_JOBS_PER_CLIENT
                address = f"127.0.0.{2 + index // PER_CLIENT}"
                client = sockets.enter_context(socket_from(roomy_server.ws_url, address))
                clients.append(client)
                client.send(start(huge_png, huge_png, size=64))
                accepted = receive(client, timeout_s=60)
                assert accepted["type"] == "accepted" and accepted["position"] == index + 1
                assert accepted["output_size"] == {"width": 64, "height": 64}
        after = rss_mb(roomy_server)

        # The queue is full: the answer comes before any decoding.
        late = sockets.enter_context(socket_from(roomy_server.ws_url, "127.0.0.9"))
        began = time.monotonic()
        late.send(start(huge_png, huge_png, size=64))
        busy = receive(late, timeout_s=10)
        busy_s = time.monotonic() - began
        cancel_jobs(clients)

    assert busy["code"] == "busy" and "queue is full" in busy["message"]
    assert busy_s < 0.5, f"busy took {busy_s:.3f} s"
    # Before: 1.87 GB to 4.04 GB. Now each waiting job holds its images at 64 x 64.
    assert after - before < 300, f"RSS {before:.0f} -> {after:.0f} MB"
    assert peak.peak - before < 300, f"RSS peaked at {peak.peak:.0f} MB from {before:.0f} MB"
    assert wait_until(lambda: idle(roomy_server), 30)


def test_a_client_holds_at_most_max_jobs_per_client(roomy_server, pictures):
    with ExitStack() as sockets:
        clients = [sockets.enter_context(socket_from(roomy_server.ws_url, "127.0.0.20"))
                   for _ in range(PER_CLIENT + 1)]
        for client in clients[:PER_CLIENT]:
            client.send(start(pictures.content, pictures.style, **LONG))
            assert receive(client)["type"] == "accepted"
        clients[-1].send(start(pictures.content, pictures.style, **LONG))
        refused = receive(clients[-1])
        someone_else = sockets.enter_context(socket_from(roomy_server.ws_url, "127.0.0.21"))
        someone_else.send(start(pictures.content, pictures.style, **LONG))
        assert receive(someone_else)["type"] == "accepted"  # the queue itself has room
        cancel_jobs([*clients[:PER_CLIENT], someone_else])

    assert refused["code"] == "busy" and "NST_MAX_JOBS_PER_CLIENT" in refused["message"]
    assert wait_until(lambda: idle(roomy_server), 30)


def _flood(url: str, messages: int, size: int) -> int | None:
    """Send `messages` unknown-type messages of `size` bytes without reading; the close code."""
    flood = json.dumps({"type": "x" * size})
    with open_socket(url, max_queue=4) as client:
        try:
            for _ in range(messages):
                client.send(flood)
        except ConnectionClosed:
            pass
        try:
            while True:
                client.recv(timeout=10)
        except (ConnectionClosed, TimeoutError):
            pass
        return client.close_code if client.close_code is not None else None


def test_a_flood_of_big_unknown_messages_is_closed_with_1008_and_costs_nothing(roomy_server):
    before = rss_mb(roomy_server)
    with PeakRss(roomy_server) as peak:
        close_code = _flood(roomy_server.ws_url, 4000, 50_000)
    assert close_code == 1008
    assert peak.peak - before < 20, f"RSS {before:.0f} -> peak {peak.peak:.0f} MB"
    assert "event=socket_flooding" in roomy_server.log()


def test_without_a_rate_limit_a_flood_gets_short_bounded_errors(start_service):
    server = start_service(NST_MAX_MESSAGES_PER_S="1000000")
    with open_socket(server.ws_url) as probe:  # one error, to see its size
        probe.send(json.dumps({"type": "x" * 50_000}))
        error = receive(probe)
    assert error["code"] == "bad_request" and len(error["message"]) < 120

    before = rss_mb(server)
    with PeakRss(server) as peak:
        close_code = _flood(server.ws_url, 4000, 50_000)
    assert close_code in (None, 1000, 1006)  # the server kept answering, no crash
    # Before: +195 MB in 1.6 s (each error echoed 50 KB, and errors were never dropped).
    assert peak.peak - before < 20, f"RSS {before:.0f} -> peak {peak.peak:.0f} MB"
    assert http_get(f"{server.http_url}/healthz")[0] == 200


def test_healthz_answers_while_40_mb_messages_are_parsed(roomy_server):
    assert wait_until(lambda: idle(roomy_server), 30)
    slowest = [slowest_healthz_during_big_message(roomy_server.ws_url, roomy_server.http_url)
               for _ in range(BIG_MESSAGE_ROUNDS)]
    # The median of the messages, as the bench reports it, under the 1 s after which Kubernetes'
    # and Cloud Run's probes give up. Not the 50 ms target ten times over: uvicorn's own framing
    # of a 40 MB message holds the loop for about 0.1 s here (docs/benchmarks.md), and on this
    # VM, loaded, that has stretched to 0.7-1.5 s for a message (0.85 s in CI, 0.77-1.5 s in one
    # full run), where parsing or decoding on the loop would add seconds.
    assert statistics.median(slowest) < 1.0, f"slowest /healthz per message: {slowest}"
