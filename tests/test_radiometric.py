"""Radiometric sources: FLIR SEQ/FFF parser and Planck law, CPTV, Lepton Y16, Topdon TC001."""

from __future__ import annotations

import struct
import time
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from cptv import CPTVWriter
from cptv.frame import Frame as CptvFrame

from tests.samples import exiftool_dump, flirpy_samples
from thermalstream.frame import FFCState
from thermalstream.sources import make_source
from thermalstream.sources.base import CorruptData, SourceClosed, SourceError
from thermalstream.sources.cptv_file import CPTVSource, ffc_state
from thermalstream.sources.fff import FffFormatError, parse_fff
from thermalstream.sources.flir import FlirSeqSource
from thermalstream.sources.lepton import LeptonSource, decode_telemetry, decode_y16
from thermalstream.sources.planck import PlanckParams, atmospheric_transmission, planck_raw, raw_to_celsius
from thermalstream.sources.topdon import TopdonSource, decode_tc001
from thermalstream.sources.url import CameraURL


@pytest.fixture(scope="module")
def samples() -> dict[str, Path]:
    return flirpy_samples()


def file_url(path: Path, **params: str) -> CameraURL:
    kind = "cptv" if path.suffix == ".cptv" else "flir"
    return CameraURL(str(path), kind, path=path, params=dict(params))


def read_all(src) -> list:
    frames = []
    while True:
        try:
            frames.append(src.read())
        except SourceClosed:
            return frames


def cut(src: Path, tmp_path: Path, n: int, name: str | None = None) -> Path:
    out = tmp_path / (name or f"cut_{n}{src.suffix}")
    out.write_bytes(src.read_bytes()[:n])
    return out


# ---------------------------------------------------------------- FLIR: parser vs ExifTool / flirpy


def test_planck_constants_match_exiftool_dump(samples):
    rec = parse_fff(samples["frame_000000.fff"].read_bytes())
    meta = exiftool_dump(samples["frame_000000.txt"])
    p, cam = rec.camera.planck, rec.camera

    def num(key: str) -> float:
        return float(meta[key].split()[0])

    assert (p.r1, p.r2, p.b, p.f, p.o) == (num("Planck R1"), num("Planck R2"), num("Planck B"),
                                           num("Planck F"), num("Planck O"))  # fmt: skip
    assert (p.r1, p.b, p.o) == (364058, 1428, -228)
    assert p.emissivity == pytest.approx(num("Emissivity"), abs=5e-3)
    assert p.distance == pytest.approx(num("Object Distance"))
    assert p.reflected_c == pytest.approx(num("Reflected Apparent Temperature"), abs=0.05)
    assert p.atmosphere_c == pytest.approx(num("Atmospheric Temperature"), abs=0.05)
    assert p.window_c == pytest.approx(num("IR Window Temperature"), abs=0.05)
    assert p.window_transmission == pytest.approx(num("IR Window Transmission"))
    assert p.humidity * 100 == pytest.approx(num("Relative Humidity"), abs=0.05)
    keys = ("Alpha 1", "Alpha 2", "Beta 1", "Beta 2", "X")
    assert p.atmosphere == pytest.approx([num(f"Atmospheric Trans {k}") for k in keys], abs=1e-6)
    assert rec.raw.shape == (int(meta["Raw Thermal Image Height"]), int(meta["Raw Thermal Image Width"]))
    assert cam.model == meta["Camera Model"] and cam.serial == meta["Camera Serial Number"]
    assert cam.frame_rate == num("Frame Rate")
    assert cam.captured_at.isoformat(timespec="milliseconds") == "2018-11-05T12:14:43.084+01:00"


