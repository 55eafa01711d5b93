"""The dashboard in a real browser: Debian's Chromium driven by Playwright."""

from __future__ import annotations

import shutil

import pytest

from tests.conftest import login, start_server, stop_server, wait_for

pytestmark = pytest.mark.ui

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture
def page():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        pg = browser.new_page(viewport={"width": 1280, "height": 900})
        errors: list[str] = []
        pg.on("pageerror", lambda e: errors.append(str(e)))
        pg.errors = errors
        yield pg
        browser.close()


CANVAS_SIGNATURE = """(c) => {
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  let h = 0, lit = 0;
  for (let i = 0; i < d.length; i += 97) { h = (h * 31 + d[i]) >>> 0; if (d[i] > 0) lit++; }
  return [h, lit, Number(c.dataset.frames)];
}"""


def test_connect_sim_camera_paints_live_canvas(server, page):
    login(page, server)
    page.goto(server.base + "/")
    page.get_by_text("No cameras yet").wait_for(timeout=20000)
    url_box = page.get_by_placeholder("sim://?people=3", exact=False)
    url_box.fill("sim://?people=2&seed=11&width=320&height=256")
    page.get_by_role("button", name="Connect").click()

    badge = page.locator(".ts-badge").first
    badge.wait_for(timeout=20000)
    page.locator('.ts-badge[data-status="live"]').wait_for(timeout=20000)
    assert badge.inner_text() == "live"

    canvas = page.locator("canvas.ts-canvas").first
    first = canvas.evaluate(CANVAS_SIGNATURE)
    for _ in range(100):
        page.wait_for_timeout(200)
        later = canvas.evaluate(CANVAS_SIGNATURE)
        if later[2] > first[2] + 10 and later[0] != first[0]:
            break
    assert later[1] > 100, "canvas is blank"
    assert later[2] > first[2] + 10, f"canvas drew too few frames: {first[2]} -> {later[2]}"
    assert later[0] != first[0], "canvas pixels do not change"
    # pointing at the picture shows the spot temperature
    canvas.hover(position={"x": 100, "y": 100})
    hud = page.locator(".ts-hud").first
    page.wait_for_timeout(300)
    canvas.hover(position={"x": 120, "y": 110})
    for _ in range(50):
        if "°C" in hud.inner_text():
            break
        page.wait_for_timeout(200)
    assert "°C @" in hud.inner_text()
    assert page.errors == []

    # the connect raised a notification toast and the camera is saved
    cams = server.runtime.cameras.list()
    assert len(cams) == 1 and cams[0]["status"] == "live"


def test_bad_url_shows_error_in_page(server, page):
    login(page, server)
    page.goto(server.base + "/")
    page.get_by_text("No cameras yet").wait_for(timeout=20000)
    page.get_by_placeholder("sim://?people=3", exact=False).fill("ftp://nowhere/x")
    page.get_by_role("button", name="Connect").click()
    page.get_by_text("unsupported scheme", exact=False).wait_for(timeout=10000)
    assert server.runtime.cameras.list() == []


def test_navigation_reaches_every_page(server, page):
    from app.views.shell import PAGES

    login(page, server)
    for key, label, href in PAGES:
        page.goto(server.base + href)
        page.get_by_role("heading", name=label, level=2).wait_for(timeout=20000)
    assert page.errors == []


def test_camera_view_msg_transport_paints(page):
    """The notebook transport (_send_msg from Python) drives the same canvas."""
    import panel as pn

    import thermalstream as ts
    from app.views.camera_view import CameraView
    from tests.conftest import free_port, listening, wait_for

    cam = ts.open_camera("sim://?seed=5&width=320&height=256")
    port = free_port()
    server = pn.serve({"/": lambda: CameraView(camera=cam, width=320)}, port=port, address="127.0.0.1",
                      show=False, threaded=True, verbose=False, websocket_origin=[f"127.0.0.1:{port}"])
    try:
        wait_for(lambda: listening(port), timeout=30, what="the Panel server to listen")  # it binds in its thread
        page.goto(f"http://127.0.0.1:{port}/")
        canvas = page.locator("canvas.ts-canvas")
        canvas.wait_for(timeout=20000)
        first = canvas.evaluate(CANVAS_SIGNATURE)
        for _ in range(100):
            page.wait_for_timeout(200)
            later = canvas.evaluate(CANVAS_SIGNATURE)
            if later[2] > first[2] + 10:
                break
        assert later[2] > first[2] + 10 and later[0] != first[0] and later[1] > 100
    finally:
        server.stop()
        cam.stop()


