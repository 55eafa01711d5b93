"""Schedules through the HTTP API on a running server: create/update/delete, 400s for bad input,
an open window that records at once and stops when edited or deleted, and a real-time window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.conftest import start_server, stop_server, wait_for
from thermalstream.schedules import DAYS

SIM = "sim://?width=160&height=128"


@pytest.fixture
def srv(tmp_path):
    s = start_server(tmp_path, record_segment_seconds=1.0)
    try:
        yield s
    finally:
        stop_server(s)


def camera(srv, live: bool = True) -> int:
    status, cam = srv.request("POST", "/api/cameras", {"url": SIM})
    assert status == 201, cam
    if live:
        wait_for(lambda: srv.camera(cam["id"])["status"] == "live", what="camera live")
    return cam["id"]


def closed_day() -> str:
    """A weekday whose 08:00-09:00 UTC window is certainly not open now (not today, not yesterday)."""
    return DAYS[(datetime.now(UTC).weekday() + 3) % 7]


def open_window(minutes_ago: int = 5, minutes_left: int = 60) -> dict:
    """A UTC window that opened a few minutes ago and closes later (on the weekday it started)."""
    now = datetime.now(UTC)
    start, stop = now - timedelta(minutes=minutes_ago), now + timedelta(minutes=minutes_left)
    return {"days_of_week": [DAYS[start.weekday()]], "start_time": start.strftime("%H:%M"),
            "stop_time": stop.strftime("%H:%M"), "timezone": "UTC"}


def recordings(srv, cid: int) -> list[dict]:
    status, body = srv.request("GET", f"/api/recordings?camera={cid}")
    assert status == 200, body
    return body["recordings"]


def running(srv, cid: int) -> list[dict]:
    return [r for r in recordings(srv, cid) if r["status"] == "recording"]


def test_create_list_update_delete(srv):
    cid = camera(srv, live=False)
    body = {"camera_id": cid, "name": "Night", "days_of_week": ["mon", "fri"], "start_time": "22:00",
            "stop_time": "06:00", "timezone": "Europe/Berlin", "enabled": True}
    status, s = srv.request("POST", "/api/schedule/create", body)
    assert status == 201, s
    assert s["name"] == "Night" and s["days_of_week"] == ["mon", "fri"] and s["crosses_midnight"] is True
    assert s["start_time"] == "22:00" and s["stop_time"] == "06:00" and s["timezone"] == "Europe/Berlin"
    assert s["enabled"] is True and s["window_start"] and s["window_end"]

    status, listing = srv.request("GET", "/api/schedules")
    assert status == 200 and [x["id"] for x in listing["schedules"]] == [s["id"]]
    assert srv.request("GET", f"/api/schedules?camera={cid}")[1]["schedules"][0]["id"] == s["id"]
    assert srv.request("GET", f"/api/schedules?camera={cid + 100}")[1]["schedules"] == []
    assert srv.request("GET", "/api/schedules?camera=x")[0] == 400
    status, one = srv.request("GET", f"/api/schedules/{s['id']}")
    assert status == 200 and one["name"] == "Night"

    status, up = srv.request("POST", "/api/schedule/update",
                             {"id": s["id"], "name": "Weekdays", "days_of_week": "mon-fri", "enabled": False})
    assert status == 200, up
    assert up["name"] == "Weekdays" and up["days_of_week"] == list(DAYS[:5]) and up["enabled"] is False
    assert up["start_time"] == "22:00"  # untouched fields stay
    assert srv.request("POST", "/api/schedule/update", {"id": 9999, "name": "x"})[0] == 404
    assert srv.request("POST", "/api/schedule/update", {"name": "x"})[0] == 400  # no id

    status, gone = srv.request("POST", "/api/schedule/delete", {"id": s["id"]})
    assert status == 200 and gone == {"deleted": s["id"]}
    assert srv.request("POST", "/api/schedule/delete", {"id": s["id"]})[0] == 404
    assert srv.request("GET", f"/api/schedules/{s['id']}")[0] == 404
    assert srv.request("GET", "/api/schedules")[1]["schedules"] == []


@pytest.mark.parametrize(("field", "value", "words"), [
    ("days_of_week", ["mon", "funday"], "funday"),
    ("start_time", "25:00", "25:00"),
    ("stop_time", "12:75", "12:75"),
    ("timezone", "Mars/Base", "Mars/Base"),
    ("camera_id", 9999, "camera 9999"),
    ("enabled", "yes", "enabled"),
])
def test_bad_input_is_400_with_the_message(srv, field, value, words):
    cid = camera(srv, live=False)
    good = {"camera_id": cid, "days_of_week": [closed_day()], "start_time": "08:00", "stop_time": "09:00",
            "timezone": "UTC"}
    status, err = srv.request("POST", "/api/schedule/create", {**good, field: value})
    assert status == 400, err
    assert words in err["error"] and err["field"] == field
    assert srv.request("GET", "/api/schedules")[1]["schedules"] == []

    status, s = srv.request("POST", "/api/schedule/create", good)
    assert status == 201
    status, err = srv.request("POST", "/api/schedule/update", {"id": s["id"], field: value})
    assert status == 400 and words in err["error"]
    assert srv.request("GET", f"/api/schedules/{s['id']}")[1]["start_time"] == "08:00"  # unchanged


def test_bad_bodies(srv):
    assert srv.request("POST", "/api/schedule/create", {"camera_id": 1, "colour": "red"})[0] == 400
    assert srv.request("POST", "/api/schedule/delete", {"id": "abc"})[0] == 400
    assert srv.request("POST", "/api/schedule/delete", {})[0] == 400


def test_open_window_records_now_and_stops_when_edited_or_deleted(srv):
    cid = camera(srv)
    status, s = srv.request("POST", "/api/schedule/create", {"camera_id": cid, "name": "now", **open_window()})
    assert status == 201, s
    assert s["active"] is True
    rec = wait_for(lambda: running(srv, cid), timeout=15, what="a scheduled recording")[0]
    assert rec["scheduled"] is True and rec["schedule_id"] == s["id"]

    # editing the window so that it is closed now stops the scheduled recording
    status, up = srv.request("POST", "/api/schedule/update",
                             {"id": s["id"], "days_of_week": [closed_day()], "start_time": "08:00",
                              "stop_time": "09:00"})
    assert status == 200 and up["active"] is False
    wait_for(lambda: not running(srv, cid), timeout=20, what="the scheduled recording to stop")
    done = next(r for r in recordings(srv, cid) if r["id"] == rec["id"])
    assert done["status"] != "recording" and done["scheduled"] is True

    # opening it again records again; deleting the schedule stops it
    status, up = srv.request("POST", "/api/schedule/update", {"id": s["id"], **open_window()})
    assert status == 200 and up["active"] is True
    second = wait_for(lambda: running(srv, cid), timeout=15, what="a second scheduled recording")[0]
    assert second["id"] != rec["id"] and second["scheduled"] is True
    assert srv.request("POST", "/api/schedule/delete", {"id": s["id"]})[0] == 200
    wait_for(lambda: not running(srv, cid), timeout=20, what="the recording to stop after delete")

    # a manual recording is never stopped by a schedule's closing window
    assert srv.request("POST", "/api/recording/start", {"camera_id": cid})[0] == 201
    status, s2 = srv.request("POST", "/api/schedule/create",
                             {"camera_id": cid, "days_of_week": [closed_day()], "start_time": "08:00",
                              "stop_time": "09:00", "timezone": "UTC"})
    assert status == 201
    assert srv.request("POST", "/api/schedule/delete", {"id": s2["id"]})[0] == 200
    assert running(srv, cid) and running(srv, cid)[0]["scheduled"] is False
    assert srv.request("POST", "/api/recording/stop", {"camera_id": cid})[0] == 200


def test_real_time_window_seconds_ahead_fires_and_stops_on_its_own(srv):
    """The service takes HH:MM:SS, so APScheduler's cron jobs run a window a few seconds ahead in real time."""
    cid = camera(srv)
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=5)
    stop = start + timedelta(seconds=5)
    status, s = srv.request("POST", "/api/schedule/create", {
        "camera_id": cid, "name": "soon", "days_of_week": [DAYS[start.weekday()]],
        "start_time": start.strftime("%H:%M:%S"), "stop_time": stop.strftime("%H:%M:%S"), "timezone": "UTC"})
    assert status == 201, s
    assert s["active"] is False and datetime.fromisoformat(s["window_start"]) == start
    assert not running(srv, cid)

    rec = wait_for(lambda: [r for r in recordings(srv, cid) if r["scheduled"]], timeout=20, interval=0.2,
                   what="the start trigger")[0]
    assert rec["schedule_id"] == s["id"]
    assert datetime.fromisoformat(rec["started_at"]) >= start - timedelta(seconds=1)
    wait_for(lambda: not running(srv, cid), timeout=25, interval=0.2, what="the stop trigger")
    done = next(r for r in recordings(srv, cid) if r["id"] == rec["id"])
    assert done["status"] == "completed", done
    assert datetime.fromisoformat(done["ended_at"]) >= stop - timedelta(seconds=1)
    assert 2 <= done["duration_s"] <= 10
    status, again = srv.request("GET", f"/api/schedules/{s['id']}")
    assert status == 200 and again["active"] is False
    assert datetime.fromisoformat(again["window_start"]) == start + timedelta(days=7)
