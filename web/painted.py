"""How a picture was painted, in words read at a glance: its paintings' blend, the options not at
their defaults, and each steer, from a stored record (`/v1/jobs/{id}`) or its summary in
`/v1/results`. Labels come from the schema (service/engine/params.py KNOBS). The result panel's
line is filled here once a job is stored; the gallery (web/gallery.py) uses the same words."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence

import dash
from dash import Input, Output, State, html

from service.engine.params import KNOBS  # no TensorFlow
from service.protocol import STEERABLE

from . import routes
from .settings import WebSettings

log = logging.getLogger("nst.web")
LABELS = {knob.name: knob.label for knob in KNOBS}
# The objective's options chosen at the start and never steered (the colour option, the brush
# scale): named when not at their defaults.
OPTIONS = tuple(knob for knob in KNOBS if knob.group == "objective" and knob.name not in STEERABLE)


def number(value: float) -> str:
    """Three significant digits: `3000`, `0.5`, and `1e5` from 10 000 up (weights span decades)."""
    rounded = float(f"{value:.3g}")
    if rounded and not 1e-3 <= abs(rounded) < 1e4:
        return re.sub(r"e\+?(-?)0*(\d)", r"e\1\2", f"{rounded:.3g}")
    return f"{rounded:g}"


def blend_text(blend: Sequence[float]) -> str:
    """`blend 40 % / 60 %`: each painting's share, in the order they were sent."""
    total = sum(blend) or 1.0
    return "blend " + " / ".join(f"{round(100 * weight / total)} %" for weight in blend)


def painting_text(record: Mapping) -> str:
    """`blend 40 % / 60 % · keep the photo's colours: luminance · brush scale 2`; '' for one
    painting with the options at their defaults."""
    blend = record.get("style_blend") or [1.0]
    parts = [blend_text(blend)] if len(blend) > 1 else []
    params = record.get("params") or {}
    for knob in OPTIONS:
        value = params.get(knob.name)
        if value is None or value == knob.default:
            continue
        parts.append(f"{knob.label}: {value}" if knob.choices else f"{knob.label} {number(value)}")
    return " · ".join(parts)


def steer_texts(record: Mapping) -> list[str]:
    """`steered at step 120: style weight 1e5`, one for each steer."""
    return [f"steered at step {steer['step']}: " +
            ", ".join(_change_text(name, value) for name, value in steer["changes"].items())
            for steer in record.get("steers") or []]


def _change_text(name: str, value: object) -> str:
    if name == "style_blend":
        return blend_text(value)
    return f"{LABELS.get(name, name)} {number(value)}"


def short_text(record: Mapping) -> str:
    """A gallery card's line: the painting text, and how often the job was steered."""
    steers = len(record.get("steers") or [])
    parts = [painting_text(record), f"steered {steers}×" if steers else ""]
    return " · ".join(part for part in parts if part)


def described(record: Mapping) -> list:
    """The painting text and each steer as lines, for the result panel and the gallery's detail."""
    lines = [text for text in (painting_text(record), *steer_texts(record)) if text]
    return [html.Div(line) for line in lines]


def register_callbacks(app: dash.Dash, settings: WebSettings) -> None:
    @app.callback(
        Output("painted-how", "children"),
        Input("finished-job", "data"),
        State("job-tokens", "data"),
        prevent_initial_call=True,
    )
    def show_how_painted(job_id, job_tokens):
        """The stored record of the job just finished on the page, in words."""
        kept = job_tokens.get(job_id) if isinstance(job_tokens, dict) else None
        token = kept.get("token") if isinstance(kept, dict) else None
        if not isinstance(job_id, str) or not isinstance(token, str):
            return []
        try:
            record = routes.job_record(settings, job_id, token)
        except routes.ServiceCallError as error:
            log.warning("event=record_failed job_id=%s error=%r", job_id, str(error))
            return []
        return described(record)
