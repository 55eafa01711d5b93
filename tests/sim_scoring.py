"""The weightless detector on a simulated scene through the real service path, scored against the
simulator's own actor placements; for tests/test_hotspot_sim.py and bench/sim_scenes.py.

60 s of a ``sim://`` scene are rendered without pacing and fed to the real DetectionService
(detect rate 5 fps, the detector's own tracker, events, the database). An *appearance* is one
visit of an actor to the frame (at least 30 % of its box inside). A detection row stands for the
actor its box fits best among those it overlaps; an event belongs to the actor most of its rows
stand for. A row whose box overlaps no actor is on a static structure or a ghost: a *false row*.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from thermalstream.bus import EventBus
from thermalstream.capture.manager import CameraManager
from thermalstream.config import Settings
from thermalstream.db import Database, repo
from thermalstream.db.models import Detection as DetectionRow
from thermalstream.db.models import Event as EventRow
from thermalstream.detect.hotspot import HotspotDetector
from thermalstream.detect.service import DetectionService
from thermalstream.notifications import NotificationService
from thermalstream.sources.sim import SimSource

T0 = 1_790_000_000.0
SECONDS = 60
MIN_VISIT_S = 2.0  # appearances shorter than this (or still going at the end) are not checked


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


def iou(a, b) -> float:
    ix, iy = min(a[2], b[2]) - max(a[0], b[0]), min(a[3], b[3]) - max(a[1], b[1])
    inter = max(ix, 0) * max(iy, 0)
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def run_service(db, tmp_path, url: str = "sim://?pace=0", detector: HotspotDetector | None = None):
    """60 s of a scene (default: the default one) through the service with the product's defaults;
    returns (source, events, rows)."""
    bus = EventBus()
    manager = CameraManager(bus)
    settings = Settings(data_dir=tmp_path / "data", default_camera="")
    svc = DetectionService(db, manager, bus, NotificationService(db, bus), settings)  # product defaults
    svc.set_detector(detector or HotspotDetector())
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


def owners(src: SimSource, events, rows) -> tuple[dict[int, int | None], list]:
    """(each event's actor, the false rows). An event's actor is the one most of its rows stand for,
    a row standing for the actor its box fits best (IoU) among those it overlaps; a box over two
    objects in one blob, such as a car passing a walker, is the car's when it has the car's extent.
    An event with false rows only has no actor (None)."""
    fps = src.params.fps
    votes: dict[int, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    false = []
    for r in rows:
        i = round((r.timestamp.timestamp() - T0) * fps)
        box = (r.x1, r.y1, r.x2, r.y2)
        hits = [(iou(box, b), k) for k, b, _ in actor_boxes(src, i) if overlaps(box, b)]
        if not hits:
            false.append(r)
            continue
        votes[r.event_id][max(hits)[1]] += 1
    return {ev.id: max(votes[ev.id], key=votes[ev.id].get) if votes[ev.id] else None for ev in events}, false


@dataclass
class Score:
    """How a run went: per checked appearance its events, and what matched no appearance."""

    per_visit: dict[tuple[int, float, float], list[int]]
    false_rows: list
    stray: list[int]  # events that match no appearance of their actor (or have none)
    rows: int
    events: int

    @property
    def ok(self) -> int:
        return sum(1 for evs in self.per_visit.values() if len(evs) == 1)

    @property
    def missed(self) -> int:
        return sum(1 for evs in self.per_visit.values() if not evs)

    @property
    def split(self) -> int:
        return sum(1 for evs in self.per_visit.values() if len(evs) > 1)


def score(src: SimSource, events, rows) -> Score:
    """Each event to the appearance of its actor it started in (or up to 1 s before: an event starts
    after its track lasted 1 s); appearances checked: those of ``MIN_VISIT_S`` or more that end
    before the scene does."""
    owner, false = owners(src, events, rows)
    every = visits_of(src)
    per_visit: dict[tuple[int, float, float], list[int]] = {
        v: [] for v in every if v[2] - v[1] >= MIN_VISIT_S and v[2] < SECONDS}
    stray = []
    for ev in events:
        t0 = ev.started_at.timestamp() - T0
        match = [v for v in every if v[0] == owner[ev.id] and v[1] - 1.0 <= t0 <= v[2]]
        if not match:
            stray.append(ev.id)
        elif match[0] in per_visit:
            per_visit[match[0]].append(ev.id)
    return Score(per_visit, false, stray, len(rows), len(events))


def score_scene(url: str, workdir: Path, detector: HotspotDetector | None = None) -> Score:
    """Run and score one scene in a fresh SQLite database under ``workdir``."""
    db = Database(f"sqlite:///{workdir / 'scene.db'}")
    db.upgrade()
    try:
        return score(*run_service(db, workdir, url, detector))
    finally:
        db.dispose()
