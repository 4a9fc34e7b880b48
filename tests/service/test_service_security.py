"""NST_API_KEY and NST_ALLOWED_ORIGINS, both ways, on the socket and on the /v1 routes."""

from __future__ import annotations

import pytest
from websockets.exceptions import ConnectionClosed
from ws_jobs import (ALLOWED_ORIGIN, API_KEY, get_json, http_get, open_socket, receive,
                     receive_until, start)

SHORT = {"epochs": 1, "steps_per_epoch": 1, "size": 64}


def _refused(url: str, **options) -> tuple[dict, int]:
    """The error a connection gets before it can send anything, and the close code after it."""
    with open_socket(url, **options) as socket:
        error = receive(socket, timeout_s=10)
        with pytest.raises(ConnectionClosed) as closed:
            receive(socket, timeout_s=10)
    return error, closed.value.rcvd.code


@pytest.mark.parametrize("url_suffix, headers", [
    ("", {}),
    ("?token=wrong", {}),
    ("", {"Authorization": "Bearer wrong"}),
    ("", {"Authorization": f"Basic {API_KEY}"}),
], ids=["no-key", "wrong-token", "wrong-bearer", "not-bearer"])
def test_the_socket_refuses_clients_without_the_key(strict_server, url_suffix, headers):
    error, close_code = _refused(strict_server.ws_url + url_suffix, additional_headers=headers)
    assert error["code"] == "unauthorized" and "token" in error["message"]
    assert close_code == 1008  # policy violation


@pytest.mark.parametrize("url_suffix, headers", [
    (f"?token={API_KEY}", {}),
    ("", {"Authorization": f"Bearer {API_KEY}"}),
], ids=["query-token", "bearer-header"])
def test_the_socket_serves_clients_with_the_key(strict_server, pictures, url_suffix, headers):
    with open_socket(strict_server.ws_url + url_suffix, additional_headers=headers) as socket:
        socket.send(start(pictures.content, pictures.style, **SHORT))
        assert receive_until(socket)[-1]["type"] == "done"


def test_a_page_from_another_origin_is_refused_even_with_the_key(strict_server):
    error, close_code = _refused(f"{strict_server.ws_url}?token={API_KEY}",
                                 origin="http://evil.test")
    assert error["code"] == "forbidden_origin" and "http://evil.test" in error["message"]
    assert close_code == 1008


def test_a_page_from_the_allowed_origin_is_served(strict_server, pictures):
    with open_socket(f"{strict_server.ws_url}?token={API_KEY}", origin=ALLOWED_ORIGIN) as socket:
        socket.send(start(pictures.content, pictures.style, **SHORT))
        assert receive_until(socket)[-1]["type"] == "done"


def test_without_allowed_origins_only_clients_without_an_origin_are_served(service_server):
    # The default (empty NST_ALLOWED_ORIGINS) serves the CLI and scripts but no browser page.
    error, _ = _refused(service_server.ws_url, origin="http://127.0.0.1:8050")
    assert error["code"] == "forbidden_origin"


def test_the_key_never_reaches_the_log(strict_server, pictures):
    with open_socket(f"{strict_server.ws_url}?token={API_KEY}") as socket:
        socket.send(start(pictures.content, pictures.style, **SHORT))
        assert receive_until(socket)[-1]["type"] == "done"
    assert get_json(f"{strict_server.http_url}/v1/results?limit=1&token={API_KEY}")[0] == 200
    log = strict_server.log()
    assert "/ws/stylize?token=[redacted]" in log and "token=[redacted]" in log
    assert API_KEY not in log


def test_the_results_routes_need_the_key(strict_server):
    results = f"{strict_server.http_url}/v1/results?limit=3"
    status, body = get_json(results)
    assert status == 401 and body["error"]["code"] == "unauthorized"
    assert get_json(results, headers={"Authorization": "Bearer wrong"})[0] == 401
    assert get_json(f"{strict_server.http_url}/v1/jobs/{'0' * 32}")[0] == 401
    assert get_json(results, headers={"Authorization": f"Bearer {API_KEY}"})[0] == 200
    assert get_json(f"{results}&token={API_KEY}")[0] == 200


def test_health_routes_need_no_key(strict_server):
    assert http_get(f"{strict_server.http_url}/healthz")[0] == 200
    assert http_get(f"{strict_server.http_url}/readyz")[0] == 200


def test_cors_admits_the_allowed_origin_only(strict_server):
    results = f"{strict_server.http_url}/v1/results?limit=1"
    auth = {"Authorization": f"Bearer {API_KEY}"}
    _, headers, _ = http_get(results, headers={**auth, "Origin": ALLOWED_ORIGIN})
    assert headers["access-control-allow-origin"] == ALLOWED_ORIGIN
    _, headers, _ = http_get(results, headers={**auth, "Origin": "http://evil.test"})
    assert "access-control-allow-origin" not in headers

    # The browser's preflight for a request with an Authorization header.
    status, headers, _ = http_get(results, method="OPTIONS", headers={
        "Origin": ALLOWED_ORIGIN, "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "authorization"})
    assert status == 200 and headers["access-control-allow-origin"] == ALLOWED_ORIGIN
    assert "authorization" in headers["access-control-allow-headers"].lower()
    status, _, _ = http_get(results, method="OPTIONS", headers={
        "Origin": "http://evil.test", "Access-Control-Request-Method": "GET"})
    assert status == 400
