"""The web app in a real headless Chromium, against a real service and real object storage.

A person uploads two images, starts a job, watches it paint and downloads the result; cancels a
job; sees only their own paintings in the gallery; and gets plain-words messages for wrong files,
service refusals and an unreachable service.
Screenshots of each stage land in artifacts/web/.
"""

from __future__ import annotations

import io
import re
import time
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from PIL import Image
from playwright.sync_api import Page, expect

from devstack.processes import free_ports

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
STOPPED_EARLY = re.compile(r"Stopped after epoch \d+ of 30")
# The count of painted frames seen, not counting the photo shown while the job starts.
PAINTED = ("window.__frames.filter(src => src.startsWith('data:image/jpeg') && "
           "src !== document.getElementById('content-preview').getAttribute('src')).length")

# Records every src the frame image takes and the loss chart's point count after every redraw.
WATCH_LIVE_VIEW = """() => {
    window.__frames = [];
    window.__points = [];
    const image = document.getElementById("frame-image");
    new MutationObserver(() => {
        const src = image.getAttribute("src");
        if (src && window.__frames[window.__frames.length - 1] !== src) window.__frames.push(src);
    }).observe(image, {attributes: true, attributeFilter: ["src"]});
    const chart = document.querySelector("#loss-graph .js-plotly-plot");
    chart.on("plotly_afterplot", () => window.__points.push(chart.data[0].x.length));
}"""


def open_page(page: Page, url: str) -> None:
    page.goto(url)
    expect(page.locator("#start-button")).to_be_enabled()
    page.wait_for_selector("#loss-graph .js-plotly-plot")


def upload(page: Page, role: str, path) -> None:
    page.set_input_files(f"#{role}-upload input[type=file]", str(path))


def set_number(page: Page, slider_id: str, value: int) -> None:
    """Types into the box beside a slider, as a person who knows the number would."""
    box = page.locator(f"#{slider_id} input[type=number]")
    box.fill(str(value))
    box.press("Enter")
    thumb = page.locator(f"#{slider_id} [role=slider]")
    expect(thumb).to_have_attribute("aria-valuenow", str(value))


def choose_job(page: Page, epochs: int, steps: int, size: int) -> None:
    set_number(page, "epochs", epochs)
    set_number(page, "steps-per-epoch", steps)
    set_number(page, "size", size)


def saved_png(page: Page, button: str, job_id: str) -> Image.Image:
    """Clicks a download button: the browser saves a file named nst-<job id>.png, a valid PNG."""
    with page.expect_download() as download:
        page.click(button)
    assert download.value.suggested_filename == f"nst-{job_id}.png"
    data = Path(download.value.path()).read_bytes()
    assert data.startswith(PNG_MAGIC)
    picture = Image.open(io.BytesIO(data))
    picture.verify()
    return Image.open(io.BytesIO(data))


RECORD_ALERTS = """() => {
    window.__alerts = [];
    new MutationObserver(() => {
        const alert = document.getElementById("status-alert");
        if (alert) window.__alerts.push(alert.textContent);
    }).observe(document.body, {childList: true, subtree: true, characterData: true});
}"""


def status_alert(page: Page):
    return page.locator("#status-alert")


def wait_phase(page: Page, label: str, timeout_s: float = 60) -> None:
    expect(page.locator("#phase-badge")).to_have_text(label, timeout=timeout_s * 1000)


def paint_a_tiny_job(page: Page, files) -> str:
    """Upload both images, run a 2-step job at 64 px to `done`; its id, once the gallery shows it."""
    upload(page, "content", files.content)
    upload(page, "style", files.style)
    choose_job(page, epochs=1, steps=2, size=64)
    page.click("#start-button")
    wait_phase(page, "done")
    job_id = page.inner_text("#job-id").strip()
    expect(page.locator(f'[id*="{job_id}"]')).to_be_visible(timeout=15_000)
    return job_id


