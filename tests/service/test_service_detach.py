"""Jobs outlive their socket: a job whose client goes runs to its end and is stored, and any
connection that presents the job's resume_token follows it again (protocol v2's `attach`)."""

from __future__ import annotations

import json
import os
import signal

from ws_jobs import (attach, get_json, open_socket, receive, receive_until, run_job, start,
                     wait_until)

SHORT = {"epochs": 2, "steps_per_epoch": 2, "size": 64}
# Long enough to reconnect in the middle: 20 epochs of 10 steps at 64 px take several seconds.
MEDIUM = {"epochs": 20, "steps_per_epoch": 10, "size": 64}


def _stored_job(server, accepted: dict, timeout_s: float = 60.0) -> dict:
    """The job's record from /v1/jobs once it is stored (read with its token)."""
    url = f"{server.http_url}/v1/jobs/{accepted['job_id']}"
    headers = {"X-NST-Token": accepted["resume_token"]}
    assert wait_until(lambda: get_json(url, headers=headers)[0] == 200, timeout_s)
    return get_json(url, headers=headers)[1]


def test_a_job_whose_client_vanishes_runs_to_its_end_and_is_stored(service_server, pictures):
    with open_socket(service_server.ws_url) as socket:
        socket.send(start(pictures.content, pictures.style, **MEDIUM))
        accepted = receive(socket)
        assert receive(socket)["type"] == "frame"
    # Gone without a word: the job goes on without anyone watching.
    job = _stored_job(service_server, accepted)
    assert job["status"] == "finished" and job["epochs_done"] == MEDIUM["epochs"]
    assert "event=job_detached" in service_server.log()


def test_a_client_that_stops_reading_does_not_hold_up_its_job(service_server, pictures):
    with open_socket(service_server.ws_url) as socket:
        socket.send(start(pictures.content, pictures.style, **MEDIUM))
        accepted = receive(socket)
        # Not another read while the job runs: it is stored all the same.
        job = _stored_job(service_server, accepted)
    assert job["status"] == "finished" and job["epochs_done"] == MEDIUM["epochs"]


def test_a_new_connection_attaches_mid_job_and_follows_it_to_done(service_server, pictures):
    with open_socket(service_server.ws_url) as first:
        first.send(start(pictures.content, pictures.style, **MEDIUM))
        accepted = receive(first)
        seen = receive(first)
        assert seen["type"] == "frame"
    with open_socket(service_server.ws_url) as second:
        attach(second, accepted)
        again, newest, *rest = receive_until(second)
    # The same `accepted` (with the position now), the newest frame at once, the rest, `done`.
    assert again == {**accepted, "position": 0}
    assert newest["type"] == "frame" and newest["epoch"] >= seen["epoch"]
    *frames, done = rest
    assert [frame["epoch"] for frame in frames] == sorted({f["epoch"] for f in frames})
    assert frames[-1]["epoch"] == MEDIUM["epochs"]
    assert done["type"] == "done" and done["status"] == "finished" and done["stored"] is True
    assert done["job_id"] == accepted["job_id"]


def test_an_attach_after_the_end_gets_the_last_frame_and_done(service_server, pictures):
    with open_socket(service_server.ws_url) as first:
        first.send(start(pictures.content, pictures.style, **SHORT))
        accepted = receive(first)
    _stored_job(service_server, accepted)
    with open_socket(service_server.ws_url) as second:
        attach(second, accepted)
        again, last_frame, done = receive_until(second)
    assert again["type"] == "accepted" and again["job_id"] == accepted["job_id"]
    assert last_frame["type"] == "frame" and last_frame["epoch"] == SHORT["epochs"]
    assert done["type"] == "done" and done["status"] == "finished"


def test_an_attach_takes_the_job_over_and_the_new_connection_may_cancel_it(service_server,
                                                                           pictures):
    with open_socket(service_server.ws_url) as first, \
            open_socket(service_server.ws_url) as second:
        first.send(start(pictures.content, pictures.style, **MEDIUM))
        accepted = receive(first)
        assert receive(first)["type"] == "frame"
        attach(second, accepted)
        assert receive(second)["type"] == "accepted"
        told = receive_until(first, types=("error",))[-1]
        assert told["code"] == "taken_over" and told["job_id"] == accepted["job_id"]
        # The old connection no longer commands the job; the new one does.
        first.send(json.dumps({"type": "cancel"}))
        assert "no job" in receive(first)["message"]
        second.send(json.dumps({"type": "cancel"}))
        done = receive_until(second)[-1]
    assert done["type"] == "done" and done["status"] == "cancelled" and done["stored"] is True
    assert _stored_job(service_server, accepted)["status"] == "cancelled"


def test_a_wrong_token_and_an_unknown_job_get_the_same_refusal(service_server, pictures):
    accepted = run_job(service_server.ws_url, pictures.content, pictures.style, **SHORT)[0]
    with open_socket(service_server.ws_url) as socket:
        attach(socket, {**accepted, "resume_token": "not-the-token"})
        wrong_token = receive(socket)
        attach(socket, {**accepted, "job_id": "0" * 32})
        unknown_job = receive(socket)
        # The connection stays usable.
        attach(socket, accepted)
        assert receive(socket)["type"] == "accepted"
    assert wrong_token["code"] == unknown_job["code"] == "unknown_job"
    assert wrong_token["message"] == unknown_job["message"]
    assert wrong_token["job_id"] is None and accepted["job_id"] not in wrong_token["message"]


def test_a_cancel_while_the_result_is_stored_leaves_one_consistent_state(
        start_s3_server, start_service, pictures):
    storage = start_s3_server(bucket="nst-slow")
    server = start_service(s3=storage)
    with open_socket(server.ws_url) as socket:
        socket.send(start(pictures.content, pictures.style, epochs=3, steps_per_epoch=2, size=64))
        accepted = receive(socket)
        assert receive(socket)["type"] == "frame"
        # Storage freezes before the last epoch ends, so the job is still storing its result
        # when the cancel comes.
        os.kill(storage.process.pid, signal.SIGSTOP)
        try:
            while (frame := receive(socket))["epoch"] < 3:
                pass
            assert wait_until(lambda: "event=job_storing" in server.log(), 5)
            socket.send(json.dumps({"type": "cancel"}))
            assert wait_until(lambda: "event=stop_ignored" in server.log(), 5)
        finally:
            os.kill(storage.process.pid, signal.SIGCONT)
        done = receive_until(socket)[-1]
    # The whole image had been painted and was being stored: finished, as stored and as told.
    assert frame["step"] == frame["total_steps"]
    assert done["type"] == "done" and done["status"] == "finished" and done["stored"] is True
    assert _stored_job(server, accepted)["status"] == done["status"]
