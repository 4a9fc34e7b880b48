"""One job at a time, a bounded queue with live positions, and cancellation that frees the slot.

A "long" job here is 60 epochs of 20 steps at 64 px: over half a minute on this machine, so a
next job that starts within seconds proves the slot was freed, not that the job ended.
"""

from __future__ import annotations

import json
import time

from ws_jobs import (API_KEY, get_json, is_cancelled, open_socket, receive, receive_until, start,
                     wait_until)

LONG = {"epochs": 60, "steps_per_epoch": 20, "size": 64}
SHORT = {"epochs": 2, "steps_per_epoch": 2, "size": 64}
PROMPT_S = 15.0


def _running(server, **headers) -> int:
    return get_json(f"{server.http_url}/readyz", **headers)[1]["running"]


def test_cancel_stops_the_job_within_an_epoch_and_frees_the_slot(service_server, pictures):
    with open_socket(service_server.ws_url) as socket:
        socket.send(start(pictures.content, pictures.style, **LONG))
        assert receive(socket)["type"] == "accepted"
        assert receive(socket)["type"] == "frame"
        socket.send(json.dumps({"type": "cancel"}))
        after_cancel = receive_until(socket, timeout_s=PROMPT_S)
    assert after_cancel[-1]["type"] == "done" and after_cancel[-1]["status"] == "cancelled"
    # At most the frame of the epoch under way (and one sent as the cancel crossed it), then
    # `done`.
    assert len(after_cancel) <= 3
    assert wait_until(lambda: _running(service_server) == 0, 5)

    began = time.monotonic()
    with open_socket(service_server.ws_url) as socket:
        socket.send(start(pictures.content, pictures.style, **SHORT))
        messages = receive_until(socket, timeout_s=PROMPT_S)
    assert messages[0]["position"] == 0 and messages[-1]["type"] == "done"
    assert time.monotonic() - began < PROMPT_S


def test_a_second_client_waits_with_its_position_and_a_third_is_told_busy(strict_server, pictures):
    auth = {"additional_headers": {"Authorization": f"Bearer {API_KEY}"}}
    with open_socket(strict_server.ws_url, **auth) as first, \
            open_socket(strict_server.ws_url, **auth) as second, \
            open_socket(strict_server.ws_url, **auth) as third:
        first.send(start(pictures.content, pictures.style, **LONG))
        assert receive(first)["position"] == 0
        assert receive(first)["type"] == "frame"

        second.send(start(pictures.content, pictures.style, **SHORT))
        waiting = receive(second)
        assert waiting["type"] == "accepted" and waiting["position"] == 1

        # NST_MAX_QUEUE=1: one running, one waiting, so the third is refused at once.
        third.send(start(pictures.content, pictures.style, **SHORT))
        refusal = receive(third, timeout_s=5)
        assert refusal["code"] == "busy" and "queue is full" in refusal["message"]

        first.send(json.dumps({"type": "cancel"}))
        assert is_cancelled(receive_until(first)[-1])
        messages = receive_until(second, timeout_s=PROMPT_S)
        assert messages[0] == {"type": "queued", "job_id": waiting["job_id"], "position": 0,
                               "wait_s": 0.0}
        assert {m["type"] for m in messages[1:-1]} == {"frame"} and messages[-2]["epoch"] == 2
        assert messages[-1]["type"] == "done" and messages[-1]["job_id"] == waiting["job_id"]

        # With the queue empty again, the third client's retry is served.
        third.send(start(pictures.content, pictures.style, **SHORT))
        assert receive_until(third)[-1]["type"] == "done"


def test_cancelling_a_queued_job_takes_it_out_of_the_queue(strict_server, pictures):
    auth = {"additional_headers": {"Authorization": f"Bearer {API_KEY}"}}
    with open_socket(strict_server.ws_url, **auth) as first, \
            open_socket(strict_server.ws_url, **auth) as second:
        first.send(start(pictures.content, pictures.style, **LONG))
        assert receive(first)["position"] == 0
        second.send(start(pictures.content, pictures.style, **SHORT))
        assert receive(second)["position"] == 1
        second.send(json.dumps({"type": "cancel"}))
        refusal = receive(second, timeout_s=5)
        assert refusal["code"] == "cancelled" and "before it started" in refusal["message"]
        status, ready = get_json(f"{strict_server.http_url}/readyz")
        assert ready["queued"] == 0 and ready["running"] == 1
        first.send(json.dumps({"type": "cancel"}))
        assert is_cancelled(receive_until(first)[-1])


def test_a_waiting_job_is_told_its_wait_within_half_of_the_real_one(service_server, pictures):
    """The running job's own pace times its steps left, plus the work of the jobs between."""
    running_job = {"epochs": 12, "steps_per_epoch": 10, "size": 64}
    with open_socket(service_server.ws_url) as first, \
            open_socket(service_server.ws_url) as second, \
            open_socket(service_server.ws_url) as third:
        first.send(start(pictures.content, pictures.style, **running_job))
        assert receive(first)["position"] == 0
        for _ in range(3):  # a pace from a few epochs, the first one's set-up diluted
            assert receive(first)["type"] == "frame"
        second.send(start(pictures.content, pictures.style, **SHORT))
        waiting = receive(second)
        accepted_at = time.monotonic()
        third.send(start(pictures.content, pictures.style, **SHORT))
        last = receive(third)
        assert (waiting["position"], last["position"]) == (1, 2)
        assert waiting["wait_s"] > 0 and last["wait_s"] > waiting["wait_s"]

        started = receive_until(second, types=("queued",))[-1]
        real_s = time.monotonic() - accepted_at
        assert started["position"] == 0 and started["wait_s"] == 0
        assert abs(waiting["wait_s"] - real_s) <= 0.5 * real_s, (waiting["wait_s"], real_s)
        moved_up = receive(third)
        assert moved_up["type"] == "queued" and moved_up["position"] == 1
        assert 0 < moved_up["wait_s"] < last["wait_s"]
        for socket in (first, second, third):
            assert receive_until(socket)[-1]["type"] == "done"
