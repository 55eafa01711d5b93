"""FLIR radiometric JPEG (R-JPEG) and CSQ files.

Public samples: ExifTool's own FLIR test image (a real FLIR i7 R-JPEG whose thermal image ExifTool
shrank to an 8x8 placeholder), shipped with ExifTool's dump of it inside flirpy's source package;
it checks the container and every camera parameter against ExifTool. No public CSQ file and no
public R-JPEG with its full thermal image were found in packages' source distributions, so the
temperatures are checked on files built here from flirpy's real FFF records (frame_000000.fff,
test.seq): the raw counts put in APP1 pieces (R-JPEG) or JPEG-LS compressed (CSQ), then read back
and compared with flirpy reading the original records.
"""

from __future__ import annotations

import re
import struct

import cv2
import imagecodecs
import numpy as np
import pytest

from tests.samples import flirpy_samples
from tests.test_radiometric import file_url
from thermalstream.radiometry import RadiometrySettings, apply
from thermalstream.sources import CorruptData, SourceError, make_source
from thermalstream.sources.fff import (
    ENTRY_SIZE,
    REC_RAW,
    _header,
    index_fff_stream,
    parse_fff,
    read_directory,
)
from thermalstream.sources.flir import FlirSeqSource
from thermalstream.sources.flir_containers import ContainerError, fff_from_jpeg, is_flir_jpeg
from thermalstream.sources.url import parse_camera_url


@pytest.fixture(scope="module")
def samples():
    return flirpy_samples()


def exiftool_out(path) -> dict[str, str]:
    """``[Group...] id - Name: value`` lines of an ExifTool test dump -> {Name: value}."""
    out = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        m = re.match(r"\[[^\]]*\] \S+ - ([^:]+): (.*)$", line)
        if m:
            out.setdefault(m.group(1).strip(), m.group(2).strip())
    return out


def build_rjpeg(fff: bytes, piece: int = 60000, order=None) -> bytes:
    """A FLIR radiometric JPEG: a small visible picture with ``fff`` in FLIR APP1 pieces."""
    visible = cv2.imencode(".jpg", np.full((16, 16, 3), 90, np.uint8))[1].tobytes()
    chunks = [fff[i : i + piece] for i in range(0, len(fff), piece)]
    last = len(chunks) - 1
    idx = order if order is not None else range(len(chunks))
    segs = b"".join(b"\xff\xe1" + (10 + len(chunks[i])).to_bytes(2, "big") + b"FLIR\x00\x01" + bytes([i, last])
                    + chunks[i] for i in idx)  # fmt: skip
    return visible[:2] + segs + visible[2:]


def jpegls_record(rec: bytes) -> bytes:
    """The same FFF record with its raw image JPEG-LS compressed, as CSQ files store it: the new
    raw-data record is appended and its directory entry points at it."""
    order, dir_off, count = _header(rec)
    entries, _ = read_directory(rec)
    raw_e = next(e for e in entries if e.type == REC_RAW)
    pixels = parse_fff(rec).raw
    new_raw = rec[raw_e.offset : raw_e.offset + 0x20] + imagecodecs.jpegls_encode(pixels)
    out = bytearray(rec)
    out[raw_e.offset + 0x20 : raw_e.offset + raw_e.length] = bytes(raw_e.length - 0x20)  # old pixels gone
    for i in range(count):
        at = dir_off + i * ENTRY_SIZE
        if struct.unpack_from(order + "H", out, at)[0] == REC_RAW:
            struct.pack_into(order + "II", out, at + 12, len(rec), len(new_raw))
    return bytes(out) + new_raw


def build_csq(seq: bytes) -> bytes:
    import io

    frames, err = index_fff_stream(io.BytesIO(seq), len(seq))
    assert err is None and len(frames) == 7
    return b"".join(jpegls_record(seq[o : o + n]) for o, n in frames)


# ---------------------------------------------------------------- R-JPEG


