"""The Review page in Chromium (browser in Europe/Berlin): a camera's day with recordings as bands and
events as marks; a click on an event mark plays the segment holding the time pre-roll seconds before it,
from there; a click on a band plays the segment at that time; another day's time plays that day's segment;
a drag scrubs; playback runs on past midnight into the next day."""

from __future__ import annotations

import shutil
import time
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import sync_playwright
from sqlalchemy import insert

from tests.conftest import login, start_server, stop_server, wait_for
from tests.test_ui import ARGS, CHROMIUM
from thermalstream.db.models import Detection as DetectionRow
from thermalstream.db.models import Event, Recording, RecordingSegment
from thermalstream.notifications import to_local
from thermalstream.review import locate

pytestmark = pytest.mark.ui
ZONE = "Europe/Berlin"

PIXEL = """([x, y]) => {  // page coordinates of a point of the review plot (data units)
  for (const doc of window.Bokeh.documents) {
    const plot = doc.get_model_by_name('ts-review-plot');
    if (!plot) continue;
    const view = window.Bokeh.index.find_one(plot);
    const rect = view.canvas_view.el.getBoundingClientRect();
    return [rect.left + view.frame.x_scale.compute(x), rect.top + view.frame.y_scale.compute(y)];
  }
  return null; }"""
ZOOM = """([start, end]) => {  // as a wheel zoom would: show [start, end] (chart ms)
  for (const doc of window.Bokeh.documents) {
    const plot = doc.get_model_by_name('ts-review-plot');
    if (plot) { plot.x_range.setv({start, end}); return true; }
  }
  return false; }"""
VIEW = """() => {  // the review plot's visible x range
  for (const doc of window.Bokeh.documents) {
    const plot = doc.get_model_by_name('ts-review-plot');
    if (plot) return [plot.x_range.start, plot.x_range.end];
  }
  return null; }"""
PAN_TOOL = """() => {  // as a click on the toolbar's pan button would: a drag pans the view
  for (const doc of window.Bokeh.documents) {
    const plot = doc.get_model_by_name('ts-review-plot');
    const pan = plot && plot.toolbar.tools.find((t) => t.tool_name === 'Pan');
    if (pan) { pan.active = true; return true; }
  }
  return false; }"""
FIND_VIDEO = """const find = (root) => {  // the review video, through Panel's nested shadow roots
    const hit = root.querySelector('video.ts-review-video');
    if (hit) return hit;
    for (const e of root.querySelectorAll('*')) { if (e.shadowRoot) { const v = find(e.shadowRoot); if (v) return v; } }
    return null;
  };
  const v = find(document);"""
PLAYING = """() => {
  """ + FIND_VIDEO + """
  return v ? {url: v.dataset.url || '', seeked: v.dataset.seeked, time: v.dataset.time, t: v.currentTime,
              paused: v.paused, serial: v.dataset.serial} : null; }"""


def _chart_ms(at: datetime) -> float:
    """A UTC time as the plot's x (wall-clock ms in the browser's zone)."""
    return (to_local(at, ZONE).replace(tzinfo=None) - datetime(1970, 1, 1)).total_seconds() * 1000


def _record(srv) -> tuple[int, dict]:
    cid = srv.request("POST", "/api/cameras", {"url": "sim://?seed=5&width=160&height=128"})[1]["id"]
    wait_for(lambda: srv.camera(cid)["status"] == "live", what="live")
    rec = srv.request("POST", "/api/recording/start", {"camera_id": cid})[1]
    wait_for(lambda: srv.request("GET", f"/api/recordings/{rec['id']}")[1]["segments"] >= 4, timeout=60,
             what="four segments")
    srv.request("POST", "/api/recording/stop", {"camera_id": cid})
    wait_for(lambda: not srv.runtime.recordings.active(), what="stopped")
    return cid, srv.runtime.recordings.get(rec["id"])


