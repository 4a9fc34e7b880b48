"""The page: images, settings, the live view, the result and the gallery. Components only; the
behaviour lives in `web/assets/nst.js` (everything the WebSocket brings) and `web/gallery.py`."""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import dcc, html
from dash_extensions import WebSocket

from service.engine.params import KNOBS, MAX_STYLES  # no TensorFlow

from .controls import advanced_control, knob_config, run_slider
from .settings import WebSettings

IMAGE_ROLES = {"content": ("Photo", "the picture to repaint"),
               "style": ("Painting", "the style to paint it in"),
               **{f"style-{n}": (f"Painting {n}", "blended with the others")
                  for n in range(2, MAX_STYLES + 1)}}


def page_config(settings: WebSettings) -> dict:
    """What the browser code needs to know, handed over in a Store (never the raw API key alone:
    it is already inside socket_url, see WebSettings.browser_socket_url)."""
    return {
        "socket_url": settings.browser_socket_url,
        "max_image_bytes": settings.max_upload_bytes,
        "max_image_mb": settings.max_upload_mb,
        # Uploads larger than any job can use are scaled down in the browser: photos and
        # paintings alike (the engine never takes a painting larger than the output).
        "max_size": settings.max_size,
        "knobs": {knob.name: knob_config(knob, settings) for knob in KNOBS},
        "loss_figure": loss_figure(),
        "max_paintings": MAX_STYLES,
    }


def loss_figure() -> dict:
    """The empty loss chart; the browser adds a point per trace with every frame."""
    colors = {"total": "#212529", "style": "#d63384", "content": "#0d6efd", "tv": "#20c997"}
    return {
        "data": [
            {"type": "scatter", "mode": "lines+markers", "name": name, "x": [], "y": [],
             "line": {"color": color, "width": 2}, "marker": {"size": 5},
             "hovertemplate": "step %{x}<br>%{y:.3g}<extra>" + name + "</extra>"}
            for name, color in colors.items()
        ],
        "layout": {
            "height": 260,
            "margin": {"l": 48, "r": 8, "t": 32, "b": 36},
            "xaxis": {"title": {"text": "step"}, "rangemode": "tozero", "gridcolor": "#eee",
                      "automargin": True},
            "yaxis": {"type": "log", "title": {"text": "loss"}, "gridcolor": "#eee",
                      "exponentformat": "power", "automargin": True},
            "legend": {"orientation": "h", "y": 1.0, "yanchor": "bottom", "x": 0},
            "paper_bgcolor": "rgba(0,0,0,0)",
            "plot_bgcolor": "rgba(0,0,0,0)",
            "font": {"family": "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif",
                     "size": 12},
            "uirevision": "losses",
            "annotations": [{"text": "The losses appear here, a point per epoch",
                             "showarrow": False, "xref": "paper", "yref": "paper",
                             "x": 0.5, "y": 0.5,
                             "font": {"color": "#6c757d", "size": 13}}],
        },
    }


def build_layout(settings: WebSettings) -> html.Div:
    return html.Div([
        _navbar(settings),
        dbc.Container([
            dbc.Row([
                dbc.Col([_images_card(settings), _settings_card(settings)], lg=5, xl=4),
                dbc.Col([_live_card()], lg=7, xl=8),
            ], class_name="g-3"),
            _gallery_section(),
        ], class_name="py-3"),
        _gallery_modal(),
        dcc.Store(id="config", data=page_config(settings)),
        dcc.Store(id="content-image"),
        dcc.Store(id="style-image"),
        *(dcc.Store(id=f"style-{n}-image") for n in range(2, MAX_STYLES + 1)),
        dcc.Store(id="painting-count", data=1),
        dcc.Store(id="job", data={"phase": "idle"}),
        dcc.Store(id="finished-job"),
        dcc.Store(id="gallery-data"),
        dcc.Store(id="tokens", storage_type="local"),  # resume tokens of this browser's jobs
        dcc.Store(id="job-tokens", storage_type="local"),  # {job id: its resume token}
        dcc.Store(id="deleted-job"),
        WebSocket(id="ws"),
    ])


