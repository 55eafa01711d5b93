"""One camera: a capture thread that owns its source, reconnects with backoff and fans frames out."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from enum import Enum

from thermalstream.bus import EventBus
from thermalstream.capture.backoff import Backoff
from thermalstream.capture.fanout import FanOut, Subscription
from thermalstream.capture.stats import CameraStats, FpsMeter
from thermalstream.frame import Frame
from thermalstream.sources import CorruptData, Source, SourceClosed, SourceError, SourceInfo, make_source
from thermalstream.sources.url import CameraURL, mask_text, parse_camera_url

log = logging.getLogger(__name__)


class CameraStatus(str, Enum):
    CONNECTING = "connecting"
    LIVE = "live"
    RECONNECTING = "reconnecting"
    FAILED = "failed"
    STOPPED = "stopped"


SourceFactory = Callable[[CameraURL], Source]

DEFAULT_STALL_S = 3.0


def stall_limit(kind: str, fps: float | None, stall_s: float | None) -> float | None:
    """Seconds without a frame after which a live camera counts as stalled (None: never). Files
    pace themselves and end, so they have no watchdog; every other source gets ``stall_s`` but at
    least three periods of its nominal rate (a snapshot camera polled at 0.5 fps: 6 s)."""
    if not stall_s or kind in ("file", "cptv", "flir"):
        return None
    return max(float(stall_s), 3.0 / fps if fps and fps > 0 else 0.0)


class Camera:
    """Runs ``source`` in its own thread. Status moves connecting → live, then reconnecting on
    errors; failed when the error cannot heal (a file that is not video) or when a camera never
    came up after ``fail_after`` tries (it keeps retrying at the backoff cap and goes live when
    it can). Capture never waits on a consumer."""

    def __init__(
        self,
        url: str | CameraURL,
        camera_id: int | str = 0,
        name: str = "",
        *,
        bus: EventBus | None = None,
        source_factory: SourceFactory = make_source,
        backoff: Backoff | None = None,
        fail_after: int = 3,
        stall_s: float | None = DEFAULT_STALL_S,
    ) -> None:
        self.url = url if isinstance(url, CameraURL) else parse_camera_url(url)
        self.id = camera_id
        self.name = name or self.url.masked
        self.bus = bus
        self.fanout = FanOut()
        self.info: SourceInfo | None = None
        self.status = CameraStatus.STOPPED
        self.reason = ""
        self._factory = source_factory
        self._backoff = backoff or Backoff()
        self._fail_after = fail_after
        self._meter = FpsMeter()
        self._frames = 0
        self._reconnects = 0
        self._seq = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._source: Source | None = None
        self.stall_s = stall_s  # see stall_limit(); None or 0: no watchdog
        self._stalled: str | None = None  # the watchdog's reason while it forces a reconnect

    # ----- lifecycle
    def start(self) -> "Camera":
        if self._thread is not None and self._thread.is_alive():
            return self
        self._stop.clear()
        self._set_status(CameraStatus.CONNECTING, "")
        self._thread = threading.Thread(target=self._run, name=f"capture-{self.id}", daemon=True)
        self._thread.start()
        if stall_limit(self.url.kind, None, self.stall_s) is not None:
            threading.Thread(target=self._watch, name=f"stall-watch-{self.id}", daemon=True).start()
        return self

    def _watch(self) -> None:
        while not self._stop.wait(0.25):
            self.check_stall()

    def check_stall(self) -> bool:
        """The stall watchdog: a live camera whose connection is open but delivers no frame for
        :func:`stall_limit` seconds goes to "reconnecting" and its source is closed (which
        unblocks the read), so the capture loop reconnects. True when it fired."""
        last = self._meter.last
        if self.status is not CameraStatus.LIVE or last is None:
            return False
        limit = stall_limit(self.url.kind, self.info.fps if self.info else None, self.stall_s)
        age = time.monotonic() - last
        if limit is None or age < limit:
            return False
        self._stalled = f"stalled: no frame for {age:.1f} s (limit {limit:g} s)"
        self._set_status(CameraStatus.RECONNECTING, self._stalled)
        src = self._source
        if src is not None:
            try:
                src.close()
            except Exception:  # noqa: BLE001
                log.debug("close failed", exc_info=True)
        return True

    def stop(self, timeout: float = 5.0) -> None:
        """Stop capturing and release the source; safe to call twice."""
        self._stop.set()
        src = self._source
        if src is not None:
            try:
                src.close()  # unblocks a read stuck on a socket
            except Exception:  # noqa: BLE001
                log.debug("close failed", exc_info=True)
        self.fanout.latest.wake()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)
        self._set_status(CameraStatus.STOPPED, "")

    close = stop

    def __enter__(self) -> "Camera":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # ----- consumers
    def view(self, **params):
        """This camera's live pane for a notebook (``ts.notebook()`` first); Panel is imported only now."""
        from thermalstream.views.camera_view import CameraView

        return CameraView(camera=self, **params)

    def latest(self) -> Frame | None:
        return self.fanout.latest.get()

    def wait_frame(self, after_seq: int = -1, timeout: float | None = 5.0) -> Frame | None:
        """The newest frame with seq > ``after_seq``; None on timeout or stop."""
        return self.fanout.latest.wait_newer(after_seq, timeout)

    def read(self, timeout: float = 10.0) -> Frame:
        """The next new frame (notebook use). Raises SourceError with the camera's reason on timeout."""
        if not self.running and self.status is not CameraStatus.FAILED:
            self.start()
        current = self.latest()
        frame = self.wait_frame(current.seq if current else -1, timeout)
        if frame is None:
            raise SourceError(f"no frame from {self.name} within {timeout:.0f} s ({self.status.value}: {self.reason})")
        return frame

    def subscribe(self, maxsize: int = 64, name: str = "") -> Subscription:
        """A queue of every frame (for recorders); drops are counted, capture never blocks."""
        return self.fanout.subscribe(maxsize, name)

    def unsubscribe(self, sub: Subscription) -> None:
        self.fanout.unsubscribe(sub)

    def stats(self) -> CameraStats:
        last = self._meter.last
        return CameraStats(
            fps=round(self._meter.fps(), 2),
            frames=self._frames,
            dropped=self.fanout.dropped,
            last_frame_age=None if last is None else round(time.monotonic() - last, 3),
            reconnects=self._reconnects,
        )

    def describe(self) -> dict:
        """JSON-able status (URL credentials masked)."""
        info = self.info
        return {
            "id": self.id,
            "name": self.name,
            "url": self.url.masked,
            "kind": self.url.kind,
            "status": self.status.value,
            "reason": self.reason,
            "radiometric": bool(info and info.radiometric),
            "width": info.width if info else None,
            "height": info.height if info else None,
            **self.stats().as_dict(),
        }

    # ----- capture thread
    def _set_status(self, status: CameraStatus, reason: str) -> None:
        reason = mask_text(reason.replace(self.url.raw, self.url.masked))  # driver messages may quote the URL
        if status is self.status and reason == self.reason:
            return
        self.status, self.reason = status, reason
        log.info("camera %s (%s): %s %s", self.id, self.url.masked, status.value, reason)
        if self.bus is not None:
            self.bus.publish("camera.status", {"camera_id": self.id, "status": status.value, "reason": reason})

    def _run(self) -> None:
        failures = 0
        ever_live = False
        while not self._stop.is_set():
            try:
                self._capture_once()
                return  # finished cleanly (end of a file that does not loop, or stop)
            except CorruptData as exc:
                if self.url.is_file:
                    self._set_status(CameraStatus.FAILED, str(exc))
                    return
                reason = str(exc)
            except SourceError as exc:
                reason = str(exc)
            except Exception as exc:  # noqa: BLE001 - a driver bug must not kill the thread silently
                log.exception("camera %s: unexpected error", self.id)
                reason = f"internal error: {exc.__class__.__name__}: {exc}"
            finally:
                self._close_source()
            if self._stop.is_set():
                return
            reason, self._stalled = self._stalled or reason, None  # the watchdog's reason, not "closed"
            ever_live = ever_live or self._frames > 0
            failures += 1
            if self.url.is_file and self._frames == 0:
                self._set_status(CameraStatus.FAILED, reason)
                return
            status = CameraStatus.RECONNECTING
            if not ever_live and failures >= self._fail_after:
                status = CameraStatus.FAILED
            self._set_status(status, reason)
            self._reconnects += 1
            self._stop.wait(self._backoff.next_delay())

    def _close_source(self) -> None:
        src, self._source = self._source, None
        if src is not None:
            try:
                src.close()
            except Exception:  # noqa: BLE001
                log.debug("close failed", exc_info=True)

    def _capture_once(self) -> None:
        src = self._factory(self.url)
        self._source = src
        self.info = src.open()
        while not self._stop.is_set():
            try:
                frame = src.read()
            except SourceClosed:
                if self._stop.is_set():
                    return
                if self.url.is_file:
                    self._set_status(CameraStatus.STOPPED, "end of file")
                    return
                raise
            if self._stop.is_set():
                return
            self._seq += 1
            frame.seq = self._seq  # monotonic across reconnects
            self._frames += 1
            self._meter.tick()
            if self.status is not CameraStatus.LIVE:
                self._backoff.reset()
                self._set_status(CameraStatus.LIVE, "")
            self.fanout.publish(frame)
