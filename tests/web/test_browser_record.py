"""How a picture was painted, and steering a job followed again (issue 17), in the browser.

The result panel and the gallery say what the stored record holds (the blend, the colour option,
the brush scale, every steer); after a reload the weight and blend sliders show the weights the
job uses now, and moving one steers it. What the page sends and receives is read off its
WebSocket, and the record from the object store.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect
from test_browser import PAINTED, WATCH_LIVE_VIEW, choose_job, open_page, upload, wait_phase
from test_browser_paintings import CHART, SocketLog, press, stored_record

ADVANCED = "text=Advanced: loss weights, start, optimiser"


def blend_two_paintings(page: Page, files, second) -> None:
    """Photo, two paintings at 40 % / 60 %."""
    upload(page, "content", files.content)
    upload(page, "style", files.style)
    page.click("#add-painting")
    upload(page, "style-2", second)
    expect(page.locator("#blend-2-share")).to_have_text("50 %")
    press(page, "#blend-2", "ArrowRight", 5)  # 0.5 to 0.75
    expect(page.locator("#blend-2-share")).to_have_text("60 %")


def start_and_steer_style_weight(page: Page) -> None:
    """A long job (cancelled by the test) started; once it paints, the style weight 1e4 → 1e5."""
    choose_job(page, epochs=30, steps=20, size=64)
    page.evaluate(WATCH_LIVE_VIEW)
    page.click("#start-button")
    page.wait_for_function(f"{PAINTED} >= 1", timeout=60_000)
    press(page, "#style-weight", "PageUp", 1)
    expect(page.locator("#steer-note")).to_contain_text("Steered from step", timeout=15_000)


def test_the_result_and_the_gallery_say_how_the_picture_was_painted(
        page, web, files, second_painting, s3, artifacts):
    socket = SocketLog(page)
    open_page(page, web.url)
    blend_two_paintings(page, files, second_painting)
    page.click(ADVANCED)
    page.locator("#preserve-colors").get_by_text("luminance", exact=True).click()
    press(page, "#style-scale", "ArrowRight", 5)  # brush scale 2
    start_and_steer_style_weight(page)
    page.click("#cancel-button")  # stored with the image it reached, its steer included
    wait_phase(page, "cancelled")

    record = stored_record(s3, socket.received_of("done")[-1])
    (steer,) = record["steers"]
    assert steer["changes"] == {"style_weight": 1e5}
    how = ["blend 40 % / 60 % · keep the photo's colours: luminance · brush scale 2",
           f"steered at step {steer['step']}: style weight 1e5"]
    expect(page.locator("#painted-how > div")).to_have_text(how, timeout=15_000)
    page.screenshot(path=artifacts / "22-how-painted.png", full_page=True)

    card = page.locator(f'[id*="{record["job_id"]}"][id*="gallery-open"]')
    expect(card.locator(".gallery-painted")).to_have_text(f"{how[0]} · steered 1×",
                                                          timeout=15_000)
    card.click()
    modal = page.locator("#gallery-modal")
    expect(modal.locator("dt", has_text="Painted with").locator("+ dd > div")).to_have_text(how)
    expect(modal.locator("dt", has_text="Loss weights").locator("+ dd")).to_have_text(
        "style weight 1e4 · content weight 1000 · total variation weight 3000")
    page.screenshot(path=artifacts / "23-gallery-how-painted.png")


def test_after_a_reload_the_sliders_show_the_jobs_weights_now_and_steer_it(
        page, web, files, second_painting, artifacts):
    socket = SocketLog(page)
    open_page(page, web.url)
    blend_two_paintings(page, files, second_painting)
    page.click(ADVANCED)
    start_and_steer_style_weight(page)

    page.reload()
    expect(page.locator("#phase-badge")).to_have_text("painting", timeout=30_000)
    attached = socket.received_of("accepted")[-1]
    assert attached["weights"] == {"style_weight": 1e5, "content_weight": 1e3, "tv_weight": 3e3,
                                   "style_blend": pytest.approx([0.4, 0.6])}
    page.click(ADVANCED)
    expect(page.locator("#style-weight-value")).to_have_text("100000")
    expect(page.locator("#style-weight [role=slider]")).to_have_attribute("aria-valuenow", "5")
    expect(page.locator("#content-weight-value")).to_have_text("1000 (default)")
    expect(page.locator("#blend-2-row")).to_be_visible()
    expect(page.locator("#blend-1-share")).to_have_text("40 %")
    expect(page.locator("#blend-2-share")).to_have_text("60 %")
    page.screenshot(path=artifacts / "24-reloaded-weights.png", full_page=True)

    steers_before = len(socket.sent_of("steer"))
    press(page, "#content-weight", "PageUp", 1)  # a decade up: 1000 to 10000
    expect(page.locator("#steer-note")).to_contain_text("content weight 10000.", timeout=15_000)
    steered = socket.received_of("steered")[-1]
    assert steered["changes"] == {"content_weight": 1e4}
    # Only the slider moved is sent: the weights put on the sliders steer nothing themselves.
    assert socket.sent_of("steer")[steers_before:] == [{"type": "steer", "content_weight": 10000}]
    page.wait_for_function(f"{CHART}.layout.shapes && {CHART}.layout.shapes.length === 1")
    assert page.evaluate(f"{CHART}.layout.shapes[0].x0") == steered["step"]

    press(page, "#blend-1", "PageUp", 1)  # 0.4 to 0.9 against 0.6: 60 % / 40 %
    expect(page.locator("#blend-1-share")).to_have_text("60 %")
    expect(page.locator("#steer-note")).to_have_text(
        re.compile(r"Steered from step \d+: blend 60 % / 40 %\."), timeout=15_000)
    assert socket.received_of("steered")[-1]["changes"] == {
        "style_blend": pytest.approx([0.6, 0.4])}
    page.wait_for_function(f"{CHART}.layout.shapes.length === 2")
    page.screenshot(path=artifacts / "25-reloaded-steered.png", full_page=True)
    page.click("#cancel-button")
    wait_phase(page, "cancelled")
