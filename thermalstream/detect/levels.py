"""The whole picture's level and gain, for the weightless detector: sensor noise, a smooth level
field, and the affine map that an automatic gain change applies to every pixel.

Kept apart from :mod:`thermalstream.detect.hotspot` (which decides what they mean) so each rule
can be read and tested on its own."""

from __future__ import annotations

import math

import cv2
import numpy as np


def frame_noise(small: np.ndarray, prev: np.ndarray | None) -> float:
    """Temporal noise sigma from the difference with the previous frame (robust: 90th percentile of
    the absolute deviation from the median, so moving objects and integer steps barely count)."""
    if prev is None:
        return 0.0
    d = (small[::2, ::2] - prev[::2, ::2]).ravel()
    d = np.abs(d - np.median(d))
    q90 = float(np.partition(d, int(0.9 * (d.size - 1)))[int(0.9 * (d.size - 1))])
    return q90 / (1.645 * math.sqrt(2.0))


def robust_sd(values: np.ndarray) -> float:
    """Robust standard deviation: 1.4826 times the median absolute deviation from the median."""
    return 1.4826 * float(np.median(np.abs(values - np.median(values))))


def calm_since(since: np.ndarray | None, frame: np.ndarray, prev: np.ndarray | None, sigma: float | None,
               t: float) -> np.ndarray:
    """Per pixel, since when its value stayed within the noise of the previous frame's (3 standard
    deviations of a difference of two frames); ``since`` is updated in place when it fits."""
    if since is None or since.shape != frame.shape:
        return np.full(frame.shape, t, np.float64)
    if prev is not None and sigma is not None:
        since[np.abs(frame - prev) > 3.0 * math.sqrt(2.0) * sigma] = t
    return since


def level_field(diff: np.ndarray, clip: float, objects: np.ndarray, cells: tuple[int, int]) -> np.ndarray:
    """Smooth level change: per cell of a ``cells`` (rows, columns) grid, the mean difference of the
    pixels that are neither far from the level nor under ``objects``, interpolated between cells."""
    gy, gx = cells
    h, w = diff.shape
    ok = ((np.abs(diff) < clip) & ~objects).astype(np.float32)
    num = cv2.resize(diff * ok, (gx, gy), interpolation=cv2.INTER_AREA)
    den = cv2.resize(ok, (gx, gy), interpolation=cv2.INTER_AREA)
    cell = np.where(den > 0.25, num / np.maximum(den, 1e-6), np.float32(0.0)).astype(np.float32)
    return cv2.resize(cell, (w, h), interpolation=cv2.INTER_LINEAR)


def gain_map(prev: np.ndarray, frame: np.ndarray, sigma: float) -> tuple[float, float, float]:
    """The affine map ``frame ~ a * prev + b`` that best explains a jump of the whole picture from
    the previous frame, and the robust spread of what it leaves (same units as ``sigma``). Each of
    three rounds refits on the pixels within 3 spreads of the last fit, so people walking between
    the two frames do not bend it. An automatic gain change leaves about the sensor's noise; a
    flat-field correction, which changes every pixel's own offset, leaves many times more (a real
    Lepton FFC: 10 counts against 1)."""
    x = prev[::2, ::2].ravel().astype(np.float64)
    y = frame[::2, ::2].ravel().astype(np.float64)
    if x.size < 16 or float(np.ptp(x)) <= 0.0:
        return 1.0, float(np.median(y - x)) if x.size else 0.0, math.inf
    m = np.ones(x.size, bool)
    a, b, spread = 1.0, 0.0, math.inf
    for _ in range(3):
        if m.sum() < 16:
            break
        a, b = np.polyfit(x[m], y[m], 1)
        r = y - (a * x + b)
        spread = robust_sd(r[m])
        m = np.abs(r) < 3.0 * max(spread, sigma)
    return float(a), float(b), spread
