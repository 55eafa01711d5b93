"""Nothing fails silently, seen in a real browser (Debian's Chromium through Playwright): the
detector's state and what to do, the connect toasts, "Forgot password" without mail, the
first-start hint's command, and quiet logs when live tabs close or cameras are stopped."""

from __future__ import annotations

import logging
import shlex
import subprocess
import time

import pytest

from tests.conftest import login, start_server, stop_server, wait_for
from tests.test_ui import page  # noqa: F401 - the Chromium page fixture

pytestmark = pytest.mark.ui

SIM = "sim://?people=1&seed=3&width=160&height=128&fps=10"


def toasts(page) -> list[str]:  # noqa: F811 - a page given, not the fixture
    return page.locator(".notyf__message").all_inner_texts()


def test_missing_weights_show_on_card_and_detections_page_with_what_to_do(tmp_path, page):  # noqa: F811
    srv = start_server(tmp_path, detector="yolo", model=tmp_path / "nowhere" / "mine.pt")
    try:
        status, cam = srv.request("POST", "/api/cameras", {"url": SIM, "name": "yard"})
        assert status == 201, cam
        wait_for(lambda: srv.runtime.detection.detector_status().state not in ("loading",), timeout=120,
                 what="the detector to give up loading")
        login(page, srv)
        page.goto(srv.base + "/")
        line = page.locator('.ts-detector[data-state="unavailable"]').first
        line.wait_for(timeout=30000)
        text = line.inner_text()
        assert str(tmp_path / "nowhere" / "mine.pt") in text
        assert "thermalstream models export" in text and "THERMALSTREAM_DETECTOR=hotspot" in text
        button = page.get_by_role("button", name="Detect off")
        button.wait_for(timeout=10000)
        button.click()
        # switched on, the button says it is on and that something is wrong; a toast says what
        page.get_by_role("button", name="⚠ Detect on").wait_for(timeout=10000)
        page.locator(".notyf__message", has_text="detector is unavailable").first.wait_for(timeout=10000)
        assert "finds nothing" in page.locator(".ts-detector").first.inner_text()

        page.goto(srv.base + "/detections")
        box = page.locator('.ts-detector[data-state="unavailable"]').first
        box.wait_for(timeout=30000)
        assert "thermalstream models export" in box.inner_text()
        assert page.errors == []
    finally:
        stop_server(srv)


def test_detect_button_looks_different_on_and_off_with_a_working_detector(server, page):  # noqa: F811
    status, cam = server.request("POST", "/api/cameras", {"url": SIM, "name": "yard"})
    assert status == 201, cam
    login(page, server)
    page.goto(server.base + "/")
    page.locator('.ts-detector[data-state="ready"]').first.wait_for(timeout=30000)
    off = page.get_by_role("button", name="Detect off")
    off.wait_for(timeout=10000)
    colour_off = off.evaluate("b => getComputedStyle(b).backgroundColor")
    off.click()
    on = page.get_by_role("button", name="Detect on", exact=True)
    on.wait_for(timeout=10000)
    wait_for(lambda: server.runtime.detection.enabled(cam["id"]), timeout=10, what="detection on")
    assert on.evaluate("b => getComputedStyle(b).backgroundColor") != colour_off
    assert "detection on for this camera" in page.locator(".ts-detector").first.inner_text()


def test_unreachable_camera_says_connecting_then_failed_never_connected(server, page):  # noqa: F811
    login(page, server)
    page.goto(server.base + "/")
    page.get_by_text("No cameras yet").wait_for(timeout=20000)
    page.get_by_placeholder("sim://?people=3", exact=False).fill("rtsp://nonexistent.invalid/x")
    page.get_by_role("button", name="Connect", exact=True).click()
    seen: list[str] = []
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and not any("Camera failed" in t for t in seen):
        seen += [t for t in toasts(page) if t not in seen]
        page.wait_for_timeout(100)
    assert seen and "Camera connecting" in seen[0], seen
    assert any("Camera failed" in t for t in seen), seen
    assert not any("Camera connected" in t for t in seen), seen


def test_working_camera_says_connected_only_once_live(server, page):  # noqa: F811
    login(page, server)
    page.goto(server.base + "/")
    page.get_by_text("No cameras yet").wait_for(timeout=20000)
    page.get_by_placeholder("sim://?people=3", exact=False).fill(SIM)
    page.get_by_role("button", name="Connect", exact=True).click()
    page.locator(".notyf__message", has_text="Camera connected").first.wait_for(timeout=30000)
    cam = server.runtime.cameras.list()[0]
    assert cam["status"] == "live"
    titles = [n["title"] for n in reversed(server.runtime.notifications.list(None, limit=20))]
    assert titles.index("Camera connecting") < titles.index("Camera connected")


