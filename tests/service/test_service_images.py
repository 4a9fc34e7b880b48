"""Whatever a client uploads, the answer is `accepted` or `bad_image`, never `internal`.

Truncated and corrupt JPEG, PNG and WebP files and PNG text-chunk and colour-profile bombs are each
refused as `bad_image` with one line in the log and no traceback; a 16-bit greyscale PNG keeps its
tones, a camera's MPO is accepted (its first picture), and EXIF orientation decides the output's
shape.
"""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from hostile_images import hostile_images
from PIL import Image
from ws_jobs import decode_data_uri, open_socket, receive, receive_until, start

HOSTILE = hostile_images()


def _encoded(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_every_hostile_image_is_bad_image_in_one_log_line(service_server, pictures, name):
    with open_socket(service_server.ws_url) as socket:
        socket.send(start(HOSTILE[name], pictures.style, size=64))
        error = receive(socket, timeout_s=30)
    assert error["type"] == "error" and error["code"] == "bad_image", error
    assert error["message"].startswith("content: ") and len(error["message"]) < 160


def test_hostile_images_leave_no_traceback_in_the_log(service_server, pictures):
    logged_before = len(service_server.log())
    for data in HOSTILE.values():
        with open_socket(service_server.ws_url) as socket:
            socket.send(start(pictures.content, data, size=64))
            assert receive(socket, timeout_s=30)["code"] == "bad_image"
    log = service_server.log()[logged_before:]
    assert "Traceback" not in log and "event=message_failed" not in log
    refusals = [line for line in log.splitlines()
                if "event=job_refused code=bad_image" in line and "style:" in line]
    assert len(refusals) == len(HOSTILE)


def test_a_16_bit_greyscale_png_is_painted_from_its_own_tones(service_server, pictures):
    dark = np.full((48, 64), 16384, np.uint16)  # a quarter of full scale: 64 of 255
    content = _encoded(Image.fromarray(dark), "PNG")
    with open_socket(service_server.ws_url) as socket:
        socket.send(start(content, pictures.style, size=64, epochs=1, steps_per_epoch=1,
                          init="content"))
        *_, frame, done = receive_until(socket, timeout_s=120)
    assert done["type"] == "done" and frame["type"] == "frame"
    _, jpeg = decode_data_uri(frame["image"])
    brightness = float(np.asarray(Image.open(io.BytesIO(jpeg)).convert("L")).mean())
    assert brightness < 128, f"mean {brightness:.0f}: the 16-bit content was read as white"


def test_an_mpo_from_a_camera_is_accepted(service_server, pictures):
    photo = Image.open(io.BytesIO(pictures.content))
    mpo = _encoded(photo, "MPO", save_all=True, append_images=[photo.rotate(90, expand=True)])
    assert Image.open(io.BytesIO(mpo)).format == "MPO"
    with open_socket(service_server.ws_url) as socket:
        socket.send(start(mpo, pictures.style, size=64))
        accepted = receive(socket)
        socket.send(json.dumps({"type": "cancel"}))
        receive_until(socket, timeout_s=60)
    assert accepted["type"] == "accepted"
    width, height = photo.size  # the first picture's shape, not the rotated second one's
    assert accepted["output_size"] == {"width": 64, "height": round(64 * height / width)}


def test_exif_orientation_decides_the_output_shape(service_server, pictures):
    exif = Image.Exif()
    exif[0x0112] = 6  # stored landscape, shown portrait
    photo = Image.open(io.BytesIO(pictures.content))  # 96 x 72
    with open_socket(service_server.ws_url) as socket:
        socket.send(start(_encoded(photo, "JPEG", exif=exif), pictures.style, size=64))
        accepted = receive(socket)
        socket.send(json.dumps({"type": "cancel"}))
        receive_until(socket, timeout_s=60)
    assert accepted["output_size"] == {"width": 48, "height": 64}
