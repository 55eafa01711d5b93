"""Motion gate and shared detector worker, on the simulator's real frames.

The detector here is the product's HotspotDetector (warm blobs from °C) when it is importable,
otherwise :class:`ThresholdDetector` below (the same idea written out: threshold the frame's °C,
group pixels into blobs). Both are real detectors working on real simulated thermal data.
"""

from __future__ import annotations

import threading
import time

import cv2
import numpy as np
import pytest

from thermalstream.detect.motion import MotionGate
from thermalstream.detect.types import Box, Detection, Detector, DetectorStatus, box_temperatures
from thermalstream.detect.worker import DetectorWorker
from thermalstream.detect.zones import ZoneConfig, parse_masks
from thermalstream.frame import FFCState
from thermalstream.sources.sim import SimSource

FPS = 25


class ThresholdDetector(Detector):
    """Blobs of pixels above ``threshold`` °C (used when HotspotDetector is not available)."""

    name = "threshold"

    def __init__(self, threshold: float = 26.0, min_area: int = 150, label: str = "person") -> None:
        self.threshold, self.min_area, self.label = threshold, min_area, label

    def detect(self, frames):
        out = []
        for f in frames:
            hot = cv2.dilate((f.celsius > self.threshold).astype(np.uint8), np.ones((11, 5), np.uint8))
            n, _, stats, _ = cv2.connectedComponentsWithStats(hot, connectivity=8)
            dets = []
            for i in range(1, n):
                x, y, w, h, a = (int(v) for v in stats[i])
                if a < self.min_area:
                    continue
                box = Box(float(x), float(y), float(x + w), float(y + h))
                mx, mean = box_temperatures(f.celsius, box)
                dets.append(Detection(self.label, 1.0, box, max_celsius=mx, mean_celsius=mean))
            out.append(dets)
        return out


def real_detector() -> Detector:
    """The product's hotspot detector tuned for people in the simulator, or the threshold one."""
    try:
        from thermalstream.detect.hotspot import HotspotDetector
    except ImportError:
        return ThresholdDetector()
    return HotspotDetector(threshold_c=26.0, delta_c=None, min_area=150, merge_px=4, label="person")


class Counting(Detector):
    """Counts calls and frames; one frame per call so calls are comparable with the gate on and off."""

    def __init__(self, inner: Detector, max_batch: int = 1, delay: float = 0.0) -> None:
        self.inner, self._max_batch, self.delay = inner, max_batch, delay
        self.calls = 0
        self.frames = 0
        self.name = f"counting({inner.name})"

    @property
    def max_batch(self) -> int:
        return self._max_batch

    def status(self) -> DetectorStatus:
        return DetectorStatus("ready", model=self.name)

    def detect(self, frames):
        self.calls += 1
        self.frames += len(frames)
        if self.delay:
            time.sleep(self.delay)
        return self.inner.detect(frames)


def sim(**params) -> SimSource:
    p = {"width": 320, "height": 256, "people": 0, "vehicle": 0, "animal": 0, "pace": 0, **params}
    return SimSource("sim://?" + "&".join(f"{k}={v}" for k, v in p.items()))


# --------------------------------------------------------------------------- the gate


def test_gate_ignores_ffc_jumps_of_a_static_scene():
    src = sim(ffc=2, width=640, height=512)
    gate = MotionGate()
    results = []
    # every frame around each FFC (freeze and level jump), every 5th frame elsewhere: 12 s, 6 FFCs
    idx = sorted(set(range(0, 300, 5)) | {i for k in range(1, 7) for i in range(50 * k - 3, 50 * k + 12)})
    for i in idx:
        results.append((i, gate.update(src.render(i, timestamp=i / FPS), now=i / FPS)))
    assert not [i for i, r in results if r.motion], "an FFC was taken for motion"
    st = gate.stats
    assert st.ffc_frames > 0  # frames frozen while IN_PROGRESS
    assert st.level_jumps >= 5  # the jumps after each FFC were seen and re-baselined
    assert max(abs(r.shift) for _, r in results) > 0.3  # and they were real (°C over the whole frame)
    assert any(src.ffc_state(i) is FFCState.IN_PROGRESS for i in idx)


