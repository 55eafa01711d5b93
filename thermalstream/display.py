"""What a viewer sees of a radiometric frame: level/span (automatic or fixed, in the frame's own unit),
the palette, isotherms and hottest/coldest markers, and the scale for the colour bar.

Automatic level/span follows robust percentiles (1st and 99th, on a subsample of the frame) smoothed
over time, so the picture does not pump when a hot object enters or the sensor does a flat-field
correction. A fixed span keeps the same temperatures on the same colours.

Per-camera settings live in the camera row (``settings["display"]``) and are changed through
``PATCH /api/cameras/{id}/display``; :class:`DisplayState` keeps one camera's smoothing between frames.
"""

from __future__ import annotations

import threading
from typing import Literal

import cv2
import numpy as np
from pydantic import BaseModel, Field, model_validator

from thermalstream.frame import FFCState, Frame
from thermalstream.palettes import colourise

SMOOTHING = 0.15  # weight of a new frame's percentiles in the automatic span
SAMPLE_STEP = 4  # percentiles from every 4th pixel in each direction


class Isotherm(BaseModel):
    """Pixels above ``t1``, below ``t1``, or between ``t1`` and ``t2`` (the frame's unit) in ``colour``."""

    mode: Literal["above", "below", "between"]
    t1: float = Field(ge=-273.15, le=100000)
    t2: float | None = Field(default=None, ge=-273.15, le=100000)
    colour: str = Field(default="#00ff66", pattern=r"^#[0-9a-fA-F]{6}$")

    model_config = {"extra": "forbid"}

    @model_validator(mode="after")
    def _band(self) -> Isotherm:
        if self.mode == "between" and (self.t2 is None or self.t2 <= self.t1):
            raise ValueError("an isotherm 'between' needs t2 greater than t1")
        return self


class DisplaySettings(BaseModel):
    """A camera's display: ``span`` "auto" or "fixed" (``lo``..``hi`` in the frame's unit), an optional
    isotherm, and hottest/coldest markers."""

    span: Literal["auto", "fixed"] = "auto"
    lo: float | None = Field(default=None, ge=-273.15, le=100000)
    hi: float | None = Field(default=None, ge=-273.15, le=100000)
    isotherm: Isotherm | None = None
    markers: bool = False

    model_config = {"extra": "forbid"}

    @model_validator(mode="after")
    def _fixed(self) -> DisplaySettings:
        if self.span == "fixed" and (self.lo is None or self.hi is None or self.hi <= self.lo):
            raise ValueError("a fixed span needs lo and hi, with hi greater than lo")
        return self


class DisplayState:
    """One camera's display pipeline: ``render(frame, settings, palette)`` gives the BGR/grey picture;
    ``scale`` the newest (lo, hi, unit) for the colour bar."""

    def __init__(self) -> None:
        self._lo: float | None = None
        self._hi: float | None = None
        self._lock = threading.Lock()
        self.scale: tuple[float, float, str] | None = None

    def span(self, values: np.ndarray, settings: DisplaySettings, frozen: bool = False) -> tuple[float, float]:
        if settings.span == "fixed":
            return float(settings.lo), float(settings.hi)
        sample = values[::SAMPLE_STEP, ::SAMPLE_STEP]
        lo, hi = (float(v) for v in np.percentile(sample, (1, 99)))
        with self._lock:
            if self._lo is None:
                self._lo, self._hi = lo, hi
            elif not frozen:  # during a flat-field correction the span holds still
                self._lo += SMOOTHING * (lo - self._lo)
                self._hi += SMOOTHING * (hi - self._hi)
            lo, hi = self._lo, max(self._hi, self._lo + 0.1)
        return lo, hi

    def render(self, frame: Frame, settings: DisplaySettings, palette: str) -> np.ndarray:
        """The picture viewers see (before detection boxes), from the frame's values, or its own image
        for picture-only frames."""
        values = frame.measurement()
        if values is None:
            return frame.image
        ffc = frame.radiometry is not None and frame.radiometry.ffc_state == FFCState.IN_PROGRESS
        lo, hi = self.span(values, settings, frozen=ffc)
        scale = 255.0 / (hi - lo)
        grey = cv2.addWeighted(values, scale, values, 0.0, -lo * scale, dtype=cv2.CV_8U)  # saturates at 0, 255
        image = colourise(grey, palette)
        if settings.isotherm is not None or settings.markers:
            image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR) if image.ndim == 2 else image.copy()
            if settings.isotherm is not None:
                paint_isotherm(image, values, settings.isotherm)
            if settings.markers:
                draw_extremes(image, values)
        self.scale = (lo, hi, frame.temperature_unit or "")
        return image


def isotherm_mask(values: np.ndarray, iso: Isotherm) -> np.ndarray:
    if iso.mode == "above":
        return values > iso.t1
    if iso.mode == "below":
        return values < iso.t1
    return (values >= iso.t1) & (values <= iso.t2)


def paint_isotherm(image: np.ndarray, values: np.ndarray, iso: Isotherm) -> None:
    """Colour the isotherm's pixels in place (BGR image)."""
    r, g, b = (int(iso.colour[i:i + 2], 16) for i in (1, 3, 5))
    image[isotherm_mask(values, iso)] = (b, g, r)


def draw_extremes(image: np.ndarray, values: np.ndarray) -> None:
    """A red cross on the hottest pixel and a blue one on the coldest (in place, BGR)."""
    h, w = values.shape
    size = max(4, min(h, w) // 40)
    for idx, colour in ((int(np.argmax(values)), (0, 0, 255)), (int(np.argmin(values)), (255, 128, 0))):
        y, x = divmod(idx, w)
        cv2.drawMarker(image, (x, y), (0, 0, 0), cv2.MARKER_CROSS, size + 2, 3)
        cv2.drawMarker(image, (x, y), colour, cv2.MARKER_CROSS, size, 1)




class DisplayStore:
    """Each camera's :class:`DisplaySettings`, kept in its row (``settings["display"]``) and cached."""

    def __init__(self, db) -> None:
        self.db = db
        self._cache: dict[int, DisplaySettings] = {}
        self._lock = threading.Lock()

    def get(self, camera_id: int) -> DisplaySettings:
        with self._lock:
            cached = self._cache.get(camera_id)
        if cached is not None:
            return cached
        from thermalstream.db import repo

        with self.db.session() as s:
            row = repo.get_camera(s, camera_id)
            raw = ((row.settings or {}) if row is not None else {}).get("display")
        value = DisplaySettings.model_validate(raw) if raw else DisplaySettings()
        with self._lock:
            self._cache[camera_id] = value
        return value

    def set(self, camera_id: int, value: DisplaySettings) -> DisplaySettings:
        """Save (KeyError for an unknown camera); viewers see it from the next frame."""
        from thermalstream.db import repo

        with self.db.session() as s:
            row = repo.get_camera(s, camera_id)
            if row is None:
                raise KeyError(f"no camera {camera_id}")
            repo.update_camera(s, camera_id, settings={**(row.settings or {}), "display": value.model_dump()})
        with self._lock:
            self._cache[camera_id] = value
        return value

    def forget(self, camera_id: int) -> None:
        with self._lock:
            self._cache.pop(camera_id, None)


__all__ = ["DisplaySettings", "DisplayState", "DisplayStore", "Isotherm", "draw_extremes", "isotherm_mask",
           "paint_isotherm"]
