"""Protocol v2 of `/ws/stylize`: each message as a pydantic model, for server, client and tests.

JSON text messages only. The client sends `start` (then optionally `cancel`), or `attach` to follow
a job it started on an earlier connection; on either, `steer` changes the job's loss weights or
blend. The server answers `accepted` (with the job's `resume_token`), `queued` whenever the queue
position changes, a `frame` per epoch, `steered` for each steer, then `done` or `error`.
docs/protocol.md shows an example of each and what changed since v1.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Annotated, Literal, get_args

from pydantic import (BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, create_model,
                      model_validator)
from pydantic_core import PydanticCustomError

from .engine.params import KNOBS, LARGEST, MAX_STYLES, Knob  # no TensorFlow

VERSION = 2

ErrorCode = Literal[
    "bad_request",      # not JSON, unknown type, missing or invalid field, value out of range
    "bad_image",        # not base64, not PNG/JPEG/WebP, truncated, too many bytes or pixels
    "busy",             # the queue is full: retry later
    "not_ready",        # the model is still loading or warming up: retry in a few seconds
    "unauthorized",     # NST_API_KEY is set and the token is missing or wrong
    "forbidden_origin", # the browser page's Origin is not in NST_ALLOWED_ORIGINS
    "cancelled",        # cancelled before its first step (a running job ends in `done`, cancelled)
    "unknown_job",      # `attach` names no job here with that resume_token (or it ended long ago)
    "taken_over",       # another connection attached to this job: this one no longer follows it
    "shutting_down",    # the server is draining for a restart: retry on another instance
    "internal",         # a bug or an engine failure: the message says what to report
]
JobStatus = Literal["finished", "interrupted", "cancelled"]


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
    """Stop the job this connection follows: a queued one ends in error `cancelled`, a running one
    in `done` with status `cancelled` and the image it reached."""

    type: Literal["cancel"]


class Attach(_Message):
    """Follow a job started on another (perhaps closed) connection: the newest frame at once, then
    the rest and `done`. The job leaves any connection that followed it before."""

    type: Literal["attach"]
    job_id: str = Field(min_length=1, max_length=64)
    resume_token: str = Field(min_length=1, max_length=128)


STEERABLE = ("style_weight", "content_weight", "tv_weight")  # and style_blend

Steer = create_model(
    "Steer", __base__=_Message,
    __doc__="Change the followed job's loss weights or blend from its next step: any subset.",
    type=(Literal["steer"], ...),
    **{knob.name: _knob_field(knob) for knob in KNOBS if knob.name in STEERABLE},
    style_blend=(list[float] | None, Field(default=None, min_length=1, max_length=MAX_STYLES,
                                           description="one weight per painting, as in styles")),
)

ClientMessage = Annotated[Start | Cancel | Attach | Steer, Field(discriminator="type")]
client_message = TypeAdapter(ClientMessage)
# The `type` of each message a client may send, named in errors so the list cannot fall behind.
CLIENT_TYPES = tuple(get_args(model.model_fields["type"].annotation)[0]
                     for model in get_args(get_args(ClientMessage)[0]))
_ONE_OF = ", ".join(repr(kind) for kind in CLIENT_TYPES[:-1]) + f" or {CLIENT_TYPES[-1]!r}"


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


# The steerable values a job has now: its weights and blend as it started, with every steer applied
# so far (a blend normalised), so a client that attaches shows and steers from what the job uses.
Weights = create_model(
    "Weights", __base__=_Message,
    __doc__="A job's steerable loss weights and blend as they are now.",
    **{name: (float, ...) for name in STEERABLE},
    style_blend=(list[float], Field(min_length=1, max_length=MAX_STYLES)),
)


class Accepted(_Message):
    """The job is valid and has an id. position 0: it runs now; n > 0: n jobs are ahead of it.
    `resume_token` attaches to the job from another connection and reads or deletes its result.
    `weights`: its loss weights and blend now (after an `attach`, with the steers applied)."""

    type: Literal["accepted"] = "accepted"
    job_id: str
    resume_token: str
    position: int
    wait_s: float | None = None  # as in Queued
    model: Model
    output_size: OutputSize
    epochs: int
    steps_per_epoch: int
    total_steps: int
    weights: Weights | None = None  # None only from servers before the field


class Queued(_Message):
    """The job's queue position changed; 0 means it has just started. `wait_s`: the server's
    estimate of the seconds until it starts (None before any job has set a pace)."""

    type: Literal["queued"] = "queued"
    job_id: str
    position: int
    wait_s: float | None = None


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
    """The job ended (finished, interrupted by a shutdown, or cancelled with the image it reached).
    `stored` false: storage failed after retries, so `image` carries the PNG."""

    type: Literal["done"] = "done"
    job_id: str
    status: JobStatus
    elapsed_s: float
    stored: bool
    result: StoredResult | None = None
    image: str | None = Field(default=None, description="data:image/png;base64,... when not stored")
    storage_error: str | None = None


class Steered(_Message):
    """A `steer` took effect: the job's steps from `step` on use `changes` (blends normalised)."""

    type: Literal["steered"] = "steered"
    job_id: str
    step: int
    changes: dict[str, float | list[float]]


