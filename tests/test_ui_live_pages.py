"""Pages as state fed by the bus, in Chromium: the Recordings, Review and Notifications pages show what
happens after they were built (a recording started, stopped or closing segments, an event or an alarm
on today's timeline, a notification) without a reload, keeping what the user chose there; a viewer's
session is told nothing about a camera they may not see."""

from __future__ import annotations

import re
import threading
import time
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import pytest
from sqlalchemy import event as sa_event

from tests.conftest import login, start_server, stop_server, wait_for
from tests.test_ui import page  # noqa: F401 - the Chromium page fixture
from tests.test_ui_review_timeline import FIND_VIDEO, PIXEL, PLAYING, ZONE, ZOOM, _chart_ms, _click
from thermalstream.db.models import Alarm, Event, Recording

pytestmark = pytest.mark.ui
SIM = "sim://?seed={seed}&width=160&height=128"
VERA = ("vera", "vera has a long password")
ZONE_TIME = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d")  # a time as format_local writes it


def _session_queries(srv, table: str, user: str):
    """Statements about ``table`` sent from ``user``'s browser sessions: on the server's thread (not the API's
    handlers, not the services' threads) in a session of that user (Panel's user is ``name:id:version``)."""
    seen: list[str] = []
    lock = threading.Lock()
    engine, server_thread = srv.runtime.db.engine, srv.thread.ident

    def on_execute(conn, cursor, statement, *args) -> None:
        import panel as pn

        if (threading.get_ident() == server_thread and f"FROM {table}" in statement and pn.state.curdoc is not None
                and str(pn.state.user).split(":")[0] == user):
            with lock:
                seen.append(statement[:80])

    sa_event.listen(engine, "before_cursor_execute", on_execute)
    return seen, lambda: sa_event.remove(engine, "before_cursor_execute", on_execute)


def _live_camera(srv, name: str, seed: int = 5) -> int:
    status, cam = srv.request("POST", "/api/cameras", {"url": SIM.format(seed=seed), "name": name})
    assert status == 201, cam
    wait_for(lambda: srv.camera(cam["id"])["status"] == "live", timeout=30, what=f"{name} live")
    return cam["id"]


def _recording(srv, cid: int, segments: int) -> dict:
    """A recording started through the API, once it has closed ``segments`` segments (it runs on)."""
    rec = srv.request("POST", "/api/recording/start", {"camera_id": cid})[1]
    wait_for(lambda: srv.request("GET", f"/api/recordings/{rec['id']}")[1]["segments"] >= segments, timeout=30,
             what=f"{segments} segments")
    return rec


def _private_to_admin(srv, cid: int) -> None:
    """Shared with the admin only: vera (a viewer) may not see it."""
    srv.runtime.cameras.set_shares(cid, [srv.runtime.auth.users.get("admin")["id"]], [])


def _open(browser, srv, path: str, user: tuple[str, str] | None = None):
    """A new browser tab in ``ZONE`` signed in as ``user`` (the admin), on ``path`` once the page has been
    told the browser's zone (its first refresh is over)."""
    tab = browser.new_context(timezone_id=ZONE, viewport={"width": 1280, "height": 900}).new_page()
    login(tab, srv, *(user or ()))
    tab.goto(srv.base + path)
    tab.get_by_text(re.compile(f"in {ZONE}")).first.wait_for(timeout=30000)
    return tab


def _selected_id(tab) -> str:
    row = tab.locator(".tabulator-row.tabulator-selected")
    return row.locator('.tabulator-cell[tabulator-field="id"]').inner_text() if row.count() == 1 else ""