def _yesterday_copy(srv, cid: int, rec: dict) -> int:
    """The same files as a recording one day earlier (another day on the timeline)."""
    src = srv.runtime.recordings.resolve(rec["path"])
    dst = src.with_name(src.name + "_yesterday")
    shutil.copytree(src, dst)
    day = timedelta(days=1)
    with srv.runtime.db.session() as s:
        row = Recording(camera_id=cid, started_at=datetime.fromisoformat(rec["started_at"]) - day,
                        ended_at=datetime.fromisoformat(rec["ended_at"]) - day, status="completed",
                        path=f"{rec['path']}_yesterday", segments=len(rec["segment_list"]))
        s.add(row)
        s.flush()
        for seg in rec["segment_list"]:
            s.add(RecordingSegment(recording_id=row.id, path=seg["path"].replace(rec["path"], row.path, 1),
                                   started_at=datetime.fromisoformat(seg["started_at"]) - day,
                                   ended_at=datetime.fromisoformat(seg["ended_at"]) - day))
        return row.id


def _click(page, x: float, y: float) -> None:
    """A user's click: the pointer comes to the point, then presses. A press at once after a jump of
    the pointer (Playwright's plain click) is sometimes not a tap to Bokeh: nothing reached Python."""
    page.mouse.move(x, y, steps=3)
    page.wait_for_timeout(200)
    page.mouse.down()
    page.mouse.up()


def _playing(page, url: str, timeout: float = 20.0, after: dict | None = None) -> dict:
    """What the player shows once it plays ``url`` for a click (not by playing on from an earlier one:
    in a slow run the previous click's playback can reach that segment first); ``after``: the state
    that the click follows."""
    deadline, got = time.monotonic() + timeout, {}
    while time.monotonic() < deadline:
        got = page.evaluate(PLAYING) or {}
        asked = str(got.get("serial", "")).isdigit() and (after is None or got["serial"] != after.get("serial"))
        if asked and got.get("url", "").endswith(url) and got.get("seeked") is not None and got.get("time"):
            return got
        time.sleep(0.1)
    pytest.fail(f"the player did not play {url} for the click within {timeout:.0f} s; it shows {got}")


def test_click_an_event_mark_plays_from_before_it_and_scrubbing_moves_across_segments_and_days(tmp_path):
    srv = start_server(tmp_path, record_segment_seconds=3.0)
    try:
        cid, rec = _record(srv)
        yesterday = _yesterday_copy(srv, cid, rec)
        query = urlencode({"since": rec["started_at"], "until": rec["ended_at"]})
        tl = srv.request("GET", f"/api/cameras/{cid}/timeline?{query}")[1]
        segs = tl["segments"]
        assert len(segs) >= 4
        event_at = datetime.fromisoformat(segs[2]["start"]) + timedelta(seconds=1)  # 5 s before: segment 0 or 1
        with srv.runtime.db.session() as s:
            s.add(Event(camera_id=cid, label="person", started_at=event_at, ended_at=event_at + timedelta(seconds=2)))
        k, offset = locate(segs, event_at - timedelta(seconds=5))
        assert k < 2 and offset > 0  # the pre-roll reaches back into an earlier segment

        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            page = browser.new_context(timezone_id=ZONE, viewport={"width": 1280, "height": 900}).new_page()
            login(page, srv)
            page.goto(srv.base + "/review")
            page.get_by_text("1 event(s)").wait_for(timeout=30000)
            page.get_by_text(f"times in {ZONE}").wait_for(timeout=10000)
            first, last = (_chart_ms(datetime.fromisoformat(x)) for x in (rec["started_at"], rec["ended_at"]))
            assert page.evaluate(ZOOM, [first - 20_000, last + 20_000])  # the user zooms onto the recording
            page.wait_for_timeout(500)

            # the event mark: pre-roll (5 s) before it, in the segment that holds that time
            x, y = page.evaluate(PIXEL, [_chart_ms(event_at), 1.6])
            _click(page, x, y)
            got = _playing(page, segs[k]["url"])
            assert abs(float(got["seeked"]) - offset) < 0.3, got
            assert float(got["time"]) < event_at.timestamp() * 1000  # it starts before the event
            page.get_by_text("5 s before the").wait_for(timeout=5000)

            # a band: the segment at that time, from there
            at = datetime.fromisoformat(segs[3]["start"]) + timedelta(seconds=1.5)
            x, y = page.evaluate(PIXEL, [_chart_ms(at), 0.5])
            _click(page, x, y)
            got = _playing(page, segs[3]["url"], after=got)
            assert abs(float(got["seeked"]) - 1.5) < 0.5, got  # a pixel is ~0.1 s at this zoom

            # another day: the previous day's copy, then a typed time back on today
            page.get_by_role("button", name="◀ Previous day").click()
            page.get_by_text("0 event(s)").wait_for(timeout=10000)
            y_at = datetime.fromisoformat(segs[1]["start"]) - timedelta(days=1) + timedelta(seconds=1)
            page.evaluate(ZOOM, [first - 86_400_000 - 20_000, last - 86_400_000 + 20_000])
            page.wait_for_timeout(500)
            x, y = page.evaluate(PIXEL, [_chart_ms(y_at), 0.5])
            _click(page, x, y)
            got = _playing(page, f"/api/recordings/{yesterday}/segments/1", after=got)
            typed = to_local(datetime.fromisoformat(segs[2]["start"]) + timedelta(seconds=2), ZONE)
            box = page.get_by_label("Go to (YYYY-MM-DD HH:MM:SS)")
            box.fill(typed.strftime("%Y-%m-%d %H:%M:%S"))
            box.press("Enter")
            page.get_by_role("button", name="Play", exact=True).click()
            got = _playing(page, segs[2]["url"], after=got)
            whole = typed.replace(microsecond=0)  # typed to the second
            assert abs(float(got["seeked"]) - (whole - datetime.fromisoformat(segs[2]["start"])).total_seconds()) < 0.05
            page.get_by_text("1 event(s)").wait_for(timeout=10000)  # the typed day's timeline is shown
            browser.close()
    finally:
        stop_server(srv)


