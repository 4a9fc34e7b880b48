"""The page: images, settings, the live view, the result and the gallery. Components only; the
behaviour lives in `web/assets/nst.js` (everything the WebSocket brings) and `web/gallery.py`."""

from __future__ import annotations

import math

import dash_bootstrap_components as dbc
from dash import dcc, html
from dash_extensions import WebSocket

from service.engine.params import DEFAULT_LOSS_WEIGHTS, INITS, StyleParams  # no TensorFlow

from .settings import WebSettings

DEFAULT_EPOCHS = StyleParams().epochs
DEFAULT_STEPS_PER_EPOCH = StyleParams().steps_per_epoch

# Log10 ranges of the weight sliders, wide enough around every backbone's default.
WEIGHT_RANGES: dict[str, tuple[int, int]] = {
    "style_weight": (-3, 3),
    "content_weight": (1, 7),
    "tv_weight": (-2, 3),
}
WEIGHT_LABELS = {"style_weight": "Style weight", "content_weight": "Content weight",
                 "tv_weight": "Smoothness (total variation)"}
WEIGHT_HINTS = {"style_weight": "higher: more of the painting's texture",
                "content_weight": "higher: more of the photo's shapes",
                "tv_weight": "higher: smoother, less noisy"}
IMAGE_ROLES = {"content": ("Photo", "the picture to repaint"),
               "style": ("Painting", "the style to paint it in")}


def weight_marks(name: str, default: float) -> dict[float, object]:
    """Powers of ten along the slider, and the backbone's default marked in the page's accent."""
    low, high = WEIGHT_RANGES[name]
    marks: dict[float, object] = {exponent: f"1e{exponent}" for exponent in range(low, high + 1, 2)}
    marks[round(math.log10(default), 3)] = {"label": "default", "style": {"color": "#0d6efd",
                                                                          "fontWeight": 600}}
    return marks


def page_config(settings: WebSettings) -> dict:
    """What the browser code needs to know, handed over in a Store (never the raw API key alone:
    it is already inside socket_url, see WebSettings.browser_socket_url)."""
    return {
        "socket_url": settings.browser_socket_url,
        "max_image_bytes": settings.max_upload_bytes,
        "max_image_mb": settings.max_upload_mb,
        "backbone": settings.backbone,
        "default_weights": DEFAULT_LOSS_WEIGHTS,
        "weight_marks": {
            backbone: {name: weight_marks(name, value) for name, value in weights.items()}
            for backbone, weights in DEFAULT_LOSS_WEIGHTS.items()
        },
        "loss_figure": loss_figure(),
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
        dcc.Store(id="job", data={"phase": "idle"}),
        dcc.Store(id="finished-job"),
        dcc.Store(id="gallery-data"),
        WebSocket(id="ws"),
    ])


def _navbar(settings: WebSettings) -> dbc.Navbar:
    return dbc.Navbar(
        dbc.Container([
            dbc.NavbarBrand([html.Span("nst", className="brand-mark"),
                             html.Span("live neural style transfer", className="brand-sub")]),
            html.Span([html.Span(className="dot"),
                       html.Span("model: shown when a job starts", id="model-info")],
                      className="navbar-text model-info", title=settings.service_url),
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
            dbc.Row([dbc.Col(_upload("content"), xs=6), dbc.Col(_upload("style"), xs=6)],
                    class_name="g-2"),
            html.Div(f"PNG, JPEG or WebP, up to {settings.max_upload_mb:g} MB each.",
                     className="small text-body-secondary mt-2"),
        ]),
    ], class_name="mb-3 shadow-sm")


def _slider_row(label: str, control, value_id: str | None = None, hint: str | None = None):
    head = [dbc.Label(label, class_name="mb-0 fw-semibold")]
    if value_id:
        head.append(html.Span(id=value_id, className="badge text-bg-light slider-value"))
    return html.Div([
        html.Div(head, className="d-flex justify-content-between align-items-center"),
        control,
        html.Div(hint, className="form-text mt-0") if hint else None,
    ], className="control-row")


def _settings_card(settings: WebSettings) -> dbc.Card:
    default_size = min(settings.default_size, settings.max_size)
    size_marks = {s: f"{s}" for s in (64, 256, 512, 1024, 2048) if s <= settings.max_size}
    defaults = DEFAULT_LOSS_WEIGHTS.get(settings.backbone, DEFAULT_LOSS_WEIGHTS["vgg19"])
    weights = [
        _slider_row(
            WEIGHT_LABELS[name],
            dcc.Slider(id=name.replace("_", "-"), min=WEIGHT_RANGES[name][0],
                       max=WEIGHT_RANGES[name][1], step=0.1, value=round(math.log10(value), 3),
                       marks=weight_marks(name, value), allow_direct_input=False,
                       updatemode="drag"),
            value_id=f"{name.replace('_', '-')}-value", hint=WEIGHT_HINTS[name])
        for name, value in defaults.items()
    ]
    advanced = dbc.Accordion([
        dbc.AccordionItem([
            *weights,
            dbc.Row([
                dbc.Col(_slider_row("Start from", dbc.RadioItems(
                    id="init", value="content", inline=True,
                    options=[{"label": init, "value": init} for init in INITS])), xs=7),
                dbc.Col(_slider_row("Seed", dbc.Input(id="seed", type="number", min=0, step=1,
                                                      value=0, size="sm")), xs=5),
            ], class_name="g-2"),
            dbc.Button("Reset to defaults", id="reset-weights", color="link", size="sm",
                       class_name="px-0"),
        ], title="Advanced: loss weights, start, seed"),
    ], start_collapsed=True, flush=True, class_name="advanced mb-3")

    return dbc.Card([
        dbc.CardHeader([html.Span("2", className="step-no"), "Settings"]),
        dbc.CardBody([
            _slider_row("Epochs", dcc.Slider(
                id="epochs", min=1, max=settings.max_epochs, step=1,
                value=min(DEFAULT_EPOCHS, settings.max_epochs),
                marks={1: "1", settings.max_epochs: str(settings.max_epochs)}),
                hint="one new picture after each"),
            _slider_row("Steps per epoch", dcc.Slider(
                id="steps-per-epoch", min=1, max=settings.max_steps_per_epoch, step=1,
                value=min(DEFAULT_STEPS_PER_EPOCH, settings.max_steps_per_epoch),
                marks={1: "1", settings.max_steps_per_epoch: str(settings.max_steps_per_epoch)})),
            _slider_row("Output size (longer side, px)", dcc.Slider(
                id="size", min=16, max=settings.max_size, step=16, value=default_size,
                marks=size_marks)),
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
        ]),
    ], class_name="mb-3 shadow-sm")


def _result_panel() -> html.Div:
    return html.Div([
        html.Div([
            dbc.Button("Download PNG", id="download-button", color="success", external_link=True,
                       target="_blank", rel="noopener"),
            html.Div([html.Div("Job", className="small text-body-secondary"),
                      html.Code(id="job-id")], className="ms-3"),
        ], className="d-flex align-items-center flex-wrap gap-2"),
        html.Div(id="storage-note", className="small text-warning-emphasis mt-2"),
        html.Div(id="params-used", className="params-used mt-2"),
    ], id="result-panel", className="result-panel mt-3 d-none")


def _gallery_section() -> html.Div:
    return html.Div([
        html.Div([
            html.H2("Recent paintings", className="h5 mb-0"),
            dbc.Button("Refresh", id="gallery-refresh", color="secondary", outline=True,
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
