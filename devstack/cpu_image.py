"""The CPU image of Dockerfile.gpu, built and started on a machine where containers cannot run.

Development tooling beside the package: `make image-test` (tests/infra/test_image.py) and the
benchmark use it. Podman builds the image (`--isolation
chroot`) on Debian bookworm made by debootstrap. `podman run` fails here (no cgroups, no
setrlimit), so the image's own command is started from `podman image mount` with chroot, as the
image's USER, in a private mount namespace: the image's files read-only, a fresh /tmp, the host's
/proc, /dev and network (the service listens on the host's loopback).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from .processes import LocalService, free_ports, stop_process

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = ROOT / "Dockerfile.gpu"
CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "nst-image"
SUITE = "bookworm"
BASE_TAG = f"localhost/nst-base/debian:{SUITE}"
CPU_TAG = "localhost/nst-cpu:test"
CPU_BUILD_ARGS = {"BASE_IMAGE": BASE_TAG, "EXTRA": "", "WEIGHTS": "offline",
                  "BACKBONE": "vgg16"}
# What debian:bookworm-slim sets and a bare root filesystem lacks.
BASE_CHANGES = ("ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                'CMD ["bash"]')
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
PIP_DIR = CACHE / "pip"  # pip.conf, the host's CA bundle, wheels/
PIP_MOUNT = "/root/.config/pip"
BUILD_TIMEOUT_S = 1800
POLL_S = 0.1


class ImageError(RuntimeError):
    """A podman, debootstrap or build step failed; the message ends with its output."""


@dataclass(frozen=True)
class ImageConfig:
    """What `podman image inspect` says the image runs, and its size."""

    image_id: str
    user: str
    command: list[str]
    env: dict[str, str]
    workdir: str
    size_bytes: int


def _run(command: list[str], timeout_s: float = 300, **options) -> str:
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s, **options)
    if result.returncode != 0:
        output = (result.stdout + result.stderr)[-4000:]
        raise ImageError(f"{shlex.join(command[:4])} ... exited with {result.returncode}:\n"
                         f"{output}")
    return result.stdout


def debian_mirror(apt_dir: Path = Path("/etc/apt")) -> str:
    """The host's Debian mirror (deb822 `.sources` or `sources.list`), deb.debian.org if none."""
    texts = [path.read_text() for path in sorted(apt_dir.glob("sources.list.d/*.sources"))]
    for text in texts:
        for stanza in text.split("\n\n"):
            uris = re.search(r"^URIs:\s*(\S+)", stanza, re.M)
            suites = re.search(r"^Suites:\s*(.+)$", stanza, re.M)
            if uris and suites and SUITE in suites.group(1).split():
                return uris.group(1)
    sources = apt_dir / "sources.list"
    if sources.is_file():
        match = re.search(rf"^deb\s+(?:\[[^]]*\]\s+)?(\S+)\s+{SUITE}\s", sources.read_text(), re.M)
        if match:
            return match.group(1)
    return "http://deb.debian.org/debian"


def image_exists(tag: str) -> bool:
    return subprocess.run(["podman", "image", "exists", tag], timeout=60).returncode == 0


def ensure_base(tag: str = BASE_TAG) -> str:
    """Debian `SUITE` (debootstrap's minbase) as a podman image, made once and then reused."""
    if not image_exists(tag):
        CACHE.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=CACHE, prefix="debootstrap-") as directory:
            root = Path(directory) / "root"
            _run(["debootstrap", "--variant=minbase", SUITE, str(root), debian_mirror()], 900)
            changes = [option for change in BASE_CHANGES for option in ("--change", change)]
            tar = subprocess.Popen(["tar", "-C", str(root), "-c", "."], stdout=subprocess.PIPE)
            try:
                _run(["podman", "import", *changes, "-", tag], 300, stdin=tar.stdout)
            finally:
                tar.stdout.close()
                tar.wait()
    return tag


