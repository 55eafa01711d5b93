"""Detection: detectors (YOLO through ultralytics, thermal hotspots), motion gate, tracking, events."""

from thermalstream.detect.types import (
    DEFAULT_CLASSES,
    Box,
    Detection,
    Detector,
    DetectorStatus,
    box_temperatures,
)

__all__ = ["DEFAULT_CLASSES", "Box", "Detection", "Detector", "DetectorStatus", "box_temperatures"]
