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
import collections
import logging
import random
import socket
import struct
import threading
import time
from fractions import Fraction
from urllib.parse import urlsplit

import av
import cv2
import numpy as np

from thermalstream.sources import SourceError, make_source

log = logging.getLogger(__name__)

RTP_PT = 96
MAX_PAYLOAD = 1400
CLOCK = 90000
_MAX_QUEUE = 60  # access units queued per client before it is considered stalled


def split_annexb(data: bytes) -> list[bytes]:
    """Split an Annex B byte stream into NAL units (without start codes)."""
    out = []
    n = len(data)
    i = data.find(b"\x00\x00\x01")
    while 0 <= i < n:
        start = i + 3
        j = data.find(b"\x00\x00\x01", start)
        if j < 0:
            end = n
        else:
            end = j
            if end > start and data[end - 1] == 0:  # 4-byte start code of the next NAL
                end -= 1
        nal = data[start:end].rstrip(b"\x00") if j < 0 else data[start:end]
        if nal:
            out.append(nal)
        i = j
    return out


def packetize(nals: list[bytes], max_payload: int = MAX_PAYLOAD) -> list[bytes]:
    """RTP payloads (RFC 6184, packetization-mode=1) for one access unit."""
    out = []
    for nal in nals:
        if len(nal) <= max_payload:
            out.append(nal)
            continue
        hdr = nal[0]
        ind = (hdr & 0xE0) | 28
        typ = hdr & 0x1F
        body = memoryview(nal)[1:]
        chunk = max_payload - 2
        for off in range(0, len(body), chunk):
            first = off == 0
            last = off + chunk >= len(body)
            fu = typ | (0x80 if first else 0) | (0x40 if last else 0)
            out.append(bytes((ind, fu)) + bytes(body[off:off + chunk]))
    return out


class _AU:
    __slots__ = ("payloads", "ts", "key")

    def __init__(self, payloads: list[bytes], ts: int, key: bool):
        self.payloads, self.ts, self.key = payloads, ts, key


