"""The Recorder thread on real cameras: segment rolling by time, drop accounting with a bounded
queue, a camera lost mid-recording (loopback MJPEG server stopped and restarted)."""

from __future__ import annotations

import itertools
import time

import numpy as np
import pytest

from tests.conftest import free_port, wait_for
from thermalstream.bus import EventBus
from thermalstream.capture import Backoff, Camera
from thermalstream.record.radiometric import read_radiometric
from thermalstream.record.recorder import Recorder
from thermalstream.record.segments import MANIFEST, parse_segment_name, read_manifest
from thermalstream.record.video import VideoOptions, probe_segment
from thermalstream.simulate.mjpeg import MJPEGServer

FAST_SIM = "sim://?fps=50&width=320&height=256&pace=1&seed=2"


def test_segments_roll_by_frame_time_and_decode(tmp_path):
    with Camera(FAST_SIM, camera_id=1, bus=EventBus()) as cam:
        cam.read()
        rec = Recorder(cam, tmp_path / "r", segment_seconds=1.0, reserve_bytes=0,
                       video=VideoOptions(preset="ultrafast")).start()
        wait_for(lambda: len(rec.segments) >= 2 and rec.open_segment_frames >= 10, timeout=20,
                 what="two closed segments")
        res = rec.stop()
    assert res.error is None and not rec.running
    assert len(res.segments) >= 3
    assert sum(s.frames for s in res.segments) == res.frames
    for a, b in itertools.pairwise(res.segments):
        assert b.start == pytest.approx(a.end, abs=1e-6)  # contiguous: no frame time lost at a roll
        assert b.index == a.index + 1
    for s in res.segments:
        p = probe_segment(s.path)
        assert p.ok and p.codec == "h264" and abs(p.frames - s.frames) <= 1
        assert p.duration_s == pytest.approx(s.duration_s, abs=0.05)
        assert parse_segment_name(s.path.name)[1] == pytest.approx(s.start, abs=0.001)
        rad = read_radiometric(s.radiometric_path)  # radiometric camera: lossless data beside the video
        assert rad.meta["frames"] == s.frames and rad.data.dtype == np.uint16
        assert np.all(np.diff(rad.meta["seq"]) >= 1)
    for s in res.segments[:-1]:
        assert s.duration_s == pytest.approx(1.0, abs=0.05)
        assert 45 <= s.frames <= 51
    man = read_manifest(tmp_path / "r")
    assert man["frames"] == res.frames and len(man["segments"]) == len(res.segments)
    assert (tmp_path / "r" / MANIFEST).exists()


class SlowRecorder(Recorder):
    """A deliberately slow writer: this test is about the drop accounting, not about speed."""

    def _frame(self, frame):
        time.sleep(0.05)
        super()._frame(frame)


def test_a_slow_writer_drops_frames_and_counts_every_one(tmp_path):
    with Camera(FAST_SIM, camera_id=2) as cam:
        cam.read()
        rec = SlowRecorder(cam, tmp_path / "slow", queue_size=2, reserve_bytes=0,
                           video=VideoOptions(preset="ultrafast")).start()
        wait_for(lambda: rec.frames >= 15, timeout=20, what="some frames written")
        sub = rec._sub
        res = rec.stop()
    assert res.dropped > 0 and res.dropped == sub.dropped
    assert res.frames == sub.delivered  # every frame the queue accepted was written
    seqs = np.concatenate([read_radiometric(s.radiometric_path).meta["seq"] for s in res.segments])
    assert len(seqs) == res.frames
    missing = int(seqs[-1] - seqs[0] + 1 - len(seqs))
    assert 0 < missing <= res.dropped  # the holes in the recording are exactly dropped frames
    assert sub not in cam.fanout._subs  # unsubscribed at stop


def test_camera_lost_mid_recording_closes_segment_records_gap_and_resumes(tmp_path):
    port = free_port()
    server = MJPEGServer("sim://?width=160&height=128&fps=25", port=port).start()
    bus = EventBus()
    cam = Camera(server.url, camera_id=3, bus=bus, backoff=Backoff(base=0.2, factor=1.5, cap=0.5)).start()
    try:
        cam.read(timeout=15)
        # gap_after 2 s: a stall of a loaded test machine is not mistaken for the camera going away
        rec = Recorder(cam, tmp_path / "lost", segment_seconds=60, gap_after=2.0, reserve_bytes=0,
                       video=VideoOptions(preset="ultrafast")).start()
        wait_for(lambda: rec.frames >= 20, what="frames before the camera dies")
        server.stop()
        down_at = time.time()
        # the recorder thread closes the segment, then opens the gap: wait for both
        wait_for(lambda: len(rec.segments) == 1 and rec.gaps, timeout=10, what="segment closed and gap opened")
        assert rec.gaps[-1].end is None
        time.sleep(0.5)
        server = MJPEGServer("sim://?width=160&height=128&fps=25", port=port).start()
        up_at = time.time()
        n = rec.frames
        wait_for(lambda: rec.frames >= n + 20, timeout=30, what="frames after reconnection")
        res = rec.stop()
    finally:
        cam.stop()
        server.stop()
    assert res.error is None
    assert len(res.segments) == 2
    assert len(res.gaps) == 1
    gap = res.gaps[0]
    assert gap.end is not None and gap.start <= down_at + 0.2 and gap.end >= up_at - 0.2
    assert gap.start == pytest.approx(res.segments[0].end, abs=0.1)
    assert gap.end == pytest.approx(res.segments[1].start, abs=1e-6)
    for s in res.segments:
        p = probe_segment(s.path)
        assert p.ok and abs(p.frames - s.frames) <= 1 and s.radiometric_path is None  # pictures only
    assert read_manifest(tmp_path / "lost")["gaps"][0]["end"] == gap.end
