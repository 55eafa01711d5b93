"""Pages as state, in Chromium: a page's filters are parameters of the page, shown by widgets made from
them and kept in the URL, so a bookmark or a reload shows the same thing (Notifications: unread only;
Recordings: the camera; Review: the camera and the day; Detections: camera, class, period and confidence;
Thermal: ROIs, period, statistic); what a user may not see stays out of reach."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from urllib.parse import unquote

import pytest

from tests.conftest import login, start_server, stop_server, wait_for
from tests.test_ui import page  # noqa: F401 - the Chromium page fixture
from tests.test_ui_live_pages import VERA, _live_camera, _note, _open, _private_to_admin
from tests.test_ui_review_timeline import ZONE
from thermalstream.db.models import Detection, Recording
from thermalstream.notifications import to_local

pytestmark = pytest.mark.ui


def _unread_box(tab):
    return tab.locator(".bk-Checkbox", has_text="Unread only").locator("input[type=checkbox]")


def test_notifications_unread_filter_is_page_state_kept_in_the_url(tmp_path, page):  # noqa: F811
    """The page is state: "Unread only" is a parameter of the page, shown by its checkbox and kept in the
    URL (a bookmark or a reload keeps it); new notifications still arrive under the filter."""
    srv, browser = start_server(tmp_path), page.context.browser
    try:
        notes, admin = srv.runtime.notifications, srv.runtime.auth.users.get("admin")["id"]
        notes.info("old news", "read already", user_id=admin)
        notes.mark_read(admin)
        notes.info("fresh news", "not read yet", user_id=admin)
        tab = _open(browser, srv, "/notifications?unread=true")
        table = tab.locator(".ts-notifications")
        table.get_by_text("fresh news").wait_for(timeout=30000)
        assert table.get_by_text("old news").count() == 0
        assert _unread_box(tab).is_checked()
        notes.info("newer news", "", user_id=admin)  # from the bus, under the filter
        table.get_by_text("newer news").wait_for(timeout=10000)
        assert table.get_by_text("old news").count() == 0

        _unread_box(tab).uncheck()
        table.get_by_text("old news").wait_for(timeout=10000)
        href = lambda: tab.evaluate("location.href")  # tab.url is only read when Playwright is called
        wait_for(lambda: "unread=false" in href(), timeout=10, what="the URL to follow the checkbox (off)")
        _unread_box(tab).check()
        wait_for(lambda: "unread=true" in href(), timeout=10, what="the URL to follow the checkbox (on)")
        tab.reload()
        tab.locator(".ts-notifications").get_by_text("fresh news").wait_for(timeout=30000)
        assert _unread_box(tab).is_checked()
        assert tab.locator(".ts-notifications").get_by_text("old news").count() == 0
    finally:
        stop_server(srv)


def test_recordings_filters_are_page_state_the_camera_kept_in_the_url(tmp_path, page):  # noqa: F811
    """The Recordings filters are state of the page: the camera chosen is kept in the URL (a bookmark or a
    reload lists the same camera), a camera the user may not see in the URL lists all of hers."""
    srv, browser = start_server(tmp_path), page.context.browser
    try:
        yard, gate = _live_camera(srv, "yard"), _live_camera(srv, "gate", seed=6)
        now = datetime.now(UTC)
        with srv.runtime.db.session() as s:
            for cid, n in ((yard, 2), (gate, 3)):
                for i in range(n):
                    at = now - timedelta(hours=2 + i)
                    s.add(Recording(camera_id=cid, started_at=at, ended_at=at + timedelta(minutes=1), duration_s=60,
                                    status="completed", path=f"cam{cid}/r_{i}"))
        cameras = lambda t: sorted(  # the camera column of the listed rows
            t.locator('.tabulator-cell[tabulator-field="camera"]').all_inner_texts())
        tab = _open(browser, srv, f"/recordings?camera={gate}")
        wait_for(lambda: cameras(tab) == ["gate"] * 3, timeout=15, what="only the gate's recordings")
        assert tab.locator("select").first.evaluate("s => s.options[s.selectedIndex].textContent") == "gate"
        tab.locator("select").first.select_option(label="yard")
        wait_for(lambda: cameras(tab) == ["yard"] * 2, timeout=10, what="only the yard's recordings")
        wait_for(lambda: f"camera={yard}" in tab.evaluate("location.href"), timeout=10, what="the URL to follow")
        tab.reload()
        tab.get_by_text(re.compile(f"in {ZONE}")).first.wait_for(timeout=30000)
        wait_for(lambda: cameras(tab) == ["yard"] * 2, timeout=15, what="the yard's recordings after a reload")
        tab.locator("select").first.select_option(label="All cameras")
        wait_for(lambda: cameras(tab) == ["gate"] * 3 + ["yard"] * 2, timeout=10, what="every camera's recordings")

        _private_to_admin(srv, gate)  # vera may not see the gate: its id in her URL lists all of hers
        srv.runtime.auth.users.create(*VERA, "viewer")
        viewer = _open(browser, srv, f"/recordings?camera={gate}", VERA)
        wait_for(lambda: cameras(viewer) == ["yard"] * 2, timeout=15, what="the viewer's own cameras' recordings")
    finally:
        stop_server(srv)


def test_review_camera_and_day_are_page_state_kept_in_the_url(tmp_path, page):  # noqa: F811
    """Review's camera and day are parameters of the page: a link to a camera's day opens it, Previous day
    moves the URL along, a reload keeps it; a camera the viewer may not see opens her first camera."""
    srv, browser = start_server(tmp_path), page.context.browser
    try:
        _live_camera(srv, "yard")
        gate = _live_camera(srv, "gate", seed=6)
        day = to_local(datetime.now(UTC), ZONE).date() - timedelta(days=3)
        tab = _open(browser, srv, f"/review?camera={gate}&day={day.isoformat()}")
        wait_for(lambda: _note(tab).startswith(f"gate, {day:%A %d %B %Y}"), timeout=15, what="the linked day")
        tab.get_by_role("button", name="◀ Previous day").click()
        before = day - timedelta(days=1)
        wait_for(lambda: _note(tab).startswith(f"gate, {before:%A %d %B %Y}"), timeout=10, what="the day before")
        href = lambda: tab.evaluate("location.href")  # tab.url is only read when Playwright is called
        wait_for(lambda: f"day={before.isoformat()}" in href() and f"camera={gate}" in href(), timeout=10,
                 what="the URL to follow")
        tab.reload()
        tab.get_by_text(re.compile(f"in {ZONE}")).first.wait_for(timeout=30000)
        wait_for(lambda: _note(tab).startswith(f"gate, {before:%A %d %B %Y}"), timeout=15, what="the same day")

        _private_to_admin(srv, gate)
        srv.runtime.auth.users.create(*VERA, "viewer")
        viewer = _open(browser, srv, f"/review?camera={gate}&day={day.isoformat()}", VERA)
        wait_for(lambda: _note(viewer).startswith(f"yard, {day:%A %d %B %Y}"), timeout=15,
                 what="the viewer's own camera on the linked day")
        assert "gate" not in _note(viewer)
    finally:
        stop_server(srv)


def test_detections_filters_are_page_state_kept_in_the_url(tmp_path, page):  # noqa: F811
    """The Detections filters (camera, class, period, confidence) are parameters of the page, kept in the
    URL: a link opens that camera's and class's detections, a change moves the URL, a reload keeps it;
    a camera the viewer may not see lists all of hers."""
    srv, browser = start_server(tmp_path), page.context.browser
    try:
        yard, gate = _live_camera(srv, "yard"), _live_camera(srv, "gate", seed=6)
        now = datetime.now(UTC)
        rows = [(yard, "person", 2), (gate, "person", 3), (gate, "dog", 4)]
        with srv.runtime.db.session() as s:
            for cid, label, n in rows:
                for i in range(n):
                    s.add(Detection(camera_id=cid, label=label, confidence=0.9,
                                    timestamp=now - timedelta(minutes=5 + i), x1=1.0, y1=2.0, x2=30.0, y2=60.0))
        def listed(t) -> list | None:  # (camera, class) of the table's rows; None while it is redrawn
            cams = t.locator('.tabulator-cell[tabulator-field="camera"]').all_inner_texts()
            classes = t.locator('.tabulator-cell[tabulator-field="class"]').all_inner_texts()
            return sorted(zip(cams, classes, strict=True)) if len(cams) == len(classes) else None

        tab = _open(browser, srv, f"/detections?camera={gate}&label=dog")
        wait_for(lambda: listed(tab) == [("gate", "dog")] * 4, timeout=15, what="only the gate's dogs")
        assert tab.get_by_text("4 detections in the period").count() == 1
        tab.locator("select").nth(1).select_option(label="person")
        wait_for(lambda: listed(tab) == [("gate", "person")] * 3, timeout=10, what="the gate's people")
        href = lambda: tab.evaluate("location.href")
        wait_for(lambda: "label=person" in href() and f"camera={gate}" in href(), timeout=10,
                 what="the URL to follow")
        tab.reload()
        tab.get_by_text(re.compile(f"in {ZONE}")).first.wait_for(timeout=30000)
        wait_for(lambda: listed(tab) == [("gate", "person")] * 3, timeout=15, what="the same after a reload")

        _private_to_admin(srv, gate)  # vera may not see the gate: its id in her URL lists all of hers
        srv.runtime.auth.users.create(*VERA, "viewer")
        viewer = _open(browser, srv, f"/detections?camera={gate}&label=person", VERA)
        wait_for(lambda: listed(viewer) == [("yard", "person")] * 2, timeout=15, what="the viewer's own cameras")
    finally:
        stop_server(srv)


def test_thermal_choices_are_page_state_kept_in_the_url(tmp_path, page):  # noqa: F811
    """The Thermal page's ROIs, period and statistic are parameters of the page, kept in the URL: a link
    plots that ROI over that period with that statistic, a change of statistic moves the URL, a reload
    keeps it all."""
    srv, browser = start_server(tmp_path), page.context.browser
    try:
        cid = _live_camera(srv, "yard")
        made = [srv.request("POST", f"/api/cameras/{cid}/rois", {"kind": "box", "name": n, "points": pts})[1]
                for n, pts in (("bearing", [[0.1, 0.1], [0.4, 0.4]]), ("motor", [[0.5, 0.5], [0.9, 0.9]]))]
        motor = made[1]["id"]
        trend = lambda t: t.locator(".ts-trend").first
        shown = lambda t: (trend(t).get_attribute("data-rois"), trend(t).get_attribute("data-statistic"),
                           "last hour" in trend(t).inner_text())
        tab = browser.new_context(timezone_id=ZONE, viewport={"width": 1280, "height": 900}).new_page()
        login(tab, srv)
        tab.goto(srv.base + f"/thermal?rois=[{motor}]&period=last+hour&statistic=mean")
        wait_for(lambda: shown(tab) == ("1", "mean", True), timeout=30, what="the linked ROI, period and statistic")
        chips = tab.locator(".choices__list--multiple .choices__item").all_inner_texts()  # the choosers' chips
        assert [c.replace("Remove item", "").strip() for c in chips] == ["yard", f"motor (#{motor})"], chips
        tab.locator("select:not([multiple])").nth(1).select_option("max")  # period, statistic, resolution, format
        wait_for(lambda: shown(tab) == ("1", "max", True), timeout=10, what="the statistic chosen")
        href = lambda: unquote(tab.evaluate("location.href"))
        wait_for(lambda: "statistic=max" in href() and f"rois=[{motor}]" in href(), timeout=10,
                 what="the URL to follow")
        tab.reload()
        wait_for(lambda: shown(tab) == ("1", "max", True), timeout=30, what="the same after a reload")
    finally:
        stop_server(srv)
