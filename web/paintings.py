"""The painting controls' callbacks: up to MAX_STYLES paintings blended, and steering a running job
from the weight and blend sliders. The behaviour is in web/assets/paintings.js, which reaches the
job through nst.js's hooks; the components are in web/layout.py."""

from __future__ import annotations

import dash
from dash import ALL, ClientsideFunction, Input, Output, State

from service.engine.params import MAX_STYLES  # no TensorFlow

EXTRA_SLOTS = range(2, MAX_STYLES + 1)


def _client(function_name: str) -> ClientsideFunction:
    return ClientsideFunction(namespace="nst_paintings", function_name=function_name)


def register_callbacks(app: dash.Dash) -> None:
    app.clientside_callback(
        _client("slots"),
        Output("painting-count", "data"),
        Input("add-painting", "n_clicks"),
        Input("remove-painting", "n_clicks"),
        State("painting-count", "data"),
        State("config", "data"),
        prevent_initial_call=True,
    )
    # Blends and images in slot order, 1 to MAX_STYLES (the first painting's image is nst.js's).
    app.clientside_callback(
        _client("blend"),
        *(Output(f"blend-{n}-share", "children") for n in range(1, MAX_STYLES + 1)),
        Input("painting-count", "data"),
        *(Input(f"blend-{n}", "value") for n in range(1, MAX_STYLES + 1)),
        *(Input(f"style-{n}-image", "data") for n in EXTRA_SLOTS),
        State("config", "data"),
    )
    advanced = {"type": "knob", "part": "advanced", "name": ALL}
    app.clientside_callback(
        _client("weights"),
        Input(advanced, "value"),
        State(advanced, "id"),
        State("config", "data"),
    )
