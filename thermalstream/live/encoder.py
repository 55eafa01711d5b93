"""Per-camera JPEG encoder shared by all viewers.

The encoder thread runs only while someone watches. It waits for the camera's newest
frame, encodes it once (palette applied, at most ``max_fps``) and hands the same bytes to
every listener. Listeners must not block: the WebSocket layer hops onto its event loop and
skips frames for a viewer whose previous frame is still being sent.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from thermalstream.capture.camera import Camera
from thermalstream.display import DisplaySettings, DisplayState
from thermalstream.frame import Frame
from thermalstream.live.pictures import PictureFanout

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EncodedFrame:
    seq: int
    timestamp: float  # capture time of the frame (epoch seconds)
    jpeg: bytes


Listener = Callable[[EncodedFrame], None]


def encode_jpeg(image: np.ndarray, quality: int = 80) -> bytes:
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return buf.tobytes()


class LiveEncoder(PictureFanout[EncodedFrame]):
    def __init__(
        self,
        camera: Camera,
        quality: int = 80,
        max_fps: float = 25.0,
        palette: Callable[[], str] | str = "inferno",
        annotate: Callable[[np.ndarray], np.ndarray] | None = None,
        display: Callable[[], DisplaySettings] | None = None,
    ) -> None:
        """``annotate(image)`` may return a copy with detections drawn on it (never draw in place:
        the frame's image is shared with the recorder). ``display()`` gives the camera's level/span,
        isotherm and markers (default: automatic span); ``self.display.scale`` is the colour bar's."""
        super().__init__()  # listeners, readers and the newest picture
        self.camera = camera
        self.quality = quality
        self.min_interval = 1.0 / max_fps if max_fps > 0 else 0.0
        self._palette = palette if callable(palette) else (lambda: palette)
        self._annotate = annotate
        self._settings = display or DisplaySettings
        self.display = DisplayState()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    # ----- consumers (add_listener, wait and viewers: PictureFanout)
    def snapshot(self) -> EncodedFrame | None:
        """The newest frame as JPEG, encoding it now if nobody is watching."""
        latest = self._latest
        frame = self.camera.latest()
        if frame is None:
            return latest
        if latest is not None and latest.seq >= frame.seq:
            return latest
        return self._encode(frame)

    # ----- encoder thread
    def _watched(self) -> None:
        """Someone watches: run the encoder thread (it stops 5 s after the last viewer left)."""
        with self._cond:
            if self._thread is not None:
                return
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name=f"encode-{self.camera.id}", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(2)

    def render(self, frame: Frame) -> np.ndarray:
        """The image viewers see: level/span, palette, isotherm and markers for frames with values (°C
        or counts), the source's picture otherwise; detections drawn on top."""
        image = self.display.render(frame, self._settings(), self._palette())
        return self._annotate(image) if self._annotate is not None else image

    def _encode(self, frame: Frame) -> EncodedFrame:
        return EncodedFrame(frame.seq, frame.timestamp, encode_jpeg(self.render(frame), self.quality))

    def _run(self) -> None:
        seq = -1
        idle_since = None
        next_due = 0.0
        while not self._stop.is_set():
            if self.viewers == 0:
                idle_since = idle_since or time.monotonic()
                if time.monotonic() - idle_since > 5.0:
                    with self._cond:  # nobody watching: stop spending CPU
                        if self.viewers == 0:
                            self._thread = None
                            return
            else:
                idle_since = None
            frame = self.camera.wait_frame(seq, timeout=0.5)
            if frame is None:
                continue
            now = time.monotonic()
            if now < next_due:
                self._stop.wait(next_due - now)
                frame = self.camera.latest() or frame
            next_due = max(next_due + self.min_interval, time.monotonic())
            seq = frame.seq
            try:
                enc = self._encode(frame)
            except Exception:  # noqa: BLE001
                log.exception("encode failed on camera %s", self.camera.id)
                continue
            self._publish(enc)