def test_recordings_list_follows_recordings_keeping_selection_sort_and_page(tmp_path, page):  # noqa: F811
    srv, browser = start_server(tmp_path, record_segment_seconds=1.0), page.context.browser
    try:
        yard, gate = _live_camera(srv, "yard"), _live_camera(srv, "gate", seed=6)
        _private_to_admin(srv, gate)
        now = datetime.now(UTC)
        with srv.runtime.db.session() as s:  # 24 earlier recordings: two pages of 20
            for i in range(24):
                at = now - timedelta(hours=30 - i)
                s.add(Recording(camera_id=yard, started_at=at, ended_at=at + timedelta(minutes=1), duration_s=60,
                                status="completed", path=f"cam{yard}/old_{i:02d}"))
        page = _open(browser, srv, "/recordings")
        page.locator(".tabulator-row").first.wait_for(timeout=30000)
        page.locator('.tabulator-col[tabulator-field="id"]').first.click()  # sorted by id, ascending
        wait_for(lambda: page.locator('.tabulator-cell[tabulator-field="id"]').first.inner_text() == "1",
                 timeout=10, what="the list sorted by id")
        page.locator('.tabulator-page[data-page="2"]').click()
        row = page.locator(".tabulator-row", has=page.locator('.tabulator-cell[tabulator-field="id"]',
                                                              has_text=re.compile(r"^22$")))
        row.locator('.tabulator-cell[tabulator-field="camera"]').click()
        page.get_by_text("Recording 22").first.wait_for(timeout=10000)
        assert _selected_id(page) == "22"

        rec = srv.request("POST", "/api/recording/start", {"camera_id": yard})[1]  # e.g. another user's
        new = page.locator(".tabulator-row", has=page.locator('.tabulator-cell[tabulator-field="id"]',
                                                              has_text=re.compile(rf"^{rec['id']}$")))
        new.locator('.tabulator-cell[tabulator-field="status"]', has_text="recording").wait_for(timeout=10000)
        wait_for(lambda: srv.request("GET", f"/api/recordings/{rec['id']}")[1]["segments"] >= 2, timeout=30,
                 what="two segments")
        # a closed segment: the row's size and duration grow (no start or stop in between)
        new.locator('.tabulator-cell[tabulator-field="duration"]', has_text=re.compile(r"0:00:0[1-9]")).wait_for(
            timeout=10000)
        srv.request("POST", "/api/recording/stop", {"camera_id": yard})
        new.locator('.tabulator-cell[tabulator-field="status"]', has_text="completed").wait_for(timeout=15000)
        # what the user chose stays: page 2, sorted by id, recording 22 selected and shown
        assert page.locator(".tabulator-page.active").inner_text() == "2"
        assert page.locator('.tabulator-cell[tabulator-field="id"]').first.inner_text() == "21"
        assert _selected_id(page) == "22"
        page.get_by_text("Recording 22").first.wait_for(timeout=1000)

        # a viewer: a recording of a camera she may not see asks her page nothing; one of hers shows
        srv.runtime.auth.users.create(*VERA, "viewer")
        viewer = _open(browser, srv, "/recordings", VERA)
        viewer.locator(".tabulator-row").first.wait_for(timeout=30000)
        seen, stop = _session_queries(srv, "recordings", "vera")
        try:
            srv.request("POST", "/api/recording/start", {"camera_id": gate})
            time.sleep(3)
            assert seen == [], seen  # nothing reached her session about the gate
            srv.request("POST", "/api/recording/start", {"camera_id": yard})
            viewer.locator('.tabulator-cell[tabulator-field="status"]', has_text="recording").first.wait_for(
                timeout=10000)
            assert seen  # her page read the list again for her own camera
        finally:
            stop()
        assert viewer.locator('.tabulator-cell[tabulator-field="camera"]', has_text="gate").count() == 0
    finally:
        stop_server(srv)


PLAYER = """(cmd) => {  // the Recordings page's player: its state, or a pause at 0.5 s
  const v = document.querySelector('video.ts-player') || (() => { let hit = null;
    const find = (root) => { for (const e of root.querySelectorAll('*')) { if (hit) return;
      const m = e.shadowRoot && e.shadowRoot.querySelector('video.ts-player'); if (m) hit = m;
      else if (e.shadowRoot) find(e.shadowRoot); } };
    find(document); return hit; })();
  if (!v) return null;
  if (cmd === 'pause') { v.pause(); v.currentTime = 0.5; v.dataset.mark = 'the same video'; }
  const bar = v.parentElement.parentElement.querySelector('.ts-segments');
  return {url: v.dataset.url || '', segment: Number(v.dataset.segment), t: v.currentTime, paused: v.paused,
          ready: v.readyState, mark: v.dataset.mark || '', buttons: bar ? bar.querySelectorAll('button').length : 0};
}"""


