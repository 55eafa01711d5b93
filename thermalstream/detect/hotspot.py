"""Hotspot detector for radiometric frames: warm blobs found from °C alone, no weights.

A pixel is hot when it is above ``threshold_c`` (absolute °C) and/or more than ``delta_c`` above
the background (the ``background_percentile`` of the frame, default the median, computed on
every 4th pixel). With both set a pixel must pass both (hot in absolute terms *and* standing out
from the scene: a fire alarm that ignores a sun-warmed roof). Hot pixels are grouped with
``cv2.connectedComponentsWithStats`` (8-connected, after dilating the mask by ``merge_px``
so that a head and a body separated by a cooler neck are one blob; the box, area and °C are
those of the hot pixels only); blobs whose pixel area is outside
``min_area``..``max_area`` are dropped (``max_area`` default: a quarter of the frame, so a
warm-up of the whole scene is not a hotspot). Each blob becomes a ``Detection`` labelled
``hotspot`` with its bounding box, the blob's max and mean °C, confidence 1.0 (a threshold test
is certain) and ``extra = {"area": pixels, "background_c": ..., "cutoff_c": ...}``.

Picture-only frames (no °C) give no detections; :meth:`HotspotDetector.check_source` raises
``ValueError`` at configuration time for such a source. Cost: about 1-2 ms per 640x512 frame.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from thermalstream.detect.types import Box, Detection, Detector, DetectorStatus
from thermalstream.frame import Frame


class HotspotDetector(Detector):
    """Connected components of hot pixels (see the module docstring)."""

    name = "hotspot"

    def __init__(
        self,
        *,
        threshold_c: float | None = None,
        delta_c: float | None = 5.0,
        background_percentile: float = 50.0,
        min_area: int = 4,
        max_area: int | None = None,
        max_blobs: int = 50,
        merge_px: int = 2,
        label: str = "hotspot",
    ) -> None:
        if threshold_c is None and delta_c is None:
            raise ValueError("set threshold_c (absolute °C) or delta_c (°C above the background), or both")
        for name, v in (("threshold_c", threshold_c), ("delta_c", delta_c)):
            if v is not None and not math.isfinite(float(v)):
                raise ValueError(f"{name} must be a finite number, got {v!r}")
        if delta_c is not None and delta_c <= 0:
            raise ValueError(f"delta_c must be > 0 °C, got {delta_c}")
        if not 0.0 <= background_percentile <= 100.0:
            raise ValueError(f"background_percentile must be in 0..100, got {background_percentile}")
        if min_area < 1:
            raise ValueError(f"min_area must be at least 1 pixel, got {min_area}")
        if max_area is not None and max_area < min_area:
            raise ValueError(f"max_area ({max_area}) must be >= min_area ({min_area})")
        if merge_px < 0:
            raise ValueError(f"merge_px must be >= 0, got {merge_px}")
        if max_blobs < 1:
            raise ValueError(f"max_blobs must be at least 1, got {max_blobs}")
        self.threshold_c = None if threshold_c is None else float(threshold_c)
        self.delta_c = None if delta_c is None else float(delta_c)
        self.background_percentile = float(background_percentile)
        self.min_area = int(min_area)
        self.max_area = None if max_area is None else int(max_area)
        self.max_blobs = int(max_blobs)
        self.merge_px = int(merge_px)
        self._kernel = (cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * merge_px + 1, 2 * merge_px + 1))
                        if merge_px else None)  # fmt: skip
        self.label = label

    @staticmethod
    def check_source(radiometric: bool, what: str = "this camera") -> None:
        """Raise ``ValueError`` when the hotspot detector is configured for a picture-only source."""
        if not radiometric:
            raise ValueError(f"the hotspot detector needs temperatures, and {what} gives pictures only")

    def status(self) -> DetectorStatus:
        crit = []
        if self.threshold_c is not None:
            crit.append(f"> {self.threshold_c:g} °C")
        if self.delta_c is not None:
            crit.append(f"> background + {self.delta_c:g} °C")
        return DetectorStatus("ready", backend="numpy", model=self.name,
                              message=f"hot pixels {' and '.join(crit)}, blobs of {self.min_area}.."
                                      f"{self.max_area or 'frame/4'} px")  # fmt: skip

    @property
    def max_batch(self) -> int:
        return 16  # no model: a batch is a loop, any size is fine

    def background(self, celsius: np.ndarray) -> float:
        return float(np.percentile(celsius[::4, ::4], self.background_percentile))

    def cutoff(self, celsius: np.ndarray) -> tuple[float, float | None]:
        """(cutoff °C, background °C or None): pixels strictly above the cutoff are hot."""
        bg = self.background(celsius) if self.delta_c is not None else None
        levels = []
        if self.threshold_c is not None:
            levels.append(self.threshold_c)
        if bg is not None:
            levels.append(bg + self.delta_c)
        return max(levels), bg

    def detect(self, frames: list[Frame]) -> list[list[Detection]]:
        return [self.detect_one(f) for f in frames]

    def detect_one(self, frame: Frame) -> list[Detection]:
        c = frame.celsius
        if c is None:
            return []
        cut, bg = self.cutoff(c)
        mask = (c > cut).view(np.uint8)
        if not mask.any():
            return []
        grouped = cv2.dilate(mask, self._kernel) if self._kernel is not None else mask
        n, labels, stats, _ = cv2.connectedComponentsWithStats(grouped, connectivity=8, ltype=cv2.CV_32S)
        h, w = c.shape
        max_area = self.max_area if self.max_area is not None else max(self.min_area, (h * w) // 4)
        out = []
        for i in range(1, n):
            x, y, bw, bh, _ = (int(v) for v in stats[i])
            sel = labels[y:y + bh, x:x + bw] == i
            if self._kernel is not None:  # measure the hot pixels only, not the dilation around them
                sel &= mask[y:y + bh, x:x + bw].astype(bool)
            area = int(np.count_nonzero(sel))
            if not self.min_area <= area <= max_area:
                continue
            ys, xs = np.nonzero(sel)
            x1, y1, x2, y2 = x + int(xs.min()), y + int(ys.min()), x + int(xs.max()) + 1, y + int(ys.max()) + 1
            vals = c[y:y + bh, x:x + bw][sel]
            out.append(Detection(
                label=self.label, confidence=1.0, box=Box(float(x1), float(y1), float(x2), float(y2)),
                max_celsius=float(vals.max()), mean_celsius=float(vals.mean()),
                extra={"area": area, "background_c": bg, "cutoff_c": cut},
            ))  # fmt: skip
        out.sort(key=lambda d: d.max_celsius, reverse=True)
        return out[: self.max_blobs]
