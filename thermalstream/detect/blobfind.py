"""Warm pixels to blobs, for the weightless detector (:mod:`thermalstream.detect.hotspot`)."""

from __future__ import annotations

import functools

import cv2
import numpy as np

from thermalstream.detect.blobrules import Blob


@functools.lru_cache(maxsize=8)
def _disc(radius: int) -> np.ndarray:
    """Elliptic structuring element of the given radius (made once)."""
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))


def warm_blobs(warm: np.ndarray, changed: np.ndarray, small: np.ndarray, values: np.ndarray, scale: int,
               shape: tuple[int, int], *, min_area: int, max_area: int | None, max_blobs: int,
               merge_px: int) -> list[Blob]:
    """Objects: connected regions of ``changed`` work-grid pixels (warm or cold, so a car's cold body
    joins its warm wheels and engine into one box; gaps of ``merge_px`` frame pixels closed) that hold
    ``min_area`` to ``max_area`` warm frame pixels; no one-pixel lines (sensor rows or columns). Boxes
    in frame pixels (the work grid is the frame downscaled by ``scale``), largest first, at most
    ``max_blobs``."""
    if not warm.any():
        return []
    m = max(1, round(merge_px / scale)) if merge_px else 0
    grouped = cv2.dilate(changed, _disc(m)) if m else changed
    n, labels, stats, _ = cv2.connectedComponentsWithStatsWithAlgorithm(grouped, 8, cv2.CV_32S, cv2.CCL_SAUF)
    h, w = shape
    s2 = scale * scale
    max_area = max_area if max_area is not None else (h * w) // 2
    warm_px = np.bincount(labels[warm.view(bool)], minlength=n) * s2  # warm pixels per region, one pass
    out = []
    for i in np.flatnonzero((warm_px >= min_area) & (warm_px <= max_area)):
        if i == 0:
            continue
        x, y, bw, bh, _ = (int(v) for v in stats[i])
        lab = labels[y:y + bh, x:x + bw] == i
        hot = lab & warm[y:y + bh, x:x + bw].astype(bool)
        ys, xs = np.nonzero(hot)
        if xs.max() == xs.min() or ys.max() == ys.min():
            continue  # a one-pixel line: a sensor row or column, not an object
        ys, xs = np.nonzero(lab & changed[y:y + bh, x:x + bw].astype(bool))
        x1, y1 = (x + int(xs.min())) * scale, (y + int(ys.min())) * scale
        x2, y2 = min(w, (x + int(xs.max()) + 1) * scale), min(h, (y + int(ys.max()) + 1) * scale)
        if (x2 - x1) * (y2 - y1) > max_area:
            continue
        peak = float(values[y1:y2, x1:x2].max())
        mean = float(small[y:y + bh, x:x + bw][hot].mean())
        out.append(Blob((float(x1), float(y1), float(x2), float(y2)), int(warm_px[i]), peak, mean))
    out.sort(key=lambda b: b.area, reverse=True)
    return out[:max_blobs]
