"""Every asset is served by ThermalStream itself: a page load asks nothing of any other host
(offline lab networks), seen in a real browser (Debian's Chromium through Playwright)."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from tests.conftest import login
from tests.test_ui import page  # noqa: F401 - the Chromium page fixture

pytestmark = pytest.mark.ui


def test_no_page_loads_anything_from_outside_the_server(server, page):  # noqa: F811
    from app.views.shell import PAGES

    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.on("websocket", lambda ws: requests.append(ws.url))
    login(page, server)
    for _key, label, href in PAGES:
        page.goto(server.base + href)
        page.get_by_role("heading", name=label, level=2).wait_for(timeout=20000)
        page.wait_for_load_state("networkidle")
    for path in ("/api/docs", "/change-password", "/logout", "/login", "/forgot-password"):
        page.goto(server.base + path)
        page.wait_for_load_state("networkidle")
    assert len(requests) > 20
    outside = sorted({u for u in requests
                      if urlsplit(u).scheme not in ("blob", "data") and urlsplit(u).hostname != "127.0.0.1"})
    assert outside == [], f"requests outside 127.0.0.1: {outside}"
