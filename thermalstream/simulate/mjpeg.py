"""Serve a (simulated) camera as MJPEG over HTTP on loopback, for demos and tests.

    srv = MJPEGServer("sim://?people=3", port=0).start()
    srv.url            # http://127.0.0.1:PORT/stream.mjpg
    srv.snapshot_url   # http://127.0.0.1:PORT/snapshot.jpg
    srv.stop()

Paths: ``/stream.mjpg`` (multipart/x-mixed-replace), ``/snapshot.jpg`` (one JPEG),
``/garbage`` (a multipart stream whose "JPEG" parts are random bytes) and ``/garbage.jpg``
(a single non-JPEG body served as image/jpeg). With ``garbage=True`` the normal paths send
garbage too, to test a client's error handling. One capture thread reads the source; each
frame is JPEG-encoded once (lazily, only when a client wants it) and shared by all clients.
"""

from __future__ import annotations

import logging
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import cv2
import numpy as np

from thermalstream.sources import SourceError, make_source

log = logging.getLogger(__name__)

BOUNDARY = "thermalstreamframe"


class _HTTPServer(ThreadingHTTPServer):
    allow_reuse_address = True
    daemon_threads = True
    owner: "MJPEGServer"


class _Handler(BaseHTTPRequestHandler):
    server: _HTTPServer
    server_version = "thermalstream-sim/1"

    def log_message(self, fmt, *args):  # keep test output quiet
        log.debug("mjpeg %s: " + fmt, self.address_string(), *args)

    def do_GET(self):  # noqa: N802 - http.server API
        owner = self.server.owner
        path = self.path.split("?", 1)[0]
        owner._track(self.connection, True)
        try:
            if path in ("/stream.mjpg", "/stream.mjpeg", "/video", "/garbage"):
                self._stream(garbage=owner.garbage or path == "/garbage")
            elif path in ("/snapshot.jpg", "/snapshot.jpeg", "/image.jpg", "/garbage.jpg"):
                self._snapshot(garbage=owner.garbage or path == "/garbage.jpg")
            elif path in ("/", "/index.html"):
                body = b'<html><body><img src="/stream.mjpg"></body></html>'
                self._headers(200, "text/html", len(body))
                self.wfile.write(body)
            else:
                self.send_error(404, "not found")
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, OSError):
            pass
        finally:
            owner._track(self.connection, False)

    def _headers(self, code: int, ctype: str, length: int | None = None) -> None:
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Cache-Control", "no-cache, no-store, must-revalidate")
        self.send_header("Pragma", "no-cache")
        if length is not None:
            self.send_header("Content-Length", str(length))
        self.end_headers()

    def _snapshot(self, garbage: bool) -> None:
        owner = self.server.owner
        item = owner._wait_frame(0, timeout=5.0)
        if item is None:
            self.send_error(503, "no frame available")
            return
        seq, _ = item
        data = _garbage(seq) if garbage else owner._jpeg(seq)
        self._headers(200, "image/jpeg", len(data))
        self.wfile.write(data)

    def _stream(self, garbage: bool) -> None:
        owner = self.server.owner
        self._headers(200, f"multipart/x-mixed-replace; boundary={BOUNDARY}")
        last = 0
        while not owner._stopping.is_set():
            item = owner._wait_frame(last, timeout=0.5)
            if item is None:
                continue
            last, _ = item
            data = _garbage(last) if garbage else owner._jpeg(last)
            if data is None:
                continue
            head = (
                f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(data)}\r\n\r\n"
            ).encode("ascii")
            self.wfile.write(head + data + b"\r\n")
            self.wfile.flush()


def _garbage(seq: int) -> bytes:
    rng = np.random.default_rng(seq)
    return b"NOT A JPEG " + rng.integers(0, 256, 3000, dtype=np.uint8).tobytes()


class MJPEGServer:
    """A small threaded MJPEG-over-HTTP server fed by one source (usually ``sim://``)."""

    def __init__(
        self,
        source_url: str = "sim://",
        host: str = "127.0.0.1",
        port: int = 0,
        quality: int = 80,
        garbage: bool = False,
    ):
        self.source_url = source_url
        self.host = host
        self._port = int(port)
        self.quality = int(quality)
        self.garbage = bool(garbage)
        self._httpd: _HTTPServer | None = None
        self._source = None
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()
        self._cond = threading.Condition()
        self._seq = 0
        self._image: np.ndarray | None = None
        self._enc_lock = threading.Lock()
        self._enc: tuple[int, bytes] | None = None
        self._conns: set[socket.socket] = set()
        self._conns_lock = threading.Lock()

    # ---- properties

    @property
    def port(self) -> int:
        return self._port

    @property
    def base_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self._port}"

    @property
    def url(self) -> str:
        return self.base_url + "/stream.mjpg"

    @property
    def snapshot_url(self) -> str:
        return self.base_url + "/snapshot.jpg"

    @property
    def running(self) -> bool:
        return self._httpd is not None and not self._stopping.is_set()

    # ---- lifecycle

    def start(self) -> "MJPEGServer":
        if self._httpd is not None:
            raise RuntimeError("MJPEGServer already started")
        self._stopping.clear()
        src = make_source(self.source_url)
        src.open()
        self._source = src
        try:
            httpd = _HTTPServer((self.host, self._port), _Handler)
        except OSError:
            src.close()
            raise
        httpd.owner = self
        self._httpd = httpd
        self._port = httpd.server_address[1]
        self._threads = [
            threading.Thread(target=self._capture, name=f"mjpeg-capture-{self._port}", daemon=True),
            threading.Thread(
                target=httpd.serve_forever, kwargs={"poll_interval": 0.1}, name=f"mjpeg-http-{self._port}",
                daemon=True,
            ),
        ]
        for t in self._threads:
            t.start()
        return self

    def stop(self, timeout: float = 3.0) -> None:
        httpd = self._httpd
        if httpd is None:
            return
        self._stopping.set()
        with self._cond:
            self._cond.notify_all()
        if self._source is not None:
            self._source.close()
        httpd.shutdown()
        with self._conns_lock:
            conns = list(self._conns)
        for c in conns:  # wake clients blocked in send/recv
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        httpd.server_close()
        for t in self._threads:
            t.join(timeout)
        self._threads = []
        self._httpd = None
        self._source = None

    def __enter__(self) -> "MJPEGServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # ---- internals

    def _track(self, conn: socket.socket, add: bool) -> None:
        with self._conns_lock:
            (self._conns.add if add else self._conns.discard)(conn)

    def _capture(self) -> None:
        src = self._source
        while not self._stopping.is_set():
            try:
                frame = src.read()
            except SourceError as exc:
                if not self._stopping.is_set():
                    log.warning("mjpeg server: source stopped: %s", exc)
                break
            with self._cond:
                self._seq += 1
                self._image = frame.image
                self._cond.notify_all()

    def _wait_frame(self, after: int, timeout: float) -> tuple[int, np.ndarray] | None:
        with self._cond:
            if self._seq <= after:
                self._cond.wait_for(lambda: self._seq > after or self._stopping.is_set(), timeout)
            if self._seq <= after or self._image is None:
                return None
            return self._seq, self._image

    def _jpeg(self, seq: int) -> bytes | None:
        with self._enc_lock:
            if self._enc is not None and self._enc[0] >= seq:
                return self._enc[1]
            with self._cond:
                seq, image = self._seq, self._image
            if image is None:
                return None
            ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, self.quality])
            if not ok:
                return None
            self._enc = (seq, buf.tobytes())
            return self._enc[1]


__all__ = ["MJPEGServer", "BOUNDARY"]
