"""Results are private by default: a job's record, result and deletion need its resume_token
(or the operator's NST_ADMIN_KEY), a public gallery is opt-in, results expire after
NST_RETENTION_DAYS, and presigned results download as `nst-<job id>.png`."""

from __future__ import annotations

import hashlib

import pytest
from ws_jobs import PNG_MAGIC, get_json, http_get, run_job, wait_until

SHORT = {"epochs": 1, "steps_per_epoch": 1, "size": 64}
ADMIN_KEY = "test-admin-key-91c2"


@pytest.fixture(scope="module")
def private_server(start_service):
    return start_service(NST_ADMIN_KEY=ADMIN_KEY)


def _job(server, pictures) -> tuple[dict, dict]:
    """(accepted, done) of a short job."""
    messages = run_job(server.ws_url, pictures.content, pictures.style, **SHORT)
    return messages[0], messages[-1]


def _listed(server, **headers: str) -> list[str]:
    status, body = get_json(f"{server.http_url}/v1/results?limit=100", headers=headers)
    assert status == 200, body
    return [item["job_id"] for item in body["results"]]


def _keys(s3, bucket: str, prefix: str) -> list[str]:
    return [item["Key"] for item in s3.list_objects_v2(Bucket=bucket, Prefix=prefix)
            .get("Contents", [])]


def test_a_job_is_readable_only_with_its_token_or_the_admin_key(private_server, pictures):
    accepted, done = _job(private_server, pictures)
    url = f"{private_server.http_url}/v1/jobs/{accepted['job_id']}"
    unknown = get_json(f"{private_server.http_url}/v1/jobs/{'0' * 32}",
                       headers={"X-NST-Token": accepted["resume_token"]})
    for headers in ({}, {"X-NST-Token": "someone-elses"}, {"Authorization": "Bearer wrong"}):
        # The same answer as for a job that does not exist: it reveals no one's jobs.
        assert get_json(url, headers=headers) == unknown
    assert unknown[0] == 404
    assert get_json(url, headers={"X-NST-Token": accepted["resume_token"]})[0] == 200
    status, job = get_json(url, headers={"Authorization": f"Bearer {ADMIN_KEY}"})
    assert status == 200 and job["job_id"] == done["job_id"]


def test_results_lists_only_the_jobs_whose_tokens_the_caller_sends(private_server, pictures):
    mine, _ = _job(private_server, pictures)
    theirs, _ = _job(private_server, pictures)
    assert _listed(private_server) == []
    assert _listed(private_server, **{"X-NST-Tokens": mine["resume_token"]}) == [mine["job_id"]]
    both = f"{mine['resume_token']},{theirs['resume_token']},not-a-token"
    assert _listed(private_server, **{"X-NST-Tokens": both}) == [theirs["job_id"],
                                                                 mine["job_id"]]
    everyone = _listed(private_server, Authorization=f"Bearer {ADMIN_KEY}")
    assert everyone[:2] == [theirs["job_id"], mine["job_id"]]
    too_many = ",".join(f"token-{n}" for n in range(101))
    status, _ = get_json(f"{private_server.http_url}/v1/results",
                         headers={"X-NST-Tokens": too_many})
    assert status == 400


def test_the_record_keeps_a_hash_of_the_token_never_the_token(private_server, s3, pictures):
    accepted, done = _job(private_server, pictures)
    raw = s3.get_object(Bucket=done["result"]["bucket"],
                        Key=done["result"]["metadata_key"])["Body"].read().decode()
    assert accepted["resume_token"] not in raw
    assert hashlib.sha256(accepted["resume_token"].encode()).hexdigest() in raw


def test_a_public_gallery_lists_every_job_but_keeps_the_records_private(start_service, pictures):
    gallery = start_service(NST_PUBLIC_GALLERY="true")
    accepted, _ = _job(gallery, pictures)
    assert _listed(gallery)[0] == accepted["job_id"]
    assert get_json(f"{gallery.http_url}/v1/jobs/{accepted['job_id']}")[0] == 404


def test_a_token_holder_deletes_the_result_and_its_uploads(private_server, s3, pictures):
    accepted, done = _job(private_server, pictures)
    bucket, job_id = done["result"]["bucket"], accepted["job_id"]
    assert len(_keys(s3, bucket, f"jobs/{job_id}/")) == 5
    url = f"{private_server.http_url}/v1/jobs/{job_id}"
    assert http_get(url, method="DELETE", headers={"X-NST-Token": "not-mine"})[0] == 404
    status, _, _ = http_get(url, method="DELETE", headers={"X-NST-Token": accepted["resume_token"]})
    assert status == 200
    assert _keys(s3, bucket, f"jobs/{job_id}/") == []
    assert not any(key.endswith(job_id) for key in _keys(s3, bucket, "index/"))
    digest = hashlib.sha256(accepted["resume_token"].encode()).hexdigest()
    assert _keys(s3, bucket, f"tokens/{digest}") == []
    assert get_json(url, headers={"X-NST-Token": accepted["resume_token"]})[0] == 404
    assert http_get(done["result"]["url"])[0] == 404


def test_presigned_results_download_as_nst_job_id_png(private_server, pictures):
    accepted, done = _job(private_server, pictures)
    expected = f'attachment; filename="nst-{accepted["job_id"]}.png"'
    status, headers, body = http_get(done["result"]["url"])
    assert status == 200 and body.startswith(PNG_MAGIC)
    assert headers["Content-Disposition"] == expected
    _, job = get_json(f"{private_server.http_url}/v1/jobs/{accepted['job_id']}",
                      headers={"X-NST-Token": accepted["resume_token"]})
    assert http_get(job["url"])[1]["Content-Disposition"] == expected
    # The thumbnail is for <img> tags: it opens, it does not download.
    assert "Content-Disposition" not in http_get(job["thumbnail_url"])[1]


def test_results_expire_after_the_retention(start_s3_server, s3_client_for, start_service,
                                            pictures):
    storage = start_s3_server(bucket="nst-retention")
    s3 = s3_client_for(storage)
    # 0.0001 days is 8.6 s; sweeps run every tenth of that.
    server = start_service(s3=storage, NST_RETENTION_DAYS="0.0001")
    accepted, done = _job(server, pictures)
    job_id = accepted["job_id"]
    assert len(_keys(s3, storage.bucket, f"jobs/{job_id}/")) == 5
    assert wait_until(lambda: _keys(s3, storage.bucket, "") == [], 30, interval_s=0.5), \
        _keys(s3, storage.bucket, "")
    assert "event=results_expired count=1" in server.log()
    # Where the store takes lifecycle rules (SeaweedFS does), one expires the prefix as well.
    rules = s3.get_bucket_lifecycle_configuration(Bucket=storage.bucket)["Rules"]
    assert [rule["Expiration"] for rule in rules if rule["ID"].startswith("nst-retention")] == \
        [{"Days": 1}]
