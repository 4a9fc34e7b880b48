"""The web app's own routes answer a download they cannot serve with a status and a sentence in
JSON, which the page shows (`The download failed: …`), never a server error."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from devstack.processes import free_ports

JOB_ID = "0123456789abcdef0123456789abcdef"


def download_error(web_url: str, job_id: str, token: str) -> tuple[int, str]:
    call = urllib.request.Request(f"{web_url}download/{job_id}", headers={"X-NST-Token": token})
    with pytest.raises(urllib.error.HTTPError) as failed:
        urllib.request.urlopen(call, timeout=30)
    assert failed.value.headers.get_content_type() == "application/json"
    return failed.value.code, json.load(failed.value)["error"]["message"]


@pytest.mark.parametrize("job_id, token", [
    ("not-a-job-id", "a-token"),  # refused before the service is asked
    (JOB_ID, "no token of ours"),  # a space: not a token's alphabet
    (JOB_ID, "a-token"),  # well formed: the service has no such job for this token
])
def test_a_download_of_no_result_of_yours_is_a_404_that_says_so(web, job_id, token):
    assert download_error(web.url, job_id, token) == (404, "no result with that id for this token")


def test_a_download_while_the_service_is_down_is_a_502_that_says_so(start_web):
    web_port, nothing_there = free_ports(2)
    web = start_web(web_port, f"ws://127.0.0.1:{nothing_there}/ws/stylize")
    assert download_error(web.url, JOB_ID, "a-token") == (502, "could not reach the service")