def test_record_from_live_page_then_play_in_recordings(tmp_path, page):
    srv = start_server(tmp_path, record_segment_seconds=1.0)
    try:
        status, cam = srv.request("POST", "/api/cameras", {"url": "sim://?seed=3&width=320&height=256"})
        assert status == 201
        login(page, srv)
        page.goto(srv.base + "/")
        page.locator('.ts-badge[data-status="live"]').wait_for(timeout=20000)
        page.get_by_role("button", name="● Record").click()
        page.locator('.ts-badge[data-rec="1"]').wait_for(timeout=10000)
        wait_for(lambda: srv.runtime.recordings.active() and srv.runtime.recordings.active()[0]["segments"] >= 1,
                 timeout=30, what="a closed segment")
        page.get_by_role("button", name="■ Stop").click()
        wait_for(lambda: not srv.runtime.recordings.active(), what="recording stopped")

        page.goto(srv.base + "/recordings")
        page.get_by_role("heading", name="Recordings").wait_for(timeout=20000)
        row = page.locator(".tabulator-row").first
        row.wait_for(timeout=20000)
        row.locator(".tabulator-cell").nth(2).click()
        page.get_by_text("Download MP4").wait_for(timeout=10000)
        video = page.locator("video.ts-player")
        state = None
        for _ in range(100):
            state = video.evaluate("v => [v.readyState, v.duration, v.error && v.error.message]")
            if state[0] >= 1 and state[1] > 0.5:
                break
            page.wait_for_timeout(200)
        assert state[0] >= 1 and state[1] > 0.5, f"video did not load: {state}"
        assert video.evaluate("v => v.videoWidth") == 320
        assert page.errors == []
    finally:
        stop_server(srv)


def test_playback_draws_detections_from_the_database(tmp_path, page):
    """Recordings stay clean; boxes are drawn over the video at playback from detection rows."""
    srv = start_server(tmp_path, record_segment_seconds=2.0, hotspot_threshold_c=26.0)
    try:
        status, cam = srv.request("POST", "/api/cameras",
                                  {"url": "sim://?people=1&vehicle=0&animal=0&seed=10&width=320&height=256"})
        cid = cam["id"]
        wait_for(lambda: srv.camera(cid)["status"] == "live", what="live")
        srv.request("PATCH", f"/api/cameras/{cid}/detection", {"enabled": True})
        wait_for(lambda: srv.request("GET", f"/api/detections?camera={cid}")[1]["total"] > 0, timeout=30,
                 what="detections")
        rec = srv.request("POST", "/api/recording/start", {"camera_id": cid})[1]
        wait_for(lambda: srv.request("GET", f"/api/recordings/{rec['id']}")[1]["segments"] >= 2, timeout=30,
                 what="two segments")
        srv.request("POST", "/api/recording/stop", {"camera_id": cid})

        login(page, srv)
        page.goto(srv.base + "/recordings")
        row = page.locator(".tabulator-row").first
        row.wait_for(timeout=20000)
        row.locator(".tabulator-cell").nth(2).click()
        page.get_by_text("Download MP4").wait_for(timeout=10000)
        video = page.locator("video.ts-player")
        overlay = page.locator("canvas.ts-player-overlay")
        for _ in range(50):
            if video.evaluate("v => v.readyState") >= 2:
                break
            page.wait_for_timeout(200)
        video.evaluate("v => v.play()")
        boxes = 0
        for _ in range(60):
            boxes = max(boxes, int(overlay.evaluate("c => Number(c.dataset.boxes || 0)")))
            if boxes:
                break
            page.wait_for_timeout(100)
        assert boxes > 0, "no detection drawn over the playing recording"
        assert page.locator(".bk-Canvas, canvas").count() >= 2  # the detection timeline under the player
        assert page.errors == []
    finally:
        stop_server(srv)


def test_viewer_sees_no_operator_controls_and_no_admin_pages(server, page):
    server.runtime.auth.users.create("vera", "vera has a long password", "viewer")
    status, cam = server.request("POST", "/api/cameras", {"url": "sim://?width=160&height=128"})
    login(page, server, "vera", "vera has a long password")
    page.goto(server.base + "/")
    page.locator('.ts-badge[data-status="live"]').wait_for(timeout=20000)
    assert not page.get_by_role("button", name="Connect", exact=True).is_visible()  # no connect form
    assert not page.get_by_role("button", name="Remove", exact=True).is_visible()
    assert page.get_by_role("button", name="● Record", exact=True).is_disabled()
    assert page.locator('nav a[data-page="users"]').count() == 0
    page.goto(server.base + "/users")
    page.get_by_text("This page needs the admin role").wait_for(timeout=20000)


def test_draw_a_zone_on_the_live_view(server, page):
    status, cam = server.request("POST", "/api/cameras", {"url": "sim://?width=320&height=256&seed=2"})
    cid = cam["id"]
    login(page, server)
    page.goto(server.base + "/")
    page.locator('.ts-badge[data-status="live"]').wait_for(timeout=20000)
    page.get_by_role("button", name="Zones", exact=True).click()
    canvas = page.locator("canvas.ts-canvas").first
    page.wait_for_timeout(500)
    for x, y in [(40, 40), (200, 40), (200, 150), (40, 150)]:
        canvas.click(position={"x": x, "y": y})
        page.wait_for_timeout(150)
    page.get_by_placeholder("name, e.g. door").fill("door")
    page.get_by_role("button", name="Save shape").click()
    got = wait_for(lambda: server.request("GET", f"/api/cameras/{cid}/zones")[1]["zones"], what="saved zone")
    assert got[0]["name"] == "door" and len(got[0]["points"]) == 4
    xs = [p[0] for p in got[0]["points"]]
    assert 0 <= min(xs) < max(xs) <= 1
    assert page.errors == []
