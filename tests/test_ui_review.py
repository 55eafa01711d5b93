"""Review actions in the page, not only the API: protecting a recording from cleanup (operators), in
a real browser (Debian's Chromium through Playwright)."""

from __future__ import annotations

import pytest

from tests.conftest import login, start_server, stop_server, wait_for
from tests.test_ui import page  # noqa: F401 - the Chromium page fixture

pytestmark = pytest.mark.ui


def test_operator_protects_and_releases_a_recording_viewer_cannot(tmp_path, page):  # noqa: F811
    srv = start_server(tmp_path, record_segment_seconds=1.0)
    try:
        cid = srv.request("POST", "/api/cameras", {"url": "sim://?seed=3&width=160&height=128"})[1]["id"]
        wait_for(lambda: srv.camera(cid)["status"] == "live", what="live")
        rec = srv.request("POST", "/api/recording/start", {"camera_id": cid})[1]
        wait_for(lambda: srv.request("GET", f"/api/recordings/{rec['id']}")[1]["segments"] >= 1, timeout=30,
                 what="a segment")
        srv.request("POST", "/api/recording/stop", {"camera_id": cid})
        wait_for(lambda: not srv.runtime.recordings.active(), what="stopped")
        srv.runtime.auth.users.create("olga", "olga has a long password", "operator")
        srv.runtime.auth.users.create("vera", "vera has a long password", "viewer")

        def protected() -> bool:
            return srv.request("GET", f"/api/recordings/{rec['id']}")[1]["protected"]

        login(page, srv, "olga", "olga has a long password")
        page.goto(srv.base + "/recordings")
        row = page.locator(".tabulator-row").first
        row.wait_for(timeout=20000)
        row.locator(".tabulator-cell").nth(2).click()
        page.get_by_role("button", name="Protect from cleanup").click()
        wait_for(protected, timeout=10, what="the recording protected")
        page.locator('.tabulator-cell[tabulator-field="protected"]', has_text="yes").wait_for(timeout=10000)
        page.get_by_role("button", name="Unprotect").click()
        wait_for(lambda: not protected(), timeout=10, what="the recording released")

        viewer = page.context.browser.new_context().new_page()
        login(viewer, srv, "vera", "vera has a long password")
        viewer.goto(srv.base + "/recordings")
        vrow = viewer.locator(".tabulator-row").first
        vrow.wait_for(timeout=20000)
        vrow.locator(".tabulator-cell").nth(2).click()
        viewer.get_by_text("Download MP4").wait_for(timeout=10000)
        assert viewer.get_by_role("button", name="Protect from cleanup").count() == 0
    finally:
        stop_server(srv)


def test_operator_renames_a_camera_on_its_card(server, page):  # noqa: F811
    cid = server.request("POST", "/api/cameras", {"url": "sim://?seed=5&width=160&height=128", "name": "cam A"})[1]["id"]
    login(page, server)
    page.goto(server.base + "/")
    box = page.get_by_placeholder("camera name")
    box.wait_for(timeout=30000)
    box.fill("north gate")
    page.get_by_role("button", name="Rename").click()
    wait_for(lambda: server.camera(cid)["name"] == "north gate", timeout=10, what="the new name saved")
    page.locator(".ts-camera").get_by_text("north gate", exact=True).wait_for(timeout=10000)
    box.fill("   ")
    page.get_by_role("button", name="Rename").click()
    page.locator(".notyf__message", has_text="name must be").first.wait_for(timeout=10000)
    assert server.camera(cid)["name"] == "north gate"


def test_operator_sets_event_recording_with_pre_and_post_seconds(server, page):  # noqa: F811
    cid = server.request("POST", "/api/cameras", {"url": "sim://?seed=6&width=160&height=128"})[1]["id"]
    login(page, server)
    page.goto(server.base + "/")
    page.get_by_role("button", name="Event rec.").click()
    page.get_by_role("button", name="On detection events").click()
    for label, value in (("Seconds before", "3"), ("Seconds after", "7")):
        box = page.get_by_label(label)
        box.fill(value)
        box.press("Enter")
    page.get_by_role("button", name="Save recording mode").click()
    page.locator(".ts-recmode-saved").wait_for(timeout=10000)
    mode = server.request("GET", f"/api/cameras/{cid}/recording-mode")[1]
    assert (mode["mode"], mode["pre_s"], mode["post_s"]) == ("events", 3, 7)
    # detection is off: the card says that nothing will be recorded, instead of staying silent
    assert "Detection is off" in page.locator(".ts-recmode").first.inner_text()


