"""HTTP cameras: MJPEG streams (multipart/x-mixed-replace) and JPEG snapshot polling.

Which one a URL is gets decided when it is opened, from the response's Content-Type.
Credentials in the URL are sent as HTTP Basic auth and never appear in messages.
"""

from __future__ import annotations

import base64
import time
import urllib.error
import urllib.request
from urllib.parse import urlsplit, urlunsplit

import cv2
import numpy as np

from thermalstream.frame import Frame
from thermalstream.sources.base import CorruptData, Source, SourceClosed, SourceError, SourceInfo
from thermalstream.sources.pacing import Pacer
from thermalstream.sources.url import CameraURL

TIMEOUT_S = 8.0
MAX_JPEG_BYTES = 8 * 1024 * 1024
CHUNK = 64 * 1024


def _request(url: CameraURL) -> urllib.request.Request:
    parts = urlsplit(url.raw)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    req = urllib.request.Request(urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, "")))
    if parts.username is not None:
        token = base64.b64encode(f"{parts.username}:{parts.password or ''}".encode()).decode()
        req.add_header("Authorization", f"Basic {token}")
    req.add_header("User-Agent", "thermalstream")
    return req


def _connect(url: CameraURL):
    try:
        return urllib.request.urlopen(_request(url), timeout=TIMEOUT_S)  # noqa: S310 - scheme checked by parser
    except urllib.error.HTTPError as exc:
        raise SourceError(f"{url.masked}: HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise SourceError(f"cannot connect to {url.masked}: {reason}") from None


def _decode(data: bytes, url: CameraURL) -> np.ndarray:
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if img is None:
        raise CorruptData(f"{url.masked}: received data that is not a JPEG image")
    return img


class MJPEGSource(Source):
    """Reads JPEGs out of a multipart stream by their SOI/EOI markers (robust to odd boundaries)."""

    def __init__(self, url: CameraURL, response=None) -> None:
        self.url = url
        self._resp = response
        self._buf = bytearray()
        self._seen = 0  # bytes received, to tell a camera that never sends JPEG
        self._first: np.ndarray | None = None
        self.seq = 0

    def open(self) -> SourceInfo:
        if self._resp is None:
            self._resp = _connect(self.url)
        self._first = img = self._next_image()
        self.info = SourceInfo("mjpeg", img.shape[1], img.shape[0], None, False, True, "HTTP MJPEG stream")
        return self.info

    def _next_jpeg(self) -> bytes:
        while True:
            start = self._buf.find(b"\xff\xd8")
            if start >= 0:
                end = self._buf.find(b"\xff\xd9", start + 2)
                if end >= 0:
                    jpeg = bytes(self._buf[start : end + 2])
                    del self._buf[: end + 2]
                    return jpeg
                if start > 0:
                    del self._buf[:start]
            elif len(self._buf) > 2:
                del self._buf[:-1]  # keep a possible half marker
            if len(self._buf) > MAX_JPEG_BYTES:
                raise CorruptData(f"{self.url.masked}: no JPEG frame in {MAX_JPEG_BYTES} bytes of stream")
            self._fill()

    def _fill(self) -> None:
        if self._resp is None:
            raise SourceClosed("source is closed")
        try:
            chunk = self._resp.read1(CHUNK)
        except (OSError, ValueError, AttributeError) as exc:
            raise SourceError(f"{self.url.masked}: connection lost ({exc.__class__.__name__})") from None
        if not chunk:
            raise SourceError(f"{self.url.masked}: stream ended")
        self._seen += len(chunk)
        if self.seq == 0 and self._seen > MAX_JPEG_BYTES and b"\xff\xd8" not in self._buf:
            raise CorruptData(f"{self.url.masked}: camera sends data that is not MJPEG")
        self._buf += chunk

    def _next_image(self) -> np.ndarray:
        return _decode(self._next_jpeg(), self.url)

    def read(self) -> Frame:
        if self._first is not None:
            img, self._first = self._first, None
        else:
            img = self._next_image()
        self.seq += 1
        return Frame(image=img, seq=self.seq, timestamp=time.time())

    def close(self) -> None:
        resp, self._resp = self._resp, None
        if resp is not None:
            try:
                resp.close()
            except Exception:  # noqa: BLE001 - closing a dead socket
                pass


class SnapshotSource(Source):
    """Polls a JPEG snapshot URL at ``?fps=`` (default 5)."""

    def __init__(self, url: CameraURL, first: bytes | None = None) -> None:
        self.url = url
        self._first = first
        self._img0: np.ndarray | None = None
        self.seq = 0
        try:
            self.fps = float(url.params.get("fps", 5))
        except ValueError:
            raise SourceError(f"{url.masked}: fps must be a number") from None
        self._pacer = Pacer()

    def _fetch(self) -> bytes:
        with _connect(self.url) as resp:
            data = resp.read(MAX_JPEG_BYTES + 1)
        if len(data) > MAX_JPEG_BYTES:
            raise CorruptData(f"{self.url.masked}: snapshot larger than {MAX_JPEG_BYTES} bytes")
        return data

    def open(self) -> SourceInfo:
        data = self._first if self._first is not None else self._fetch()
        self._img0 = img = _decode(data, self.url)
        self.info = SourceInfo("snapshot", img.shape[1], img.shape[0], self.fps, False, True, "HTTP JPEG snapshots")
        self._pacer.wait(self.fps)  # the first frame counts as the first poll
        return self.info

    def read(self) -> Frame:
        if self._img0 is not None:
            img, self._img0 = self._img0, None
        else:
            self._pacer.wait(self.fps)
            img = _decode(self._fetch(), self.url)
        self.seq += 1
        return Frame(image=img, seq=self.seq, timestamp=time.time())


class HTTPSource(Source):
    """Opens the URL once and becomes an MJPEG or snapshot source depending on Content-Type."""

    def __init__(self, url: CameraURL) -> None:
        self.url = url
        self.inner: Source | None = None

    def open(self) -> SourceInfo:
        resp = _connect(self.url)
        ctype = (resp.headers.get("Content-Type") or "").lower()
        if ctype.startswith("multipart/"):
            self.inner = MJPEGSource(self.url, resp)
        elif ctype.startswith("image/"):
            with resp:
                data = resp.read(MAX_JPEG_BYTES + 1)
            self.inner = SnapshotSource(self.url, first=data)
        else:
            resp.close()
            raise CorruptData(
                f"{self.url.masked}: server answered with {ctype or 'no content type'}, "
                "expected an MJPEG stream (multipart/x-mixed-replace) or a JPEG image"
            )
        self.info = self.inner.open()
        return self.info

    def read(self) -> Frame:
        if self.inner is None:
            raise SourceClosed("source is not open")
        return self.inner.read()

    def close(self) -> None:
        if self.inner is not None:
            self.inner.close()
