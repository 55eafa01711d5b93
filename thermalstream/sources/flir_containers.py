"""FLIR radiometric files other than plain FFF/SEQ: radiometric JPEG (R-JPEG) and CSQ.

* **R-JPEG** (what most FLIR cameras save): an ordinary JPEG whose APP1 segments that start with
  ``FLIR\\0`` carry one FFF record, split into pieces of at most 64 KB. Each such segment's
  payload is an 8-byte header (``FLIR\\0``, a version byte, the piece's index, the index of the
  last piece) followed by the piece; the pieces, in index order, are the FFF record (layout after
  ExifTool's FLIR.pm). The record then reads like a ``.fff`` file.
* **CSQ** (FLIR sequences from ResearchIR/Thermal Studio and newer cameras): concatenated FFF
  records whose raw-data record holds a JPEG-LS image (a JPEG start with an SOF55 ``FF F7``
  header) instead of plain 16-bit words or a PNG. JPEG-LS is decoded with
  ``imagecodecs`` (CharLS).

Both then go through the same Planck conversion and per-file object parameters as SEQ/FFF
(:mod:`thermalstream.sources.flir`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

JPEG_SOI = b"\xff\xd8"
JPEGLS_MAGIC = b"\xff\xd8\xff\xf7"
FLIR_APP1 = b"FLIR\x00"
_APP1, _SOS, _EOI, _SOF55 = 0xE1, 0xDA, 0xD9, 0xF7
_STANDALONE = {0x01, *range(0xD0, 0xD8)}  # markers without a length (TEM, RSTn)


class ContainerError(ValueError):
    """A JPEG that is not a FLIR radiometric JPEG, or a broken one (the message says how)."""


def _segments(data: bytes):
    """(marker, payload) of each JPEG header segment, up to the start of the image data."""
    if not data.startswith(JPEG_SOI):
        raise ContainerError("not a JPEG file")
    i = 2
    while i + 4 <= len(data):
        if data[i] != 0xFF:
            raise ContainerError(f"broken JPEG: no segment marker at byte {i}")
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker in _STANDALONE:
            i += 2
            continue
        if marker in (_SOS, _EOI):
            return
        length = int.from_bytes(data[i + 2 : i + 4], "big")
        if length < 2 or i + 2 + length > len(data):
            raise ContainerError(f"broken JPEG: segment at byte {i} runs past the end of the file")
        yield marker, data[i + 4 : i + 2 + length]
        i += 2 + length
    raise ContainerError("broken JPEG: the file ends inside its header segments")


def fff_from_jpeg(data: bytes) -> bytes:
    """The FFF record inside a FLIR radiometric JPEG (its FLIR APP1 pieces joined in order)."""
    pieces: dict[int, bytes] = {}
    last: int | None = None
    for marker, payload in _segments(data):
        if marker != _APP1 or not payload.startswith(FLIR_APP1) or len(payload) < 8:
            continue
        index, last_index = payload[6], payload[7]
        if last is not None and last_index != last:
            raise ContainerError("broken FLIR JPEG: its FLIR segments disagree on their number")
        last = last_index
        if index in pieces:
            raise ContainerError(f"broken FLIR JPEG: FLIR segment {index} appears twice")
        pieces[index] = payload[8:]
    if last is None:
        raise ContainerError("a JPEG without FLIR radiometric data (no FLIR APP1 segment): a plain picture")
    missing = [i for i in range(last + 1) if i not in pieces]
    if missing:
        raise ContainerError(f"broken FLIR JPEG: FLIR segment(s) {missing} of {last + 1} missing")
    return b"".join(pieces[i] for i in range(last + 1))


def is_flir_jpeg(path: Path) -> bool:
    """Whether ``path`` is a JPEG carrying FLIR radiometric data (reads only its header segments)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(1 << 20)  # FLIR segments precede the image data; 1 MB covers them
    except OSError:
        return False
    try:
        return any(m == _APP1 and p.startswith(FLIR_APP1) for m, p in _segments(head))
    except ContainerError:
        return False


def is_jpegls(data: bytes) -> bool:
    """Whether ``data`` starts a JPEG-LS image (SOI, then an SOF55 header; CharLS may put a SPIFF
    APP8 segment before it)."""
    if data.startswith(JPEGLS_MAGIC):
        return True
    if not data.startswith(JPEG_SOI):
        return False
    try:
        return any(marker == _SOF55 for marker, _ in _segments(data[:4096]))
    except ContainerError:
        return False


def decode_jpegls(data: bytes, width: int, height: int) -> np.ndarray:
    """A JPEG-LS raw image (CSQ frames) as (height, width) uint16; ValueError when it is not one."""
    try:
        import imagecodecs
    except ImportError:  # pragma: no cover - a declared dependency
        raise ValueError("JPEG-LS raw images need the imagecodecs package") from None
    try:
        img = imagecodecs.jpegls_decode(data)
    except Exception as exc:  # noqa: BLE001 - the codec raises its own error types
        raise ValueError(f"raw JPEG-LS image could not be decoded ({exc})") from None
    if img.shape != (height, width) or img.dtype.itemsize != 2:
        raise ValueError(f"raw JPEG-LS image is {img.shape} {img.dtype}, the record says {width}x{height} 16-bit")
    return img.astype(np.uint16, copy=False)


__all__ = ["ContainerError", "decode_jpegls", "fff_from_jpeg", "is_flir_jpeg", "is_jpegls"]
