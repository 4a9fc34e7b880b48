"""A job control for each knob of the parameter schema: which kind (slider, logarithmic slider,
choice, number), its marks and ends, and the row that holds it with its label, hint and error."""

from __future__ import annotations

import math

import dash_bootstrap_components as dbc
from dash import dcc, html

from service.engine.params import Knob  # no TensorFlow

from .settings import WebSettings


def knob_id(knob: Knob) -> dict[str, str]:
    """Every job control has such an id, so one callback reads them all, keyed by name."""
    return {"type": "knob", "part": "basic" if knob.group == "run" else "advanced",
            "name": knob.name}


def dashed(knob: Knob) -> str:
    return knob.name.replace("_", "-")


def control_kind(knob: Knob) -> str:
    """slider (how long, how large: capped by the service), log (a weight or a ratio), choice, or
    number."""
    if knob.group == "run":
        return "slider"
    if log_range(knob):
        return "log"
    return "choice" if knob.choices else "number"


def log_range(knob: Knob) -> tuple[float, float] | None:
    """A logarithmic slider's ends: a weight's ui_range, or the bounds of a ratio (a float bounded
    above 0, such as the brush scale)."""
    if knob.ui_range:
        return knob.ui_range
    if knob.kind is float and knob.minimum is not None and knob.minimum > 0 and knob.maximum:
        return knob.minimum, knob.maximum
    return None


def _spans_decades(knob: Knob) -> bool:
    low, high = log_range(knob)
    return high / low >= 100


def log_position(value: float) -> float:
    return round(math.log10(value), 3)


def log_step(knob: Knob) -> float:
    """A tenth of a decade for a weight; a fifth of a doubling for a narrower ratio."""
    return 0.1 if _spans_decades(knob) else round(math.log10(2) / 5, 4)


def log_marks(knob: Knob) -> dict[float, object]:
    """Powers of ten along a weight's slider (of two along a narrower ratio's), and the default
    marked in the page's accent."""
    low, high = log_range(knob)
    if _spans_decades(knob):
        marks: dict[float, object] = {exponent: f"1e{exponent}" for exponent in
                                      range(round(math.log10(low)), round(math.log10(high)) + 1, 2)}
    else:
        marks = {log_position(2.0 ** power): f"{2.0 ** power:g}×"
                 for power in range(round(math.log2(low)), round(math.log2(high)) + 1)}
    marks[log_position(knob.default)] = {"label": "default", "style": {"color": "#0d6efd",
                                                                       "fontWeight": 600}}
    return marks


def knob_config(knob: Knob, settings: WebSettings) -> dict:
    """How nst.js turns the control's value into the `start` message's field of that name, and the
    range it checks a typed number against before Start."""
    return {"control": control_kind(knob), "label": knob.label, "whole": knob.kind is int,
            "default": _control_default(knob), "dashed": dashed(knob), "minimum": knob.minimum,
            "maximum": getattr(settings, knob.limit) if knob.limit else knob.maximum,
            "positions": _log_positions(knob)}


def _log_positions(knob: Knob) -> list[float] | None:
    """A logarithmic slider's ends, where nst.js puts a value the service gives (clamped)."""
    if control_kind(knob) != "log":
        return None
    return [log_position(end) for end in log_range(knob)]


def _control_default(knob: Knob) -> object:
    return log_position(knob.default) if control_kind(knob) == "log" else knob.default


def run_slider(knob: Knob, settings: WebSettings) -> html.Div:
    """A slider up to the service's limit (the same NST_MAX_* variable), at its default."""
    limit = getattr(settings, knob.limit)
    default = getattr(settings, f"default_{knob.name}", knob.default)
    value = min(default, limit)
    slider = dcc.Slider(id=knob_id(knob), min=knob.minimum, max=limit, step=1, value=value,
                        marks={knob.minimum: f"{knob.minimum:g}", limit: str(limit)},
                        allow_direct_input=False)
    # The page's own number box (not the slider's, which clamps what it is given): nst.js checks
    # what was typed and says what is allowed, and the slider follows only valid numbers.
    number = dbc.Input(id=f"{dashed(knob)}-input", type="number", value=value, step=1,
                       min=knob.minimum, max=limit, size="sm", class_name="run-number",
                       inputmode="numeric")
    return _control_row(knob, slider, number=number)


def advanced_control(knob: Knob) -> html.Div:
    kind = control_kind(knob)
    if kind == "log":
        low, high = (log_position(end) for end in log_range(knob))
        control = dcc.Slider(id=knob_id(knob), min=low, max=high, step=log_step(knob),
                             value=log_position(knob.default), marks=log_marks(knob),
                             allow_direct_input=False, updatemode="drag")
        return _control_row(knob, control, value_badge=True)
    if kind == "choice":
        control = dbc.RadioItems(id=knob_id(knob), value=knob.default, inline=True,
                                 options=[{"label": choice, "value": choice}
                                          for choice in knob.choices])
        return _control_row(knob, control)
    control = dbc.Input(id=knob_id(knob), type="number", min=knob.minimum, value=knob.default,
                        step=1 if knob.kind is int else "any", size="sm",
                        placeholder="default" if knob.default is None else None)
    return _control_row(knob, control)


def _control_row(knob: Knob, control, value_badge: bool = False, number=None) -> html.Div:
    """Label, control, hint and the place for its error; the wrapper's id is the knob's name with
    dashes (`tv-weight`). nst.js names each control after the label (aria-label)."""
    name = dashed(knob)
    head = [dbc.Label(knob.label.capitalize(), id=f"{name}-label",
                      html_for=f"{name}-input" if number is not None else None,
                      class_name="mb-0 fw-semibold")]
    if value_badge:
        head.append(html.Span(id=f"{name}-value", className="badge text-bg-light slider-value"))
    if number is not None:
        head.append(number)
    return html.Div([
        html.Div(head, className="d-flex justify-content-between align-items-center gap-2"),
        control,
        html.Div(knob.help, id=f"{name}-help", className="form-text mt-0"),
        html.Div(id=f"{name}-error", className="field-error small text-danger",
                 **{"aria-live": "polite"}),
    ], id=name, className="control-row")
