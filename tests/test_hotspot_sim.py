"""The weightless detector on the default simulated street scene, through the real service path.

60 s of ``sim://`` at its defaults (640x512 @ 25 fps, 3 walkers, a car, a dog; a warm building
with leaky windows, a sun-warmed road; an FFC every 30 s) are rendered without pacing and fed to
the real DetectionService (detect rate 5 fps, the default tracker, events, the database) with the
product's default HotspotDetector. Ground truth is the simulator's own actor placements.
"""

from __future__ import annotations

import math
from collections import defaultdict

import pytest

from thermalstream.bus import EventBus
from thermalstream.capture.manager import CameraManager
from thermalstream.config import Settings
from thermalstream.db import repo
from thermalstream.db.models import Detection as DetectionRow
from thermalstream.db.models import Event as EventRow
from thermalstream.detect.hotspot import HotspotDetector
from thermalstream.detect.service import DetectionService
from thermalstream.notifications import NotificationService
from thermalstream.sources.sim import SimSource

T0 = 1_790_000_000.0
SECONDS = 60


def actor_boxes(src: SimSource, index: int) -> list[tuple[int, tuple[int, int, int, int], bool]]:
    """(actor number, box, visible) of every actor at frame ``index``; visible as in SimSource.objects:
    at least 30 % of the box inside the frame."""
    sc = src.scene
    content, _, _ = sc.ffc_info(index)
    t = content / sc.p.fps
    out = []
    for k, a in enumerate(sc.actors):
        spr, x, y, _ = a.place(t)
        bx1, by1, bx2, by2 = spr.box
        box = (x + bx1, y + by1, x + bx2, y + by2)
        w, h = sc.p.width, sc.p.height
        cx1, cy1, cx2, cy2 = max(box[0], 0), max(box[1], 0), min(box[2], w), min(box[3], h)
        inside = max(cx2 - cx1, 0) * max(cy2 - cy1, 0)
        out.append((k, box, inside >= 0.3 * (box[2] - box[0]) * (box[3] - box[1])))
    return out


def overlaps(a, b) -> bool:
    return not (a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1])


def run_service(db, tmp_path, url: str = "sim://?pace=0"):
    """60 s of a scene (default: the default one) through the service; returns (source, events, rows)."""
    bus = EventBus()
    manager = CameraManager(bus)
    settings = Settings(data_dir=tmp_path / "data", default_camera="")
    svc = DetectionService(db, manager, bus, NotificationService(db, bus), settings)  # product defaults
    svc.set_detector(HotspotDetector())
    with db.session() as s:
        cid = repo.add_camera(s, "street", "sim://").id
    manager.add(cid, "sim://?people=0&vehicle=0&animal=0&width=64&height=64&fps=5")  # the live one is idle
    svc.enable(cid)
    src = SimSource(url)
    fps = src.params.fps
    try:
        for i in range(int(SECONDS * fps)):
            f = src.render(i, timestamp=T0 + i / fps)
            if svc.worker.submit(cid, f, now=i / fps):
                svc.worker.run_once(now=i / fps)
            svc.tick(f.timestamp)
        svc.tick(T0 + SECONDS + 10.0)
        assert svc.store.flush()
        with db.session() as s:
            events = s.query(EventRow).order_by(EventRow.started_at).all()
            rows = s.query(DetectionRow).order_by(DetectionRow.timestamp).all()
            s.expunge_all()
        return src, events, rows
    finally:
        svc.shutdown()
        manager.stop_all()


@pytest.fixture
def run(db, tmp_path):
    return run_service(db, tmp_path)


