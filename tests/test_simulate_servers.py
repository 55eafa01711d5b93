"""The loopback MJPEG and RTSP servers that serve simulated cameras."""

from __future__ import annotations

import socket
import threading
import time
import urllib.error
import urllib.request

import av
import cv2
import numpy as np
import pytest

from thermalstream.simulate import MJPEGServer, RTSPServer, make_server, run_simulator
from thermalstream.simulate.mjpeg import BOUNDARY
from thermalstream.simulate.rtp import packetize, split_annexb

pytestmark = pytest.mark.timeout(60)

SIM = "sim://?people=2&seed=1&width=320&height=256&fps=25"
CV_OPEN = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, 10000, cv2.CAP_PROP_READ_TIMEOUT_MSEC, 10000]


def _decode(data: bytes) -> np.ndarray | None:
    return cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)


def _read_parts(url: str, count: int) -> list[bytes]:
    """Read ``count`` parts of a multipart/x-mixed-replace stream with plain urllib."""
    parts = []
    with urllib.request.urlopen(url, timeout=10) as resp:
        ctype = resp.headers["Content-Type"]
        assert ctype.startswith("multipart/x-mixed-replace") and f"boundary={BOUNDARY}" in ctype
        while len(parts) < count:
            line = resp.readline()
            assert line, "stream ended early"
            if line.strip() != f"--{BOUNDARY}".encode():
                continue
            headers = {}
            while True:
                h = resp.readline().strip()
                if not h:
                    break
                k, _, v = h.decode().partition(":")
                headers[k.strip().lower()] = v.strip()
            assert headers["content-type"] == "image/jpeg"
            parts.append(resp.read(int(headers["content-length"])))
    return parts


