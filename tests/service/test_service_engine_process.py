"""The engine runs in a child process: the service's own process never loads TensorFlow, memory
stays bounded however many image shapes it paints (a grown engine is replaced between jobs), and
an engine that dies fails only its job, keeping the frames already painted."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import numpy as np
from PIL import Image
from ws_jobs import SAMPLES, get_json, open_socket, receive, receive_until, run_job, start

from bench.memory import descendants, engine_processes, settled_tree_mib
from bench.shapes import first_frame_s, photo_file, random_shape

SHAPES = 50
FIRST = 5
BOUND_MIB = 150  # the bound on growth after the first FIRST jobs


def _engine_pids(server) -> list[int]:
    return [pid for pid in descendants(server.process.pid)
            if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()]


def _maps_tensorflow(pid: int) -> bool:
    return "libtensorflow" in Path(f"/proc/{pid}/maps").read_text()


def test_only_the_engine_process_loads_tensorflow(service_server):
    (engine,) = _engine_pids(service_server)
    assert _maps_tensorflow(engine)
    assert not _maps_tensorflow(service_server.process.pid)


def test_memory_stays_bounded_over_fifty_shapes_as_grown_engines_are_replaced(start_service):
    # The shipped NST_ENGINE_RECYCLE_MB; without the replacement these shapes grew the service by
    # 455 MiB (docs/benchmarks.md, "Memory over many shapes").
    server = start_service()
    content = np.asarray(Image.open(SAMPLES / "tubingen.jpg").convert("RGB"))
    style = photo_file(np.asarray(Image.open(SAMPLES / "starry_night.jpg")
                                  .convert("RGB")), (96, 120))
    rng = np.random.default_rng(12)
    shapes = [random_shape(rng, 96, 256) for _ in range(SHAPES)]
    for shape in shapes[:FIRST]:
        first_frame_s(server.ws_url, photo_file(content, shape), style)
    after_first = settled_tree_mib(server.process.pid)
    for shape in shapes[FIRST:]:
        first_frame_s(server.ws_url, photo_file(content, shape), style)
    after_all = settled_tree_mib(server.process.pid)
    assert "event=engine_replaced reason='grown" in server.log()
    assert after_all - after_first <= BOUND_MIB, (after_first, after_all)
    assert engine_processes(server.process.pid) == 1


def test_a_killed_engine_keeps_the_frames_painted_and_the_next_job_paints(
        start_service, s3, pictures):
    server = start_service()
    (engine,) = _engine_pids(server)
    with open_socket(server.ws_url) as socket:
        # Epochs of 20 steps at 64 px: a frame every second or so, and a minute of work in all.
        socket.send(start(pictures.content, pictures.style, epochs=60, steps_per_epoch=20,
                          size=64))
        accepted = receive(socket)
        assert accepted["type"] == "accepted"
        first = receive(socket)
        while first["type"] != "frame":
            first = receive(socket)
        os.kill(engine, signal.SIGKILL)
        *frames, done = receive_until(socket, timeout_s=60)
    assert done["type"] == "done" and done["status"] == "interrupted" and done["stored"] is True
    last = frames[-1] if frames else first
    metadata = json.loads(s3.get_object(Bucket=done["result"]["bucket"],
                                        Key=done["result"]["metadata_key"])["Body"].read())
    assert metadata["status"] == "interrupted" and metadata["steps_done"] == last["step"] > 0
    assert "event=job_engine_lost" in server.log()
    # The service serves on: /healthz stays up, and the next job paints on a new engine.
    assert get_json(server.http_url + "/healthz")[0] == 200
    ending = run_job(server.ws_url, pictures.content, pictures.style, timeout_s=120, epochs=1,
                     steps_per_epoch=1)[-1]
    assert ending["type"] == "done" and ending["status"] == "finished"
    (replacement,) = _engine_pids(server)
    assert replacement != engine
    assert "event=engine_replaced reason='lost'" in server.log()