@pytest.mark.parametrize("name", ["frame_000000.fff", "frame_000000_le.fff"])
def test_celsius_matches_flirpy(samples, name):
    from flirpy.io.fff import Fff
    from flirpy.util.raw import raw2temp

    data = samples[name].read_bytes()
    rec = parse_fff(data)
    ours = raw_to_celsius(rec.raw, rec.camera.planck)
    theirs = Fff(data)
    np.testing.assert_array_equal(rec.raw, theirs.get_image())
    # flirpy's whole pipeline (its reader converts K with 273.14, hence ~1.5 mK)
    assert np.abs(ours - theirs.get_radiometric_image()).max() < 5e-3
    # flirpy's Planck law fed with our parsed parameters: identical up to float32 rounding
    p = rec.camera.planck
    meta = {"Planck R1": p.r1, "Planck R2": p.r2, "Planck B": p.b, "Planck F": p.f, "Planck O": p.o,
            "Emissivity": p.emissivity, "Object Distance": p.distance, "Relative Humidity": p.humidity,
            "Reflected Apparent Temperature": p.reflected_c, "Atmospheric Temperature": p.atmosphere_c,
            "IR Window Temperature": p.window_c, "IR Window Transmission": p.window_transmission}  # fmt: skip
    for key, value in zip(("Alpha 1", "Alpha 2", "Beta 1", "Beta 2", "X"), p.atmosphere, strict=True):
        meta[f"Atmospheric Trans {key}"] = value
    assert np.abs(ours - raw2temp(rec.raw, meta)).max() < 1e-4


def test_little_endian_fff_range(samples):
    rec = parse_fff(samples["frame_000000_le.fff"].read_bytes())
    c = raw_to_celsius(rec.raw, rec.camera.planck)
    assert rec.creator == "ResearchIR" and rec.raw.shape == (240, 320)
    assert round(float(c.min()), 1) == 22.9 and round(float(c.max()), 1) == 29.5


def _to_big_endian(data: bytes) -> bytes:
    """Rewrite frame_000000_le.fff's raw-data record in big-endian byte order."""
    buf = bytearray(data)
    dir_off, count = struct.unpack_from("<II", buf, 0x18)
    for i in range(count):
        t, sub, _v, _i, off, length = struct.unpack_from("<HHIIII", buf, dir_off + 32 * i)
        if t == 1:
            struct.pack_into("<H", buf, dir_off + 32 * i + 2, 1)  # subtype 1 = big-endian
            w, h = struct.unpack_from("<HH", buf, off + 2)
            struct.pack_into(">HHH", buf, off, 2, w, h)
            px = np.frombuffer(bytes(buf[off + 32 : off + 32 + w * h * 2]), "<u2")
            buf[off + 32 : off + 32 + w * h * 2] = px.astype(">u2").tobytes()
    return bytes(buf)


def test_big_endian_raw_data(samples):
    data = samples["frame_000000_le.fff"].read_bytes()
    le, be = parse_fff(data), parse_fff(_to_big_endian(data))
    np.testing.assert_array_equal(le.raw, be.raw)
    assert be.raw.dtype == np.uint16 and be.raw.dtype.isnative


# ---------------------------------------------------------------- Planck law (independent of flirpy)

SYNTH = PlanckParams(r1=364058.0, r2=1.0, b=1428.0, f=1.0, o=-228.0)


def test_planck_round_trip_blackbody():
    temps = np.array([-20.0, 0.0, 20.0, 36.6, 100.0])
    raw = np.array([planck_raw(t, SYNTH) for t in temps])
    np.testing.assert_allclose(raw_to_celsius(raw, SYNTH), temps, atol=1e-3)


def test_planck_emissivity_reflection_and_atmosphere():
    p = replace(SYNTH, emissivity=0.9, reflected_c=5.0, atmosphere_c=15.0, distance=30.0,
                humidity=0.6, atmosphere=(0.006569, 0.01262, -0.002276, -0.00667, 1.9))  # fmt: skip
    tau2 = atmospheric_transmission(p, 15.0) ** 2  # two half-paths
    assert 0.5 < tau2 < 1.0
    obj = 37.0
    signal = tau2 * (0.9 * planck_raw(obj, p) + 0.1 * planck_raw(5.0, p)) + (1 - tau2) * planck_raw(15.0, p)
    assert raw_to_celsius(np.array([signal]), p)[0] == pytest.approx(obj, abs=1e-3)
    # ignoring emissivity would read a cooler object
    assert raw_to_celsius(np.array([signal]), replace(p, emissivity=1.0))[0] < obj - 1


