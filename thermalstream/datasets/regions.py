"""Measurement regions over a recording after the fact: the statistics of each ROI in every frame (or
every ``step``-th), read block by block from the lossless data, with progress.

>>> from thermalstream.measure import Roi
>>> df = region_series(ts.open_recording(12), [Roi("bearing", "box", [[0.4, 0.4], [0.6, 0.6]])])
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from thermalstream.datasets.recording import RecordingData
from thermalstream.measure.geometry import Roi, RoiSet

COLUMNS = ["time", "roi", "min", "max", "mean", "std", "hot_x", "hot_y", "unit"]


def region_series(rec: RecordingData, rois: Sequence[Roi], step: int = 1, start=None, end=None,
                  progress: Callable[[int, int], None] | None = None, cancel: Callable[[], bool] | None = None):
    """A long DataFrame (one row per ROI per frame, oldest first) with UTC times; values in the
    recording's unit (``rec.unit``: °C or counts). ``progress(done, total)`` after each block;
    ``cancel()`` returning True stops early with what was measured so far."""
    import pandas as pd

    if not rois:
        raise ValueError("give at least one region")
    rset = RoiSet(list(rois))
    arr = rec.to_xarray(start=start, end=end, step=step)
    total = arr.sizes["time"]
    times = arr["time"].values
    rows: list[tuple] = []
    for i in range(0, total, 64):
        if cancel is not None and cancel():
            break
        block = np.asarray(arr.isel(time=slice(i, i + 64)).values, np.float32)
        for k, values in enumerate(block):
            for rid, s in rset.measure(values).items():
                rows.append((times[i + k], rid, s.min, s.max, s.mean, s.std, s.hot[0], s.hot[1], rec.unit))
        if progress is not None:
            progress(min(i + 64, total), total)
    df = pd.DataFrame(rows, columns=COLUMNS)
    df["time"] = pd.to_datetime(df["time"], utc=True)
    return df


__all__ = ["region_series"]
