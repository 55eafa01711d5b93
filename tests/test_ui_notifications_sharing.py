"""The Notifications page follows sharing, in Chromium: an alarm or a notification about a camera shared
with the user while her page is open appears without a reload, and goes when the share is taken back."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.conftest import start_server, stop_server, wait_for
from tests.test_ui import page  # noqa: F401 - the Chromium page fixture
from tests.test_ui_live_pages import SIM, VERA, _open, _private_to_admin
from thermalstream.db.models import Alarm

pytestmark = pytest.mark.ui


def test_notifications_page_follows_a_camera_shared_and_unshared(tmp_path, page):  # noqa: F811
    """Seen: the page read which cameras the user may see once, when built; a camera shared with her
    later kept its alarms hidden (and one unshared kept them shown) until a reload."""
    srv, browser = start_server(tmp_path), page.context.browser
    try:
        status, cam = srv.request("POST", "/api/cameras", {"url": SIM.format(seed=6), "name": "kiln"})
        assert status == 201, cam
        _private_to_admin(srv, cam["id"])
        with srv.runtime.db.session() as s:
            s.add(Alarm(camera_id=cam["id"], name="kiln too hot", kind="above", raised_at=datetime.now(UTC),
                        value=41.0, peak=41.0, unit="°C"))
        srv.runtime.notifications.info("kiln door opened", "", data={"camera_id": cam["id"]})
        srv.runtime.notifications.info("for everyone", "")
        srv.runtime.auth.users.create(*VERA, "viewer")
        vera = srv.runtime.auth.users.get("vera")["id"]
        tab = _open(browser, srv, "/notifications", VERA)
        alarms, notes = tab.locator(".ts-alarms"), tab.locator(".ts-notifications")
        notes.get_by_text("for everyone").wait_for(timeout=30000)
        assert alarms.get_by_text("kiln too hot").count() == 0 and notes.get_by_text("kiln door opened").count() == 0

        srv.runtime.cameras.set_shares(cam["id"], [srv.runtime.auth.users.get("admin")["id"], vera], [])
        alarms.get_by_text("kiln too hot").wait_for(timeout=10000)
        notes.get_by_text("kiln door opened").wait_for(timeout=10000)

        _private_to_admin(srv, cam["id"])  # taken back
        wait_for(lambda: alarms.get_by_text("kiln too hot").count() == 0, timeout=10, what="the alarm gone")
        wait_for(lambda: notes.get_by_text("kiln door opened").count() == 0, timeout=10, what="the note gone")
        assert notes.get_by_text("for everyone").count() == 1
    finally:
        stop_server(srv)
