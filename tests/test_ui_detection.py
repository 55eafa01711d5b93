"""Detection in a real browser (Debian's Chromium through Playwright): the Live page's Detect toggle
draws boxes on the canvas (checked by pixels), and the Detections page's timeline gains entries
while it is open (streamed). The detector is the real hotspot detector on the simulator's °C."""

from __future__ import annotations

import pytest

from tests.conftest import login, start_server, stop_server, wait_for
from tests.test_ui import page  # noqa: F401 - the Chromium page fixture

pytestmark = pytest.mark.ui

SIM = "sim://?people=1&vehicle=0&animal=0&seed=10&width=320&height=256&fps=25"

# With the white-hot palette the picture is grey, so any clearly coloured pixel is a box.
COLOURED = """(c) => {
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  let n = 0;
  for (let i = 0; i < d.length; i += 4) {
    const hi = Math.max(d[i], d[i + 1], d[i + 2]), lo = Math.min(d[i], d[i + 1], d[i + 2]);
    if (hi - lo > 60) n++;
  }
  return [n, Number(c.dataset.frames)];
}"""

# Points in the timeline: the Bokeh ColumnDataSource with the timeline's columns.
TIMELINE_ROWS = """() => {  // detections the timeline counts (its points are buckets: their number can stay put)
  const B = window.Bokeh;
  if (!B || !B.documents) return -1;
  for (const doc of B.documents) {
    const models = doc._all_models ? [...doc._all_models.values()] : [...(doc.all_models || [])];
    for (const m of models) {
      const d = m.data;
      if (!d) continue;
      const get = (k) => (d instanceof Map ? d.get(k) : d[k]);
      const t = get('t');
      if (t !== undefined && get('confidence') !== undefined) return Array.from(get('count')).reduce((a, b) => a + b, 0);
    }
  }
  return -1;
}"""


def test_detect_toggle_draws_boxes_and_timeline_streams(tmp_path, page):  # noqa: F811
    srv = start_server(tmp_path, hotspot_threshold_c=26.0)  # people are ~30-34 °C, the scene is colder
    try:
        status, cam = srv.request("POST", "/api/cameras", {"url": SIM, "name": "yard"})
        assert status == 201
        cid = cam["id"]
        wait_for(lambda: srv.camera(cid)["status"] == "live", what="camera live")
        assert srv.request("PATCH", f"/api/cameras/{cid}", {"palette": "white-hot"})[0] == 200

        login(page, srv)
        page.goto(srv.base + "/")
        page.locator('.ts-badge[data-status="live"]').wait_for(timeout=20000)
        canvas = page.locator("canvas.ts-canvas").first
        canvas.wait_for(timeout=20000)
        before = canvas.evaluate(COLOURED)  # the canvas is in a shadow root: poll through the locator
        for _ in range(100):
            if before[1] > 10:
                break
            page.wait_for_timeout(200)
            before = canvas.evaluate(COLOURED)
        assert before[1] > 10, f"canvas drew too few frames: {before}"
        assert before[0] == 0, f"coloured pixels before detection is on: {before}"

        page.get_by_role("button", name="Detect").click()
        wait_for(lambda: srv.runtime.detection.enabled(cid), timeout=10, what="detection switched on")
        after = before
        for _ in range(100):
            page.wait_for_timeout(200)
            after = canvas.evaluate(COLOURED)
            if after[0] > 50:
                break
        assert after[0] > 50, f"no boxes drawn on the canvas: {before} -> {after}"
        assert after[1] > before[1], "canvas stopped drawing"

        page.goto(srv.base + "/detections")
        page.get_by_role("heading", name="Detections", level=2).wait_for(timeout=20000)
        page.wait_for_function(f"({TIMELINE_ROWS})() >= 0", timeout=20000)
        first = page.evaluate(TIMELINE_ROWS)
        page.wait_for_function(f"({TIMELINE_ROWS})() > {first}", timeout=30000)  # streamed while open
        later = page.evaluate(TIMELINE_ROWS)
        assert later > first >= 0
        # the table follows the stream too (re-read at most every few seconds)
        page.locator(".tabulator-row").first.wait_for(timeout=20000)
        total = srv.request("GET", f"/api/detections?camera={cid}")[1]["total"]
        assert total >= later, f"timeline counts {later} detections but the database has {total} rows"
        assert page.errors == []
    finally:
        stop_server(srv)