def _navbar(settings: WebSettings) -> dbc.Navbar:
    return dbc.Navbar(
        dbc.Container([
            dbc.NavbarBrand([html.Span("nst", className="brand-mark"),
                             html.Span("live neural style transfer", className="brand-sub")]),
            # nst.js polls the service's /readyz (through /service-status) and keeps both current.
            html.Span([html.Span(id="service-dot", className="dot is-unknown", role="img",
                                 **{"aria-label": "service status unknown"}),
                       html.Span("service: checking…", id="model-info")],
                      className="navbar-text model-info", title=settings.service_url,
                      role="status"),
        ]),
        color="dark", dark=True, class_name="mb-0",
    )


def _upload(role: str) -> html.Div:
    title, hint = IMAGE_ROLES[role]
    return html.Div([
        html.Div(title, className="upload-title"),
        dcc.Upload(
            id=f"{role}-upload",
            children=html.Div([
                html.Img(id=f"{role}-preview", className="upload-preview", alt=f"{title} preview"),
                html.Div([html.Div("Drop an image here", className="fw-semibold"),
                          html.Div(["or ", html.Span("browse", className="link-primary")]),
                          html.Div(hint, className="small text-body-secondary mt-1")],
                         className="upload-prompt"),
            ]),
            className="upload-box",
            # No `accept`: a dropped file of the wrong kind must reach nst.js to get a message.
        ),
        html.Div(id=f"{role}-info", className="upload-info small text-body-secondary"),
        html.Div(id=f"{role}-feedback", className="upload-feedback small text-danger",
                 role="alert"),
    ], className="upload")


def _images_card(settings: WebSettings) -> dbc.Card:
    return dbc.Card([
        dbc.CardHeader([html.Span("1", className="step-no"), "Your images"]),
        dbc.CardBody([
            dbc.Row([dbc.Col(_upload("content"), xs=6),
                     dbc.Col([_upload("style"), _blend_slider(1)], xs=6),
                     *(_painting_slot(n) for n in range(2, MAX_STYLES + 1))],
                    class_name="g-2"),
            _painting_buttons(),
            html.Div(f"PNG, JPEG or WebP, up to {settings.max_upload_mb:g} MB each.",
                     className="small text-body-secondary mt-2"),
        ]),
    ], class_name="mb-3 shadow-sm")


def _settings_card(settings: WebSettings) -> dbc.Card:
    advanced = dbc.Accordion([
        dbc.AccordionItem([
            *(advanced_control(knob) for knob in KNOBS if knob.group != "run"),
            dbc.Button("Reset to defaults", id="reset-advanced", color="link", size="sm",
                       class_name="px-0"),
        ], title="Advanced: loss weights, start, optimiser"),
    ], id="advanced-settings", start_collapsed=True, flush=True, class_name="advanced mb-3")
    return dbc.Card([
        dbc.CardHeader([html.Span("2", className="step-no"), "Settings"]),
        dbc.CardBody([
            *(run_slider(knob, settings) for knob in KNOBS if knob.group == "run"),
            advanced,
            html.Div([
                dbc.Button("Start", id="start-button", color="primary", size="lg",
                           class_name="flex-grow-1"),
                dbc.Button("Cancel", id="cancel-button", color="danger", outline=True, size="lg",
                           disabled=True),
            ], className="d-flex gap-2"),
        ]),
    ], class_name="mb-3 shadow-sm")


