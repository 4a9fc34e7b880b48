"""A whole job through the real service: socket messages, stored files, and the /v1 routes."""

from __future__ import annotations

import json
import threading

from service.engine.params import StyleParams
from ws_jobs import (PNG_MAGIC, decode_data_uri, get_json, http_get, image_size, is_cancelled,
                     open_socket, receive, receive_until, run_job, start)


def test_a_job_streams_one_frame_per_epoch_then_stores_the_result(service_server, s3, pictures):
    messages = run_job(service_server.ws_url, pictures.content, pictures.style,
                       epochs=3, steps_per_epoch=2, size=64)

    accepted, *frames, done = messages
    assert accepted["type"] == "accepted" and accepted["position"] == 0
    assert accepted["model"]["backbone"] == "vgg16" and accepted["model"]["weights"] == "offline"
    assert accepted["output_size"] == {"width": 64, "height": 48}  # tubingen is 4:3
    assert accepted["total_steps"] == 6
    assert [f["type"] for f in frames] == ["frame"] * 3
    assert [(f["epoch"], f["step"]) for f in frames] == [(1, 2), (2, 4), (3, 6)]
    for frame in frames:
        assert frame["job_id"] == accepted["job_id"]
        assert set(frame["losses"]) == {"total", "style", "content", "tv"}
        header, jpeg = decode_data_uri(frame["image"])
        assert header == "data:image/jpeg;base64" and image_size(jpeg) == (64, 48)
    assert frames[0]["elapsed_s"] <= frames[-1]["elapsed_s"]

    assert done["type"] == "done" and done["status"] == "finished" and done["stored"] is True
    result = done["result"]
    assert result["key"] == f"jobs/{accepted['job_id']}/result.png"
    assert result["metadata_key"] == f"jobs/{accepted['job_id']}/metadata.json"
    status, _, png = http_get(result["url"])  # the presigned URL needs no credentials
    assert status == 200 and png.startswith(PNG_MAGIC) and image_size(png) == (64, 48)

    metadata = json.loads(s3.get_object(Bucket=result["bucket"],
                                        Key=result["metadata_key"])["Body"].read())
    assert metadata["job_id"] == accepted["job_id"] and metadata["status"] == "finished"
    assert [entry["epoch"] for entry in metadata["losses"]] == [1, 2, 3]
    assert metadata["losses"][-1]["total"] == frames[-1]["losses"]["total"]
    assert metadata["params"]["epochs"] == 3
    assert set(metadata["params"]) == set(StyleParams().as_dict())  # every knob, as it ran
    assert metadata["params"]["tv_weight"] == StyleParams().tv_weight
    assert metadata["model"] == accepted["model"]
    assert set(metadata["timings"]) >= {"queued_s", "stylize_s", "total_s"}
    assert set(metadata["versions"]) >= {"nst", "tensorflow", "python"}
    # The inputs are stored byte for byte, named by what they are, not by what the client said.
    inputs = metadata["inputs"]
    stored_content = s3.get_object(Bucket=result["bucket"], Key=inputs["content"]["key"])
    assert metadata["inputs"]["content"]["key"].endswith("/content.jpg")
    assert stored_content["Body"].read() == pictures.content
    stored_style = s3.get_object(Bucket=result["bucket"], Key=inputs["style"]["key"])
    assert metadata["inputs"]["style"]["key"].endswith("/style.png")
    assert stored_style["Body"].read() == pictures.style


def test_the_jobs_route_returns_metadata_with_a_fresh_url(service_server, pictures):
    accepted, *_, done = run_job(service_server.ws_url, pictures.content, pictures.style,
                                 epochs=1, steps_per_epoch=1, size=64)

    status, job = get_json(f"{service_server.http_url}/v1/jobs/{done['job_id']}",
                           headers={"X-NST-Token": accepted["resume_token"]})
    assert status == 200
    assert "token_sha256" not in job and accepted["resume_token"] not in json.dumps(job)
    assert job["job_id"] == done["job_id"] and job["status"] == "finished"
    assert len(job["losses"]) == 1
    status, _, png = http_get(job["url"])
    assert status == 200 and png.startswith(PNG_MAGIC)
    status, _, thumbnail = http_get(job["thumbnail_url"])
    assert status == 200 and thumbnail[:2] == b"\xff\xd8"


