"""Keys never reach the log: not as `?token=`, in any case or percent-encoding, nor anywhere else.

A logging filter on every handler `nst serve` configures (uvicorn's access and error logs, ours):
in each query string of a record, a parameter whose decoded name ends in `token` or `key`
(`token`, `TOKEN`, `%74oken`, `api_key`, `resume_token`) has its value replaced, and so does any
parameter whose decoded value holds a configured key; the keys themselves are replaced wherever
they appear, raw or percent-encoded.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from urllib.parse import quote, quote_plus, unquote_plus

REDACTED = "[redacted]"
SECRET_NAME_ENDINGS = ("token", "key")
_QUERY = re.compile(r"\?([^\s\"'<>]*)")
_MAX_DECODINGS = 4  # `%2574oken` decodes twice; more is no client's honest mistake


def fully_decoded(text: str) -> str:
    for _ in range(_MAX_DECODINGS):
        decoded = unquote_plus(text)
        if decoded == text:
            break
        text = decoded
    return text


class RedactSecrets(logging.Filter):
    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.secrets = [secret for secret in secrets if secret]
        forms = {form for secret in self.secrets
                 for form in (secret, quote(secret, safe=""), quote_plus(secret))}
        self._literal = (re.compile("|".join(re.escape(form) for form in sorted(forms, key=len,
                                                                               reverse=True)))
                         if forms else None)

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = self.redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(self.redact(arg) if isinstance(arg, str) else arg
                                for arg in record.args)
        return True

    def redact(self, text: str) -> str:
        if "?" in text:
            text = _QUERY.sub(lambda match: "?" + self._redact_query(match.group(1)), text)
        if self._literal is not None:
            text = self._literal.sub(REDACTED, text)
        return text

    def _redact_query(self, query: str) -> str:
        parameters = []
        for parameter in query.split("&"):
            name, separator, value = parameter.partition("=")
            if separator and self._secret(name, value):
                value = REDACTED
            parameters.append(name + separator + value)
        return "&".join(parameters)

    def _secret(self, name: str, value: str) -> bool:
        if fully_decoded(name).strip().casefold().endswith(SECRET_NAME_ENDINGS):
            return True
        decoded = fully_decoded(value)
        return any(secret in decoded for secret in self.secrets)
