"""`nst web`'s settings and the page's defaults: what the environment and the engine decide."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from service.engine.params import DEFAULT_LOSS_WEIGHTS
from web import layout
from web.app import create_app
from web.settings import WebSettings


def settings(monkeypatch, **env: str) -> WebSettings:
    for name in ("NST_WEB_HOST", "WEB_PORT", "NST_WEB_PORT", "NST_SERVICE_URL", "NST_API_KEY",
                 "NST_MAX_EPOCHS", "NST_BACKBONE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return WebSettings()


def test_defaults_serve_localhost_and_talk_to_a_local_service(monkeypatch):
    web = settings(monkeypatch)
    assert (web.host, web.port) == ("127.0.0.1", 8050)
    assert web.service_url == "ws://127.0.0.1:8000/ws/stylize"
    assert web.service_http_url == "http://127.0.0.1:8000"
    assert web.browser_socket_url == web.service_url
    assert web.api_key is None


def test_the_environment_sets_ports_urls_and_limits(monkeypatch):
    web = settings(monkeypatch, NST_WEB_HOST="0.0.0.0", WEB_PORT="9050", NST_MAX_EPOCHS="7",
                   NST_SERVICE_URL="wss://nst.example.test:8443/ws/stylize")
    assert (web.host, web.port, web.max_epochs) == ("0.0.0.0", 9050, 7)
    assert web.service_http_url == "https://nst.example.test:8443"


def test_the_api_key_rides_in_the_socket_url_as_the_token(monkeypatch):
    web = settings(monkeypatch, NST_API_KEY="s3cret/+key")
    assert web.browser_socket_url == "ws://127.0.0.1:8000/ws/stylize?token=s3cret%2F%2Bkey"
    assert "s3cret" not in repr(web)
    assert settings(monkeypatch, NST_API_KEY="").api_key is None


def test_a_service_url_that_is_not_a_websocket_is_refused(monkeypatch):
    with pytest.raises(ValidationError, match="ws:// or wss://"):
        settings(monkeypatch, NST_SERVICE_URL="http://127.0.0.1:8000/ws/stylize")


def test_every_default_weight_is_marked_inside_its_slider():
    for weights in DEFAULT_LOSS_WEIGHTS.values():
        for name, value in weights.items():
            marks = layout.weight_marks(name, value)
            default = [position for position, mark in marks.items()
                       if isinstance(mark, dict) and mark["label"] == "default"]
            low, high = layout.WEIGHT_RANGES[name]
            assert len(default) == 1 and low <= default[0] <= high
            assert 10 ** default[0] == pytest.approx(value, rel=1e-3)


def test_the_page_is_told_the_socket_url_and_the_upload_limit(monkeypatch):
    web = settings(monkeypatch, NST_API_KEY="k", NST_MAX_UPLOAD_MB="3")
    config = layout.page_config(web)
    assert config["socket_url"].endswith("?token=k")
    assert config["max_image_bytes"] == 3 * 1024 * 1024
    app = create_app(web)
    assert app.title == "nst · live style transfer"
