"""Cacophony Project thermal video (.cptv) files, read with the ``cptv`` package.

Pixel units depend on the camera that recorded the file:

* Lepton 3.5 (header model ``lepton3.5``, radiometric, TLinear): kelvin x 100, so
  ``°C = raw / 100 - 273.15``; frames are marked ``calibrated=True``.
* Lepton 3 (model ``lepton3`` and most old files): 14-bit raw counts, *not* temperatures.
  Frames carry the counts in ``raw`` with ``celsius=None`` and ``calibrated=False``; their
  unit is "counts" (:attr:`Frame.temperature_unit`). Nothing labels them °C: a user
  calibration per camera (:mod:`thermalstream.radiometry`) turns them into °C. For relative
  contrast only, ``radiometry.extra["nominal_k_per_count"]`` gives an approximate responsivity
  (0.0217 K per count near room temperature); it is not a calibration.
* No model in the header: pixel values above 14 bits can only be kelvin x 100, so the first
  frame decides.

FFC: frames carry ``time_on`` and ``last_ffc_time``; within :data:`FFC_SETTLE_S` seconds of a
flat-field correction the frame is reported as ``FFCState.DONE`` (recent FFC, image settling;
Cacophony's tools skip these frames), later as ``IDLE``; v1 files have no FFC data (UNKNOWN).
Background frames (a reference image some recorders store first) are not emitted.
"""

from __future__ import annotations

import threading
import zlib
from datetime import timedelta
from pathlib import Path
from typing import BinaryIO, Iterator

import numpy as np
from cptv import CPTVReader
from cptv.frame import Frame as CptvFrame

from thermalstream.frame import FFCState, Frame, Radiometry
from thermalstream.palettes import to_grey
from thermalstream.sources.base import CorruptData, Source, SourceClosed, SourceError, SourceInfo
from thermalstream.sources.pacing import Pacer, flag
from thermalstream.sources.url import CameraURL

KELVIN = 273.15
TLINEAR_SCALE = 0.01  # Lepton 3.5 TLinear: K x 100
RAW_K_PER_COUNT = 0.0217  # approximate Lepton responsivity near room temperature (relative contrast only)
FFC_SETTLE_S = 10.0
MAX_14BIT = 16383
_DECODE_ERRORS = (OSError, EOFError, ValueError, IndexError, KeyError, TypeError, zlib.error)


def is_tlinear(model: str | None, first_pix: np.ndarray | None) -> bool:
    """True when pixels are kelvin x 100 (Lepton 3.5), False for Lepton 3 raw counts."""
    if model:
        return "3.5" in model
    return first_pix is not None and int(first_pix.max()) > MAX_14BIT


def tlinear_to_celsius(pix: np.ndarray) -> np.ndarray:
    """Kelvin x 100 -> °C (float32)."""
    return (pix.astype(np.float32) * np.float32(TLINEAR_SCALE) - np.float32(KELVIN)).astype(np.float32)


def ffc_state(time_on: timedelta | None, last_ffc: timedelta | None) -> tuple[FFCState, float | None]:
    """(FFC state, seconds since the last FFC) from a CPTV frame's telemetry."""
    if time_on is None or last_ffc is None or not time_on or not last_ffc:
        return FFCState.UNKNOWN, None
    since = (time_on - last_ffc).total_seconds()
    if since < 0:
        return FFCState.UNKNOWN, None
    return (FFCState.DONE if since < FFC_SETTLE_S else FFCState.IDLE), since


def check_gzip(fh: BinaryIO) -> str | None:
    """Stream-decompress a (multi-member) gzip file; return why it is broken, or None."""
    fh.seek(0)
    d, pending = zlib.decompressobj(wbits=31), False
    while chunk := fh.read(1 << 20):
        while chunk:
            try:
                d.decompress(chunk)
            except zlib.error as exc:
                return f"corrupt compressed data ({exc})"
            pending, chunk = True, b""
            if d.eof:  # next gzip member (CPTV files hold two); ignore zero padding
                rest = d.unused_data
                chunk = rest if rest.strip(b"\x00") else b""
                d, pending = zlib.decompressobj(wbits=31), False
    return "truncated (compressed stream ends early)" if pending else None