def test_recordings_player_gets_the_new_segments_of_a_running_recording(tmp_path, page):  # noqa: F811
    """Seen: a recording selected while it was recording kept the segments it had when it was chosen
    (the player never got the new ones until the user chose it again)."""
    srv, browser = start_server(tmp_path, record_segment_seconds=1.0), page.context.browser
    try:
        cid = _live_camera(srv, "yard")
        rec = _recording(srv, cid, segments=2)
        tab = _open(browser, srv, "/recordings")
        tab.locator('.tabulator-cell[tabulator-field="id"]', has_text=re.compile(rf"^{rec['id']}$")).click()
        tab.get_by_text(f"Recording {rec['id']}").first.wait_for(timeout=10000)
        first = wait_for(lambda: (v := tab.evaluate(PLAYER, "")) and v["ready"] >= 1 and v, timeout=15,
                         what="the first segment loaded")
        assert first["url"].endswith(f"/recordings/{rec['id']}/segments/0") and first["buttons"] >= 2
        tab.evaluate(PLAYER, "pause")  # the user watches the first segment, paused at 0.5 s
        seen: dict = {}  # what the browser and the server had last, for the message if it times out

        def _grown():
            seen.update(player=tab.evaluate(PLAYER, ""), server=srv.runtime.recordings.get(rec["id"])["segments"])
            return seen["player"] and seen["player"]["buttons"] >= first["buttons"] + 2 and seen["player"]

        try:
            grown = wait_for(_grown, timeout=30, what="new segments in the player")
        except pytest.fail.Exception as e:
            raise AssertionError(f"{e} - last seen: {seen}") from None
        # the same video, still where the user left it (not reloaded, not back to the start)
        assert grown["mark"] == "the same video" and grown["url"] == first["url"], grown
        assert grown["paused"] and grown["t"] == pytest.approx(0.5, abs=0.05), grown

        # played to the end of the newest segment it has, it plays on into the next one when it closes
        last = grown["buttons"] - 1
        tab.locator(".ts-segments button").nth(last).click()
        on = wait_for(lambda: (v := tab.evaluate(PLAYER, "")) and v["segment"] > last and v, timeout=20,
                      what="the player playing on into a segment closed after it started")
        assert on["url"].endswith(f"/segments/{on['segment']}") and not on["paused"], on
        srv.request("POST", "/api/recording/stop", {"camera_id": cid})
    finally:
        stop_server(srv)


def _note(tab) -> str:
    return tab.get_by_text(re.compile(r"\d+ segment\(s\), \d+ event")).first.inner_text()


def _count(text: str, what: str) -> int:
    m = re.search(rf"(\d+) {what}\(s\)", text)
    return int(m.group(1)) if m else -1


VIDEO = """(cmd) => {  // pause the review video, or play its last 0.3 s
  """ + FIND_VIDEO + """
  if (cmd === 'pause') { v.pause(); } else { v.currentTime = Math.max(0, v.duration - 0.3); v.play(); }
  return true; }"""


def test_review_today_grows_in_place_keeping_zoom_and_the_playing_video(tmp_path, page):  # noqa: F811
    srv, browser = start_server(tmp_path, record_segment_seconds=2.0), page.context.browser
    try:
        cid = _live_camera(srv, "yard")
        rec = _recording(srv, cid, segments=2)
        page = _open(browser, srv, "/review")
        first = _count(_note(page), "segment")
        assert first >= 2 and "0 event(s), 0 alarm(s)" in _note(page)
        started = datetime.fromisoformat(rec["started_at"])
        zoom = [_chart_ms(started - timedelta(seconds=30)), _chart_ms(started + timedelta(minutes=3))]
        assert page.evaluate(ZOOM, zoom)  # the user zooms onto the recording
        page.wait_for_timeout(300)

        # new segments come while the page is open (the shown day is today)
        wait_for(lambda: _count(_note(page), "segment") >= first + 2, timeout=20,
                 what="new segments on the timeline")
        # the user plays the newest segment shown and pauses; more segments come meanwhile
        query = urlencode({"since": started.isoformat(), "until": (datetime.now(UTC) + timedelta(minutes=1)).isoformat()})
        last = srv.request("GET", f"/api/cameras/{cid}/timeline?{query}")[1]["segments"][-1]
        assert last["index"] >= 1
        x, y = page.evaluate(PIXEL, [_chart_ms(datetime.fromisoformat(last["start"]) + timedelta(seconds=0.3)), 0.5])
        _click(page, x, y)
        got = wait_for(lambda: str((v := page.evaluate(PLAYING) or {}).get("serial") or "").isdigit()
                       and v.get("url", "").endswith(f"/segments/{last['index']}") and v, timeout=15,
                       what="the clicked segment playing")
        page.evaluate(VIDEO, "pause")
        shown = _count(_note(page), "segment")
        wait_for(lambda: _count(_note(page), "segment") > shown, timeout=15, what="a segment added while playing")
        page.evaluate(VIDEO, "end")
        # it plays on into the segment after the clicked one (not back to the day's first)
        on = wait_for(lambda: (v := page.evaluate(PLAYING) or {}).get("serial") == "next" and v, timeout=15,
                      what="the player playing on")
        assert on["url"].endswith(f"/recordings/{rec['id']}/segments/{last['index'] + 1}"), (got, on)

        # an event and an alarm on today's timeline (stored and announced as the services do)
        at = datetime.now(UTC)
        with srv.runtime.db.session() as s:
            ev = Event(camera_id=cid, label="person", started_at=at)
            s.add(ev)
            s.flush()
            s.add(Alarm(camera_id=cid, name="too hot", kind="above", raised_at=at, value=41.0, peak=41.0,
                        unit="°C"))
            event_id = ev.id
        srv.runtime.bus.publish("detection.event", {"state": "start", "camera_id": cid, "event_id": event_id,
                                                    "label": "person", "started_at": at.timestamp()})
        srv.runtime.bus.publish("alarm", {"state": "raised", "camera_id": cid, "name": "too hot"})
        wait_for(lambda: "1 event(s), 1 alarm(s)" in _note(page), timeout=10, what="the event and the alarm")
        xr = page.evaluate("""() => { for (const doc of window.Bokeh.documents) {
            const p = doc.get_model_by_name('ts-review-plot'); if (p) return [p.x_range.start, p.x_range.end]; } }""")
        assert xr == pytest.approx(zoom)  # the user's zoom stayed
        assert page.evaluate(PLAYING)["url"]  # and the video is still there
        srv.request("POST", "/api/recording/stop", {"camera_id": cid})
    finally:
        stop_server(srv)


