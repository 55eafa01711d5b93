"""ROI geometry and per-frame statistics, vectorised: masks are computed once per frame shape.

>>> rois = RoiSet([Roi(1, "box", [[0.1, 0.2], [0.4, 0.5]]), Roi(2, "line", [[0, 0.5], [1, 0.5]])])
>>> stats = rois.measure(frame.measurement())      # {1: RoiStats(min, max, mean, std, hot), 2: ...}
>>> stats[2].profile                                # values along the line

Coordinates are normalised to the image (0..1, x right, y down). A spot is one point, a box two
corners, a polygon three or more vertices, a line two end points. Values are in the frame's unit
(``Frame.temperature_unit``: °C, or counts for an uncalibrated sensor).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

KINDS = ("spot", "box", "polygon", "line")
MAX_POINTS = 64


class RoiError(ValueError):
    """An ROI that cannot be measured (bad kind or points); the message says why."""


def validate(kind: Any, points: Any) -> list[list[float]]:
    """Checked points of an ROI as ``[[x, y], ...]`` floats in 0..1; raises RoiError."""
    if kind not in KINDS:
        raise RoiError(f"kind must be one of {', '.join(KINDS)}")
    if not isinstance(points, (list, tuple)) or not points:
        raise RoiError("points must be a list of [x, y] pairs")
    out: list[list[float]] = []
    for p in points:
        if (not isinstance(p, (list, tuple)) or len(p) != 2
                or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in p)):
            raise RoiError("each point must be [x, y] with two numbers")
        x, y = float(p[0]), float(p[1])
        if not (math.isfinite(x) and math.isfinite(y) and 0.0 <= x <= 1.0 and 0.0 <= y <= 1.0):
            raise RoiError("coordinates are normalised to the image: 0 to 1")
        out.append([x, y])
    need = {"spot": (1, 1), "box": (2, 2), "line": (2, 2), "polygon": (3, MAX_POINTS)}[kind]
    if not need[0] <= len(out) <= need[1]:
        n = f"{need[0]}" if need[0] == need[1] else f"{need[0]} to {need[1]}"
        raise RoiError(f"a {kind} needs {n} point(s), got {len(out)}")
    if kind in ("box", "line") and out[0] == out[1]:
        raise RoiError(f"the two points of a {kind} must differ")
    return out


@dataclass(frozen=True)
class Roi:
    """An ROI definition: ``id`` (any hashable key), ``kind`` and normalised ``points``."""

    id: Any
    kind: str
    points: list[list[float]]
    name: str = ""


@dataclass
class RoiStats:
    """Statistics of one ROI in one frame; ``hot`` is the hottest pixel (x, y), ``profile`` the
    values along a line ROI (None for other kinds)."""

    min: float
    max: float
    mean: float
    std: float
    hot: tuple[int, int]
    cold: tuple[int, int]
    profile: np.ndarray | None = None

    def get(self, statistic: str) -> float:
        return float(getattr(self, statistic))

    def to_dict(self, width: int, height: int, unit: str | None) -> dict[str, Any]:
        out: dict[str, Any] = {
            "min": round(self.min, 3), "max": round(self.max, 3), "mean": round(self.mean, 3),
            "std": round(self.std, 3), "unit": unit, "hot": list(self.hot),
            "hot_norm": [round((self.hot[0] + 0.5) / width, 4), round((self.hot[1] + 0.5) / height, 4)],
        }
        if self.profile is not None:
            out["profile"] = [round(float(v), 3) for v in self.profile]
        return out


def _px(v: float, n: int) -> int:
    return min(max(int(v * n), 0), n - 1)


@dataclass
class _Compiled:
    roi: Roi
    rows: slice = field(default_factory=lambda: slice(0, 0))
    cols: slice = field(default_factory=lambda: slice(0, 0))
    index: np.ndarray | None = None  # flat pixel indices (polygon inside its box, line samples)
    xy: np.ndarray | None = None  # (n, 2) pixel x, y of each index entry


def _compile(roi: Roi, h: int, w: int) -> _Compiled:
    c = _Compiled(roi)
    pts = roi.points
    if roi.kind == "spot":
        x, y = _px(pts[0][0], w), _px(pts[0][1], h)
        c.rows, c.cols = slice(y, y + 1), slice(x, x + 1)
    elif roi.kind == "box":
        (xa, ya), (xb, yb) = pts
        x0, x1 = _px(min(xa, xb), w), max(_px(max(xa, xb) - 1e-9, w), _px(min(xa, xb), w))
        y0, y1 = _px(min(ya, yb), h), max(_px(max(ya, yb) - 1e-9, h), _px(min(ya, yb), h))
        c.rows, c.cols = slice(y0, y1 + 1), slice(x0, x1 + 1)
    elif roi.kind == "line":
        (xa, ya), (xb, yb) = pts
        ax, ay, bx, by = _px(xa, w), _px(ya, h), _px(xb, w), _px(yb, h)
        n = max(abs(bx - ax), abs(by - ay)) + 1
        xs = np.rint(np.linspace(ax, bx, n)).astype(np.intp)
        ys = np.rint(np.linspace(ay, by, n)).astype(np.intp)
        c.index, c.xy = ys * w + xs, np.stack([xs, ys], axis=1)
    else:  # polygon: pixels whose centres are inside, at least the vertices' pixels
        poly = np.array([[p[0] * w, p[1] * h] for p in pts], dtype=np.float64)
        mask = np.zeros((h, w), np.uint8)
        cv2.fillPoly(mask, [np.rint(poly * 16).astype(np.int32)], 1, lineType=cv2.LINE_8, shift=4)
        for p in pts:
            mask[_px(p[1], h), _px(p[0], w)] = 1
        ys, xs = np.nonzero(mask)
        c.index, c.xy = ys * w + xs, np.stack([xs, ys], axis=1)
    return c


class RoiSet:
    """A camera's ROIs, compiled for the frame shape on first use (and again when it changes)."""

    def __init__(self, rois: list[Roi]) -> None:
        for r in rois:
            validate(r.kind, r.points)
        self.rois = list(rois)
        self._shape: tuple[int, int] | None = None
        self._compiled: list[_Compiled] = []

    def __len__(self) -> int:
        return len(self.rois)

    def _prepare(self, shape: tuple[int, int]) -> None:
        if shape != self._shape:
            self._compiled = [_compile(r, *shape) for r in self.rois]
            self._shape = shape

    def measure(self, values: np.ndarray) -> dict[Any, RoiStats]:
        """Statistics of every ROI in ``values`` (an HxW array, e.g. ``Frame.measurement()``).
        Two OpenCV calls per region (minMaxLoc, meanStdDev): about 25 µs for a box."""
        if values.dtype != np.float32:
            values = values.astype(np.float32)
        self._prepare(values.shape[:2])
        flat = values.reshape(-1)
        out: dict[Any, RoiStats] = {}
        for c in self._compiled:
            if c.index is None:
                vals = values[c.rows, c.cols]
                lo, hi, (lx, ly), (hx, hy) = cv2.minMaxLoc(vals)
                x0, y0 = c.cols.start, c.rows.start
                hot, cold = (x0 + hx, y0 + hy), (x0 + lx, y0 + ly)
            else:
                vals = flat[c.index]
                li, hi_i = int(vals.argmin()), int(vals.argmax())
                lo, hi = float(vals[li]), float(vals[hi_i])
                hot = (int(c.xy[hi_i, 0]), int(c.xy[hi_i, 1]))
                cold = (int(c.xy[li, 0]), int(c.xy[li, 1]))
            mean, std = cv2.meanStdDev(vals)
            out[c.roi.id] = RoiStats(lo, hi, float(mean[0, 0]), float(std[0, 0]), hot, cold,
                                     vals if c.roi.kind == "line" else None)
        return out


def frame_stats(values: np.ndarray) -> RoiStats:
    """The whole frame as one region (whole-frame alarms)."""
    values = values if values.dtype == np.float32 else values.astype(np.float32)
    lo, hi, cold, hot = cv2.minMaxLoc(values)
    mean, std = cv2.meanStdDev(values)
    return RoiStats(lo, hi, float(mean[0, 0]), float(std[0, 0]), tuple(hot), tuple(cold))
