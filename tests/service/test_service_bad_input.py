"""Every kind of bad input gets its error code, and the same connection then runs a job normally."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from PIL import Image
from websockets.exceptions import ConnectionClosed
from ws_jobs import b64, is_cancelled, open_socket, receive, receive_until, run_job, start


def _png(width: int, height: int, noise: bool = False) -> bytes:
    pixels = (np.random.default_rng(0).integers(0, 256, (height, width, 3), dtype=np.uint8)
              if noise else np.full((height, width, 3), 200, np.uint8))
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "PNG")
    return buffer.getvalue()


def _gif() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (32, 32), "red").save(buffer, "GIF")
    return buffer.getvalue()


def _valid(pictures) -> dict:
    return {"type": "start", "content": b64(pictures.content), "style": b64(pictures.style),
            "epochs": 1, "steps_per_epoch": 1, "size": 64}


# (case id, how to break a valid start message, expected code, words the message must contain)
BAD_MESSAGES = [
    ("not-json", lambda p: "{this is not json", "bad_request", "not valid JSON"),
    ("not-an-object", lambda p: "[1, 2]", "bad_request", "JSON object"),
    ("no-type", lambda p: {k: v for k, v in _valid(p).items() if k != "type"}, "bad_request",
     "no 'type': send a 'start', 'cancel', 'attach' or 'steer' message"),
    ("unknown-type", lambda p: {**_valid(p), "type": "paint"}, "bad_request",
     "'paint': send 'start', 'cancel', 'attach' or 'steer'"),
    ("missing-style", lambda p: {k: v for k, v in _valid(p).items() if k != "style"},
     "bad_request", "style"),
    ("unknown-field", lambda p: {**_valid(p), "epoch": 3}, "bad_request", "'epoch'"),
    ("string-number", lambda p: {**_valid(p), "epochs": "3"}, "bad_request", "epochs"),
    ("zero-epochs", lambda p: {**_valid(p), "epochs": 0}, "bad_request", "epochs"),
    ("negative-weight", lambda p: {**_valid(p), "tv_weight": -1}, "bad_request", "tv_weight"),
    ("unknown-init", lambda p: {**_valid(p), "init": "paint"}, "bad_request", "init"),
    ("epochs-over-limit", lambda p: {**_valid(p), "epochs": 61}, "bad_request", "NST_MAX_EPOCHS"),
    ("steps-over-limit", lambda p: {**_valid(p), "steps_per_epoch": 21}, "bad_request",
     "NST_MAX_STEPS_PER_EPOCH"),
    ("size-over-limit", lambda p: {**_valid(p), "size": 257}, "bad_request", "NST_MAX_SIZE"),
    ("size-too-small", lambda p: {**_valid(p), "size": 8}, "bad_request", "size"),
    ("not-base64", lambda p: {**_valid(p), "content": "this is not base64!"}, "bad_image",
     "content"),
    ("text-data-uri", lambda p: {**_valid(p), "style": "data:text/plain;base64,aGVsbG8="},
     "bad_image", "style"),
    ("not-an-image", lambda p: {**_valid(p), "content": b64(b"just some words " * 10)},
     "bad_image", "not a PNG, JPEG or WebP"),
    ("gif", lambda p: {**_valid(p), "style": b64(_gif())}, "bad_image", "GIF"),
    ("truncated-jpeg", lambda p: {**_valid(p), "content": b64(p.content[: len(p.content) // 2])},
     "bad_image", "truncated"),
    ("too-many-pixels", lambda p: {**_valid(p), "content": b64(_png(1500, 1500))}, "bad_image",
     "pixels"),
    ("too-many-bytes", lambda p: {**_valid(p), "style": b64(_png(900, 900, noise=True))},
     "bad_image", "MB"),
]


@pytest.mark.parametrize("make, code, words", [case[1:] for case in BAD_MESSAGES],
                         ids=[case[0] for case in BAD_MESSAGES])
def test_bad_start_gets_its_code_then_the_connection_still_works(service_server, pictures, make,
                                                                 code, words):
    message = make(pictures)
    with open_socket(service_server.ws_url) as socket:
        socket.send(message if isinstance(message, str) else json.dumps(message))
        error = receive(socket)
        assert error["type"] == "error" and error["code"] == code, error
        assert words in error["message"]

        socket.send(start(pictures.content, pictures.style, epochs=1, steps_per_epoch=1, size=64))
        assert receive_until(socket)[-1]["type"] == "done"


def test_a_data_uri_is_as_good_as_plain_base64(service_server, pictures):
    with open_socket(service_server.ws_url) as socket:
        socket.send(json.dumps({**_valid(pictures),
                                "content": "data:image/jpeg;base64," + b64(pictures.content)}))
        assert receive_until(socket)[-1]["type"] == "done"


def test_binary_messages_and_stray_cancels_are_refused(service_server, pictures):
    with open_socket(service_server.ws_url) as socket:
        socket.send(b"\x00\x01 binary")
        assert receive(socket)["code"] == "bad_request"
        socket.send(json.dumps({"type": "cancel"}))
        refusal = receive(socket)
        assert refusal["code"] == "bad_request" and "no job" in refusal["message"]


def test_a_second_start_while_a_job_runs_is_refused(service_server, pictures):
    with open_socket(service_server.ws_url) as socket:
        socket.send(start(pictures.content, pictures.style, epochs=30, steps_per_epoch=5, size=64))
        job_id = receive(socket)["job_id"]
        socket.send(start(pictures.content, pictures.style, epochs=1, steps_per_epoch=1, size=64))
        messages = receive_until(socket, types=("error",))
        assert messages[-1]["code"] == "bad_request" and job_id in messages[-1]["message"]
        socket.send(json.dumps({"type": "cancel"}))
        assert is_cancelled(receive_until(socket)[-1])


def test_a_message_over_the_socket_limit_closes_only_that_connection(service_server, pictures):
    # NST_MAX_UPLOAD_MB=2: uvicorn takes messages up to 5 x 2 MB of base64 (~13.5 MB; the photo
    # and four paintings), no more.
    with open_socket(service_server.ws_url) as socket:
        with pytest.raises(ConnectionClosed) as closed:
            # The server may close while the message is still going out.
            socket.send(json.dumps({**_valid(pictures), "content": "A" * 14_500_000}))
            receive(socket, timeout_s=30)
    # 1009 "message too big"; when the server closes while the message is still going out, the
    # client may see the stream end before the close frame: only a refusal ends the send early.
    assert closed.value.rcvd is None or closed.value.rcvd.code == 1009, closed.value
    assert run_job(service_server.ws_url, pictures.content, pictures.style, epochs=1,
                   steps_per_epoch=1, size=64)[-1]["type"] == "done"
