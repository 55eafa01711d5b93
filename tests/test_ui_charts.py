"""The pages' charts are HoloViews charts (issue 13, "with hvPlot/HoloViews for charts"): each page's chart is
a ``pn.pane.HoloViews`` whose element holds the page's data, fed in place (a Pipe stream, not a new pane) when
the data changes, and drawn by Chromium (pixels of the chart's colour on its Bokeh canvas), with the hover
and axes it had as a Bokeh figure."""

from __future__ import annotations

import sys
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert

from tests.conftest import login, start_server, stop_server, wait_for
from tests.test_ui import page  # noqa: F401 - the Chromium page fixture
from thermalstream.db import repo
from thermalstream.db.models import Detection as DetectionRow

pytestmark = pytest.mark.ui

# The chart whose data source is named `name`: its canvas size, its rows (and the sum of a `count` column),
# its x range and how many of its pixels are coloured (the glyphs, alone or overlapping; axes and text are grey).
CHART = """(name) => {
  const B = window.Bokeh;
  if (!B || !B.documents) return null;
  for (const doc of B.documents) {
    const src = doc.get_model_by_name(name);
    if (!src) continue;
    const models = doc._all_models ? [...doc._all_models.values()] : [...(doc.all_models || [])];
    const plot = models.find((m) => Array.isArray(m.renderers) && m.renderers.some((r) => r.data_source === src));
    const view = plot && B.index.find_one(plot);
    if (!view) return null;
    const canvas = view.canvas_view.primary.canvas;
    const d = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
    let coloured = 0;
    for (let i = 0; i < d.length; i += 4) {
      if (d[i + 3] > 200 && Math.max(d[i], d[i + 1], d[i + 2]) - Math.min(d[i], d[i + 1], d[i + 2]) > 60) coloured++;
    }
    const count = src.data instanceof Map ? src.data.get('count') : src.data.count;
    return {w: canvas.width, h: canvas.height, rows: src.get_length(), coloured,
            total: count ? Array.from(count).reduce((a, b) => a + b, 0) : null,
            x: [Number(plot.x_range.start), Number(plot.x_range.end)]};
  }
  return null;
}"""


@contextmanager
def session_as(runtime, username: str = "admin"):
    """A Panel session of ``username`` in this process, to build a page and look at its panes."""
    from bokeh.document import Document
    from panel.io.state import set_curdoc

    from app.auth import Principal
    from app.views import session

    user = runtime.auth.users.get(username)
    keep = session.session_user
    pages = [m for name, m in sys.modules.items() if name.startswith("app.views") and
             getattr(m, "session_user", None) is keep]  # the session module and pages that imported it
    for m in pages:
        m.session_user = lambda _rt: Principal(user["id"], username, user["role"], "cookie")
    try:
        doc = Document()
        with set_curdoc(doc):
            yield doc
    finally:
        for m in pages:
            m.session_user = keep


def _rows(cid: int, start: datetime, n: int, step_s: float, label: str) -> list[dict]:
    return [{"camera_id": cid, "label": label, "confidence": 0.5 + (i % 5) / 10, "timestamp": start + timedelta(
        seconds=i * step_s), "x1": 0, "y1": 0, "x2": 1, "y2": 1} for i in range(n)]


def _more(srv, cid: int, at: datetime, n: int) -> None:
    """``n`` detections stored at ``at`` and announced on the bus as the detection service does."""
    with srv.runtime.db.session() as s:
        s.execute(insert(DetectionRow), _rows(cid, at, n, 0.1, "person"))
    srv.runtime.bus.publish("detections", {"camera_id": cid, "detections": [{"label": "person"}]})


