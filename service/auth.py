"""Who may connect: the API key and, for browsers, the page's Origin.

The key travels in an `Authorization: Bearer KEY` header. Browsers cannot set headers on a
WebSocket, so a request that carries an Origin (a page) may send it as `?token=KEY` instead;
clients without an Origin (the CLI, scripts) must use the header, which no log records.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from pydantic import SecretStr
from starlette.requests import HTTPConnection

from .protocol import ErrorCode
from .settings import Settings

QUERY_TOKEN = "token"


@dataclass(frozen=True)
class Refusal:
    """Why a request is turned away: the HTTP status and the error a client can show."""

    status: int
    code: ErrorCode
    message: str


def bearer_token(connection: HTTPConnection) -> str:
    header = connection.headers.get("authorization", "")
    return header[7:].strip() if header[:7].lower() == "bearer " else ""


def offered_key(connection: HTTPConnection) -> str:
    """The key a request presents: the bearer header, else `?token=` from a browser page."""
    if token := bearer_token(connection):
        return token
    if "origin" in connection.headers:
        return connection.query_params.get(QUERY_TOKEN, "")
    return ""


def matches(offered: str, *keys: SecretStr | None) -> bool:
    """Whether `offered` is one of the keys that are set, compared in constant time."""
    found = False
    for key in keys:
        if key is not None:
            found |= hmac.compare_digest(offered.encode(), key.get_secret_value().encode())
    return found


def authorized(connection: HTTPConnection, settings: Settings) -> bool:
    return settings.api_key is None or matches(offered_key(connection), settings.api_key)


def operator_authorized(connection: HTTPConnection, settings: Settings) -> bool:
    """For operators' routes (/metrics): a bearer header with NST_API_KEY or NST_ADMIN_KEY, when
    either is set."""
    if settings.api_key is None and settings.admin_key is None:
        return True
    return matches(bearer_token(connection), settings.api_key, settings.admin_key)


def socket_refusal(connection: HTTPConnection, settings: Settings,
                   accepting: bool) -> Refusal | None:
    """Why a new socket may not open, or None."""
    if not authorized(connection, settings):
        return Refusal(403, "unauthorized", "this service needs an API key: send an "
                       "'Authorization: Bearer KEY' header (browser pages: ?token=KEY)")
    origin = connection.headers.get("origin")
    allowed = settings.allowed_origins
    if origin is not None and "*" not in allowed and origin.rstrip("/") not in allowed:
        return Refusal(403, "forbidden_origin", f"pages from {origin[:80]} may not use this "
                       "service; the operator can add it to NST_ALLOWED_ORIGINS")
    if not accepting:
        return Refusal(503, "shutting_down", "the server is shutting down; connect again to "
                       "reach another instance")
    return None
