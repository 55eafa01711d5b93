"""Exports from the pages in a real browser: a recording's °C data as NetCDF from the Recordings
page, and the filtered detections as CSV from the Detections page, each with a progress bar and a
download link that serves the file to this user."""

from __future__ import annotations

import io
import time

import pandas as pd
import pytest

from tests import conftest
from tests.test_ui_pages import page  # noqa: F401  (the Chromium page fixture)

pytestmark = pytest.mark.ui
SIM = "sim://?width=160&height=128&fps=10&seed=5"


def _download(page, base: str, link) -> bytes:  # noqa: F811
    href = link.get_attribute("href")
    resp = page.request.get(base + href)  # the browser's own cookies
    assert resp.status == 200, resp.text()
    return resp.body()


def test_export_recording_and_detections_from_the_pages(server, page):  # noqa: F811
    status, cam = server.request("POST", "/api/cameras", {"url": SIM, "name": "yard"})
    assert status == 201
    cid = cam["id"]
    conftest.wait_for(lambda: server.camera(cid)["status"] == "live", what="camera live")
    server.request("POST", "/api/recording/start", {"camera_id": cid})
    time.sleep(2)
    server.request("POST", "/api/recording/stop", {"camera_id": cid})
    from thermalstream.detect.types import Box, Detection

    store = server.runtime.detection.store
    eid = store.create_event(cid, "person", time.time())
    store.add(cid, [(time.time(), Detection("person", 0.8, Box(1, 2, 10, 20)), eid, None) for _ in range(7)])
    store.flush()
    conftest.login(page, server)

    page.goto(server.base + "/recordings")
    page.get_by_role("heading", name="Recordings").wait_for(timeout=20000)
    page.get_by_role("button", name="Export thermal data").click()
    page.get_by_text("Cannot export: select a recording first").wait_for(timeout=10000)
    page.locator(".tabulator-row").first.click()
    page.get_by_text("Download MP4").wait_for(timeout=10000)
    page.get_by_role("button", name="Export thermal data").click()
    link = page.get_by_role("link", name="Download radiometric_")
    link.wait_for(timeout=30000)
    data = _download(page, server.base, link)
    assert data[:4] == b"\x89HDF" and link.get_attribute("href").startswith("/api/exports/")

    page.goto(server.base + "/detections")
    page.get_by_role("heading", name="Detections").first.wait_for(timeout=20000)
    page.get_by_role("button", name="Download").click()
    link = page.get_by_role("link", name="Download detections_")
    link.wait_for(timeout=30000)
    df = pd.read_csv(io.BytesIO(_download(page, server.base, link)))
    assert len(df) == 7 and set(df["label"]) == {"person"}
    assert page.errors == []
