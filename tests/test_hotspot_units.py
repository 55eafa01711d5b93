"""Unit tests of the weightless detector's rules with synthetic frames (FFC, level jumps, units,
static warm things, one state per camera) and of the bounded detection rows. Real-data tests are
in test_hotspot_real.py and test_hotspot_sim.py."""

from __future__ import annotations

import numpy as np

from thermalstream.detect.events import RowThrottle
from thermalstream.detect.hotspot import HotspotDetector
from thermalstream.detect.types import Box, Detection
from thermalstream.frame import FFCState, Frame, Radiometry

H, W, FPS = 120, 160, 9.0


def scene(i: int, *, counts: bool, blob_x: float | None = None, level: float = 0.0, static_blob: bool = False,
          ffc: FFCState = FFCState.IDLE, seed: int = 0, gain: float = 1.0, pattern: float = 0.0,
          text: bool = False) -> Frame:
    """A textured scene with sensor noise; a warm 8x8 square at ``blob_x`` (moving object) and/or a
    static warm square; ``level`` shifts the whole frame and ``gain`` scales it (as an automatic gain
    does); ``pattern`` adds a new offset of that spread to every pixel (as a
    flat-field correction changes each pixel's offset); ``text`` burns a bright caption in after
    the gain (a camera's on-screen text). Counts: noise 2, object +150 counts; °C:
    noise 0.05, object +3 °C (the same contrast in noise units)."""
    rng = np.random.default_rng(seed * 100_000 + i)
    base_rng = np.random.default_rng(7)
    texture = base_rng.normal(0, 1, (H, W)).cumsum(1) * 0.05
    if counts:
        v = 3000 + texture * 20 + rng.normal(0, 2.0, (H, W)) + level
        warm = 150.0
    else:
        v = 15 + texture + rng.normal(0, 0.05, (H, W)) + level
        warm = 3.0
    if blob_x is not None:
        x = int(blob_x)
        v[60:68, x:x + 8] += warm
    if static_blob:
        v[20:30, 120:130] += warm
    if pattern:
        v += np.random.default_rng(99).normal(0, pattern, (H, W))
    v *= gain
    if text and counts:
        v[4:10, 10:60] = 5000.0 + 600.0 * (np.arange(50) % 5 < 3)  # letters: fixed levels, not the scene's
    rad = Radiometry(calibrated=not counts, unit_scale=None if counts else 0.01, ffc_state=ffc)
    image = np.zeros((H, W), np.uint8)
    if counts:
        return Frame(image=image, seq=i, timestamp=100.0 + i / FPS, raw=np.round(v).astype(np.uint16), radiometry=rad)
    return Frame(image=image, seq=i, timestamp=100.0 + i / FPS, celsius=v.astype(np.float32), radiometry=rad)


def run(det: HotspotDetector, frames) -> list[list[Detection]]:
    return [det.detect_one(f) for f in frames]


def test_same_defaults_find_a_moving_warm_thing_in_counts_and_in_celsius():
    for counts in (True, False):
        det = HotspotDetector()
        frames = [scene(i, counts=counts) for i in range(30)]  # learn the scene
        frames += [scene(30 + i, counts=counts, blob_x=10 + 3 * i) for i in range(30)]
        out = run(det, frames)
        assert not any(out[:30])
        found = [d for dets in out[30:] for d in dets]
        assert sum(1 for dets in out[30:] if dets) >= 26, counts  # all but the first few (track confirmation)
        assert all(60 <= d.box.center[1] <= 68 for d in found)
        if counts:
            assert all(d.max_celsius is None and d.max_counts > 3000 for d in found)
            assert found[0].extra["unit"] == "counts"
        else:
            assert all(d.max_counts is None and d.max_celsius > 15 for d in found)
        assert len({d.track_id for d in found}) == 1  # one object, one track


