"""A cancel and a SIGTERM stop a job inside a long epoch within a step, and a shape the network
cannot take is refused before the job is queued."""

from __future__ import annotations

import io
import json
import signal
import time

import pytest
from PIL import Image
from ws_jobs import PNG_MAGIC, open_socket, receive, receive_until, start

# One epoch of 5000 steps at 64 px: about five minutes of work, so only a stop inside the epoch
# can end it in time.
ONE_LONG_EPOCH = {"epochs": 1, "steps_per_epoch": 5000, "size": 64}
# One step at 64 px takes 0.02-0.1 s here; the bound is a step plus 0.5 s, with room for a busy CI.
STOP_BOUND_S = 2.0


LONG_EPOCHS = {"NST_MAX_STEPS_PER_EPOCH": "5000", "NST_SHUTDOWN_GRACE_S": "0"}


@pytest.fixture(scope="module")
def long_epochs_server(start_service):
    return start_service(**LONG_EPOCHS)


def test_a_cancel_inside_a_long_epoch_ends_the_job_within_a_step(long_epochs_server, pictures):
    with open_socket(long_epochs_server.ws_url) as socket:
        socket.send(start(pictures.content, pictures.style, **ONE_LONG_EPOCH))
        assert receive(socket)["type"] == "accepted"
        time.sleep(2.0)  # well into the epoch
        socket.send(json.dumps({"type": "cancel"}))
        cancelled = time.monotonic()
        messages = receive_until(socket, timeout_s=30)
        latency = time.monotonic() - cancelled
    assert messages[-1]["code"] == "cancelled"
    assert latency < STOP_BOUND_S


def test_sigterm_inside_a_long_epoch_stores_the_image_reached(start_service, s3, pictures):
    server = start_service(**LONG_EPOCHS)
    with open_socket(server.ws_url) as socket:
        socket.send(start(pictures.content, pictures.style, **ONE_LONG_EPOCH))
        assert receive(socket)["type"] == "accepted"
        time.sleep(2.0)
        server.process.send_signal(signal.SIGTERM)
        signalled = time.monotonic()
        *frames, done = receive_until(socket, timeout_s=30)
        latency = time.monotonic() - signalled
    assert done["type"] == "done" and done["status"] == "interrupted" and done["stored"] is True
    assert latency < STOP_BOUND_S + 3.0  # the stop, then encoding and storing the image
    [frame] = frames
    assert 0 < frame["step"] < ONE_LONG_EPOCH["steps_per_epoch"]
    metadata = json.loads(s3.get_object(Bucket=done["result"]["bucket"],
                                        Key=done["result"]["metadata_key"])["Body"].read())
    assert metadata["steps_done"] == frame["step"]
    png = s3.get_object(Bucket=done["result"]["bucket"], Key=done["result"]["key"])["Body"].read()
    assert png.startswith(PNG_MAGIC)
    assert server.process.wait(timeout=20) == 0


def test_a_photo_too_elongated_to_paint_is_refused_before_the_queue(service_server, pictures):
    buffer = io.BytesIO()
    Image.new("RGB", (2000, 40), (90, 120, 200)).save(buffer, "PNG")
    with open_socket(service_server.ws_url) as socket:
        socket.send(start(buffer.getvalue(), pictures.style, size=256))
        reply = receive(socket)
    assert reply["type"] == "error" and reply["code"] == "bad_image"
    assert "content image is 2000x40 px" in reply["message"]
    assert "at least 16 px" in reply["message"]
