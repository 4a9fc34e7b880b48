"""docs/protocol.md shows every message, and every example there is what the models accept."""

from __future__ import annotations

import json
import re
import typing

from ws_jobs import ROOT

from service import protocol

DOC = ROOT / "docs" / "protocol.md"


def _examples() -> list[dict]:
    blocks = re.findall(r"```json\n(.*?)```", DOC.read_text(), flags=re.DOTALL)
    return [json.loads(block) for block in blocks]


def test_every_message_example_is_valid_protocol():
    messages = [example for example in _examples() if "type" in example]
    client_types = {m["type"] for m in messages if m["type"] in ("start", "cancel")}
    for message in messages:
        adapter = (protocol.client_message if message["type"] in client_types
                   else protocol.server_message)
        adapter.validate_python(message)
    server_types = {m["type"] for m in messages} - client_types
    assert client_types == {"start", "cancel"}
    assert server_types == {"accepted", "queued", "frame", "done", "error"}


def test_every_error_code_is_documented():
    text = DOC.read_text()
    for code in typing.get_args(protocol.ErrorCode):
        assert f"| `{code}` |" in text, code


def test_the_results_example_has_the_shape_the_gallery_reads():
    results = next(example for example in _examples() if "results" in example)["results"]
    assert set(results[0]) >= {"job_id", "status", "created_at", "finished_at", "params", "model",
                               "size", "url", "thumbnail_url"}
