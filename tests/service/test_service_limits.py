"""NST_IDLE_TIMEOUT_S and NST_MAX_CONNECTIONS: idle sockets are closed, a socket with a job is not,
and sockets beyond the cap are refused at the handshake."""

from __future__ import annotations

import contextlib
import json
import time

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from ws_jobs import get_json, http_get, open_socket, receive, receive_until, start, wait_until

IDLE_TIMEOUT_S = 2.0
MAX_CONNECTIONS = 3
# About 6 s of painting on this machine: three idle timeouts without a message from the client.
QUIET_JOB = {"epochs": 12, "steps_per_epoch": 20, "size": 64}


@pytest.fixture(scope="module")
def limited_server(start_service):
    return start_service(NST_IDLE_TIMEOUT_S=str(IDLE_TIMEOUT_S),
                         NST_MAX_CONNECTIONS=str(MAX_CONNECTIONS))


def _open_connections(server) -> float:
    body = http_get(f"{server.http_url}/metrics")[2].decode()
    (line,) = [line for line in body.splitlines() if line.startswith("nst_connections ")]
    return float(line.split()[1])


def _closed(socket, timeout_s: float) -> ConnectionClosed:
    with pytest.raises(ConnectionClosed) as closed:
        socket.recv(timeout=timeout_s)
    return closed.value


def test_an_idle_socket_is_closed_normally_after_the_timeout(limited_server):
    began = time.monotonic()
    with open_socket(limited_server.ws_url) as socket:
        closed = _closed(socket, timeout_s=IDLE_TIMEOUT_S + 5)
    waited = time.monotonic() - began
    assert IDLE_TIMEOUT_S - 0.2 <= waited <= IDLE_TIMEOUT_S + 3
    assert closed.rcvd.code == 1000 and "idle" in closed.rcvd.reason
    assert "event=socket_idle_closed" in limited_server.log()


def test_a_message_restarts_the_idle_clock(limited_server):
    began = time.monotonic()
    with open_socket(limited_server.ws_url) as socket:
        for _ in range(3):
            time.sleep(IDLE_TIMEOUT_S * 0.6)
            socket.send(json.dumps({"type": "cancel"}))  # no job: answered, and counts as activity
            assert receive(socket, timeout_s=5)["code"] == "bad_request"
        closed = _closed(socket, timeout_s=IDLE_TIMEOUT_S + 5)
    assert time.monotonic() - began >= 3 * IDLE_TIMEOUT_S * 0.6 + IDLE_TIMEOUT_S - 0.2
    assert closed.rcvd.code == 1000


def test_a_socket_whose_job_runs_is_not_idle_and_is_closed_once_the_job_ended(limited_server,
                                                                              pictures):
    with open_socket(limited_server.ws_url) as socket:
        socket.send(start(pictures.content, pictures.style, **QUIET_JOB))
        began = time.monotonic()
        messages = receive_until(socket, timeout_s=120)
        painted_s = time.monotonic() - began
        assert messages[-1]["type"] == "done" and messages[-1]["status"] == "finished"
        assert painted_s > 2 * IDLE_TIMEOUT_S  # the job outlasted the timeout, the socket too
        ended = time.monotonic()
        closed = _closed(socket, timeout_s=IDLE_TIMEOUT_S + 5)
    assert closed.rcvd.code == 1000
    assert time.monotonic() - ended >= IDLE_TIMEOUT_S - 0.5


def test_sockets_beyond_the_cap_are_refused_at_the_handshake(limited_server):
    assert wait_until(lambda: _open_connections(limited_server) == 0, 10)
    with contextlib.ExitStack() as held:
        sockets = [held.enter_context(open_socket(limited_server.ws_url))
                   for _ in range(MAX_CONNECTIONS)]
        with pytest.raises(InvalidStatus) as refused:
            open_socket(limited_server.ws_url)
        response = refused.value.response
        assert response.status_code == 503 and response.headers["Retry-After"]
        assert json.loads(response.body)["error"]["code"] == "busy"
        assert _open_connections(limited_server) == MAX_CONNECTIONS
        # Health checks and the API are HTTP, not sockets: the cap leaves them alone.
        assert get_json(f"{limited_server.http_url}/readyz")[0] == 200

        sockets[0].close()
        assert wait_until(lambda: _open_connections(limited_server) < MAX_CONNECTIONS, 5)
        with open_socket(limited_server.ws_url) as socket:
            socket.ping().wait(5)
