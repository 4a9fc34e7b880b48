"""`nst client`, run as a user runs it, against the real service."""

from __future__ import annotations

import signal
import subprocess
import sys
from contextlib import contextmanager

from ws_jobs import PNG_MAGIC, ROOT, TcpRelay, b64, get_json, http_get, image_size, wait_until

from devstack.processes import free_ports
from service import job_client, protocol


def _nst_client(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "service.cli", "client", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=180, env=env)


def test_the_client_runs_a_job_saves_the_png_and_prints_the_url(service_server, pictures,
                                                                 tmp_path):
    (tmp_path / "photo.jpg").write_bytes(pictures.content)
    (tmp_path / "painting.png").write_bytes(pictures.style)
    output = tmp_path / "out" / "result.png"

    run = _nst_client(str(tmp_path / "photo.jpg"), str(tmp_path / "painting.png"),
                      "--url", service_server.ws_url, "--epochs", "2", "--steps-per-epoch", "2",
                      "--size", "80", "-o", str(output))

    assert run.returncode == 0, run.stderr
    png = output.read_bytes()
    assert png.startswith(PNG_MAGIC) and image_size(png) == (80, 60)
    url = next(line for line in run.stdout.splitlines() if line.startswith("result URL"))
    assert http_get(url.split(": ", 1)[1])[2] == png  # the printed URL serves the same image
    assert "epoch 2/2" in run.stderr  # the progress bar


def test_the_client_says_what_the_server_refused(service_server, pictures, tmp_path):
    (tmp_path / "photo.jpg").write_bytes(pictures.content)
    run = _nst_client(str(tmp_path / "photo.jpg"), str(tmp_path / "photo.jpg"),
                      "--url", service_server.ws_url, "--size", "4000",
                      "-o", str(tmp_path / "out.png"))
    assert run.returncode == 2
    assert "bad_request" in run.stderr and "NST_MAX_SIZE" in run.stderr
    assert not (tmp_path / "out.png").exists()


def test_the_client_explains_an_unreachable_service_and_a_missing_file(tmp_path, pictures):
    (tmp_path / "photo.jpg").write_bytes(pictures.content)
    (port,) = free_ports(1)
    run = _nst_client(str(tmp_path / "photo.jpg"), str(tmp_path / "photo.jpg"),
                      "--url", f"ws://127.0.0.1:{port}/ws/stylize")
    assert run.returncode == 2 and f"cannot reach the service at ws://127.0.0.1:{port}" in run.stderr
    assert "make run" in run.stderr

    run = _nst_client(str(tmp_path / "missing.jpg"), str(tmp_path / "photo.jpg"))
    assert run.returncode == 2 and "cannot read" in run.stderr and "Traceback" not in run.stderr

    run = _nst_client(str(tmp_path / "photo.jpg"), str(tmp_path / "photo.jpg"), "--epochs", "0")
    assert run.returncode == 2
    assert run.stderr.strip() == "nst: error: epochs must be at least 1, got 0"


def test_the_client_explains_a_wrong_url(service_server, pictures, tmp_path):
    (tmp_path / "photo.jpg").write_bytes(pictures.content)
    run = _nst_client(str(tmp_path / "photo.jpg"), str(tmp_path / "photo.jpg"),
                      "--url", service_server.ws_url.replace("/ws/stylize", "/ws/stylise"))
    assert run.returncode == 2 and "is that the service's /ws/stylize address?" in run.stderr


def test_the_client_shows_why_the_handshake_was_refused(strict_server, pictures, tmp_path):
    (tmp_path / "photo.jpg").write_bytes(pictures.content)
    run = _nst_client(str(tmp_path / "photo.jpg"), str(tmp_path / "photo.jpg"),
                      "--url", strict_server.ws_url, "--token", "wrong")
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert "refused the connection (HTTP 403, unauthorized)" in run.stderr


def test_ctrl_c_cancels_the_job_on_the_server(service_server, pictures, tmp_path):
    (tmp_path / "photo.jpg").write_bytes(pictures.content)
    with _ctrl_c_reaches_children():
        client = subprocess.Popen(
            [sys.executable, "-m", "service.cli", "client", str(tmp_path / "photo.jpg"),
             str(tmp_path / "photo.jpg"), "--url", service_server.ws_url, "--epochs", "60",
             "--steps-per-epoch", "20", "--size", "64", "-o", str(tmp_path / "out.png")],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert wait_until(lambda: _running(service_server) == 1, 60)
        client.send_signal(signal.SIGINT)
        _, stderr = client.communicate(timeout=30)
    finally:
        if client.poll() is None:
            client.kill()
    assert client.returncode == 130 and "cancelled" in stderr
    assert wait_until(lambda: _running(service_server) == 0, 5)
    assert not (tmp_path / "out.png").exists()


@contextmanager
def _ctrl_c_reaches_children():
    """Start children as a terminal starts them, with SIGINT's default action. When the tests
    run in a shell's background job SIGINT is ignored, and an ignored signal stays ignored in
    every child; a handled one is reset to the default on exec."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _running(server) -> int:
    return get_json(f"{server.http_url}/readyz")[1]["running"]


def test_a_dropped_connection_reattaches_and_the_job_goes_on(service_server, pictures):
    relay = TcpRelay(service_server.port)
    messages: list[object] = []

    def on_message(message: object) -> None:
        messages.append(message)
        if isinstance(message, protocol.FrameMessage) and message.epoch == 1:
            relay.cut()  # the network drops under the client

    try:
        last = job_client.run_job(
            f"ws://127.0.0.1:{relay.port}/ws/stylize",
            protocol.Start(type="start", content=b64(pictures.content),
                           style=b64(pictures.style), epochs=10, steps_per_epoch=5, size=64),
            on_message, timeout_s=120)
    finally:
        relay.close()
    assert isinstance(last, protocol.Done) and last.status == "finished"
    assert [type(message).__name__ for message in messages].count("Accepted") == 1
    frames = [message for message in messages if isinstance(message, protocol.FrameMessage)]
    assert frames[0].epoch == 1 and frames[-1].epoch == 10
    assert f"event=job_attached job_id={last.job_id}" in service_server.log()
