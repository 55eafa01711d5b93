"""Drawing detections, masks and zones on a picture (screenshots and the live overlay).

:func:`annotate` returns a new BGR image: the frame in a palette, zones outlined, masks hatched
dark, and every detection as a box with ``label confidence #track max°C``. OpenCV's Hershey
fonts have no degree sign, so one is drawn as a small circle. Colours are fixed per label so a
person is the same colour in every screenshot and on the live view.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import cv2
import numpy as np

from thermalstream.detect.types import Detection
from thermalstream.detect.zones import ZoneConfig
from thermalstream.frame import Frame
from thermalstream.palettes import colourise

# BGR
LABEL_COLOURS: dict[str, tuple[int, int, int]] = {
    "person": (80, 220, 60), "car": (255, 160, 40), "motorcycle": (255, 90, 200), "bus": (255, 200, 0),
    "truck": (200, 120, 0), "bird": (0, 220, 255), "cat": (180, 90, 255), "dog": (60, 140, 255),
    "hotspot": (40, 40, 255),
}
ZONE_COLOUR = (255, 255, 0)
FONT = cv2.FONT_HERSHEY_SIMPLEX


def label_colour(label: str) -> tuple[int, int, int]:
    c = LABEL_COLOURS.get(label)
    if c is None:  # stable colour for other labels
        h = sum(label.encode()) * 37 % 180
        hsv = np.uint8([[[h, 200, 255]]])
        c = tuple(int(v) for v in cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)[0, 0])
    return c


def to_bgr(image: np.ndarray, palette: str = "white-hot") -> np.ndarray:
    """A BGR copy of a grey (palette applied) or BGR image."""
    if image.ndim == 2:
        out = colourise(image, palette)
        return cv2.cvtColor(out, cv2.COLOR_GRAY2BGR) if out.ndim == 2 else out.copy()
    return image.copy()


def caption(d: Detection) -> str:
    parts = [d.label, f"{d.confidence:.2f}"]
    if d.track_id is not None:
        parts.append(f"#{d.track_id}")
    text = " ".join(parts)
    if d.max_celsius is not None:
        text += f" {d.max_celsius:.1f}"
    return text


def _put_caption(img: np.ndarray, text: str, with_degree: bool, x: int, y: int, colour, scale: float) -> None:
    th = max(1, round(scale * 2))
    (tw, tht), base = cv2.getTextSize(text + (" C" if with_degree else ""), FONT, scale, th)
    _h, w = img.shape[:2]
    x = int(min(max(x, 0), max(w - tw - 4, 0)))
    top = y - tht - base - 4
    if top < 0:  # no room above the box: write inside it
        top = y
    cv2.rectangle(img, (x, top), (x + tw + 4, top + tht + base + 4), colour, -1)
    org = (x + 2, top + tht + 2)
    cv2.putText(img, text, org, FONT, scale, (0, 0, 0), th, cv2.LINE_AA)
    if with_degree:
        (w1, _), _ = cv2.getTextSize(text, FONT, scale, th)
        r = max(2, round(3 * scale))
        cx = org[0] + w1 + r + 1
        cv2.circle(img, (cx, org[1] - tht + r), r, (0, 0, 0), max(1, th // 2), cv2.LINE_AA)
        cv2.putText(img, "C", (cx + r + 1, org[1]), FONT, scale, (0, 0, 0), th, cv2.LINE_AA)


def draw_detections(img: np.ndarray, detections: Iterable[Detection], *, thickness: int | None = None) -> np.ndarray:
    """Draw boxes and captions onto the BGR image ``img`` in place; returns it."""
    h, w = img.shape[:2]
    t = thickness or max(1, round(min(h, w) / 240))
    scale = max(0.35, min(h, w) / 900)
    for d in detections:
        c = label_colour(d.label)
        b = d.box
        p1 = (round(b.x1), round(b.y1))
        p2 = (round(b.x2) - 1, round(b.y2) - 1)
        cv2.rectangle(img, p1, p2, c, t)
        _put_caption(img, caption(d), d.max_celsius is not None, p1[0], p1[1], c, scale)
    return img


def draw_zones(img: np.ndarray, zones: ZoneConfig | None) -> np.ndarray:
    """Outline zones (with their names) and darken masks on the BGR image ``img`` in place."""
    if zones is None:
        return img
    h, w = img.shape[:2]
    m = zones.mask_image(w, h)
    if m is not None:
        dark = img // 3
        np.copyto(img, dark, where=(m > 0)[..., None])
        for mask in zones.masks:
            cv2.polylines(img, [mask.to_pixels(w, h)], True, (90, 90, 90), 1, cv2.LINE_AA)
    for z in zones.zones:
        pts = z.to_pixels(w, h)
        cv2.polylines(img, [pts], True, ZONE_COLOUR, max(1, min(h, w) // 320), cv2.LINE_AA)
        x, y = pts[:, 0].min(), pts[:, 1].min()
        cv2.putText(img, z.name, (int(x) + 3, int(y) + 14), FONT, 0.45, ZONE_COLOUR, 1, cv2.LINE_AA)
    return img


def annotate(frame: Frame | np.ndarray, detections: Sequence[Detection], *, palette: str = "white-hot",
             zones: ZoneConfig | None = None) -> np.ndarray:
    """A new BGR picture of ``frame`` (a Frame or an image) with zones, masks and detections drawn."""
    image = frame.image if isinstance(frame, Frame) else frame
    img = to_bgr(image, palette)
    draw_zones(img, zones)
    return draw_detections(img, detections)


def overlay_items(detections: Iterable[Detection]) -> list[dict]:
    """JSON-able boxes for a client-side overlay (the live view's canvas)."""
    return [
        {
            "label": d.label, "confidence": round(d.confidence, 3), "track_id": d.track_id,
            "box": [round(d.box.x1, 1), round(d.box.y1, 1), round(d.box.x2, 1), round(d.box.y2, 1)],
            "max_celsius": None if d.max_celsius is None else round(d.max_celsius, 2),
            "colour": "#{:02x}{:02x}{:02x}".format(*tuple(reversed(label_colour(d.label)))),
        }
        for d in detections
    ]


__all__ = ["LABEL_COLOURS", "annotate", "caption", "draw_detections", "draw_zones", "label_colour", "overlay_items",
           "to_bgr"]