def test_raw_to_celsius_rejects_bad_parameters():
    with pytest.raises(ValueError, match="emissivity"):
        raw_to_celsius(np.array([3000]), replace(SYNTH, emissivity=0.0))


# ---------------------------------------------------------------- FLIR source


def test_seq_has_seven_frames_matching_flirpy(samples):
    from flirpy.io.seq import Seq

    src = FlirSeqSource(file_url(samples["test.seq"]))
    info = src.open()
    assert (info.kind, info.width, info.height, info.fps, info.live) == ("flir-seq", 640, 512, 30.0, False)
    assert info.radiometric and src.frame_count == 7
    frames = read_all(src)
    assert len(frames) == 7
    theirs = Seq(str(samples["test.seq"]))
    for i, fr in enumerate(frames):
        assert fr.celsius.dtype == np.float32 and fr.raw.dtype == np.uint16 and fr.image.dtype == np.uint8
        assert fr.radiometry.calibrated and "Duo Pro R" in fr.radiometry.sensor
        assert fr.radiometry.extra["frame_index"] == i
        np.testing.assert_array_equal(fr.raw, theirs[i].get_image())
        assert np.abs(fr.celsius - theirs[i].get_radiometric_image()).max() < 5e-3
    lo = min(float(f.celsius.min()) for f in frames)
    hi = max(float(f.celsius.max()) for f in frames)
    assert round(lo, 1) == 9.4 and round(hi, 1) == 12.6
    with pytest.raises(SourceClosed):
        src.read()
    src.close()
    with pytest.raises(SourceClosed):
        src.read()


def test_single_fff_file_and_make_source(samples):
    src = make_source(str(samples["frame_000000_le.fff"]))
    assert isinstance(src, FlirSeqSource)
    with src:
        frames = read_all(src)
    assert len(frames) == 1 and frames[0].shape == (240, 320)
    assert frames[0].temperature_at(0, 0) == pytest.approx(float(frames[0].celsius[0, 0]))


def test_seq_loop_and_overrides(samples):
    src = FlirSeqSource(file_url(samples["test.seq"], loop="1", emissivity="1.0"))
    src.open()
    idx = [src.read().radiometry.extra["frame_index"] for _ in range(9)]
    assert idx == [0, 1, 2, 3, 4, 5, 6, 0, 1]
    src.close()
    plain = FlirSeqSource(file_url(samples["test.seq"]))
    plain.open()
    f_plain = plain.read()
    plain.close()
    src.open()
    f_e1 = src.read()
    assert f_e1.radiometry.extra["emissivity"] == 1.0
    # the ~11 °C scene reflects 20 °C surroundings: without that correction it reads warmer
    assert float(f_e1.celsius.mean()) > float(f_plain.celsius.mean()) + 0.3
    src.close()


def test_seq_realtime_pacing(samples):
    src = FlirSeqSource(file_url(samples["test.seq"], realtime="1", fps="20"))
    src.open()
    t0 = time.monotonic()
    for _ in range(4):
        src.read()
    assert time.monotonic() - t0 >= 3 / 20 - 0.01
    src.close()


def test_truncated_seq_names_file_and_frame(samples, tmp_path):
    seq = samples["test.seq"]
    frame_len = 658564  # every frame of test.seq has the same size
    path = cut(seq, tmp_path, 3 * frame_len + 1000)
    src = FlirSeqSource(file_url(path))
    src.open()
    assert len([src.read() for _ in range(3)]) == 3
    with pytest.raises(CorruptData, match=rf"{path.name}.*frame 3.*truncated"):
        src.read()
    with pytest.raises(SourceClosed):
        src.read()


@pytest.mark.parametrize("n", [0, 10, 63, 64, 200, 500, 3000, 100_000, 658_000, 658_563])
def test_truncated_fff_raises_corrupt_data(samples, tmp_path, n):
    path = cut(samples["frame_000000.fff"], tmp_path, n)
    with pytest.raises(CorruptData, match=rf"{path.name}: frame 0: "):
        FlirSeqSource(file_url(path)).open()


