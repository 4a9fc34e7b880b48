"""A stored job's record (`metadata.json`) and its summary in `/v1/results`, as typed models.

The service writes `JobRecord`; `/v1/jobs/{id}` returns it with fresh URLs; `/v1/results` lists
`JobSummary` items, which the web app's gallery reads back.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from .protocol import JobStatus, OutputSize


class _Record(BaseModel):
    # Records written by older versions may carry fields this one does not know: keep them.
    model_config = ConfigDict(extra="allow", frozen=True)


class LossPoint(_Record):
    epoch: int
    step: int
    total: float
    style: float
    content: float
    tv: float
    elapsed_s: float


class Timings(_Record):
    queued_s: float
    stylize_s: float
    total_s: float


class StoredInput(_Record):
    """One uploaded image, stored byte for byte."""

    key: str
    content_type: str
    bytes: int
    width: int
    height: int


class ResultFiles(_Record):
    """Where the result and its thumbnail are stored."""

    key: str
    bytes: int
    thumbnail_key: str


class SteerPoint(_Record):
    step: int  # the first step that used `changes`
    changes: dict[str, float | list[float]]


class JobRecord(_Record):
    """`jobs/{job_id}/metadata.json`: everything about a finished, interrupted or cancelled job."""

    job_id: str
    status: JobStatus
    # SHA-256 of the job's resume_token, which reads and deletes it; never the token itself.
    # None in records written before protocol v2: those only an operator reads.
    token_sha256: str | None = None
    created_at: str  # ISO 8601, UTC, milliseconds
    started_at: str
    finished_at: str
    params: dict[str, object]  # every knob of StyleParams, as the job ran
    style_blend: list[float] = [1.0]  # the paintings' normalised weights, in `inputs`' order
    steers: list[SteerPoint] = []  # what `steer` changed, and from which step
    model: dict[str, object]  # ModelInfo.as_dict()
    size: OutputSize
    epochs_done: int
    steps_done: int
    losses: list[LossPoint]
    timings: Timings
    versions: dict[str, object]
    inputs: dict[str, StoredInput]  # "content", "style" (or "style-1" ... "style-4": a blend)
    result: ResultFiles


class JobSummary(_Record):
    """One item of `/v1/results`: what a gallery shows, with presigned URLs that are fresh."""

    job_id: str
    status: JobStatus | None = None
    created_at: str | None = None
    finished_at: str | None = None
    params: dict[str, object] = {}
    style_blend: list[float] = [1.0]
    steers: list[SteerPoint] = []
    model: dict[str, object] = {}
    size: OutputSize | None = None
    url: str
    thumbnail_url: str
    expires_in: int


# What a summary copies from a record; the rest of JobSummary is the URLs.
SUMMARY_FIELDS = ("job_id", "status", "created_at", "finished_at", "params", "style_blend", "steers",
                  "model", "size")
