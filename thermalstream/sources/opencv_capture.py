"""OpenCV capture: USB/V4L2 devices, RTSP streams and video files."""

from __future__ import annotations

import time

import cv2
import numpy as np

from thermalstream.frame import Frame
from thermalstream.sources.base import CorruptData, Source, SourceClosed, SourceError, SourceInfo
from thermalstream.sources.pacing import Pacer, flag
from thermalstream.sources.url import CameraURL

OPEN_TIMEOUT_MS = 8000
READ_TIMEOUT_MS = 8000


class OpenCVSource(Source):
    """Frames from ``cv2.VideoCapture``. Files play at their own frame rate and loop by default
    (``?loop=0`` plays once; ``?pace=0`` reads as fast as possible)."""

    def __init__(self, url: CameraURL) -> None:
        self.url = url
        self.cap: cv2.VideoCapture | None = None
        self.seq = 0
        self._loop = flag(url.params, "loop", default=True)
        self._pace = flag(url.params, "pace", default=True)
        self._pacer = Pacer()

    def _target(self) -> tuple[int | str, int]:
        if self.url.kind == "usb":
            return self.url.device, cv2.CAP_V4L2 if isinstance(self.url.device, str) else cv2.CAP_ANY
        if self.url.kind == "file":
            return str(self.url.path), cv2.CAP_FFMPEG
        return self.url.raw, cv2.CAP_FFMPEG

    def open(self) -> SourceInfo:
        target, api = self._target()
        params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, OPEN_TIMEOUT_MS, cv2.CAP_PROP_READ_TIMEOUT_MSEC, READ_TIMEOUT_MS]
        cap = cv2.VideoCapture(target, api, params)
        if not cap.isOpened():
            cap.release()
            raise SourceError(self._open_error())
        ok, img = cap.read()
        if not ok or img is None:
            cap.release()
            raise CorruptData(f"{self.url.masked}: opened but no frame could be decoded")
        self.cap = cap
        self._first = img
        fps = cap.get(cv2.CAP_PROP_FPS)
        fps = float(fps) if fps and 0 < fps < 500 else None
        self.info = SourceInfo(
            kind="opencv",
            width=img.shape[1],
            height=img.shape[0],
            fps=fps,
            radiometric=False,
            live=not self.url.is_file,
            description=f"{self.url.kind} via OpenCV {cap.getBackendName()}",
        )
        return self.info

    def _open_error(self) -> str:
        if self.url.kind == "file":
            return f"{self.url.masked}: not a readable video file"
        if self.url.kind == "usb":
            return f"cannot open video device {self.url.device}: not present or busy"
        return f"cannot connect to {self.url.masked}: host unreachable, stream not found or not a video stream"

    def _grab(self) -> np.ndarray:
        if self.cap is None:
            raise SourceClosed("source is closed")
        if self._first is not None:
            img, self._first = self._first, None
            return img
        ok, img = self.cap.read()
        if ok and img is not None:
            return img
        if self.url.is_file and self._loop and self.seq > 0:
            self.cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
            ok, img = self.cap.read()
            if ok and img is not None:
                return img
        if self.url.is_file:
            raise SourceClosed(f"{self.url.masked}: end of file")
        raise SourceError(f"{self.url.masked}: stream stopped sending frames")

    def read(self) -> Frame:
        img = self._grab()
        if self.url.is_file and self._pace:
            self._pacer.wait(self.info.fps)
        if img.dtype != np.uint8:
            img = cv2.convertScaleAbs(img, alpha=255.0 / max(float(img.max()), 1.0))
        self.seq += 1
        return Frame(image=img, seq=self.seq, timestamp=time.time())

    def close(self) -> None:
        cap, self.cap = self.cap, None
        if cap is not None:
            cap.release()