def test_fff_cut_everywhere_never_leaks_low_level_errors(samples, tmp_path):
    data = samples["frame_000000_le.fff"].read_bytes()
    for n in list(range(0, 400, 7)) + list(range(2700, 2800, 5)) + [len(data) - 1]:
        with pytest.raises(FffFormatError):
            parse_fff(data[:n])


def test_random_corruption_gives_clean_errors(samples, tmp_path):
    data = samples["frame_000000_le.fff"].read_bytes()  # header, directory, camera info: bytes 0..2780
    rng = np.random.default_rng(3)
    path = tmp_path / "fuzz.fff"
    outcomes = set()
    for _ in range(300):
        buf = bytearray(data)
        for pos in rng.integers(0, 2800, 3):
            buf[pos] = int(rng.integers(0, 256))
        path.write_bytes(bytes(buf))
        src = FlirSeqSource(file_url(path))
        try:
            src.open()
            assert np.isfinite(src.read().celsius).all()
            outcomes.add("ok")
        except SourceError as exc:  # CorruptData, never IndexError/struct.error/...
            assert path.name in str(exc)
            outcomes.add(type(exc).__name__)
        finally:
            src.close()
    assert outcomes >= {"ok", "CorruptData"}


@pytest.mark.parametrize(("field", "value"), [(0x28, 1e-30), (0x28, 1e30), (0x5C, float("nan")), (0x20, 0.0)])
def test_implausible_camera_info_is_corrupt_data(samples, tmp_path, field, value):
    buf = bytearray(samples["frame_000000_le.fff"].read_bytes())
    struct.pack_into("<f", buf, 320 + field, value)  # camera info record starts at byte 320
    path = tmp_path / "bad_params.fff"
    path.write_bytes(bytes(buf))
    with pytest.raises(CorruptData, match=r"bad_params\.fff: frame 0: implausible"):
        FlirSeqSource(file_url(path)).open()


def test_garbage_after_frames(samples, tmp_path):
    path = tmp_path / "junk.seq"
    path.write_bytes(samples["frame_000000.fff"].read_bytes() + b"not an FFF record" * 10)
    src = FlirSeqSource(file_url(path))
    src.open()
    src.read()
    with pytest.raises(CorruptData, match=r"junk\.seq: frame 1: no FFF header"):
        src.read()


def test_missing_flir_file(tmp_path):
    with pytest.raises(SourceError, match="cannot open"):
        FlirSeqSource(file_url(tmp_path / "nope.seq")).open()


# ---------------------------------------------------------------- CPTV


def write_cptv(path: Path, pix: list[np.ndarray], model: bytes | None, background: bool = False,
               ffc_at: float = 55.0) -> None:  # fmt: skip
    """Write a real CPTV file with the cptv package's own writer (160x120)."""
    w = CPTVWriter(open(path, "wb"))  # noqa: SIM115 - CPTVWriter.close() closes it
    w.model, w.fps = model, 9
    if background:
        w.background_frame = CptvFrame(pix[0], timedelta(0), timedelta(0), 0.0, 0.0, True)
    w.write_header()
    for i, p in enumerate(pix):
        t_on = timedelta(seconds=60 + i)
        w.write_frame(CptvFrame(p, t_on, timedelta(seconds=ffc_at), 31.5, 30.0))
    w.close()


def kelvin100(celsius: np.ndarray) -> np.ndarray:
    return np.round((celsius + 273.15) * 100).astype(np.uint16)


@pytest.fixture
def lepton35_frames() -> list[np.ndarray]:
    rng = np.random.default_rng(1)
    return [kelvin100(rng.uniform(-5, 40, (120, 160))) for _ in range(12)]


