"""Lossless radiometric storage beside the video: one compressed HDF5 file per segment.

Layout of a file (``FORMAT`` = "thermalstream-radiometric/1")::

    /raw        uint16 (N, H, W)   sensor counts, when the source gives them   } one of these (both with
    /celsius    float32 (N, H, W)  °C exactly as the source gave them          } mode="both", or when the
                                                                               } °C are not linear in raw)
    /timestamp  float64 (N,)       capture time, seconds since the epoch (UTC)
    /seq        int64 (N,)         the camera's frame sequence number
    /ffc        uint8 (N,)         flat-field correction state, index into attrs["ffc_states"]

    attrs: format, unit_scale, unit_offset (raw → °C: celsius = raw * unit_scale + unit_offset;
           NaN when not linear), calibrated, temperature_unit ("°C", or "counts" for an
           uncalibrated sensor: /raw only, no °C), description (how the °C were obtained,
           e.g. a user calibration), sensor, radiometry_extra (JSON), camera_name,
           camera_url (credentials masked), camera_id, width, height, ffc_states, compression

Frame datasets are chunked one frame per chunk and compressed with the shuffle filter and
``gzip`` (deflate, level 1) by default: every stock HDF5 reader opens it (h5py, xarray, MATLAB
``h5read``, R ``rhdf5``, HDFView, ``h5dump``) with no plugin. The writer makes those chunks itself
(:mod:`.deflate`, ISA-L: about a fifth of the CPU of HDF5's zlib); ``lzf`` costs more and is
h5py-only. Nothing is rounded or converted, so the arrays read back are bit-for-bit those written.
The layout is documented for other tools in ``docs/radiometric-format.md``.

Write errors: HDF5 cannot recover from a failed write (ENOSPC): closing such a file through the
library crashes the process (segfault, measured with h5py 3.16 / HDF5 2.0). A writer whose
write failed therefore "parks" the file (keeps the handle, never closes it) and raises; the
recorder keeps a free-space floor so that this path is only reached when another process fills
the disk at the same moment.

Crash safety: the file is written in SWMR mode (HDF5's single-writer/multiple-reader
protocol keeps the file structurally valid at every flush) and flushed every ``flush_every``
frames. After a ``kill -9`` the file still opens (:func:`read_radiometric` falls back to a
SWMR read) with every frame up to the last flush; closed segments are complete files.
"""

from __future__ import annotations

import json
import logging
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import h5py
import numpy as np

from thermalstream.frame import FFCState, Frame, Radiometry
from thermalstream.record.deflate import MAX_LEVEL, gzip_chunk

log = logging.getLogger(__name__)

# Files whose write failed: never closed through HDF5 (that segfaults); kept until exit.
_PARKED: list[h5py.File] = []

FORMAT = "thermalstream-radiometric/1"
FFC_STATES = [s.value for s in FFCState]
_FFC_INDEX = {s: i for i, s in enumerate(FFCState)}
MODES = ("auto", "raw", "celsius", "both")
COMPRESSIONS = ("lzf", "gzip", "none")
# The HDF5 1.10 file format (the oldest with SWMR): h5py's "latest" under HDF5 2.0 writes objects
# that HDF5 1.10 tools (Debian's h5dump, many MATLAB releases) cannot open.
LIBVER = ("v110", "v110")


@dataclass
class RadiometricOptions:
    mode: str = "auto"  # auto: raw counts when the frame has them, else float32 °C
    compression: str = "gzip"  # "gzip" (portable), "lzf" (h5py only) or "none"
    gzip_level: int = 1
    shuffle: bool = True
    flush_every: int = 25  # frames between flushes (a crash loses at most these of the open file)

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {self.mode!r}")
        if self.compression not in COMPRESSIONS:
            raise ValueError(f"compression must be one of {COMPRESSIONS}, got {self.compression!r}")