def test_forgot_password_without_mail_is_honest_and_tells_the_admin(server, page):  # noqa: F811
    assert not server.runtime.auth.mailer.config.enabled  # the default: no SMTP host
    page.goto(server.base + "/forgot-password")
    page.fill("#who", "vera")
    page.click("button[type=submit]")
    msg = page.locator(".msg.info")
    msg.wait_for(timeout=10000)
    assert "cannot send email" in msg.inner_text() and "on its way" not in msg.inner_text()

    login(page, server)
    page.goto(server.base + "/users")
    page.locator(".ts-mail-off").get_by_text("Mail is not set up").wait_for(timeout=20000)
    admin = server.runtime.auth.users.get("admin")["id"]
    notes = server.runtime.notifications.list(admin, limit=10)
    assert any("mail is not set up" in n["title"] and "'vera'" in n["message"] for n in notes), notes


def test_first_start_hint_prints_a_command_that_works(tmp_path, capsys):
    srv = start_server(tmp_path, admin_password=None)
    try:
        out = capsys.readouterr().out
    finally:
        stop_server(srv)
    line = next(x for x in out.splitlines() if "reset-password admin" in x)
    command = shlex.split(line.split("Run:", 1)[1])
    assert command[-3:] == ["users", "reset-password", "admin"]
    done = subprocess.run([*command[:-2], "--help"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "reset-password" in done.stdout


def test_closing_live_tabs_and_stopped_cameras_log_nothing(server, page, caplog):  # noqa: F811
    live = server.request("POST", "/api/cameras", {"url": SIM, "name": "live one"})[1]
    stopped = server.request("POST", "/api/cameras", {"url": SIM.replace("seed=3", "seed=4"), "name": "stopped one"})[1]
    assert server.request("POST", f"/api/cameras/{stopped['id']}/disconnect")[0] == 200
    sockets: list[str] = []
    login(page, server)
    caplog.set_level(logging.INFO)
    context = page.context.browser.new_context(storage_state=page.context.storage_state())
    for _ in range(3):  # open a live tab, watch a while, close it
        tab = context.new_page()
        tab.on("websocket", lambda ws: sockets.append(ws.url))
        tab.goto(server.base + "/")
        canvas = tab.locator("canvas.ts-canvas:visible").first  # the stopped camera shows none
        canvas.wait_for(timeout=30000)
        wait_for(lambda: int(canvas.get_attribute("data-frames") or 0) > 3, timeout=30, what="frames on the live tab")
        tab.wait_for_timeout(4000)  # long enough for several retries at the old one-per-second pace
        tab.close()
        time.sleep(1.0)
    time.sleep(2.0)
    stopped_tries = [u for u in sockets if u.endswith(f"/ws/video/{stopped['id']}")]
    assert len([u for u in sockets if u.endswith(f"/ws/video/{live['id']}")]) >= 3
    assert stopped_tries == [], f"{len(stopped_tries)} connection attempts to a stopped camera"
    noisy = [r for r in caplog.records if r.levelno >= logging.WARNING
             and ("WebSocketClosedError" in r.getMessage() + str(r.exc_info)
                  or f"/ws/video/{stopped['id']}" in r.getMessage())]
    assert noisy == [], [r.getMessage() for r in noisy]


def test_live_cards_hold_their_buttons_and_stopped_cameras_are_no_black_boxes(server, page):  # noqa: F811
    live = server.request("POST", "/api/cameras", {"url": SIM, "name": "live one"})[1]
    stopped = server.request("POST", "/api/cameras", {"url": SIM.replace("seed=3", "seed=4"), "name": "stopped"})[1]
    assert server.request("POST", f"/api/cameras/{stopped['id']}/disconnect")[0] == 200
    page.set_viewport_size({"width": 1440, "height": 900})
    login(page, server)
    page.goto(server.base + "/")
    page.locator(".ts-stopped:visible").first.wait_for(timeout=30000)
    page.locator("canvas.ts-canvas:visible").first.wait_for(timeout=30000)
    page.wait_for_timeout(1500)  # layout settles
    assert page.locator(".ts-stopped:visible").count() == 1  # only the stopped camera says so
    cards = page.locator(".ts-camera")
    assert cards.count() == 2
    for i in range(2):
        card = cards.nth(i).bounding_box()
        for button in cards.nth(i).locator("button").all():
            box = button.bounding_box()
            if box is None or box["width"] == 0:
                continue  # hidden controls
            assert card["x"] - 1 <= box["x"] and box["x"] + box["width"] <= card["x"] + card["width"] + 1, (
                f"card {i}: button {button.inner_text()!r} at {box} outside the card {card}")
    canvases = [c for c in page.locator("canvas.ts-canvas").all() if c.is_visible()]
    assert len(canvases) == 1, "the stopped camera still shows a (black) picture"
    assert live["id"] != stopped["id"]