def test_playback_draws_detections_from_the_start_and_its_timeline_covers_the_whole_recording(tmp_path):
    """Seen: "Show detections on the video" drew nothing, and the detection timeline under the player
    covered only the last seconds of the recording: the player was given the newest 1000 rows."""
    srv = start_server(tmp_path, record_segment_seconds=2.0)
    try:
        cid, rec = _record(srv)
        start, end = datetime.fromisoformat(rec["started_at"]), datetime.fromisoformat(rec["ended_at"])
        n = 1500  # more rows than the newest 1000, evenly over the recording
        step = (end - start) / n
        rows = [{"camera_id": cid, "label": "person", "confidence": 0.9, "timestamp": start + i * step,
                 "x1": 20.0, "y1": 20.0, "x2": 80.0, "y2": 100.0} for i in range(n)]
        with srv.runtime.db.session() as s:
            s.execute(insert(DetectionRow), rows)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            login(page, srv)
            page.goto(srv.base + "/recordings")
            row = page.locator(".tabulator-row").first
            row.wait_for(timeout=20000)
            row.locator(".tabulator-cell").nth(2).click()
            page.get_by_text("Download MP4").wait_for(timeout=10000)
            video, overlay = page.locator("video.ts-player"), page.locator("canvas.ts-player-overlay")
            wait_for(lambda: video.evaluate("v => v.readyState") >= 2, timeout=20, what="the first segment")
            video.evaluate("v => { v.currentTime = 0.2; v.play(); }")
            boxes, at = 0, 99.0
            for _ in range(40):  # within the first second of the first segment
                at = video.evaluate("v => v.currentTime")
                boxes = int(overlay.evaluate("c => Number(c.dataset.boxes || 0)"))
                if boxes or at > 1.0:
                    break
                page.wait_for_timeout(50)
            assert video.evaluate("v => v.dataset.segment") == "0"
            assert boxes > 0, f"no detection drawn at {at:.2f} s into the first segment"
            span = page.evaluate("""() => {
                for (const doc of window.Bokeh.documents) {
                  const src = doc.get_model_by_name('ts-recording-detections');
                  if (src) { const t = Array.from(src.data.x); return [t.length, Math.min(...t), Math.max(...t)]; }
                }
                return null; }""")
            browser.close()
        assert span is not None and span[0] == n
        assert span[2] - span[1] > (end - start).total_seconds() * 1000 * 0.95  # the whole recording
    finally:
        stop_server(srv)


def _shifted_copy(srv, cid: int, rec: dict, third_starts: datetime) -> int:
    """The same files as another recording whose third segment starts at ``third_starts`` (UTC)."""
    src = srv.runtime.recordings.resolve(rec["path"])
    dst = src.with_name(src.name + "_midnight")
    shutil.copytree(src, dst)
    shift = third_starts - datetime.fromisoformat(rec["segment_list"][2]["started_at"])
    with srv.runtime.db.session() as s:
        row = Recording(camera_id=cid, started_at=datetime.fromisoformat(rec["started_at"]) + shift,
                        ended_at=datetime.fromisoformat(rec["ended_at"]) + shift, status="completed",
                        path=f"{rec['path']}_midnight", segments=len(rec["segment_list"]))
        s.add(row)
        s.flush()
        for seg in rec["segment_list"]:
            s.add(RecordingSegment(recording_id=row.id, path=seg["path"].replace(rec["path"], row.path, 1),
                                   started_at=datetime.fromisoformat(seg["started_at"]) + shift,
                                   ended_at=datetime.fromisoformat(seg["ended_at"]) + shift))
        return row.id