class RadiometricWriter:
    """Append frames to one HDF5 file. The datasets are chosen from the first frame."""

    def __init__(self, path: str | os.PathLike, options: RadiometricOptions | None = None,
                 camera: dict[str, Any] | None = None) -> None:
        self.path = Path(path)
        self.options = options or RadiometricOptions()
        self.camera = dict(camera or {})
        self.frames = 0
        self._f: h5py.File | None = None
        self._ds: dict[str, h5py.Dataset] = {}
        self._since_flush = 0
        self._shape: tuple[int, int] | None = None
        self._dead = False
        # gzip chunks made by record/deflate.py (the same filters decode them; about a fifth of the CPU)
        self._fast_gzip = self.options.compression == "gzip" and 0 <= int(self.options.gzip_level) <= MAX_LEVEL

    def _open(self, frame: Frame) -> None:
        opts = self.options
        if frame.celsius is None and frame.raw is None:
            raise ValueError("frame has no radiometric data")
        want_raw = opts.mode in ("raw", "both") or (opts.mode == "auto" and frame.raw is not None)
        want_c = opts.mode in ("celsius", "both") or (opts.mode == "auto" and (frame.raw is None or _nonlinear(frame)))
        if want_raw and frame.raw is None:
            raise ValueError("mode='raw' but the frame has no raw counts")
        if want_c and frame.celsius is None:
            raise ValueError("mode='celsius' but the frame has no temperatures")
        h, w = (frame.raw if want_raw else frame.celsius).shape[:2]
        self._shape = (h, w)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        f = h5py.File(self.path, "w", libver=LIBVER)
        try:
            comp: dict[str, Any] = {}
            if opts.compression == "lzf":
                comp = {"compression": "lzf"}
            elif opts.compression == "gzip":
                comp = {"compression": "gzip", "compression_opts": int(opts.gzip_level)}
            if opts.compression != "none" and opts.shuffle:
                comp["shuffle"] = True
            if want_raw:
                self._ds["raw"] = f.create_dataset("raw", (0, h, w), np.uint16, maxshape=(None, h, w),
                                                   chunks=(1, h, w), **comp)
            if want_c:
                self._ds["celsius"] = f.create_dataset("celsius", (0, h, w), np.float32, maxshape=(None, h, w),
                                                       chunks=(1, h, w), **comp)
            for name, dt in (("timestamp", np.float64), ("seq", np.int64), ("ffc", np.uint8)):
                self._ds[name] = f.create_dataset(name, (0,), dt, maxshape=(None,), chunks=(256,))
            rad = frame.radiometry or Radiometry()
            a = f.attrs
            a["format"] = FORMAT
            a["unit_scale"] = math.nan if rad.unit_scale is None else float(rad.unit_scale)
            a["unit_offset"] = math.nan if rad.unit_offset is None else float(rad.unit_offset)
            a["calibrated"] = bool(rad.calibrated and frame.celsius is not None)
            a["temperature_unit"] = frame.temperature_unit or ""  # "°C", or "counts": raw, no °C law
            a["description"] = rad.description or ""
            a["sensor"] = rad.sensor or ""
            a["radiometry_extra"] = json.dumps(rad.extra or {}, default=str)
            a["camera_name"] = str(self.camera.get("name", ""))
            a["camera_url"] = str(self.camera.get("url", ""))  # callers pass the masked URL
            a["camera_id"] = str(self.camera.get("id", ""))
            a["width"], a["height"] = w, h
            a["ffc_states"] = json.dumps(FFC_STATES)
            a["compression"] = opts.compression
            f.swmr_mode = True  # from here on the file stays readable after a crash
        except Exception:
            f.close()
            raise
        self._f = f

    def write(self, frame: Frame) -> None:
        if self._dead:
            raise OSError(f"{self.path.name}: an earlier write failed")
        if self._f is None:
            self._open(frame)
        try:
            self._write(frame)
        except OSError:
            self._park()
            raise

    def _park(self) -> None:
        self._dead = True
        if self._f is not None:
            _PARKED.append(self._f)
            self._f = None

    def _write(self, frame: Frame) -> None:
        n = self.frames
        for ds in self._ds.values():
            ds.resize(n + 1, axis=0)
        if "raw" in self._ds:
            self._put_frame(self._ds["raw"], n, _check(frame.raw, self._shape, "raw"))
        if "celsius" in self._ds:
            self._put_frame(self._ds["celsius"], n, _check(frame.celsius, self._shape, "celsius"))
        self._ds["timestamp"][n] = frame.timestamp
        self._ds["seq"][n] = frame.seq
        rad = frame.radiometry
        self._ds["ffc"][n] = _FFC_INDEX.get(rad.ffc_state if rad else FFCState.UNKNOWN, 0)
        self.frames = n + 1
        self._since_flush += 1
        if self._since_flush >= self.options.flush_every:
            self.flush()

    def _put_frame(self, ds: h5py.Dataset, n: int, a: np.ndarray) -> None:
        """Frame ``n`` of a frame dataset: its one chunk written as is when this writer makes the gzip chunks."""
        if not self._fast_gzip:
            ds[n] = a
            return
        a = np.ascontiguousarray(a, dtype=ds.dtype)  # what HDF5 would convert it to
        ds.id.write_direct_chunk((n, 0, 0), gzip_chunk(a, int(self.options.gzip_level), self.options.shuffle))

    def flush(self) -> None:
        if self._f is not None:
            try:
                self._f.flush()
            except OSError:
                self._park()
                raise
            self._since_flush = 0

    def close(self) -> int:
        """Close the file; returns its size in bytes (0 if nothing was written)."""
        f, self._f = self._f, None
        if f is not None:
            try:
                f.close()
            except OSError:
                self._f = f
                self._park()
                raise
        try:
            return self.path.stat().st_size
        except OSError:
            return 0

    def abandon(self) -> None:
        """Leave the file as the last flush wrote it, never closing it through HDF5 (on a full disk
        that segfaults); readers open it in SWMR mode and reconciliation rewrites it."""
        self._park()

    def abort(self) -> None:
        try:
            self.close()
        except Exception:
            log.debug("closing %s after an error failed", self.path, exc_info=True)


