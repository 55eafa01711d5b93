"""A counts source (a real Lepton 3 clip: raw counts, no calibration) through the whole product:
the REST API, a recording (HDF5 beside the video), the exports (MP4 and radiometric NetCDF), the
notebook reader and the Live page in Chromium. Nowhere is a count called °C. Also the radiometry route's access rules."""

from __future__ import annotations

import io
import json
import shutil
import time

import av
import h5py
import numpy as np
import pytest

import thermalstream as ts
from tests.conftest import login, start_server, stop_server, wait_for
from tests.test_ui import page  # noqa: F401 - the Chromium fixture
from tests.thermal_clips import thermal_clips
from thermalstream.sources.cptv_file import CPTVSource
from thermalstream.sources.url import parse_camera_url

DEG = "°C"
# Visible text under an element, through Bokeh's shadow roots (inner_text stops at them).
DEEP_TEXT = """(root) => {
  const out = [];
  const walk = (n) => {
    if (n.nodeType === Node.TEXT_NODE) {
      const el = n.parentElement;
      if (el && el.checkVisibility() && n.textContent.trim()) out.push(n.textContent.trim());
      return;
    }
    if (n.shadowRoot) walk(n.shadowRoot);
    for (const c of n.childNodes) walk(c);
  };
  walk(root);
  return out.join(" | ");
}"""


@pytest.fixture
def clip():
    return thermal_clips()["possum"]


@pytest.fixture
def srv(tmp_path):
    s = start_server(tmp_path, record_segment_seconds=1.0)
    try:
        for name, role in [("vera", "viewer"), ("otto", "operator"), ("wim", "viewer"), ("olga", "operator")]:
            s.runtime.auth.users.create(name, f"{name} has a long password", role)
        yield s
    finally:
        stop_server(s)


def strings(value) -> list[str]:
    """Every string inside a JSON value (keys too), decoded (JSON escapes ° as \\u00b0)."""
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in [str(k), *strings(v)]]
    if isinstance(value, list):
        return [s for v in value for s in strings(v)]
    return [value] if isinstance(value, str) else []


def no_celsius(value) -> None:
    bad = [s for s in strings(value) if DEG in s]
    assert not bad, f"°C shown for a counts source: {bad}"


def connect_clip(srv, clip) -> int:
    media = srv.runtime.settings.data_dir / "media"  # file sources live in the server's media folder
    media.mkdir(parents=True, exist_ok=True)
    local = media / clip.name
    shutil.copyfile(clip, local)
    status, cam = srv.request("POST", "/api/cameras", {"url": f"{local}?loop=1&realtime=1", "name": "possum"})
    assert status == 201, cam
    wait_for(lambda: srv.camera(cam["id"])["temperature_unit"] == "counts", what="counts frames")
    return cam["id"]