def test_exiftool_flir_jpeg_parameters_match_exiftool(samples):
    data = samples["FLIR.jpg"].read_bytes()
    assert is_flir_jpeg(samples["FLIR.jpg"])
    fff = fff_from_jpeg(data)
    assert fff.startswith(b"FFF\x00")
    meta = exiftool_out(samples["FLIR_2.out"])
    entries, _ = read_directory(fff)
    raw_e = next(e for e in entries if e.type == REC_RAW)
    w, h = struct.unpack_from("<HH", fff, raw_e.offset + 2)
    assert (w, h) == (int(meta["Raw Thermal Image Width"]), int(meta["Raw Thermal Image Height"])) == (120, 120)
    from thermalstream.sources.fff import REC_CAMERA, parse_camera_info

    cam_e = next(e for e in entries if e.type == REC_CAMERA)
    cam = parse_camera_info(fff[cam_e.offset : cam_e.offset + cam_e.length])
    p = cam.planck

    def num(key: str) -> float:
        return float(meta[key].split()[0])

    assert p.r1 == pytest.approx(num("Planck R1"), rel=1e-6) and p.r2 == pytest.approx(num("Planck R2"), rel=1e-6)
    assert p.b == pytest.approx(num("Planck B")) and p.f == pytest.approx(num("Planck F"))
    assert p.o == num("Planck O") and p.emissivity == pytest.approx(num("Emissivity"), abs=5e-3)
    assert p.distance == pytest.approx(num("Object Distance"), abs=5e-3)
    assert p.reflected_c == pytest.approx(num("Reflected Apparent Temperature"), abs=0.05)
    assert p.atmosphere_c == pytest.approx(num("Atmospheric Temperature"), abs=0.05)
    assert p.humidity * 100 == pytest.approx(num("Relative Humidity"), abs=0.05)
    keys = ("Alpha 1", "Alpha 2", "Beta 1", "Beta 2", "X")
    assert p.atmosphere == pytest.approx([num(f"Atmospheric Trans {k}") for k in keys], abs=1e-6)
    assert cam.model == meta["Camera Model"] == "FLIR_i7" and cam.serial == meta["Camera Serial Number"]
    assert cam.frame_rate == num("Frame Rate")
    assert cam.captured_at.isoformat(timespec="milliseconds") == "2012-02-11T14:17:08.253+01:00"
    # ExifTool replaced the 120x120 thermal image by an 8x8 picture: opening it says so clearly
    src = make_source(parse_camera_url(str(samples["FLIR.jpg"])))
    assert isinstance(src, FlirSeqSource)
    with pytest.raises(CorruptData, match="raw PNG image could not be decoded as 120x120"):
        src.open()


def test_rjpeg_from_a_real_fff_record_agrees_with_flirpy(samples, tmp_path):
    from flirpy.io.fff import Fff

    fff = samples["frame_000000.fff"].read_bytes()
    path = tmp_path / "IR_0001.jpg"
    path.write_bytes(build_rjpeg(fff))  # 640x512x2 bytes: 11 APP1 pieces
    src = make_source(parse_camera_url(str(path)))
    assert isinstance(src, FlirSeqSource)
    info = src.open()
    assert (info.width, info.height) == (640, 512) and "1 frames" in info.description
    f = src.read()
    with pytest.raises(SourceError):
        src.read()
    theirs = Fff(fff)
    np.testing.assert_array_equal(f.raw, theirs.get_image())
    assert np.abs(f.celsius - theirs.get_radiometric_image()).max() < 0.01
    # the file's own object parameters are the defaults; the camera's override them
    out = apply(f, RadiometrySettings(emissivity=0.6, reflected_c=40.0))
    meta = {**theirs.meta, "Emissivity": 0.6, "Reflected Apparent Temperature": 40.0}
    assert np.abs(out.celsius - theirs.get_radiometric_image(meta=meta)).max() < 0.01
    # pieces out of order in the file are put back in order
    path.write_bytes(build_rjpeg(fff, order=[3, 0, 1, 2, 4, 5, 6, 7, 8, 9, 10]))
    again = FlirSeqSource(file_url(path))
    again.open()
    np.testing.assert_array_equal(again.read().raw, f.raw)


