"""Storage that dies mid-job, and a SIGTERM mid-job: the result is never lost, the exit is clean.

Each test has its own SeaweedFS and service, since it breaks them.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time

import pytest
from websockets.exceptions import InvalidStatus
from ws_jobs import (PNG_MAGIC, decode_data_uri, get_json, http_get, image_size, open_socket,
                     receive, receive_until, run_job, start, wait_until)

LONG = {"epochs": 60, "steps_per_epoch": 20, "size": 64}


def test_storage_down_mid_job_gives_the_image_inline_and_readyz_503(
        start_s3_server, start_service, pictures):
    storage = start_s3_server(bucket="nst-outage")
    server = start_service(s3=storage, NST_S3_ATTEMPTS="3", NST_S3_BACKOFF_S="0.1",
                           NST_S3_TIMEOUT_S="2")
    with open_socket(server.ws_url) as socket:
        socket.send(start(pictures.content, pictures.style, epochs=4, steps_per_epoch=10, size=64))
        accepted = receive(socket)
        assert receive(socket)["type"] == "frame"
        storage.kill()
        *frames, done = receive_until(socket, timeout_s=60)

    assert frames[-1]["epoch"] == 4  # the final frame still arrives before `done`
    assert done["type"] == "done" and done["stored"] is False and done["result"] is None
    assert done["status"] == "finished" and "cannot reach" in done["storage_error"]
    # Clients learn that storage failed, never where it lives.
    address = storage.endpoint.removeprefix("http://")
    assert address not in done["storage_error"] and "127.0.0.1" not in done["storage_error"]
    header, png = decode_data_uri(done["image"])
    assert header == "data:image/png;base64" and png.startswith(PNG_MAGIC)
    assert image_size(png) == (accepted["output_size"]["width"], accepted["output_size"]["height"])

    status, body = get_json(f"{server.http_url}/readyz")
    assert status == 503 and "storage" in body["reason"]
    assert address not in body["reason"] and "127.0.0.1" not in body["reason"]
    assert address in server.log()  # the operator's log says where
    assert http_get(f"{server.http_url}/healthz")[0] == 200  # alive: no restart for an outage
    status, body = get_json(f"{server.http_url}/v1/results",
                            headers={"X-NST-Tokens": accepted["resume_token"]})
    assert status == 503 and address not in body["error"]["message"]

    storage.start()
    assert wait_until(lambda: http_get(f"{server.http_url}/readyz")[0] == 200, 30)
    assert run_job(server.ws_url, pictures.content, pictures.style, epochs=1, steps_per_epoch=1,
                   size=64)[-1]["stored"] is True


def test_sigterm_lets_the_job_end_as_interrupted_stored_and_exits_0(start_service, s3, pictures):
    server = start_service(NST_SHUTDOWN_GRACE_S="1")
    with open_socket(server.ws_url) as running, open_socket(server.ws_url) as waiting:
        running.send(start(pictures.content, pictures.style, **LONG))
        accepted = receive(running)
        assert receive(running)["type"] == "frame"
        waiting.send(start(pictures.content, pictures.style, **LONG))
        assert receive(waiting)["position"] == 1

        server.process.send_signal(signal.SIGTERM)
        signalled = time.monotonic()
        assert receive(waiting, timeout_s=10)["code"] == "shutting_down"
        # Draining: new clients are told so at the handshake, and /readyz sends traffic elsewhere.
        with pytest.raises(InvalidStatus) as refused:
            open_socket(server.ws_url)
        assert refused.value.response.status_code == 503
        assert json.loads(refused.value.response.body)["error"]["code"] == "shutting_down"
        assert get_json(f"{server.http_url}/readyz")[0] == 503

        *frames, done = receive_until(running, timeout_s=60)

    assert done["type"] == "done" and done["status"] == "interrupted" and done["stored"] is True
    assert done["job_id"] == accepted["job_id"]
    epochs_done = frames[-1]["epoch"]
    assert 1 < epochs_done < LONG["epochs"]
    metadata = json.loads(s3.get_object(Bucket=done["result"]["bucket"],
                                        Key=done["result"]["metadata_key"])["Body"].read())
    assert metadata["status"] == "interrupted" and metadata["epochs_done"] == epochs_done
    assert len(metadata["losses"]) == epochs_done
    png = s3.get_object(Bucket=done["result"]["bucket"], Key=done["result"]["key"])["Body"].read()
    assert png.startswith(PNG_MAGIC)

    # Grace 1 s, then the epoch under way (< 1 s here) and the upload, then the exit.
    try:
        exit_code = server.process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"still running 20 s after SIGTERM:\n{server.log()[-2000:]}") from None
    assert exit_code == 0
    assert time.monotonic() - signalled < 20
    assert "event=drained" in server.log()
