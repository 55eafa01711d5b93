"""The colour bar beside the live view in Chromium: drawn with °C labels from the automatic span,
and a fixed span set in the card's Display form shows on the bar and in the saved settings."""

from __future__ import annotations

import pytest

from tests import conftest
from tests.test_ui_pages import page  # noqa: F401  (the Chromium page fixture)

pytestmark = pytest.mark.ui


def test_colour_bar_and_fixed_span(server, page):  # noqa: F811
    status, cam = server.request("POST", "/api/cameras", {"url": "sim://?width=160&height=128&seed=4", "name": "yard"})
    assert status == 201
    conftest.login(page, server)
    page.goto(server.base + "/")
    bar = page.locator(".ts-bar")
    bar.wait_for(state="visible", timeout=30000)
    labels = bar.locator("span")
    conftest.wait_for(lambda: "°C" in labels.nth(0).inner_text(), timeout=20, what="°C labels on the bar")
    hi, lo = float(labels.nth(0).inner_text().split()[0]), float(labels.nth(2).inner_text().split()[0])
    assert -20 < lo < hi < 80  # the simulated scene's automatic span, in °C
    # the bar's canvas is painted with the palette (not blank): its top and bottom differ
    colours = bar.locator("canvas").evaluate("""(c) => { const x = c.getContext('2d'); const h = c.height;
        return [Array.from(x.getImageData(0, 0, 1, 1).data), Array.from(x.getImageData(0, h - 1, 1, 1).data)]; }""")
    assert colours[0] != colours[1]

    page.get_by_role("button", name="Display").click()
    page.get_by_role("button", name="Fixed span").click()
    page.get_by_label("Low").fill("12")
    page.get_by_label("High").fill("34")
    page.get_by_label("High").press("Tab")
    page.get_by_role("button", name="Save display").click()
    page.locator(".ts-display-saved").wait_for(timeout=10000)
    conftest.wait_for(lambda: labels.nth(0).inner_text().startswith("34.0"), timeout=20, what="fixed span on the bar")
    assert labels.nth(2).inner_text().startswith("12.0")
    saved = server.runtime.display.get(cam["id"])
    assert (saved.span, saved.lo, saved.hi) == ("fixed", 12.0, 34.0)
    assert page.errors == []
