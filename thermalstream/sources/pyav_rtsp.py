"""RTSP cameras through PyAV: decode each packet for viewers and detection, and keep the
compressed packet on the frame (:class:`~thermalstream.frame.EncodedPacket`) so the recorder can
remux it into MP4 without re-encoding (as Frigate does).

URL options (stripped before the URL is sent to the camera):

- ``?backend=opencv``: use :class:`~thermalstream.sources.opencv_capture.OpenCVSource` instead
  (no packets, so recordings are re-encoded).
- ``?gray=1``: give the luma plane as a grey image (about half the conversion cost of BGR);
  the default is BGR, like OpenCV.
- ``?transport=udp``: RTP over UDP instead of the default TCP interleaving.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from fractions import Fraction
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import av
import numpy as np

from thermalstream.frame import EncodedPacket, Frame
from thermalstream.sources.base import CorruptData, Source, SourceClosed, SourceError, SourceInfo
from thermalstream.sources.pacing import flag
from thermalstream.sources.url import CameraURL

log = logging.getLogger(__name__)

OPEN_TIMEOUT_S = 6.0  # connect + DESCRIBE/SETUP/PLAY + first packets; a dead host fails well within ~8 s
READ_TIMEOUT_S = 8.0  # no packet for this long: the stream stopped
SOCKET_TIMEOUT_US = 5_000_000  # FFmpeg's RTSP socket I/O timeout
OUR_PARAMS = ("backend", "gray", "transport")
MAX_PENDING = 16  # packets waiting for a decoded picture (decoder delay); more means a broken stream


def strip_params(raw: str, names: tuple[str, ...] = OUR_PARAMS) -> str:
    """``raw`` without our own query options (the camera must not see them)."""
    parts = urlsplit(raw)
    if not parts.query:
        return raw
    q = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in names]
    return urlunsplit(parts._replace(query=urlencode(q)))


def rtsp_source(url: CameraURL) -> Source:
    """The driver for ``rtsp://``: PyAV (with packets for remuxing) unless ``?backend=opencv``."""
    backend = (url.params.get("backend") or "pyav").lower()
    if backend == "opencv":
        from thermalstream.sources.opencv_capture import OpenCVSource

        return OpenCVSource(dataclasses.replace(url, raw=strip_params(url.raw)))
    if backend not in ("pyav", "ffmpeg", "av"):
        raise SourceError(f"{url.masked}: unknown backend {backend!r} (use pyav or opencv)")
    return PyAVRTSPSource(url)