def test_a_job_paints_live_then_is_downloadable_and_in_the_gallery(page, web, files, artifacts):
    open_page(page, web.url)
    page.screenshot(path=artifacts / "01-empty-page.png", full_page=True)

    upload(page, "content", files.content)
    upload(page, "style", files.style)
    expect(page.locator("#content-info")).to_contain_text(re.compile(r"tubingen\.jpg · \d+×\d+ px"))
    expect(page.locator("#style-info")).to_contain_text(
        re.compile(r"starry_night\.jpg · \d+×\d+ px"))
    expect(page.locator("#content-preview")).to_have_attribute("src",
                                                               re.compile("^data:image/jpeg"))
    choose_job(page, epochs=3, steps=8, size=96)
    page.screenshot(path=artifacts / "02-images-ready.png", full_page=True)

    page.evaluate(WATCH_LIVE_VIEW)
    page.click("#start-button")
    expect(page.locator("#cancel-button")).to_be_enabled()
    expect(page.locator("#model-info")).to_have_text("model: vgg16 · offline weights",
                                                     timeout=30_000)
    page.wait_for_function(f"{PAINTED} >= 2", timeout=60_000)
    page.screenshot(path=artifacts / "03-mid-run.png", full_page=True)
    wait_phase(page, "done")
    page.screenshot(path=artifacts / "04-done.png", full_page=True)

    uploaded = page.get_attribute("#content-preview", "src")
    frames = page.evaluate("window.__frames")
    painted = [src for src in frames if src.startswith("data:image/jpeg") and src != uploaded]
    assert len(set(painted)) >= 2, f"the frame changed {len(set(painted))} times"
    # A point per frame received (a busy page may be sent only the newest of two frames), the
    # last at the job's last step. Plotly redraws after the page took the frame: wait for it.
    last_step = ("(() => { const x = document.querySelector('#loss-graph .js-plotly-plot')"
                 ".data[0].x; return x[x.length - 1]; })()")
    page.wait_for_function(f"{last_step} === 24", timeout=10_000)
    points = page.evaluate("window.__points")
    assert max(points) == len(set(painted)) and len({p for p in points if p > 0}) >= 2, points
    expect(page.locator("#progress-text")).to_contain_text("Finished in")
    expect(page.locator("#progress")).to_contain_text("100%")

    # The final image is the stored PNG, and the download button saves it as nst-<job id>.png.
    job_id = page.inner_text("#job-id").strip()
    assert re.fullmatch(r"[0-9a-f]{32}", job_id)
    page.wait_for_function("document.getElementById('frame-image').naturalWidth > 0")
    shown_width = page.evaluate("document.getElementById('frame-image').naturalWidth")
    assert shown_width == 96
    assert saved_png(page, "#download-button", job_id).size[0] == 96
    expect(page.locator("#params-used")).to_contain_text("3 epochs × 8 steps")
    expect(page.locator("#params-used")).to_contain_text("vgg16")
    expect(page.locator("#start-button")).to_be_enabled()
    expect(page.locator("#cancel-button")).to_be_disabled()

    # The gallery refreshes by itself and opens the result, downloadable.
    card = page.locator(f'[id*="{job_id}"]')
    expect(card).to_be_visible(timeout=15_000)
    expect(card.locator("img")).to_have_attribute("src", re.compile(r"thumbnail\.jpg"))
    expect(card).to_contain_text("3 epochs × 8 steps")
    card.click()
    expect(page.locator(".modal.show")).to_be_visible()
    expect(page.locator("#gallery-modal-body")).to_contain_text(job_id)
    page.wait_for_function("document.querySelector('.gallery-full').naturalWidth > 0")
    page.wait_for_timeout(400)  # the modal's fade-in
    page.screenshot(path=artifacts / "05-gallery-open.png")
    assert saved_png(page, f'[id*="gallery-download"][id*="{job_id}"]', job_id).size[0] == 96
    page.keyboard.press("Escape")

    page.set_viewport_size({"width": 390, "height": 844})
    page.wait_for_timeout(300)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390, "the page scrolls sideways"
    page.screenshot(path=artifacts / "06-phone-done.png", full_page=True)


