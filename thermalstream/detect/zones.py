"""Per-camera masks and zones, stored in the camera's settings JSON.

* **Masks** (``camera.settings["masks"]``) are regions the detection ignores: a radiator, a
  window in the sun, a road you do not care about. Motion inside a mask is not motion, and a
  detection whose *bottom-centre* lies inside a mask is dropped.
* **Zones** (``camera.settings["zones"]``) are named regions. An object is *in* a zone when
  the bottom-centre of its box (where it stands) lies inside the polygon. A zone with
  ``"required": true`` makes events of that camera notify only once their object has entered
  one of the required zones (optionally only for the zone's ``labels``).

Coordinates are **normalised**: x and y in 0..1 as fractions of the frame's width and height,
(0, 0) the top-left corner. They survive a change of camera resolution and are what the UI
draws on a canvas of any size. A polygon has at least three points.

JSON form (what :func:`masks_to_json` / :func:`zones_to_json` write)::

    "masks": [{"name": "radiator", "points": [[0.1, 0.5], [0.3, 0.5], [0.3, 0.9]]}]
    "zones": [{"name": "door", "points": [[0.4, 0.4], [0.6, 0.4], [0.6, 1.0], [0.4, 1.0]],
               "required": true, "labels": ["person"]}]

A mask may also be given as a bare list of points. Everything else raises :class:`ZoneError`
(a ``ValueError``) whose message says what is wrong and where.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from thermalstream.detect.types import Box

MAX_POINTS = 100
MAX_POLYGONS = 32
_NAME_RE = re.compile(r"^[\w .:-]{1,64}$")

Point = tuple[float, float]


class ZoneError(ValueError):
    """Invalid mask or zone definition."""


@dataclass(frozen=True)
class Polygon:
    """A polygon in normalised coordinates (0..1)."""

    points: tuple[Point, ...]

    def to_pixels(self, width: int, height: int) -> np.ndarray:
        """int32 (N, 2) array of pixel vertices for an image of ``width`` x ``height``."""
        pts = np.asarray(self.points, dtype=np.float64) * (width, height)
        return np.round(pts).astype(np.int32)

    def contains(self, x: float, y: float) -> bool:
        """Is the normalised point (x, y) inside (or on the edge of) the polygon?"""
        return point_in_polygon(x, y, self.points)


@dataclass(frozen=True)
class Mask(Polygon):
    name: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "points": [list(p) for p in self.points]}


@dataclass(frozen=True)
class Zone(Polygon):
    name: str = ""
    required: bool = False
    labels: tuple[str, ...] = ()  # empty: every label

    def applies_to(self, label: str) -> bool:
        return not self.labels or label in self.labels

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "points": [list(p) for p in self.points], "required": self.required,
                "labels": list(self.labels)}


@dataclass(frozen=True)
class ZoneConfig:
    """A camera's masks and zones."""

    masks: tuple[Mask, ...] = ()
    zones: tuple[Zone, ...] = ()
    _cache: dict = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any] | None) -> ZoneConfig:
        """Read ``settings["masks"]`` and ``settings["zones"]`` (missing: none); raises ZoneError."""
        settings = settings or {}
        return cls(parse_masks(settings.get("masks")), parse_zones(settings.get("zones")))

    def to_settings(self) -> dict[str, Any]:
        """``{"masks": [...], "zones": [...]}`` to merge into a camera's settings."""
        return {"masks": masks_to_json(self.masks), "zones": zones_to_json(self.zones)}

    @property
    def required_zones(self) -> tuple[Zone, ...]:
        return tuple(z for z in self.zones if z.required)

    def mask_image(self, width: int, height: int) -> np.ndarray | None:
        """uint8 (height, width) image, 255 inside any mask; None without masks (cached per size)."""
        if not self.masks:
            return None
        key = (width, height)
        img = self._cache.get(key)
        if img is None:
            img = mask_image(self.masks, width, height)
            self._cache[key] = img
        return img

    def is_masked(self, box: Box, width: int, height: int) -> bool:
        """Does the box's bottom-centre lie inside a mask?"""
        if not self.masks:
            return False
        x, y = anchor(box, width, height)
        return any(m.contains(x, y) for m in self.masks)

    def zones_of(self, box: Box, width: int, height: int, label: str | None = None) -> list[str]:
        """Names of the zones the box's bottom-centre is in (only zones that apply to ``label``)."""
        if not self.zones:
            return []
        x, y = anchor(box, width, height)
        return [z.name for z in self.zones if (label is None or z.applies_to(label)) and z.contains(x, y)]


# --------------------------------------------------------------------------- geometry


def anchor(box: Box, width: int, height: int) -> Point:
    """The normalised bottom-centre of a pixel box (where an object stands)."""
    return ((box.x1 + box.x2) / 2.0 / max(width, 1), box.y2 / max(height, 1))