def test_cptv_round_trip_lepton35(tmp_path, lepton35_frames):
    path = tmp_path / "clip.cptv"
    write_cptv(path, lepton35_frames, b"lepton3.5", background=True)
    src = make_source(str(path))
    assert isinstance(src, CPTVSource)
    info = src.open()
    assert (info.kind, info.width, info.height, info.fps, info.live) == ("cptv", 160, 120, 9.0, False)
    frames = read_all(src)
    assert len(frames) == 12  # the background frame is not emitted
    for fr, pix in zip(frames, lepton35_frames, strict=True):
        np.testing.assert_array_equal(fr.raw, pix)
        np.testing.assert_allclose(fr.celsius, pix / 100 - 273.15, atol=1e-3)
        assert fr.radiometry.calibrated and fr.radiometry.sensor == "FLIR Lepton 3.5"
        assert fr.radiometry.extra["fpa_temp_c"] == pytest.approx(31.5)
    states = [f.radiometry.ffc_state for f in frames]
    # FFC at 55 s, frames from 60 s: the first five are within the 10 s settling time
    assert states[:5] == [FFCState.DONE] * 5 and states[5:] == [FFCState.IDLE] * 7
    src.close()


def test_cptv_lepton3_raw_counts_are_uncalibrated(tmp_path):
    pix = [np.full((120, 160), 3000, np.uint16), np.full((120, 160), 3100, np.uint16)]
    for model in (b"lepton3", None):
        path = tmp_path / f"old_{model}.cptv"
        write_cptv(path, pix, model)
        src = CPTVSource(file_url(path))
        src.open()
        a, b = read_all(src)
        assert not a.radiometry.calibrated and a.radiometry.sensor == "FLIR Lepton 3"
        # counts, never °C: no celsius array, the unit says so, the counts are the file's own
        assert a.celsius is None and b.celsius is None
        assert a.temperature_unit == "counts" and a.is_radiometric
        assert a.radiometry.unit_scale is None and a.radiometry.unit_offset is None
        np.testing.assert_array_equal(a.raw, pix[0])
        assert b.measurement().mean() - a.measurement().mean() == pytest.approx(100.0)
        assert a.measurement().dtype == np.float32 and a.value_at(3, 4) == 3000.0
        with pytest.raises(ValueError, match="counts"):
            a.temperature_at(0, 0)


def test_cptv_without_model_but_kelvin_values_is_calibrated(tmp_path, lepton35_frames):
    path = tmp_path / "nomodel.cptv"
    write_cptv(path, lepton35_frames[:2], None)
    src = CPTVSource(file_url(path))
    src.open()
    assert src.read().radiometry.calibrated


def test_cptv_loop(tmp_path, lepton35_frames):
    path = tmp_path / "loop.cptv"
    write_cptv(path, lepton35_frames[:3], b"lepton3.5", background=True)
    src = CPTVSource(file_url(path, loop="1"))
    src.open()
    idx = [src.read().radiometry.extra["frame_index"] for _ in range(7)]
    assert idx == [0, 1, 2, 0, 1, 2, 0]


