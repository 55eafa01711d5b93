"""FLIR FFF records: the format under .fff frames, .seq and .csq sequences (concatenated records) and
radiometric JPEGs (a record in APP1 segments; see :mod:`.flir_containers`). The source that plays
them is :mod:`.flir`.

Our own parser (no flirpy at runtime). Layout after ExifTool's FLIR.pm:

* FFF header (64 bytes): magic ``FFF\\0``, creator, version (100..199), record-directory
  offset and count. The header's byte order is found from the version field.
* Directory entries (32 bytes): type, subtype, version, index, offset, length, ...;
  offsets are relative to the start of the FFF record.
* Raw data record (type 0x01): word 0 = 2 in the record's byte order, width at 0x02,
  height at 0x04, 16-bit pixels (or a PNG, or JPEG-LS in CSQ files) from 0x20.
* Camera info record (type 0x20): object parameters and Planck constants.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import BinaryIO

import cv2
import numpy as np

from thermalstream.sources.flir_containers import decode_jpegls, is_jpegls
from thermalstream.sources.planck import KELVIN, PlanckParams

FFF_MAGIC = b"FFF\x00"
HEADER_SIZE = 64
ENTRY_SIZE = 32
REC_RAW = 0x01
REC_CAMERA = 0x20
MAX_ENTRIES = 4096
MAX_SIDE = 8192
_PNG_MAGIC = b"\x89PNG"


class FffFormatError(ValueError):
    """Bytes that are not a complete, valid FFF record."""


@dataclass(frozen=True)
class FffEntry:
    """One entry of an FFF record directory (offset is relative to the FFF start)."""

    type: int
    subtype: int
    version: int
    offset: int
    length: int


@dataclass(frozen=True)
class CameraInfo:
    """The parts of the camera-info record we use."""

    planck: PlanckParams
    model: str = ""
    part_number: str = ""
    serial: str = ""
    software: str = ""
    lens: str = ""
    frame_rate: float | None = None
    captured_at: datetime | None = None


@dataclass(frozen=True)
class FffRecord:
    """A parsed FFF frame: raw counts (H, W) uint16 and the camera info."""

    raw: np.ndarray
    camera: CameraInfo
    creator: str
    size: int


# ---------------------------------------------------------------- parsing


def _header(buf: bytes | memoryview) -> tuple[str, int, int]:
    """(struct byte-order char, directory offset, entry count) of the FFF header at buf[0]."""
    if len(buf) < HEADER_SIZE:
        raise FffFormatError(f"FFF header truncated ({len(buf)} of {HEADER_SIZE} bytes)")
    if bytes(buf[:4]) != FFF_MAGIC:
        raise FffFormatError(f"no FFF header (found {bytes(buf[:4])!r})")
    order = ">" if int.from_bytes(buf[0x14:0x18], "little") >= 200 else "<"
    version, dir_off, count = struct.unpack_from(order + "III", buf, 0x14)
    if not 100 <= version < 200:
        raise FffFormatError(f"unsupported FFF version {version}")
    if count > MAX_ENTRIES or dir_off < HEADER_SIZE:
        raise FffFormatError(f"implausible record directory (offset {dir_off}, {count} entries)")
    return order, dir_off, count


def read_directory(buf: bytes | memoryview) -> tuple[list[FffEntry], int]:
    """Non-empty directory entries of the FFF record at buf[0], and the directory's end offset."""
    order, dir_off, count = _header(buf)
    end = dir_off + count * ENTRY_SIZE
    if end > len(buf):
        raise FffFormatError(f"record directory truncated (needs {end} bytes, have {len(buf)})")
    entries = []
    for i in range(count):
        t, sub, ver, _idx, off, length = struct.unpack_from(order + "HHIIII", buf, dir_off + i * ENTRY_SIZE)
        if t != 0:
            entries.append(FffEntry(t, sub, ver, off, length))
    return entries, end


def fff_size(buf: bytes | memoryview) -> int:
    """Bytes spanned by the FFF record at buf[0]; buf must hold at least its directory."""
    entries, end = read_directory(buf)
    return max([end] + [e.offset + e.length for e in entries])


def _order_of(rec: bytes | memoryview, default: str = "<") -> str:
    """Byte order of a raw-data or camera-info record, from its first word (== 2)."""
    head = bytes(rec[:2])
    return "<" if head == b"\x02\x00" else ">" if head == b"\x00\x02" else default


def parse_raw_data(rec: bytes | memoryview, subtype: int = 2) -> np.ndarray:
    """Decode a raw-data record into an (H, W) native uint16 array."""
    if len(rec) < 0x20:
        raise FffFormatError(f"raw data record truncated ({len(rec)} bytes)")
    order = _order_of(rec, ">" if subtype == 1 else "<")
    w, h = struct.unpack_from(order + "HH", rec, 2)
    if not (0 < w <= MAX_SIDE and 0 < h <= MAX_SIDE):
        raise FffFormatError(f"implausible raw image size {w}x{h}")
    data = bytes(rec[0x20:])
    if data.startswith(_PNG_MAGIC):
        return _decode_png(data, w, h)
    if is_jpegls(data):
        try:
            return decode_jpegls(data, w, h)
        except ValueError as exc:
            raise FffFormatError(str(exc)) from None
    if len(data) < w * h * 2:
        raise FffFormatError(f"raw image truncated ({len(data)} of {w * h * 2} bytes for {w}x{h})")
    px = np.frombuffer(data, dtype=order + "u2", count=w * h)
    return px.reshape(h, w).astype(np.uint16)