def test_detections_timeline_is_a_holoviews_chart_streamed_in_place(tmp_path, page):  # noqa: F811
    """The Detections timeline: a HoloViews Scatter of the whole period's buckets (a row per camera the
    user sees, hover with class, count, confidence and time), new detections sent through its stream
    (the same DynamicMap, more counted), drawn in Chromium; a user's pan survives new data, Reset
    follows the data again."""
    import holoviews as hv
    import panel as pn
    from bokeh.models import HoverTool

    from app.views.detections import DetectionsPage

    srv = start_server(tmp_path)
    try:
        db = srv.runtime.db
        with db.session() as s:
            yard = repo.add_camera(s, "yard", "sim://?seed=9", enabled=False).id
            repo.add_camera(s, "gate", "sim://?seed=8", enabled=False)
        start = datetime.now(UTC) - timedelta(minutes=10)
        with db.session() as s:
            s.execute(insert(DetectionRow), _rows(yard, start, 3400, 0.025, "person"))

        with session_as(srv.runtime) as doc:
            det = DetectionsPage(srv.runtime)
            fig = det.plot.get_root(doc)
        assert isinstance(det.plot, pn.pane.HoloViews) and isinstance(det.plot.object, hv.DynamicMap)
        chart, dmap = det.plot.object.last, det.plot.object
        assert isinstance(chart, hv.Scatter)
        assert chart.dimension_values("count").sum() == 3400 and set(chart.dimension_values("y")) == {"yard"}
        assert chart.get_dimension("y").values == ["gate", "yard"]  # a row per camera, with detections or not
        hover = list(fig.select({"type": HoverTool}))
        assert [t for t, _ in hover[0].tooltips] == ["class", "detections", "best confidence", "around"]
        with db.session() as s:
            s.execute(insert(DetectionRow), _rows(yard, start + timedelta(minutes=2), 50, 0.1, "dog"))
        det.stream()  # what the bridge's detections counter calls
        assert det.plot.object is dmap and det.plot.object.last is not chart  # sent through the stream
        assert det.plot.object.last.dimension_values("count").sum() == 3450
        assert "dog" in set(det.plot.object.last.dimension_values("label"))

        login(page, srv)
        page.goto(srv.base + "/detections")
        page.get_by_text("3450 detections in the period").wait_for(timeout=30000)
        chart = lambda: page.evaluate(f"({CHART})('ts-timeline')")
        page.wait_for_function(f"(() => {{ const c = ({CHART})('ts-timeline'); return c && c.coloured > 200; }})()",
                               timeout=20000)
        drawn = chart()
        assert drawn["w"] > 300 and drawn["h"] > 100 and drawn["total"] == 3450, drawn
        day = 24 * 3600 * 1000.0
        assert drawn["x"][1] - drawn["x"][0] == pytest.approx(day, abs=60000)  # the whole period, not the dots

        page.wait_for_timeout(1500)
        _more(srv, yard, start + timedelta(minutes=5), 10)  # untouched, the timeline follows: its end is now
        wait_for(lambda: chart()["total"] == 3460, timeout=20, what="new detections on the timeline")
        wait_for(lambda: chart()["x"][1] > drawn["x"][1] + 1000, timeout=10, what="the period's end to move on")
        drawn = chart()
        box = page.locator(".bk-Figure").first.bounding_box()  # the timeline is the page's only figure
        page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        page.mouse.down()
        page.mouse.move(box["x"] + box["width"] / 2 + 250, box["y"] + box["height"] / 2, steps=10)
        page.mouse.up()  # panned back in time
        wait_for(lambda: chart()["x"][0] < drawn["x"][0] - 3600000, timeout=10, what="the pan")
        panned = chart()["x"]
        _more(srv, yard, start + timedelta(minutes=6), 20)  # new detections, announced on the bus
        wait_for(lambda: chart()["total"] == 3480, timeout=20, what="the new detections on the timeline")
        assert chart()["x"] == pytest.approx(panned, abs=1000)  # the user's pan stayed

        page.locator(".bk-tool-icon-reset").first.click()  # Reset: follows the period again
        page.wait_for_timeout(500)
        _more(srv, yard, start + timedelta(minutes=7), 20)
        wait_for(lambda: chart()["total"] == 3500, timeout=20, what="more detections on the timeline")
        wait_for(lambda: chart()["x"][1] >= drawn["x"][1] and chart()["x"][1] - chart()["x"][0] == pytest.approx(
            day, abs=60000), timeout=10, what="the timeline to show the period up to now again")
        assert page.errors == []
    finally:
        stop_server(srv)


