"""Typed detections and the detector interface shared by every detector (YOLO, hotspots)."""

from __future__ import annotations

import abc
from dataclasses import dataclass, field

import numpy as np

from thermalstream.frame import Frame

# Time limits are compared with this slack (seconds): frame times are floats of the wall clock, so
# "3 frames at 5 fps" may come out as 0.59999 s or 0.60001 s; without it the same frames would be
# judged differently depending on the clock's absolute value.
TIME_EPS_S = 1e-3
TOPIC_STATE = "detection.state"  # bus topic {"camera_id", "active"}: a camera's detection started or stopped

# COCO classes the product detects by default (ultralytics class ids).
DEFAULT_CLASSES: dict[int, str] = {
    0: "person", 2: "car", 3: "motorcycle", 5: "bus", 7: "truck", 14: "bird", 15: "cat", 16: "dog",
}


@dataclass(frozen=True)
class Box:
    """Pixel box in the camera frame, (x1, y1) inclusive top-left, (x2, y2) bottom-right."""

    x1: float
    y1: float
    x2: float
    y2: float

    @property
    def area(self) -> float:
        return max(0.0, self.x2 - self.x1) * max(0.0, self.y2 - self.y1)

    @property
    def center(self) -> tuple[float, float]:
        return ((self.x1 + self.x2) / 2, (self.y1 + self.y2) / 2)


@dataclass(frozen=True)
class Detection:
    """One object found in one frame. ``max_celsius``/``mean_celsius`` are set for frames in °C;
    ``max_counts`` for frames of an uncalibrated source (raw sensor counts, never called °C)."""

    label: str
    confidence: float
    box: Box
    class_id: int | None = None
    track_id: int | None = None
    max_celsius: float | None = None
    mean_celsius: float | None = None
    extra: dict = field(default_factory=dict)
    max_counts: float | None = None


@dataclass(frozen=True)
class DetectorStatus:
    """What /health and the UI show: ``state`` is ready, loading, unavailable or error."""

    state: str
    backend: str = ""
    model: str = ""
    message: str = ""  # what went wrong and what to do about it


class Detector(abc.ABC):
    """Finds objects in frames. ``detect`` takes a batch (one frame per camera) and returns one
    list of detections per frame, in pixel coordinates of that frame."""

    name: str = "detector"
    stateful: bool = False  # True: learns per camera; wants each camera's sampled frames in order
    tracks_objects: bool = False  # True: sets Detection.track_id itself (the service's tracker is skipped)

    @abc.abstractmethod
    def detect(self, frames: list[Frame]) -> list[list[Detection]]: ...

    def detect_keyed(self, keys: list, frames: list[Frame]) -> list[list[Detection]]:
        """Like :meth:`detect`, knowing each frame's camera (``keys``); stateful detectors keep one
        state per key."""
        return self.detect(frames)

    def forget(self, key: object) -> None:
        """Drop what a stateful detector learnt about camera ``key`` (camera removed)."""

    def status(self) -> DetectorStatus:
        return DetectorStatus("ready", model=self.name)

    @property
    def max_batch(self) -> int:
        return 1


def box_temperatures(celsius: np.ndarray | None, box: Box) -> tuple[float | None, float | None]:
    """(max, mean) °C inside ``box``; (None, None) without temperatures or for an empty box."""
    if celsius is None:
        return None, None
    h, w = celsius.shape
    x1, y1 = max(0, int(box.x1)), max(0, int(box.y1))
    x2, y2 = min(w, int(np.ceil(box.x2))), min(h, int(np.ceil(box.y2)))
    if x2 <= x1 or y2 <= y1:
        return None, None
    roi = celsius[y1:y2, x1:x2]
    return float(roi.max()), float(roi.mean())