def test_unknown_or_malformed_job_ids_are_404(service_server):
    for job_id in ("0" * 32, "not-a-job", "..%2E"):
        status, body = get_json(f"{service_server.http_url}/v1/jobs/{job_id}")
        assert status == 404 and body["error"]["code"] == "not_found"
    # A slash never reaches storage as part of a key: the route does not match at all.
    assert http_get(f"{service_server.http_url}/v1/jobs/..%2Fmetadata.json")[0] == 404


def test_results_lists_the_newest_first_for_a_gallery(service_server, pictures):
    first_accepted, *_, first = run_job(service_server.ws_url, pictures.content, pictures.style,
                                        epochs=1, steps_per_epoch=1, size=64)
    second_accepted, *_, second = run_job(service_server.ws_url, pictures.style,
                                          pictures.content, epochs=1, steps_per_epoch=1, size=64)

    tokens = f"{first_accepted['resume_token']}, {second_accepted['resume_token']}"
    status, body = get_json(f"{service_server.http_url}/v1/results?limit=2",
                            headers={"X-NST-Tokens": tokens})
    assert status == 200
    results = body["results"]
    assert [item["job_id"] for item in results] == [second["job_id"], first["job_id"]]
    for item in results:
        assert set(item) >= {"job_id", "status", "created_at", "finished_at", "params", "model",
                             "size", "url", "thumbnail_url"}
        assert http_get(item["url"])[0] == 200
    assert get_json(f"{service_server.http_url}/v1/results?limit=0")[0] == 400
    assert get_json(f"{service_server.http_url}/v1/results?limit=many")[0] == 400


def test_unset_options_take_the_documented_defaults(service_server, pictures):
    with open_socket(service_server.ws_url) as socket:
        socket.send(start(pictures.content, pictures.style))
        accepted = receive(socket)
        socket.send(json.dumps({"type": "cancel"}))
        ending = receive_until(socket)[-1]
    # 20 epochs of 50 steps, except where this server's limits are lower (20 steps here).
    assert accepted["epochs"] == 20 and accepted["steps_per_epoch"] == 20
    assert accepted["output_size"] == {"width": 64, "height": 48}  # NST_DEFAULT_SIZE=64
    assert is_cancelled(ending)


def test_a_connection_runs_jobs_one_after_another(service_server, pictures):
    with open_socket(service_server.ws_url) as socket:
        done_ids = []
        for _ in range(2):
            socket.send(start(pictures.content, pictures.style, epochs=1, steps_per_epoch=1,
                              size=64))
            done_ids.append(receive_until(socket)[-1]["job_id"])
    assert len(set(done_ids)) == 2


def test_health_answers_while_a_job_runs(service_server, pictures):
    with open_socket(service_server.ws_url) as socket:
        socket.send(start(pictures.content, pictures.style, epochs=40, steps_per_epoch=10,
                          size=64))
        assert receive(socket)["type"] == "accepted"
        assert receive(socket)["type"] == "frame"
        answers = []

        def probe() -> None:
            for _ in range(5):
                answers.append(http_get(f"{service_server.http_url}/healthz", timeout_s=1.0)[0])

        prober = threading.Thread(target=probe)
        prober.start()
        prober.join(10)
        status, ready = get_json(f"{service_server.http_url}/readyz")
        socket.send(json.dumps({"type": "cancel"}))
        assert is_cancelled(receive_until(socket)[-1])
    assert answers == [200] * 5
    assert status == 200 and ready["running"] == 1
