"""Pages as state fed by the bus, not polling: the per-session bridge (unit) and, in Chromium, idle
Live and Detections tabs that ask the database nothing while changes made elsewhere still appear."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import event

from app.views.bridge import KINDS, SessionBridge, kinds_of
from thermalstream.bus import Event, EventBus
from tests.conftest import login, start_server, stop_server, wait_for
from tests.test_ui import page  # noqa: F401 - the Chromium page fixture

SIM = "sim://?people=1&seed=3&width=160&height=128&fps=10"


class _Doc:
    """The two Bokeh document calls the bridge uses; callbacks run when the test says."""

    def __init__(self) -> None:
        self.queue: list = []

    def add_next_tick_callback(self, cb) -> None:
        self.queue.append(cb)

    def add_timeout_callback(self, cb, _ms) -> None:
        self.queue.append(cb)

    def run(self) -> None:
        while self.queue:
            self.queue.pop(0)()


class _Runtime:
    def __init__(self) -> None:
        self.bus = EventBus()


def test_bridge_bumps_each_kind_once_per_burst_and_only_for_visible_cameras():
    rt, doc = _Runtime(), _Doc()
    bridge = SessionBridge(rt, {1}, doc)
    seen: list[tuple[str, int]] = []
    bridge.param.watch(lambda *es: seen.extend((e.name, e.new) for e in es), ["cameras", "detections", "series"])
    for _ in range(100):  # a busy bus: one bump per kind per flush
        rt.bus.publish("detections", {"camera_id": 1, "detections": [{"label": "hotspot"}]})
    rt.bus.publish("detections", {"camera_id": 1, "detections": []})  # an empty overlay stores nothing
    rt.bus.publish("detection.event", {"camera_id": 2, "state": "start"})  # a camera this user cannot see
    rt.bus.publish("camera.status", {"camera_id": 7, "status": "live"})  # camera lists are re-read whoever's
    doc.run()
    assert sorted(seen) == [("cameras", 1), ("detections", 1)]
    rt.bus.publish("detection.event", {"camera_id": 2, "state": "start"})
    doc.run()
    assert len(seen) == 2
    bridge.see(None)  # now all cameras (e.g. became admin): the other camera's event counts
    rt.bus.publish("detection.event", {"camera_id": 2, "state": "start"})
    rt.bus.publish("roi.samples", {})
    doc.run()
    assert sorted(seen)[-1] == ("series", 1) and ("detections", 2) in seen
    bridge.close()
    rt.bus.publish("camera.added", {"camera_id": 9})
    assert doc.queue == []  # unsubscribed


def test_kinds_of_topics():
    assert kinds_of(Event("camera.added", {"camera_id": 1})) == ("cameras",)
    for state in ("started", "stopped", "segment"):
        assert kinds_of(Event("recording", {"state": state})) == ("recordings",)
    assert kinds_of(Event("detection.event", {"state": "start"})) == ("detections", "events")
    assert kinds_of(Event("alarm", {"state": "raised"})) == ("series", "events")
    assert kinds_of(Event("notification", {})) == ("notifications",)
    assert kinds_of(Event("user.sessions", {})) == ()


def test_recordings_events_and_notifications_reach_only_the_sessions_they_concern():
    """A viewer who may see camera 1 only, user 5: no bump about camera 2, nor for another user's notification."""
    rt, doc = _Runtime(), _Doc()
    bridge = SessionBridge(rt, {1}, doc, user_id=5)
    seen: list[str] = []
    bridge.param.watch(lambda *es: seen.extend(e.name for e in es), list(KINDS))
    rt.bus.publish("recording", {"state": "started", "camera_id": 2, "recording_id": 1})
    rt.bus.publish("recording", {"state": "segment", "camera_id": 2, "recording_id": 1})
    rt.bus.publish("alarm", {"state": "raised", "camera_id": 2})
    rt.bus.publish("notification", {"title": "for someone else", "data": {}}, user_id=6)
    rt.bus.publish("notification", {"title": "about camera 2", "data": {"camera_id": 2}})  # a broadcast
    doc.run()
    assert seen == []
    rt.bus.publish("recording", {"state": "segment", "camera_id": 1, "recording_id": 3})
    doc.run()
    assert seen == ["recordings"]
    rt.bus.publish("alarm", {"state": "raised", "camera_id": 1})
    doc.run()
    assert sorted(seen[1:]) == ["events", "series"]
    rt.bus.publish("notification", {"title": "mine", "data": {"camera_id": 1}}, user_id=5)
    rt.bus.publish("notification", {"title": "everyone's", "data": {}})
    doc.run()
    assert seen[3:] == ["notifications"] and bridge.notifications == 1  # two in one burst: one bump
    anonymous = SessionBridge(rt, set(), _Doc())  # nobody signed in: broadcasts only
    assert anonymous._concerns(Event("notification", {"data": {}}), ("notifications",))
    assert not anonymous._concerns(Event("notification", {"data": {}}, user_id=5), ("notifications",))
    bridge.close()
    anonymous.close()


def _count_statements(engine) -> tuple[list[str], callable]:
    seen: list[str] = []
    lock = threading.Lock()

    def on_execute(conn, cursor, statement, *args) -> None:
        import panel as pn

        if pn.state.curdoc is None:  # background writers and samplers, not a browser session's page
            return
        with lock:
            seen.append(f"{threading.current_thread().name}: {statement[:80]}")

    event.listen(engine, "before_cursor_execute", on_execute)
    return seen, lambda: event.remove(engine, "before_cursor_execute", on_execute)


@pytest.mark.ui
def test_idle_live_and_detections_tabs_ask_the_database_nothing_and_still_follow_changes(tmp_path, page):  # noqa: F811
    srv = start_server(tmp_path)
    try:
        status, cam = srv.request("POST", "/api/cameras", {"url": SIM, "name": "yard"})
        assert status == 201, cam
        login(page, srv)
        page.goto(srv.base + "/")
        page.locator(".ts-camera").first.wait_for(timeout=30000)
        page.locator('.ts-badge[data-status="live"]').first.wait_for(timeout=30000)
        ctx = page.context.browser.new_context()  # a second tab of the same login
        ctx.add_cookies(page.context.cookies())
        other = ctx.new_page()
        other.goto(srv.base + "/detections")
        other.get_by_text("Timeline").first.wait_for(timeout=30000)
        time.sleep(3)  # pages settled (the first render and the browser's time zone refresh)
        seen, stop = _count_statements(srv.runtime.db.engine)
        try:
            time.sleep(10)
        finally:
            stop()
        # Two idle tabs for 10 s: only the login check of each session (every 5 s) may reach the
        # database; the pages' own polling (1 s Live, 0.5 s Detections) used to send 60 and more.
        assert len(seen) <= 8, seen
        fps_before = page.locator(".ts-fps").first.inner_text()
        # A change made elsewhere (the API, another user) still reaches the open page through the bus.
        status, _ = srv.request("PATCH", f"/api/cameras/{cam['id']}", {"name": "renamed-yard"})
        assert status == 200
        page.get_by_text("renamed-yard").first.wait_for(timeout=5000)
        status, cam2 = srv.request("POST", "/api/cameras", {"url": SIM.replace("seed=3", "seed=4"), "name": "gate"})
        assert status == 201, cam2
        wait_for(lambda: page.locator(".ts-camera").count() == 2, timeout=30, what="the new camera's card")
        assert "fps" in fps_before  # live figures keep coming from memory
    finally:
        stop_server(srv)