def test_dragging_the_timeline_scrubs_and_playback_runs_on_past_midnight(tmp_path):
    """A drag along the timeline plays from where it is let go; the day's last segment, ending after
    midnight, plays on into the next day's first one, and the page turns to that day."""
    srv = start_server(tmp_path, record_segment_seconds=3.0)
    try:
        cid, rec = _record(srv)
        day = (to_local(datetime.now(UTC), ZONE) - timedelta(days=3)).date()
        midnight = datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(ZONE)) + timedelta(days=1)
        copy = _shifted_copy(srv, cid, rec, midnight.astimezone(UTC) - timedelta(seconds=1.5))
        segs = srv.request("GET", f"/api/cameras/{cid}/timeline?day={day}&tz={ZONE}")[1]["segments"]
        assert [s["recording_id"] for s in segs] == [copy] * 3  # the third one runs past midnight

        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            page = browser.new_context(timezone_id=ZONE, viewport={"width": 1280, "height": 900}).new_page()
            login(page, srv)
            page.goto(srv.base + f"/review?camera={cid}&day={day}")
            page.get_by_text("3 segment(s)").wait_for(timeout=30000)
            page.get_by_text(f"times in {ZONE}").wait_for(timeout=10000)
            first = _chart_ms(datetime.fromisoformat(segs[0]["start"]))
            assert page.evaluate(ZOOM, [first - 5_000, first + 15_000])
            page.wait_for_timeout(500)

            # drag from the first segment to 1.5 s into the second: plays there (the view does not move)
            at = datetime.fromisoformat(segs[1]["start"]) + timedelta(seconds=1.5)
            x0, y = page.evaluate(PIXEL, [first + 500, 0.5])
            x1, _ = page.evaluate(PIXEL, [_chart_ms(at), 0.5])
            view = page.evaluate(VIEW)
            page.mouse.move(x0, y, steps=3)
            page.wait_for_timeout(200)
            page.mouse.down()
            page.mouse.move(x1, y, steps=12)
            page.mouse.up()
            got = _playing(page, segs[1]["url"])
            assert abs(float(got["seeked"]) - 1.5) < 0.3, got
            assert page.evaluate(VIEW) == view  # a scrub, not a pan

            # with the toolbar's pan tool chosen, the same drag pans the view and plays nothing new
            assert page.evaluate(PAN_TOOL)
            page.mouse.move(x1, y, steps=3)
            page.wait_for_timeout(200)
            page.mouse.down()
            page.mouse.move(x0, y, steps=12)
            page.mouse.up()
            wait_for(lambda: page.evaluate(VIEW) != view, timeout=5, what="the view to pan")
            page.wait_for_timeout(1500)
            # (a click's play has a new number; "next" is the player going on by itself)
            assert page.evaluate(PLAYING)["serial"] in (got["serial"], "next"), "a pan started playback"

            # the last segment of the day, 1 s before midnight: it ends, and the next day plays on
            box = page.get_by_label("Go to (YYYY-MM-DD HH:MM:SS)")
            box.fill((midnight - timedelta(seconds=1)).strftime("%Y-%m-%d %H:%M:%S"))
            page.get_by_role("button", name="Play", exact=True).click()
            got = _playing(page, segs[2]["url"], after=got)
            next_day = midnight.date()
            page.get_by_text(f"{next_day:%A %d %B %Y}").wait_for(timeout=20000)
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                got = page.evaluate(PLAYING) or {}
                if got.get("url", "").endswith(f"/api/recordings/{copy}/segments/3"):
                    break
                time.sleep(0.1)
            assert got.get("url", "").endswith(f"/api/recordings/{copy}/segments/3"), got
            page.get_by_text("on into the next day").wait_for(timeout=5000)
            browser.close()
    finally:
        stop_server(srv)