def test_cptv_truncated_raises_corrupt_data(tmp_path, lepton35_frames):
    path = tmp_path / "full.cptv"
    write_cptv(path, lepton35_frames, b"lepton3.5")
    size = path.stat().st_size
    for n in (0, 20, 60, 200, size // 3, size // 2, size - 9, size - 1):
        short = cut(path, tmp_path, n, name=f"short_{n}.cptv")
        src = CPTVSource(file_url(short))
        with pytest.raises(CorruptData, match=rf"short_{n}\.cptv.*(frame \d+|not a readable CPTV)"):
            src.open()
            read_all(src)
        src.close()


def test_cptv_ffc_state():
    assert ffc_state(None, None) == (FFCState.UNKNOWN, None)
    assert ffc_state(timedelta(seconds=100), timedelta(seconds=95)) == (FFCState.DONE, 5.0)
    assert ffc_state(timedelta(seconds=100), timedelta(seconds=50)) == (FFCState.IDLE, 50.0)


# ---------------------------------------------------------------- Lepton Y16


def lepton_scene(rows: int = 120, cols: int = 160) -> np.ndarray:
    yy, xx = np.mgrid[0:rows, 0:cols]
    return (15.0 + 0.1 * xx + 0.05 * yy).astype(np.float64)


def test_decode_y16_known_temperatures():
    scene = lepton_scene()
    buf = kelvin100(scene)
    for form in (buf, buf.view(np.uint8).reshape(120, 320), buf.tobytes(), buf.view(np.uint8).reshape(1, -1)):
        raw, c = decode_y16(form)
        assert raw.shape == (120, 160) and c.dtype == np.float32
        np.testing.assert_allclose(c, scene, atol=0.006)


def test_decode_y16_strips_telemetry_and_reads_ffc():
    scene = kelvin100(lepton_scene())
    tele = np.zeros((2, 160), np.uint16)
    tele[0, 3] = 3 << 4  # status: FFC complete
    tele[0, 20] = 1234
    tele[0, 24] = 30715  # FPA 34.0 °C
    raw, c = decode_y16(np.vstack([scene, tele]))
    np.testing.assert_array_equal(raw, scene)
    t = decode_telemetry(tele)
    assert (t.ffc_state, t.frame_counter) == (FFCState.DONE, 1234)
    assert t.fpa_temp_c == pytest.approx(34.0)
    fr = LeptonSource(CameraURL("lepton://0", "lepton", device=0)).decode(np.vstack([scene, tele]))
    assert fr.shape == (120, 160) and fr.radiometry.ffc_state == FFCState.DONE


def test_decode_y16_lepton2_and_bad_sizes():
    raw, _ = decode_y16(np.zeros((63, 80), np.uint16) + 29315)
    assert raw.shape == (60, 80)
    with pytest.raises(ValueError, match="unexpected"):
        decode_y16(np.zeros(1000, np.uint8))
    with pytest.raises(ValueError):
        decode_y16(np.zeros((121, 160), np.uint16))


# ---------------------------------------------------------------- Topdon TC001


def tc001_buffer(celsius: np.ndarray) -> np.ndarray:
    """A (384, 256, 2) uint8 frame as OpenCV gives it with CONVERT_RGB=0."""
    raw = np.round((celsius + 273.15) * 64).astype("<u2")
    agc = np.random.default_rng(2).integers(0, 256, (192, 256, 2), dtype=np.uint8)
    return np.concatenate([agc, raw.view(np.uint8).reshape(192, 256, 2)])


def test_decode_tc001_known_temperatures():
    yy, xx = np.mgrid[0:192, 0:256]
    scene = -10 + 0.2 * xx + 0.1 * yy
    scene[100, 50] = 450.0  # a hot spot near the top of the range
    buf = tc001_buffer(scene)
    for form in (buf, buf.reshape(1, -1), buf.reshape(-1), buf.tobytes()):
        raw, c = decode_tc001(form)
        assert raw.shape == (192, 256) and c.dtype == np.float32
        np.testing.assert_allclose(c, scene, atol=1 / 128 + 1e-4)
    fr = TopdonSource(CameraURL("tc001://0", "topdon", device=0)).decode(buf)
    assert fr.temperature_at(50, 100) == pytest.approx(450.0, abs=0.01)


def test_decode_tc001_rejects_wrong_layouts():
    with pytest.raises(ValueError, match="BGR"):
        decode_tc001(np.zeros((384, 256, 3), np.uint8))
    with pytest.raises(ValueError, match="size"):
        decode_tc001(np.zeros((192, 256, 2), np.uint8))


# ---------------------------------------------------------------- missing devices


@pytest.mark.parametrize(
    ("cls", "url"),
    [
        (LeptonSource, CameraURL("lepton:///dev/video987", "lepton", device="/dev/video987")),
        (TopdonSource, CameraURL("tc001://987", "topdon", device=987)),
    ],
)  # fmt: skip
def test_missing_device_fails_fast(cls, url):
    t0 = time.monotonic()
    with pytest.raises(SourceError, match=r"cannot open /dev/video987: no such device"):
        cls(url).open()
    assert time.monotonic() - t0 < 2
