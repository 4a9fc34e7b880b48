"""docs/protocol.md shows every message, and every example there is what the models accept; it and
the README show every job parameter of the schema (service/engine/params.py) with its default."""

from __future__ import annotations

import json
import re
import typing

from ws_jobs import ROOT

from service import protocol
from service.engine.params import KNOBS

DOC = ROOT / "docs" / "protocol.md"


def _examples() -> list[dict]:
    blocks = re.findall(r"```json\n(.*?)```", DOC.read_text(), flags=re.DOTALL)
    return [json.loads(block) for block in blocks]


def test_every_message_example_is_valid_protocol():
    messages = [example for example in _examples() if "type" in example]
    client_types = {m["type"] for m in messages if m["type"] in ("start", "cancel", "attach", "steer")}
    for message in messages:
        adapter = (protocol.client_message if message["type"] in client_types
                   else protocol.server_message)
        adapter.validate_python(message)
    server_types = {m["type"] for m in messages} - client_types
    assert client_types == {"start", "cancel", "attach", "steer"}
    assert server_types == {"accepted", "queued", "frame", "steered", "done", "error"}


def test_the_version_and_what_changed_are_documented():
    text = DOC.read_text()
    assert text.startswith(f"# nst service protocol, version {protocol.VERSION}\n")
    assert f"## What changed since version {protocol.VERSION - 1}" in text


def test_every_job_status_is_documented():
    text = DOC.read_text()
    for status in typing.get_args(protocol.JobStatus):
        assert f"`{status}`" in text, status


def test_every_error_code_is_documented():
    text = DOC.read_text()
    for code in typing.get_args(protocol.ErrorCode):
        assert f"| `{code}` |" in text, code


def test_the_results_example_has_the_shape_the_gallery_reads():
    results = next(example for example in _examples() if "results" in example)["results"]
    assert set(results[0]) >= {"job_id", "status", "created_at", "finished_at", "params", "model",
                               "size", "url", "thumbnail_url", "style_blend", "steers"}


def test_the_start_table_and_example_show_every_knob_with_its_default():
    text = DOC.read_text()
    start = next(example for example in _examples() if example.get("type") == "start")
    for knob in KNOBS:
        row = next((line for line in text.splitlines() if line.startswith(f"| `{knob.name}` |")),
                   None)
        assert row is not None, f"docs/protocol.md's start table has no row for {knob.name}"
        assert knob.default is None or knob.default_text in row, row
        assert knob.name in start


def test_the_readme_option_table_shows_every_knob_with_its_default():
    lines = (ROOT / "README.md").read_text().splitlines()
    for knob in KNOBS:
        row = next((line for line in lines if line.startswith(f"| `{knob.option}` |")), None)
        assert row is not None, f"README.md's option table has no row for {knob.option}"
        default = row.split("|")[2].strip()
        assert default == (knob.default_text if knob.default is not None else "the optimiser's")