def _decode_png(data: bytes, w: int, h: int) -> np.ndarray:
    """PNG-compressed raw data; FLIR stores the 16-bit words byte-swapped (as ExifTool notes)."""
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if img is None or img.dtype != np.uint16 or img.shape != (h, w):
        raise FffFormatError(f"raw PNG image could not be decoded as {w}x{h} 16-bit")
    return img.byteswap()


def _str(rec: bytes | memoryview, off: int, n: int) -> str:
    return bytes(rec[off : off + n]).split(b"\x00", 1)[0].decode("latin-1").strip()


def parse_camera_info(rec: bytes | memoryview) -> CameraInfo:
    """Decode a camera-info record (Planck constants at 0x58..0x60, 0x308, 0x30c)."""
    if len(rec) < 0x310:
        raise FffFormatError(f"camera info record too short for Planck constants ({len(rec)} bytes)")
    o = _order_of(rec)

    def f32(off: int) -> float:
        return struct.unpack_from(o + "f", rec, off)[0]

    humidity = f32(0x3C)
    planck = PlanckParams(
        r1=f32(0x58), r2=f32(0x30C), b=f32(0x5C), f=f32(0x60),
        o=float(struct.unpack_from(o + "i", rec, 0x308)[0]),
        emissivity=f32(0x20), distance=f32(0x24),
        reflected_c=f32(0x28) - KELVIN, atmosphere_c=f32(0x2C) - KELVIN,
        window_c=f32(0x30) - KELVIN, window_transmission=f32(0x34),
        humidity=min(max(humidity / 100 if humidity > 2 else humidity, 0.0), 1.0),
        atmosphere=(f32(0x70), f32(0x74), f32(0x78), f32(0x7C), f32(0x80)),
    )  # fmt: skip
    check_planck(planck)
    return CameraInfo(
        planck=planck, model=_str(rec, 0xD4, 32), part_number=_str(rec, 0xF4, 16),
        serial=_str(rec, 0x104, 16), software=_str(rec, 0x114, 16), lens=_str(rec, 0x170, 32),
        frame_rate=_frame_rate(rec, o), captured_at=_captured_at(rec, o),
    )  # fmt: skip


def check_planck(p: PlanckParams) -> None:
    values = (p.r1, p.r2, p.b, p.f, p.emissivity, p.distance, p.window_transmission)
    if not all(math.isfinite(v) for v in values) or p.r1 <= 0 or p.r2 <= 0 or p.b <= 0:
        raise FffFormatError(f"implausible Planck constants R1={p.r1} R2={p.r2} B={p.b} F={p.f}")
    temps = (p.reflected_c, p.atmosphere_c, p.window_c)
    if not all(-KELVIN < t < 2000 for t in temps):
        raise FffFormatError(f"implausible reflected/atmosphere/window temperatures {temps}")
    if not 0 < p.emissivity <= 1 or not 0 < p.window_transmission <= 1 or p.distance < 0:
        raise FffFormatError(
            f"implausible object parameters (emissivity {p.emissivity}, "
            f"window transmission {p.window_transmission}, distance {p.distance})"
        )


def _frame_rate(rec: bytes | memoryview, o: str) -> float | None:
    if len(rec) < 0x466:
        return None
    fps = struct.unpack_from(o + "H", rec, 0x464)[0]
    return float(fps) if 0 < fps <= 1000 else None


def _captured_at(rec: bytes | memoryview, o: str) -> datetime | None:
    """DateTimeOriginal: uint32 seconds, uint32 ms, int16 minutes west of UTC at 0x384."""
    if len(rec) < 0x38E:
        return None
    secs, ms, tz_west = struct.unpack_from(o + "IIh", rec, 0x384)
    if secs == 0 or ms >= 1000 or abs(tz_west) > 14 * 60:
        return None
    tz = timezone(timedelta(minutes=-tz_west))
    return datetime.fromtimestamp(secs + ms / 1000, tz)


def parse_fff(data: bytes | memoryview) -> FffRecord:
    """Parse one FFF record (a .fff file or one frame of a .seq)."""
    buf = memoryview(data)
    entries, dir_end = read_directory(buf)
    size = max([dir_end] + [e.offset + e.length for e in entries])
    if size > len(buf):
        raise FffFormatError(f"record truncated (needs {size} bytes, have {len(buf)})")
    raw_e = next((e for e in entries if e.type == REC_RAW), None)
    cam_e = next((e for e in entries if e.type == REC_CAMERA), None)
    if raw_e is None or cam_e is None:
        raise FffFormatError("no raw data record" if raw_e is None else "no camera info record")
    raw = parse_raw_data(buf[raw_e.offset : raw_e.offset + raw_e.length], raw_e.subtype)
    camera = parse_camera_info(buf[cam_e.offset : cam_e.offset + cam_e.length])
    return FffRecord(raw=raw, camera=camera, creator=_str(buf, 4, 16), size=size)


def index_fff_stream(fh: BinaryIO, size: int) -> tuple[list[tuple[int, int]], str | None]:
    """Walk concatenated FFF records: ((offset, length) per complete frame, error or None).

    The error describes why the walk stopped early (truncated or garbage frame) and applies
    to the frame at index ``len(frames)``.
    """
    frames: list[tuple[int, int]] = []
    cursor = 0
    while cursor < size:
        try:
            fh.seek(cursor)
            _, dir_off, count = _header(fh.read(HEADER_SIZE))
            fh.seek(cursor)
            length = fff_size(fh.read(dir_off + count * ENTRY_SIZE))
        except FffFormatError as exc:
            return frames, str(exc)
        if cursor + length > size:
            return frames, f"truncated (needs {length} bytes, {size - cursor} left in file)"
        frames.append((cursor, length))
        cursor += length
    return frames, None
