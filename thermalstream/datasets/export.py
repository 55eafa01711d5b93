"""Exports for analysis tools: radiometric frames as NetCDF or HDF5, tables as CSV or Parquet.

Radiometric exports are written block by block (memory stays bounded however long the range) and
call ``progress(done, total)`` after each block. Both formats carry the CF attributes of
:meth:`RecordingData.cf_attrs` (units, camera, sensor, radiometric parameters).

>>> export_radiometric(ts.open_recording(3), "run.nc")            # NetCDF4, opens in xarray/MATLAB/R
>>> export_table(ts.detections(camera=1), "detections.parquet")
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from thermalstream.datasets.recording import RecordingData

Progress = Callable[[int, int], None]
RADIOMETRIC_FORMATS = ("netcdf", "hdf5")
TABLE_FORMATS = ("csv", "parquet")
SUFFIX = {"netcdf": ".nc", "hdf5": ".h5", "csv": ".csv", "parquet": ".parquet"}
_BLOCK = 64


def _selection(rec: RecordingData, start: Any, end: Any, step: int) -> np.ndarray:
    if step < 1:
        raise ValueError("step must be a positive number of frames")
    lo = max(0, rec._index_of(start, 0, "left"))
    hi = min(len(rec), rec._index_of(end, len(rec), "left"))
    idx = np.arange(lo, max(lo, hi), step)
    if idx.size == 0:
        raise ValueError("no frames in the chosen range")
    return idx


def _attr(value: Any) -> Any:
    return value if isinstance(value, (int, float, str, np.number)) else str(value)


def export_radiometric(rec: RecordingData, path: str | os.PathLike, fmt: str | None = None, *, start: Any = None,
                       end: Any = None, step: int = 1, progress: Progress | None = None) -> Path:
    """Write frames ``[start, end)`` (indices or UTC times), every ``step``-th, to ``path``.

    ``fmt``: "netcdf" (NetCDF4/HDF5 with dimensions time, y, x and a CF time axis) or "hdf5" (the same
    datasets without the NetCDF conventions); by default from the suffix (.nc → netcdf).
    """
    path = Path(path)
    fmt = fmt or ("netcdf" if path.suffix in (".nc", ".nc4") else "hdf5")
    if fmt not in RADIOMETRIC_FORMATS:
        raise ValueError(f"format must be one of {RADIOMETRIC_FORMATS}")
    idx = _selection(rec, start, end, step)
    arr = rec.to_xarray(start=int(idx[0]), end=int(idx[-1]) + 1, step=step)
    name, h, w = arr.name, arr.sizes["y"], arr.sizes["x"]
    tmp = path.with_name(f".{path.name}.part")
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        writer = _netcdf if fmt == "netcdf" else _hdf5
        writer(tmp, arr, name, h, w, progress)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def _blocks(arr, progress: Progress | None):
    total = arr.sizes["time"]
    for i in range(0, total, _BLOCK):
        block = arr.isel(time=slice(i, i + _BLOCK)).values
        yield i, block
        if progress:
            progress(min(i + _BLOCK, total), total)


def _netcdf(path: Path, arr, name: str, h: int, w: int, progress: Progress | None) -> None:
    import h5netcdf

    seconds = arr["time"].values.astype("datetime64[ns]").astype(np.int64) / 1e9
    with h5netcdf.File(path, "w") as f:
        f.dimensions = {"time": arr.sizes["time"], "y": h, "x": w}
        t = f.create_variable("time", ("time",), np.float64)
        t[:] = seconds
        t.attrs.update(units="seconds since 1970-01-01 00:00:00 UTC", standard_name="time", calendar="standard")
        for axis, n in (("y", h), ("x", w)):
            v = f.create_variable(axis, (axis,), np.int32)
            v[:] = np.arange(n)
            v.attrs["long_name"] = f"pixel {'row' if axis == 'y' else 'column'}"
        v = f.create_variable(name, ("time", "y", "x"), arr.dtype, chunks=(1, h, w), compression="gzip",
                              compression_opts=1, shuffle=True)
        for k, val in arr.attrs.items():
            v.attrs[k] = _attr(val)
        f.attrs.update(Conventions="CF-1.8", title=f"ThermalStream export of {arr.attrs.get('camera', '')}")
        for i, block in _blocks(arr, progress):
            v[i:i + len(block)] = block


def _hdf5(path: Path, arr, name: str, h: int, w: int, progress: Progress | None) -> None:
    import h5py

    from thermalstream.record.radiometric import LIBVER

    with h5py.File(path, "w", libver=LIBVER) as f:
        n = arr.sizes["time"]
        d = f.create_dataset(name, (n, h, w), arr.dtype, chunks=(1, h, w), compression="gzip",
                             compression_opts=1, shuffle=True)
        f.create_dataset("timestamp", data=arr["time"].values.astype("datetime64[ns]").astype(np.int64) / 1e9)
        f["timestamp"].attrs["units"] = "seconds since 1970-01-01 00:00:00 UTC"
        for k, val in arr.attrs.items():
            f.attrs[k] = _attr(val)
        for i, block in _blocks(arr, progress):
            d[i:i + len(block)] = block


def export_table(df, path: str | os.PathLike, fmt: str | None = None) -> Path:
    """A DataFrame as CSV (UTC ISO 8601 times) or Parquet (typed), chosen by ``fmt`` or the suffix."""
    path = Path(path)
    fmt = fmt or path.suffix.lstrip(".").lower()
    if fmt not in TABLE_FORMATS:
        raise ValueError(f"format must be one of {TABLE_FORMATS}")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.part")
    try:
        if fmt == "csv":
            df.to_csv(tmp, index=False, date_format="%Y-%m-%dT%H:%M:%S.%fZ")
        else:
            df.to_parquet(tmp, index=False)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


__all__ = ["RADIOMETRIC_FORMATS", "SUFFIX", "TABLE_FORMATS", "export_radiometric", "export_table"]
