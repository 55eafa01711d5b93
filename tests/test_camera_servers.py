"""Integration: the server connects to real camera servers on loopback (MJPEG over HTTP, JPEG
snapshots, RTSP/H.264), streams them to viewers, and rides out the camera going away."""

from __future__ import annotations

import struct

import cv2
import numpy as np
import pytest

from tests.conftest import free_port, wait_for
from thermalstream.simulate.mjpeg import MJPEGServer
from thermalstream.simulate.rtsp import RTSPServer

SIM = "sim://?people=2&seed=21&width=320&height=256&fps=25"


def connect(server, url: str) -> int:
    status, body = server.request("POST", "/api/cameras", {"url": url})
    assert status == 201, body
    return body["id"]


def status_of(server, cid: int) -> str:
    return server.camera(cid)["status"]


def ws_frames(server, cid: int, n: int = 5) -> list[np.ndarray]:
    ws = server.ws(f"/ws/video/{cid}", timeout=15)
    try:
        msgs = [ws.recv() for _ in range(n)]
    finally:
        ws.close()
    out = []
    for m in msgs:
        assert struct.unpack(">d", m[:8])[0] > 0
        img = cv2.imdecode(np.frombuffer(m[8:], np.uint8), cv2.IMREAD_COLOR)
        assert img is not None
        out.append(img)
    return out


def mjpeg_frame(server, cid: int) -> np.ndarray:
    with server.open(f"/api/cameras/{cid}/mjpeg", timeout=15) as r:
        buf = b""
        while b"\xff\xd9" not in buf[buf.find(b"\xff\xd8"):] or buf.find(b"\xff\xd8") < 0:
            buf += r.read1(65536)
    s = buf.index(b"\xff\xd8")
    e = buf.index(b"\xff\xd9", s) + 2
    img = cv2.imdecode(np.frombuffer(buf[s:e], np.uint8), cv2.IMREAD_COLOR)
    assert img is not None
    return img


def test_mjpeg_camera_live_then_reconnecting_then_live(server):
    port = free_port()
    cam_srv = MJPEGServer(SIM, port=port).start()
    try:
        cid = connect(server, cam_srv.url)
        wait_for(lambda: status_of(server, cid) == "live", what="MJPEG camera live")
        cam = server.camera(cid)
        assert cam["kind"] == "http"
        assert cam["radiometric"] is False and cam["temperature"] is None  # pictures only: no °C anywhere
        status, err = server.request("GET", f"/api/cameras/{cid}/temperature?x=1&y=1")
        assert status == 409 and "no temperatures" in err["error"]
        assert ws_frames(server, cid)[0].shape == (256, 320, 3)
        assert mjpeg_frame(server, cid).shape == (256, 320, 3)

        cam_srv.stop()
        wait_for(lambda: status_of(server, cid) == "reconnecting", what="reconnecting after the camera died")
        assert server.camera(cid)["reason"]
        cam_srv = MJPEGServer(SIM, port=port).start()
        wait_for(lambda: status_of(server, cid) == "live", timeout=40, what="live again after restart")
        assert len(ws_frames(server, cid, 3)) == 3
        titles = [n["title"] for n in server.runtime.notifications.list(None, limit=20)]
        assert "Camera connection lost" in titles
    finally:
        cam_srv.stop()


def test_jpeg_snapshot_camera(server):
    with MJPEGServer(SIM, port=free_port()) as cam_srv:
        cid = connect(server, cam_srv.snapshot_url + "?fps=10")
        wait_for(lambda: status_of(server, cid) == "live", what="snapshot camera live")
        frames = ws_frames(server, cid, 3)
        assert frames[0].shape == (256, 320, 3)


def test_camera_sending_garbage_gets_clear_reason_and_harms_nothing(server):
    good = connect(server, "sim://?seed=1&width=160&height=128")
    with MJPEGServer(SIM, port=free_port(), garbage=True) as cam_srv:
        cid = connect(server, cam_srv.url)
        wait_for(lambda: status_of(server, cid) in ("reconnecting", "failed"), what="garbage detected")
        assert "not" in server.camera(cid)["reason"] and "JPEG" in server.camera(cid)["reason"].upper()
    assert status_of(server, good) == "live"
    assert server.request("GET", "/health")[0] == 200


