"""A minimal RTSP server that streams a (simulated) camera as H.264, for demos and tests.

    srv = RTSPServer("sim://?people=3", port=8554, path="live").start()
    cv2.VideoCapture(srv.url, cv2.CAP_FFMPEG)       # rtsp://127.0.0.1:8554/live
    srv.stop()

Self-contained (no GStreamer, no ffmpeg binary): the frames are encoded once with PyAV's
libx264 (ultrafast, zerolatency) and packetised per RFC 6184 (single NAL units and FU-A),
then sent to every playing client, over TCP interleaved in the RTSP connection
(``RTP/AVP/TCP``) or over UDP (``RTP/AVP``, unicast), whichever the client asks for.
Supported methods: OPTIONS, DESCRIBE (SDP with sprop-parameter-sets), SETUP, PLAY, PAUSE,
TEARDOWN, GET_PARAMETER/SET_PARAMETER (keep-alives). Encoding only runs while a client is
playing; a new client gets a fresh IDR frame. A client that cannot keep up loses frames up to
the next key frame instead of slowing the others down.
"""

from __future__ import annotations

import base64
import logging
import random
import socket
import threading
import time
from fractions import Fraction

import av
import cv2
import numpy as np

from thermalstream.simulate.rtp import CLOCK, RTP_PT, AccessUnit, packetize, split_annexb
from thermalstream.simulate.rtsp_client import RTSPClient
from thermalstream.sources import SourceError, make_source

log = logging.getLogger(__name__)