def test_a_second_page_waits_in_the_queue_and_cancel_frees_the_slot(page, browser, web, files,
                                                                     artifacts):
    open_page(page, web.url)
    upload(page, "content", files.content)
    upload(page, "style", files.style)
    choose_job(page, epochs=30, steps=25, size=96)
    page.evaluate(WATCH_LIVE_VIEW)
    page.click("#start-button")
    page.wait_for_function(f"{PAINTED} >= 2", timeout=60_000)
    expect(page.locator("#progress-text")).to_contain_text(re.compile(r"Epoch \d+/30 .* left"))

    # Another visitor starts a job meanwhile: it waits, and says where it stands.
    other_context = browser.new_context(viewport={"width": 1280, "height": 900})
    other = other_context.new_page()
    try:
        open_page(other, web.url)
        upload(other, "content", files.content)
        upload(other, "style", files.style)
        choose_job(other, epochs=1, steps=2, size=64)
        other.click("#start-button")
        wait_phase(other, "queued", timeout_s=20)
        expect(status_alert(other)).to_contain_text(
            re.compile(r"In the queue: 1 job ahead of yours, about \d+:\d\d to wait\."))
        other.screenshot(path=artifacts / "07-queued.png", full_page=True)

        page.evaluate(RECORD_ALERTS)  # the cancel may land before a check could read its note
        clicked = time.monotonic()
        page.click("#cancel-button")
        wait_phase(page, "cancelled", timeout_s=20)
        assert any("stops within one optimisation step" in text
                   for text in page.evaluate("window.__alerts"))
        stopped_after_s = time.monotonic() - clicked
        expect(status_alert(page)).to_contain_text("Cancelled")
        expect(page.locator("#progress-text")).to_contain_text(STOPPED_EARLY)
        progress = int(page.get_attribute("#progress [role=progressbar]", "aria-valuenow") or 0)
        assert progress < 100
        expect(page.locator("#start-button")).to_be_enabled()
        expect(page.locator("#cancel-button")).to_be_disabled()
        page.screenshot(path=artifacts / "08-cancelled.png", full_page=True)
        assert stopped_after_s < 15
        # The picture reached is kept: downloadable, and in the gallery marked cancelled.
        expect(status_alert(page)).to_contain_text("kept the image it had reached")
        job_id = page.inner_text("#job-id").strip()
        assert saved_png(page, "#download-button", job_id).size[0] == 96
        expect(page.locator(f'[id*="gallery-open"][id*="{job_id}"]')).to_contain_text(
            "cancelled", timeout=15_000)

        # The freed slot goes to the waiting page, which runs to the end.
        wait_phase(other, "done")
    finally:
        other_context.close()


def test_the_gallery_shows_this_browsers_paintings_only_each_deletable(page, browser, web, files,
                                                                      service):
    open_page(page, web.url)
    job_id = paint_a_tiny_job(page, files)
    # The browser keeps the job's token: after a reload its gallery still shows the painting.
    page.reload()
    card = page.locator(f'[id*="gallery-open"][id*="{job_id}"]')
    expect(card).to_be_visible(timeout=15_000)

    # Another visitor's browser holds no token of it: the painting is not in its gallery.
    stranger_context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        stranger = stranger_context.new_page()
        open_page(stranger, web.url)
        expect(stranger.locator("#gallery-status")).to_contain_text("No paintings yet")
        expect(stranger.locator(f'[id*="{job_id}"]')).to_have_count(0)
    finally:
        stranger_context.close()

    # Its owner deletes it: gone from the gallery, and from the service (/v1 answers 404).
    card.click()
    page.click(f'[id*="gallery-delete"][id*="{job_id}"]')
    expect(page.locator(".modal.show")).to_have_count(0)
    expect(card).to_have_count(0, timeout=15_000)
    token = page.evaluate(f"JSON.parse(localStorage.getItem('job-tokens'))['{job_id}'].token")
    response = page.request.get(f"{service.http_url}/v1/jobs/{job_id}",
                                headers={"X-NST-Token": token})
    assert response.status == 404


def test_a_wrong_file_gets_a_message_keeps_the_image_and_nothing_is_sent(page, web, files,
                                                                         artifacts):
    sockets = []
    page.on("websocket", lambda socket: sockets.append(socket.url))
    open_page(page, web.url)

    upload(page, "content", files.text_as_image)
    expect(page.locator("#content-feedback")).to_have_text(
        "notes.png is not an image nst can use: choose a PNG, JPEG or WebP file.")
    expect(page.locator("#content-upload .upload-box")).to_have_class(re.compile("is-invalid"))
    page.click("#start-button")
    expect(status_alert(page)).to_have_text("Add a photo and a painting first.")

    # A 3.6 MB painting, over the 2 MB limit, is scaled to what a job can use (NST_MAX_SIZE) in
    # the browser, and fits.
    upload(page, "style", files.too_large)
    expect(page.locator("#style-info")).to_contain_text("huge.png · 1100×1100 px → 256×256 px")
    expect(page.locator("#style-feedback")).to_be_empty()
    expect(status_alert(page)).to_have_text("Add a photo first.")
    page.screenshot(path=artifacts / "09-wrong-files.png", full_page=True)

    # A good file replaces the message, and the alert about the missing image goes.
    upload(page, "content", files.content)
    expect(page.locator("#content-feedback")).to_be_empty()
    expect(page.locator("#content-upload .upload-box")).to_have_class(re.compile("has-image"))
    expect(status_alert(page)).to_be_hidden()
    good_photo = page.get_attribute("#content-preview", "src")

    # A wrong file after a good one is refused beside the slot, and the good image stays.
    upload(page, "content", files.text_as_image)
    expect(page.locator("#content-feedback")).to_contain_text("notes.png is not an image")
    assert page.get_attribute("#content-preview", "src") == good_photo
    expect(page.locator("#content-info")).to_contain_text("tubingen.jpg")
    assert sockets == []


