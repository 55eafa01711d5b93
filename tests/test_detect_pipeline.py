"""Detection pipeline with real parts: simulator scene, detector, tracker, events, database, files.

The detector is the product's HotspotDetector (warm blobs from °C, labelled "person" here) when
``thermalstream.detect.hotspot`` is importable, else the test's ThresholdDetector (threshold the
frame's °C and group blobs; see tests/test_motion.py). Either is a real detector on real simulated
thermal frames. The database is SQLite and PostgreSQL (``db`` fixture).

Simulator scene used throughout: ``people=1 seed=10`` at 320x256. Its one walker is in view from
frame 29 to 168 (1.2 s to 6.7 s at 25 fps) and comes back at frame 239 (9.6 s).
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.conftest import wait_for
from tests.test_motion import FPS, real_detector, sim
from thermalstream.bus import Event, EventBus
from thermalstream.capture.manager import CameraManager
from thermalstream.config import Settings
from thermalstream.db import repo
from thermalstream.db.models import Detection as DetectionRow
from thermalstream.db.models import Event as EventRow
from thermalstream.detect import queries as q
from thermalstream.detect import store as st
from thermalstream.detect.events import EventManager
from thermalstream.detect.service import DetectionConfigError, DetectionService
from thermalstream.detect.tracking import ByteTrackTracker, IoUTracker, bytetrack_available, make_tracker
from thermalstream.detect.types import Box, Detection
from thermalstream.detect.zones import ZoneConfig, ZoneError, parse_masks, parse_zones
from thermalstream.notifications import NotificationService

SCENE = {"people": 1, "seed": 10, "ffc": 0}
T0 = 1_790_000_000.0  # frame timestamps: T0 + index / 25


def frames(src, start: int, stop: int, step: int = 5):
    for i in range(start, stop, step):
        yield i, src.render(i, timestamp=T0 + i / FPS)


# --------------------------------------------------------------------------- tracking


@pytest.mark.parametrize("kind", ["iou", pytest.param("bytetrack", marks=pytest.mark.skipif(
    not bytetrack_available(), reason="ultralytics ByteTrack needs the lap package"))])
def test_tracker_keeps_the_walkers_id_across_frames(kind):
    src = sim(**SCENE)
    det = real_detector()
    tracker = make_tracker(kind, high=0.5)
    assert isinstance(tracker, IoUTracker if kind == "iou" else ByteTrackTracker)
    ids = []
    first_seen = None
    for i, f in frames(src, 0, 230):
        out = tracker.update(det.detect([f])[0], f.timestamp)
        objs = src.objects(i)
        if objs and 2 < objs[0][1] and objs[0][3] < 318:  # fully in view
            first_seen = i if first_seen is None else first_seen
            if kind == "bytetrack" and i == first_seen and not out:
                continue  # ByteTrack confirms a new track on its second sighting
            assert len(out) == 1, (i, out)
            ids.append(out[0].track_id)
    assert len(ids) >= 20
    assert len(set(ids)) == 1, ids


def test_tracker_keeps_two_walkers_apart():
    src = sim(people=2, seed=3, ffc=0)
    det = real_detector()
    tracker = IoUTracker()
    per_frame = []
    for i, f in frames(src, 0, 400):
        out = tracker.update(det.detect([f])[0], f.timestamp)
        objs = [o for o in src.objects(i) if 2 < o[1] and o[3] < 318]
        if len(objs) == 2 and len(out) == 2:
            per_frame.append({o.track_id for o in out})
    assert per_frame, "the two walkers were never both in view"
    # over a stretch where both are visible, the same two ids are reported
    assert len(set().union(*per_frame[:5])) == 2


# --------------------------------------------------------------------------- events and zones


def _run_events(zones: ZoneConfig | None, stop: int = 225):
    src = sim(**SCENE)
    det, tracker = real_detector(), IoUTracker()
    calls = {"start": [], "notify": [], "end": [], "snap": []}
    first_seen = {}
    em = EventManager(
        1, zones=zones, close_after=1.5, min_hits=2,
        on_start=lambda ev: calls["start"].append(ev),
        on_notify=lambda ev: calls["notify"].append((ev, ev.last_seen)),
        on_snapshot=lambda ev, f, d: calls["snap"].append(f.seq) or f"s{f.seq}.jpg",
        on_end=lambda ev: calls["end"].append(ev),
    )
    for i, f in frames(src, 0, stop):
        tracked = tracker.update(det.detect([f])[0], f.timestamp)
        for d in tracked:
            first_seen.setdefault(d.track_id, f.timestamp)
        em.process(f, tracked)
        em.tick(f.timestamp)
    em.tick(T0 + stop / FPS + 0.1)
    return calls, em


def test_one_walker_is_one_event_with_one_notification():
    calls, em = _run_events(None)
    assert len(calls["start"]) == 1 and len(calls["notify"]) == 1 and len(calls["end"]) == 1
    ev = calls["end"][0]
    assert ev.label == "person" and ev.ended_at is not None
    assert 4.0 < ev.duration < 6.5  # in view 1.2 s .. 6.7 s
    assert ev.max_celsius is not None and ev.max_celsius > 30  # a warm head
    assert ev.snapshot_path is not None and calls["snap"]  # best snapshot saved
    assert len(ev.path) >= 20 and ev.path[0][0] == ev.started_at
    assert not em.active()


def test_event_requiring_a_zone_notifies_only_after_entering_it():
    # the walker's feet are near y=0.73; the zone is the right third of the ground
    door = {"name": "door", "points": [[0.66, 0.5], [1.0, 0.5], [1.0, 1.0], [0.66, 1.0]], "required": True}
    calls, _ = _run_events(ZoneConfig(zones=parse_zones([door])))
    assert len(calls["start"]) == 1 and len(calls["notify"]) == 1
    ev, when = calls["notify"][0]
    assert ev.zones == ["door"]
    assert when > ev.started_at  # started outside the zone, notified later
    _t, x1, _y1, x2, _y2 = next(p for p in ev.path if p[0] == when)
    assert (x1 + x2) / 2 / 320 >= 0.66  # where it was when it notified: inside the zone
    # a required zone the walker never enters: an event, but no notification
    sky = {"name": "sky", "points": [[0, 0], [1, 0], [1, 0.2]], "required": True}
    calls, _ = _run_events(ZoneConfig(zones=parse_zones([sky])))
    assert len(calls["start"]) == 1 and calls["notify"] == []
    # a required zone for another label does not hold a person back
    cars = {**door, "labels": ["car"]}
    calls, _ = _run_events(ZoneConfig(zones=parse_zones([cars])))
    assert len(calls["notify"]) == 1 and calls["notify"][0][0].zones == []


def test_zone_and_mask_validation():
    assert parse_masks([[[0, 0], [1, 0], [0, 1]]])[0].name == ""
    for bad in ([[[0, 0], [1, 0]]], [[[0, 0], [2, 0], [0, 1]]], [[[0, 0], [0.5, 0.5], [1, 1]]], "x",
                [{"points": [[0, 0], [1, 0], [0, 1]], "colour": 1}], [[["a", 0], [1, 0], [0, 1]]]):
        with pytest.raises(ZoneError):
            parse_masks(bad)
    z = {"name": "a", "points": [[0, 0], [1, 0], [0, 1]]}
    with pytest.raises(ZoneError, match="duplicate"):
        parse_zones([z, z])
    with pytest.raises(ZoneError, match="name"):
        parse_zones([{"points": z["points"]}])
    zc = ZoneConfig.from_settings({"masks": [z["points"]], "zones": [z]})
    assert ZoneConfig.from_settings(zc.to_settings()) == zc
    assert zc.is_masked(Box(0, 0, 10, 10), 100, 100) and not zc.is_masked(Box(80, 80, 100, 100), 100, 100)


# --------------------------------------------------------------------------- the service, end to end


def _camera(db, url="sim://?people=1&seed=10&ffc=0&width=320&height=256", settings=None) -> int:
    with db.session() as s:
        return repo.add_camera(s, "yard", url, settings=settings or {}).id


@pytest.fixture
def service(db, tmp_path):
    """A DetectionService with its worker driven by the test (no threads), on a connected camera."""
    bus = EventBus()
    manager = CameraManager(bus)
    notes = NotificationService(db, bus)
    settings = Settings(data_dir=tmp_path / "data", default_camera="")
    svc = DetectionService(db, manager, bus, notes, settings, close_after=1.5, tracker="iou")
    svc.set_detector(real_detector())
    published = []
    bus.subscribe(lambda e: published.append(e), "")
    svc.published = published
    try:
        yield svc
    finally:
        svc.shutdown()
        manager.stop_all()


def _attach(svc, db, **settings) -> int:
    cid = _camera(db, settings=settings)
    svc.manager.add(cid, "sim://?people=0&vehicle=0&animal=0&width=64&height=64&fps=5")  # the live one is idle
    svc.enable(cid)
    return cid


def _feed(svc, cid, start=0, stop=225):
    src = sim(**SCENE)
    for i, f in frames(src, start, stop, step=1):
        svc.worker.submit(cid, f, now=i / FPS)
        svc.worker.run_once(now=i / FPS)
        svc.tick(f.timestamp)
    svc.tick(T0 + stop / FPS + 0.1)
    assert svc.store.flush()


def test_walker_makes_one_event_one_set_of_rows_a_screenshot_and_one_notification(service, db):
    svc = service
    cid = _attach(svc, db)
    assert svc.config(cid)["enabled"] is True
    _feed(svc, cid)
    with db.session() as s:
        events = s.query(EventRow).all()
        rows = s.query(DetectionRow).order_by(DetectionRow.timestamp).all()
        notes = repo.list_notifications(s, None)
    assert len(events) == 1
    ev = events[0]
    assert ev.label == "person" and ev.ended_at is not None and ev.max_celsius > 30
    assert ev.snapshot_path
    shots_n = sum(1 for r in rows if r.screenshot_path)
    assert 8 <= len(rows) <= 2 * 6 + shots_n  # ~5.5 s in view: at most 2 rows per track per second
    assert {r.event_id for r in rows} == {ev.id} and len({r.track_id for r in rows}) == 1
    assert all(r.max_celsius is not None and r.mean_celsius is not None for r in rows)
    shots = [r for r in rows if r.screenshot_path]
    assert shots
    path = q.screenshot_path(db, shots[0].id, svc.settings.screenshots_dir)
    assert path is not None and path.read_bytes()[:2] == b"\xff\xd8"  # a JPEG
    assert path.is_relative_to(svc.settings.screenshots_dir.resolve() / str(cid))
    snap = q.event_snapshot_path(db, ev.id, svc.settings.screenshots_dir)
    assert snap is not None and snap.stat().st_size > 1000
    detections_notes = [n for n in notes if n.data.get("kind") == "detection"]
    assert len(detections_notes) == 1
    assert detections_notes[0].data["event_id"] == ev.id and detections_notes[0].title == "Person detected"
    # the live overlay and the timeline got their messages
    overlays = [e for e in svc.published if e.topic == "detections" and e.data["detections"]]
    assert overlays and overlays[-1].data["detections"][0]["label"] == "person"
    states = [e.data["state"] for e in svc.published if e.topic == "detection.event"]
    assert states == ["start", "end"]
    # the box path is in the rows
    assert len(q.event_path(db, ev.id)) == len(rows)
    status = svc.status()
    assert status["detector"]["state"] == "ready" and status["cameras"][str(cid)]["events_started"] == 1


def test_masks_suppress_detections(service, db):
    svc = service
    cid = _attach(svc, db, masks=[[[0, 0], [1, 0], [1, 1], [0, 1]]])
    _feed(svc, cid, stop=120)
    with db.session() as s:
        assert s.query(DetectionRow).count() == 0 and s.query(EventRow).count() == 0


def test_detection_switch_is_saved_and_validated(service, db):
    svc = service
    cid = _attach(svc, db)
    assert svc.enabled(cid)
    svc.disable(cid)
    assert not svc.enabled(cid)
    with db.session() as s:
        assert repo.get_camera(s, cid).settings["detect"]["enabled"] is False
    cfg = svc.configure(cid, enabled=True, fps=2, min_confidence=0.3, labels=["person", "dog"])
    assert cfg["fps"] == 2 and cfg["labels"] == ["person", "dog"] and svc.enabled(cid)
    assert svc.worker.slot(cid).fps == 2
    for bad in ({"min_confidence": 1.5}, {"fps": 0}, {"labels": ["unicorn"]}, {"colour": "red"}):
        with pytest.raises(DetectionConfigError):
            svc.configure(cid, **bad)
    with pytest.raises(LookupError):
        svc.enable(9999)
    zones = svc.set_zones(cid, zones=[{"name": "door", "points": [[0, 0], [1, 0], [0, 1]], "required": True}])
    assert zones["zones"][0]["name"] == "door" and svc.zones(cid).required_zones
    with pytest.raises(ZoneError):
        svc.set_zones(cid, masks=[[[0, 0], [1, 0]]])


def test_detection_state_is_announced_on_the_bus_once_per_change(service, db):
    """Whether detection runs is news on the bus (``detection.state``; MQTT retains it): once when it
    starts or stops, not when settings change while it runs, nor when its camera reconnects."""
    svc = service
    states = lambda: [(e.data["camera_id"], e.data["active"]) for e in svc.published if e.topic == "detection.state"]
    cid = _attach(svc, db)
    assert states() == [(cid, True)]
    svc.configure(cid, fps=2)
    svc.enable(cid)
    assert states() == [(cid, True)]
    svc.disable(cid)
    svc.disable(cid)
    assert states() == [(cid, True), (cid, False)]
    svc.configure(cid, enabled=True)
    assert states() == [(cid, True), (cid, False), (cid, True)]
    old = svc.manager.get(cid)
    svc.manager.remove(cid)  # the camera reconnects: a new Camera object, detection attaches to it
    svc.manager.add(cid, "sim://?people=0&vehicle=0&animal=0&width=64&height=64&fps=5")
    svc._on_camera_status(Event("camera.status", {"camera_id": cid, "status": "live"}))  # as start() subscribes
    assert svc._pipes[cid].source is svc.manager.get(cid) is not old
    assert states() == [(cid, True), (cid, False), (cid, True)]


def test_unavailable_detector_keeps_the_rest_running(db, tmp_path):
    bus = EventBus()
    manager = CameraManager(bus)
    settings = Settings(data_dir=tmp_path / "data", default_camera="")

    def factory():
        raise FileNotFoundError("data/models/yolov8n.pt is missing and there is no network")

    svc = DetectionService(db, manager, bus, None, settings, factory).start()
    try:
        wait_for(lambda: svc.status()["detector"]["state"] == "error", timeout=5, what="detector error status")
        assert "yolov8n.pt" in svc.health()["detail"]
        cid = _camera(db)
        manager.add(cid, "sim://?people=1&seed=10&ffc=0&width=320&height=256")
        svc.enable(cid)
        wait_for(lambda: svc.status()["cameras"][str(cid)]["sampled"] > 3, timeout=10, what="gate running")
        assert svc.status()["worker"]["calls"] == 0
    finally:
        svc.shutdown()
        manager.stop_all()


def test_threads_end_to_end_on_a_live_sim_camera(tmp_path):
    """Real time: camera thread, worker thread, writer thread, housekeeping; SQLite only (speed)."""
    from thermalstream.db import Database

    db = Database(f"sqlite:///{tmp_path / 'db.sqlite'}")
    db.upgrade()
    bus = EventBus()
    manager = CameraManager(bus)
    notes = NotificationService(db, bus)
    settings = Settings(data_dir=tmp_path / "data", default_camera="")
    svc = DetectionService(db, manager, bus, notes, settings, real_detector, close_after=1.0).start()
    try:
        cid = _camera(db, settings={"detect": {"enabled": True}})
        manager.add(cid, "sim://?people=1&seed=10&ffc=0&width=320&height=256&vehicle=0&animal=0")
        wait_for(lambda: svc.enabled(cid), timeout=5, what="detection attached when the camera went live")
        wait_for(lambda: q.query_events(db, camera=cid, active=False), timeout=20, what="an ended event")
        latest = svc.latest(cid)
        assert latest is not None and latest["width"] == 320
        assert q.count_detections(db, camera=cid) >= 5  # bounded: at most 2 rows per track per second
    finally:
        svc.shutdown()
        manager.stop_all()
        db.dispose()


# --------------------------------------------------------------------------- queries


def _seed_rows(db) -> tuple[int, int]:
    a, b = _camera(db), _camera(db, url="sim://?seed=2")
    store = st.DetectionStore(db, "/nonexistent-unused")
    t = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    ev = store.create_event(a, "person", t)
    rows_a = [(t + timedelta(seconds=i), Detection("person", 0.5 + i * 0.1, Box(i, i, i + 10, i + 20), class_id=0,
                                                   track_id=1, max_celsius=30.0 + i), ev, None) for i in range(5)]
    rows_b = [(t + timedelta(seconds=i), Detection("car", 0.9, Box(0, 0, 5, 5), class_id=2), None, None)
              for i in range(3)]
    store.add(a, rows_a)
    store.add(b, rows_b)
    store.update_event(ev, ended_at=t + timedelta(seconds=4), max_confidence=0.9)
    assert store.flush()
    return a, b


def test_filtered_queries_return_the_right_rows(db):
    a, b = _seed_rows(db)
    t = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    assert len(q.query_detections(db)) == 8
    assert {d["camera_id"] for d in q.query_detections(db, camera=b)} == {b}
    assert [d["label"] for d in q.query_detections(db, label="car")] == ["car"] * 3
    assert len(q.query_detections(db, label=["car", "person"], camera=[a, b])) == 8
    got = q.query_detections(db, camera=a, min_confidence=0.75)
    assert [round(d["confidence"], 2) for d in got] == [0.9, 0.8]  # newest first
    got = q.query_detections(db, since=t + timedelta(seconds=1), until=(t + timedelta(seconds=3)).isoformat())
    assert sorted(d["timestamp"] for d in got) == sorted(
        [(t + timedelta(seconds=s)).isoformat() for s in (1, 1, 2, 2)])
    assert len(q.query_detections(db, since=(t + timedelta(seconds=4)).timestamp())) == 1
    page1 = q.query_detections(db, camera=a, limit=2)
    page2 = q.query_detections(db, camera=a, limit=2, offset=2)
    assert len(page1) == 2 and len(page2) == 2 and not {d["id"] for d in page1} & {d["id"] for d in page2}
    assert q.count_detections(db, camera=a, min_confidence=0.6) == 4
    d0 = q.query_detections(db, camera=a, limit=1)[0]
    assert d0["box"] == [4.0, 4.0, 14.0, 24.0] and d0["max_celsius"] == 34.0 and d0["event_id"] is not None
    for bad in ({"min_confidence": 1.5}, {"limit": 0}, {"limit": 5000}, {"offset": -1}, {"since": "yesterday"},
                {"camera": "x"}, {"since": t, "until": t - timedelta(seconds=1)}):
        with pytest.raises(ValueError):
            q.query_detections(db, **bad)
    evs = q.query_events(db)
    assert len(evs) == 1 and evs[0]["detections"] == 5 and evs[0]["duration_s"] == 4.0
    assert q.query_events(db, camera=b) == [] and q.query_events(db, label="car") == []
    assert q.query_events(db, active=False)[0]["id"] == evs[0]["id"]
    assert q.query_events(db, since=t + timedelta(seconds=10)) == []
    assert q.count_events(db, min_confidence=0.95) == 0
    assert q.get_event(db, evs[0]["id"])["label"] == "person"
    df = q.detections_dataframe(db, camera=a)
    assert list(df.columns) == q.DATAFRAME_COLUMNS and len(df) == 5
    assert df["timestamp"].is_monotonic_increasing and str(df["timestamp"].dt.tz) == "UTC"
    assert df["max_celsius"].max() == 34.0


def test_screenshot_path_refuses_traversal(db, tmp_path):
    root = tmp_path / "shots"
    (root / "1").mkdir(parents=True)
    good = root / "1" / "a.jpg"
    good.write_bytes(b"\xff\xd8jpeg")
    secret = tmp_path / "secret.txt"
    secret.write_text("no")
    os.symlink(secret, root / "1" / "link.jpg")
    cid = _camera(db)
    store = st.DetectionStore(db, root)
    t = datetime(2026, 1, 1, tzinfo=UTC)
    paths = ["1/a.jpg", "../secret.txt", "1/../../secret.txt", str(secret), "1/link.jpg", "1/missing.jpg", "."]
    store.add(cid, [(t, Detection("person", 0.9, Box(0, 0, 1, 1)), None, p) for p in paths])
    assert store.flush()
    ids = [d["id"] for d in sorted(q.query_detections(db), key=lambda d: d["id"])]
    resolved = [q.screenshot_path(db, i, root) for i in ids]
    assert resolved[0] == good.resolve()
    assert resolved[1:] == [None] * (len(paths) - 1)
    assert q.screenshot_path(db, 10**9, root) is None
    assert q.resolve_screenshot(root, "1/a.jpg") == good.resolve()
    assert q.resolve_screenshot(root, "1/a.jpg\x00") is None


def test_store_writes_in_batches_from_its_thread(db, tmp_path):
    cid = _camera(db)
    store = st.DetectionStore(db, tmp_path, flush_interval=0.2, flush_rows=1000).start()
    try:
        t = time.time()
        for k in range(50):
            store.add(cid, [(t + k * 0.01, Detection("person", 0.9, Box(0, 0, 1, 1)), None, None)])
        wait_for(lambda: store.stats.rows_written == 50, timeout=5, what="rows written")
        assert store.stats.batches <= 5  # not one transaction per row
        src = sim(**SCENE)
        f = src.render(100)
        rel = store.save_screenshot(cid, f, [Detection("person", 0.9, Box(100, 80, 140, 200), max_celsius=34.2)])
        assert store.flush()
        assert (Path(tmp_path) / rel).stat().st_size > 1000
    finally:
        store.close()


def test_an_announced_event_sends_updates_when_what_it_says_changes():
    """After its notification, an event is announced again ("update") when it enters a new zone, its
    peak temperature rises by a whole degree or its size hint changes: at most once a second, and
    never for a change that says nothing new (the hotspot detector's confidence never changes, so
    before this its events never sent an update)."""
    import numpy as np

    from thermalstream.frame import Frame

    door = {"name": "door", "points": [[0.5, 0.0], [1.0, 0.0], [1.0, 1.0], [0.5, 1.0]]}
    updates, notes = [], []
    em = EventManager(1, zones=ZoneConfig(zones=parse_zones([door])), min_hits=2,
                      on_notify=lambda ev: notes.append(ev.said()),
                      on_update=lambda ev: updates.append((ev.last_seen, ev.said())))
    image = np.zeros((240, 320), np.uint8)
    for i in range(30):  # 6 s at 5 fps, walking right; 30.25 °C rising to 33.875 °C (exact in binary)
        t = 100.0 + i / 5
        x = 20 + 8 * i
        d = Detection("hotspot", 1.0, Box(x, 100, x + 20, 160), track_id=7, max_celsius=30.25 + 0.125 * i,
                      extra={"hint": "person-sized"})
        em.process(Frame(image=image, seq=i, timestamp=t), [d], t)
    assert notes == [((), 30, "person-sized")]
    # 31 °C at 101.2 s, 32 °C at 102.8 s; the door at 103.4 s waits for 103.8 s (a second after the last
    # update), 33 °C at 104.4 s for 104.8 s
    said = [s for _, s in updates]
    assert said == [((), 31, "person-sized"), ((), 32, "person-sized"), (("door",), 32, "person-sized"),
                    (("door",), 33, "person-sized")], said
    assert [round(t, 1) for t, _ in updates] == [101.2, 102.8, 103.8, 104.8]
    times = [t for t, _ in updates]
    assert all(b - a >= 1.0 - 1e-6 for a, b in zip(times, times[1:]))
