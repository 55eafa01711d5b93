"""Recording an H.264 RTSP camera by remuxing its packets (no re-encode), and the PyAV RTSP
source that delivers those packets."""

from __future__ import annotations

import itertools
import socket
import time

import av
import pytest

from tests.conftest import free_port, wait_for
from thermalstream.bus import EventBus
from thermalstream.capture import Camera
from thermalstream.record import open_segment as open_segment_mod
from thermalstream.record import remux
from thermalstream.record.recorder import Recorder
from thermalstream.record.video import probe_segment
from thermalstream.simulate.rtsp import RTSPServer
from thermalstream.sources import SourceError, make_source
from thermalstream.sources.opencv_capture import OpenCVSource
from thermalstream.sources.pyav_rtsp import PyAVRTSPSource

SIM = "sim://?people=2&seed=5&width=320&height=256&fps=25"


@pytest.fixture
def rtsp():
    srv = RTSPServer(SIM, port=0, path="live", gop_seconds=1.0).start()
    try:
        yield srv
    finally:
        srv.stop()


def test_pyav_source_gives_frames_with_h264_packets(rtsp):
    src = make_source(rtsp.url)
    assert isinstance(src, PyAVRTSPSource)
    info = src.open()
    try:
        assert (info.width, info.height) == (320, 256) and not info.radiometric
        frames = [src.read() for _ in range(30)]
    finally:
        src.close()
    assert frames[0].image.shape == (256, 320, 3)
    assert all(f.packet is not None and f.packet.codec == "h264" for f in frames)
    assert frames[0].packet.keyframe and frames[0].packet.extradata
    assert sum(f.packet.keyframe for f in frames) >= 1
    assert make_source(rtsp.url + "?gray=1").gray
    assert isinstance(make_source(rtsp.url + "?backend=opencv"), OpenCVSource)


def test_pyav_source_fails_fast_and_masks_credentials():
    port = free_port()  # nothing listens
    t0 = time.monotonic()
    with pytest.raises(SourceError) as exc:
        make_source(f"rtsp://admin:hunter2@127.0.0.1:{port}/live").open()
    assert time.monotonic() - t0 < 8
    msg = str(exc.value)
    assert "hunter2" not in msg and "admin:***@" in msg and "refused" in msg

    # a host that accepts the connection but never answers: still a clear error within ~8 s
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(1)
    try:
        t0 = time.monotonic()
        with pytest.raises(SourceError) as exc:
            make_source(f"rtsp://admin:hunter2@127.0.0.1:{ls.getsockname()[1]}/live").open()
        assert time.monotonic() - t0 < 9
        assert "hunter2" not in str(exc.value) and "cannot connect" in str(exc.value)
    finally:
        ls.close()


@pytest.mark.slow
def test_rtsp_camera_is_recorded_by_remux_without_encoding(rtsp, tmp_path, monkeypatch):
    def no_encoder(*a, **k):
        raise AssertionError("the recorder opened an x264 encoder for an H.264 camera")

    monkeypatch.setattr(open_segment_mod, "SegmentWriter", no_encoder)
    before = dict(remux.stats)
    with Camera(rtsp.url, camera_id=1, bus=EventBus()) as cam:
        cam.read(timeout=30)
        rec = Recorder(cam, tmp_path / "r", segment_seconds=1.5, reserve_bytes=0).start()
        wait_for(lambda: len(rec.segments) >= 2, timeout=30, what="two closed segments")
        time.sleep(0.5)
        res = rec.stop()
    assert res.error is None, res.error
    assert rec.encoded_segments == 0 and rec.remuxed_segments == len(res.segments) >= 3
    assert remux.stats["segments"] - before["segments"] == len(res.segments)
    assert remux.stats["packets"] - before["packets"] == res.frames
    received = res.frames + rec.awaiting_keyframe + res.dropped
    assert res.frames >= 50 and rec.awaiting_keyframe <= 30  # at most one GOP waits for a keyframe
    assert sum(s.frames for s in res.segments) == res.frames
    for a, b in itertools.pairwise(res.segments):
        assert b.index == a.index + 1 and b.start >= a.start
    decoded = 0
    for s in res.segments:
        p = probe_segment(s.path)
        assert p.ok and p.codec == "h264" and (p.width, p.height) == (320, 256), p
        assert abs(p.frames - s.frames) <= 1
        decoded += p.frames
        with av.open(str(s.path)) as c:
            pkts = [pk for pk in c.demux(c.streams.video[0]) if pk.size]
            assert pkts[0].is_keyframe  # every segment starts on a keyframe and decodes alone
        with av.open(str(s.path)) as c:
            assert next(iter(c.decode(video=0))).key_frame
    # every received frame from the first keyframe on is in the files (none dropped here)
    assert abs(decoded - (received - rec.awaiting_keyframe - res.dropped)) <= len(res.segments)
    assert res.dropped <= 0.1 * received
    # segments roll at keyframes once 1.5 s is reached: 1 s GOPs make them ~2 s long
    for s in res.segments[:-1]:
        assert 1.2 <= s.duration_s <= 3.5, s


def test_palette_or_burn_in_still_encodes(rtsp, tmp_path):
    with Camera(rtsp.url, camera_id=2, bus=EventBus()) as cam:
        cam.read(timeout=30)
        rec = Recorder(cam, tmp_path / "b", segment_seconds=5, reserve_bytes=0,
                       burn_in=lambda img, f: img).start()
        wait_for(lambda: rec.frames >= 10, timeout=30, what="frames recorded")
        res = rec.stop()
    assert res.error is None and rec.encoded_segments == 1 and rec.remuxed_segments == 0
    assert probe_segment(res.segments[0].path).ok