def test_export_a_cameras_time_range_typed_in_the_browsers_zone(tmp_path, page):  # noqa: F811
    from datetime import UTC, datetime, timedelta
    from zoneinfo import ZoneInfo

    srv = start_server(tmp_path, record_segment_seconds=1.0)
    try:
        cid = srv.request("POST", "/api/cameras", {"url": "sim://?seed=7&width=160&height=128", "name": "yard"})[1]["id"]
        wait_for(lambda: srv.camera(cid)["status"] == "live", what="live")
        rec = srv.request("POST", "/api/recording/start", {"camera_id": cid})[1]
        wait_for(lambda: srv.request("GET", f"/api/recordings/{rec['id']}")[1]["segments"] >= 2, timeout=30,
                 what="two segments")
        srv.request("POST", "/api/recording/stop", {"camera_id": cid})
        wait_for(lambda: not srv.runtime.recordings.active(), what="stopped")

        tab = page.context.browser.new_context(timezone_id="Asia/Tokyo").new_page()
        login(tab, srv)
        tab.goto(srv.base + "/recordings")
        tab.get_by_text("Choose a camera above").wait_for(timeout=20000)
        tab.locator("select").first.select_option(label="yard")

        def typed(when: datetime) -> str:
            return when.astimezone(ZoneInfo("Asia/Tokyo")).strftime("%Y-%m-%d %H:%M:%S")

        def set_range(since: datetime, until: datetime) -> None:
            for label, when in (("From", since), ("To", until)):
                box = tab.get_by_label(label, exact=True)
                box.fill(typed(when))
                box.press("Enter")

        now = datetime.now(UTC)
        set_range(now - timedelta(minutes=5), now + timedelta(minutes=1))
        link = tab.locator("a.ts-range-export")
        link.wait_for(timeout=10000)
        assert "yard" in link.inner_text() and "JST" in link.inner_text()
        answer = tab.request.get(srv.base + link.get_attribute("href"))
        assert answer.status == 200 and answer.headers["content-type"] == "video/mp4" and len(answer.body()) > 1000

        set_range(now - timedelta(days=3), now - timedelta(days=2))  # nothing recorded then: said, no link
        tab.get_by_text("No recorded video of yard in that range").wait_for(timeout=10000)
        assert tab.locator("a.ts-range-export").count() == 0
    finally:
        stop_server(srv)


def test_delete_a_recording_in_the_page_and_through_the_api(tmp_path, page):  # noqa: F811
    srv = start_server(tmp_path, record_segment_seconds=1.0)
    try:
        cid = srv.request("POST", "/api/cameras", {"url": "sim://?seed=8&width=160&height=128"})[1]["id"]
        wait_for(lambda: srv.camera(cid)["status"] == "live", what="live")
        ids = []
        for _ in range(2):
            rec = srv.request("POST", "/api/recording/start", {"camera_id": cid})[1]
            wait_for(lambda r=rec: srv.request("GET", f"/api/recordings/{r['id']}")[1]["segments"] >= 1, timeout=30,
                     what="a segment")
            assert srv.request("DELETE", f"/api/recordings/{rec['id']}")[0] == 409  # still recording
            srv.request("POST", "/api/recording/stop", {"camera_id": cid})
            wait_for(lambda: not srv.runtime.recordings.active(), what="stopped")
            ids.append(rec["id"])
        first, second = ids
        folder = srv.runtime.recordings.resolve(srv.request("GET", f"/api/recordings/{first}")[1]["path"])
        assert folder.is_dir() and any(folder.iterdir())
        srv.runtime.auth.users.create("vera", "vera has a long password", "viewer")
        assert srv.request("DELETE", f"/api/recordings/{first}", as_user="vera")[0] == 403
        srv.request("PATCH", f"/api/recordings/{first}", {"protected": True})
        assert srv.request("DELETE", f"/api/recordings/{first}")[0] == 409  # protected
        srv.request("PATCH", f"/api/recordings/{first}", {"protected": False})
        assert srv.request("DELETE", f"/api/recordings/{first}")[0] == 204
        assert srv.request("GET", f"/api/recordings/{first}")[0] == 404 and not folder.exists()
        assert srv.request("DELETE", f"/api/recordings/{first}")[0] == 404

        login(page, srv)
        page.goto(srv.base + "/recordings")
        row = page.locator(".tabulator-row").first
        row.wait_for(timeout=20000)
        row.locator(".tabulator-cell").nth(2).click()
        page.get_by_role("button", name="Delete recording").click()
        again = page.get_by_role("button", name=f"Click again to delete recording {second}")
        again.wait_for(timeout=10000)
        assert srv.request("GET", f"/api/recordings/{second}")[0] == 200  # one click deletes nothing
        again.click()
        page.get_by_text(f"Recording {second} deleted").wait_for(timeout=10000)
        assert srv.request("GET", f"/api/recordings/{second}")[0] == 404
        assert srv.runtime.recordings.list(cid) == []
    finally:
        stop_server(srv)