def _pip_config(build_args: dict[str, str]) -> list[str]:
    """A volume for the RUN steps only, root's pip configuration: trust what this host trusts (a
    TLS-inspecting proxy's CA, for one), and take wheels from a wheel folder kept here between
    runs (pip's own cache keeps nothing where responses carry no caching headers). Only its empty
    mount point, /root/.config/pip, stays in the layers."""
    PIP_DIR.mkdir(parents=True, exist_ok=True)
    settings = ["[global]", f"find-links = {PIP_MOUNT}/wheels"]
    if HOST_CA_BUNDLE.is_file():
        shutil.copyfile(HOST_CA_BUNDLE, PIP_DIR / "ca.crt")
        settings.append(f"cert = {PIP_MOUNT}/ca.crt")
    (PIP_DIR / "pip.conf").write_text("\n".join(settings) + "\n")
    _fill_wheel_folder(build_args.get("EXTRA", "gpu"))
    return ["--volume", f"{PIP_DIR}:{PIP_MOUNT}:ro"]


def _fill_wheel_folder(extra: str) -> None:
    """The wheels the build stage installs, downloaded by this host's pip: on the image's
    platform (Debian 12, the image's Python) it resolves the same wheels, and downloads each once.
    Elsewhere the build downloads them itself."""
    if f"{sys.version_info.major}.{sys.version_info.minor}" != dockerfile_arg("PYTHON_VERSION"):
        return
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = [*project["dependencies"], *project["optional-dependencies"].get(extra, []),
                    f"tensorflow=={dockerfile_arg('TF_VERSION')}", "pip"]
    (PIP_DIR / "wheels").mkdir(exist_ok=True)
    subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--only-binary=:all:",
                    "--dest", str(PIP_DIR / "wheels"), *requirements],
                   capture_output=True, timeout=BUILD_TIMEOUT_S, stdin=subprocess.DEVNULL)


def dockerfile_arg(name: str) -> str:
    return re.search(rf"^ARG {name}=(\S+)", DOCKERFILE.read_text(), re.M).group(1)


def build(tag: str = CPU_TAG, build_args: dict[str, str] | None = None,
          dockerfile_text: str | None = None, log_path: Path | None = None) -> None:
    """`podman build` of Dockerfile.gpu (or of `dockerfile_text` in its place) on the repository.

    Unchanged steps come from podman's layer cache, pip's downloads from the wheel folder. The
    install stage is tagged too (`TAG-build`), so that removing the untagged images afterwards
    (the previous build's, which would otherwise fill the disk run after run) keeps its cache."""
    build_args = CPU_BUILD_ARGS if build_args is None else build_args
    with tempfile.TemporaryDirectory(prefix="nst-dockerfile-") as directory:
        dockerfile = DOCKERFILE
        if dockerfile_text is not None:
            dockerfile = Path(directory) / "Dockerfile"
            dockerfile.write_text(dockerfile_text)
        arguments = [option for name, value in build_args.items()
                     for option in ("--build-arg", f"{name}={value}")]
        # The docker format keeps HEALTHCHECK, which OCI image configs cannot hold.
        command = ["podman", "build", "--isolation", "chroot", "--layers", "--format", "docker",
                   "--file", str(dockerfile), *arguments, *_pip_config(build_args)]
        output = ""
        for stage_options in (["--target", "build", "--tag", f"{tag}-build"], ["--tag", tag]):
            result = subprocess.run([*command, *stage_options, str(ROOT)], capture_output=True,
                                    text=True, timeout=BUILD_TIMEOUT_S, stdin=subprocess.DEVNULL)
            output += result.stdout + result.stderr
            if result.returncode != 0:
                break
    if log_path is not None:
        log_path.write_text(output)
    if result.returncode != 0:
        raise ImageError(f"podman build exited with {result.returncode}:\n{output[-4000:]}")
    subprocess.run(["podman", "image", "prune", "--force"], capture_output=True, timeout=300)


