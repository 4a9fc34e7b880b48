"""Real parts for the browser tests: the shared SeaweedFS and a service of our own (both from
tests/conftest.py), the Dash app (`python -m web.app`), and Debian's headless Chromium driven by
Playwright.

Our service differs from the shared `service_server` in what the page needs: it admits the Dash
app's origin (NST_ALLOWED_ORIGINS) and takes jobs long enough to cancel. A strip of a picture the
browser accepts still gets a real `bad_image` refusal: too thin for the network at the job's size.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from devstack.processes import free_ports, stop_process, wait_for_http

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT.parent / "shared" / "samples"
ARTIFACTS = ROOT / "artifacts" / "web"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
MAX_PIXELS = 300_000
# The limits both processes read, as `make run` gives them one environment.
SHARED_LIMITS = ("NST_DEFAULT_SIZE", "NST_MAX_SIZE", "NST_MAX_EPOCHS", "NST_MAX_STEPS_PER_EPOCH",
                 "NST_MAX_UPLOAD_MB")


@dataclass(frozen=True)
class Running:
    url: str
    process: subprocess.Popen


@pytest.fixture(scope="session")
def web_port() -> int:
    """Chosen before the service starts, since the service must know the web app's origin."""
    return free_ports(1)[0]


@pytest.fixture(scope="session")
def start_web_service(start_service):
    """A service for pages served on `web_port` (`start_web_service(web_port, **env)`)."""

    def start(web_port: int, **env: str):
        return start_service(
            NST_ALLOWED_ORIGINS=f"http://127.0.0.1:{web_port}", NST_MAX_PIXELS=str(MAX_PIXELS),
            NST_MAX_EPOCHS="30", NST_MAX_STEPS_PER_EPOCH="100", NST_MAX_UPLOAD_MB="2", **env,
        )

    return start


@pytest.fixture(scope="session")
def service(start_web_service, web_port):
    return start_web_service(web_port)


@pytest.fixture(scope="session")
def limits(service) -> dict[str, str]:
    return {name: service.env[name] for name in SHARED_LIMITS}


def _start_web(port: int, service_url: str, limits: dict[str, str], logs: Path,
               **overrides: str) -> Running:
    inherited = {name: value for name, value in os.environ.items()
                 if not name.startswith("NST_") and name != "WEB_PORT"}
    env = {**inherited, **limits, "WEB_PORT": str(port), "NST_WEB_HOST": "127.0.0.1",
           "NST_SERVICE_URL": service_url, "NST_BACKBONE": "vgg16", **overrides}
    with open(logs / f"web-{port}.log", "wb") as log:
        process = subprocess.Popen([sys.executable, "-m", "web.app"], cwd=ROOT, env=env,
                                   stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_for_http(url, process, 60, f"the web app (log: {logs})")
    except RuntimeError:
        stop_process(process, 5)
        raise
    return Running(url=url, process=process)


@pytest.fixture(scope="session")
def start_web(limits, tmp_path_factory):
    """Starts Dash apps (`start_web(port, service_url, **env)`); all stop at the session's end."""
    logs = tmp_path_factory.mktemp("web-app")
    started: list[Running] = []

    def start(port: int, service_url: str, **env: str) -> Running:
        started.append(_start_web(port, service_url, limits, logs, **env))
        return started[-1]

    yield start
    for running in started:
        stop_process(running.process, 10)


@pytest.fixture(scope="session")
def web(service, web_port, start_web) -> Running:
    """The Dash app whose origin the service admits."""
    return start_web(web_port, service.ws_url)


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    """A fresh desktop-width tab; browser errors fail the test that caused them."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda error: errors.append(str(error)))
    tab.on("console", lambda message: errors.append(message.text)
           if message.type == "error" and "WebSocket" not in message.text else None)
    tab.set_default_timeout(30_000)
    yield tab
    context.close()
    assert not errors, f"errors in the page: {errors}"


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


def _sample(name: str, fallback: str) -> Image.Image:
    """A sample from ../shared/samples, or scikit-image's bundled picture without shared/."""
    if (SAMPLES / name).is_file():
        return Image.open(SAMPLES / name).convert("RGB")
    from skimage import data

    return Image.fromarray(getattr(data, fallback)())


def _save(image: Image.Image, path: Path, longest: int, kind: str = "JPEG") -> Path:
    image = image.copy()
    image.thumbnail((longest, longest))
    image.save(path, kind, **({"quality": 90} if kind == "JPEG" else {}))
    return path


def _huge_photo(path: Path) -> Path:
    """A 9000 x 9000 JPEG (81 million pixels, over the service's NST_MAX_PIXELS) of a few hundred
    KB: a camera's panorama, as a person would drop it."""
    small = _sample("tubingen.jpg", "astronaut").resize((90, 90))
    small.resize((9000, 9000), Image.NEAREST).save(path, "JPEG", quality=60)
    return path


@dataclass(frozen=True)
class Files:
    content: Path
    style: Path
    text_as_image: Path
    too_thin: Path
    too_large: Path
    huge_photo: Path


@pytest.fixture(scope="session")
def files(tmp_path_factory) -> Files:
    folder = tmp_path_factory.mktemp("web-images")
    text = folder / "notes.png"
    text.write_text("These are my holiday notes, not a picture.\n" * 20)
    rng = np.random.default_rng(0)
    noise = Image.fromarray(rng.integers(0, 256, (1100, 1100, 3), dtype=np.uint8))
    big = io.BytesIO()
    noise.save(big, "PNG")  # random pixels do not compress: about 3.6 MB, over the 2 MB limit
    (folder / "huge.png").write_bytes(big.getvalue())
    return Files(
        content=_save(_sample("tubingen.jpg", "astronaut"), folder / "tubingen.jpg", 96),
        style=_save(_sample("starry_night.jpg", "coffee"), folder / "starry_night.jpg", 96),
        text_as_image=text,
        too_thin=_save(_sample("shipwreck.jpg", "chelsea").resize((640, 8)),
                       folder / "shipwreck-strip.png", 640, "PNG"),
        too_large=folder / "huge.png",
        huge_photo=_huge_photo(folder / "photo-9000x9000.jpg"),
    )


@pytest.fixture(scope="session")
def second_painting(tmp_path_factory) -> Path:
    """A second painting to blend: The Scream (scikit-image's coffee without shared/), 160 px."""
    return _save(_sample("the_scream.jpg", "coffee"),
                 tmp_path_factory.mktemp("paintings") / "second.jpg", 160)