def test_gate_fires_for_a_walker_also_across_ffc():
    src = sim(people=1, seed=10, ffc=2)
    gate = MotionGate()
    hits, visible = 0, 0
    for i in range(0, 240, 5):
        r = gate.update(src.render(i, timestamp=i / FPS), now=i / FPS)
        objs = src.objects(i)
        if not objs:
            continue
        _, x1, y1, x2, y2 = objs[0]
        if x1 <= 0 or x2 >= 320 or src.ffc_state(i) is FFCState.IN_PROGRESS:
            continue  # entering/leaving, or the picture is frozen
        visible += 1
        # a motion box overlaps the walker
        if any(b.x1 < x2 and b.x2 > x1 and b.y1 < y2 and b.y2 > y1 for b in r.boxes):
            hits += 1
    assert visible >= 15
    assert hits >= visible - 2, (hits, visible)
    assert gate.stats.level_jumps >= 2


def test_masks_suppress_motion_inside_them():
    src = sim(people=1, seed=10, ffc=0)
    ground = ZoneConfig(masks=parse_masks([[[0, 0.3], [1, 0.3], [1, 1], [0, 1]]]))  # where the walker walks
    sky = ZoneConfig(masks=parse_masks([{"name": "sky", "points": [[0, 0], [1, 0], [1, 0.2], [0, 0.2]]}]))
    masked, elsewhere = MotionGate(zones=ground), MotionGate(zones=sky)
    m_masked = m_else = 0
    for i in range(0, 200, 5):
        f = src.render(i, timestamp=i / FPS)
        m_masked += masked.update(f, now=i / FPS).motion
        m_else += elsewhere.update(f, now=i / FPS).motion
    assert m_masked == 0
    assert m_else >= 20


def test_gate_works_on_picture_only_frames():
    src = sim(people=1, seed=10, ffc=0)
    gate = MotionGate()
    motion = 0
    for i in range(0, 200, 5):
        f = src.render(i, timestamp=i / FPS)
        f.celsius = None  # a picture-only camera: grey levels
        motion += gate.update(f, now=i / FPS).motion
    assert motion >= 20


# --------------------------------------------------------------------------- the worker


class SimFeed:
    """A camera stand-in on a simulated clock: ``latest()`` is the frame due at ``clock.now``."""

    def __init__(self, src: SimSource, clock: list[float]) -> None:
        self.src, self.clock = src, clock
        self._cache = None

    def latest(self):
        i = int(self.clock[0] * FPS)
        if self._cache is None or self._cache.seq != i:
            self._cache = self.src.render(i, timestamp=i / FPS)
        return self._cache


def _run_cameras(gate_on: bool, seconds: float = 30.0) -> tuple[Counting, DetectorWorker]:
    clock = [0.0]
    det = Counting(real_detector())
    w = DetectorWorker(det, None, clock=lambda: clock[0])
    w.add_camera("walker", SimFeed(sim(people=1, seed=10, ffc=7), clock), gate=MotionGate(), bypass_gate=not gate_on)
    for k in range(8):
        w.add_camera(f"static{k}", SimFeed(sim(seed=100 + k, ffc=7), clock), gate=MotionGate(),
                     bypass_gate=not gate_on)
    for step in range(int(seconds * FPS)):
        clock[0] = step / FPS
        while w.run_once(clock[0]):
            pass
    return det, w


def test_gate_cuts_detector_calls_five_times_for_one_walker_among_eight_static_cameras():
    on, w_on = _run_cameras(gate_on=True)
    off, _w_off = _run_cameras(gate_on=False)
    # without the gate: 9 cameras x 5 fps x 30 s
    assert off.calls >= 9 * 5 * 30 * 0.95
    assert on.calls * 5 <= off.calls, (on.calls, off.calls)
    st = w_on.stats()["cameras"]
    assert all(st[f"static{k}"]["detected"] == 0 for k in range(8))  # static scenes (with FFCs) never ran
    assert st["walker"]["detected"] > 20  # the walker's camera did
    assert all(st[f"static{k}"]["gate"]["ffc_frames"] >= 3 for k in range(8))  # they went through 4 FFCs each
    assert w_on.stats()["gate_skipped"] > 0


def test_worker_latest_frame_wins_without_backlog():
    src = sim(people=1, seed=10)
    got = []
    w = DetectorWorker(Counting(real_detector()), lambda cid, f, d: got.append((cid, f.seq)), default_fps=1000)
    w.add_camera(1, gate=None)
    for i in range(1, 6):  # five frames arrive while the detector is busy elsewhere
        assert w.submit(1, src.render(i), now=i)
    assert w.slot(1).replaced == 4
    assert w.run_once(now=10) == 1
    assert got == [(1, 5)]  # only the newest was detected
    assert w.run_once(now=11) == 0  # and nothing old is left queued
    assert not w.submit(1, src.render(3), now=12)  # an older frame than the last one is refused


