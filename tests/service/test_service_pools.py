"""Pools that cannot starve each other: with storage hung, jobs are accepted and probes answer.

The storage is a real SeaweedFS frozen with SIGSTOP: connections open, requests never answer.
Before separate pools, eight waiting /v1/results calls made a `start` wait 41 s for `accepted`
and /readyz 10 s. Timings are asserted ten times looser than the targets (0.5 s for `accepted`,
50 ms for /healthz); docs/benchmarks.md has the measured figures.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time

from service.readiness import READY_CHECK_TTL_S
from ws_jobs import get_json, http_get, open_socket, receive, start, wait_until


def test_with_storage_hung_jobs_are_accepted_and_probes_answer(start_s3_server, start_service,
                                                                pictures):
    storage = start_s3_server(bucket="nst-hung")
    server = start_service(s3=storage, NST_S3_ATTEMPTS="1", NST_S3_TIMEOUT_S="60",
                           NST_PUBLIC_GALLERY="true")  # so that /v1/results asks storage
    os.kill(storage.process.pid, signal.SIGSTOP)
    stopped = time.monotonic()
    try:
        answers: list[int | None] = []
        callers = [threading.Thread(target=_call, args=(f"{server.http_url}/v1/results", answers),
                                    daemon=True) for _ in range(POOL + EXTRA)]
        for caller in callers:
            caller.start()
        # The pool is full when the extra callers have been refused: no fixed sleep that a slow
        # machine outruns (CI once sent the probe below before all 20 had arrived).
        assert wait_until(lambda: len(answers) >= EXTRA, timeout_s=30, interval_s=0.05), answers
        assert answers == [503] * EXTRA, answers
        time.sleep(max(0.0, stopped + READY_CHECK_TTL_S + 0.5 - time.monotonic()))  # and the
        # last storage check is stale

        began = time.monotonic()
        status, _ = get_json(f"{server.http_url}/v1/results", timeout_s=10)
        refused_s = time.monotonic() - began
        assert status == 503 and refused_s < 1.0  # the next one waits for nobody

        began = time.monotonic()
        assert http_get(f"{server.http_url}/healthz")[0] == 200
        healthz_s = time.monotonic() - began

        began = time.monotonic()
        status, body = get_json(f"{server.http_url}/readyz", timeout_s=10)
        readyz_s = time.monotonic() - began

        with open_socket(server.ws_url) as socket:
            began = time.monotonic()
            socket.send(start(pictures.content, pictures.style, size=64, epochs=20,
                              steps_per_epoch=20))
            accepted = receive(socket, timeout_s=30)
            accepted_s = time.monotonic() - began
            answered = list(answers)  # the 20 still wait on storage: they held nothing else up
            socket.send(json.dumps({"type": "cancel"}))  # it stores its last frame once thawed
    finally:
        os.kill(storage.process.pid, signal.SIGCONT)
        storage.kill()

    assert accepted["type"] == "accepted" and accepted_s < 5.0, f"accepted in {accepted_s:.2f} s"
    assert healthz_s < 0.5, f"/healthz in {healthz_s:.3f} s"
    assert status == 503 and "storage" in body["reason"] and readyz_s < 2.0
    assert answered == [503] * EXTRA


POOL = 20  # the /v1 storage pool's 4 workers and 16 waiting
EXTRA = 4  # callers beyond it, refused at once


def _call(url: str, answers: list[int | None]) -> None:
    try:
        answers.append(http_get(url, timeout_s=120)[0])
    except OSError:  # the server stops under the callers still waiting at the end
        answers.append(None)