class CPTVSource(Source):
    """Frames of a .cptv file (finite). URL params: ``loop=1``, ``realtime=1`` (pace at the
    file's fps, 9 Hz when unknown)."""

    def __init__(self, camera_url: CameraURL) -> None:
        if camera_url.path is None:
            raise SourceError(f"{camera_url}: not a file")
        self.url = camera_url
        self.path = Path(camera_url.path)
        self.loop = flag(camera_url.params, "loop")
        self.realtime = flag(camera_url.params, "realtime")
        self._fh: BinaryIO | None = None
        self._reader: CPTVReader | None = None
        self._frames: Iterator[CptvFrame] | None = None
        self._broken: str | None = None
        self._index = 0
        self._in_file = 0
        self._seq = 0
        self._tlinear = True
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._pacer = Pacer(self._closed)

    def open(self) -> SourceInfo:
        self.close()  # re-opening starts over
        try:
            self._fh = open(self.path, "rb")  # noqa: SIM115 - kept open until close()
        except OSError as exc:
            raise SourceError(f"cannot open {self.path}: {exc.strerror or exc}") from None
        self._closed.clear()
        self._broken = check_gzip(self._fh)
        self._restart()
        try:
            first = self._peek_first()
        except CorruptData:
            self.close()
            raise
        r = self._reader
        assert r is not None
        model = r.model.decode("latin-1", "replace") if r.model else None
        self._tlinear = is_tlinear(model, first)
        self._restart()
        fps = float(r.fps) if r.fps else None
        sensor = "Lepton 3.5" if self._tlinear else "Lepton 3"
        self.info = SourceInfo(
            kind="cptv", width=r.x_resolution, height=r.y_resolution, fps=fps, radiometric=True,
            live=False, description=f"CPTV {self.path.name} ({sensor}, {r.num_frames or '?'} frames)",
        )  # fmt: skip
        return self.info

    def _restart(self) -> None:
        """(Re)create the reader at the first frame."""
        assert self._fh is not None
        self._fh.seek(0)
        try:
            self._reader = CPTVReader(self._fh)
        except _DECODE_ERRORS as exc:
            self.close()
            why = exc or type(exc).__name__
            raise CorruptData(f"{self.path}: not a readable CPTV file ({why})") from None
        self._frames = iter(self._reader)
        self._index = 0  # frames emitted (background frames are not counted)
        self._in_file = 0  # frames decoded, background included

    def _peek_first(self) -> np.ndarray | None:
        """Pixels of the first non-background frame (None for a file without frames)."""
        f = self._next_frame()
        return None if f is None else f.pix

    def _next_frame(self) -> CptvFrame | None:
        """Next frame that is not a background frame; None at a clean end."""
        f = self._next_raw()
        while f is not None and f.background_frame:
            f = self._next_raw()
        self._index += f is not None
        return f

    def _next_raw(self) -> CptvFrame | None:
        """Next decoded CPTV frame, None at a clean end; CorruptData on damage."""
        assert self._frames is not None and self._reader is not None
        try:
            f = next(self._frames)
        except StopIteration:
            expected = self._reader.num_frames
            if self._broken or (expected and self._in_file < expected):
                why = self._broken or f"header says {expected} frames"
                raise CorruptData(f"{self.path}: frame {self._index}: {why}") from None
            return None
        except _DECODE_ERRORS as exc:
            raise CorruptData(f"{self.path}: frame {self._index}: {self._broken or exc}") from None
        self._in_file += 1
        return f

    def read(self) -> Frame:
        with self._lock:
            if self._frames is None or self._fh is None:
                raise SourceClosed(f"{self.path} is closed")
            f = self._next_frame()
            if f is None and self.loop:
                self._restart()
                f = self._next_frame()
            if f is None:
                raise SourceClosed(f"end of {self.path.name}")
            index = self._index - 1
        self._pace()
        return self._frame(f, index)

    def _pace(self) -> None:
        if self.realtime:
            self._pacer.wait(self.info.fps or 9.0)

    def _frame(self, f: CptvFrame, index: int) -> Frame:
        pix = np.asarray(f.pix, dtype=np.uint16)
        state, since = ffc_state(f.time_on, f.last_ffc_time)
        fpa = float(f.temp_c) if f.temp_c else None
        extra = {"frame_index": index, "fpa_temp_c": fpa, "since_ffc_s": since}
        if self._tlinear:
            celsius = tlinear_to_celsius(pix)
            rad = Radiometry(calibrated=True, unit_scale=TLINEAR_SCALE, unit_offset=-KELVIN,
                             ffc_state=state, sensor="FLIR Lepton 3.5", extra=extra,
                             description="Lepton 3.5 TLinear (kelvin x 100)")  # fmt: skip
            self._seq += 1
            return Frame(image=to_grey(celsius), seq=self._seq, celsius=celsius, raw=pix, radiometry=rad)
        extra["nominal_k_per_count"] = RAW_K_PER_COUNT
        rad = Radiometry(calibrated=False, ffc_state=state, sensor="FLIR Lepton 3", extra=extra,
                         description="uncalibrated Lepton 3 counts")  # fmt: skip
        self._seq += 1
        return Frame(image=to_grey(pix.astype(np.float32)), seq=self._seq, raw=pix, radiometry=rad)

    def close(self) -> None:
        self._closed.set()
        with self._lock:
            self._frames = None
            self._reader = None
            if self._fh is not None:
                self._fh.close()
                self._fh = None


__all__ = ["CPTVSource", "check_gzip", "ffc_state", "is_tlinear", "tlinear_to_celsius"]