def test_notifications_appear_for_their_user_only(tmp_path, page):  # noqa: F811
    srv, browser = start_server(tmp_path), page.context.browser
    try:
        status, cam = srv.request("POST", "/api/cameras", {"url": SIM.format(seed=6), "name": "gate"})
        assert status == 201, cam
        _private_to_admin(srv, cam["id"])
        notes = srv.runtime.notifications
        notes.info("first note", "already there")
        page = _open(browser, srv, "/notifications")
        table = page.locator(".ts-notifications")
        table.get_by_text("first note").wait_for(timeout=30000)
        unread = int(re.search(r"(\d+) unread", page.get_by_text(re.compile(r"\d+ unread ·")).inner_text()).group(1))
        table.locator(".tabulator-row", has_text="first note").locator("input[type=checkbox]").check()

        notes.warning("disk almost full", "12 % free")  # a broadcast, e.g. from the storage check
        table.get_by_text("disk almost full").wait_for(timeout=10000)
        page.get_by_text(f"{unread + 1} unread").wait_for(timeout=5000)
        ticked = table.locator(".tabulator-row.tabulator-selected")
        assert ticked.count() == 1 and "first note" in ticked.inner_text()  # the user's tick stayed on its row

        srv.runtime.auth.users.create(*VERA, "viewer")
        vera_id = srv.runtime.auth.users.get("vera")["id"]
        viewer = _open(browser, srv, "/notifications", VERA)
        viewer.locator(".ts-notifications").get_by_text("disk almost full").wait_for(timeout=30000)
        seen, stop = _session_queries(srv, "notifications", "vera")
        try:
            notes.info("gate opened", "", data={"camera_id": cam["id"]})  # about a camera she may not see
            notes.info("admin only", "", user_id=srv.runtime.auth.users.get("admin")["id"])
            page.locator(".ts-notifications").get_by_text("admin only").wait_for(timeout=10000)
            time.sleep(1.5)
            assert seen == [], seen  # her session was told nothing
            notes.info("for vera", "your camera is back", user_id=vera_id)
            viewer.locator(".ts-notifications").get_by_text("for vera").wait_for(timeout=10000)
            assert seen  # the hook sees her session: her page read the list again for her own notification
        finally:
            stop()
        vera_table = viewer.locator(".ts-notifications")
        assert vera_table.get_by_text("gate opened").count() == 0 and vera_table.get_by_text("admin only").count() == 0
        assert page.locator(".ts-notifications").get_by_text("for vera").count() == 0
    finally:
        stop_server(srv)


def _acknowledged(tab, alarm: str) -> str:
    row = tab.locator(".ts-alarms .tabulator-row", has_text=alarm)
    return row.locator('.tabulator-cell[tabulator-field="acknowledged"]').inner_text().strip() if row.count() else "?"