def test_a_service_refusal_is_shown_and_the_page_recovers(page, web, files, artifacts):
    open_page(page, web.url)
    upload(page, "content", files.too_thin)  # fine for the browser; 64x1 px at the job's size
    upload(page, "style", files.style)
    expect(page.locator("#content-info")).to_contain_text("640×8 px")
    choose_job(page, epochs=1, steps=2, size=64)
    page.click("#start-button")
    wait_phase(page, "error")
    # In the page's words: the Photo, not the protocol's `content`.
    expect(status_alert(page)).to_contain_text(
        "The service could not use an image: Photo: the photo is 64x1 px")
    expect(page.locator("#start-button")).to_be_enabled()
    page.screenshot(path=artifacts / "10-service-refused.png", full_page=True)

    # Start works again; and a weight moved on its logarithmic slider is what the job uses.
    upload(page, "content", files.content)
    page.click("text=Advanced: loss weights, start, optimiser")
    expect(page.locator("#style-weight-value")).to_have_text("10000 (default)")
    thumb = page.locator("#style-weight [role=slider]")
    thumb.focus()
    for _ in range(10):
        thumb.press("ArrowLeft")
    expect(page.locator("#style-weight-value")).to_have_text("1000")
    page.click("#start-button")
    wait_phase(page, "done")
    expect(status_alert(page)).to_be_hidden()
    expect(page.locator("#params-used")).to_contain_text("1 epoch × 2 steps")
    expect(page.locator("#params-used")).to_contain_text(
        "style weight 1000 · content weight default · total variation weight default")


@pytest.fixture(scope="module")
def lost_web(service, start_web):
    """Two more Dash apps: one whose origin the service does not admit, one pointed at a port
    where no service listens."""
    foreign_port, lonely_port, dead_port = free_ports(3)
    return (start_web(foreign_port, service.ws_url),
            start_web(lonely_port, f"ws://127.0.0.1:{dead_port}/ws/stylize"))


def test_an_unknown_origin_and_an_unreachable_service_are_explained(page, lost_web, files,
                                                                    artifacts):
    foreign, lonely = lost_web
    for running, expected, shot in (
        # Refused at the handshake (HTTP 403), which a browser cannot tell from a dead service.
        (foreign, "the service refused the connection (check the API key", "11-forbidden-origin.png"),
        (lonely, "Could not connect to the service at ws://127.0.0.1:", "12-unreachable.png"),
    ):
        open_page(page, running.url)
        upload(page, "content", files.content)
        upload(page, "style", files.style)
        page.click("#start-button")
        wait_phase(page, "error", timeout_s=20)
        expect(status_alert(page)).to_contain_text(expected)
        expect(page.locator("#start-button")).to_be_enabled()
        expect(page.locator("#cancel-button")).to_be_disabled()
        page.screenshot(path=artifacts / shot, full_page=True)
        # Start works again (and fails the same way, cleanly).
        page.click("#start-button")
        wait_phase(page, "error", timeout_s=20)