class PyAVRTSPSource(Source):
    """Frames from an RTSP camera via PyAV/FFmpeg, each carrying its compressed packet."""

    def __init__(self, url: CameraURL) -> None:
        self.url = url
        self.seq = 0
        self.gray = flag(url.params, "gray", default=False)
        self.transport = (url.params.get("transport") or "tcp").lower()
        self._target = strip_params(url.raw)
        self._container = None
        self._stream = None
        self._demux = None
        self._frames: list[tuple[av.VideoFrame, EncodedPacket | None]] = []
        self._pending: list[EncodedPacket] = []
        self._codec = ""
        self._extradata: bytes | None = None
        self._time_base = Fraction(1, 90000)
        # FFmpeg must not free the demuxer while the capture thread is inside it (segfault): a
        # close() from another thread during a read only marks the source, and the reader closes
        # it as soon as its read returns (a frame period on a live stream, READ_TIMEOUT_S at most).
        self._lock = threading.Lock()
        self._closing = False

    def open(self) -> SourceInfo:
        self._closing = False
        opts = {"rtsp_transport": self.transport, "timeout": str(SOCKET_TIMEOUT_US)}
        t0 = time.monotonic()
        try:
            c = av.open(self._target, mode="r", options=opts, timeout=(OPEN_TIMEOUT_S, READ_TIMEOUT_S))
        except Exception as exc:  # noqa: BLE001 - every failure becomes a clear, masked message
            raise SourceError(self._open_error(exc, time.monotonic() - t0)) from None
        try:
            if not c.streams.video:
                raise SourceError(f"{self.url.masked}: the stream has no video")
            st = c.streams.video[0]
            cc = st.codec_context
            self._container, self._stream = c, st
            self._codec = cc.name
            self._extradata = bytes(cc.extradata) if cc.extradata else None
            self._time_base = st.time_base or Fraction(1, 90000)
            self._demux = c.demux(st)
            first = self._next()
        except SourceError:
            self._close_now()
            raise
        except Exception as exc:  # noqa: BLE001
            self._close_now()
            raise CorruptData(f"{self.url.masked}: opened but no frame could be decoded ({exc.__class__.__name__})") from None
        self._frames.insert(0, first)
        rate = st.average_rate or st.guessed_rate
        fps = float(rate) if rate and 0 < float(rate) < 500 else None
        img = first[0]
        self.info = SourceInfo(kind="rtsp", width=img.width, height=img.height, fps=fps, radiometric=False,
                               live=True, description=f"RTSP {self._codec} via PyAV {av.__version__} ({self.transport})")
        return self.info

    def _open_error(self, exc: Exception, elapsed: float) -> str:
        what = {
            av.error.ConnectionRefusedError: "connection refused (nothing listens on that port)",
            av.error.HTTPUnauthorizedError: "authentication failed (check user and password)",
            av.error.HTTPNotFoundError: "stream not found (check the path)",
        }.get(type(exc))
        if what is None:
            if isinstance(exc, av.error.ExitError | TimeoutError) or elapsed >= SOCKET_TIMEOUT_US / 1e6 - 0.5:
                what = f"no answer within {elapsed:.0f} s (host down or unreachable)"
            else:
                what = "host unreachable, stream not found or not a video stream"
        return f"cannot connect to {self.url.masked}: {what}"

    def _wrap(self, p: av.Packet) -> EncodedPacket:
        cc = self._stream.codec_context
        if self._extradata is None and cc.extradata:
            self._extradata = bytes(cc.extradata)
        return EncodedPacket(bytes(p), p.pts, p.dts, bool(p.is_keyframe), self._time_base, self._codec,
                             self._extradata, cc.width, cc.height)

    def _next(self) -> tuple[av.VideoFrame, EncodedPacket | None]:
        """The next decoded picture with the next compressed packet in stream order.

        Packets that give no picture (decoder delay, parameter-set-only packets) wait in a short
        queue, so each packet rides on exactly one frame and a remuxing recorder sees every packet
        once, in order (lagging by the decoder delay)."""
        while not self._frames:
            try:
                p = next(self._demux)
            except StopIteration:
                raise SourceError(f"{self.url.masked}: the camera ended the stream") from None
            except av.error.EOFError:
                raise SourceError(f"{self.url.masked}: the camera ended the stream") from None
            except Exception as exc:  # noqa: BLE001 - timeouts, resets
                raise SourceError(f"{self.url.masked}: stream stopped sending frames ({exc.__class__.__name__})") from None
            if p.size == 0:
                continue
            self._pending.append(self._wrap(p))
            try:
                pictures = p.decode()
            except av.error.InvalidDataError:
                pictures = []  # a damaged packet: the picture is lost, the packet is still recorded
            for f in pictures:
                self._frames.append((f, self._pending.pop(0) if self._pending else None))
            if len(self._pending) > MAX_PENDING:
                del self._pending[:-MAX_PENDING]
        return self._frames.pop(0)

    def read(self) -> Frame:
        with self._lock:
            if self._container is None or self._closing:
                self._close_now()
                raise SourceClosed("source is closed")
            try:
                vf, pkt = self._next()
            finally:
                if self._closing:
                    self._close_now()
            if self._closing:
                raise SourceClosed("source is closed")
        if self.gray:
            plane = vf.planes[0]
            img = np.frombuffer(plane, np.uint8).reshape(plane.height, plane.line_size)[:, : vf.width].copy()
        else:
            img = vf.to_ndarray(format="bgr24")
        self.seq += 1
        return Frame(image=img, seq=self.seq, timestamp=time.time(), packet=pkt)

    def close(self) -> None:
        self._closing = True
        if self._lock.acquire(blocking=False):
            try:
                self._close_now()
            finally:
                self._lock.release()

    def _close_now(self) -> None:
        c, self._container = self._container, None
        self._demux = None
        self._frames.clear()
        self._pending.clear()
        if c is not None:
            try:
                c.close()
            except Exception:  # closing a broken connection
                log.debug("closing %s failed", self.url.masked, exc_info=True)
