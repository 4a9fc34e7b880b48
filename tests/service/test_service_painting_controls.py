"""The painting controls through the real service: blended paintings in `styles`, and the
schema's new knobs (preserve_colors, style_scale) in `start`."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from ws_jobs import ROOT, b64, image_size, open_socket, receive, receive_until, run_job, sample


def _blend_start(pictures, paintings: list[dict], **fields) -> str:
    return json.dumps({"type": "start", "content": b64(pictures.content), "styles": paintings,
                       "epochs": 1, "steps_per_epoch": 2, "size": 64, **fields})


def test_a_blend_of_two_paintings_runs_and_stores_both(service_server, s3, pictures):
    scream = sample("the_scream.jpg", 96, "JPEG")
    with open_socket(service_server.ws_url) as socket:
        socket.send(_blend_start(pictures, [{"image": b64(pictures.style), "blend": 3},
                                            {"image": b64(scream), "blend": 1}],
                                 preserve_colors="luminance", style_scale=0.5))
        *_, done = receive_until(socket)
    assert done["type"] == "done" and done["stored"] is True, done
    result = done["result"]
    metadata = json.loads(s3.get_object(Bucket=result["bucket"],
                                        Key=result["metadata_key"])["Body"].read())
    assert metadata["style_blend"] == [0.75, 0.25]
    assert metadata["params"]["preserve_colors"] == "luminance"
    assert metadata["params"]["style_scale"] == 0.5
    assert set(metadata["inputs"]) == {"content", "style-1", "style-2"}
    for name, original in (("style-1", pictures.style), ("style-2", scream)):
        key = metadata["inputs"][name]["key"]
        assert key.endswith(f"/{name}.{'png' if name == 'style-1' else 'jpg'}")
        assert s3.get_object(Bucket=result["bucket"], Key=key)["Body"].read() == original


def test_a_single_style_is_still_stored_as_style(service_server, s3, pictures):
    *_, done = run_job(service_server.ws_url, pictures.content, pictures.style, epochs=1,
                       steps_per_epoch=1, size=64)
    metadata = json.loads(s3.get_object(Bucket=done["result"]["bucket"],
                                        Key=done["result"]["metadata_key"])["Body"].read())
    assert set(metadata["inputs"]) == {"content", "style"} and metadata["style_blend"] == [1.0]


@pytest.mark.parametrize("change, code, words", [
    ({"style": "STYLE", "styles": [{"image": "STYLE"}]}, "bad_request",
     "as 'style' or up to 4 paintings as 'styles', one of the two"),
    ({}, "bad_request", "one of the two"),
    ({"styles": [{"image": "STYLE", "blend": 0}, {"image": "STYLE", "blend": 0}]},
     "bad_request", "must not all be 0"),
    ({"styles": [{"image": "STYLE", "blend": -1}]}, "bad_request", "greater than or equal to 0"),
    ({"styles": [{"image": "STYLE"}] * 5}, "bad_request", "at most 4"),
    ({"styles": [{"image": "STYLE"}, {"image": "bm90IGFuIGltYWdl"}]}, "bad_image",
     "styles.1.image"),
    ({"style_scale": 8}, "bad_request", "style_scale"),
    ({"size": 32, "style_scale": 4}, "bad_image", "brush scale 4 paints its style on a copy"),
    ({"preserve_colors": "sepia"}, "bad_request", "preserve_colors"),
])
def test_bad_paintings_and_knobs_are_refused_and_the_connection_stays(service_server, pictures,
                                                                      change, code, words):
    painting = b64(pictures.style)
    message = {"type": "start", "content": b64(pictures.content), "epochs": 1,
               "steps_per_epoch": 1, "size": 64,
               **({"style": painting} if change and "styles" not in change else {}),
               **change}
    if message.get("style") == "STYLE":
        message["style"] = painting
    message["styles"] = [{**entry, "image": painting} if entry["image"] == "STYLE" else entry
                         for entry in message.get("styles", [])] or None
    if message["styles"] is None:
        del message["styles"]
    with open_socket(service_server.ws_url) as socket:
        socket.send(json.dumps(message))
        refusal = receive(socket)
        assert refusal["type"] == "error" and refusal["code"] == code, refusal
        assert words in refusal["message"], refusal["message"]
        socket.send(_blend_start(pictures, [{"image": b64(pictures.style)}], steps_per_epoch=1))
        assert receive_until(socket)[-1]["type"] == "done"


def test_nst_client_sends_several_paintings_as_styles(service_server, pictures, tmp_path):
    (tmp_path / "photo.jpg").write_bytes(pictures.content)
    (tmp_path / "painting.png").write_bytes(pictures.style)
    run = subprocess.run(
        [sys.executable, "-m", "service.cli", "client", str(tmp_path / "photo.jpg"),
         str(tmp_path / "painting.png"), str(tmp_path / "photo.jpg"), "--style-blend", "1,0",
         "--url", service_server.ws_url, "--epochs", "1", "--steps-per-epoch", "1",
         "--size", "64", "-o", str(tmp_path / "out.png")],
        cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert run.returncode == 0, run.stderr
    assert image_size((tmp_path / "out.png").read_bytes()) == (64, 48)
    run = subprocess.run(
        [sys.executable, "-m", "service.cli", "client", str(tmp_path / "photo.jpg"),
         str(tmp_path / "painting.png"), "--style-blend", "1,2", "--url", service_server.ws_url],
        cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert run.returncode == 2
    assert run.stderr.strip() == "nst: error: style_blend has 2 weights for 1 paintings"