def test_with_an_api_key_jobs_run_and_a_service_that_dies_mid_job_is_explained(
        page, start_web_service, start_web, files, artifacts):
    (port,) = free_ports(1)
    keyed = start_web_service(port, NST_API_KEY="web-test-key")
    running = start_web(port, keyed.ws_url, NST_API_KEY="web-test-key")
    open_page(page, running.url)
    expect(page.locator("#gallery-status")).not_to_contain_text("answered 401")
    paint_a_tiny_job(page, files)
    # The header shows the service's model (from its /readyz, no job needed) with a green dot.
    expect(page.locator("#model-info")).to_have_text("model: vgg16 · offline weights")
    expect(page.locator("#service-dot")).to_have_class(re.compile("is-up"))

    # The service process dies while it paints: the page says so and can start again, and the
    # header's dot turns red within 10 s.
    choose_job(page, epochs=30, steps=25, size=96)
    page.evaluate(WATCH_LIVE_VIEW)
    page.click("#start-button")
    page.wait_for_function(f"{PAINTED} >= 1", timeout=60_000)
    keyed.process.kill()
    killed = time.monotonic()
    expect(page.locator("#service-dot")).to_have_class(re.compile("is-down"), timeout=10_000)
    assert time.monotonic() - killed < 10
    expect(page.locator("#model-info")).to_contain_text("service unavailable")
    wait_phase(page, "error", timeout_s=20)
    expect(status_alert(page)).to_contain_text(
        "The connection to the service dropped before the job finished")
    expect(page.locator("#progress-text")).to_contain_text(STOPPED_EARLY)
    expect(page.locator("#start-button")).to_be_enabled()
    expect(page.locator("#cancel-button")).to_be_disabled()
    page.screenshot(path=artifacts / "13-service-died.png", full_page=True)


def test_a_reload_mid_run_follows_the_job_again_to_done(page, web, files, artifacts):
    open_page(page, web.url)
    upload(page, "content", files.content)
    upload(page, "style", files.style)
    choose_job(page, epochs=30, steps=10, size=64)
    page.evaluate(WATCH_LIVE_VIEW)
    page.click("#start-button")
    page.wait_for_function(f"{PAINTED} >= 1", timeout=60_000)
    job_id = re.search(r"[?&]job=([0-9a-f]{32})", page.url).group(1)
    page.screenshot(path=artifacts / "14-before-reload.png", full_page=True)

    page.reload()
    expect(page.locator("#phase-badge")).to_have_text(re.compile("connecting|painting"))
    page.wait_for_selector("#loss-graph .js-plotly-plot")
    page.evaluate(WATCH_LIVE_VIEW)
    page.wait_for_function("window.__frames.length >= 2", timeout=60_000)
    page.screenshot(path=artifacts / "15-reloaded.png", full_page=True)
    wait_phase(page, "done")
    expect(page.locator("#progress-text")).to_contain_text("Finished in")
    assert page.inner_text("#job-id").strip() == job_id
    assert len(set(page.evaluate("window.__frames"))) >= 2, "no frame arrived after the reload"
    assert saved_png(page, "#download-button", job_id).size[0] == 64
    expect(page.locator(f'[id*="{job_id}"]').first).to_be_visible(timeout=15_000)

    # Another browser given the address cannot follow a job it holds no token of.
    stranger = page.context.browser.new_context()
    try:
        other = stranger.new_page()
        open_page(other, f"{web.url}?job={job_id}")
        expect(status_alert(other)).to_contain_text("did not start")
        assert "job=" not in other.url
    finally:
        stranger.close()


def test_a_9000_pixel_photo_is_scaled_in_the_browser_and_runs(page, web, files):
    sent = []
    page.on("websocket", lambda socket: socket.on("framesent", lambda frame: sent.append(
        len(frame) if isinstance(frame, (str, bytes)) else 0)))
    open_page(page, web.url)
    upload(page, "content", files.huge_photo)
    expect(page.locator("#content-info")).to_contain_text(
        "photo-9000x9000.jpg · 9000×9000 px → 256×256 px", timeout=30_000)
    upload(page, "style", files.style)
    choose_job(page, epochs=1, steps=2, size=64)
    page.click("#start-button")
    wait_phase(page, "done")
    expect(status_alert(page)).to_be_hidden()
    # The photo went at the job's 64 px: the whole start message is a few KB.
    assert sent and max(sent) < 40_000, sent