def _refused(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return False
    except OSError:
        return True


# --------------------------------------------------------------------------- MJPEG


def test_mjpeg_snapshot_stream_and_restart():
    srv = MJPEGServer(SIM, port=0, quality=80).start()
    port = srv.port
    try:
        assert port > 0 and srv.url == f"http://127.0.0.1:{port}/stream.mjpg"
        with urllib.request.urlopen(srv.snapshot_url, timeout=10) as resp:
            assert resp.headers["Content-Type"] == "image/jpeg"
            img = _decode(resp.read())
        assert img is not None and img.shape[:2] == (256, 320)

        parts = _read_parts(srv.url, 3)
        images = [_decode(p) for p in parts]
        assert all(i is not None and i.shape[:2] == (256, 320) for i in images)
        assert not np.array_equal(images[0], images[-1])  # live: the picture changes

        cap = cv2.VideoCapture(srv.url, cv2.CAP_FFMPEG, CV_OPEN)
        try:
            assert cap.isOpened()
            got = [cap.read() for _ in range(3)]
        finally:
            cap.release()
        assert all(ok and f.shape[:2] == (256, 320) for ok, f in got)

        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(srv.base_url + "/nope", timeout=10)
        assert e.value.code == 404
    finally:
        t0 = time.monotonic()
        srv.stop()
        assert time.monotonic() - t0 < 3
    assert _refused("127.0.0.1", port)

    # restart on the same port
    srv = MJPEGServer(SIM, port=port).start()
    try:
        assert srv.port == port
        with urllib.request.urlopen(srv.snapshot_url, timeout=10) as resp:
            assert _decode(resp.read()) is not None
    finally:
        srv.stop()


def test_mjpeg_stop_with_streaming_client():
    srv = MJPEGServer(SIM, port=0).start()
    resp = urllib.request.urlopen(srv.url, timeout=10)
    resp.readline()
    t0 = time.monotonic()
    srv.stop()
    assert time.monotonic() - t0 < 3
    # the client sees the end of the stream soon after
    t0 = time.monotonic()
    with pytest.raises(Exception):
        while time.monotonic() - t0 < 5:
            if not resp.read(65536):
                raise EOFError
    resp.close()
    srv.stop()  # idempotent


def test_mjpeg_garbage():
    srv = MJPEGServer(SIM, port=0).start()
    try:
        with urllib.request.urlopen(srv.base_url + "/garbage.jpg", timeout=10) as resp:
            assert resp.headers["Content-Type"] == "image/jpeg"
            data = resp.read()
        assert data and not data.startswith(b"\xff\xd8") and _decode(data) is None
        parts = _read_parts(srv.base_url + "/garbage", 2)
        assert all(_decode(p) is None for p in parts)
    finally:
        srv.stop()
    srv = MJPEGServer(SIM, port=0, garbage=True).start()
    try:
        with urllib.request.urlopen(srv.snapshot_url, timeout=10) as resp:
            assert _decode(resp.read()) is None
    finally:
        srv.stop()


# --------------------------------------------------------------------------- RTSP


def test_annexb_and_fua():
    nal1 = bytes([0x67]) + b"\x01" * 10
    nal2 = bytes([0x65]) + bytes(range(256)) * 20
    stream = b"\x00\x00\x00\x01" + nal1 + b"\x00\x00\x01" + nal2
    assert split_annexb(stream) == [nal1, nal2]
    pk = packetize([nal1, nal2], max_payload=1000)
    assert pk[0] == nal1
    fus = pk[1:]
    assert all(p[0] & 0x1F == 28 and p[0] & 0xE0 == 0x60 for p in fus)
    assert fus[0][1] & 0x80 and not fus[0][1] & 0x40
    assert fus[-1][1] & 0x40 and not fus[-1][1] & 0x80
    assert all(p[1] & 0x1F == 5 for p in fus)
    assert bytes([0x65]) + b"".join(p[2:] for p in fus) == nal2


def _pyav_frames(url: str, transport: str, count: int):
    c = av.open(url, options={"rtsp_transport": transport}, timeout=10)
    try:
        st = c.streams.video[0]
        codec = st.codec_context.name
        frames = []
        for fr in c.decode(st):
            frames.append(fr.to_ndarray(format="gray"))
            if len(frames) >= count:
                break
    finally:
        c.close()
    return codec, frames


def test_rtsp_opencv_pyav_and_restart():
    srv = RTSPServer(SIM, port=0, path="live").start()
    port = srv.port
    try:
        assert srv.url == f"rtsp://127.0.0.1:{port}/live"
        cap = cv2.VideoCapture(srv.url, cv2.CAP_FFMPEG, CV_OPEN)
        try:
            assert cap.isOpened()
            fourcc = int(cap.get(cv2.CAP_PROP_FOURCC))
            name = "".join(chr((fourcc >> (8 * i)) & 0xFF) for i in range(4)).lower()
            assert name in ("h264", "avc1"), name
            frames = []
            for _ in range(12):
                ok, f = cap.read()
                if ok:
                    frames.append(f)
        finally:
            cap.release()
        assert len(frames) >= 10
        assert all(f.shape[:2] == (256, 320) for f in frames)
        # it is our thermal scene: dark (cold) sky at the top, brighter ground below
        g = cv2.cvtColor(frames[-1], cv2.COLOR_BGR2GRAY)
        assert g[:40].mean() + 30 < g[-60:].mean()

        for transport in ("tcp", "udp"):
            codec, pf = _pyav_frames(srv.url, transport, 10)
            assert codec == "h264"
            assert len(pf) == 10 and all(p.shape == (256, 320) for p in pf)
    finally:
        t0 = time.monotonic()
        srv.stop()
        assert time.monotonic() - t0 < 5
    assert _refused("127.0.0.1", port)

    srv = RTSPServer(SIM, port=port).start()
    try:
        assert srv.port == port
        codec, pf = _pyav_frames(srv.url, "tcp", 10)
        assert codec == "h264" and len(pf) == 10
    finally:
        srv.stop()


def test_rtsp_several_clients_and_stop_with_clients():
    srv = RTSPServer(SIM, port=0).start()
    results: dict[int, int] = {}
    errors: list[BaseException] = []

    def reader(i: int) -> None:
        try:
            _, pf = _pyav_frames(srv.url, "tcp" if i % 2 else "udp", 15)
            results[i] = len(pf)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=reader, args=(i,)) for i in range(3)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert not errors, errors
        assert results == {0: 15, 1: 15, 2: 15}
        # stop while a client is connected and playing
        c = av.open(srv.url, options={"rtsp_transport": "tcp"}, timeout=10)
        next(c.decode(c.streams.video[0]))
        t0 = time.monotonic()
        srv.stop()
        assert time.monotonic() - t0 < 5
        c.close()
    finally:
        srv.stop()


def test_rtsp_wrong_path_is_refused():
    srv = RTSPServer(SIM, port=0, path="live").start()
    try:
        with pytest.raises(av.error.FFmpegError):
            av.open(f"rtsp://127.0.0.1:{srv.port}/other", options={"rtsp_transport": "tcp"}, timeout=5)
    finally:
        srv.stop()


def test_run_simulator_blocks_until_stopped():
    stop = threading.Event()
    urls: list[str] = []
    t = threading.Thread(
        target=run_simulator, args=("mjpeg", SIM, "127.0.0.1", 0), kwargs={"stop": stop, "on_ready": urls.append}
    )
    t.start()
    try:
        deadline = time.monotonic() + 10
        while not urls and time.monotonic() < deadline:
            time.sleep(0.05)
        assert urls and urls[0].endswith("/stream.mjpg")
        assert t.is_alive()
        snap = urls[0].replace("/stream.mjpg", "/snapshot.jpg")
        with urllib.request.urlopen(snap, timeout=10) as resp:
            assert _decode(resp.read()) is not None
    finally:
        stop.set()
        t.join(10)
    assert not t.is_alive()
    with pytest.raises(ValueError):
        make_server("webrtc")