def test_static_warm_thing_is_never_an_object():
    det = HotspotDetector()
    out = run(det, [scene(i, counts=True) for i in range(20)]
              + [scene(20 + i, counts=True, static_blob=True) for i in range(120)])  # a heater switched on
    assert not any(out)


def test_whole_frame_level_jump_is_followed_and_walker_keeps_its_track():
    """A jump that one map of the whole picture explains (a level or gain change, no pixel's own
    offset moved) is followed at once: no hold, no object, the walker is found on the very frame."""
    det = HotspotDetector()
    frames = [scene(i, counts=True) for i in range(20)]
    frames += [scene(20 + i, counts=True, blob_x=5 + 3 * i) for i in range(10)]
    frames += [scene(30 + i, counts=True, blob_x=35 + 3 * i, level=-60.0) for i in range(20)]  # a level jump
    out = run(det, frames)
    for dets in out[20:]:  # never the whole frame or any box off the walker
        assert all(60 <= d.box.center[1] <= 68 and d.box.area < 200 for d in dets)
    assert all(out[30:])  # found on every frame of the jump and after it
    assert len({d.track_id for dets in out[20:] for d in dets}) == 1
    st = det.state_of()
    assert (st.ffc_frames, st.gain_changes) == (0, 1)


def test_jump_that_moves_every_pixels_offset_is_held_as_an_ffc():
    """A jump that also changes each pixel's own offset (what a flat-field correction does; a real
    Lepton's leaves 10 counts against 1 of noise) holds detection, then the walker is found again."""
    det = HotspotDetector()
    frames = [scene(i, counts=True) for i in range(20)]
    frames += [scene(20 + i, counts=True, blob_x=5 + 3 * i) for i in range(10)]
    frames += [scene(30 + i, counts=True, blob_x=35 + 3 * i, level=-60.0, pattern=10.0) for i in range(20)]
    out = run(det, frames)
    assert out[30] == [] and out[31] == [] and out[32] == []  # the jump and the hold after it
    for dets in out[30:]:
        assert all(60 <= d.box.center[1] <= 68 and d.box.area < 200 for d in dets)
    assert sum(1 for dets in out[36:] if dets) >= 12  # found again after the hold
    st = det.state_of()
    assert st.ffc_frames >= 1 and st.gain_changes == 0


