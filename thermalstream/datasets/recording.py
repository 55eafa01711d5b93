"""A recording as data: every radiometric frame across all its segments, with UTC timestamps.

>>> rec = ts.open_recording(12)                 # or a recording folder, or one segment's .h5
>>> len(rec), rec[0].celsius.max()
>>> da = rec.to_xarray(step=5)                  # lazy (dask) DataArray (time, y, x), CF attributes
>>> rec.view()                                  # a player in a notebook (after ts.notebook())

Frames are read from the lossless HDF5 files beside the video segments (the layout is
``thermalstream.record.radiometric``); the video itself is never decoded. A segment left open by a
crash contributes the frames that were flushed.
"""

from __future__ import annotations

import bisect
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from thermalstream.frame import FFCState, Frame, Radiometry
from thermalstream.palettes import to_grey
from thermalstream.record.radiometric import _open_readable, read_radiometric

_CHUNK = 64  # frames per lazy block


@dataclass(frozen=True)
class _Segment:
    path: Path
    frames: int
    kind: str  # "raw" or "celsius": the dataset holding the frames
    meta: dict[str, Any]
    timestamps: np.ndarray
    seqs: np.ndarray  # the camera's frame sequence numbers


def _segment(path: Path) -> _Segment | None:
    data = read_radiometric(path, frames=False)
    if data.meta["frames"] == 0:
        return None
    meta = {k: v for k, v in data.meta.items() if k not in ("seq", "celsius")}
    meta.update(height=data.data.shape[1], width=data.data.shape[2])
    f, _partial = _open_readable(path)
    with f:
        has_celsius = "celsius" in f
    # the °C as the source gave them when the file keeps them (non-linear laws such as Planck)
    kind = "celsius" if has_celsius and meta.get("temperature_unit") != "counts" else meta["kind"]
    meta.update(kind=kind, dtype=np.dtype(np.float32) if kind == "celsius" else data.data.dtype)
    return _Segment(path, data.meta["frames"], kind, meta, np.asarray(data.timestamps, np.float64),
                    np.asarray(data.meta["seq"], np.int64))


def _unit(meta: dict[str, Any]) -> str:
    """"°C" when the stored values are or convert to calibrated °C, else "counts"."""
    if meta.get("temperature_unit") == "counts" or not meta["calibrated"]:
        return "counts"
    if meta["kind"] == "celsius":
        return "°C"
    return "°C" if meta["unit_scale"] is not None and meta["unit_offset"] is not None else "counts"


def _to_unit(block: np.ndarray, meta: dict[str, Any]) -> np.ndarray:
    if meta["kind"] == "celsius":
        return block.astype(np.float32, copy=False)
    if _unit(meta) == "counts":
        return block
    return (block.astype(np.float32) * np.float32(meta["unit_scale"]) + np.float32(meta["unit_offset"]))


def _read_block(path: str, kind: str, start: int, stop: int, step: int) -> np.ndarray:
    f, _partial = _open_readable(Path(path))
    with f:
        return f[kind][start:stop:step]