def test_recording_detections_timeline_is_a_holoviews_chart(tmp_path, page):  # noqa: F811
    """The Recordings page's timeline under the player: a HoloViews Scatter of the selected recording's
    detections (a row per class, hover with class and time), one pane whose stream gets each selection's
    detections, drawn in Chromium."""
    import holoviews as hv
    import panel as pn
    from bokeh.models import HoverTool

    from app.views.recordings import RecordingsPage
    from tests.test_ui_review_timeline import _record

    srv = start_server(tmp_path, record_segment_seconds=2.0)
    try:
        cid, rec = _record(srv)
        begin = datetime.fromisoformat(rec["started_at"])
        with srv.runtime.db.session() as s:
            s.execute(insert(DetectionRow), _rows(cid, begin + timedelta(seconds=0.5), 30, 0.2, "person")
                      + _rows(cid, begin + timedelta(seconds=2), 10, 0.3, "dog"))
        with session_as(srv.runtime) as doc:
            rp = RecordingsPage(srv.runtime)
            root = rp.timeline.get_root(doc)
            rp.table.selection = [0]
        assert rp.timeline.visible and len(rp.timeline.objects) == 1
        pane = rp.timeline.objects[0]
        assert isinstance(pane, pn.pane.HoloViews) and isinstance(pane.object.last, hv.Scatter)
        chart = pane.object.last
        assert len(chart) == 40 and sorted(set(chart.dimension_values("y"))) == ["dog", "person"]
        assert chart.get_dimension("y").values == ["dog", "person"]
        [hover] = root.select({"type": HoverTool})
        assert [label for label, _ in hover.tooltips] == ["class", "time"] and "{%T}" in hover.tooltips[1][1]
        with srv.runtime.db.session() as s:
            s.execute(insert(DetectionRow), _rows(cid, begin + timedelta(seconds=3), 5, 0.2, "car"))
        with session_as(srv.runtime):
            rp.table.selection = []
            rp.table.selection = [0]
        assert rp.timeline.objects == [pane] and len(pane.object.last) == 45  # the same pane, sent new data
        assert "car" in pane.object.last.get_dimension("y").values

        login(page, srv)
        page.goto(srv.base + "/recordings")
        row = page.locator(".tabulator-row").first
        row.wait_for(timeout=20000)
        row.locator(".tabulator-cell").nth(2).click()
        page.wait_for_function(
            f"(() => {{ const c = ({CHART})('ts-recording-detections'); return c && c.coloured > 100; }})()",
            timeout=20000)
        drawn = page.evaluate(f"({CHART})('ts-recording-detections')")
        assert drawn["rows"] == 45 and drawn["w"] > 300 and drawn["h"] > 100, drawn
        assert page.errors == []
    finally:
        stop_server(srv)


