"""Admission: a `start` message checked against this server's limits, then decoded into a request.

Two steps, both blocking (the socket handler runs them in worker pools): `check` reads the
parameters and each image's header, cheaply, before the job asks for a place in the queue;
`decode` decodes the images at the size the job needs, only once the job has its place.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from . import protocol
from .engine import BadImage, BadParams, StyleParams
from .engine.images import ImageHeader, decode_image, read_header
from .engine.info import Sizes
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
class Upload:
    """An image as sent, its header read: width and height are the picture's own, upright."""

    file: bytes
    extension: str
    content_type: str
    header: ImageHeader
    size: tuple[int, int]  # (height, width) the job needs it at

    @property
    def width(self) -> int:
        return self.header.width

    @property
    def height(self) -> int:
        return self.header.height


@dataclass(frozen=True)
class InputImage(Upload):
    pixels: np.ndarray  # at `size`, or smaller when the picture is (the engine scales it up)


@dataclass(frozen=True)
class CheckedStart:
    """A `start` whose limits, parameters and image headers passed; no pixel decoded yet."""

    params: StyleParams  # resolved: every knob has its value
    content: Upload
    styles: tuple[Upload, ...]  # one painting, or the two to four of a blend
    style_blend: tuple[float, ...]  # one weight per painting, summing to 1

    @property
    def height(self) -> int:
        return self.content.size[0]

    @property
    def width(self) -> int:
        return self.content.size[1]


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


def check(start: protocol.Start, settings: Settings, sizes: Sizes) -> CheckedStart:
    """Limits, parameters and image headers of a `start` message, against the sizes the
    engine's network takes; raises RequestError."""
    params = job_params(start, settings).resolved()
    content = _upload(start.content, "content", settings,
                      lambda shape: sizes.output_size(shape, params.size, "content",
                                                      params.style_zoom))
    fields, blend = _paintings(start)
    styles = tuple(_upload(text, field, settings, lambda shape: sizes.style_size(shape, params))
                   for field, text in fields)
    return CheckedStart(params, content, styles, blend)


def decode(checked: CheckedStart, settings: Settings) -> JobRequest:
    """The images of a checked `start`, decoded at the sizes the job needs; raises RequestError."""
    content = _decoded(checked.content, "content", settings)
    fields = ["style"] if len(checked.styles) == 1 else [
        f"styles.{n}.image" for n in range(len(checked.styles))]
    styles = [_decoded(upload, field, settings) for upload, field in zip(checked.styles, fields)]
    return JobRequest(checked.params, content, styles[0], checked.height, checked.width,
                      tuple(styles[1:]), checked.style_blend)


def _paintings(start: protocol.Start) -> tuple[list[tuple[str, str]], tuple[float, ...]]:
    """(field, image) of the painting, or of each painting of `styles`, with the blend weights
    normalised."""
    if start.styles is None:
        return [("style", start.style)], (1.0,)
    try:
        blend = blend_weights(len(start.styles), [painting.blend for painting in start.styles])
    except BadParams as error:
        raise RequestError("bad_request", str(error)) from None
    return [(f"styles.{n}.image", painting.image) for n, painting in enumerate(start.styles)], blend


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


def _upload(text: str, field: str, settings: Settings,
            size_needed: Callable[[tuple[int, ...]], tuple[int, int]]) -> Upload:
    """The image of `field`, its header read; `size_needed` maps its shape to the job's (height,
    width) for it, raising BadImage if the network cannot take it."""
    try:
        data = protocol.decode_image_field(text, field, settings.max_upload_bytes)
        header = read_header(data, settings.max_pixels)
        needed = size_needed(header.shape)
    except (protocol.ImageFieldError, BadImage) as error:
        raise RequestError("bad_image", _about(field, error)) from None
    extension, content_type = next(
        (kind for magic, kind in _SNIFF.items() if data.startswith(magic)),
        ("bin", "application/octet-stream"),
    )
    return Upload(data, extension, content_type, header, needed)


def _decoded(upload: Upload, field: str, settings: Settings) -> InputImage:
    try:
        pixels = decode_image(upload.file, settings.max_pixels, upload.size)
    except BadImage as error:
        raise RequestError("bad_image", _about(field, error)) from None
    return InputImage(upload.file, upload.extension, upload.content_type, upload.header,
                      upload.size, pixels)


def _about(field: str, error: Exception) -> str:
    return str(error) if str(error).startswith(field) else f"{field}: {error}"
