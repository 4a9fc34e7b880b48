"""`nst web`: the Dash app. The browser talks protocol v2 straight to the service over the
dash-extensions WebSocket; every frame is handled by clientside callbacks (web/assets/nst.js), so
the Dash server only serves the page and the gallery."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import dash
from dash import ALL, ClientsideFunction, Input, Output, State, ctx, html

from service.engine.params import KNOBS  # no TensorFlow
from service.records import JobSummary

from . import gallery, paintings
from .layout import build_layout, control_kind, dashed, knob_id
from .settings import WebSettings

log = logging.getLogger("nst.web")
ASSETS = Path(__file__).parent / "assets"


def create_app(settings: WebSettings) -> dash.Dash:
    app = dash.Dash(
        __name__,
        title="nst · live style transfer",
        assets_folder=str(ASSETS),
        # Bootstrap's CSS is vendored in assets/: the page must work with no CDN in reach.
        external_stylesheets=[],
        meta_tags=[{"name": "viewport", "content": "width=device-width, initial-scale=1"}],
        update_title=None,
    )
    app.layout = build_layout(settings)
    _upload_callbacks(app)
    _settings_callbacks(app)
    _job_callbacks(app)
    _gallery_callbacks(app, settings)
    paintings.register_callbacks(app)
    return app


def _client(function_name: str) -> ClientsideFunction:
    return ClientsideFunction(namespace="nst", function_name=function_name)


# Uploads, settings, Start/Cancel and every WebSocket event run in the browser (nst.js): no round
# trip through the Dash server.

def _upload_callbacks(app: dash.Dash) -> None:
    for role in ("content", "style"):
        app.clientside_callback(
            _client("readUpload"),
            Output(f"{role}-image", "data"),
            Output(f"{role}-preview", "src"),
            Output(f"{role}-info", "children"),
            Output(f"{role}-feedback", "children"),
            Output(f"{role}-upload", "className"),
            Input(f"{role}-upload", "contents"),
            State(f"{role}-upload", "filename"),
            State("config", "data"),
            prevent_initial_call=True,
        )


def _settings_callbacks(app: dash.Dash) -> None:
    for knob in KNOBS:
        if control_kind(knob) == "log":
            app.clientside_callback(
                _client("weightLabel"),
                Output(f"{dashed(knob)}-value", "children"),
                Input(knob_id(knob), "value"),
                Input(knob_id(knob), "marks"),
            )
    advanced = {"type": "knob", "part": "advanced", "name": ALL}
    app.clientside_callback(
        _client("resetAdvanced"),
        Output(advanced, "value"),
        Input("reset-advanced", "n_clicks"),
        State(advanced, "id"),
        State("config", "data"),
        prevent_initial_call=True,
    )


def _job_callbacks(app: dash.Dash) -> None:
    # The job's settings reach nst.js as one object keyed by knob name, built from these two lists.
    every_knob = {"type": "knob", "part": ALL, "name": ALL}
    app.clientside_callback(
        _client("start"),
        Output("job", "data"),
        Input("start-button", "n_clicks"),
        State("content-image", "data"),
        State("style-image", "data"),
        State(every_knob, "value"),
        State(every_knob, "id"),
        State("config", "data"),
        prevent_initial_call=True,
    )
    app.clientside_callback(
        _client("cancel"),
        Output("job", "data", allow_duplicate=True),
        Input("cancel-button", "n_clicks"),
        prevent_initial_call=True,
    )
    app.clientside_callback(
        _client("socketState"),
        Output("job", "data", allow_duplicate=True),
        Input("ws", "state"),
        State("config", "data"),
        prevent_initial_call=True,
    )
    app.clientside_callback(
        _client("socketMessage"),
        Output("job", "data", allow_duplicate=True),
        Input("ws", "message"),
        State("config", "data"),
        prevent_initial_call=True,
    )


def _gallery_callbacks(app: dash.Dash, settings: WebSettings) -> None:
    @app.callback(
        Output("gallery", "children"),
        Output("gallery-status", "children"),
        Output("gallery-data", "data"),
        Input("gallery-refresh", "n_clicks"),
        Input("finished-job", "data"),
        State("tokens", "data"),
    )
    def refresh_gallery(_clicks, _finished, tokens):
        started = time.perf_counter()
        try:
            results = gallery.fetch_results(settings, tokens if isinstance(tokens, list) else [])
        except gallery.GalleryError as error:
            log.warning("event=gallery_failed error=%r", str(error))
            return [], f"{error} The gallery will fill in once the service is up.", []
        log.info("event=gallery_loaded results=%d seconds=%.3f", len(results),
                 time.perf_counter() - started)
        if not results:
            return [], "No paintings yet: your first one will appear here.", []
        return gallery.cards(results), "", [item.model_dump(mode="json") for item in results]

    @app.callback(
        Output("gallery-modal", "is_open"),
        Output("gallery-modal-title", "children"),
        Output("gallery-modal-body", "children"),
        Input({"type": "gallery-open", "index": ALL}, "n_clicks"),
        State("gallery-data", "data"),
        prevent_initial_call=True,
    )
    def open_result(clicks, results):
        if not ctx.triggered_id or not any(clicks):
            return dash.no_update, dash.no_update, dash.no_update
        job_id = ctx.triggered_id["index"]
        found = next((item for item in results or [] if item["job_id"] == job_id), None)
        if found is None:
            return True, "Not found", html.P("This result is no longer in the list. Refresh it.")
        item = JobSummary.model_validate(found)
        return True, f"Painting {gallery.when(item)}", gallery.detail(item)


def main() -> None:
    settings = WebSettings()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    # Werkzeug logs every request; the page polls nothing, but keep the log to our own events.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    app = create_app(settings)
    log.info("event=web_started url=http://%s:%d service=%s api_key=%s", settings.host,
             settings.port, settings.service_url, "set" if settings.api_key else "unset")
    print(f"nst web: open http://{settings.host}:{settings.port}/ in a browser", flush=True)
    app.run(host=settings.host, port=settings.port, debug=settings.debug)


if __name__ == "__main__":
    main()
