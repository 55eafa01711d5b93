"""Issue 9 in Chromium: a box ROI drawn by clicking on the live picture, its value shown (and red in
alarm), the Thermal page trend grows while live, and its series downloads as CSV."""

from __future__ import annotations

import csv
import io

import pytest

from tests.conftest import login, wait_for
from tests.test_ui import page  # noqa: F401 - the Chromium fixture

pytestmark = pytest.mark.ui


def test_draw_a_box_roi_see_its_value_alarm_and_trend(server, page):  # noqa: F811
    status, cam = server.request("POST", "/api/cameras", {"url": "sim://?width=320&height=256&seed=2&ffc=0"})
    cid = cam["id"]
    login(page, server)
    page.goto(server.base + "/")
    page.locator('.ts-badge[data-status="live"]').wait_for(timeout=20000)
    page.get_by_role("button", name="ROIs", exact=True).click()
    page.get_by_role("button", name="Draw", exact=True).click()
    canvas = page.locator("canvas.ts-canvas").first
    page.wait_for_timeout(500)
    for fx, fy in [(0.2, 0.3), (0.6, 0.8)]:
        box = canvas.bounding_box()  # at each click: the card's layout may still settle (a slow run)
        canvas.click(position={"x": box["width"] * fx, "y": box["height"] * fy})
        page.wait_for_timeout(150)
    page.get_by_placeholder("name, e.g. bearing").fill("bearing")
    page.get_by_role("button", name="Save ROI").click()
    rois = wait_for(lambda: server.request("GET", f"/api/cameras/{cid}/rois")[1]["rois"], what="saved ROI")
    assert rois[0]["name"] == "bearing" and rois[0]["kind"] == "box"
    (x1, y1), (x2, y2) = rois[0]["points"]
    assert x1 == pytest.approx(0.2, abs=0.02) and y2 == pytest.approx(0.8, abs=0.02)

    # its value is shown live, in °C, in the table and on the picture
    row = page.locator(f'.ts-roi-table tr[data-roi="{rois[0]["id"]}"]')
    row.get_by_text("°C").first.wait_for(timeout=15000)
    sketch = page.locator("canvas.ts-sketch").first
    wait_for(lambda: "bearing" in (sketch.get_attribute("data-labels") or "") and "°C" in sketch.get_attribute(
        "data-labels"), what="the ROI label on the picture")

    # an alarm below 100 °C is up at once: the ROI turns red
    status, rule = server.request("POST", f"/api/cameras/{cid}/alarm-rules",
                                  {"kind": "below", "roi_id": rois[0]["id"], "low": 100.0})
    assert status == 201
    row.and_(page.locator('[data-alarm="1"]')).wait_for(timeout=15000)
    wait_for(lambda: sketch.get_attribute("data-alarms") == "1", what="the ROI drawn red")

    # a line ROI: its profile is plotted under the picture
    assert page.locator(".ts-profile").count() == 0 or not page.locator(".ts-profile").first.is_visible()
    status, line = server.request("POST", f"/api/cameras/{cid}/rois", {"kind": "line", "points": [[0, 0.5], [1, 0.5]]})
    assert status == 201
    page.locator(".ts-profile").first.wait_for(timeout=15000)
    page.locator(".ts-profile canvas").first.wait_for(timeout=15000)

    # the Thermal page: the trend grows while live, and the series downloads as CSV
    page.goto(server.base + "/thermal")
    trend = page.locator(".ts-trend")
    trend.wait_for(timeout=20000)
    first = int(trend.get_attribute("data-points"))
    wait_for(lambda: int(trend.get_attribute("data-points")) >= first + 2, timeout=20, what="the trend to grow")
    assert page.locator(".bk-Canvas, canvas").count() > 0
    with page.expect_download(timeout=20000) as dl:
        page.get_by_role("button", name="Download").click()
    text = open(dl.value.path(), encoding="utf-8").read()
    rows = list(csv.DictReader(io.StringIO(text)))
    assert rows and {r["roi"] for r in rows} == {"bearing", "line 2"} and rows[0]["unit"] == "°C"
    assert float(rows[0]["min"]) <= float(rows[0]["mean"]) <= float(rows[0]["max"])
    assert dl.value.suggested_filename == "roi_series.csv"

    # the alarm is on the Notifications page
    page.goto(server.base + "/notifications")
    page.locator(".ts-alarms").get_by_text("below 100").first.wait_for(timeout=20000)
    assert page.errors == []
