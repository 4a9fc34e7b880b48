"""The gallery: recent results from the service's `GET /v1/results`, as cards and a detail view.

The Dash server asks the service (it knows the API key and needs no CORS), with the resume tokens
the browser keeps (results are private to them); the browser then loads the thumbnails and results
straight from object storage through their presigned URLs.
"""

from __future__ import annotations

import json
import logging
import re
import urllib.error
import urllib.request
from datetime import datetime

import dash_bootstrap_components as dbc
from dash import html

from pydantic import ValidationError

from service.engine.params import KNOBS  # no TensorFlow
from service.protocol import STEERABLE, OutputSize
from service.records import JobSummary

from . import painted
from .settings import WebSettings

log = logging.getLogger("nst.web")
MAX_TOKENS = 100  # what the service's /v1/results takes in one request
TOKEN = re.compile(r"[A-Za-z0-9_-]{1,128}")


class GalleryError(Exception):
    """The service's result list could not be read. One sentence for the page."""


def fetch_results(settings: WebSettings, tokens: list[str]) -> list[JobSummary]:
    """The newest results of the jobs whose resume tokens these are."""
    url = f"{settings.service_http_url}/v1/results?limit={settings.gallery_size}"
    # Tokens are URL-safe base64: anything else (a tampered Store) is not sent on.
    sent = [token for token in tokens[:MAX_TOKENS]
            if isinstance(token, str) and TOKEN.fullmatch(token)]
    request = urllib.request.Request(url, headers={"Accept": "application/json",
                                                   "X-NST-Tokens": ",".join(sent)})
    if settings.api_key is not None:
        request.add_header("Authorization", f"Bearer {settings.api_key.get_secret_value()}")
    try:
        with urllib.request.urlopen(request, timeout=settings.service_timeout_s) as response:
            body = json.load(response)
    except urllib.error.HTTPError as error:
        raise GalleryError(f"The service answered {error.code} for its result list.") from error
    except (urllib.error.URLError, TimeoutError, OSError) as error:
        where = settings.service_http_url
        raise GalleryError(f"Could not reach the service at {where}.") from error
    except ValueError as error:
        raise GalleryError("The service's result list was not valid JSON.") from error
    results = body.get("results") if isinstance(body, dict) else None
    if not isinstance(results, list):
        raise GalleryError("The service's result list has an unexpected shape.")
    return [summary for summary in map(_summary, results) if summary is not None]


def _summary(item: object) -> JobSummary | None:
    try:
        return JobSummary.model_validate(item)
    except ValidationError:
        log.warning("event=gallery_item_skipped item=%.200r", item)
        return None


def when(item: JobSummary) -> str:
    """`2026-11-26 10:42 UTC` from the job's ISO time, or '' when there is none."""
    stamp = item.finished_at or item.created_at
    try:
        moment = datetime.fromisoformat(str(stamp).replace("Z", "+00:00"))
    except ValueError:
        return ""
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def size_text(size: OutputSize | None) -> str:
    return f"{size.width}×{size.height} px" if size else ""


def params_text(params: dict) -> str:
    """`3 epochs × 10 steps · init content · seed 0`: the knobs a person set."""
    parts = []
    if "epochs" in params and "steps_per_epoch" in params:
        epochs, steps = params["epochs"], params["steps_per_epoch"]
        parts.append(f"{plural(epochs, 'epoch')} × {plural(steps, 'step')}")
    if params.get("init"):
        parts.append(f"init {params['init']}")
    if params.get("seed") is not None:
        parts.append(f"seed {params['seed']}")
    return " · ".join(parts)


def plural(count: object, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def weights_text(params: dict) -> str:
    """`style weight 1e4 · content weight 1000 · …`: the loss weights the job started with."""
    return " · ".join(f"{knob.label} {painted.number(params[knob.name])}" for knob in KNOBS
                      if knob.name in STEERABLE and isinstance(params.get(knob.name), (int, float)))


def model_text(model: dict) -> str:
    if model.get("backbone"):
        return f"{model['backbone']} ({model.get('weights', '?')} weights)"
    return ""


def cards(results: list[JobSummary]) -> list[dbc.Col]:
    return [
        dbc.Col(html.Button([
            html.Img(src=item.thumbnail_url, className="gallery-thumb",
                     alt=f"result {item.job_id}"),
            html.Div([
                html.Div(when(item), className="gallery-time"),
                html.Div(params_text(item.params), className="gallery-params"),
                html.Div(painted.short_text(item.model_dump()), className="gallery-painted"),
                html.Div(item.status, className="badge text-bg-warning")
                if item.status in ("interrupted", "cancelled") else None,
            ], className="gallery-caption"),
        ], id={"type": "gallery-open", "index": item.job_id}, className="gallery-card",
           title="Open", n_clicks=0), xs=6, sm=4, md=3, xl=2)
        for item in results
    ]


def detail(item: JobSummary) -> list:
    """The modal's body: the full image, what made it, and a download button."""
    rows = [("Job", html.Code(item.job_id)), ("Finished", when(item)),
            ("Size", size_text(item.size)), ("Model", model_text(item.model)),
            ("Parameters", params_text(item.params)),
            ("Loss weights", weights_text(item.params)),
            ("Painted with", painted.described(item.model_dump())), ("Status", item.status or "")]
    return [
        html.Img(src=item.url, className="gallery-full", alt=f"result {item.job_id}"),
        html.Dl([part for label, value in rows if value
                 for part in (html.Dt(label, className="col-sm-3"),
                              html.Dd(value, className="col-sm-9"))],
                className="row small mt-3 mb-2"),
        html.Div([
            dbc.Button("Download PNG", color="success",
                       id={"type": "gallery-download", "index": item.job_id}),
            dbc.Button("Delete", color="danger", outline=True,
                       id={"type": "gallery-delete", "index": item.job_id}),
        ], className="d-flex gap-2"),
    ]
