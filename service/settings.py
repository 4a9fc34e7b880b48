"""The service's configuration: read from the environment once at start, then passed down."""

from __future__ import annotations

from typing import Annotated

from pydantic import AliasChoices, BeforeValidator, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


# An empty NST_API_KEY (as templates and compose files often leave it) means no key, not "".
ApiKey = Annotated[SecretStr | None, BeforeValidator(lambda value: None if value == "" else value)]


def megabytes(value: float) -> int:
    return int(value * 1024 * 1024)


class Settings(BaseSettings):
    """Every knob of `nst serve`. Environment names are `NST_*`, except the ones platforms set."""

    model_config = SettingsConfigDict(env_prefix="NST_", frozen=True, extra="ignore")

    # Network. Cloud Run and most platforms set PORT; the GPU image sets NST_HOST=0.0.0.0.
    host: str = "127.0.0.1"
    port: int = Field(default=8000, validation_alias=AliasChoices("PORT", "NST_PORT"))
    log_level: str = "info"

    # Model.
    backbone: str | None = None  # vgg19, or vgg16 with the offline weights (VGG16's only)
    weights: str = "auto"
    precision: str = "auto"  # float32, bfloat16, or auto: bfloat16 where the hardware has it
    # The engine runs in a child process, replaced after a job once it has grown by more than this
    # since it warmed up (TensorFlow keeps kernels for every image shape it has run; 0: after
    # every job). See service/engine_process.py.
    engine_recycle_mb: float = Field(default=150.0, ge=0)

    # Work and queueing.
    max_concurrent_jobs: int = Field(default=1, ge=1)
    max_queue: int = Field(default=8, ge=0)
    shutdown_grace_s: float = Field(default=20.0, ge=0)
    # How long a job whose socket went stays attachable after it ends (it runs on regardless).
    detach_grace_s: float = Field(default=300.0, ge=0)
    # Running or waiting jobs one client (address) may hold; a person runs one at a time.
    max_jobs_per_client: int = Field(default=4, ge=1)

    # Sockets. An idle one (no job running on it) is closed after this long; beyond the cap new
    # ones are refused at the handshake (503), so idle tabs cannot hold an instance.
    idle_timeout_s: float = Field(default=120.0, gt=0)
    max_connections: int = Field(default=16, ge=1)

    # Limits on what a client may ask for.
    default_size: int = Field(default=512, ge=16)
    max_size: int = Field(default=1024, ge=16)
    max_epochs: int = Field(default=50, ge=1)
    max_steps_per_epoch: int = Field(default=500, ge=1)
    max_upload_mb: float = Field(default=16.0, gt=0)
    max_pixels: int = Field(default=40_000_000, ge=1)
    # A client sends a `start` and perhaps a `cancel`; one sending more than this (a second's
    # worth at once, or on average) is flooding and is closed with 1008.
    max_messages_per_s: float = Field(default=10.0, gt=0)

    # Security. An empty origin list admits only clients that send no Origin header (CLI, scripts);
    # browsers need their page's origin listed, or "*".
    api_key: ApiKey = None
    # The operator's key: /metrics (and what else needs more than NST_API_KEY); never given to
    # the web app.
    admin_key: ApiKey = None
    allowed_origins: Annotated[list[str], NoDecode] = []

    # Results. Each is private to the holder of its job's resume_token (and the operator's admin
    # key) unless the gallery is public; stored jobs are deleted after retention_days (0: never).
    public_gallery: bool = False
    retention_days: float = Field(default=30.0, ge=0)

    # Object storage (any S3-compatible endpoint; credentials come from AWS_* as boto3 reads them).
    s3_endpoint: str = ""
    s3_bucket: str = "nst-results"
    s3_prefix: str = ""
    s3_region: str = "us-east-1"
    url_expires_s: int = Field(default=3600, ge=1, le=7 * 24 * 3600)
    # Transient storage errors are retried with exponential backoff: 0.25, 0.5, 1 s by default,
    # so a job waits under 2 s (plus timeouts) before it falls back to sending the image inline.
    s3_attempts: int = Field(default=4, ge=1, le=10)
    s3_backoff_s: float = Field(default=0.25, ge=0)
    s3_timeout_s: float = Field(default=5.0, gt=0)

    @field_validator("allowed_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [origin.strip().rstrip("/") for origin in value.split(",") if origin.strip()]
        return value

    @property
    def max_upload_bytes(self) -> int:
        return megabytes(self.max_upload_mb)
