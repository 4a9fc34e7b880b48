"""`nst web`'s settings and the page's defaults: what the environment and the engine decide."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from service.engine.params import KNOBS, StyleParams
from web import controls as knob_controls, layout
from web.app import create_app
from web.settings import WebSettings


def settings(monkeypatch, **env: str) -> WebSettings:
    for name in ("NST_WEB_HOST", "WEB_PORT", "NST_WEB_PORT", "NST_SERVICE_URL", "NST_API_KEY",
                 "NST_MAX_EPOCHS"):
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
    weights = [knob for knob in KNOBS if knob_controls.control_kind(knob) == "log"]
    assert {knob.name for knob in weights} >= {"style_weight", "content_weight", "tv_weight"}
    for knob in weights:
        marks = knob_controls.log_marks(knob)
        default = [position for position, mark in marks.items()
                   if isinstance(mark, dict) and mark["label"] == "default"]
        low, high = knob_controls.log_range(knob)
        assert len(default) == 1 and low <= 10 ** default[0] <= high
        assert 10 ** default[0] == pytest.approx(knob.default, rel=1e-3)


def test_the_brush_scale_is_a_logarithmic_slider_over_its_bounds_marked_in_doublings():
    (scale,) = [knob for knob in KNOBS if knob.name == "style_scale"]
    assert knob_controls.control_kind(scale) == "log" and knob_controls.log_range(scale) == (0.25, 4.0)
    marks = knob_controls.log_marks(scale)
    assert [marks[position] for position in sorted(marks) if isinstance(marks[position], str)] == [
        "0.25×", "0.5×", "2×", "4×"]
    # The slider's steps land on the default and on every doubling, so 2 is sent as 2.00.
    step = knob_controls.log_step(scale)
    for value in (0.25, 0.5, 1.0, 2.0, 4.0):
        steps = (knob_controls.log_position(value) - knob_controls.log_position(0.25)) / step
        assert steps == pytest.approx(round(steps), abs=1e-6)
        assert float(f"{10 ** (knob_controls.log_position(0.25) + round(steps) * step):.3g}") == value


def test_the_page_has_a_control_for_every_knob_and_tells_the_browser_how_to_send_it(monkeypatch):
    web = settings(monkeypatch, NST_MAX_EPOCHS="7")
    config = layout.page_config(web)
    assert list(config["knobs"]) == [knob.name for knob in KNOBS]
    controls = _components_by_id(layout.build_layout(web))
    for knob in KNOBS:
        assert str(knob_controls.knob_id(knob)) in controls, knob.name
    epochs = config["knobs"]["epochs"]
    assert (epochs["control"], epochs["whole"], epochs["default"]) == ("slider", True, 20)
    epochs_slider = controls[str(knob_controls.knob_id(KNOBS[0]))]
    assert (epochs_slider.max, epochs_slider.value) == (7, 7)  # the service's limit caps both
    tv = config["knobs"]["tv_weight"]
    assert tv["control"] == "log" and 10 ** tv["default"] == pytest.approx(StyleParams().tv_weight, rel=1e-3)


def _components_by_id(component) -> dict:
    found = {}
    if getattr(component, "id", None) is not None:
        found[str(component.id)] = component
    children = getattr(component, "children", None)
    for child in children if isinstance(children, (list, tuple)) else [children]:
        if hasattr(child, "to_plotly_json"):
            found.update(_components_by_id(child))
    return found


def test_the_page_is_told_the_socket_url_and_the_upload_limit(monkeypatch):
    web = settings(monkeypatch, NST_API_KEY="k", NST_MAX_UPLOAD_MB="3")
    config = layout.page_config(web)
    assert config["socket_url"].endswith("?token=k")
    assert config["max_image_bytes"] == 3 * 1024 * 1024
    app = create_app(web)
    assert app.title == "nst · live style transfer"


def test_the_page_is_told_each_typed_numbers_range_and_the_sizes_it_scales_uploads_to(monkeypatch):
    web = settings(monkeypatch, NST_MAX_EPOCHS="7", NST_MAX_SIZE="640")
    config = layout.page_config(web)
    epochs, seed, scale = (config["knobs"][name] for name in ("epochs", "seed", "style_scale"))
    assert (epochs["minimum"], epochs["maximum"], epochs["whole"]) == (1, 7, True)
    assert (seed["minimum"], seed["maximum"], seed["dashed"]) == (0, None, "seed")
    assert (scale["minimum"], scale["maximum"], scale["whole"]) == (0.25, 4.0, False)
    assert config["max_size"] == 640