def test_automatic_gain_changes_with_burned_in_text_give_no_false_object():
    """An 8-bit style camera output: the gain jumps every second, the caption drawn after the gain
    keeps its levels. The caption never becomes an object; the walker is found throughout."""
    det = HotspotDetector()
    gains = [1.0, 0.9, 1.1, 0.95, 1.05]
    frames = [scene(i, counts=True, text=True, gain=gains[(i // 9) % 5], level=40.0 * ((i // 9) % 2))
              for i in range(20)]
    frames += [scene(20 + i, counts=True, text=True, blob_x=5 + 2 * i, gain=gains[((20 + i) // 9) % 5],
                     level=40.0 * (((20 + i) // 9) % 2)) for i in range(50)]
    st, out = det.state_of(), []
    for f in frames:
        changes = st.gain_changes
        out.append(det.detect_one(f))
        if st.gain_changes > changes:  # just followed a gain change: the caption's background kept its levels
            off = np.abs(f.raw[4:10, 10:60].astype(np.float32) - st.bg[4:10, 10:60])  # work grid = frame here
            assert float(off.max()) < det.k * st.sigma, f.seq
    for dets in out:
        assert all(60 <= d.box.center[1] <= 68 for d in dets), dets  # nothing on the caption
    assert sum(1 for dets in out[24:] if dets) >= 44
    assert st.ffc_frames == 0 and st.gain_changes >= 5



def test_ffc_in_progress_frames_neither_detect_nor_learn():
    det = HotspotDetector()
    run(det, [scene(i, counts=False) for i in range(20)])
    st = det.state_of()
    bg = st.bg.copy()
    frozen = [scene(20 + i, counts=False, blob_x=40, static_blob=True, ffc=FFCState.IN_PROGRESS) for i in range(5)]
    assert run(det, frozen) == [[]] * 5
    # only the (smooth) level may have moved the background, not the objects in the frozen frames
    d = st.bg - bg
    assert abs(float(d[60:68, 40:48].mean() - np.median(d))) < 0.02  # learning would add ~0.3 °C
    assert abs(float(d[20:30, 120:130].mean() - np.median(d))) < 0.02
    after = [scene(25 + i, counts=False, blob_x=40 + 3 * i, ffc=FFCState.DONE) for i in range(3)]
    assert run(det, after)[0] == []  # just after the FFC: held


def test_a_new_done_period_starts_an_ffc_hold():
    det = HotspotDetector()
    frames = [scene(i, counts=True) for i in range(15)]
    frames += [scene(15 + i, counts=True, blob_x=5 + 3 * i) for i in range(10)]
    frames += [scene(25 + i, counts=True, blob_x=35 + 3 * i, ffc=FFCState.DONE) for i in range(10)]
    out = run(det, frames)
    assert any(out[20:25]) and out[25] == [] and out[26] == []


def test_one_state_per_camera():
    det = HotspotDetector()
    a = [scene(i, counts=True) for i in range(20)] + [scene(20 + i, counts=True, blob_x=5 + 3 * i) for i in range(20)]
    b = [scene(i, counts=False, seed=3) for i in range(40)]
    out_a, out_b = [], []
    for fa, fb in zip(a, b):
        ra, rb = det.detect_keyed(["cam-a", "cam-b"], [fa, fb])
        out_a.append(ra)
        out_b.append(rb)
    assert sum(1 for x in out_a if x) >= 15 and not any(out_b)
    assert det.state_of("cam-a").unit == "counts" and det.state_of("cam-b").unit == "°C"
    det.forget("cam-a")
    assert det.state_of("cam-a").bg is None


def test_row_throttle_bounds_rows_per_track_per_second():
    th = RowThrottle(2.0)
    d = Detection("hotspot", 1.0, Box(0, 0, 4, 4), track_id=1)
    e = Detection("hotspot", 1.0, Box(0, 0, 4, 4), track_id=2)
    kept = [t for t in np.arange(0, 10, 0.2) if th.keep(float(t), d)]
    assert 15 <= len(kept) <= 20  # at most 2 per second over 10 s at 5 fps
    assert th.keep(0.1, e)  # another track has its own budget
    assert th.keep(9.9, d, screenshot=True)  # a row that names a screenshot is always kept
    assert RowThrottle(None).keep(0.0, d) and RowThrottle(None).keep(0.0, d)


def test_worker_gives_a_stateful_detector_every_sampled_frame_per_camera():
    """The motion gate would keep a still scene from the detector; a background-learning detector
    must see it anyway, with one state per camera, forgotten when the camera goes."""
    from thermalstream.detect.motion import MotionGate
    from thermalstream.detect.worker import DetectorWorker

    det = HotspotDetector()
    got = []
    worker = DetectorWorker(det, lambda cid, f, d: got.append((cid, f.seq)), default_fps=100.0)
    for cid in (1, 2):
        worker.add_camera(cid, gate=MotionGate())
    for i in range(20):
        for cid, counts in ((1, True), (2, False)):
            worker.submit(cid, scene(i, counts=counts), now=i / FPS)
        worker.run_once(now=i / FPS)
    assert sorted(got) == sorted((cid, i) for cid in (1, 2) for i in range(20))
    assert det.state_of(1).unit == "counts" and det.state_of(2).unit == "°C" and det.state_of(1).frames == 19
    assert sum(s.gated for s in worker._slots.values()) == 0
    worker.remove_camera(1)
    assert det.state_of(1).frames == 0  # forgotten


def test_counts_detections_are_stored_as_counts_never_celsius(db, tmp_path):
    from thermalstream.db import repo
    from thermalstream.detect import queries as q
    from thermalstream.detect import store as st

    with db.session() as s:
        cid = repo.add_camera(s, "lepton3", "sim://").id
    store = st.DetectionStore(db, tmp_path / "shots")
    eid = store.create_event(cid, "hotspot", 100.0, max_counts=3210.0, hint="animal-sized")
    d = Detection("hotspot", 1.0, Box(1, 2, 10, 12), track_id=4, max_counts=3210.0, extra={"hint": "animal-sized"})
    store.add(cid, [(100.0, d, eid, None)])
    store.flush()
    row = q.query_detections(db, camera=cid)[0]
    assert row["max_celsius"] is None and row["mean_celsius"] is None
    assert row["max_counts"] == 3210.0 and row["hint"] == "animal-sized"
    ev = q.get_event(db, eid)
    assert ev["max_celsius"] is None and ev["max_counts"] == 3210.0 and ev["hint"] == "animal-sized"
    df = q.detections_dataframe(db, camera=cid)
    assert df["max_counts"].tolist() == [3210.0] and df["max_celsius"].isna().all()


def test_picture_only_camera_is_said_not_silent():
    det = HotspotDetector()
    picture = Frame(image=np.zeros((64, 64), np.uint8))
    assert det.detect_keyed(["cam"], [picture]) == [[]]
    assert "pictures only" in det.camera_note("cam")
    det.detect_keyed(["other"], [scene(0, counts=True)])
    assert det.camera_note("other") is None and det.camera_note("unknown") is None


def test_the_cold_imprint_of_an_object_in_view_at_the_start_is_not_part_of_its_box():
    """An object already moving when detection starts is in the first second's background (the
    warmest values seen), which leaves a cold imprint along its way once it moves on. That imprint is
    old, not a moving object's cold part: it never joins the object's box (it used to, for the first
    frames after the warm start, making the box four times as wide). What the object left in the
    last ``ghost_s`` (0.6 s: 11 px here) still may, as any moving object's cold trail does."""
    det = HotspotDetector()
    out = run(det, [scene(i, counts=False, blob_x=20 + 2 * i) for i in range(45)])  # 8 px wide, 18 px/s
    found = [d for dets in out for d in dets]
    assert len(found) >= 20  # found once it leaves where it was in the first second
    assert all(d.box.x2 - d.box.x1 <= 8 + 11 + 4 for d in found), [(d.box.x1, d.box.x2) for d in found][:5]


def test_same_frames_same_detections_whatever_the_clock():
    """Frame times are wall-clock floats: 0.6 s between frames 3 and 0 of a 5 fps stream comes out a
    little over or under 0.6 depending on the clock's absolute value. Time limits are compared with a
    slack, so the same frames give the same detections at any clock (they did not: at 5 fps, whether
    a pixel cold for three frames still joined an object's box hung on the rounding)."""
    from thermalstream.sources.sim import SimSource

    src = SimSource("sim://?pace=0")
    step = round(src.params.fps / 5)
    frames = [src.render(i) for i in range(0, int(30 * src.params.fps), step)]

    def boxes(t0: float) -> list:
        det = HotspotDetector()
        out = []
        for i, f in enumerate(frames):
            f.timestamp = t0 + i * step / src.params.fps
            out.append([(d.track_id, d.box) for d in det.detect_one(f)])
        return out

    def same(a: list, b: list) -> bool:  # the same objects, tracks and boxes (to a pixel: float rounding)
        return len(a) == len(b) and all(
            len(x) == len(y) and all(i == j and max(abs(p - q) for p, q in zip(
                (u.x1, u.y1, u.x2, u.y2), (v.x1, v.y1, v.x2, v.y2))) <= 1.0 for (i, u), (j, v) in zip(x, y))
            for x, y in zip(a, b))

    at_epoch = boxes(0.0)
    assert sum(map(len, at_epoch)) > 100
    for t0 in (1_000_000_000.0, 1_234_567_890.0, 1_790_000_000.0):
        assert same(boxes(t0), at_epoch), t0