def test_counts_source_api_recording_export_and_notebook_say_counts(srv, clip, tmp_path):
    cid = connect_clip(srv, clip)
    cam = srv.camera(cid)
    assert cam["temperature"]["unit"] == "counts" and 1500 < cam["temperature"]["min"] < cam["temperature"]["max"]
    no_celsius(cam)
    no_celsius(srv.request("GET", "/api/cameras")[1])
    status, spot = srv.request("GET", f"/api/cameras/{cid}/temperature?x=80&y=60")
    assert status == 200 and spot["unit"] == "counts" and spot["celsius"] is None and spot["value"] > 1500
    no_celsius(spot)
    status, rad = srv.request("GET", f"/api/cameras/{cid}/radiometry", as_user="vera")
    assert status == 200 and rad["temperature_unit"] == "counts" and rad["calibrated"] is False
    no_celsius(rad)

    # a recording: HDF5 holds the counts and says so; the export and the notebook reader agree
    status, rec = srv.request("POST", "/api/recording/start", {"camera_id": cid})
    assert status == 201, rec
    wait_for(lambda: srv.request("GET", f"/api/recordings/{rec['id']}")[1]["segments"] >= 2, timeout=30,
             what="two closed segments")
    status, done = srv.request("POST", "/api/recording/stop", {"camera_id": cid})
    assert status == 200 and done["frames"] > 5
    no_celsius(done)
    files = sorted((srv.runtime.settings.data_dir / "recordings").rglob("*.h5"))
    assert files
    src = CPTVSource(parse_camera_url(str(clip)))
    src.open()
    first_counts = {src.read().raw.tobytes() for _ in range(40)}
    src.close()
    for path in files:
        with h5py.File(path, "r") as f:
            assert "celsius" not in f and f["raw"].dtype == np.uint16
            attrs = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in f.attrs.items()}
            assert attrs["temperature_unit"] == "counts" and not attrs["calibrated"]
            assert np.isnan(attrs["unit_scale"]) and np.isnan(attrs["unit_offset"])
            no_celsius({k: str(v) for k, v in attrs.items()})
            if path == files[0]:
                assert f["raw"][0].tobytes() in first_counts  # the clip's own counts, untouched
    export = srv.open(f"/api/recordings/{rec['id']}/export.mp4", timeout=30).read()
    assert export[4:8] == b"ftyp"
    with av.open(io.BytesIO(export)) as mp4:  # its tags, not the compressed picture (any 2 bytes occur there)
        tags = {**mp4.metadata, **{k: v for s in mp4.streams for k, v in s.metadata.items()}}
        assert mp4.streams.video and tags
    no_celsius(tags)

    # the radiometric export (NetCDF, for other tools): counts with unit "1", nothing called °C
    status, job = srv.request("POST", "/api/exports", {"kind": "radiometric", "format": "netcdf",
                                                        "recording_id": rec["id"]})
    assert status == 202, job
    wait_for(lambda: srv.request("GET", f"/api/exports/{job['id']}")[1]["status"] in ("done", "failed"),
             timeout=60, what="export")
    done = srv.request("GET", f"/api/exports/{job['id']}")[1]
    assert done["status"] == "done", done
    no_celsius(done)
    nc = tmp_path / "counts.nc"
    nc.write_bytes(srv.open(done["download_url"], timeout=30).read())
    import xarray

    with xarray.open_dataset(nc) as ds:
        for var in [ds, *ds.variables.values()]:
            no_celsius({k: str(v) for k, v in var.attrs.items()})
            assert var.attrs.get("units") != "degree_Celsius"
        values = [v for v in ds.data_vars.values() if v.dims == ("time", "y", "x")]
        assert values and values[0].attrs["units"] == "1" and float(values[0].max()) > 1500

    data = ts.open_recording(rec["id"], data_dir=srv.runtime.settings.data_dir)
    assert data.unit == "counts" and data[0].temperature_unit == "counts" and data[0].celsius is None
    xr = data.to_xarray()
    no_celsius({k: str(v) for k, v in xr.attrs.items()})
    assert xr.attrs["units"] == "1"


def test_calibrating_a_counts_camera_through_the_api(srv, clip):
    cid = connect_clip(srv, clip)
    path = f"/api/cameras/{cid}/radiometry"
    body = {"calibration": {"points": [{"counts": 2000, "celsius": 10}, {"counts": 2500, "celsius": 30}]}}
    status, out = srv.request("PATCH", path, body, as_user="otto")
    assert status == 200, out
    assert out["settings"]["calibration"]["points"][1]["counts"] == 2500
    wait_for(lambda: srv.camera(cid)["temperature_unit"] == DEG, what="calibrated frames")
    status, rad = srv.request("GET", path)
    assert rad["calibrated"] is True and rad["source_unit"] == "counts"
    assert rad["description"].startswith("user two-point calibration 2000 counts = 10 °C")
    status, spot = srv.request("GET", f"/api/cameras/{cid}/temperature?x=80&y=60")
    frame = srv.runtime.manager.get(cid).latest()
    assert spot["unit"] == DEG and frame.radiometry.unit_scale == pytest.approx(0.04)
    assert 10 - 40 < spot["celsius"] < 30 + 40
    raw = frame.raw.astype(np.float64)
    np.testing.assert_allclose(frame.celsius, raw * 0.04 - 70.0, atol=1e-3)