def point_in_polygon(x: float, y: float, points: Sequence[Point]) -> bool:
    """Even-odd ray casting; points on an edge count as inside."""
    n = len(points)
    inside = False
    j = n - 1
    for i in range(n):
        xi, yi = points[i]
        xj, yj = points[j]
        # on the edge (collinear and between the ends)?
        cross = (x - xi) * (yj - yi) - (y - yi) * (xj - xi)
        if abs(cross) < 1e-12 and min(xi, xj) - 1e-12 <= x <= max(xi, xj) + 1e-12 \
                and min(yi, yj) - 1e-12 <= y <= max(yi, yj) + 1e-12:
            return True
        if (yi > y) != (yj > y):
            xc = xi + (y - yi) * (xj - xi) / (yj - yi)
            if x < xc:
                inside = not inside
        j = i
    return inside


def mask_image(polygons: Iterable[Polygon], width: int, height: int) -> np.ndarray:
    """uint8 (height, width), 255 inside any of the polygons."""
    img = np.zeros((height, width), np.uint8)
    pts = [p.to_pixels(width, height) for p in polygons]
    if pts:
        cv2.fillPoly(img, pts, 255)
    return img


# --------------------------------------------------------------------------- (de)serialisation


def _points(value: Any, where: str) -> tuple[Point, ...]:
    if not isinstance(value, (list, tuple)):
        raise ZoneError(f"{where}: points must be a list of [x, y] pairs")
    if len(value) < 3:
        raise ZoneError(f"{where}: a polygon needs at least 3 points, got {len(value)}")
    if len(value) > MAX_POINTS:
        raise ZoneError(f"{where}: at most {MAX_POINTS} points")
    out = []
    for i, p in enumerate(value):
        if not isinstance(p, (list, tuple)) or len(p) != 2:
            raise ZoneError(f"{where}: point {i} must be [x, y]")
        try:
            x, y = float(p[0]), float(p[1])
        except (TypeError, ValueError):
            raise ZoneError(f"{where}: point {i} has a non-numeric coordinate") from None
        if isinstance(p[0], bool) or isinstance(p[1], bool):
            raise ZoneError(f"{where}: point {i} has a non-numeric coordinate")
        if not (math.isfinite(x) and math.isfinite(y) and 0.0 <= x <= 1.0 and 0.0 <= y <= 1.0):
            raise ZoneError(
                f"{where}: point {i} ({x:g}, {y:g}) is outside 0..1; coordinates are fractions of the "
                "frame's width and height")
        out.append((x, y))
    # a polygon with no area (all points on one line) masks nothing: refuse it
    area = 0.0
    for i in range(len(out)):
        x1, y1 = out[i]
        x2, y2 = out[(i + 1) % len(out)]
        area += x1 * y2 - x2 * y1
    if abs(area) < 1e-9:
        raise ZoneError(f"{where}: the polygon has no area")
    return tuple(out)


def _name(value: Any, where: str, required: bool) -> str:
    if value is None or value == "":
        if required:
            raise ZoneError(f"{where}: a zone needs a name")
        return ""
    if not isinstance(value, str) or not _NAME_RE.match(value):
        raise ZoneError(f"{where}: name must be 1-64 letters, digits, spaces or . : _ -")
    return value


def _list(value: Any, what: str) -> list:
    if value is None:
        return []
    if not isinstance(value, (list, tuple)):
        raise ZoneError(f"{what} must be a list")
    if len(value) > MAX_POLYGONS:
        raise ZoneError(f"at most {MAX_POLYGONS} {what}")
    return list(value)


def parse_masks(value: Any) -> tuple[Mask, ...]:
    """Masks from their JSON form (list of ``{"name", "points"}`` or of bare point lists)."""
    out = []
    for i, m in enumerate(_list(value, "masks")):
        where = f"mask {i}"
        if isinstance(m, Mapping):
            unknown = set(m) - {"name", "points"}
            if unknown:
                raise ZoneError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
            out.append(Mask(_points(m.get("points"), where), name=_name(m.get("name"), where, False)))
        else:
            out.append(Mask(_points(m, where)))
    return tuple(out)


def parse_zones(value: Any) -> tuple[Zone, ...]:
    """Zones from their JSON form; names must be unique."""
    out: list[Zone] = []
    for i, z in enumerate(_list(value, "zones")):
        where = f"zone {i}"
        if not isinstance(z, Mapping):
            raise ZoneError(f"{where}: must be an object with name and points")
        unknown = set(z) - {"name", "points", "required", "labels"}
        if unknown:
            raise ZoneError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
        name = _name(z.get("name"), where, True)
        if any(o.name == name for o in out):
            raise ZoneError(f"{where}: duplicate zone name {name!r}")
        required = z.get("required", False)
        if not isinstance(required, bool):
            raise ZoneError(f"{where}: required must be true or false")
        labels = z.get("labels") or []
        if not isinstance(labels, (list, tuple)) or not all(isinstance(x, str) and x for x in labels):
            raise ZoneError(f"{where}: labels must be a list of class names")
        out.append(Zone(_points(z.get("points"), where), name=name, required=required, labels=tuple(labels)))
    return tuple(out)


def masks_to_json(masks: Iterable[Mask]) -> list[dict[str, Any]]:
    return [m.to_json() for m in masks]


def zones_to_json(zones: Iterable[Zone]) -> list[dict[str, Any]]:
    return [z.to_json() for z in zones]


__all__ = [
    "Mask", "Polygon", "Zone", "ZoneConfig", "ZoneError", "anchor", "mask_image", "masks_to_json",
    "parse_masks", "parse_zones", "point_in_polygon", "zones_to_json",
]
