"""NST_API_KEY and NST_ALLOWED_ORIGINS, both ways, on the socket (refused at the handshake) and on
the /v1 routes; the key never in the log."""

from __future__ import annotations

import json

import pytest
from websockets.exceptions import InvalidStatus
from ws_jobs import ALLOWED_ORIGIN, API_KEY, get_json, http_get, open_socket, receive_until, start

SHORT = {"epochs": 1, "steps_per_epoch": 1, "size": 64}


def _refused_at_handshake(url: str, **options) -> tuple[int, dict]:
    """The HTTP status and JSON error with which the server answers an upgrade it refuses."""
    with pytest.raises(InvalidStatus) as refused:
        open_socket(url, **options).close()
    response = refused.value.response
    return response.status_code, json.loads(response.body)["error"]


@pytest.mark.parametrize("url_suffix, headers", [
    ("", {}),
    ("?token=wrong", {}),
    ("", {"Authorization": "Bearer wrong"}),
    ("", {"Authorization": f"Basic {API_KEY}"}),
    (f"?token={API_KEY}", {}),  # a script (no Origin) must send the header, not put it in URLs
], ids=["no-key", "wrong-token", "wrong-bearer", "not-bearer", "query-token-without-origin"])
def test_the_handshake_refuses_clients_without_the_key(strict_server, url_suffix, headers):
    status, error = _refused_at_handshake(strict_server.ws_url + url_suffix,
                                          additional_headers=headers)
    assert status == 403  # HTTP, before the upgrade: no socket was opened
    assert error["code"] == "unauthorized" and "Authorization: Bearer" in error["message"]


@pytest.mark.parametrize("url_suffix, options", [
    (f"?token={API_KEY}", {"origin": ALLOWED_ORIGIN}),
    ("", {"additional_headers": {"Authorization": f"Bearer {API_KEY}"}}),
], ids=["page-with-query-token", "script-with-bearer-header"])
def test_the_socket_serves_clients_with_the_key(strict_server, pictures, url_suffix, options):
    with open_socket(strict_server.ws_url + url_suffix, **options) as socket:
        socket.send(start(pictures.content, pictures.style, **SHORT))
        assert receive_until(socket)[-1]["type"] == "done"


def test_a_page_from_another_origin_is_refused_at_the_handshake_even_with_the_key(strict_server):
    status, error = _refused_at_handshake(f"{strict_server.ws_url}?token={API_KEY}",
                                          origin="http://evil.test")
    assert status == 403
    assert error["code"] == "forbidden_origin" and "http://evil.test" in error["message"]


def test_without_allowed_origins_only_clients_without_an_origin_are_served(service_server):
    # The default (empty NST_ALLOWED_ORIGINS) serves the CLI and scripts but no browser page.
    status, error = _refused_at_handshake(service_server.ws_url, origin="http://127.0.0.1:8050")
    assert (status, error["code"]) == (403, "forbidden_origin")
    with open_socket(service_server.ws_url) as socket:
        socket.ping().wait(5)


@pytest.mark.parametrize("spelling", ["token", "TOKEN", "%74oken", "api_key"])
def test_the_key_never_reaches_the_log_however_the_query_spells_it(strict_server, spelling):
    url = f"{strict_server.ws_url}?limit=1&{spelling}={API_KEY}"
    if spelling in ("token", "%74oken"):  # both decode to `token`: a page's socket opens
        with open_socket(url, origin=ALLOWED_ORIGIN) as socket:
            socket.ping().wait(5)
    else:
        assert _refused_at_handshake(url, origin=ALLOWED_ORIGIN)[0] == 403
    results = f"{strict_server.http_url}/v1/results?limit=1&{spelling}={API_KEY}"
    assert http_get(results, headers={"Origin": ALLOWED_ORIGIN})[0] in (200, 401)
    log = strict_server.log()
    assert API_KEY not in log
    assert f"/ws/stylize?limit=1&{spelling}=[redacted]" in log  # uvicorn's line, redacted
    assert f"/v1/results?limit=1&{spelling}=[redacted]" in log


def test_the_results_routes_need_the_key(strict_server):
    results = f"{strict_server.http_url}/v1/results?limit=3"
    status, body = get_json(results)
    assert status == 401 and body["error"]["code"] == "unauthorized"
    assert get_json(results, headers={"Authorization": "Bearer wrong"})[0] == 401
    assert get_json(f"{strict_server.http_url}/v1/jobs/{'0' * 32}")[0] == 401
    assert get_json(results, headers={"Authorization": f"Bearer {API_KEY}"})[0] == 200
    # A browser page's fetch may use ?token=; a script may not (the header keeps it out of logs).
    assert get_json(f"{results}&token={API_KEY}", headers={"Origin": ALLOWED_ORIGIN})[0] == 200
    assert get_json(f"{results}&token={API_KEY}")[0] == 401


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