def test_unreachable_host_fails_with_reason(server):
    closed = free_port()
    cid = connect(server, f"http://127.0.0.1:{closed}/video.mjpg")
    wait_for(lambda: status_of(server, cid) == "failed", timeout=30, what="failed")
    assert "cannot connect" in server.camera(cid)["reason"]
    notes = [n for n in server.runtime.notifications.list(None, limit=20) if n["type"] == "error"]
    assert notes and "cannot connect" in notes[0]["message"]


def test_file_that_is_not_video_is_refused(server, tmp_path):
    bad = tmp_path / "clip.mp4"
    bad.write_bytes(b"\x00garbage" * 1000)
    status, err = server.request("POST", "/api/cameras", {"url": str(bad)})
    assert status == 400 and "not a readable video" in err["error"]
    assert server.runtime.cameras.list() == []


@pytest.mark.slow
def test_rtsp_camera_live_then_reconnecting_then_live(server):
    port = free_port()
    cam_srv = RTSPServer(SIM, port=port, path="live").start()
    try:
        cid = connect(server, cam_srv.url)
        wait_for(lambda: status_of(server, cid) == "live", timeout=30, what="RTSP camera live")
        assert server.camera(cid)["kind"] == "rtsp"
        frames = ws_frames(server, cid, 5)
        assert frames[0].shape == (256, 320, 3)
        assert mjpeg_frame(server, cid).shape == (256, 320, 3)

        cam_srv.stop()
        wait_for(lambda: status_of(server, cid) == "reconnecting", timeout=30, what="reconnecting")
        cam_srv = RTSPServer(SIM, port=port, path="live").start()
        wait_for(lambda: status_of(server, cid) == "live", timeout=60, what="live again")
        assert len(ws_frames(server, cid, 3)) == 3
    finally:
        cam_srv.stop()


def test_thermal_files_play_and_truncated_ones_are_refused(server, tmp_path):
    from tests.samples import flirpy_samples
    from tests.test_radiometric import kelvin100, write_cptv

    seq = flirpy_samples()["test.seq"]
    cid = connect(server, f"{seq}?loop=1")
    wait_for(lambda: status_of(server, cid) == "live", what="SEQ file playing")
    t = server.camera(cid)["temperature"]
    assert 9 < t["min"] < t["max"] < 13  # the sample's documented 9.4-12.6 °C

    cut = tmp_path / "cut.seq"
    cut.write_bytes(seq.read_bytes()[: seq.stat().st_size // 3])
    cptv = tmp_path / "run.cptv"
    write_cptv(cptv, [kelvin100(np.full((120, 160), 20.0 + i, np.float32)) for i in range(5)], b"lepton3.5")
    short = tmp_path / "short.cptv"
    short.write_bytes(cptv.read_bytes()[:-40])
    for bad in (cut, short):
        # the intact frames still play (nothing is lost), then the camera fails naming file and frame
        status, body = server.request("POST", "/api/cameras", {"url": str(bad)})
        assert status == 201, body
        wait_for(lambda: status_of(server, body["id"]) == "failed", what=f"truncated {bad.name} reported")
        cam = server.camera(body["id"])
        assert bad.name in cam["reason"] and "frame" in cam["reason"] and "truncated" in cam["reason"]
        assert cam["frames"] >= 1
    assert status_of(server, cid) == "live"  # the good file plays on

    # a file cut before its first frame is refused outright
    stub = tmp_path / "stub.cptv"
    stub.write_bytes(cptv.read_bytes()[:-400])
    status, err = server.request("POST", "/api/cameras", {"url": str(stub)})
    assert status == 400 and "stub.cptv" in err["error"] and "truncated" in err["error"]