class RTSPServer:
    """Serve one source (usually ``sim://``) as H.264 over RTSP on ``rtsp://host:port/path``."""

    def __init__(
        self,
        source_url: str = "sim://",
        host: str = "127.0.0.1",
        port: int = 8554,
        path: str = "live",
        gop_seconds: float = 2.0,
        transports: tuple[str, ...] = ("tcp", "udp"),
    ):
        self.source_url = source_url
        self.host = host
        self._port = int(port)
        self.path = path.strip("/")
        self.mount = "/" + self.path if self.path else ""
        self.gop_seconds = gop_seconds
        self.transports = tuple(t.lower() for t in transports)
        self._sock: socket.socket | None = None
        self._source = None
        self._stopping = threading.Event()
        self._clients: set[RTSPClient] = set()
        self._clients_lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._force_key = True
        self._encoder = None
        self._sps = b""
        self._pps = b""
        self._fps = 25.0
        self._size = (0, 0)
        self.frames_encoded = 0

    # ---- properties

    @property
    def port(self) -> int:
        return self._port

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"rtsp://{host}:{self._port}{self.mount}"

    @property
    def clients(self) -> int:
        with self._clients_lock:
            return len(self._clients)

    # ---- lifecycle

    def start(self) -> "RTSPServer":
        if self._sock is not None:
            raise RuntimeError("RTSPServer already started")
        self._stopping.clear()
        src = make_source(self.source_url)
        info = src.open()
        self._source = src
        try:
            self._fps = float(info.fps or 25.0)
            first = src.read()
            self._open_encoder(first.image)
            sock = socket.socket(socket.AF_INET6 if ":" in self.host else socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((self.host, self._port))
                sock.listen(16)
            except OSError:
                sock.close()
                raise
        except BaseException:
            src.close()
            self._source = None
            raise
        sock.settimeout(0.2)
        self._sock = sock
        self._port = sock.getsockname()[1]
        self._threads = [
            threading.Thread(target=self._accept_loop, name=f"rtsp-accept-{self._port}", daemon=True),
            threading.Thread(target=self._encode_loop, name=f"rtsp-encode-{self._port}", daemon=True),
        ]
        for t in self._threads:
            t.start()
        return self

    def stop(self, timeout: float = 3.0) -> None:
        if self._sock is None:
            return
        self._stopping.set()
        if self._source is not None:
            self._source.close()
        with self._clients_lock:
            clients = list(self._clients)
        for c in clients:
            c.close()
        for t in self._threads:
            t.join(timeout)
        for c in clients:
            c.thread.join(timeout)
            c.sender.join(timeout)
        try:
            self._sock.close()
        except OSError:
            pass
        self._sock = None
        self._threads = []
        self._source = None
        self._encoder = None

    def __enter__(self) -> "RTSPServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # ---- SDP

    def sdp(self) -> str:
        sprop = ",".join(base64.b64encode(x).decode("ascii") for x in (self._sps, self._pps))
        plid = self._sps[1:4].hex().upper() if len(self._sps) >= 4 else "42C01F"
        w, h = self._size
        return (
            "v=0\r\n"
            f"o=- {random.getrandbits(32)} 1 IN IP4 {self.host}\r\n"
            "s=thermalstream simulated camera\r\n"
            "c=IN IP4 0.0.0.0\r\n"
            "t=0 0\r\n"
            "a=tool:thermalstream\r\n"
            "a=control:*\r\n"
            "a=range:npt=0-\r\n"
            f"m=video 0 RTP/AVP {RTP_PT}\r\n"
            f"a=rtpmap:{RTP_PT} H264/{CLOCK}\r\n"
            f"a=fmtp:{RTP_PT} packetization-mode=1;profile-level-id={plid};sprop-parameter-sets={sprop}\r\n"
            f"a=framerate:{self._fps:g}\r\n"
            f"a=x-dimensions:{w},{h}\r\n"
            "a=control:trackID=0\r\n"
        )

    # ---- encoding

    def _open_encoder(self, image: np.ndarray) -> None:
        h, w = image.shape[:2]
        w, h = w - w % 2, h - h % 2
        self._size = (w, h)
        cc = av.CodecContext.create("libx264", "w")
        cc.width, cc.height = w, h
        cc.pix_fmt = "yuv420p"
        rate = Fraction(self._fps).limit_denominator(1001)
        cc.time_base = 1 / rate
        cc.framerate = rate
        cc.gop_size = max(int(round(self._fps * self.gop_seconds)), 1)
        cc.options = {
            "preset": "ultrafast",
            "tune": "zerolatency",
            "x264-params": "repeat-headers=1:threads=1",
        }
        cc.open()
        self._encoder = cc
        self._yuv = np.full((h * 3 // 2, w), 128, np.uint8)
        self._pts = 0
        for au in self._encode(image, force_key=True):
            for nal in split_annexb(au):
                t = nal[0] & 0x1F
                if t == 7:
                    self._sps = nal
                elif t == 8:
                    self._pps = nal
        if not self._sps or not self._pps:
            raise SourceError("RTSP server: the H.264 encoder gave no SPS/PPS")

    def _encode(self, image: np.ndarray, force_key: bool) -> list[bytes]:
        w, h = self._size
        image = image[:h, :w]
        if image.ndim == 2:
            self._yuv[:h] = image
            yuv = self._yuv
        else:
            yuv = cv2.cvtColor(image, cv2.COLOR_BGR2YUV_I420)
        frame = av.VideoFrame.from_ndarray(yuv, format="yuv420p")
        frame.pts = self._pts
        self._pts += 1
        if force_key:
            frame.pict_type = av.video.frame.PictureType.I
        return [bytes(p) for p in self._encoder.encode(frame)]

    def _encode_loop(self) -> None:
        src = self._source
        while not self._stopping.is_set():
            try:
                frame = src.read()
            except SourceError as exc:
                if not self._stopping.is_set():
                    log.warning("RTSP server: source stopped: %s", exc)
                break
            with self._clients_lock:
                playing = [c for c in self._clients if c.playing]
            if not playing:
                continue
            force = self._force_key
            self._force_key = False
            try:
                packets = self._encode(frame.image, force)
            except Exception:  # noqa: BLE001 - keep serving; log once per failure
                log.exception("RTSP server: encoding failed")
                continue
            ts = int(round(frame.seq * CLOCK / self._fps)) & 0xFFFFFFFF
            for data in packets:
                nals = [n for n in split_annexb(data) if (n[0] & 0x1F) != 9]  # drop AUDs
                if not nals:
                    continue
                key = any((n[0] & 0x1F) == 5 for n in nals)
                au = AccessUnit(packetize(nals), ts, key)
                self.frames_encoded += 1
                for c in playing:
                    c.offer(au)

    # ---- connections

    def _accept_loop(self) -> None:
        sock = self._sock
        while not self._stopping.is_set():
            try:
                conn, addr = sock.accept()
            except TimeoutError:
                continue
            except OSError:
                if self._stopping.is_set():
                    break
                time.sleep(0.05)
                continue
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            c = RTSPClient(self, conn, addr)
            with self._clients_lock:
                if self._stopping.is_set():
                    conn.close()
                    break
                self._clients.add(c)
            c.start()

    def _forget(self, client: RTSPClient) -> None:
        with self._clients_lock:
            self._clients.discard(client)



__all__ = ["RTSPServer"]
