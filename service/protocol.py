"""Protocol v1 of `/ws/stylize`: each message as a pydantic model, for server, client and tests.

JSON text messages only. The client sends `start` (then optionally `cancel`); the server answers
`accepted`, `queued` whenever the queue position changes, a `frame` per epoch, then `done` or
`error`. docs/protocol.md shows an example of each.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Annotated, Literal

from pydantic import (BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, create_model,
                      model_validator)
from pydantic_core import PydanticCustomError

from .engine.params import KNOBS, LARGEST, MAX_STYLES, Knob  # no TensorFlow

VERSION = 1

ErrorCode = Literal[
    "bad_request",      # not JSON, unknown type, missing or invalid field, value out of range
    "bad_image",        # not base64, not PNG/JPEG/WebP, truncated, too many bytes or pixels
    "busy",             # the queue is full: retry later
    "not_ready",        # the model is still loading or warming up: retry in a few seconds
    "unauthorized",     # NST_API_KEY is set and the token is missing or wrong
    "forbidden_origin", # the browser page's Origin is not in NST_ALLOWED_ORIGINS
    "cancelled",        # the client cancelled its job
    "shutting_down",    # the server is draining for a restart: retry on another instance
    "internal",         # a bug or an engine failure: the message says what to report
]
JobStatus = Literal["finished", "interrupted"]


class _Message(BaseModel):
    # Strict: "epochs": "3" is a client bug worth reporting, not something to guess about.
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


# Client -> server ---------------------------------------------------------------------------------

class StyleImage(_Message):
    """One painting of a blend: its image and its weight (weights are normalised to sum to 1)."""

    image: str = Field(min_length=1, description="base64 or a data: URI of a PNG, JPEG or WebP")
    blend: float = Field(default=1.0, ge=0, le=LARGEST)


class _StartImages(_Message):
    type: Literal["start"]
    content: str = Field(min_length=1, description="base64 or a data: URI of a PNG, JPEG or WebP")
    style: str | None = Field(default=None, min_length=1,
                              description="base64 or a data: URI of a PNG, JPEG or WebP")
    styles: list[StyleImage] | None = Field(default=None, min_length=1, max_length=MAX_STYLES,
                                            description="instead of style: paintings to blend")

    @model_validator(mode="after")
    def _one_way_of_sending_paintings(self):
        if (self.style is None) == (self.styles is None):
            raise PydanticCustomError("style_or_styles", "send the painting as 'style' or up to "
                                      f"{MAX_STYLES} paintings as 'styles', one of the two")
        return self


def _knob_field(knob: Knob) -> tuple[object, object]:
    """A job parameter as a `start` field: optional (unset: the server's default), bounded."""
    kind = Literal[knob.choices] if knob.choices else knob.kind
    return kind | None, Field(default=None, ge=knob.minimum, le=knob.maximum,
                              description=knob.help)


# One field per knob of service.engine.params.StyleParams, with its bounds; the server's limits
# (NST_MAX_*) and defaults apply on top (service/admission.py).
Start = create_model(
    "Start", __base__=_StartImages, __doc__="Run one job. Only the images are required.",
    **{knob.name: _knob_field(knob) for knob in KNOBS},
)


class Cancel(_Message):
    """Stop the running or queued job of this connection; the server answers error `cancelled`."""

    type: Literal["cancel"]


ClientMessage = Annotated[Start | Cancel, Field(discriminator="type")]
client_message = TypeAdapter(ClientMessage)


# Server -> client ---------------------------------------------------------------------------------

class Model(_Message):
    # The engine may describe its model further (e.g. "precision"); clients take what they know.
    model_config = ConfigDict(extra="allow", strict=True, frozen=True)

    backbone: str
    weights: str
    precision: str | None = None


class OutputSize(_Message):
    width: int
    height: int


class Accepted(_Message):
    """The job is valid and has an id. position 0: it runs now; n > 0: n jobs are ahead of it."""

    type: Literal["accepted"] = "accepted"
    job_id: str
    position: int
    model: Model
    output_size: OutputSize
    epochs: int
    steps_per_epoch: int
    total_steps: int


class Queued(_Message):
    """The job's queue position changed; 0 means it has just started."""

    type: Literal["queued"] = "queued"
    job_id: str
    position: int


class Losses(_Message):
    total: float
    style: float
    content: float
    tv: float


class FrameMessage(_Message):
    """The image after an epoch. A slow client may miss stale frames, never the last one."""

    type: Literal["frame"] = "frame"
    job_id: str
    epoch: int
    epochs: int
    step: int
    total_steps: int
    losses: Losses
    elapsed_s: float
    image: str = Field(description="data:image/jpeg;base64,...")


class StoredResult(_Message):
    bucket: str
    key: str
    url: str = Field(description="presigned GET of result.png")
    metadata_key: str
    expires_in: int


class Done(_Message):
    """The job ended. `stored` false: storage failed after retries, so `image` carries the PNG."""

    type: Literal["done"] = "done"
    job_id: str
    status: JobStatus
    elapsed_s: float
    stored: bool
    result: StoredResult | None = None
    image: str | None = Field(default=None, description="data:image/png;base64,... when not stored")
    storage_error: str | None = None


class Error(_Message):
    type: Literal["error"] = "error"
    code: ErrorCode
    message: str
    job_id: str | None = None


ServerMessage = Annotated[
    Accepted | Queued | FrameMessage | Done | Error, Field(discriminator="type")
]
server_message = TypeAdapter(ServerMessage)


# Images as text -----------------------------------------------------------------------------------

_DATA_URI = re.compile(r"^data:(?P<mime>[\w/+.-]*)(?:;[\w=.-]+)*?(?P<b64>;base64)?,", re.ASCII)
_MIME_TYPES = {"image/png", "image/jpeg", "image/jpg", "image/webp", "application/octet-stream", ""}


class ImageFieldError(ValueError):
    """An image field is not base64 or a base64 data: URI of an image."""


def decode_image_field(text: str, field: str, max_bytes: int) -> bytes:
    """The file bytes of an IMG field (plain base64 or a base64 data: URI), size-checked."""
    match = _DATA_URI.match(text)
    if match:
        if match["mime"].lower() not in _MIME_TYPES:
            raise ImageFieldError(f"{field} is a data: URI of {match['mime']}, not an image")
        if not match["b64"]:
            raise ImageFieldError(f"{field} must be a base64 data: URI (';base64,')")
        text = text[match.end():]
    # 4 base64 characters carry 3 bytes: reject oversized uploads before decoding them.
    if len(text) // 4 * 3 > max_bytes + 3:
        raise ImageFieldError(
            f"{field} is about {len(text) // 4 * 3 / 1e6:.1f} MB, over the limit of "
            f"{max_bytes / 1e6:.1f} MB"
        )
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ImageFieldError(f"{field} is neither base64 nor a data: URI") from None
    if len(data) > max_bytes:
        raise ImageFieldError(
            f"{field} is {len(data) / 1e6:.1f} MB, over the limit of {max_bytes / 1e6:.1f} MB"
        )
    return data


def data_uri(data: bytes, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def describe_validation_error(error: ValidationError) -> str:
    """One sentence about the first bad field, e.g. "epochs: Input should be a valid integer"."""
    first = error.errors()[0]
    if first["type"] == "json_invalid":
        return f"the message is not valid JSON ({first['msg'].removeprefix('Invalid JSON: ')})"
    if first["type"] == "dict_type" and not first["loc"]:
        return "a message must be a JSON object with a 'type'"
    where = ".".join(str(part) for part in first["loc"] if part not in ("start", "cancel"))
    if first["type"] == "union_tag_invalid":
        return f"unknown message type {first['input'].get('type')!r}: send 'start' or 'cancel'"
    if first["type"] == "union_tag_not_found":
        return "the message has no 'type': send a 'start' or a 'cancel' message"
    if first["type"] == "extra_forbidden":
        return f"unknown field {where!r}"
    if first["type"] == "missing":
        return f"missing field {where!r}"
    return f"{where}: {first['msg']}" if where else first["msg"]
