"""Review timeline of a camera: recorded bands, segments with their index in their recording, events and
alarms for a day in the viewer's zone (across midnight and over two days), on SQLite and PostgreSQL;
the REST route's access (a camera the user may not see answers 404)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from tests.conftest import start_server, stop_server
from thermalstream.db import repo
from thermalstream.db.models import Alarm, Event, Recording, RecordingSegment
from thermalstream.review import camera_timeline, day_range, locate

pytest_plugins = ["tests.db_fixtures"]

T0 = datetime(2026, 3, 1, 22, 59, 40, tzinfo=UTC)  # 23:59:40 in Berlin (UTC+1): 20 s before local midnight


def fill(db) -> tuple[int, int, list[int]]:
    """Camera a: recording 1, 4 segments of 10 s from T0 (across Berlin's midnight), recording 2 of 2
    segments one day later; an event, an alarm (and its 'alarm' event) on each side. Camera b: one of each."""
    with db.session() as s:
        a = repo.add_camera(s, "a", "sim://?seed=1", enabled=False).id
        b = repo.add_camera(s, "b", "sim://?seed=2", enabled=False).id
        rids = []
        for cam, start, n in ((a, T0, 4), (a, T0 + timedelta(days=1), 2), (b, T0, 1)):
            rec = Recording(camera_id=cam, started_at=start, ended_at=start + timedelta(seconds=10 * n),
                            path=f"cam{cam}/r{start:%d}", status="completed", segments=n)
            s.add(rec)
            s.flush()
            rids.append(rec.id)
            for i in reversed(range(n)):  # stored out of order: the index follows time
                st = start + timedelta(seconds=10 * i)
                s.add(RecordingSegment(recording_id=rec.id, path=f"{rec.path}/{i}.mp4", started_at=st,
                                       ended_at=st + timedelta(seconds=10)))
        for cam, at, label in ((a, T0 + timedelta(seconds=5), "person"), (a, T0 + timedelta(seconds=32), "car"),
                               (a, T0 + timedelta(days=1, seconds=3), "dog"), (b, T0, "cat"),
                               (a, T0 + timedelta(seconds=25), "alarm")):
            s.add(Event(camera_id=cam, label=label, started_at=at, ended_at=at + timedelta(seconds=2)))
        s.add(Alarm(camera_id=a, name="hot", kind="above", raised_at=T0 + timedelta(seconds=25), value=80, peak=90,
                    unit="°C"))  # still raised: no cleared_at
    return a, b, rids


def test_day_in_the_viewers_zone_splits_a_recording_at_local_midnight(db):
    a, b, (r1, r2, _) = fill(db)
    tl = camera_timeline(db, a, *day_range(date(2026, 3, 2), "Europe/Berlin"))
    assert tl["since"] == "2026-03-01T23:00:00+00:00" and tl["until"] == "2026-03-02T23:00:00+00:00"
    # segments 2 and 3 of recording 1 lie after local midnight (segment 1 straddles it: 23:59:50-00:00:00 ends
    # exactly at midnight, so it is left out); recording 2 lies inside
    assert [(x["recording_id"], x["index"]) for x in tl["segments"]] == [(r1, 2), (r1, 3), (r2, 0), (r2, 1)]
    assert [(x["start"], x["end"], x["recordings"]) for x in tl["bands"]] == [
        ("2026-03-01T23:00:00+00:00", "2026-03-01T23:00:20+00:00", [r1]),
        ("2026-03-02T22:59:40+00:00", "2026-03-02T23:00:00+00:00", [r2])]
    assert [e["label"] for e in tl["events"]] == ["car", "dog"]  # the alarm's event is shown as the alarm
    assert [(x["name"], x["start"], x["end"]) for x in tl["alarms"]] == [("hot", "2026-03-01T23:00:05+00:00", None)]
    before = camera_timeline(db, a, *day_range(date(2026, 3, 1), "Europe/Berlin"))
    assert [(x["recording_id"], x["index"]) for x in before["segments"]] == [(r1, 0), (r1, 1)]
    assert [e["label"] for e in before["events"]] == ["person"] and before["alarms"] == []  # raised after midnight
    utc_day = camera_timeline(db, a, *day_range(date(2026, 3, 1), "UTC"))  # the same instants, another day
    assert [(x["recording_id"], x["index"]) for x in utc_day["segments"]] == [(r1, 0), (r1, 1), (r1, 2), (r1, 3)]
    assert camera_timeline(db, b, *day_range(date(2026, 3, 1), "UTC"))["events"][0]["label"] == "cat"


def test_two_days_and_where_a_chosen_time_plays(db):
    a, _, (r1, r2, _) = fill(db)
    tl = camera_timeline(db, a, T0 - timedelta(hours=1), T0 + timedelta(days=2))
    segs = tl["segments"]
    assert [(x["recording_id"], x["index"]) for x in segs] == [(r1, 0), (r1, 1), (r1, 2), (r1, 3), (r2, 0), (r2, 1)]
    assert len(tl["bands"]) == 2 and [e["label"] for e in tl["events"]] == ["person", "car", "dog"]
    assert locate(segs, T0 + timedelta(seconds=27.5)) == (2, 7.5)  # inside segment 2 of recording 1
    assert locate(segs, T0 + timedelta(hours=5)) == (4, 0.0)  # in the gap: the next day's first segment
    assert locate(segs, T0 + timedelta(days=1, seconds=12)) == (5, 2.0)
    assert locate(segs, T0 + timedelta(days=3)) is None
    with pytest.raises(ValueError):
        camera_timeline(db, a, T0, T0)
    with pytest.raises(ValueError):
        camera_timeline(db, a, T0, T0 + timedelta(days=9))


def test_route_answers_for_visible_cameras_only(tmp_path):
    srv = start_server(tmp_path)
    try:
        a, b, (r1, _, _) = fill(srv.runtime.db)
        srv.runtime.auth.users.create("vera", "vera has a long password", "viewer")
        srv.runtime.auth.users.create("olga", "olga has a long password", "viewer")
        srv.runtime.cameras.share(b, user_id=srv.runtime.auth.users.get("olga")["id"])  # b: olga's only
        status, tl = srv.request("GET", f"/api/cameras/{a}/timeline?day=2026-03-02&tz=Europe/Berlin", as_user="vera")
        assert status == 200 and tl["segments"][0]["url"] == f"/api/recordings/{r1}/segments/2"
        assert len(tl["events"]) == 2 and tl["alarms"][0]["name"] == "hot"
        path = f"/api/cameras/{b}/timeline?since=2026-03-01T00:00:00Z&until=2026-03-03T00:00:00Z"
        assert srv.request("GET", path, as_user="olga")[0] == 200
        status, body = srv.request("GET", path, as_user="vera")
        assert status == 404 and "camera" in body["error"]  # the same answer as an unknown camera
        assert srv.request("GET", f"/api/cameras/{b + 100}/timeline?day=2026-03-01", as_user="vera")[0] == 404
        assert srv.request("GET", f"/api/cameras/{a}/timeline?day=2026-03-01", as_user=None)[0] == 401
        for bad in ("day=2026-13-01", "day=2026-03-01&tz=Mars/Base", "since=2026-03-01T00:00:00Z",
                    "since=2026-03-02T00:00:00Z&until=2026-03-01T00:00:00Z"):
            status, body = srv.request("GET", f"/api/cameras/{a}/timeline?{bad}", as_user="vera")
            assert status == 400 and body["error"], bad
        doc = srv.request("GET", "/api/openapi.json")[1]
        assert "get" in doc["paths"]["/api/cameras/{cid}/timeline"]
    finally:
        stop_server(srv)


def test_playback_detections_cover_the_whole_recording_oldest_first(db):
    """The Recordings player draws from these: all rows of the range, oldest first; over the limit,
    thinned evenly (never only the newest rows, as the newest 1000 were)."""
    from sqlalchemy import insert

    from thermalstream.db.models import Detection
    from thermalstream.detect.queries import playback_detections

    with db.session() as s:
        cid = repo.add_camera(s, "a", "sim://?seed=1", enabled=False).id
        s.execute(insert(Detection), [{"camera_id": cid, "label": "person", "confidence": 0.5, "x1": i, "y1": 0,
                                       "x2": i + 5, "y2": 5, "timestamp": T0 + timedelta(seconds=i / 100)}
                                      for i in range(2500)])  # 25 s at 100 rows a second
    every = playback_detections(db, cid, T0, T0 + timedelta(seconds=25))
    assert len(every) == 2500 and every[0]["timestamp"] == T0.isoformat() and every[0]["box"] == [0, 0, 5, 5]
    thin = playback_detections(db, cid, T0, T0 + timedelta(seconds=25), limit=1000)
    assert len(thin) == 834 and [d["box"][0] for d in thin[:3]] == [0, 3, 6]  # every 3rd row
    assert thin[-1]["box"][0] == 2499 and thin[0]["timestamp"] < thin[-1]["timestamp"]
    assert playback_detections(db, cid, T0 + timedelta(seconds=30), T0 + timedelta(seconds=40)) == []