def visits_of(src: SimSource) -> list[tuple[int, float, float]]:
    """(actor, first s, last s) of each appearance of each actor, sampled at the detect rate."""
    fps = src.params.fps
    visits = []
    for k in range(len(src.scene.actors)):
        start = None
        for i in range(0, SECONDS * int(fps), int(fps) // 5):
            vis = actor_boxes(src, i)[k][2]
            if vis and start is None:
                start = i
            if not vis and start is not None:
                visits.append((k, start / fps, i / fps))
                start = None
        if start is not None:
            visits.append((k, start / fps, SECONDS))
    return visits


def iou(a, b) -> float:
    ix, iy = min(a[2], b[2]) - max(a[0], b[0]), min(a[3], b[3]) - max(a[1], b[1])
    inter = max(ix, 0) * max(iy, 0)
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def owners(src: SimSource, events, rows) -> dict[int, int]:
    """Each event's actor: the one most of its rows stand for, a row standing for the actor its box
    fits best (IoU) among those it overlaps; a box over two objects in one blob, such as a car passing
    a walker, is the car's when it has the car's extent. Asserts every row lies on an actor."""
    fps = src.params.fps
    votes: dict[int, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for r in rows:
        i = round((r.timestamp.timestamp() - T0) * fps)
        box = (r.x1, r.y1, r.x2, r.y2)
        hits = [(iou(box, b), k) for k, b, _ in actor_boxes(src, i) if overlaps(box, b)]
        assert hits, f"detection on no object (a static structure) at {r.timestamp} {box}"
        votes[r.event_id][max(hits)[1]] += 1
    assert all(votes[ev.id] for ev in events), "an event without rows"
    return {ev.id: max(votes[ev.id], key=votes[ev.id].get) for ev in events}


def test_sim_no_detection_on_static_structures_every_object_found(run):
    src, events, rows = run
    assert rows and events
    labels = sorted(a.label for a in src.scene.actors)
    assert labels == ["car", "dog", "person", "person", "person"]
    owner = owners(src, events, rows)  # 0 detections on the building, windows, road, trees
    assert set(owner.values()) == set(range(len(src.scene.actors)))  # each walker, the car, the dog
    visits = visits_of(src)
    # bounded: about one event per appearance (the old detector made 655 events in 85 s)
    assert len(events) <= 1.5 * len(visits), (len(events), len(visits))


def one_event_per_appearance(src, events, rows) -> None:
    owner = owners(src, events, rows)
    visits = visits_of(src)
    per_visit = defaultdict(list)
    for ev in events:
        t0 = ev.started_at.timestamp() - T0
        match = [v for v in visits if v[0] == owner[ev.id] and v[1] - 1.0 <= t0 <= v[2]]
        assert match, f"event {ev.id} matches no appearance of its object"
        per_visit[match[0]].append(ev.id)
    for v in visits:
        if v[2] - v[1] >= 2.0 and v[2] < SECONDS:
            assert len(per_visit[v]) == 1, (v, per_visit[v])


@pytest.mark.parametrize("scene", ["people=1&vehicle=0&animal=0", "people=0&vehicle=1&animal=0",
                                   "people=0&vehicle=0&animal=1"], ids=["walker", "car", "dog"])
def test_sim_one_object_one_event_per_appearance(db, tmp_path, scene):
    """Each kind of object alone in the default street (same building, road, FFC): exactly one event
    per appearance, and nothing on the static structures."""
    src, events, rows = run_service(db, tmp_path, f"sim://?pace=0&{scene}")
    assert events
    one_event_per_appearance(src, events, rows)


@pytest.mark.xfail(strict=True, reason="not met yet: 1 of the 25 appearances checked fails (2 before a track "
                                       "leaving the frame was no longer revived on a blob it had passed, 3 before a "
                                       "part joined the size its object had a moment ago, 5 before newcomers got "
                                       "their own tracks, 14 before merged blobs kept their tracks): at 25 s the car "
                                       "comes in in one blob with walkers 0 and 1, all still entering, and overlaps "
                                       "walker 0 or the dog until 0.4 s before it leaves, so it never has a track of "
                                       "its own for the 1 s an event needs")
def test_sim_exactly_one_event_per_appearance(run):
    one_event_per_appearance(*run)


def test_sim_rows_per_track_per_second_bounded(run):
    _, events, rows = run
    by_event = defaultdict(list)
    for r in rows:
        assert r.event_id is not None
        by_event[r.event_id].append(r)
    for ev in events:
        rs = by_event[ev.id]
        duration = (ev.ended_at - ev.started_at).total_seconds()
        shots = sum(1 for r in rs if r.screenshot_path)
        assert len(rs) <= 2 * math.ceil(duration + 1) + shots, (ev.id, len(rs), duration)
    # one snapshot per event, not per frame
    assert sum(1 for r in rows if r.screenshot_path) <= 3 * len(events)
    assert all(ev.snapshot_path for ev in events)
    assert {ev.label for ev in events} == {"hotspot"}
    assert {ev.hint for ev in events} <= {"person-sized", "animal-sized", "vehicle-sized"}
