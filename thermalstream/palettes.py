"""Temperature → display: the one registry of palettes (OpenCV LUT, Bokeh palette and colour bar all
come from the same 256-entry table), and level/span to white-hot grey.

Palettes (``PALETTES``), each a real table, darkest = coldest:

* ``white-hot`` / ``black-hot``: grey, and grey reversed (hot is black), the thermographer's defaults;
* ``ironbow``: our own piecewise-linear iron scale (black → indigo → purple → red → orange → yellow →
  white) with luminance rising monotonically; FLIR's table is proprietary and OpenCV's HOT map is not an
  ironbow (no blues or purples);
* ``rainbow``: Google's Turbo; ``inferno``: matplotlib's inferno;
* ``lava``, ``bmy``, ``gouldian``: perceptually uniform maps from colorcet (fire, bmy, gouldian).
"""

from __future__ import annotations

from functools import cache

import cv2
import numpy as np

IRONBOW_STOPS = [  # (position 0..1, RGB)
    (0.00, (0, 0, 0)), (0.10, (32, 0, 96)), (0.25, (110, 0, 150)), (0.40, (190, 20, 110)),
    (0.55, (232, 70, 30)), (0.70, (250, 140, 0)), (0.85, (255, 210, 40)), (1.00, (255, 255, 255)),
]


def _from_stops(stops) -> np.ndarray:
    x = np.linspace(0, 1, 256)
    pos = [p for p, _ in stops]
    return np.stack([np.interp(x, pos, [c[i] for _, c in stops]) for i in range(3)], axis=1).round().astype(np.uint8)


def _from_hex(colours: list[str]) -> np.ndarray:
    rgb = np.array([[int(h[i:i + 2], 16) for i in (1, 3, 5)] for h in colours], np.float64)
    if len(rgb) != 256:  # resample to 256 entries
        x = np.linspace(0, len(rgb) - 1, 256)
        rgb = np.stack([np.interp(x, np.arange(len(rgb)), rgb[:, i]) for i in range(3)], axis=1)
    return rgb.round().astype(np.uint8)


def _grey(reverse: bool = False) -> np.ndarray:
    g = np.arange(256, dtype=np.uint8)
    g = g[::-1] if reverse else g
    return np.stack([g, g, g], axis=1)


def _tables() -> dict[str, np.ndarray]:
    import colorcet as cc
    from bokeh.palettes import Inferno256, Turbo256

    return {
        "white-hot": _grey(), "black-hot": _grey(reverse=True), "ironbow": _from_stops(IRONBOW_STOPS),
        "rainbow": _from_hex(list(Turbo256)), "inferno": _from_hex(list(Inferno256)),
        "lava": _from_hex(list(cc.fire)), "bmy": _from_hex(list(cc.bmy)), "gouldian": _from_hex(list(cc.gouldian)),
    }


PALETTES: tuple[str, ...] = ("white-hot", "black-hot", "ironbow", "rainbow", "inferno", "lava", "bmy", "gouldian")


@cache
def table(palette: str) -> np.ndarray:
    """The palette's 256 x 3 RGB uint8 table (index 0: coldest)."""
    if palette not in PALETTES:
        raise ValueError(f"unknown palette {palette!r}; choose one of {', '.join(PALETTES)}")
    return _tables()[palette]


@cache
def lut_bgr(palette: str) -> np.ndarray:
    """The table as an OpenCV LUT (256 x 1 x 3, BGR)."""
    return np.ascontiguousarray(table(palette)[:, ::-1].reshape(256, 1, 3))


def bokeh_palette(palette: str) -> list[str]:
    """The table as 256 '#rrggbb' colours (Bokeh colour mappers, the live view's colour bar)."""
    return [f"#{int(r):02x}{int(g):02x}{int(b):02x}" for r, g, b in table(palette)]


def to_grey(celsius: np.ndarray, lo: float | None = None, hi: float | None = None) -> np.ndarray:
    """Map °C (or counts) to uint8 white-hot. ``lo``/``hi`` fix the span; None means per-frame min/max."""
    c = celsius
    if lo is None or hi is None:
        lo = float(c.min()) if lo is None else lo
        hi = float(c.max()) if hi is None else hi
    span = max(hi - lo, 1e-3)
    out = (c - lo) * (255.0 / span)
    np.clip(out, 0, 255, out=out)
    return out.astype(np.uint8)


def colourise(grey: np.ndarray, palette: str = "white-hot") -> np.ndarray:
    """Apply a named palette to a white-hot uint8 image; returns grey (white-hot) or BGR uint8."""
    lut = lut_bgr(palette)  # raises for unknown names
    if grey.ndim == 3 or palette == "white-hot":
        return grey
    if palette == "black-hot":
        return 255 - grey  # grey stays one channel
    return cv2.LUT(cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR), lut)


__all__ = ["PALETTES", "bokeh_palette", "colourise", "lut_bgr", "table", "to_grey"]
