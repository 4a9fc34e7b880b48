"""Who may connect: the API key (header or `?token=`) and, for browsers, the page's Origin."""

from __future__ import annotations

import hmac

from starlette.requests import HTTPConnection

from .protocol import ErrorCode
from .settings import Settings

# WebSocket close codes: a policy violation, and "try again later" (RFC 6455, 7.4.1).
POLICY_VIOLATION = 1008
TRY_AGAIN_LATER = 1012


def authorized(connection: HTTPConnection, settings: Settings) -> bool:
    if settings.api_key is None:
        return True
    expected = settings.api_key.get_secret_value().encode()
    header = connection.headers.get("authorization", "")
    offered = header[7:] if header.lower().startswith("bearer ") else ""
    offered = offered or connection.query_params.get("token", "")
    return hmac.compare_digest(offered.encode(), expected)


def socket_refusal(connection: HTTPConnection, settings: Settings,
                   accepting: bool) -> tuple[ErrorCode, str, int] | None:
    """Why a new socket may not stay open: (error code, message, close code), or None."""
    if not authorized(connection, settings):
        return ("unauthorized",
                "this service needs an API key: add ?token=KEY to the URL or an "
                "'Authorization: Bearer KEY' header", POLICY_VIOLATION)
    origin = connection.headers.get("origin")
    allowed = settings.allowed_origins
    if origin is not None and "*" not in allowed and origin.rstrip("/") not in allowed:
        return ("forbidden_origin",
                f"pages from {origin} may not use this service; the operator can add it to "
                "NST_ALLOWED_ORIGINS", POLICY_VIOLATION)
    if not accepting:
        return ("shutting_down", "the server is shutting down; connect again to reach another "
                "instance", TRY_AGAIN_LATER)
    return None
