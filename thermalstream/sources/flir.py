"""FLIR radiometric files: .fff frames, .seq and .csq sequences (concatenated FFF records) and
radiometric JPEGs (an FFF record in APP1 segments; see :mod:`.flir_containers`).

The records are parsed by :mod:`.fff` (our own parser, no flirpy at runtime).
Temperatures use the Planck law of :mod:`.planck`.
"""

from __future__ import annotations

import io
import threading
from dataclasses import replace
from pathlib import Path
from typing import BinaryIO

import numpy as np

from thermalstream.frame import FFCState, Frame, Radiometry
from thermalstream.palettes import to_grey
from thermalstream.sources.base import CorruptData, Source, SourceClosed, SourceError, SourceInfo
from thermalstream.sources.fff import FffFormatError, FffRecord, check_planck, index_fff_stream, parse_fff
from thermalstream.sources.flir_containers import (
    JPEG_SOI,
    ContainerError,
    fff_from_jpeg,
)
from thermalstream.sources.pacing import Pacer, flag
from thermalstream.sources.planck import raw_to_celsius
from thermalstream.sources.url import CameraURL

# ---------------------------------------------------------------- source

_OVERRIDES = {
    "emissivity": "emissivity",
    "reflected": "reflected_c",
    "distance": "distance",
    "atmosphere": "atmosphere_c",
    "humidity": "humidity",
}



def object_overrides(params: dict[str, str]) -> dict[str, float]:
    """Object-parameter overrides from URL params (emissivity, reflected, distance, ...)."""
    out = {}
    for key, attr in _OVERRIDES.items():
        if key in params:
            try:
                out[attr] = float(params[key])
            except ValueError:
                raise SourceError(f"URL parameter {key}={params[key]!r} is not a number") from None
    if "humidity" in out and out["humidity"] > 1:
        out["humidity"] /= 100
    return out


class FlirSeqSource(Source):
    """Frames of a FLIR .seq, .csq or .fff file or radiometric JPEG (finite: ``read()`` raises
    SourceClosed at the end).

    URL params: ``loop=1`` restarts at the end; ``realtime=1`` paces at the file's frame
    rate (or ``fps=``); ``emissivity``, ``reflected`` (°C), ``distance`` (m),
    ``atmosphere`` (°C), ``humidity`` override the recorded object parameters.
    """

    def __init__(self, camera_url: CameraURL) -> None:
        if camera_url.path is None:
            raise SourceError(f"{camera_url}: not a file")
        self.url = camera_url
        self.path = Path(camera_url.path)
        self.loop = flag(camera_url.params, "loop")
        self.realtime = flag(camera_url.params, "realtime")
        self._overrides = object_overrides(camera_url.params)
        self._fh: BinaryIO | None = None
        self._index: list[tuple[int, int]] = []
        self._tail_error: str | None = None
        self._tail_reported = False
        self._pos = 0
        self._seq = 0
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._pacer = Pacer(self._closed)

    @property
    def frame_count(self) -> int:
        """Complete frames found in the file (valid after open)."""
        return len(self._index)

    def open(self) -> SourceInfo:
        self.close()  # re-opening starts over
        try:
            fh = open(self.path, "rb")  # noqa: SIM115 - kept open until close()
        except OSError as exc:
            raise SourceError(f"cannot open {self.path}: {exc.strerror or exc}") from None
        size = self.path.stat().st_size
        if fh.read(2) == JPEG_SOI:  # radiometric JPEG: the FFF record sits in its APP1 segments
            fh = self._jpeg_record(fh)
            size = len(fh.getbuffer())
        self._index, self._tail_error = index_fff_stream(fh, size)
        self._fh, self._pos, self._tail_reported = fh, 0, False
        self._closed.clear()
        try:
            if not self._index:
                raise CorruptData(f"{self.path}: frame 0: {self._tail_error or 'empty file'}")
            first = self._parse(0)
            check_planck(replace(first.camera.planck, **self._overrides))
        except FffFormatError as exc:
            self.close()
            raise SourceError(f"{self.path}: bad URL parameters: {exc}") from None
        except CorruptData:
            self.close()
            raise
        fps = float(self.url.params.get("fps", 0) or 0) or first.camera.frame_rate
        h, w = first.raw.shape
        self.info = SourceInfo(
            kind="flir-seq", width=w, height=h, fps=fps, radiometric=True, live=False,
            description=f"FLIR {first.camera.model or 'camera'}: {self.path.name}, {len(self._index)} frames",
        )  # fmt: skip
        return self.info

    def _jpeg_record(self, fh: BinaryIO) -> io.BytesIO:
        fh.seek(0)
        try:
            return io.BytesIO(fff_from_jpeg(fh.read()))
        except ContainerError as exc:
            raise CorruptData(f"{self.path}: {exc}") from None
        finally:
            fh.close()

    def _parse(self, i: int) -> FffRecord:
        off, length = self._index[i]
        assert self._fh is not None
        self._fh.seek(off)
        try:
            return parse_fff(self._fh.read(length))
        except FffFormatError as exc:
            raise CorruptData(f"{self.path}: frame {i}: {exc}") from None

    def read(self) -> Frame:
        with self._lock:
            if self._fh is None:
                raise SourceClosed(f"{self.path} is closed")
            if self._pos >= len(self._index):
                self._at_end()
            i = self._pos
            rec = self._parse(i)
            self._pos += 1
        self._pace()
        return self._frame(rec, i)

    def _at_end(self) -> None:
        """At the end of the index: report a broken tail once, then loop or close."""
        if self._tail_error and not self._tail_reported:
            self._tail_reported = True
            raise CorruptData(f"{self.path}: frame {len(self._index)}: {self._tail_error}")
        if not self.loop:
            raise SourceClosed(f"end of {self.path.name} ({len(self._index)} frames)")
        self._pos, self._tail_reported = 0, False

    def _pace(self) -> None:
        if self.realtime:
            self._pacer.wait(self.info.fps)

    def _frame(self, rec: FffRecord, index: int) -> Frame:
        cam = rec.camera
        planck = replace(cam.planck, **self._overrides) if self._overrides else cam.planck
        try:
            celsius = raw_to_celsius(rec.raw, planck)
        except ValueError as exc:
            raise CorruptData(f"{self.path}: frame {index}: {exc}") from None
        if not np.isfinite(celsius).all():
            raise CorruptData(f"{self.path}: frame {index}: calibration gives non-finite temperatures")
        self._seq += 1
        sensor = f"FLIR {cam.model}" + (f" s/n {cam.serial}" if cam.serial else "")
        extra = {
            "frame_index": index,
            "emissivity": planck.emissivity,
            "reflected_c": planck.reflected_c,
            "distance_m": planck.distance,
            "planck": {"R1": planck.r1, "R2": planck.r2, "B": planck.b, "F": planck.f, "O": planck.o},
            "captured_at": cam.captured_at.isoformat() if cam.captured_at else None,
        }
        rad = Radiometry(calibrated=True, ffc_state=FFCState.UNKNOWN, sensor=sensor, extra=extra, law=planck,
                         description="FLIR Planck law, file object parameters")
        return Frame(image=to_grey(celsius), seq=self._seq, celsius=celsius, raw=rec.raw, radiometry=rad)

    def close(self) -> None:
        self._closed.set()
        with self._lock:
            if self._fh is not None:
                self._fh.close()
                self._fh = None