def _file(path, size: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\0" * size)


def test_storage_charts_are_hvplot_charts_fed_in_place(tmp_path, page):  # noqa: F811
    """The Storage page: bars per folder and per camera (hvPlot, sizes in a readable unit) and a line per
    folder over time, each one pane whose stream gets what a refresh reads; drawn in Chromium."""
    import holoviews as hv
    import panel as pn
    from bokeh.models import HoverTool

    from app.views.storage import StoragePage
    from thermalstream.storage.samples import sample_storage

    srv = start_server(tmp_path)
    try:
        rt = srv.runtime
        with rt.db.session() as s:
            cid = repo.add_camera(s, "yard", "sim://?seed=9", enabled=False).id
        _file(rt.settings.recordings_dir / f"cam{cid}" / "a.mp4", 3_000_000)
        sample_storage(rt.db, rt.settings, now=datetime.now(UTC) - timedelta(hours=2))
        _file(rt.settings.screenshots_dir / f"cam{cid}" / "b.jpg", 1_000_000)
        sample_storage(rt.db, rt.settings, now=datetime.now(UTC) - timedelta(hours=1))
        with session_as(rt) as doc:
            sp = StoragePage(rt)
            root = pn.Column(sp.by_category, sp.by_camera, sp.history).get_root(doc)
        panes = (sp.by_category, sp.by_camera, sp.history)
        assert all(isinstance(p, pn.pane.HoloViews) and isinstance(p.object, hv.DynamicMap) for p in panes)
        folders, cameras, history = (p.object.last for p in panes)
        assert isinstance(folders, hv.Bars) and isinstance(cameras, hv.Bars) and isinstance(history, hv.Overlay)
        bars = dict(zip(folders.dimension_values("label"), folders.dimension_values("text"), strict=True))
        assert bars["recordings"] == "3.0 MB" and bars["screenshots"] == "1.0 MB"
        assert list(cameras.dimension_values("label")) == ["yard"] and list(cameras["value"]) == [4.0]  # MB
        line = {c.label: list(c["value"]) for c in history if isinstance(c, hv.Curve)}
        assert line["recordings"] == [3.0, 3.0] and line["screenshots"] == [0.0, 1.0]
        tips = sorted([label for label, _ in t.tooltips] for t in root.select({"type": HoverTool}))
        assert tips == [["", "size"], ["", "size"], ["time", "size"]]  # a size in its unit on every chart

        _file(rt.settings.recordings_dir / f"cam{cid}" / "c.mp4", 2_000_000_000)
        sample_storage(rt.db, rt.settings)
        with session_as(rt):
            sp.refresh()
        assert sp.by_category.object.last is not folders and sp.by_camera.object.last is not cameras
        assert dict(zip(sp.by_category.object.last["label"], sp.by_category.object.last["text"],
                        strict=True))["recordings"] == "2.00 GB"
        assert list(sp.by_camera.object.last["value"]) == [pytest.approx(2.004)]  # in GB now
        [source] = root.select({"name": "ts-storage-recordings"})  # an overlay's plot is updated, not .last
        assert list(source.data["value"]) == pytest.approx([0.003, 0.003, 2.003])  # GB

        login(page, srv)
        page.goto(srv.base + "/storage")
        page.get_by_text("Retention policy in force").wait_for(timeout=20000)
        for name, rows in (("ts-storage-folders", 4), ("ts-storage-cameras", 1), ("ts-storage-recordings", 3)):
            page.wait_for_function(f"(() => {{ const c = ({CHART})('{name}'); return c && c.coloured > 30; }})()",
                                   timeout=20000)
            drawn = page.evaluate(f"({CHART})('{name}')")
            assert drawn["rows"] == rows and drawn["w"] > 200 and drawn["h"] > 100, (name, drawn)
        assert page.errors == []
    finally:
        stop_server(srv)


def test_roi_profile_is_a_holoviews_curve_redrawn_in_place(tmp_path, page):  # noqa: F811
    """A line ROI's profile on the Live card: a HoloViews Curve of the values along the line (in the frame's
    unit), one pane whose stream gets each new profile, also when the line changes; drawn in Chromium."""
    import holoviews as hv
    import panel as pn

    from app.views import session
    from app.views.camera_view import CameraView
    from app.views.roi_editor import RoiEditor

    srv = start_server(tmp_path)
    try:
        cid = srv.request("POST", "/api/cameras", {"url": "sim://?width=160&height=128&seed=2&ffc=0"})[1]["id"]
        wait_for(lambda: srv.camera(cid)["status"] == "live", what="camera live")
        status, line = srv.request("POST", f"/api/cameras/{cid}/rois", {"kind": "line", "points": [[0, 0.5], [1, 0.5]]})
        assert status == 201
        live = lambda rid: (srv.runtime.measure.live(cid) or {}).get("rois", {}).get(str(rid))
        wait_for(lambda: live(line["id"]), what="the line measured")
        with session_as(srv.runtime) as doc:
            editor = RoiEditor(srv.runtime, cid, CameraView(camera_id=cid), session.session_user(srv.runtime))
            editor.profile.get_root(doc)
        assert editor.profile.visible
        [pane] = editor.profile.objects
        assert isinstance(pane, pn.pane.HoloViews) and isinstance(pane.object.last, hv.Curve)
        curve = pane.object.last
        assert len(curve) == 160 and curve.kdims[0].name == "along"  # a value per pixel across the frame
        assert curve.range("value")[0] > -50 and curve.range("value")[1] < 200  # °C of the simulated scene
        short = srv.request("POST", f"/api/cameras/{cid}/rois", {"kind": "line", "points": [[0, 0.2], [0.5, 0.2]]})[1]
        assert srv.request("DELETE", f"/api/rois/{line['id']}")[0] == 200
        wait_for(lambda: live(short["id"]) and not live(line["id"]), what="the new line measured")
        with session_as(srv.runtime):
            editor.refresh(reload=True)
        assert editor.profile.objects == [pane] and 75 <= len(pane.object.last) <= 85  # half the width

        login(page, srv)
        page.goto(srv.base + "/")
        page.locator('.ts-badge[data-status="live"]').wait_for(timeout=20000)
        page.get_by_role("button", name="ROIs", exact=True).click()
        page.locator(".ts-profile canvas").first.wait_for(timeout=15000)
        name = f"ts-profile-{cid}"
        page.wait_for_function(f"(() => {{ const c = ({CHART})('{name}'); return c && c.coloured > 30; }})()",
                               timeout=20000)
        drawn = page.evaluate(f"({CHART})('{name}')")
        assert 75 <= drawn["rows"] <= 85 and drawn["w"] > 200 and drawn["h"] > 100, drawn
        assert page.errors == []
    finally:
        stop_server(srv)