def test_radiometry_route_access_and_validation(srv, clip):
    cid = connect_clip(srv, clip)
    path = f"/api/cameras/{cid}/radiometry"
    # viewers read, only operators change
    assert srv.request("GET", path, as_user="vera")[0] == 200
    assert srv.request("PATCH", path, {"emissivity": 0.9}, as_user="vera")[0] == 403
    assert srv.request("PATCH", path, {"emissivity": 0.9}, as_user=None)[0] == 401
    # bad values: 400 naming the field, and nothing is lost
    assert srv.request("PATCH", path, {"emissivity": 0.95}, as_user="otto")[0] == 200
    for bad, word in [({"emissivity": 0}, "emissivity"), ({"emissivity": "high"}, "emissivity"),
                      ({"humidity": 45}, "humidity"), ({"distance_m": -2}, "distance_m"),
                      ({"reflected_c": -500}, "reflected_c"), ({"colour": 1}, "colour"),
                      ({"calibration": {"a": 1}}, "both a and b"), ({"emissivity": True}, "emissivity"),
                      ({"calibration": {"a": 1e308, "b": 0}}, "calibration.a"),
                      ({"calibration": {"points": [{"counts": 5, "celsius": 1}, {"counts": 5, "celsius": 9}]}},
                       "different counts")]:
        status, err = srv.request("PATCH", path, bad, as_user="otto")
        assert status == 400 and word in err["error"], (bad, err)
    assert srv.request("GET", path)[1]["settings"]["emissivity"] == 0.95
    assert srv.request("PATCH", path, [1, 2], as_user="otto")[0] == 400
    # a °C camera takes object parameters but no calibration
    sim = srv.request("POST", "/api/cameras", {"url": "sim://?width=64&height=48&fps=10"})[1]["id"]
    wait_for(lambda: srv.camera(sim)["temperature_unit"] == DEG, what="sim frames")
    status, err = srv.request("PATCH", f"/api/cameras/{sim}/radiometry", {"calibration": {"a": 1, "b": 0}})
    assert status == 400 and "gives °C" in err["error"]
    # a camera shared with vera only is unknown to others, as an id that does not exist
    srv.runtime.cameras.share(cid, user_id=srv.runtime.auth.users.get("vera")["id"])
    assert srv.request("GET", path, as_user="wim")[0] == 404
    assert srv.request("PATCH", path, {"emissivity": 0.5}, as_user="olga")[0] == 404
    assert srv.runtime.cameras.radiometry(cid)["settings"]["emissivity"] == 0.95
    assert srv.request("GET", "/api/cameras/9999/radiometry")[0] == 404
    assert srv.request("GET", path, as_user="vera")[0] == 200
    doc = srv.request("GET", "/api/openapi.json")[1]
    assert set(doc["paths"]["/api/cameras/{cid}/radiometry"]) >= {"get", "patch"}


@pytest.mark.ui
def test_live_page_shows_counts_not_degrees(tmp_path, clip, page):  # noqa: F811 - fixture
    srv = start_server(tmp_path)
    try:
        cid = connect_clip(srv, clip)
        login(page, srv)
        page.goto(srv.base + "/")
        card = page.locator(".ts-camera").first
        page.locator('.ts-badge[data-status="live"]').wait_for(timeout=20000)
        wait_for(lambda: "counts" in card.locator(".ts-fps").inner_text(), timeout=20, what="counts in the badge")
        page.locator('.ts-rad-unit[data-unit="counts"]').wait_for(timeout=20000)
        canvas = card.locator("canvas.ts-canvas")
        hud = card.locator(".ts-hud")
        spots = iter([{"x": 100 + i % 40, "y": 80 + i % 30} for i in range(1000)])

        def pointed() -> bool:  # keep moving: the page answers pointer moves, and its layout may still settle
            canvas.hover(position=next(spots))
            page.wait_for_timeout(200)
            return "counts @" in hud.inner_text()

        wait_for(pointed, timeout=30, what="spot readout in counts")
        time.sleep(1.5)  # a few refreshes of the badge and the unit line
        text = card.evaluate(DEEP_TEXT)
        assert "counts" in text and "possum" in text and DEG not in text, text
        assert DEG not in hud.inner_text()
        # the operator calibrates it on the page: from then on it is °C and says how
        card.get_by_role("button", name="Radiometry").click()
        card.get_by_label("Calibration a (°C per count)").fill("0.04")
        card.get_by_label("Calibration b (°C)").fill("-70")
        card.get_by_role("button", name="Save radiometry").click()
        page.locator('.ts-rad-unit[data-unit="°C"]').wait_for(timeout=20000)
        assert "user linear calibration a=0.04, b=-70" in card.locator(".ts-rad-unit").inner_text()
        wait_for(lambda: srv.camera(cid)["temperature_unit"] == DEG, what="calibrated")
        # a bad value is refused on the page with the reason, and the saved calibration stays
        card.get_by_label("Emissivity (0.01–1)").fill("0")
        card.get_by_role("button", name="Save radiometry").click()
        page.locator(".ts-rad-msg[role=alert]").wait_for(timeout=10000)
        assert "emissivity" in page.locator(".ts-rad-msg").inner_text()
        assert srv.runtime.cameras.radiometry(cid)["settings"]["calibration"]["a"] == 0.04
        assert page.errors == []
    finally:
        stop_server(srv)


def test_strings_helper_finds_escaped_degrees():
    assert strings(json.loads('{"a": ["x \\u00b0C"]}')) == ["a", "x °C"]
    with pytest.raises(AssertionError):
        no_celsius({"t": "20 °C"})


def test_detections_table_shows_the_hottest_value_with_its_unit():
    from app.views.detections import hottest

    assert hottest({"max_celsius": None, "max_counts": 2412.4}) == "2412 counts"
    assert hottest({"max_celsius": 31.25, "max_counts": None}) == "31.2 °C"
    assert hottest({"max_celsius": None, "max_counts": None}) == ""
