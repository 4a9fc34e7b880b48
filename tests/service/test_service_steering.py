"""`steer`: a running job's weights change from its next step, the client is told from which step,
and the stored record keeps each change."""

from __future__ import annotations

import json

from ws_jobs import attach, b64, get_json, open_socket, receive, receive_until, start

# Four epochs of 20 steps at 64 px: a steer sent after the first frame lands well inside the run.
JOB = {"epochs": 4, "steps_per_epoch": 20, "size": 64}
LONGER = {**JOB, "epochs": 10}  # room for a second connection to attach and steer too


def test_a_steer_mid_run_is_answered_with_its_step_and_recorded(service_server, s3, pictures):
    with open_socket(service_server.ws_url) as socket:
        socket.send(start(pictures.content, pictures.style, **JOB))
        accepted = receive(socket)
        assert accepted["type"] == "accepted"
        first = receive(socket)
        assert first["type"] == "frame" and first["step"] == 20
        socket.send(json.dumps({"type": "steer", "style_weight": 1e5, "tv_weight": 10.0}))
        messages = receive_until(socket)
    steered = [message for message in messages if message["type"] == "steered"]
    done = messages[-1]
    assert done["type"] == "done" and done["status"] == "finished", done
    assert len(steered) == 1, messages
    assert steered[0]["changes"] == {"style_weight": 1e5, "tv_weight": 10.0}
    assert 20 < steered[0]["step"] <= 80
    frames = [message for message in messages if message["type"] == "frame"]
    assert frames[-1]["step"] == 80  # the run went on to its end
    later = [frame for frame in frames if frame["step"] >= steered[0]["step"]]
    assert later and later[-1]["losses"]["style"] > first["losses"]["style"] * 2, (
        "the style term is reported under the new, tenfold weight")
    record = json.loads(s3.get_object(Bucket=done["result"]["bucket"],
                                      Key=done["result"]["metadata_key"])["Body"].read())
    assert record["steers"] == [{"step": steered[0]["step"], "changes": steered[0]["changes"]}]
    assert record["params"]["style_weight"] == 1e4  # the job's own parameters, as it started
    # A gallery's summary of the job tells the same.
    _, listed = get_json(f"{service_server.http_url}/v1/results?limit=1",
                         headers={"X-NST-Tokens": accepted["resume_token"]})
    (summary,) = listed["results"]
    assert (summary["steers"], summary["style_blend"]) == (record["steers"], [1.0])


def test_a_bad_steer_is_refused_and_the_job_runs_on_unchanged(service_server, s3, pictures):
    with open_socket(service_server.ws_url) as socket:
        socket.send(json.dumps({"type": "steer", "tv_weight": 5.0}))
        assert "no job to steer" in receive(socket)["message"]
        socket.send(start(pictures.content, pictures.style, **JOB))
        assert receive(socket)["type"] == "accepted"
        refusals, seen = [], []
        for steer in ({"style_weight": -1.0}, {}, {"style_blend": [1.0, 1.0]},
                      {"tv_weight": 1.0, "paint": True}):
            socket.send(json.dumps({"type": "steer", **steer}))
            *between, refusal = receive_until(socket, ("error",))
            seen += between
            refusals.append(refusal)
        messages = receive_until(socket)
    assert [refusal["code"] for refusal in refusals] == ["bad_request"] * 4, refusals
    assert "at least one" in refusals[1]["message"]
    assert "style_blend" in refusals[2]["message"] or "blend" in refusals[2]["message"]
    assert messages[-1]["type"] == "done" and messages[-1]["status"] == "finished"
    assert not [message for message in seen + messages if message["type"] == "steered"]
    record = json.loads(s3.get_object(Bucket=messages[-1]["result"]["bucket"],
                                      Key=messages[-1]["result"]["metadata_key"])["Body"].read())
    assert record["steers"] == []


def test_an_attach_is_told_the_weights_and_blend_the_job_uses_now_and_may_steer_it(
        service_server, pictures):
    paintings = [{"image": b64(pictures.style), "blend": 1.0},
                 {"image": b64(pictures.content), "blend": 3.0}]
    with open_socket(service_server.ws_url) as first:
        first.send(json.dumps({"type": "start", "content": b64(pictures.content),
                               "styles": paintings, "tv_weight": 500.0, **LONGER}))
        accepted = receive(first)
        assert accepted["weights"] == {"style_weight": 1e4, "content_weight": 1e3,
                                       "tv_weight": 500.0, "style_blend": [0.25, 0.75]}
        assert receive(first)["type"] == "frame"
        first.send(json.dumps({"type": "steer", "style_weight": 1e5}))
        (steered,) = [message for message in receive_until(first, ("steered",))
                      if message["type"] == "steered"]
    with open_socket(service_server.ws_url) as second:
        attach(second, accepted)
        again = receive(second)
        assert again["type"] == "accepted" and again["job_id"] == accepted["job_id"]
        assert again["weights"] == {**accepted["weights"], "style_weight": 1e5}
        second.send(json.dumps({"type": "steer", "style_blend": [1.0, 1.0]}))
        messages = receive_until(second)
    (blended,) = [message for message in messages if message["type"] == "steered"]
    # Not before the first steer; at the same step if the attach was quicker than a step.
    assert blended["changes"] == {"style_blend": [0.5, 0.5]} and blended["step"] >= steered["step"]
    assert messages[-1]["type"] == "done" and messages[-1]["status"] == "finished"