def test_an_invalid_field_blocks_start_with_the_range_beside_it(page, web, files):
    sockets = []
    page.on("websocket", lambda socket: sockets.append(socket.url))
    open_page(page, web.url)
    upload(page, "content", files.content)
    upload(page, "style", files.style)
    set_number(page, "epochs", 3)

    box = page.locator("#epochs-input")
    box.fill("-5")
    expect(page.locator("#epochs-error")).to_have_text(
        "Epochs must be a whole number from 1 to 30, not -5.")
    expect(box).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#epochs [role=slider]")).to_have_attribute("aria-valuenow", "3")
    box.fill("2.5")
    expect(page.locator("#epochs-error")).to_contain_text("not 2.5")
    page.click("#start-button")
    expect(status_alert(page)).to_contain_text("Start needs a valid setting: epochs")
    expect(box).to_have_value("2.5")  # never changed behind the person's back
    box.fill("")
    expect(page.locator("#epochs-error")).to_have_text(
        "Epochs must be a whole number from 1 to 30; it is empty.")

    # A field in the closed Advanced section: Start opens it and shows the field.
    box.fill("2")
    expect(page.locator("#epochs-error")).to_be_empty()
    page.evaluate("""() => {
        const seed = document.querySelector('#seed input');
        const setter = Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, 'value').set;
        setter.call(seed, '3.7');
        seed.dispatchEvent(new Event('input', {bubbles: true}));
    }""")
    page.click("#start-button")
    expect(page.locator("#seed-error")).to_have_text(
        "Seed must be a whole number of 0 or more, not 3.7.")
    expect(page.locator("#seed input")).to_be_visible()
    expect(page.locator("#seed input")).to_be_focused()
    assert sockets == []

    page.locator("#seed input").fill("7")
    expect(page.locator("#seed-error")).to_be_empty()
    expect(page.locator("#epochs [role=slider]")).to_have_attribute("aria-valuenow", "2")
    set_number(page, "steps-per-epoch", 2)
    set_number(page, "size", 64)
    page.click("#start-button")
    wait_phase(page, "done")
    expect(page.locator("#params-used")).to_contain_text("2 epochs × 2 steps")


def serious_accessibility_problems(page: Page) -> list[str]:
    """axe-core's violations of impact serious or critical, one line each."""
    found = Axe().run(page).response["violations"]
    return [f"{v['id']} ({v['impact']}): {v['help']}: "
            + "; ".join(node["target"][0] if isinstance(node["target"][0], str)
                        else str(node["target"]) for node in v["nodes"][:3])
            for v in found if v["impact"] in ("serious", "critical")]


def tab_to(page: Page, selector: str, presses: int = 80) -> None:
    """Presses Tab until the focus is on `selector` (or inside it), as a keyboard user would."""
    for _ in range(presses):
        page.keyboard.press("Tab")
        if page.evaluate("(s) => !!document.activeElement && !!document.activeElement.closest(s)",
                         selector):
            return
    raise AssertionError(f"Tab never reached {selector}")


def test_keyboard_alone_uploads_starts_cancels_and_downloads_and_axe_finds_nothing_serious(
        page, web, files, artifacts):
    open_page(page, web.url)
    problems = serious_accessibility_problems(page)
    assert problems == [], "\n".join(problems)
    # Listening from the start: the browser's file dialog is intercepted before any key is pressed.
    choose = {}
    page.on("filechooser", lambda chooser: chooser.set_files(str(choose["file"])))
    for role, path in (("content", files.content), ("style", files.style)):
        tab_to(page, f"#{role}-upload")
        assert page.evaluate("document.activeElement.type") == "file", role
        choose["file"] = path
        page.keyboard.press("Enter")
        expect(page.locator(f"#{role}-info")).to_contain_text(path.name)
    for field, value in (("epochs", "30"), ("steps-per-epoch", "25"), ("size", "96")):
        tab_to(page, f"#{field}-input")
        page.keyboard.press("Control+A")
        page.keyboard.type(value)
        expect(page.locator(f"#{field} [role=slider]")).to_have_attribute("aria-valuenow", value)

    page.evaluate(WATCH_LIVE_VIEW)
    tab_to(page, "#start-button")
    page.keyboard.press("Enter")
    page.wait_for_function(f"{PAINTED} >= 1", timeout=60_000)
    problems = serious_accessibility_problems(page)
    assert problems == [], "\n".join(problems)
    tab_to(page, "#cancel-button")
    page.keyboard.press("Enter")
    wait_phase(page, "cancelled", timeout_s=20)
    job_id = page.inner_text("#job-id").strip()
    tab_to(page, "#download-button")
    with page.expect_download() as download:
        page.keyboard.press("Enter")
    assert download.value.suggested_filename == f"nst-{job_id}.png"
    assert Path(download.value.path()).read_bytes().startswith(PNG_MAGIC)
    problems = serious_accessibility_problems(page)
    assert problems == [], "\n".join(problems)
    page.screenshot(path=artifacts / "16-keyboard-cancelled.png", full_page=True)