class RecordingData:
    """Frames of one recording (a folder of segments, or a single segment file), in time order."""

    def __init__(self, files: list[Path], info: dict[str, Any] | None = None) -> None:
        segs = [s for s in (_segment(p) for p in files) if s is not None]
        if not segs:
            raise ValueError("this recording has no radiometric frames (a picture-only camera, or empty)")
        self.segments = segs
        self.info = dict(info or {})
        self._starts = np.cumsum([0] + [s.frames for s in segs]).tolist()
        self.timestamps = np.concatenate([s.timestamps for s in segs])
        self.unit = _unit(segs[0].meta)

    @classmethod
    def from_path(cls, path: str | os.PathLike, info: dict[str, Any] | None = None) -> RecordingData:
        p = Path(path).expanduser()
        if p.is_dir():
            files = sorted(p.glob("*.h5"))
        elif p.suffix == ".h5" and p.is_file():
            files = [p]
        else:
            raise FileNotFoundError(f"not a recording folder or radiometric segment: {p}")
        if not files:
            raise ValueError(f"{p} holds no radiometric segments (.h5)")
        return cls(files, info)

    # --- sequence protocol -------------------------------------------------------------------------
    def __len__(self) -> int:
        return self._starts[-1]

    def __iter__(self) -> Iterator[Frame]:
        for seg in self.segments:
            for c in range(0, seg.frames, _CHUNK):
                block = _read_block(str(seg.path), seg.kind, c, min(c + _CHUNK, seg.frames), 1)
                for i, stored in enumerate(block, start=c):
                    yield self._frame(seg, stored, i)

    def __getitem__(self, index: int) -> Frame:
        n = len(self)
        if not -n <= index < n:
            raise IndexError(f"frame {index} of a {n}-frame recording")
        index %= n
        k = bisect.bisect_right(self._starts, index) - 1
        seg, i = self.segments[k], index - self._starts[k]
        return self._frame(seg, _read_block(str(seg.path), seg.kind, i, i + 1, 1)[0], i)

    def _frame(self, seg: _Segment, stored: np.ndarray, i: int) -> Frame:
        values = _to_unit(stored, seg.meta)
        celsius = values if self.unit == "°C" else None
        raw = stored if seg.kind == "raw" else None  # (files with both keep °C; read raw with h5py)
        lo, hi = np.percentile(values, (1, 99)) if values.size else (0, 1)
        image = to_grey(values.astype(np.float32, copy=False), float(lo), float(hi))
        radiometry = Radiometry(calibrated=self.unit == "°C", unit_scale=seg.meta["unit_scale"],
                                unit_offset=seg.meta["unit_offset"], sensor=seg.meta["sensor"],
                                ffc_state=FFCState(seg.meta["ffc"][i]) if seg.meta["ffc"][i] in
                                FFCState._value2member_map_ else FFCState.UNKNOWN)
        return Frame(image=image, seq=int(seg.seqs[i]), timestamp=float(seg.timestamps[i]), celsius=celsius, raw=raw,
                     radiometry=radiometry)

    # --- time -------------------------------------------------------------------------------------
    @property
    def fps(self) -> float | None:
        """The recorded frame rate (median spacing of the timestamps); None for a single frame."""
        if len(self.timestamps) < 2:
            return None
        gap = float(np.median(np.diff(self.timestamps)))
        return 1.0 / gap if gap > 0 else None

    @property
    def times(self):
        """UTC timestamps as a pandas DatetimeIndex."""
        import pandas as pd

        return pd.to_datetime(self.timestamps, unit="s", utc=True)

    def _index_of(self, when: Any, default: int, side: str) -> int:
        if when is None:
            return default
        if isinstance(when, (int, np.integer)):
            return int(when)
        import pandas as pd

        t = pd.Timestamp(when)
        t = t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC")
        return int(np.searchsorted(self.timestamps, t.timestamp(), side=side))

    # --- xarray -----------------------------------------------------------------------------------
    def to_xarray(self, start: Any = None, end: Any = None, step: int = 1, lazy: bool = True):
        """``xarray.DataArray`` (time, y, x) of °C (or counts) with CF attributes.

        ``start``/``end``: frame indices or times (UTC when naive), ``end`` exclusive; ``step``: every
        n-th frame. ``lazy`` (default): a dask array read block by block, so a long recording never
        has to fit in memory; ``.load()`` or ``.values`` reads it.
        """
        import xarray as xr

        if step < 1:
            raise ValueError("step must be a positive number of frames")
        lo = max(0, self._index_of(start, 0, "left"))
        hi = min(len(self), self._index_of(end, len(self), "left"))
        idx = np.arange(lo, max(lo, hi), step)
        data = self._lazy(idx) if lazy else self._eager(idx)
        h, w = self.segments[0].meta["height"], self.segments[0].meta["width"]
        times = (self.timestamps[idx] * 1e9).astype("datetime64[ns]")
        return xr.DataArray(data, dims=("time", "y", "x"),
                            coords={"time": times, "y": np.arange(h), "x": np.arange(w)},
                            name="temperature" if self.unit == "°C" else "counts", attrs=self.cf_attrs())

    def _pieces(self, idx: np.ndarray) -> Iterator[tuple[_Segment, np.ndarray]]:
        for k, seg in enumerate(self.segments):
            a, b = self._starts[k], self._starts[k + 1]
            local = idx[(idx >= a) & (idx < b)] - a
            for c in range(0, len(local), _CHUNK):
                yield seg, local[c:c + _CHUNK]

    def _dtype(self) -> np.dtype:
        return np.dtype(np.float32) if self.unit == "°C" else np.dtype(self.segments[0].meta["dtype"])

    def _load(self, seg: _Segment, local: np.ndarray) -> np.ndarray:
        first, last = int(local[0]), int(local[-1]) + 1
        step = int(local[1] - local[0]) if len(local) > 1 else 1
        return _to_unit(_read_block(str(seg.path), seg.kind, first, last, step), seg.meta)

    def _eager(self, idx: np.ndarray) -> np.ndarray:
        h, w = self.segments[0].meta["height"], self.segments[0].meta["width"]
        parts = [self._load(seg, loc) for seg, loc in self._pieces(idx)]
        return np.concatenate(parts) if parts else np.empty((0, h, w), self._dtype())

    def _lazy(self, idx: np.ndarray):
        import dask
        import dask.array as da

        h, w = self.segments[0].meta["height"], self.segments[0].meta["width"]
        blocks = [da.from_delayed(dask.delayed(self._load)(seg, loc), shape=(len(loc), h, w), dtype=self._dtype())
                  for seg, loc in self._pieces(idx)]
        return da.concatenate(blocks) if blocks else da.zeros((0, h, w), dtype=self._dtype())

    def region_series(self, rois, step: int = 1, start: Any = None, end: Any = None, progress=None):
        """Statistics of ``rois`` (:class:`thermalstream.measure.Roi`) in every ``step``-th frame, as a
        DataFrame; see :func:`thermalstream.datasets.regions.region_series`."""
        from thermalstream.datasets.regions import region_series

        return region_series(self, rois, step=step, start=start, end=end, progress=progress)

    def view(self, palette: str = "inferno", **params):
        """A player for a notebook (``ts.notebook()`` first): frame slider, Play, palette, colour bar and
        the value under the pointer (:class:`thermalstream.views.recording_player.RecordingPlayer`);
        Panel is imported only now."""
        from thermalstream.views.recording_player import RecordingPlayer

        return RecordingPlayer(self, palette=palette, **params)

    def cf_attrs(self) -> dict[str, Any]:
        """CF-style attributes: units, long_name, camera, sensor and the radiometric parameters."""
        m = self.segments[0].meta
        attrs: dict[str, Any] = {
            "units": "degree_Celsius" if self.unit == "°C" else "1",
            "long_name": "apparent temperature" if self.unit == "°C" else "sensor counts (uncalibrated)",
            "camera": m.get("camera_name", ""), "camera_id": m.get("camera_id", ""), "sensor": m.get("sensor", ""),
            "calibrated": int(self.unit == "°C"), "source_format": m.get("format", ""),
            "calibration": m.get("description", ""),
        }
        for key, value in (m.get("radiometry_extra") or {}).items():
            if isinstance(value, (int, float, str)):
                attrs[key] = value
        attrs.update({k: v for k, v in self.info.items() if isinstance(v, (int, float, str))})
        return attrs

    def __repr__(self) -> str:
        t0, t1 = (datetime.fromtimestamp(self.timestamps[i], UTC).isoformat() for i in (0, -1))
        return f"RecordingData({len(self)} frames in {len(self.segments)} segments, {self.unit}, {t0} .. {t1})"


__all__ = ["RecordingData"]
