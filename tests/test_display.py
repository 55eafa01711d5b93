"""Display of thermal frames: palette tables, level/span (automatic and smoothed, or fixed), isotherms,
hottest/coldest markers, counts frames, and the per-camera settings API."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from tests.conftest import wait_for
from thermalstream.display import DisplaySettings, DisplayState, Isotherm
from thermalstream.frame import FFCState, Frame, Radiometry
from thermalstream.palettes import PALETTES, bokeh_palette, colourise, lut_bgr, table


def _frame(c: np.ndarray, ffc: FFCState = FFCState.IDLE) -> Frame:
    return Frame(image=np.zeros(c.shape, np.uint8), celsius=c.astype(np.float32), radiometry=Radiometry(ffc_state=ffc))


def test_palette_tables_are_one_registry():
    for name in PALETTES:
        t = table(name)
        assert t.shape == (256, 3) and t.dtype == np.uint8
        assert bokeh_palette(name)[255] == "#" + "".join(f"{int(v):02x}" for v in t[255])
        assert np.array_equal(lut_bgr(name)[:, 0, ::-1], t)
    iron = table("ironbow").astype(float)
    lum = iron @ [0.2126, 0.7152, 0.0722]
    assert np.all(np.diff(lum) >= -0.5) and lum[0] == 0 and lum[-1] == pytest.approx(255)  # dark to white, rising
    assert iron[60, 2] > iron[60, 0] > iron[60, 1]  # purples/blues low in the scale (OpenCV's HOT has none)
    grey = np.arange(256, dtype=np.uint8).reshape(16, 16)
    out = colourise(grey, "ironbow")
    assert np.array_equal(out.reshape(-1, 3)[:, ::-1], iron.astype(np.uint8))
    with pytest.raises(ValueError, match="unknown palette"):
        colourise(grey, "hot")


def test_fixed_span_maps_lo_and_hi_to_the_ends():
    c = np.tile(np.linspace(10, 30, 201, dtype=np.float32), (4, 1))
    state = DisplayState()
    img = state.render(_frame(c), DisplaySettings(span="fixed", lo=15, hi=25), "white-hot")
    assert img[0, 0] == 0 and img[0, 50] == 0 and img[0, 150] == 255 and img[0, 200] == 255
    assert abs(int(img[0, 100]) - 128) <= 1  # 20 °C is the middle
    assert state.scale == (15.0, 25.0, "°C")


def test_auto_span_is_robust_and_does_not_pump():
    rng = np.random.default_rng(1)
    scene = (20 + rng.normal(0, 0.2, (120, 160))).astype(np.float32)
    state, auto = DisplayState(), DisplaySettings()
    state.render(_frame(scene), auto, "white-hot")
    lo0, hi0, _ = state.scale
    assert 19 < lo0 < 20 < hi0 < 21
    hot = scene.copy()
    hot[40:80, 40:80] = 60  # a hot object covers 8 % of the frame
    state.render(_frame(hot), auto, "white-hot")
    assert state.scale[1] < 60 * 0.5  # one frame moves the span only a step towards the new 99th percentile
    for _ in range(40):
        state.render(_frame(hot), auto, "white-hot")
    assert state.scale[1] == pytest.approx(60, abs=1)  # then it settles there
    before = state.scale
    state.render(_frame(hot + 8, FFCState.IN_PROGRESS), auto, "white-hot")
    assert state.scale == before  # a flat-field correction does not move the span


def test_isotherm_and_markers():
    c = np.full((50, 60), 20, np.float32)
    c[10:20, 10:20] = 40
    c[30, 45] = 50
    c[5, 5] = 5
    state = DisplayState()
    iso = DisplaySettings(isotherm=Isotherm(mode="between", t1=35, t2=45, colour="#00ff00"), markers=True)
    img = state.render(_frame(c), iso, "white-hot")
    assert img.ndim == 3 and np.all(img[12:18, 12:18] == (0, 255, 0))  # painted BGR green
    assert not np.all(img[25, 30] == (0, 255, 0))
    assert tuple(img[30, 45]) == (0, 0, 255) and tuple(img[5, 5]) == (255, 128, 0)  # hottest red, coldest blue
    counts = Frame(image=np.zeros((50, 60), np.uint8), raw=np.full((50, 60), 3000, np.uint16),
                   radiometry=Radiometry(calibrated=False))
    state2 = DisplayState()
    state2.render(counts, DisplaySettings(span="fixed", lo=2900, hi=3100), "ironbow")
    assert state2.scale == (2900.0, 3100.0, "counts")


def test_settings_validation():
    for bad, word in [({"span": "fixed", "lo": 30, "hi": 20}, "hi greater than lo"),
                      ({"isotherm": {"mode": "between", "t1": 5}}, "t2"),
                      ({"isotherm": {"mode": "above", "t1": 5, "colour": "red"}}, "colour"),
                      ({"span": "sometimes"}, "span")]:
        with pytest.raises(ValidationError, match=word):
            DisplaySettings.model_validate(bad)


def test_display_api_roles_and_scale(server):
    for name, role in [("vera", "viewer"), ("otto", "operator")]:
        server.runtime.auth.users.create(name, f"{name} has a long password", role)
    status, cam = server.request("POST", "/api/cameras", {"url": "sim://?width=160&height=128&seed=2", "name": "yard"})
    cid = cam["id"]
    path = f"/api/cameras/{cid}/display"
    assert server.request("PATCH", path, {"span": "fixed", "lo": 10, "hi": 20}, as_user="vera")[0] == 403
    status, err = server.request("PATCH", path, {"span": "fixed", "lo": 20, "hi": 10}, as_user="otto")
    assert status == 400 and "hi greater than lo" in err["error"]
    status, body = server.request("PATCH", path, {"span": "fixed", "lo": 10, "hi": 20, "markers": True},
                                  as_user="otto")
    assert status == 200 and body["settings"]["span"] == "fixed" and body["settings"]["markers"] is True
    wait_for(lambda: server.camera(cid)["status"] == "live", what="live")
    ws = server.ws(f"/ws/video/{cid}", as_user="vera")
    try:
        ws.recv()
        scale = wait_for(lambda: server.request("GET", path, as_user="vera")[1]["scale"], what="scale")
    finally:
        ws.close()
    assert scale == {"lo": 10.0, "hi": 20.0, "unit": "°C"}
    assert server.request("GET", "/api/cameras/999/display", as_user="vera")[0] == 404
    saved = server.runtime.cameras.get(cid)["settings"]["display"]
    assert saved["lo"] == 10 and saved["span"] == "fixed"  # kept in the camera row