def test_an_alarm_acknowledged_elsewhere_shows_acknowledged_in_every_open_session(tmp_path, page):  # noqa: F811
    """Seen: an alarm acknowledged through the API, or by another user on her page, stayed unacknowledged
    on the Notifications page of a session already open, until a reload (nothing announced it)."""
    srv, browser = start_server(tmp_path), page.context.browser
    try:
        status, cam = srv.request("POST", "/api/cameras", {"url": SIM.format(seed=6), "name": "kiln"})
        assert status == 201, cam
        seen: list[dict] = []
        srv.runtime.bus.subscribe(lambda e: seen.append(e.data) if e.data.get("state") == "acknowledged" else None,
                                  "alarm")
        ids = []
        with srv.runtime.db.session() as s:
            for name in ("too hot", "too cold"):
                row = Alarm(camera_id=cam["id"], name=name, kind="above", raised_at=datetime.now(UTC), value=41.0,
                            peak=41.0, unit="°C")
                s.add(row)
                s.flush()
                ids.append(row.id)
        srv.runtime.auth.users.create(*VERA, "viewer")
        admin, viewer = _open(browser, srv, "/notifications"), _open(browser, srv, "/notifications", VERA)
        for tab in (admin, viewer):
            tab.locator(".ts-alarms").get_by_text("too cold").wait_for(timeout=30000)
            assert _acknowledged(tab, "too hot") == "" and _acknowledged(tab, "too cold") == ""

        status, body = srv.request("PATCH", f"/api/alarms/{ids[0]}", {"acknowledged": True})  # a script
        assert status == 200 and body["acknowledged_at"], body
        for tab in (admin, viewer):
            wait_for(lambda t=tab: ZONE_TIME.match(_acknowledged(t, "too hot")), timeout=10,
                     what="the alarm acknowledged through the API shown acknowledged")
        # vera acknowledges the other one on her page: the admin's open page shows it
        viewer.locator(".ts-alarms .tabulator-row", has_text="too cold").locator("input[type=checkbox]").check()
        viewer.get_by_role("button", name="Acknowledge selected alarms").click()
        wait_for(lambda: ZONE_TIME.match(_acknowledged(admin, "too cold")), timeout=10,
                 what="the alarm vera acknowledged shown acknowledged on the admin's page")
        assert [(d["alarm_id"], d["camera_id"]) for d in seen] == [(ids[0], cam["id"]), (ids[1], cam["id"])]
        assert seen[1]["acknowledged_by"] == srv.runtime.auth.users.get("vera")["id"]
        assert srv.request("PATCH", f"/api/alarms/{ids[0]}", {"acknowledged": True})[0] == 200
        assert len(seen) == 2  # acknowledging again keeps the first and announces nothing
    finally:
        stop_server(srv)


def _menu(tab) -> list[str]:
    """The options of the page's camera menu (the first select labelled Camera)."""
    return tab.locator("select").first.evaluate("s => Array.from(s.options).map(o => o.textContent)")


def test_camera_menus_follow_cameras_added_renamed_and_shared(tmp_path, page):  # noqa: F811
    """Seen: the Recordings, Review and Detections menus listed the cameras of the moment the page was
    built; a camera connected, renamed or shared later was missing until a reload. Review's heading kept
    the old name of a renamed camera."""
    srv, browser = start_server(tmp_path), page.context.browser
    try:
        yard = _live_camera(srv, "yard", seed=5)
        srv.runtime.auth.users.create(*VERA, "viewer")
        tabs = {path: _open(browser, srv, path) for path in ("/recordings", "/review", "/detections")}
        viewer = _open(browser, srv, "/recordings", VERA)
        for tab in (*tabs.values(), viewer):
            wait_for(lambda t=tab: "yard" in _menu(t), timeout=20, what="the first camera in the menu")
        gate = _live_camera(srv, "gate", seed=6)
        _private_to_admin(srv, gate)  # vera may not see it
        for path, tab in tabs.items():
            wait_for(lambda t=tab: "gate" in _menu(t), timeout=15, what=f"the new camera on {path}")
        assert srv.request("PATCH", f"/api/cameras/{gate}", {"name": "front gate"})[0] == 200
        for path, tab in tabs.items():
            wait_for(lambda t=tab: "front gate" in _menu(t) and "gate" not in _menu(t), timeout=15,
                     what=f"the renamed camera on {path}")
        # the camera Review shows, renamed: its day's heading says the new name too (not only the menu)
        assert "**" not in _note(tabs["/review"]) and _note(tabs["/review"]).startswith("yard,")
        assert srv.request("PATCH", f"/api/cameras/{yard}", {"name": "back yard"})[0] == 200
        wait_for(lambda: _note(tabs["/review"]).startswith("back yard,"), timeout=15,
                 what="the new name in Review's heading")
        time.sleep(1.0)
        assert "front gate" not in _menu(viewer) and "gate" not in _menu(viewer)
        srv.runtime.cameras.set_shares(gate, ["vera"], [])  # now shared with her
        wait_for(lambda: "front gate" in _menu(viewer), timeout=15, what="the camera shared with the viewer")
    finally:
        stop_server(srv)
