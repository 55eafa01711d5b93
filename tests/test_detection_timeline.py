"""The Detections timeline aggregates the whole period in the database (SQLite and PostgreSQL):
every detection is counted once, in the right bucket, whatever the number of rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert

from thermalstream.db import repo
from thermalstream.db.models import Detection as DetectionRow
from thermalstream.detect.queries import count_detections
from thermalstream.detect.timeline import detection_timeline

pytest_plugins = ["tests.db_fixtures"]


def _rows(cid: int, start: datetime, n: int, step_s: float, label: str) -> list[dict]:
    return [{"camera_id": cid, "label": label, "confidence": 0.5 + (i % 5) / 10, "timestamp": start + timedelta(
        seconds=i * step_s), "x1": 0, "y1": 0, "x2": 1, "y2": 1} for i in range(n)]


def test_timeline_counts_every_detection_of_the_period_in_its_bucket(db):
    with db.session() as s:
        a = repo.add_camera(s, "a", "sim://?seed=1").id
        b = repo.add_camera(s, "b", "sim://?seed=2").id
    start = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    off = timedelta(seconds=0.0125)  # rows between bucket edges (SQLite's julianday is precise to ~0.1 ms)
    rows = _rows(a, start + off, 3000, 0.025, "person") + _rows(b, start + timedelta(seconds=40) + off, 400, 0.1, "car")
    with db.session() as s:  # 80 s, 3400 rows: far more than the page's 1000-row table
        s.execute(insert(DetectionRow), rows)
    since, until = start, start + timedelta(seconds=80)
    tl = detection_timeline(db, since=since, until=until, buckets=80)
    assert sum(r["count"] for r in tl) == count_detections(db, since=since, until=until) == 3400
    assert {r["width_s"] for r in tl} == {1.0}
    person = {r["t"]: r["count"] for r in tl if r["label"] == "person"}
    assert len(person) == 75 and set(person.values()) == {40}  # 40 per 1 s bucket, from 0 s to 75 s
    assert min(person) == start + timedelta(seconds=0.5) and max(person) == start + timedelta(seconds=74.5)
    car = [r for r in tl if r["label"] == "car"]
    assert {r["camera_id"] for r in car} == {b} and len(car) == 40 and all(r["count"] == 10 for r in car)
    assert max(r["max_confidence"] for r in tl) == pytest.approx(0.9)
    only_b = detection_timeline(db, camera=[b], since=since, until=until, buckets=8)
    assert [r["count"] for r in only_b] == [100, 100, 100, 100] and only_b[0]["width_s"] == 10.0
    with pytest.raises(ValueError):
        detection_timeline(db, until=until)



def test_long_periods_sum_minute_counts_kept_by_triggers_exactly(db):
    """From 1-minute buckets on, counts come from detection_minutes (triggers keep it for any writer):
    the same totals per bucket as counting the rows, partial minutes at both ends included, and
    deleted rows (a camera removed) leave the counts."""
    with db.session() as s:
        a = repo.add_camera(s, "a", "sim://?seed=1").id
        b = repo.add_camera(s, "b", "sim://?seed=2").id
    start = datetime(2026, 3, 1, 23, 0, 20, tzinfo=UTC)  # not on a whole minute, across midnight
    rows = _rows(a, start, 7200, 1.0, "person") + _rows(b, start + timedelta(seconds=0.5), 720, 10.0, "car")
    with db.session() as s:  # two hours of rows, in two statements
        s.execute(insert(DetectionRow), rows[:4000])
        s.execute(insert(DetectionRow), rows[4000:])
    since, until = start + timedelta(seconds=15), start + timedelta(hours=2) - timedelta(seconds=7.5)
    tl = detection_timeline(db, since=since, until=until, buckets=60)
    assert {r["width_s"] for r in tl} == {120.0}  # 7177.5 s / 60 buckets, rounded up to whole minutes
    assert sum(r["count"] for r in tl) == count_detections(db, since=since, until=until) == 7178 + 718
    assert count_detections(db, since=since, until=until, min_confidence=0.01) == 7178 + 718  # rows, not minutes
    for conf in (0.75, 0.77):  # a 0.05 step: the minutes' n75 column; another threshold: the rows
        keep = [r for r in rows if since <= r["timestamp"] < until and r["confidence"] >= conf]
        assert count_detections(db, since=since, until=until, min_confidence=conf) == len(keep) == 3158
        strict = detection_timeline(db, since=since, until=until, buckets=60, min_confidence=conf)
        assert sum(r["count"] for r in strict) == len(keep)
        assert {r["width_s"] for r in strict} == ({120.0} if conf == 0.75 else {7177.5 / 60})  # minutes, rows
        for r in strict:
            lo, hi = r["t"] - timedelta(seconds=r["width_s"] / 2), r["t"] + timedelta(seconds=r["width_s"] / 2)
            assert r["count"] == sum(1 for k in keep if lo <= k["timestamp"] < hi and k["camera_id"] == r["camera_id"])
    assert count_detections(db, camera=[b], label="car", since=since) == 718  # minutes, open end
    origin = datetime(2026, 3, 1, 23, 0, tzinfo=UTC)  # buckets start on the minute before since
    for r in tl:  # each bucket holds exactly the rows of its two minutes inside the period
        lo, hi = max(since, r["t"] - timedelta(seconds=60)), min(until, r["t"] + timedelta(seconds=60))
        assert (r["t"] - origin).total_seconds() % 120 == 60
        assert r["count"] == count_detections(db, camera=r["camera_id"], since=lo, until=hi)
    assert max(r["max_confidence"] for r in tl if r["label"] == "car") == pytest.approx(0.9)
    with db.session() as s:
        repo.delete_camera(s, a)
    assert {r["camera_id"] for r in detection_timeline(db, since=since, until=until, buckets=60)} == {b}
    assert sum(r["count"] for r in detection_timeline(db, since=since, until=until, buckets=60)) == 718
    with pytest.raises(ValueError):
        detection_timeline(db, since=until, until=since)


@pytest.mark.ui
def test_detections_page_timeline_shows_the_whole_period_not_the_newest_rows(server):
    from playwright.sync_api import sync_playwright

    from tests.conftest import login
    from tests.test_ui import ARGS, CHROMIUM

    db = server.runtime.db
    with db.session() as s:
        cid = repo.add_camera(s, "yard", "sim://?seed=9", enabled=False).id
    start = datetime.now(UTC) - timedelta(minutes=10)
    with db.session() as s:
        s.execute(insert(DetectionRow), _rows(cid, start + timedelta(seconds=0.0125), 3400, 0.025, "person"))
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page()
        login(page, server)
        page.goto(server.base + "/detections")
        page.get_by_text("3400 detections in the period").wait_for(timeout=30000)
        total = page.evaluate("""() => {
            for (const doc of window.Bokeh.documents) {
              const src = doc.get_model_by_name('ts-timeline');
              if (src) return Array.from(src.data.count).reduce((a, b) => a + b, 0);
            }
            return null; }""")
        browser.close()
    assert total == 3400  # the table holds the newest 1000; the timeline counts them all
