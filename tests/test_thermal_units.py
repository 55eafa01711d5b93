"""Honest units and per-camera radiometry: counts are never °C, user calibration, object parameters
(emissivity, reflected/atmospheric temperature, humidity, distance) on FLIR and linear sources,
checked against flirpy as an independent reader; stored per camera on SQLite and PostgreSQL."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from tests.conftest import wait_for
from tests.samples import flirpy_samples
from tests.test_radiometric import file_url, write_cptv
from thermalstream.bus import EventBus
from thermalstream.cameras import CameraService, spot_temperature
from thermalstream.capture.manager import CameraManager
from thermalstream.db import repo
from thermalstream.frame import Frame, Radiometry
from thermalstream.notifications import NotificationService
from thermalstream.radiometry import (
    LWIR_B,
    Calibration,
    RadiometricSource,
    RadiometrySettings,
    apply,
    band_radiance,
    correct_linear,
    summary,
)
from thermalstream.sources.cptv_file import CPTVSource
from thermalstream.sources.flir import FlirSeqSource
from thermalstream.sources.planck import KELVIN
from thermalstream.sources.sim import SimSource
from thermalstream.sources.url import CameraURLError, parse_camera_url

COUNTS = [np.tile(np.arange(160, dtype=np.uint16) * 4 + 3000, (120, 1)),
          np.full((120, 160), 3500, np.uint16)]


@pytest.fixture(scope="module")
def samples():
    return flirpy_samples()


def counts_frame(tmp_path, n: int = 2) -> list[Frame]:
    path = tmp_path / "lepton3.cptv"
    write_cptv(path, COUNTS[:n], b"lepton3")
    src = CPTVSource(file_url(path))
    src.open()
    try:
        return list(src)
    finally:
        src.close()


# ---------------------------------------------------------------- calibration of counts


def test_linear_and_two_point_calibration_make_counts_celsius(tmp_path):
    raw = counts_frame(tmp_path)[0]
    assert raw.celsius is None and raw.temperature_unit == "counts"
    lin = apply(raw, RadiometrySettings(calibration=Calibration(a=0.02, b=-40.0)))
    assert lin.temperature_unit == "°C" and lin.radiometry.calibrated
    np.testing.assert_allclose(lin.celsius, raw.raw * 0.02 - 40.0, atol=1e-4)
    assert lin.radiometry.description == "user linear calibration a=0.02, b=-40"
    assert (lin.radiometry.unit_scale, lin.radiometry.unit_offset) == (0.02, -40.0)
    assert lin.radiometry.extra["source_unit"] == "counts"
    # two points: 3000 counts = 20 °C, 3500 counts = 30 °C -> a = 0.02, b = -40: the same law
    two = Calibration(points=[{"counts": 3000, "celsius": 20}, {"counts": 3500, "celsius": 30}])
    pts = apply(raw, RadiometrySettings(calibration=two))
    np.testing.assert_allclose(pts.celsius, lin.celsius, atol=1e-4)
    assert "two-point" in pts.radiometry.description and "a=0.02, b=-40" in pts.radiometry.description
    assert raw.celsius is None  # the source's frame is left alone


@pytest.mark.parametrize("body, message", [
    ({"a": 0.02}, "both a and b"),
    ({"a": 0.0, "b": 1.0}, "must not be 0"),
    ({"a": 1, "b": 2, "points": [{"counts": 1, "celsius": 1}, {"counts": 2, "celsius": 2}]}, "not both"),
    ({"points": [{"counts": 1, "celsius": 1}]}, "exactly two"),
    ({"points": [{"counts": 5, "celsius": 1}, {"counts": 5, "celsius": 2}]}, "different counts"),
    ({"points": [{"counts": 5, "celsius": 1}, {"counts": 6, "celsius": 1}]}, "different temperatures"),
    ({"points": [{"counts": 5, "celsius": -300}, {"counts": 6, "celsius": 1}]}, "greater than"),
    ({}, "either a and b"),
])
def test_bad_calibrations_are_refused_with_a_reason(body, message):
    with pytest.raises(ValidationError, match=message):
        Calibration.model_validate(body)


@pytest.mark.parametrize("field, value", [("emissivity", 0.005), ("emissivity", 1.01), ("humidity", 50.0),
                                          ("humidity", -0.1), ("distance_m", -1.0), ("reflected_c", -300.0),
                                          ("atmosphere_c", 150.0), ("emissivity", float("nan")), ("colour", 1)])
def test_object_parameters_are_bounded(field, value):
    with pytest.raises(ValidationError, match=field):
        RadiometrySettings.model_validate({field: value})


def test_counts_without_calibration_stay_counts_whatever_the_object_parameters(tmp_path):
    raw = counts_frame(tmp_path)[0]
    out = apply(raw, RadiometrySettings(emissivity=0.5))
    assert out.celsius is None and out.temperature_unit == "counts"


# ---------------------------------------------------------------- linear °C sources


def forward(t_obj, e, t_refl, tau=1.0, t_atm=20.0):
    """Apparent (black-body) temperature of an object seen through the model, independently of
    correct_linear: the same radiance balance solved the other way round."""
    w = tau * e * band_radiance(t_obj) + tau * (1 - e) * band_radiance(t_refl) + (1 - tau) * band_radiance(t_atm)
    return LWIR_B / np.log1p(1.0 / w) - KELVIN


def test_linear_correction_is_neutral_at_emissivity_one_and_inverts_the_radiance_balance():
    t = np.linspace(-20, 120, 50).astype(np.float32)
    np.testing.assert_array_equal(correct_linear(t), t)
    np.testing.assert_array_equal(correct_linear(t, reflected_c=80.0), t)  # ε = 1 reflects nothing
    for e, refl in [(0.95, 20.0), (0.7, -10.0), (0.3, 60.0)]:
        apparent = forward(t.astype(np.float64), e, refl).astype(np.float32)
        np.testing.assert_allclose(correct_linear(apparent, emissivity=e, reflected_c=refl), t, atol=2e-3)
    # a warm object of emissivity 0.9 in a 20 °C room looks cooler than it is: the correction raises it
    assert correct_linear(np.float32([36.0]), emissivity=0.9)[0] > 36.5
    # air in between: distance lowers the transmission, the correction grows with it
    near = correct_linear(np.float32([60.0]), distance_m=10.0)[0]
    far = correct_linear(np.float32([60.0]), distance_m=1000.0)[0]
    assert 60.0 < near < far


def test_large_frames_interpolate_the_correction_without_losing_accuracy():
    c = np.random.default_rng(0).uniform(-10, 60, (512, 640)).astype(np.float32)
    fast = correct_linear(c, emissivity=0.85, reflected_c=5.0, distance_m=20.0)
    exact = np.concatenate([correct_linear(row, emissivity=0.85, reflected_c=5.0, distance_m=20.0) for row in c])
    assert np.abs(fast - exact.reshape(c.shape)).max() < 1e-3


def test_sim_frames_get_the_camera_emissivity():
    src = SimSource("sim://?width=64&height=48&seed=3&pace=0")
    src.open()
    f = src.read()
    out = apply(f, RadiometrySettings(emissivity=0.8, reflected_c=10.0))
    np.testing.assert_allclose(out.celsius, correct_linear(f.celsius, emissivity=0.8, reflected_c=10.0))
    assert out.radiometry.unit_scale is None  # no longer raw * scale + offset
    assert "emissivity 0.8" in out.radiometry.description and "reflected 10 °C" in out.radiometry.description
    assert apply(f, RadiometrySettings()) is f


# ---------------------------------------------------------------- FLIR files, against flirpy


def _flirpy(path, **changes):
    from flirpy.io.fff import Fff

    fff = Fff(path.read_bytes())
    meta = {**fff.meta, **{k: float(v) for k, v in changes.items()}}
    return fff.get_radiometric_image(meta=meta)


@pytest.mark.parametrize("name", ["frame_000000.fff", "frame_000000_le.fff"])
@pytest.mark.parametrize("emissivity, reflected", [(0.7, 35.0), (0.5, -5.0)])
def test_flir_object_parameters_agree_with_flirpy(samples, name, emissivity, reflected):
    src = FlirSeqSource(file_url(samples[name]))
    src.open()
    f = src.read()
    settings = RadiometrySettings(emissivity=emissivity, reflected_c=reflected)
    ours = apply(f, settings).celsius
    theirs = _flirpy(samples[name], **{"Emissivity": emissivity, "Reflected Apparent Temperature": reflected})
    assert np.abs(ours - theirs).max() < 0.01
    assert np.abs(ours - f.celsius).max() > 1.0  # the parameters matter: the check can fail
    # every object parameter at once, including the atmosphere
    full = RadiometrySettings(emissivity=emissivity, reflected_c=reflected, atmosphere_c=5.0, humidity=0.8,
                              distance_m=30.0)
    theirs = _flirpy(samples[name], **{"Emissivity": emissivity, "Reflected Apparent Temperature": reflected,
                                       "Atmospheric Temperature": 5.0, "Relative Humidity": 0.8,
                                       "Object Distance": 30.0})
    assert np.abs(apply(f, full).celsius - theirs).max() < 0.01


def test_flir_defaults_are_the_files_own_values(samples):
    src = FlirSeqSource(file_url(samples["frame_000000.fff"]))
    src.open()
    f = src.read()
    assert f.radiometry.description == "FLIR Planck law, file object parameters"
    assert summary(f)["in_effect"]["emissivity"] == pytest.approx(0.94, abs=1e-3)
    # only emissivity changed: distance, humidity, reflected... stay the file's
    out = apply(f, RadiometrySettings(emissivity=0.9))
    law = out.radiometry.law
    assert law.emissivity == 0.9 and law.distance == pytest.approx(f.radiometry.law.distance)
    assert law.humidity == pytest.approx(f.radiometry.law.humidity)
    theirs = _flirpy(samples["frame_000000.fff"], Emissivity=0.9)
    assert np.abs(out.celsius - theirs).max() < 0.01


# ---------------------------------------------------------------- the camera wrapper and the service


def test_wrapped_source_applies_the_current_settings_on_every_frame(tmp_path):
    path = tmp_path / "l3.cptv"
    write_cptv(path, COUNTS, b"lepton3")
    current: dict = {"s": None}
    src = RadiometricSource(CPTVSource(file_url(path)), lambda: current["s"])
    src.open()
    assert src.read().temperature_unit == "counts"
    current["s"] = RadiometrySettings(calibration=Calibration(a=0.01, b=-10))
    second = src.read()
    assert second.temperature_unit == "°C" and float(second.celsius[0, 0]) == pytest.approx(25.0)
    src.close()


def test_spot_reading_has_its_unit(tmp_path):
    raw = counts_frame(tmp_path)[0]
    assert spot_temperature(raw, 2, 3) == (3008.0, "counts")
    cal = apply(raw, RadiometrySettings(calibration=Calibration(a=0.01, b=-10)))
    assert spot_temperature(cal, 2, 3) == (pytest.approx(20.08), "°C")
    assert spot_temperature(Frame(image=np.zeros((4, 4), np.uint8)), 1, 1) is None


def saved_camera(db, url: str) -> int:
    """A saved, disabled camera row (started with ``reconnect``, as after a server restart)."""
    with db.session() as s:
        return repo.add_camera(s, "cam", url, kind=parse_camera_url(url).kind, enabled=False).id


def test_settings_are_stored_per_camera_and_applied_after_a_restart(db, tmp_path):
    path = tmp_path / "l3.cptv"
    write_cptv(path, COUNTS * 20, b"lepton3")
    bus = EventBus()
    manager = CameraManager(bus)
    svc = CameraService(db, manager, NotificationService(db, bus))
    try:
        cid = saved_camera(db, f"{path}?loop=1&realtime=1")
        svc.reconnect(cid)
        wait_for(lambda: svc.get(cid)["temperature_unit"] == "counts", what="counts frames")
        t = svc.get(cid)["temperature"]
        assert t["unit"] == "counts" and t["min"] >= 3000
        info = svc.radiometry(cid)
        assert info["temperature_unit"] == "counts" and info["calibrated"] is False
        assert info["settings"]["calibration"] is None and info["in_effect"] is None
        svc.set_radiometry(cid, {"calibration": {"a": 0.01, "b": -10}, "emissivity": 0.95})
        wait_for(lambda: svc.get(cid)["temperature_unit"] == "°C", what="calibrated frames")
        info = svc.radiometry(cid)
        assert info["calibrated"] is True and info["source_unit"] == "counts"
        assert "user linear calibration a=0.01, b=-10" in info["description"] and "emissivity 0.95" in info["description"]
        # a reset field goes back to the source's value; the rest is kept
        svc.set_radiometry(cid, {"emissivity": None})
        info = svc.radiometry(cid)
        assert info["settings"]["emissivity"] is None
        wait_for(lambda: svc.radiometry(cid)["in_effect"]["emissivity"] == 1.0, what="neutral emissivity again")
        with pytest.raises(ValidationError, match="emissivity"):
            svc.set_radiometry(cid, {"emissivity": 2})
        assert svc.radiometry(cid)["settings"]["calibration"]["a"] == 0.01  # bad input lost nothing
        svc.disconnect(cid)
        svc.reconnect(cid)  # settings come back from the database
        wait_for(lambda: svc.get(cid)["temperature_unit"] == "°C", what="calibrated after reconnect")
        assert svc.radiometry(cid)["description"] == "user linear calibration a=0.01, b=-10"
    finally:
        manager.stop_all()


def test_a_celsius_camera_refuses_a_calibration(db):
    bus = EventBus()
    manager = CameraManager(bus)
    svc = CameraService(db, manager, NotificationService(db, bus))
    try:
        cid = saved_camera(db, "sim://?width=64&height=48&fps=10")
        svc.reconnect(cid)
        wait_for(lambda: svc.get(cid)["temperature_unit"] == "°C", what="sim frames")
        with pytest.raises(CameraURLError, match="gives °C"):
            svc.set_radiometry(cid, {"calibration": {"a": 1, "b": 0}})
        out = svc.set_radiometry(cid, {"emissivity": 0.9})
        assert out["settings"]["emissivity"] == 0.9
        wait_for(lambda: "emissivity 0.9" in svc.radiometry(cid)["description"], what="corrected frames")
        assert svc.radiometry(cid)["description"] == ("simulated scene, kelvin x 100; "
                                                      "radiance-domain correction: emissivity 0.9")
    finally:
        manager.stop_all()


def test_radiometry_unknown_on_a_picture_frame_is_none():
    f = Frame(image=np.zeros((4, 4), np.uint8), radiometry=Radiometry())
    assert f.temperature_unit is None and f.measurement() is None and not f.is_radiometric
    assert apply(f, RadiometrySettings(emissivity=0.5)) is f


def test_new_settings_start_a_new_segment_so_each_hdf5_file_has_one_law(tmp_path):
    from thermalstream.capture import Camera
    from thermalstream.record.radiometric import read_radiometric
    from thermalstream.record.recorder import Recorder
    from thermalstream.record.video import VideoOptions
    from thermalstream.sources import make_source

    current: dict = {"s": None}
    factory = lambda url: RadiometricSource(make_source(url), lambda: current["s"])  # noqa: E731
    with Camera("sim://?width=64&height=48&fps=30&seed=2", camera_id=1, bus=EventBus(),
                source_factory=factory) as cam:
        cam.read()
        rec = Recorder(cam, tmp_path / "r", segment_seconds=60.0, reserve_bytes=0,
                       video=VideoOptions(preset="ultrafast")).start()
        wait_for(lambda: rec.open_segment_frames >= 10, what="frames before the change")
        current["s"] = RadiometrySettings(emissivity=0.9)
        wait_for(lambda: len(rec.segments) >= 1 and rec.open_segment_frames >= 10, what="a segment after the change")
        res = rec.stop()
    first, second = (read_radiometric(s.radiometric_path) for s in res.segments[:2])
    assert first.meta["description"] == "simulated scene, kelvin x 100" and first.meta["celsius"] is None
    assert first.meta["unit_scale"] == 0.01  # K x 100: °C rebuilt from raw
    assert second.meta["description"].endswith("radiance-domain correction: emissivity 0.9")
    assert second.meta["unit_scale"] is None and second.meta["celsius"] is not None  # the corrected °C kept
    np.testing.assert_allclose(second.to_celsius()[0], correct_linear(second.data[0] * np.float32(0.01)
                                                                      - np.float32(273.15), emissivity=0.9), atol=0.02)
