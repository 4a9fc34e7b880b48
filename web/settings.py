"""The web app's configuration: read from the environment once at start, then passed down."""

from __future__ import annotations

from urllib.parse import urlencode, urlsplit, urlunsplit

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from service.settings import ApiKey, megabytes


class WebSettings(BaseSettings):
    """Every knob of `nst web`.

    The limits share their names with the service's settings, so one environment (as `make run`
    gives both processes) keeps the page's sliders and upload checks in step with what the service
    accepts. The service stays the judge: a value it refuses comes back as an `error` message.
    """

    model_config = SettingsConfigDict(frozen=True, extra="ignore")

    host: str = Field(default="127.0.0.1", validation_alias="NST_WEB_HOST")
    port: int = Field(default=8050, validation_alias=AliasChoices("WEB_PORT", "NST_WEB_PORT"))
    service_url: str = Field(default="ws://127.0.0.1:8000/ws/stylize",
                             validation_alias="NST_SERVICE_URL")
    api_key: ApiKey = Field(default=None, validation_alias="NST_API_KEY")
    debug: bool = Field(default=False, validation_alias="NST_WEB_DEBUG")

    default_size: int = Field(default=512, ge=16, validation_alias="NST_DEFAULT_SIZE")
    max_size: int = Field(default=1024, ge=16, validation_alias="NST_MAX_SIZE")
    max_epochs: int = Field(default=50, ge=1, validation_alias="NST_MAX_EPOCHS")
    max_steps_per_epoch: int = Field(default=500, ge=1, validation_alias="NST_MAX_STEPS_PER_EPOCH")
    max_upload_mb: float = Field(default=16.0, gt=0, validation_alias="NST_MAX_UPLOAD_MB")
    gallery_size: int = Field(default=12, ge=1, le=100, validation_alias="NST_WEB_GALLERY_SIZE")
    # The Dash server asks the service for the gallery; a slow service must not hang the page.
    service_timeout_s: float = Field(default=5.0, gt=0,
                                     validation_alias="NST_WEB_SERVICE_TIMEOUT_S")

    @field_validator("service_url")
    @classmethod
    def _must_be_websocket(cls, value: str) -> str:
        if urlsplit(value).scheme not in ("ws", "wss") or not urlsplit(value).netloc:
            raise ValueError(f"NST_SERVICE_URL must be a ws:// or wss:// URL, got {value!r}")
        return value

    @property
    def service_http_url(self) -> str:
        """The service's HTTP base (`ws://h:p/ws/stylize` -> `http://h:p`), for `/v1/results`."""
        parts = urlsplit(self.service_url)
        scheme = "https" if parts.scheme == "wss" else "http"
        return urlunsplit((scheme, parts.netloc, "", "", ""))

    @property
    def browser_socket_url(self) -> str:
        """The URL the browser opens. Browsers cannot set headers on a WebSocket, so the API key
        rides in the query string, where the page's visitors can read it (see the README)."""
        if self.api_key is None:
            return self.service_url
        parts = urlsplit(self.service_url)
        token = urlencode({"token": self.api_key.get_secret_value()})
        query = f"{parts.query}&{token}" if parts.query else token
        return urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))

    @property
    def max_upload_bytes(self) -> int:
        return megabytes(self.max_upload_mb)