def inspect(tag: str = CPU_TAG) -> ImageConfig:
    (image,) = json.loads(_run(["podman", "image", "inspect", tag]))
    config = image["Config"]
    env = dict(pair.split("=", 1) for pair in config.get("Env", []))
    return ImageConfig(image["Id"], config.get("User", ""), config.get("Cmd", []), env,
                       config.get("WorkingDir", "/"), int(image["Size"]))


@contextlib.contextmanager
def mounted(image_id: str) -> Iterator[Path]:
    """The image's root filesystem (`podman image mount`), unmounted on the way out."""
    root = Path(_run(["podman", "image", "mount", image_id]).strip())
    try:
        yield root
    finally:
        subprocess.run(["podman", "image", "unmount", image_id], capture_output=True, timeout=60)


def user_ids(root: Path, user: str) -> tuple[int, int]:
    """(uid, gid) of `user` (a name or a number, as in USER) in the image's /etc/passwd."""
    for line in (root / "etc" / "passwd").read_text().splitlines():
        name, _, uid, gid, *_ = line.split(":")
        if user in (name, uid):
            return int(uid), int(gid)
    raise ImageError(f"the image has no user {user!r} in /etc/passwd")


def command_as_image_user(root: Path, config: ImageConfig, env: dict[str, str],
                          command: list[str] | None = None) -> list[str]:
    """The argv that starts `command` (the image's CMD by default) inside the mounted image as
    its USER, in its WORKDIR, with exactly the image's environment updated by `env`."""
    if not config.user or user_ids(root, config.user)[0] == 0:
        raise ImageError("the image runs as root: its USER is missing or uid 0")
    uid, gid = user_ids(root, config.user)
    mounts = " && ".join([
        f"mount -t proc proc {shlex.quote(str(root / 'proc'))}",
        f"mount --rbind /dev {shlex.quote(str(root / 'dev'))}",
        f"mount -t tmpfs -o mode=1777 tmpfs {shlex.quote(str(root / 'tmp'))}",
    ])
    variables = [f"{name}={value}" for name, value in {**config.env, **env}.items()]
    inside = ["setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups",
              "env", "-i", f"--chdir={config.workdir or '/'}", *variables,
              *(command or config.command)]
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c",
            f'{mounts} && exec "$@"', "sh", "chroot", str(root), *inside]


@dataclass(frozen=True)
class Served(LocalService):
    process: subprocess.Popen
    port: int
    ready_s: float  # from spawning the process to the first /readyz 200


@contextlib.contextmanager
def serving(root: Path, config: ImageConfig, env: dict[str, str], log_path: Path,
            timeout_s: float = 600) -> Iterator[Served]:
    """The image's command on a free loopback port, yielded once /readyz answers 200, stopped
    (SIGTERM, then SIGKILL after 30 s) on the way out."""
    (port,) = free_ports(1)
    env = {**env, "PORT": str(port), "NST_HOST": "127.0.0.1"}
    with open(log_path, "wb") as log:
        started = time.perf_counter()
        process = subprocess.Popen(command_as_image_user(root, config, env), stdout=log,
                                   stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        try:
            _wait_ready(f"http://127.0.0.1:{port}/readyz", process, started + timeout_s)
        except ImageError as error:
            raise ImageError(f"{error}\n--- log ---\n{log_path.read_text()[-3000:]}") from None
        yield Served(process, port, time.perf_counter() - started)
    finally:
        stop_process(process, 30)


def _wait_ready(url: str, process: subprocess.Popen, deadline: float) -> None:
    """Poll /readyz until 200; fail as soon as the process exits or says its start-up failed."""
    while time.perf_counter() < deadline:
        if process.poll() is not None:
            raise ImageError(f"the image's command exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except urllib.error.HTTPError as error:
            reason = json.loads(error.read() or b"{}").get("reason", "")
            if reason.startswith("start-up failed"):
                raise ImageError(f"the image's command answers /readyz: {reason}") from None
        except OSError:
            pass
        time.sleep(POLL_S)
    raise ImageError(f"the image's command was not ready at {url} in time")