class Error(_Message):
    type: Literal["error"] = "error"
    code: ErrorCode
    message: str
    job_id: str | None = None


ServerMessage = Annotated[
    Accepted | Queued | FrameMessage | Steered | Done | Error, Field(discriminator="type")
]
server_message = TypeAdapter(ServerMessage)


# Images as text -----------------------------------------------------------------------------------

_DATA_URI = re.compile(r"^data:(?P<mime>[\w/+.-]*)(?:;[\w=.-]+)*?(?P<b64>;base64)?,", re.ASCII)
_MIME_TYPES = {"image/png", "image/jpeg", "image/jpg", "image/webp", "application/octet-stream", ""}


# Base64 is decoded a chunk at a time (whole 4-character groups): decoding holds the GIL, and
# between chunks the event loop's thread gets it back, so /healthz waits ~2 ms, not 60 ms.
_BASE64_CHUNK = 1024 * 1024


class ImageFieldError(ValueError):
    """An image field is not base64 or a base64 data: URI of an image."""


def decode_image_field(text: str, field: str, max_bytes: int) -> bytes:
    """The file bytes of an IMG field (plain base64 or a base64 data: URI), size-checked."""
    match = _DATA_URI.match(text)
    if match:
        if match["mime"].lower() not in _MIME_TYPES:
            raise ImageFieldError(f"{field} is a data: URI of {clip(match['mime'])}, not an image")
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
        data = b"".join(base64.b64decode(text[start:start + _BASE64_CHUNK], validate=True)
                        for start in range(0, len(text), _BASE64_CHUNK))
    except (binascii.Error, ValueError):
        raise ImageFieldError(f"{field} is neither base64 nor a data: URI") from None
    if len(data) > max_bytes:
        raise ImageFieldError(
            f"{field} is {len(data) / 1e6:.1f} MB, over the limit of {max_bytes / 1e6:.1f} MB"
        )
    return data


def data_uri(data: bytes, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


# What a client sent is echoed this many characters at most: an error must not cost the server (or
# the client's outbox) the size of a hostile message.
ECHO_MAX = 40


def clip(text: str, limit: int = ECHO_MAX) -> str:
    """`text`, or its first `limit` characters and an ellipsis."""
    return text if len(text) <= limit else text[:limit - 1] + "…"


def describe_validation_error(error: ValidationError) -> str:
    """One sentence about the first bad field, e.g. "epochs: Input should be a valid integer"."""
    first = error.errors(include_url=False)[0]
    if first["type"] == "json_invalid":
        reason = first["msg"].removeprefix("Invalid JSON: ")
        return clip(f"the message is not valid JSON ({reason})", 2 * ECHO_MAX)
    if first["type"] == "dict_type" and not first["loc"]:
        return "a message must be a JSON object with a 'type'"
    where = clip(".".join(str(part) for part in first["loc"]
                          if part not in CLIENT_TYPES))
    if first["type"] == "union_tag_invalid":
        kind = clip(repr(first["input"].get("type")))
        return f"unknown message type {kind}: send {_ONE_OF}"
    if first["type"] == "union_tag_not_found":
        return f"the message has no 'type': send a {_ONE_OF} message"
    if first["type"] == "extra_forbidden":
        return f"unknown field {where!r}"
    if first["type"] == "missing":
        return f"missing field {where!r}"
    message = clip(first["msg"], 2 * ECHO_MAX)
    return f"{where}: {message}" if where else message
