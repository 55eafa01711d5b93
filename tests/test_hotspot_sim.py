"""The weightless detector on the default simulated street scene, through the real service path.

60 s of ``sim://`` at its defaults (640x512 @ 25 fps, 3 walkers, a car, a dog; a warm building
with leaky windows, a sun-warmed road; an FFC every 30 s) are rendered without pacing and fed to
the real DetectionService (detect rate 5 fps, the default tracker, events, the database) with the
product's default HotspotDetector. Ground truth is the simulator's own actor placements; the
scoring (appearances, which actor an event is, false rows) is tests/sim_scoring.py.
"""

from __future__ import annotations

import math
from collections import defaultdict

import pytest

from tests.sim_scoring import owners, run_service, score, score_scene, visits_of


@pytest.fixture
def run(db, tmp_path):
    return run_service(db, tmp_path)


def test_sim_no_detection_on_static_structures_every_object_found(run):
    src, events, rows = run
    assert rows and events
    labels = sorted(a.label for a in src.scene.actors)
    assert labels == ["car", "dog", "person", "person", "person"]
    owner, false = owners(src, events, rows)
    assert not false, f"detections on no object (static structures): {[(r.timestamp, r.x1, r.y1) for r in false]}"
    assert set(owner.values()) == set(range(len(src.scene.actors)))  # each walker, the car, the dog
    visits = visits_of(src)
    # bounded: about one event per appearance (the old detector made 655 events in 85 s)
    assert len(events) <= 1.5 * len(visits), (len(events), len(visits))


def one_event_per_appearance(src, events, rows) -> None:
    sc = score(src, events, rows)
    assert not sc.false_rows and not sc.stray, (sc.false_rows, sc.stray)  # every event is an appearance's
    for v, evs in sc.per_visit.items():
        assert len(evs) == 1, (v, evs)


@pytest.mark.parametrize("scene", ["people=1&vehicle=0&animal=0", "people=0&vehicle=1&animal=0",
                                   "people=0&vehicle=0&animal=1"], ids=["walker", "car", "dog"])
def test_sim_one_object_one_event_per_appearance(db, tmp_path, scene):
    """Each kind of object alone in the default street (same building, road, FFC): exactly one event
    per appearance, and nothing on the static structures."""
    src, events, rows = run_service(db, tmp_path, f"sim://?pace=0&{scene}")
    assert events
    one_event_per_appearance(src, events, rows)


@pytest.mark.xfail(strict=True, reason="not met yet: 1 of the 25 appearances checked fails: the car at 12.6 s "
                                       "comes in from the right beside walker 1 and overtakes him in one blob until "
                                       "0.6 s before it leaves, so it never has a track of its own for the 1 s an "
                                       "event needs (before the background healed cold imprints, the car at 25 s "
                                       "failed in the same way instead; other scenes: bench/sim_scenes.py)")
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


def test_scenes_it_was_not_tuned_on(tmp_path):
    """Eight other streets (``seed=1..8``: other buildings, walkers, paths and speeds), with the same
    defaults: almost no false rows and most appearances one event each. Measured: 186 of 216
    appearances (86 %) and 1 false row of 2,292, where the detector before its background healed
    cold imprints and spared untracked objects at an FFC gave 129 (60 %) and 271 false rows
    (bench/sim_scenes.py runs 60 scenes)."""
    ok = checked = false = rows = 0
    for seed in range(1, 9):
        (tmp_path / str(seed)).mkdir()
        sc = score_scene(f"sim://?pace=0&seed={seed}", tmp_path / str(seed))
        ok, checked = ok + sc.ok, checked + len(sc.per_visit)
        false, rows = false + len(sc.false_rows), rows + sc.rows
    assert ok >= 0.8 * checked, (ok, checked)
    assert false <= 0.005 * rows, (false, rows)
