"""Who may read or delete a stored job: the holder of its resume_token, or the operator.

A job's record keeps only the SHA-256 of its token (`token_sha256`); the storage keeps an entry
`tokens/{sha256}` naming the job, so `/v1/results` finds a caller's jobs from its tokens alone.
The tokens are 192 random bits, so a plain hash cannot be reversed by guessing.
"""

from __future__ import annotations

import hashlib
import hmac

from starlette.requests import HTTPConnection

from .settings import Settings

TOKEN_HEADER = "x-nst-token"  # one job's token: /v1/jobs/{id}
TOKENS_HEADER = "x-nst-tokens"  # comma-separated: /v1/results
MAX_TOKENS = 100


class TooManyTokens(Exception):
    """More than MAX_TOKENS tokens in one request."""


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def is_admin(connection: HTTPConnection, settings: Settings) -> bool:
    """`Authorization: Bearer NST_ADMIN_KEY`: the operator reads and deletes every job."""
    if settings.admin_key is None:
        return False
    header = connection.headers.get("authorization", "")
    offered = header[7:] if header.lower().startswith("bearer ") else ""
    return hmac.compare_digest(offered.encode(), settings.admin_key.get_secret_value().encode())


def holds_token(connection: HTTPConnection, record: dict) -> bool:
    """The request's X-NST-Token is the job's resume_token."""
    expected = record.get("token_sha256")
    offered = connection.headers.get(TOKEN_HEADER, "")
    return bool(expected and offered) and hmac.compare_digest(token_digest(offered), expected)


def offered_digests(connection: HTTPConnection) -> list[str]:
    """The digests of X-NST-Tokens, in the order given, without repeats."""
    tokens = [token.strip() for token in connection.headers.get(TOKENS_HEADER, "").split(",")]
    digests = list(dict.fromkeys(token_digest(token) for token in tokens if token))
    if len(digests) > MAX_TOKENS:
        raise TooManyTokens()
    return digests