def _live_card() -> dbc.Card:
    return dbc.Card([
        dbc.CardHeader([
            html.Span("3", className="step-no"), "Watch it paint",
            html.Span("idle", id="phase-badge", className="badge text-bg-secondary ms-auto"),
        ], class_name="d-flex align-items-center"),
        dbc.CardBody([
            dbc.Alert(id="status-alert", is_open=False, color="info", class_name="py-2"),
            html.Div([
                html.Img(id="frame-image", className="frame-image", alt="current frame"),
                html.Div([html.Div("Your painting appears here, epoch by epoch.",
                                   className="fw-semibold"),
                          html.Div("Add a photo and a painting, then press Start.",
                                   className="small")],
                         id="frame-placeholder", className="frame-placeholder"),
            ], className="frame-box", id="frame-box"),
            dbc.Progress(id="progress", value=0, class_name="mt-3", style={"height": "1.25rem"}),
            html.Div(id="progress-text", className="small text-body-secondary mt-1 progress-text"),
            _result_panel(),
            dcc.Graph(id="loss-graph", figure=loss_figure(),
                      config={"displayModeBar": False, "responsive": True},
                      className="loss-graph mt-2"),
            html.Div(id="steer-note", className="steer-note small", role="status"),
        ]),
    ], class_name="mb-3 shadow-sm")


def _result_panel() -> html.Div:
    return html.Div([
        html.Div([
            # A click fetches the PNG through this web app (same origin, web/downloads.py) and
            # saves it as nst-<job id>.png: browsers ignore `download` on another origin's link.
            dbc.Button("Download PNG", id="download-button", color="success"),
            html.Div([html.Div("Job", className="small text-body-secondary"),
                      html.Code(id="job-id")], className="ms-3"),
        ], className="d-flex align-items-center flex-wrap gap-2"),
        html.Div(id="storage-note", className="small text-warning-emphasis mt-2"),
        html.Div(id="params-used", className="params-used mt-2"),
        # How it was painted (blend, options, steers), from the stored record: web/painted.py.
        html.Div(id="painted-how", className="params-used painted-how"),
    ], id="result-panel", className="result-panel mt-3 d-none")


def _gallery_section() -> html.Div:
    return html.Div([
        html.Div([
            html.H2("Recent paintings", className="h5 mb-0"),
            dbc.Button("Refresh", id="gallery-refresh", color="dark", outline=True,
                       size="sm"),
        ], className="d-flex justify-content-between align-items-center mb-2"),
        html.Div(id="gallery-status", className="small text-body-secondary"),
        dbc.Row(id="gallery", class_name="g-2"),
    ], className="gallery mt-2")


def _gallery_modal() -> dbc.Modal:
    return dbc.Modal([
        dbc.ModalHeader(dbc.ModalTitle(id="gallery-modal-title")),
        dbc.ModalBody(id="gallery-modal-body"),
    ], id="gallery-modal", size="lg", centered=True, is_open=False)


# Several paintings (web/assets/paintings.js): slots 2 to MAX_STYLES open one at a time; each
# painting's blend slider shows once there are two.

def _painting_slot(n: int) -> dbc.Col:
    return dbc.Col([_upload(f"style-{n}"), _blend_slider(n)], xs=6, id=f"painting-{n}",
                   class_name="painting-slot d-none")


def _blend_slider(n: int) -> html.Div:
    return html.Div([
        html.Div([dbc.Label("Blend", class_name="mb-0 small fw-semibold"),
                  html.Span(id=f"blend-{n}-share", className="badge text-bg-light slider-value")],
                 className="d-flex justify-content-between align-items-center"),
        dcc.Slider(id=f"blend-{n}", min=0, max=1, step=0.05, value=0.5, marks=None,
                   allow_direct_input=False, updatemode="drag"),
    ], id=f"blend-{n}-row", className="blend-row d-none")


def _painting_buttons() -> html.Div:
    return html.Div([
        dbc.Button("+ Blend another painting", id="add-painting", color="link", size="sm",
                   class_name="px-0"),
        dbc.Button("Remove the last", id="remove-painting", color="link", size="sm",
                   class_name="px-0 text-danger d-none"),
    ], className="d-flex gap-3 mt-1")