class _Client:
    """One RTSP connection (with at most one session/track)."""

    def __init__(self, server: "RTSPServer", sock: socket.socket, addr):
        self.server = server
        self.sock = sock
        self.addr = addr
        self.send_lock = threading.Lock()
        self.session = f"{random.getrandbits(48):012X}"
        self.ssrc = random.getrandbits(32)
        self.seq = random.getrandbits(16)
        self.playing = False
        self.want_key = True
        self.setup = False
        self.tcp_channel: int | None = None
        self.udp_dest: tuple[str, int] | None = None
        self.udp_socks: list[socket.socket] = []
        self.queue: collections.deque[_AU] = collections.deque()
        self.cond = threading.Condition()
        self.closed = threading.Event()
        self.thread = threading.Thread(target=self._serve, name=f"rtsp-client-{addr}", daemon=True)
        self.sender = threading.Thread(target=self._send_loop, name=f"rtsp-send-{addr}", daemon=True)

    # ---- media

    def offer(self, au: _AU) -> None:
        if not self.playing or self.closed.is_set():
            return
        with self.cond:
            if self.want_key:
                if not au.key:
                    self.server._force_key = True
                    return
                self.want_key = False
            if len(self.queue) >= _MAX_QUEUE:  # stalled: drop and restart at the next key frame
                self.queue.clear()
                self.want_key = True
                self.server._force_key = True
                return
            self.queue.append(au)
            self.cond.notify()

    def _send_loop(self) -> None:
        while not self.closed.is_set():
            with self.cond:
                if not self.queue:
                    self.cond.wait(0.5)
                    continue
                au = self.queue.popleft()
            try:
                self._send_au(au)
            except OSError:
                if self.tcp_channel is not None:
                    self.close()
                    return

    def _send_au(self, au: _AU) -> None:
        pkts = []
        n = len(au.payloads)
        for i, payload in enumerate(au.payloads):
            marker = 0x80 if i == n - 1 else 0
            hdr = struct.pack("!BBHII", 0x80, marker | RTP_PT, self.seq, au.ts, self.ssrc)
            self.seq = (self.seq + 1) & 0xFFFF
            pkts.append(hdr + payload)
        if self.tcp_channel is not None:
            data = b"".join(struct.pack("!BBH", 0x24, self.tcp_channel, len(p)) + p for p in pkts)
            with self.send_lock:
                self.sock.sendall(data)
        elif self.udp_dest is not None and self.udp_socks:
            s = self.udp_socks[0]
            for p in pkts:
                try:
                    s.sendto(p, self.udp_dest)
                except (ConnectionRefusedError, BlockingIOError):
                    pass

    # ---- RTSP

    def start(self) -> None:
        self.thread.start()
        self.sender.start()

    def close(self) -> None:
        if self.closed.is_set():
            return
        self.closed.set()
        self.playing = False
        with self.cond:
            self.cond.notify_all()
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        try:
            self.sock.close()
        except OSError:
            pass
        for s in self.udp_socks:
            s.close()
        self.server._forget(self)

    def _serve(self) -> None:
        buf = b""
        try:
            self.sock.settimeout(None)
            while not self.closed.is_set():
                # interleaved RTCP/RTP from the client: skip it
                while buf[:1] == b"$":
                    if len(buf) < 4:
                        break
                    size = struct.unpack("!H", buf[2:4])[0]
                    if len(buf) < 4 + size:
                        break
                    buf = buf[4 + size:]
                end = buf.find(b"\r\n\r\n")
                if buf[:1] != b"$" and end >= 0:
                    head = buf[:end].decode("latin-1")
                    rest = buf[end + 4:]
                    lines = head.split("\r\n")
                    headers = {}
                    for line in lines[1:]:
                        k, _, v = line.partition(":")
                        headers[k.strip().lower()] = v.strip()
                    length = int(headers.get("content-length", "0") or 0)
                    if len(rest) < length:
                        chunk = self.sock.recv(65536)
                        if not chunk:
                            break
                        buf += chunk
                        continue
                    buf = rest[length:]
                    if not self._handle(lines[0], headers):
                        break
                    continue
                chunk = self.sock.recv(65536)
                if not chunk:
                    break
                buf += chunk
                if len(buf) > 1 << 20:
                    break
        except OSError:
            pass
        finally:
            self.close()

    def _reply(self, code: int, reason: str, cseq: str, headers: dict | None = None, body: bytes = b"") -> None:
        lines = [f"RTSP/1.0 {code} {reason}", f"CSeq: {cseq}", "Server: thermalstream-sim"]
        for k, v in (headers or {}).items():
            lines.append(f"{k}: {v}")
        if body:
            lines.append(f"Content-Length: {len(body)}")
        data = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body
        with self.send_lock:
            self.sock.sendall(data)

    def _handle(self, request_line: str, headers: dict) -> bool:
        """Answer one request; False closes the connection."""
        parts = request_line.split()
        cseq = headers.get("cseq", "0")
        if len(parts) != 3 or not parts[2].startswith("RTSP/"):
            self._reply(400, "Bad Request", cseq)
            return False
        method, url, _ = parts
        srv = self.server
        path = urlsplit(url).path if "://" in url else url
        path = path.rstrip("/")
        ours = path == srv.mount or path.startswith(srv.mount + "/")
        sess = {"Session": f"{self.session};timeout=60"}
        if method == "OPTIONS":
            self._reply(200, "OK", cseq, {
                "Public": "OPTIONS, DESCRIBE, SETUP, PLAY, PAUSE, TEARDOWN, GET_PARAMETER, SET_PARAMETER"
            })
        elif method == "DESCRIBE":
            if path != srv.mount:
                self._reply(404, "Not Found", cseq)
                return True
            sdp = srv.sdp().encode("ascii")
            self._reply(200, "OK", cseq, {"Content-Type": "application/sdp", "Content-Base": url.rstrip("/") + "/"}, sdp)
        elif method == "SETUP":
            if not ours:
                self._reply(404, "Not Found", cseq)
                return True
            transport = headers.get("transport", "")
            reply_tr = self._setup_transport(transport)
            if reply_tr is None:
                self._reply(461, "Unsupported Transport", cseq)
                return True
            self.setup = True
            self._reply(200, "OK", cseq, {"Transport": reply_tr, **sess})
        elif method == "PLAY":
            if not self.setup:
                self._reply(455, "Method Not Valid in This State", cseq)
                return True
            with self.cond:
                self.want_key = True
                self.playing = True
            srv._force_key = True
            self._reply(200, "OK", cseq, {"Range": "npt=0.000-", **sess})
        elif method == "PAUSE":
            self.playing = False
            self._reply(200, "OK", cseq, sess)
        elif method == "TEARDOWN":
            self.playing = False
            self._reply(200, "OK", cseq, sess)
            return False
        elif method in ("GET_PARAMETER", "SET_PARAMETER"):
            self._reply(200, "OK", cseq, sess)
        else:
            self._reply(501, "Not Implemented", cseq)
        return True

    def _setup_transport(self, transport: str) -> str | None:
        for spec in transport.split(","):
            fields = [f.strip() for f in spec.split(";")]
            proto = fields[0].upper()
            opts = {}
            for f in fields[1:]:
                k, _, v = f.partition("=")
                opts[k.lower()] = v
            if "multicast" in opts:
                continue
            if proto == "RTP/AVP/TCP" and "tcp" in self.server.transports:
                ch = opts.get("interleaved", "0-1")
                try:
                    a = int(ch.split("-")[0])
                except ValueError:
                    a = 0
                self.tcp_channel = a
                return f"RTP/AVP/TCP;unicast;interleaved={a}-{a + 1};ssrc={self.ssrc:08X}"
            if proto in ("RTP/AVP", "RTP/AVP/UDP") and "udp" in self.server.transports:
                cp = opts.get("client_port")
                if not cp:
                    continue
                try:
                    a = int(cp.split("-")[0])
                except ValueError:
                    continue
                socks = self._udp_pair()
                if socks is None:
                    return None
                self.udp_socks = socks
                self.udp_dest = (self.addr[0], a)
                sp = socks[0].getsockname()[1]
                return (
                    f"RTP/AVP;unicast;client_port={a}-{a + 1};server_port={sp}-{sp + 1};ssrc={self.ssrc:08X}"
                )
        return None

    def _udp_pair(self) -> list[socket.socket] | None:
        host = self.sock.getsockname()[0]
        family = self.sock.family
        for _ in range(50):
            a = socket.socket(family, socket.SOCK_DGRAM)
            a.bind((host, 0))
            port = a.getsockname()[1]
            if port % 2 or port >= 65535:
                a.close()
                continue
            b = socket.socket(family, socket.SOCK_DGRAM)
            try:
                b.bind((host, port + 1))
            except OSError:
                a.close()
                b.close()
                continue
            a.setblocking(False)
            return [a, b]
        return None


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
        self._clients: set[_Client] = set()
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
                au = _AU(packetize(nals), ts, key)
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
            c = _Client(self, conn, addr)
            with self._clients_lock:
                if self._stopping.is_set():
                    conn.close()
                    break
                self._clients.add(c)
            c.start()

    def _forget(self, client: _Client) -> None:
        with self._clients_lock:
            self._clients.discard(client)


__all__ = ["RTSPServer", "split_annexb", "packetize"]
