"""Capture: camera threads, reconnection, frame fan-out and statistics."""

from thermalstream.capture.backoff import Backoff
from thermalstream.capture.camera import Camera, CameraStatus
from thermalstream.capture.fanout import FanOut, LatestFrame, Subscription
from thermalstream.capture.manager import CameraManager
from thermalstream.capture.stats import CameraStats

__all__ = ["Backoff", "Camera", "CameraManager", "CameraStats", "CameraStatus", "FanOut", "LatestFrame", "Subscription"]
