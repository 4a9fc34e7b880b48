"""The painting controls in the browser (issue 17): several paintings blended, the colour option
and the brush scale reach the job, and a weight moved mid-run steers it, marked on the loss chart.

What the page sends and receives is read off its WebSocket, and what the job kept from the
object store: the page's own word proves nothing.
"""

from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import Page, expect

from test_browser import WATCH_LIVE_VIEW, PAINTED, choose_job, open_page, upload, wait_phase

CHART = "document.querySelector('#loss-graph .js-plotly-plot')"


class SocketLog:
    """Every message the page sends to the service and receives from it, parsed."""

    def __init__(self, page: Page) -> None:
        self.sent: list[dict] = []
        self.received: list[dict] = []
        page.on("websocket", self._follow)

    def _follow(self, socket) -> None:
        socket.on("framesent", lambda payload: self.sent.append(json.loads(payload)))
        socket.on("framereceived", lambda payload: self.received.append(json.loads(payload)))

    def sent_of(self, kind: str) -> list[dict]:
        return [message for message in self.sent if message["type"] == kind]

    def received_of(self, kind: str) -> list[dict]:
        return [message for message in self.received if message["type"] == kind]


def stored_record(s3, done: dict) -> dict:
    result = done["result"]
    return json.loads(s3.get_object(Bucket=result["bucket"],
                                    Key=result["metadata_key"])["Body"].read())


def press(page: Page, slider: str, key: str, times: int) -> None:
    thumb = page.locator(f"{slider} [role=slider]")
    thumb.focus()
    for _ in range(times):
        thumb.press(key)


def test_two_paintings_blend_with_the_colour_option_and_brush_scale_in_the_job(
        page, web, files, second_painting, s3, artifacts):
    socket = SocketLog(page)
    open_page(page, web.url)
    upload(page, "content", files.content)
    upload(page, "style", files.style)
    expect(page.locator("#blend-1-row")).to_be_hidden()
    page.click("#add-painting")
    expect(page.locator("#painting-2")).to_be_visible()
    expect(page.locator("#painting-3")).to_be_hidden()
    upload(page, "style-2", second_painting)
    expect(page.locator("#style-2-info")).to_contain_text("second.jpg")
    expect(page.locator("#blend-1-share")).to_have_text("50 %")
    press(page, "#blend-2", "ArrowRight", 5)  # 0.5 to 0.75: two fifths and three fifths
    expect(page.locator("#blend-1-share")).to_have_text("40 %")
    expect(page.locator("#blend-2-share")).to_have_text("60 %")

    page.click("text=Advanced: loss weights, start, optimiser")
    page.locator("#preserve-colors").get_by_text("luminance", exact=True).click()
    press(page, "#style-scale", "ArrowRight", 5)  # a doubling on the logarithmic slider
    expect(page.locator("#style-scale-value")).to_have_text("2")
    choose_job(page, epochs=1, steps=2, size=64)
    page.screenshot(path=artifacts / "20-two-paintings.png", full_page=True)
    page.click("#start-button")
    wait_phase(page, "done")

    (start,) = socket.sent_of("start")
    assert "style" not in start
    assert [painting["blend"] for painting in start["styles"]] == [0.5, 0.75]
    assert start["styles"][0]["image"].startswith("data:image/jpeg")
    assert (start["preserve_colors"], start["style_scale"]) == ("luminance", 2.0)
    record = stored_record(s3, socket.received_of("done")[-1])
    assert record["style_blend"] == pytest.approx([0.4, 0.6])
    assert {"style-1", "style-2"} <= set(record["inputs"])
    assert (record["params"]["preserve_colors"], record["params"]["style_scale"]) == (
        "luminance", 2.0)

    # With the second painting removed, one painting goes as `style` again.
    page.click("#remove-painting")
    expect(page.locator("#painting-2")).to_be_hidden()
    expect(page.locator("#blend-1-row")).to_be_hidden()
    page.click("#start-button")
    wait_phase(page, "done")
    second_start = socket.sent_of("start")[-1]
    assert "styles" not in second_start and second_start["style"] == start["styles"][0]["image"]


def test_a_weight_and_a_blend_moved_mid_run_steer_the_job_and_the_chart_marks_both(
        page, web, files, second_painting, s3, artifacts):
    socket = SocketLog(page)
    open_page(page, web.url)
    upload(page, "content", files.content)
    upload(page, "style", files.style)
    page.click("#add-painting")
    upload(page, "style-2", second_painting)
    expect(page.locator("#blend-2-share")).to_have_text("50 %")
    choose_job(page, epochs=30, steps=20, size=64)  # long enough for a slow page; cancelled
    page.click("text=Advanced: loss weights, start, optimiser")
    page.evaluate(WATCH_LIVE_VIEW)
    page.click("#start-button")
    page.wait_for_function(f"{PAINTED} >= 1", timeout=60_000)

    press(page, "#style-weight", "PageUp", 1)  # a decade up in one move: 1e4 to 1e5
    expect(page.locator("#style-weight-value")).to_have_text("100000")
    expect(page.locator("#steer-note")).to_contain_text("Steered from step", timeout=15_000)
    (steered,) = socket.received_of("steered")
    assert steered["changes"] == {"style_weight": 1e5}
    assert socket.sent_of("steer") == [{"type": "steer", "style_weight": 100000}]
    expect(page.locator("#steer-note")).to_have_text(
        f"Steered from step {steered['step']}: style weight 100000.")
    page.wait_for_function(f"{CHART}.layout.shapes && {CHART}.layout.shapes.length === 1")
    assert page.evaluate(f"{CHART}.layout.shapes[0].x0") == steered["step"]
    page.screenshot(path=artifacts / "21-steered.png", full_page=True)

    press(page, "#blend-2", "PageUp", 1)  # 0.5 to 1: the second painting takes two thirds
    expect(page.locator("#blend-2-share")).to_have_text("67 %")
    expect(page.locator("#steer-note")).to_have_text(
        re.compile(r"Steered from step \d+: blend 33 % / 67 %\."), timeout=15_000)
    first, second = socket.received_of("steered")
    assert second["changes"] == {"style_blend": pytest.approx([1 / 3, 2 / 3])}
    assert second["step"] > first["step"]
    assert socket.sent_of("steer")[1] == {"type": "steer", "style_blend": [0.5, 1]}

    frames_seen = len(socket.received_of("frame"))
    page.wait_for_function(f"{CHART}.data[0].x.length > {frames_seen}")  # a frame after both
    marks = page.evaluate(f"{CHART}.layout.shapes.map((shape) => shape.x0)")
    assert marks == [first["step"], second["step"]]  # still marked after the later frames

    page.click("#cancel-button")  # the job is stored with what it reached, steers included
    wait_phase(page, "cancelled")
    record = stored_record(s3, socket.received_of("done")[-1])
    assert record["status"] == "cancelled"
    assert record["steers"] == [{"step": steered["step"], "changes": steered["changes"]}
                                for steered in (first, second)]
    assert record["params"]["style_weight"] == 1e4
    assert record["style_blend"] == [0.5, 0.5]  # as the job started
