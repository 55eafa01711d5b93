"""A radiometric recording as thermal video in Chromium: frames from the lossless data on the canvas
with a colour bar in °C, the slider scrubs across segment boundaries, the pointer reads a value, and a
region drawn on the picture is measured over the whole recording with a progress bar and a CSV."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests import conftest
from tests.test_ui_pages import page  # noqa: F401  (the Chromium page fixture)

pytestmark = pytest.mark.ui


def test_thermal_player_scrubs_reads_and_measures(tmp_path, page):  # noqa: F811
    srv = conftest.start_server(tmp_path, record_segment_seconds=1.0)  # several segments in a short recording
    try:
        cam = srv.request("POST", "/api/cameras", {"url": "sim://?width=160&height=128&fps=10&seed=6",
                                                           "name": "yard"})[1]
        cid = cam["id"]
        conftest.wait_for(lambda: srv.camera(cid)["status"] == "live", what="live")
        srv.request("POST", "/api/recording/start", {"camera_id": cid})
        time.sleep(3.5)
        rec = srv.request("POST", "/api/recording/stop", {"camera_id": cid})[1]
        assert rec["segments"] >= 3
        conftest.login(page, srv)
        page.goto(srv.base + "/recordings")
        page.locator(".tabulator-row").first.click()
        page.locator(".bk-tab", has_text="Thermal data").click()
        canvas = page.locator(".ts-canvas").last
        conftest.wait_for(lambda: int(canvas.get_attribute("data-frames") or 0) >= 1, what="first thermal frame")
        labels = page.locator(".ts-bar span")
        conftest.wait_for(lambda: "°C" in labels.first.inner_text(), what="colour bar in °C")
        frames = int(page.get_by_text("frame 1 of").inner_text().split("of ")[1].split()[0])
        assert frames >= 25  # the whole recording, across its segments
        slider = page.locator(".bk-input-group .noUi-handle").first
        slider.focus()
        for _ in range(frames):  # scrub to the end with the keyboard
            page.keyboard.press("ArrowRight")
        page.get_by_text(f"frame {frames} of {frames}").wait_for(timeout=20000)
        box = canvas.bounding_box()
        page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        page.get_by_text("°C @", exact=False).first.wait_for(timeout=10000)  # the pointer's value

        page.get_by_role("button", name="Draw a region").click()
        sketch = page.locator(".ts-sketch").last

        def corner(fx: float, n: int) -> bool:  # drawing mode reaches the pane a moment after the toggle
            if (sketch.get_attribute("data-points") or "0") != str(n):
                page.mouse.click(box["x"] + box["width"] * fx, box["y"] + box["height"] * fx)
                page.wait_for_timeout(300)
            return (sketch.get_attribute("data-points") or "0") == str(n)

        conftest.wait_for(lambda: corner(0.3, 1), what="first corner")
        conftest.wait_for(lambda: corner(0.7, 2), what="second corner")
        page.get_by_role("button", name="Measure over the recording").click()
        page.get_by_text(f"{frames} frames measured").wait_for(timeout=60000)
        with page.expect_download() as dl:
            page.get_by_role("button", name="Download CSV").click()
        text = Path(dl.value.path()).read_text()
        assert text.startswith("time,roi,min,max,mean,std") and text.count("\n") == frames + 1
        assert page.errors == []
    finally:
        conftest.stop_server(srv)
