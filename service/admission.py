"""Admission: a `start` message checked against this server's limits and decoded into a request.

Blocking (it decodes images): the socket handler runs it in a worker thread.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import protocol
from .engine import BadImage, BadParams, Engine, StyleParams
from .engine.images import decode_image
from .engine.params import KNOBS, Knob, blend_weights
from .settings import Settings

_SNIFF = {b"\x89PNG": ("png", "image/png"), b"\xff\xd8": ("jpg", "image/jpeg"),
          b"RIFF": ("webp", "image/webp")}


class RequestError(Exception):
    """A `start` this server refuses: the error code and one sentence for the client."""

    def __init__(self, code: protocol.ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class InputImage:
    pixels: np.ndarray
    file: bytes
    extension: str
    content_type: str


@dataclass(frozen=True)
class JobRequest:
    """A `start` message checked and decoded: everything a worker needs, nothing from the socket."""

    params: StyleParams  # resolved: every knob has its value
    content: InputImage
    style: InputImage  # the first painting, when several are blended
    height: int
    width: int
    more_styles: tuple[InputImage, ...] = ()  # the second to fourth paintings of a blend
    style_blend: tuple[float, ...] = (1.0,)  # one weight per painting, summing to 1

    @property
    def styles(self) -> tuple[InputImage, ...]:
        return (self.style, *self.more_styles)

    def named_inputs(self) -> dict[str, InputImage]:
        """The images as stored: content and style, or content and style-1 ... style-N."""
        if not self.more_styles:
            return {"content": self.content, "style": self.style}
        return {"content": self.content,
                **{f"style-{n}": image for n, image in enumerate(self.styles, start=1)}}


def admit(start: protocol.Start, settings: Settings, engine: Engine) -> JobRequest:
    """Limits, parameters and images of a `start` message; raises RequestError."""
    params = job_params(start, settings)
    content = _image(start.content, "content", settings)
    styles, blend = _paintings(start, settings)
    try:
        height, width = engine.output_size(content.pixels.shape, params.size, "content")
        for style in styles:
            engine.style_size(style.pixels.shape, params)
    except BadImage as error:
        raise RequestError("bad_image", str(error)) from None
    return JobRequest(engine.resolved(params), content, styles[0], height, width,
                      tuple(styles[1:]), blend)


def _paintings(start: protocol.Start, settings: Settings
               ) -> tuple[list[InputImage], tuple[float, ...]]:
    """The painting, or the paintings of `styles` with their normalised blend weights."""
    if start.styles is None:
        return [_image(start.style, "style", settings)], (1.0,)
    try:
        blend = blend_weights(len(start.styles), [painting.blend for painting in start.styles])
    except BadParams as error:
        raise RequestError("bad_request", str(error)) from None
    return [_image(painting.image, f"styles.{n}.image", settings)
            for n, painting in enumerate(start.styles)], blend


def job_params(start: protocol.Start, settings: Settings) -> StyleParams:
    """The start's knobs, unset ones at this server's defaults, capped by its limits."""
    values = {knob.name: getattr(start, knob.name) for knob in KNOBS}
    for knob in KNOBS:
        if knob.limit:
            values[knob.name] = _within_limit(knob, values[knob.name], settings)
    try:
        return StyleParams.from_values(values)
    except BadParams as error:
        raise RequestError("bad_request", str(error)) from None


def _within_limit(knob: Knob, value: int | None, settings: Settings) -> int:
    """`value`, or the default (NST_DEFAULT_* where there is one) capped by the limit."""
    limit = getattr(settings, knob.limit)
    if value is None:
        return min(getattr(settings, f"default_{knob.name}", knob.default), limit)
    if value > limit:
        raise RequestError("bad_request", f"{knob.name} is {value}, over this server's limit "
                           f"of {limit} (NST_{knob.limit.upper()})")
    return value


def _image(text: str, field: str, settings: Settings) -> InputImage:
    try:
        data = protocol.decode_image_field(text, field, settings.max_upload_bytes)
        pixels = decode_image(data, settings.max_pixels)
    except (protocol.ImageFieldError, BadImage) as error:
        message = str(error) if str(error).startswith(field) else f"{field}: {error}"
        raise RequestError("bad_image", message) from None
    extension, content_type = next(
        (kind for magic, kind in _SNIFF.items() if data.startswith(magic)),
        ("bin", "application/octet-stream"),
    )
    return InputImage(pixels, data, extension, content_type)
