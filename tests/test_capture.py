"""Camera threads: status, reconnection, fan-out, statistics, shutdown."""

from __future__ import annotations

import random
import socket
import threading
import time

import pytest

import thermalstream as ts
from tests.conftest import wait_for
from thermalstream.bus import EventBus
from thermalstream.capture import Backoff, Camera, CameraManager, CameraStatus
from thermalstream.sources import SourceError, make_source

SIM = "sim://?people=1&seed=5&width=160&height=128&fps=50"


def test_open_camera_reads_temperatures():
    with ts.open_camera("sim://?people=3&width=320&height=256") as cam:
        f = cam.read()
        g = cam.read()
        assert g.seq > f.seq
        assert f.celsius is not None and f.celsius.dtype.name == "float32"
        assert 25 < float(f.celsius.max()) < 120  # people ~33 °C, a warm engine hotter
        assert cam.status is CameraStatus.LIVE
    assert cam.status is CameraStatus.STOPPED and not cam.running


class Flaky:
    """Wraps a real sim source: refuses to open ``fail_opens`` times, then dies after ``frames`` frames once."""

    def __init__(self, fail_opens: int, frames: int | None = None):
        self.fail_opens = fail_opens
        self.frames = frames
        self.opens = 0

    def __call__(self, url):
        outer = self
        src = make_source(url)
        real_open, real_read = src.open, src.read

        def open_():
            outer.opens += 1
            if outer.opens <= outer.fail_opens:
                raise SourceError("connection refused")
            return real_open()

        count = [0]

        def read():
            count[0] += 1
            if outer.frames is not None and count[0] > outer.frames and outer.opens == outer.fail_opens + 1:
                raise SourceError("stream stopped sending frames")
            return real_read()

        src.open, src.read = open_, read
        return src


def fast_backoff():
    return Backoff(base=0.02, factor=2, cap=0.1, rng=random.Random(0))


def test_reconnects_after_failures_and_reports_states():
    seen = []
    bus = EventBus()
    bus.subscribe(lambda e: seen.append(e.data["status"]), "camera.status")
    cam = Camera(SIM, 1, bus=bus, source_factory=Flaky(fail_opens=2, frames=20), backoff=fast_backoff(), fail_after=5)
    with cam:
        wait_for(lambda: cam.stats().frames > 40, what="frames after reconnect")
    assert seen[:2] == ["connecting", "reconnecting"]  # then the failed opens
    assert "live" in seen
    live_then = seen[seen.index("live"):]
    assert "reconnecting" in live_then and live_then[-2:] == ["live", "stopped"]
    assert cam.stats().reconnects >= 3
    # seq stays monotonic across reconnects
    assert cam.latest().seq == cam.stats().frames


def test_never_reachable_camera_is_failed_with_reason_and_keeps_retrying():
    factory = Flaky(fail_opens=10**9)
    cam = Camera(SIM, 2, source_factory=factory, backoff=fast_backoff(), fail_after=3)
    with cam:
        wait_for(lambda: cam.status is CameraStatus.FAILED, what="failed")
        assert cam.reason == "connection refused"
        opens = factory.opens
        wait_for(lambda: factory.opens > opens, what="another retry")


def test_file_that_is_not_video_fails_for_good(tmp_path):
    bad = tmp_path / "clip.mp4"
    bad.write_bytes(b"this is not a video" * 100)
    cam = Camera(str(bad), 3, backoff=fast_backoff())
    with cam:
        wait_for(lambda: cam.status is CameraStatus.FAILED, what="failed")
        assert "not a readable video" in cam.reason
        time.sleep(0.3)
        assert not cam.running


def test_slow_subscriber_drops_are_counted_and_capture_keeps_pace():
    with Camera("sim://?seed=1&width=160&height=128&fps=100", 4) as cam:
        sub = cam.subscribe(maxsize=5, name="recorder")
        fast = cam.subscribe(maxsize=1000)
        wait_for(lambda: cam.stats().frames >= 60, what="60 frames")
        assert sub.qsize() == 5 and sub.dropped >= 50
        assert cam.stats().dropped >= sub.dropped
        got = [fast.get(timeout=1) for _ in range(50)]
        assert [f.seq for f in got] == list(range(got[0].seq, got[0].seq + 50)), "every-frame queue skipped frames"


def test_stats_fps_and_age():
    with Camera("sim://?seed=2&width=160&height=128&fps=25", 5) as cam:
        wait_for(lambda: cam.stats().frames > 30, what="frames")
        st = cam.stats()
        assert 15 < st.fps < 35
        assert st.last_frame_age is not None and st.last_frame_age < 1.0


def test_latest_frame_viewers_see_newest_without_queueing():
    with Camera("sim://?seed=3&width=160&height=128&fps=100", 6) as cam:
        f1 = cam.wait_frame(-1, timeout=5)
        time.sleep(0.3)
        f2 = cam.wait_frame(f1.seq, timeout=5)
        assert f2.seq - f1.seq > 10  # skipped straight to the newest


def _silent_server():
    """A TCP server that accepts and never answers: the worst kind of dead camera."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    conns = []
    stop = threading.Event()

    def accept():
        srv.settimeout(0.2)
        while not stop.is_set():
            try:
                conns.append(srv.accept()[0])
            except OSError:
                pass

    threading.Thread(target=accept, daemon=True).start()
    return srv, stop, conns


def test_dead_camera_does_not_block_others_or_shutdown():
    srv, stop, conns = _silent_server()
    port = srv.getsockname()[1]
    mgr = CameraManager()
    try:
        dead = mgr.add(1, f"http://127.0.0.1:{port}/video.mjpg")
        alive = mgr.add(2, "sim://?seed=4&width=160&height=128&fps=25")
        wait_for(lambda: alive.stats().frames > 25, what="healthy camera keeps running")
        assert dead.status is CameraStatus.CONNECTING
        t0 = time.monotonic()
        mgr.stop_all(timeout=2)
        assert time.monotonic() - t0 < 6
        assert alive.status is CameraStatus.STOPPED
    finally:
        stop.set()
        srv.close()
        for c in conns:
            c.close()


def test_manager_rejects_duplicate_ids():
    mgr = CameraManager()
    try:
        mgr.add(1, SIM)
        with pytest.raises(KeyError):
            mgr.add(1, SIM)
        assert len(mgr) == 1 and 1 in mgr
        mgr.remove(1)
        assert len(mgr) == 0
    finally:
        mgr.stop_all()
