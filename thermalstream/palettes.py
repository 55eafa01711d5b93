"""Temperature → display image mapping (level/span and false-colour palettes)."""

from __future__ import annotations

import cv2
import numpy as np

PALETTES = {
    "white-hot": None,
    "black-hot": None,
    "inferno": cv2.COLORMAP_INFERNO,
    "rainbow": cv2.COLORMAP_TURBO,
    "ironbow": cv2.COLORMAP_HOT,
    "lava": cv2.COLORMAP_MAGMA,
}


def to_grey(celsius: np.ndarray, lo: float | None = None, hi: float | None = None) -> np.ndarray:
    """Map °C to uint8 white-hot. ``lo``/``hi`` fix the span; None means per-frame min/max."""
    c = celsius
    if lo is None or hi is None:
        # Robust per-frame span: 1st and 99.9th percentile would be nicer but cost 10x; min/max is O(n).
        lo = float(c.min()) if lo is None else lo
        hi = float(c.max()) if hi is None else hi
    span = max(hi - lo, 1e-3)
    out = (c - lo) * (255.0 / span)
    np.clip(out, 0, 255, out=out)
    return out.astype(np.uint8)


def colourise(grey: np.ndarray, palette: str = "white-hot") -> np.ndarray:
    """Apply a named palette to a white-hot uint8 image; returns grey or BGR uint8."""
    if palette not in PALETTES:
        raise ValueError(f"unknown palette {palette!r}; choose one of {sorted(PALETTES)}")
    if grey.ndim == 3:
        return grey
    if palette == "white-hot":
        return grey
    if palette == "black-hot":
        return 255 - grey
    return cv2.applyColorMap(grey, PALETTES[palette])
