"""One rule for times (the browser's zone, shown), notifications read one at a time, and
"change my password" for every user, in a real browser (Debian's Chromium through Playwright)."""

from __future__ import annotations

import pytest

from tests.conftest import login, start_server, stop_server, wait_for
from tests.test_ui import page  # noqa: F401 - the Chromium page fixture

pytestmark = pytest.mark.ui

ZONE, ABBREV = "Asia/Tokyo", "JST"  # UTC+9 all year: never mistaken for UTC


def cells(tab, field: str) -> list[str]:
    return tab.locator(f'.tabulator-cell[tabulator-field="{field}"]').all_inner_texts()


def test_pages_show_times_in_the_browsers_zone(tmp_path, page):  # noqa: F811
    srv = start_server(tmp_path, record_segment_seconds=1.0, hotspot_threshold_c=26.0)
    try:
        cid = srv.request("POST", "/api/cameras",
                          {"url": "sim://?people=1&vehicle=0&animal=0&seed=10&width=320&height=256"})[1]["id"]
        wait_for(lambda: srv.camera(cid)["status"] == "live", what="live")
        srv.request("PATCH", f"/api/cameras/{cid}/detection", {"enabled": True})
        wait_for(lambda: srv.request("GET", f"/api/detections?camera={cid}")[1]["total"] > 0, timeout=60,
                 what="detections")
        srv.request("PATCH", f"/api/cameras/{cid}/detection", {"enabled": False})  # no new rows while we look
        rec = srv.request("POST", "/api/recording/start", {"camera_id": cid})[1]
        wait_for(lambda: srv.request("GET", f"/api/recordings/{rec['id']}")[1]["segments"] >= 1, timeout=30,
                 what="a segment")
        srv.request("POST", "/api/recording/stop", {"camera_id": cid})

        tab = page.context.browser.new_context(timezone_id=ZONE).new_page()
        login(tab, srv)
        checks = {"/detections": "time", "/recordings": "started", "/notifications": "time"}
        for path, field in checks.items():
            tab.goto(srv.base + path)
            tab.locator(f'.tabulator-cell[tabulator-field="{field}"]').first.wait_for(timeout=20000)
            wait_for(lambda f=field: cells(tab, f) and all(t.endswith(ABBREV) for t in cells(tab, f)),
                     timeout=20, what=f"{path}: every time in {ABBREV} (got {cells(tab, field)[:3]})")
            tab.get_by_text(f"in {ZONE}", exact=False).first.wait_for(timeout=10000)  # the zone is named
        tab.goto(srv.base + "/schedules")
        tab.get_by_text(f"shown in {ZONE}", exact=False).first.wait_for(timeout=20000)
    finally:
        stop_server(srv)


def test_notifications_are_marked_read_one_at_a_time(server, page):  # noqa: F811
    admin = server.runtime.auth.users.get("admin")["id"]
    for title in ("first note", "second note", "third note"):
        server.runtime.notifications.info(title, "for the admin", user_id=admin)
    login(page, server)
    page.goto(server.base + "/notifications")
    row = page.locator(".ts-notifications .tabulator-row", has_text="second note")
    row.wait_for(timeout=20000)
    row.locator("input[type=checkbox]").check()
    page.get_by_role("button", name="Mark selected read").click()

    def read() -> dict:
        return {n["title"]: n["read"] for n in server.runtime.notifications.list(admin, limit=50)
                if n["title"].endswith(" note")}

    wait_for(lambda: read()["second note"], timeout=10, what="the ticked notification read")
    assert read() == {"first note": False, "second note": True, "third note": False}


def test_every_user_changes_their_own_password_and_other_sessions_end(server, page):  # noqa: F811
    old, new = "vera has a long password", "vera's brand new passphrase"
    server.runtime.auth.users.create("vera", old, "viewer")
    token = server.token("vera")
    login(page, server, "vera", old)
    other = page.context.browser.new_context().new_page()  # vera on another computer
    login(other, server, "vera", old)

    page.goto(server.base + "/")
    page.get_by_role("link", name="Change password").click()
    page.fill("#current", "not my password at all")
    page.fill("#password", new)
    page.fill("#confirm", new)
    page.click("button[type=submit]")
    page.get_by_text("current password is not right").wait_for(timeout=10000)
    assert server.runtime.auth.users.authenticate("vera", old) is not None  # nothing changed

    page.fill("#current", old)
    page.fill("#password", new)
    page.fill("#confirm", new)
    page.click("button[type=submit]")
    page.get_by_text("Your password was changed").wait_for(timeout=10000)

    page.goto(server.base + "/")  # this browser stays signed in
    page.get_by_text("Signed in as").wait_for(timeout=20000)
    other.goto(server.base + "/")  # the other one is signed out, and so is the old token
    other.wait_for_url(lambda url: "/login" in url, timeout=20000)
    assert server.request("GET", "/api/cameras", headers={"Authorization": f"Bearer {token}"}, as_user=None)[0] == 401
    assert server.runtime.auth.users.authenticate("vera", new) is not None
