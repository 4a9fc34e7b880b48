"""A cancel and a SIGTERM stop a job inside a long epoch within a step and store the image it
reached, and a shape the network cannot take is refused before the job is queued."""

from __future__ import annotations

import io
import json
import signal
import time

import pytest
from PIL import Image
from ws_jobs import PNG_MAGIC, get_json, open_socket, receive, receive_until, start

# One epoch of 5000 steps at 64 px: about five minutes of work, so only a stop inside the epoch
# can end it in time.
ONE_LONG_EPOCH = {"epochs": 1, "steps_per_epoch": 5000, "size": 64}
# One step at 64 px takes 0.02-0.1 s here; the bound is a step plus 0.5 s, with room for a busy CI.
STOP_BOUND_S = 2.0


LONG_EPOCHS = {"NST_MAX_STEPS_PER_EPOCH": "5000", "NST_SHUTDOWN_GRACE_S": "0"}


@pytest.fixture(scope="module")
def long_epochs_server(start_service):
    return start_service(**LONG_EPOCHS)


def test_a_cancel_inside_a_long_epoch_stores_the_image_reached_as_cancelled(
        long_epochs_server, s3, pictures):
    with open_socket(long_epochs_server.ws_url) as socket:
        socket.send(start(pictures.content, pictures.style, **ONE_LONG_EPOCH))
        accepted = receive(socket)
        time.sleep(2.0)  # well into the epoch
        socket.send(json.dumps({"type": "cancel"}))
        cancelled = time.monotonic()
        frame, done = receive_until(socket, timeout_s=30)
        latency = time.monotonic() - cancelled
    assert frame["type"] == "frame" and 0 < frame["step"] < ONE_LONG_EPOCH["steps_per_epoch"]
    assert done["type"] == "done" and done["status"] == "cancelled" and done["stored"] is True
    assert latency < STOP_BOUND_S + 3.0  # the stop, then encoding and storing the image
    metadata = _stored_metadata(s3, done)
    assert metadata["status"] == "cancelled" and metadata["steps_done"] == frame["step"]
    assert _stored_png(s3, done).startswith(PNG_MAGIC)
    status, job = get_json(f"{long_epochs_server.http_url}/v1/jobs/{done['job_id']}",
                           headers={"X-NST-Token": accepted["resume_token"]})
    assert status == 200 and job["status"] == "cancelled"


def test_sigterm_stores_the_image_reached_as_interrupted_before_the_grace_ends(
        start_service, s3, pictures):
    grace_s = 8.0
    server = start_service(NST_MAX_STEPS_PER_EPOCH="5000", NST_SHUTDOWN_GRACE_S=str(grace_s))
    with open_socket(server.ws_url) as socket:
        socket.send(start(pictures.content, pictures.style, **ONE_LONG_EPOCH))
        assert receive(socket)["type"] == "accepted"
        time.sleep(2.0)
        server.process.send_signal(signal.SIGTERM)
        signalled = time.monotonic()
        frame, done = receive_until(socket, timeout_s=30)
        told_after_s = time.monotonic() - signalled
    assert done["type"] == "done" and done["status"] == "interrupted" and done["stored"] is True
    # The job ran on for most of the grace (a stop is kept for its last seconds), and its image
    # was stored before the grace ended, when a platform would SIGKILL.
    assert grace_s / 2 - 1.0 < told_after_s < grace_s
    assert 0 < frame["step"] < ONE_LONG_EPOCH["steps_per_epoch"]
    metadata = _stored_metadata(s3, done)
    assert metadata["status"] == "interrupted" and metadata["steps_done"] == frame["step"]
    assert _stored_png(s3, done).startswith(PNG_MAGIC)
    assert server.process.wait(timeout=20) == 0
    assert time.monotonic() - signalled < grace_s + 3.0  # uvicorn closes the sockets, then exits


def test_sigterm_stores_a_job_that_no_socket_follows(start_service, s3, pictures):
    grace_s = 6.0
    server = start_service(NST_MAX_STEPS_PER_EPOCH="5000", NST_SHUTDOWN_GRACE_S=str(grace_s))
    with open_socket(server.ws_url) as socket:
        socket.send(start(pictures.content, pictures.style, **ONE_LONG_EPOCH))
        accepted = receive(socket)
    time.sleep(1.0)
    server.process.send_signal(signal.SIGTERM)
    signalled = time.monotonic()
    assert server.process.wait(timeout=30) == 0
    # It waited for the job nobody followed (all but the grace's last half), then stored it.
    assert grace_s / 2 - 1.0 < time.monotonic() - signalled < grace_s + 3.0
    metadata = json.loads(s3.get_object(Bucket=server.storage.bucket,
                                        Key=f"jobs/{accepted['job_id']}/metadata.json")
                          ["Body"].read())
    assert metadata["status"] == "interrupted"
    assert 0 < metadata["steps_done"] < ONE_LONG_EPOCH["steps_per_epoch"]


def _stored_metadata(s3, done: dict) -> dict:
    return json.loads(s3.get_object(Bucket=done["result"]["bucket"],
                                    Key=done["result"]["metadata_key"])["Body"].read())


def _stored_png(s3, done: dict) -> bytes:
    return s3.get_object(Bucket=done["result"]["bucket"], Key=done["result"]["key"])["Body"].read()


def test_a_photo_too_elongated_to_paint_is_refused_before_the_queue(service_server, pictures):
    buffer = io.BytesIO()
    Image.new("RGB", (2000, 40), (90, 120, 200)).save(buffer, "PNG")
    with open_socket(service_server.ws_url) as socket:
        socket.send(start(buffer.getvalue(), pictures.style, size=256))
        reply = receive(socket)
    assert reply["type"] == "error" and reply["code"] == "bad_image"
    assert "content image is 2000x40 px" in reply["message"]
    assert "at least 16 px" in reply["message"]
