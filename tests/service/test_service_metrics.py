"""`/metrics`: Prometheus' text format, the queue and job figures a job moves, and the key."""

from __future__ import annotations

import json

import pytest
from prometheus_client.parser import text_string_to_metric_families
from websockets.exceptions import InvalidStatus
from ws_jobs import API_KEY, http_get, open_socket, receive, receive_until, start, wait_until

AUTH = {"Authorization": f"Bearer {API_KEY}"}
SHORT = {"epochs": 2, "steps_per_epoch": 2, "size": 64}
LONG = {"epochs": 60, "steps_per_epoch": 20, "size": 64}


def scrape(server, headers=AUTH) -> dict[str, float]:
    """Every sample as {'name{label="value"}': value}."""
    status, response_headers, body = http_get(f"{server.http_url}/metrics", headers=headers)
    assert status == 200 and response_headers["Content-Type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
            samples[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
    return samples


def grew(before: dict, after: dict, name: str) -> float:
    return after.get(name, 0.0) - before.get(name, 0.0)


def test_metrics_need_the_key_when_one_is_set(strict_server, service_server):
    url = f"{strict_server.http_url}/metrics"
    assert http_get(url)[0] == 401
    assert http_get(url, headers={"Authorization": "Bearer wrong"})[0] == 401
    assert http_get(f"{url}?token={API_KEY}")[0] == 401  # a scraper sends the header
    assert http_get(url, headers=AUTH)[0] == 200
    assert http_get(f"{service_server.http_url}/metrics")[0] == 200  # no key set: open


def test_a_job_a_bad_request_and_a_refusal_move_the_counters(strict_server, pictures):
    before = scrape(strict_server)
    with open_socket(strict_server.ws_url, additional_headers=AUTH) as socket:
        socket.send(start(pictures.content, pictures.style, **SHORT))
        assert receive_until(socket)[-1]["type"] == "done"
        socket.send(json.dumps({"type": "paint"}))
        assert receive(socket)["code"] == "bad_request"
    with pytest.raises(InvalidStatus):
        open_socket(strict_server.ws_url)  # no key: refused at the handshake
    after = scrape(strict_server)

    assert grew(before, after, "nst_jobs_accepted_total") == 1
    assert grew(before, after, 'nst_jobs_ended_total{status="finished"}') == 1
    assert grew(before, after, "nst_frames_sent_total") >= 1
    assert grew(before, after, "nst_job_duration_seconds_count") == 1
    assert grew(before, after, "nst_job_steps_per_second_count") == 1
    assert after["nst_job_steps_per_second_sum"] > 0
    assert grew(before, after, 'nst_errors_total{code="bad_request"}') == 1
    assert grew(before, after, 'nst_errors_total{code="unauthorized"}') == 1
    assert after["nst_storage_failures_total"] == 0
    assert after["process_resident_memory_bytes"] > 0
    # The job ended and its socket closed: kept for reattachment, followed by no one.
    assert wait_until(lambda: grew(before, scrape(strict_server), "nst_jobs_detached") == 1, 5)


def test_the_queue_length_and_running_jobs_are_live(strict_server, pictures):
    # strict_server: one slot and NST_MAX_QUEUE=1.
    with open_socket(strict_server.ws_url, additional_headers=AUTH) as first, \
            open_socket(strict_server.ws_url, additional_headers=AUTH) as second:
        first.send(start(pictures.content, pictures.style, **LONG))
        assert receive(first)["position"] == 0
        second.send(start(pictures.content, pictures.style, **LONG))
        assert receive(second)["position"] == 1
        now = scrape(strict_server)
        assert now["nst_queue_length"] == 1 and now["nst_jobs_running"] == 1
        assert now["nst_connections"] >= 2
        for socket in (second, first):
            socket.send(json.dumps({"type": "cancel"}))
            assert receive_until(socket, timeout_s=30)[-1]["code"] == "cancelled"
    assert wait_until(lambda: scrape(strict_server)["nst_jobs_running"] == 0, 15)
    assert scrape(strict_server)["nst_queue_length"] == 0
