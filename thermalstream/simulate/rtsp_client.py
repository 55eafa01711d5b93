"""One RTSP connection of the simulated camera server: requests, transport setup (TCP or UDP), RTP sending."""

from __future__ import annotations

import collections
import random
import socket
import struct
import threading
from urllib.parse import urlsplit

from thermalstream.simulate.rtp import RTP_PT, AccessUnit

_MAX_QUEUE = 60  # access units queued per client before it is considered stalled


class RTSPClient:
    """One RTSP connection (with at most one session/track)."""

    def __init__(self, server, sock: socket.socket, addr):  # server: the RTSPServer that accepted it
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
        self.queue: collections.deque[AccessUnit] = collections.deque()
        self.cond = threading.Condition()
        self.closed = threading.Event()
        self.thread = threading.Thread(target=self._serve, name=f"rtsp-client-{addr}", daemon=True)
        self.sender = threading.Thread(target=self._send_loop, name=f"rtsp-send-{addr}", daemon=True)

    # ---- media

    def offer(self, au: AccessUnit) -> None:
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

    def _send_au(self, au: AccessUnit) -> None:
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


__all__ = ["RTSPClient"]
