"""`make run` (python -m devstack) as a new user meets it: up, a client job, Ctrl+C."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys

from ws_jobs import PNG_MAGIC, ROOT, get_json, image_size, wait_until

from devstack.processes import free_ports, port_is_free


def test_the_stack_serves_a_client_job_and_stops_cleanly_on_ctrl_c(tmp_path, pictures):
    s3_port, service_port, web_port = free_ports(3)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("NST_", "AWS_"))},
        "S3_PORT": str(s3_port), "SERVICE_PORT": str(service_port), "WEB_PORT": str(web_port),
        "NST_DATA_DIR": str(tmp_path / "data"), "NST_BACKBONE": "vgg16", "NST_WEIGHTS": "offline",
        "NST_DEFAULT_SIZE": "64", "CUDA_VISIBLE_DEVICES": "",
    }
    output = tmp_path / "stack.log"
    with open(output, "wb") as log:
        stack = subprocess.Popen([sys.executable, "-m", "devstack"], cwd=ROOT, env=env,
                                 stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        up = wait_until(lambda: "nst stack is up" in output.read_text() or stack.poll() is not None,
                        240, interval_s=0.5)
        assert up, output.read_text()[-3000:]
        text = output.read_text()
        assert stack.poll() is None, text[-3000:]
        assert f"ws://127.0.0.1:{service_port}/ws/stylize" in text
        assert f"http://127.0.0.1:{web_port}/" in text

        (tmp_path / "photo.jpg").write_bytes(pictures.content)
        (tmp_path / "painting.png").write_bytes(pictures.style)
        client = subprocess.run(
            [sys.executable, "-m", "service.cli", "client", str(tmp_path / "photo.jpg"),
             str(tmp_path / "painting.png"), "--url", f"ws://127.0.0.1:{service_port}/ws/stylize",
             "--epochs", "2", "--steps-per-epoch", "2", "-o", str(tmp_path / "out.png")],
            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
        assert client.returncode == 0, client.stderr
        assert (tmp_path / "out.png").read_bytes().startswith(PNG_MAGIC)
        assert image_size((tmp_path / "out.png").read_bytes()) == (64, 48)
        # The service admits the web app's page (its origin) to the results API; the client's
        # token shows the job's result.
        token = re.search(r"resume token \(X-NST-Token for \S+\): (\S+)", client.stdout)[1]
        status, body = get_json(f"http://127.0.0.1:{service_port}/v1/results?limit=1",
                                headers={"Origin": f"http://127.0.0.1:{web_port}",
                                         "X-NST-Tokens": token})
        assert status == 200 and len(body["results"]) == 1

        stack.send_signal(signal.SIGINT)
        assert stack.wait(timeout=90) == 0
    finally:
        if stack.poll() is None:
            stack.kill()
    text = output.read_text()
    assert "nst stack: service stopped\n" in text and "nst stack: SeaweedFS stopped\n" in text
    assert all(port_is_free(port) for port in (s3_port, service_port, web_port))
    assert (tmp_path / "data" / "seaweedfs" / "data").is_dir()