def test_plain_jpeg_is_refused_as_a_picture(tmp_path):
    path = tmp_path / "photo.jpg"
    cv2.imwrite(str(path), np.full((16, 16, 3), 50, np.uint8))
    assert not is_flir_jpeg(path)
    with pytest.raises(ContainerError, match="plain picture"):
        fff_from_jpeg(path.read_bytes())
    src = make_source(parse_camera_url(str(path)))
    with pytest.raises(CorruptData, match="photo.jpg: a JPEG without FLIR radiometric data"):
        src.open()


@pytest.mark.parametrize("damage, message", [
    (lambda fff: build_rjpeg(fff, order=[0, 1, 3, 4, 5, 6, 7, 8, 9, 10]), r"segment\(s\) \[2\] of 11 missing"),
    (lambda fff: build_rjpeg(fff, order=[0, 1, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]), "appears twice"),
    (lambda fff: build_rjpeg(fff)[:70000], "runs past the end"),
    (lambda fff: b"\xff\xd8\x00\x00" + fff, "no segment marker"),
])
def test_broken_rjpeg_gives_a_clear_error(samples, tmp_path, damage, message):
    path = tmp_path / "broken.jpg"
    path.write_bytes(damage(samples["frame_000000.fff"].read_bytes()))
    with pytest.raises(ContainerError, match=message):
        fff_from_jpeg(path.read_bytes())
    src = FlirSeqSource(file_url(path))
    with pytest.raises(CorruptData, match="broken.jpg"):
        src.open()


# ---------------------------------------------------------------- CSQ


def test_csq_jpegls_frames_agree_with_flirpy(samples, tmp_path):
    from flirpy.io.fff import Fff

    seq = samples["test.seq"].read_bytes()
    path = tmp_path / "clip.csq"
    path.write_bytes(build_csq(seq))
    assert path.read_bytes().count(b"SPIFF") == 7  # every frame's image is JPEG-LS (CharLS's SPIFF header)
    src = make_source(parse_camera_url(str(path)))
    assert isinstance(src, FlirSeqSource)
    src.open()
    assert src.frame_count == 7
    plain = FlirSeqSource(file_url(samples["test.seq"]))
    plain.open()
    import io

    offsets, _ = index_fff_stream(io.BytesIO(seq), len(seq))
    for i in range(7):
        f, g = src.read(), plain.read()
        np.testing.assert_array_equal(f.raw, g.raw)
        np.testing.assert_array_equal(f.celsius, g.celsius)
        o, n = offsets[i]
        theirs = Fff(seq[o : o + n])
        assert np.abs(f.celsius - theirs.get_radiometric_image()).max() < 0.01
    out = apply(f, RadiometrySettings(emissivity=0.75, reflected_c=-10.0))
    meta = {**theirs.meta, "Emissivity": 0.75, "Reflected Apparent Temperature": -10.0}
    assert np.abs(out.celsius - theirs.get_radiometric_image(meta=meta)).max() < 0.01


def test_csq_with_a_damaged_jpegls_image_names_the_frame(samples, tmp_path):
    csq = bytearray(build_csq(samples["test.seq"].read_bytes()))
    marker = bytes(csq).find(b"SPIFF", len(csq) // 2)  # a JPEG-LS image in a later frame
    csq[marker + 80 : marker + 120] = b"\x00" * 40
    path = tmp_path / "bad.csq"
    path.write_bytes(bytes(csq))
    src = FlirSeqSource(file_url(path))
    src.open()
    with pytest.raises(CorruptData, match=r"bad\.csq: frame \d"):
        for _ in range(7):
            src.read()
