"""The Schedules and Storage pages in a real browser (Debian's Chromium through Playwright)."""

from __future__ import annotations

import pytest

from tests import conftest
from tests.test_ui import ARGS, CHROMIUM

pytestmark = pytest.mark.ui


@pytest.fixture
def page():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        pg = browser.new_page(viewport={"width": 1280, "height": 1000}, timezone_id="Europe/Berlin")
        errors: list[str] = []
        pg.on("pageerror", lambda e: errors.append(str(e)))
        pg.errors = errors
        yield pg
        browser.close()


def test_create_schedule_in_the_form_then_storage_charts_render(server, page):
    status, cam = server.request("POST", "/api/cameras", {"url": "sim://?width=160&height=128", "name": "yard"})
    assert status == 201
    login = getattr(conftest, "login", None)
    if login is not None:  # once pages need an account
        login(page, server)

    page.goto(server.base + "/schedules")
    page.get_by_role("heading", name="Schedules").wait_for(timeout=20000)
    page.get_by_text("times of windows shown in Europe/Berlin").wait_for(timeout=20000)
    page.get_by_placeholder("e.g. Night watch").fill("Night watch")
    times = page.get_by_placeholder("HH:MM")
    times.nth(0).fill("25:00")
    times.nth(0).press("Tab")
    page.get_by_role("button", name="Create schedule").click()
    page.get_by_text("invalid start_time '25:00'", exact=False).wait_for(timeout=10000)
    assert server.runtime.schedules.list() == []

    times.nth(0).fill("21:15")
    times.nth(0).press("Tab")
    times.nth(1).fill("23:45")
    times.nth(1).press("Tab")
    page.get_by_label("sat").check()
    page.get_by_role("button", name="Create schedule").click()
    row = page.locator(".tabulator-row", has_text="Night watch")
    row.wait_for(timeout=10000)
    assert "yard" in row.inner_text() and "Europe/Berlin" in row.inner_text()
    [s] = server.runtime.schedules.list()
    assert s["name"] == "Night watch" and s["camera_id"] == cam["id"]
    assert s["start_time"] == "21:15" and s["stop_time"] == "23:45"
    assert s["days_of_week"] == ["mon", "tue", "wed", "thu", "fri", "sat"]
    assert s["timezone"] == "Europe/Berlin"  # the browser's zone was the default

    page.goto(server.base + "/storage")
    page.get_by_role("heading", name="Storage").wait_for(timeout=20000)
    page.get_by_text("Retention policy in force").wait_for(timeout=20000)
    page.get_by_text("not known yet (it needs two storage samples").wait_for(timeout=20000)  # growth, no samples
    page.locator(".bk-Canvas canvas, canvas").first.wait_for(timeout=20000)
    for _ in range(50):
        if page.locator("canvas").count() >= 3:
            break
        page.wait_for_timeout(200)
    assert page.locator("canvas").count() >= 3  # two bar charts and the usage-over-time chart
    page.get_by_role("button", name="Preview cleanup (dry run)").click()
    page.get_by_text("Dry run: nothing would be deleted now.").wait_for(timeout=10000)
    assert page.errors == []