def _nonlinear(frame: Frame) -> bool:
    """°C that raw * unit_scale + unit_offset cannot give back (Planck, emissivity correction)."""
    rad = frame.radiometry
    return frame.celsius is not None and (rad is None or rad.unit_scale is None or rad.unit_offset is None)


def _check(a: np.ndarray | None, shape, what: str) -> np.ndarray:
    if a is None:
        raise ValueError(f"frame has no {what} data (the segment started with it)")
    if a.shape[:2] != shape:
        raise ValueError(f"{what} frame is {a.shape}, segment is {shape}")
    return a


class RadiometricData(NamedTuple):
    """``data`` is the raw uint16 array when the file has one, else float32 °C; ``meta`` holds
    the attributes plus ``kind`` ("raw"/"celsius"), ``seq``, ``ffc`` (state names), ``celsius``
    (the float32 array too when mode was "both") and ``partial`` (opened after a crash)."""

    data: np.ndarray
    timestamps: np.ndarray
    meta: dict[str, Any]

    def to_celsius(self) -> np.ndarray:
        """°C: the stored float32 array, or raw * unit_scale + unit_offset (float32); ValueError for
        uncalibrated counts (``meta["temperature_unit"] == "counts"``)."""
        if self.meta.get("temperature_unit") == "counts":
            raise ValueError("this recording holds uncalibrated sensor counts, not °C")
        if self.meta["kind"] == "celsius":
            return self.data
        if self.meta.get("celsius") is not None:
            return self.meta["celsius"]
        scale, offset = self.meta["unit_scale"], self.meta["unit_offset"]
        if scale is None or offset is None:
            raise ValueError("raw counts without a linear raw → °C mapping")
        return (self.data.astype(np.float32) * np.float32(scale) + np.float32(offset)).astype(np.float32)


def _open_readable(path: Path) -> tuple[h5py.File, bool]:
    try:
        return h5py.File(path, "r"), False
    except OSError:
        # a writer that died leaves the "open for SWMR write" flag set: a SWMR reader may open it
        return h5py.File(path, "r", libver="latest", swmr=True), True


def read_radiometric(path: str | os.PathLike, frames: bool = True) -> RadiometricData:
    """Read a segment's radiometric file, also one left open by a crash (what was flushed).
    ``frames=False`` reads everything but the frame arrays (``data`` is then empty, 0 x H x W)."""
    f, partial = _open_readable(Path(path))
    with f:
        a = dict(f.attrs)
        n = min(f[k].shape[0] for k in ("timestamp", "seq", "ffc") if k in f)
        kind = "raw" if "raw" in f else "celsius"
        n = min(n, f[kind].shape[0])
        data = f[kind][:n] if frames else np.empty((0, *f[kind].shape[1:]), f[kind].dtype)
        celsius = f["celsius"][:n] if (frames and kind == "raw" and "celsius" in f) else None
        ts = f["timestamp"][:n]
        seq = f["seq"][:n]
        ffc_idx = f["ffc"][:n]
    states = json.loads(a.get("ffc_states", json.dumps(FFC_STATES)))
    scale, offset = float(a.get("unit_scale", math.nan)), float(a.get("unit_offset", math.nan))
    meta: dict[str, Any] = {
        "kind": kind,
        "format": str(a.get("format", "")),
        "unit_scale": None if math.isnan(scale) else scale,
        "unit_offset": None if math.isnan(offset) else offset,
        "calibrated": bool(a.get("calibrated", True)),
        "temperature_unit": str(a.get("temperature_unit", "°C")) or None,
        "description": str(a.get("description", "")),
        "sensor": str(a.get("sensor", "")),
        "radiometry_extra": json.loads(a.get("radiometry_extra", "{}") or "{}"),
        "camera_name": str(a.get("camera_name", "")),
        "camera_url": str(a.get("camera_url", "")),
        "camera_id": str(a.get("camera_id", "")),
        "seq": seq,
        "ffc": [states[i] if i < len(states) else "unknown" for i in ffc_idx],
        "celsius": celsius,
        "frames": int(n),
        "partial": partial,
    }
    return RadiometricData(data, ts, meta)


__all__ = ["FORMAT", "RadiometricData", "RadiometricOptions", "RadiometricWriter", "read_radiometric"]
