"""`nst web`: the Dash app. The browser talks protocol v2 straight to the service over the
dash-extensions WebSocket; every frame is handled by clientside callbacks (web/assets/nst.js), so
the Dash server only serves the page, the gallery, downloads and the service's status
(web/routes.py)."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import dash
from dash import ALL, ClientsideFunction, Input, Output, State, ctx, html

from service.engine.params import KNOBS  # no TensorFlow
from service.records import JobSummary

from . import gallery, painted, paintings, routes
from .controls import control_kind, dashed, knob_id
from .layout import build_layout
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
    app.index_string = app.index_string.replace("<html>", '<html lang="en">', 1)
    app.layout = build_layout(settings)
    routes.add_routes(app.server, settings)
    _upload_callbacks(app)
    _settings_callbacks(app)
    _job_callbacks(app)
    _gallery_callbacks(app, settings)
    _delete_callback(app, settings)
    paintings.register_callbacks(app)
    painted.register_callbacks(app, settings)
    return app


def _client(function_name: str) -> ClientsideFunction:
    return ClientsideFunction(namespace="nst", function_name=function_name)


# Uploads, settings, Start/Cancel and every WebSocket event run in the browser (nst.js): no round
# trip through the Dash server.

def _upload_callbacks(app: dash.Dash) -> None:
    # The extra painting slots (web/paintings.py) read their files the same way.
    for role in ("content", "style", *(f"style-{n}" for n in paintings.EXTRA_SLOTS)):
        app.clientside_callback(
            _client("readUpload"),
            Output(f"{role}-image", "data"),
            Output(f"{role}-preview", "src"),
            Output(f"{role}-info", "children"),
            Output(f"{role}-feedback", "children"),
            Output(f"{role}-upload", "className"),
            Input(f"{role}-upload", "contents"),
            State(f"{role}-upload", "filename"),
            State(f"{role}-upload", "id"),
            State(f"{role}-image", "data"),
            State("config", "data"),
            prevent_initial_call=True,
        )


def _settings_callbacks(app: dash.Dash) -> None:
    for knob in KNOBS:
        if control_kind(knob) == "slider":
            app.clientside_callback(
                _client("syncNumber"),
                Output(knob_id(knob), "value"),
                Output(f"{dashed(knob)}-input", "value"),
                Input(knob_id(knob), "value"),
                Input(f"{dashed(knob)}-input", "value"),
                State("config", "data"),
                prevent_initial_call=True,
            )
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
        _client("resume"),
        Output("job", "data", allow_duplicate=True),
        Input("config", "data"),
        prevent_initial_call="initial_duplicate",
    )
    app.clientside_callback(
        _client("downloadResult"),
        Output("download-button", "n_clicks"),
        Input("download-button", "n_clicks"),
        prevent_initial_call=True,
    )
    app.clientside_callback(
        _client("downloadFromGallery"),
        Output({"type": "gallery-download", "index": ALL}, "n_clicks"),
        Input({"type": "gallery-download", "index": ALL}, "n_clicks"),
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
        Input("deleted-job", "data"),
        State("tokens", "data"),
    )
    def refresh_gallery(_clicks, _finished, _deleted, tokens):
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


def _delete_callback(app: dash.Dash, settings: WebSettings) -> None:
    @app.callback(
        Output("deleted-job", "data"),
        Output("gallery-modal", "is_open", allow_duplicate=True),
        Output("gallery-status", "children", allow_duplicate=True),
        Input({"type": "gallery-delete", "index": ALL}, "n_clicks"),
        State("job-tokens", "data"),
        prevent_initial_call=True,
    )
    def delete_result(clicks, job_tokens):
        if not ctx.triggered_id or not any(clicks):
            return dash.no_update, dash.no_update, dash.no_update
        job_id = ctx.triggered_id["index"]
        kept = job_tokens.get(job_id) if isinstance(job_tokens, dict) else None
        token = kept.get("token") if isinstance(kept, dict) else None
        try:
            routes.delete_result(settings, job_id, token if isinstance(token, str) else "")
        except routes.ServiceCallError as error:
            log.warning("event=delete_failed job_id=%s error=%r", job_id, str(error))
            return dash.no_update, True, f"Could not delete the painting: {error}."
        log.info("event=deleted job_id=%s", job_id)
        return job_id, False, "Painting deleted."


def main() -> None:
    settings = WebSettings()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    # Werkzeug logs every request, and each page asks /service-status every 3 s: keep the log to
    # our own events.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    app = create_app(settings)
    log.info("event=web_started url=http://%s:%d service=%s api_key=%s", settings.host,
             settings.port, settings.service_url, "set" if settings.api_key else "unset")
    print(f"nst web: open http://{settings.host}:{settings.port}/ in a browser", flush=True)
    app.run(host=settings.host, port=settings.port, debug=settings.debug)


if __name__ == "__main__":
    main()