class LiveFeed:
    """A camera stand-in fed by a thread at ``fps``: the newest frame (sequence numbers grow)."""

    def __init__(self, frames) -> None:
        self.frames = frames
        self.seq = 0
        self._frame = None

    def push(self) -> None:
        self.seq += 1
        f = self.frames[self.seq % len(self.frames)]
        self._frame = type(f)(image=f.image, seq=self.seq, timestamp=time.time(), celsius=f.celsius)

    def latest(self):
        return self._frame


def test_worker_is_fair_and_never_works_on_old_frames():
    src = sim(people=1, seed=10)
    frames = [src.render(i) for i in range(0, 100, 5)]
    feeds = {cid: LiveFeed(frames) for cid in range(4)}
    lags: dict[int, list[int]] = {cid: [] for cid in feeds}
    lock = threading.Lock()

    def on_result(cid, frame, dets):
        with lock:
            lags[cid].append(feeds[cid].seq - frame.seq)

    det = Counting(real_detector(), delay=0.03)  # a slow model: ~30 frames/s for 4 x 25 fps wanted
    w = DetectorWorker(det, on_result, default_fps=25)
    for cid, feed in feeds.items():
        feed.push()
        w.add_camera(cid, feed, gate=None)
    stop = threading.Event()

    def produce():
        while not stop.is_set():
            for feed in feeds.values():
                feed.push()
            time.sleep(0.004)

    t = threading.Thread(target=produce, daemon=True)
    t.start()
    w.start()
    try:
        time.sleep(2.5)
    finally:
        w.stop()
        stop.set()
        t.join()
    counts = [len(v) for v in lags.values()]
    produced = min(f.seq for f in feeds.values())
    assert min(counts) >= 10, counts
    assert min(counts) >= 0.7 * max(counts), f"unfair: {counts}"
    assert sum(counts) < produced  # most frames were skipped, not queued
    # frames handed to the detector are recent: a backlog would make the lag grow without bound
    worst = max(max(v) for v in lags.values())
    assert worst <= 60, worst
    late = [v[-1] for v in lags.values()]
    assert max(late) <= 60, late


def test_unavailable_detector_drops_frames_and_keeps_going():
    class Broken(Detector):
        def status(self):
            return DetectorStatus("unavailable", message="model file missing: put it at data/models/yolov8n.pt")

        def detect(self, frames):  # pragma: no cover - never called
            raise AssertionError("detect called on an unavailable detector")

    src = sim(people=1, seed=10)
    w = DetectorWorker(Broken(), None)
    w.add_camera(1, gate=None)
    w.submit(1, src.render(1), now=0)
    assert w.run_once(now=0) == 0
    assert w.slot(1).unavailable == 1
    w.set_detector(None)
    w.submit(1, src.render(2), now=1)
    assert w.run_once(now=1) == 0


def test_worker_batches_up_to_max_batch():
    src = sim(people=1, seed=10)
    det = Counting(real_detector(), max_batch=3)
    seen = []
    w = DetectorWorker(det, lambda cid, f, d: seen.append(cid))
    for cid in range(5):
        w.add_camera(cid, gate=None)
        w.submit(cid, src.render(10 + cid), now=0)
    assert w.run_once(now=0) == 3
    assert w.run_once(now=0) == 2
    assert det.calls == 2 and sorted(seen) == [0, 1, 2, 3, 4]


@pytest.mark.parametrize("size", [(640, 512), (160, 120)])
def test_gate_boxes_are_in_full_frame_pixels(size):
    w, h = size
    src = sim(people=1, seed=10, ffc=0, width=w, height=h)
    gate = MotionGate()
    gate.update(src.render(0), now=0)
    r = gate.update(src.render(100), now=1)
    _, x1, _y1, x2, _y2 = src.objects(100)[0]
    assert r.motion
    assert all(0 <= b.x1 < b.x2 <= w and 0 <= b.y1 < b.y2 <= h for b in r.boxes)
    assert any(b.x1 <= x2 and b.x2 >= x1 for b in r.boxes)
