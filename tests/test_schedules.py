"""Schedules: validation, windows across midnight and DST (pure), the service on both databases with a
controllable clock (triggers, catch-up after downtime, live edits, conflicts), one real-time run of
APScheduler, and one run with the real RecordingService and a simulated camera."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import select

from tests.conftest import wait_for
from thermalstream.db import Recording, repo
from thermalstream.db.types import utcnow
from thermalstream.schedules import (
    ScheduleError,
    ScheduleService,
    parse_days,
    parse_time,
    parse_timezone,
    stop_days,
    window_state,
)

BERLIN = ZoneInfo("Europe/Berlin")


def berlin(*args) -> datetime:
    return datetime(*args, tzinfo=BERLIN)


# --- validation (pure) ------------------------------------------------------------------------


def test_parse_days():
    assert parse_days("mon,wed") == ("mon", "wed")
    assert parse_days(["Friday", "mon"]) == ("mon", "fri")
    assert parse_days("mon-fri") == ("mon", "tue", "wed", "thu", "fri")
    assert parse_days("sat-mon") == ("mon", "sat", "sun")
    assert parse_days("*") == parse_days("daily") == ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    assert parse_days("weekends") == ("sat", "sun")
    for bad in ("", "mon,xyz", [], ["mon", 3], "funday", 5, None):
        with pytest.raises(ScheduleError) as exc:
            parse_days(bad)
        assert exc.value.field == "days_of_week"


def test_parse_time_and_timezone():
    assert parse_time("7:05", "start_time") == time(7, 5)
    assert parse_time("23:59:30") == time(23, 59, 30)
    assert parse_time(time(1, 2, 3, 999)) == time(1, 2, 3)
    for bad in ("24:00", "12:60", "7", "ab:cd", "", None, 730, "12:00:61", "-1:00"):
        with pytest.raises(ScheduleError, match="start_time"):
            parse_time(bad, "start_time")
    assert parse_timezone(" Europe/Berlin ") == "Europe/Berlin"
    for bad in ("Mars/Olympus", "", None, "../../etc/passwd", "Europe/"):
        with pytest.raises(ScheduleError, match="time zone|timezone"):
            parse_timezone(bad)
    assert issubclass(ScheduleError, ValueError)


# --- windows (pure) ---------------------------------------------------------------------------

NIGHT = {"days_of_week": "mon", "start_time": "22:00", "stop_time": "06:00", "timezone": "Europe/Berlin"}


def test_window_crossing_midnight_belongs_to_its_start_day():
    # 2026-06-01 is a Monday
    assert stop_days(("mon",), time(22), time(6)) == ("tue",)
    assert stop_days(("sun", "mon"), time(22), time(6)) == ("mon", "tue")
    assert stop_days(("mon",), time(6), time(22)) == ("mon",)
    inside, ws, we = window_state(NIGHT, berlin(2026, 6, 2, 3, 0))  # Tuesday 03:00
    assert inside and ws == berlin(2026, 6, 1, 22, 0) and we == berlin(2026, 6, 2, 6, 0)
    inside, ws, we = window_state(NIGHT, berlin(2026, 6, 2, 6, 0))  # stop is exclusive
    assert not inside and ws == berlin(2026, 6, 8, 22, 0)
    inside, ws, _ = window_state(NIGHT, berlin(2026, 6, 2, 23, 0))  # Tuesday night is not scheduled
    assert not inside and ws == berlin(2026, 6, 8, 22, 0)
    inside, _, _ = window_state(NIGHT, berlin(2026, 6, 1, 21, 59, 59))
    assert not inside
    inside, ws, _ = window_state(NIGHT, berlin(2026, 6, 1, 22, 0))
    assert inside and ws == berlin(2026, 6, 1, 22, 0)
    # Sunday's window ends on Monday morning
    sun = dict(NIGHT, days_of_week="sun")
    inside, ws, we = window_state(sun, berlin(2026, 6, 1, 5, 0))
    assert inside and ws == berlin(2026, 5, 31, 22, 0) and we == berlin(2026, 6, 1, 6, 0)
    with pytest.raises(ValueError):
        window_state(NIGHT, datetime(2026, 6, 1, 3, 0))


def test_windows_on_dst_transition_days_europe_berlin():
    # 2026-03-29 (Sunday): 02:00 CET -> 03:00 CEST. The overnight window is 7 h of real time.
    sat = dict(NIGHT, days_of_week="sat")
    inside, ws, we = window_state(sat, datetime(2026, 3, 29, 2, 30, tzinfo=UTC))
    assert inside and ws.astimezone(UTC) == datetime(2026, 3, 28, 21, 0, tzinfo=UTC)
    assert we.astimezone(UTC) == datetime(2026, 3, 29, 4, 0, tzinfo=UTC) and we.astimezone(UTC) - ws.astimezone(UTC) == timedelta(hours=7)
    # a start in the gap (02:30 does not exist) happens at the instant 02:30 CET = 03:30 CEST, like CronTrigger
    gap = {"days_of_week": "sun", "start_time": "02:30", "stop_time": "05:00", "timezone": "Europe/Berlin"}
    inside, ws, we = window_state(gap, datetime(2026, 3, 28, 12, tzinfo=UTC))
    assert not inside and ws.astimezone(UTC) == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
    assert ws.hour == 3 and ws.minute == 30  # wall clock
    cron = CronTrigger(day_of_week="sun", hour=2, minute=30, second=0, timezone="Europe/Berlin")
    assert cron.get_next_fire_time(None, datetime(2026, 3, 28, 12, tzinfo=UTC)).astimezone(UTC) == ws.astimezone(UTC)
    assert window_state(gap, datetime(2026, 3, 29, 1, 29, tzinfo=UTC))[0] is False
    assert window_state(gap, datetime(2026, 3, 29, 1, 30, tzinfo=UTC))[0] is True
    # 2026-10-25: 03:00 CEST -> 02:00 CET; the overnight window is 9 h; an ambiguous time is its first occurrence
    sat_oct = dict(NIGHT, days_of_week="sat")
    inside, ws, we = window_state(sat_oct, datetime(2026, 10, 25, 1, 30, tzinfo=UTC))
    assert inside and we.astimezone(UTC) - ws.astimezone(UTC) == timedelta(hours=9)  # compare in UTC:
    # Python subtracts datetimes sharing a tzinfo by wall clock
    amb = {"days_of_week": "sun", "start_time": "02:30", "stop_time": "04:00", "timezone": "Europe/Berlin"}
    _, ws, _ = window_state(amb, datetime(2026, 10, 24, 12, tzinfo=UTC))
    assert ws.astimezone(UTC) == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)


def test_window_starts_match_the_cron_trigger_over_a_year():
    sched = {"days_of_week": "mon,wed,sat", "start_time": "02:30", "stop_time": "01:15", "timezone": "Europe/Berlin"}
    cron = CronTrigger(day_of_week="mon,wed,sat", hour=2, minute=30, second=0, timezone="Europe/Berlin")
    t = datetime(2026, 1, 1, tzinfo=UTC)
    fire = cron.get_next_fire_time(None, t)
    for _ in range(160):
        _, ws, _ = window_state(sched, fire - timedelta(seconds=1))
        if ws.astimezone(UTC) != fire.astimezone(UTC):  # a window already open one second before: only possible for a repeated (autumn) time
            assert window_state(sched, fire)[0]
        assert window_state(sched, fire)[0]
        fire = cron.get_next_fire_time(fire, fire + timedelta(microseconds=1))


# --- the service with a controllable clock ------------------------------------------------------


class RecordingConflict(Exception):
    pass


class FakeRecorder:
    """Records calls; writes Recording rows like the real service, so manual vs scheduled is visible."""

    def __init__(self, db):
        self.db = db
        self.calls: list[tuple] = []
        self.offline: set[int] = set()
        self.active: dict[int, int] = {}

    def is_recording(self, camera_id):
        return camera_id in self.active

    def start(self, camera_id, scheduled=False, schedule_id=None):
        self.calls.append(("start", camera_id, scheduled, schedule_id))
        if camera_id in self.offline:
            raise RecordingConflict(f"camera {camera_id} is not connected")
        if camera_id in self.active:
            raise RecordingConflict(f"camera {camera_id} is already recording")
        with self.db.session() as s:
            r = Recording(camera_id=camera_id, path=f"cam{camera_id}/x", scheduled=scheduled,
                          schedule_id=schedule_id, status="recording")
            s.add(r)
            s.flush()
            self.active[camera_id] = r.id
            return {"id": r.id, "camera_id": camera_id}

    def stop(self, camera_id):
        self.calls.append(("stop", camera_id))
        rid = self.active.pop(camera_id, None)
        if rid is None:
            raise RecordingConflict(f"camera {camera_id} is not recording")
        with self.db.session() as s:
            r = s.get(Recording, rid)
            r.status, r.ended_at = "completed", utcnow()
        return {"id": rid}


class Notes:
    def __init__(self):
        self.sent = []

    def notify(self, type, title, message="", user_id=None, data=None):
        self.sent.append((type, title, message, data or {}))

    def titles(self):
        return [(t, title) for t, title, _, _ in self.sent]


class Clock:
    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def env(db):
    with db.session() as s:
        cams = [repo.add_camera(s, f"cam{i}", "sim://").id for i in range(2)]
    clock = Clock(berlin(2026, 6, 1, 7, 0))  # Monday 07:00
    rec, notes = FakeRecorder(db), Notes()
    svc = ScheduleService(db, rec, notes, clock=clock)

    class Env:
        pass

    e = Env()
    e.db, e.cams, e.clock, e.rec, e.notes, e.svc = db, cams, clock, rec, notes, svc

    def go(*args):
        clock.now = berlin(*args)
        return svc.tick(clock.now)

    e.go = go
    yield e
    svc.shutdown()


def day(cam, start, stop, days="mon-fri", tz="Europe/Berlin", **kw):
    return {"camera_id": cam, "start_time": start, "stop_time": stop, "days_of_week": days, "timezone": tz, **kw}


def test_crud_returns_json_dicts_and_manages_jobs(env):
    svc, cam = env.svc, env.cams[0]
    svc.start(run_jobs=False)
    a = svc.create(day(cam, "08:00", "12:00", name="Mornings"))
    assert a["name"] == "Mornings" and a["days_of_week"] == ["mon", "tue", "wed", "thu", "fri"]
    assert (a["start_time"], a["stop_time"], a["timezone"], a["enabled"]) == ("08:00", "12:00", "Europe/Berlin", True)
    assert a["active"] is False and a["window_start"] == berlin(2026, 6, 1, 8, 0).isoformat()
    b = svc.create(camera_id=env.cams[1], start_time="22:00:30", stop_time="06:00")
    assert b["crosses_midnight"] and b["name"] == "22:00:30–06:00" and b["timezone"] == "UTC"
    assert len(b["days_of_week"]) == 7
    ids = [j["id"] for j in svc.jobs()]
    assert ids == sorted([f"schedule-{a['id']}-start", f"schedule-{a['id']}-stop",
                          f"schedule-{b['id']}-start", f"schedule-{b['id']}-stop"])
    assert [s["id"] for s in svc.list()] == [a["id"], b["id"]]
    assert [s["id"] for s in svc.list(camera_id=cam)] == [a["id"]]
    assert svc.get(a["id"]) == svc.list(camera_id=cam)[0]
    assert svc.update(a["id"], enabled=False)["enabled"] is False
    assert not any(j["id"].startswith(f"schedule-{a['id']}-") for j in svc.jobs())
    svc.update(a["id"], {"enabled": True})
    assert sum(j["id"].startswith(f"schedule-{a['id']}-") for j in svc.jobs()) == 2
    assert svc.delete(a["id"]) is True and svc.get(a["id"]) is None and svc.delete(a["id"]) is False
    assert svc.update(a["id"], name="x") is None
    assert all(not j["id"].startswith(f"schedule-{a['id']}-") for j in svc.jobs())


@pytest.mark.parametrize("bad, field", [
    ({"days_of_week": "mon,funday"}, "days_of_week"),
    ({"days_of_week": []}, "days_of_week"),
    ({"start_time": "25:00"}, "start_time"),
    ({"stop_time": "noon"}, "stop_time"),
    ({"stop_time": "08:00"}, "stop_time"),  # same as start
    ({"timezone": "Europe/Atlantis"}, "timezone"),
    ({"camera_id": 999}, "camera_id"),
    ({"camera_id": "one"}, "camera_id"),
    ({"enabled": "yes"}, "enabled"),
    ({"name": "x" * 200}, "name"),
    ({"colour": "red"}, None),
])
def test_invalid_input_is_a_schedule_error(env, bad, field):
    svc = env.svc
    with pytest.raises(ScheduleError) as exc:
        svc.create({**day(env.cams[0], "08:00", "12:00"), **bad})
    assert exc.value.field == field and str(exc.value)
    ok = svc.create(day(env.cams[0], "08:00", "12:00"))
    with pytest.raises(ScheduleError):
        svc.update(ok["id"], bad)
    assert svc.get(ok["id"])["start_time"] == "08:00" and len(svc.list()) == 1
    with pytest.raises(ScheduleError):
        svc.create(camera_id=env.cams[0], start_time="08:00")  # no stop time


def test_triggers_start_and_stop_with_scheduled_flag_and_notifications(env):
    svc, cam = env.svc, env.cams[0]
    s = svc.create(day(cam, "08:00", "12:00"))
    svc.start(run_jobs=False)
    assert svc.startup_actions[0]["action"] == "none"
    assert env.go(2026, 6, 1, 7, 59, 59) == []
    acts = env.go(2026, 6, 1, 8, 0, 5)
    assert [a["action"] for a in acts] == ["start"] and acts[0]["at"] == berlin(2026, 6, 1, 8).astimezone(UTC).isoformat()
    assert env.rec.calls == [("start", cam, True, s["id"])]
    assert svc.get(s["id"])["active"] is True
    assert [a["action"] for a in env.go(2026, 6, 1, 12, 0, 0)] == ["stop"]
    assert env.rec.calls[-1] == ("stop", cam) and env.rec.active == {}
    assert env.notes.titles() == [("info", "Scheduled recording started"), ("info", "Scheduled recording stopped")]
    # a whole week goes by: 4 more weekdays, none on the weekend
    acts = env.go(2026, 6, 8, 7, 0)
    assert [a["action"] for a in acts] == ["start", "stop"] * 4
    with env.db.session() as sess:
        rows = sess.scalars(select(Recording)).all()
        assert len(rows) == 5 and all(r.scheduled and r.schedule_id == s["id"] for r in rows)


def test_midnight_crossing_window_runs_into_the_next_day(env):
    svc, cam = env.svc, env.cams[0]
    s = svc.create(day(cam, "22:00", "06:00", days="mon"))
    svc.start(run_jobs=False)
    env.go(2026, 6, 1, 23, 0)
    assert env.rec.calls == [("start", cam, True, s["id"])]
    env.go(2026, 6, 2, 5, 59)
    assert cam in env.rec.active
    env.go(2026, 6, 2, 6, 0, 1)
    assert cam not in env.rec.active
    env.go(2026, 6, 8, 21, 0)  # nothing on Tue..Sun
    assert [c[0] for c in env.rec.calls] == ["start", "stop"]


def test_dst_days_through_the_service_start_and_stop_once(env):
    svc, cam = env.svc, env.cams[0]
    svc.create(day(cam, "02:30", "04:00", days="daily"))
    svc.start(berlin(2026, 3, 28, 12, 0), run_jobs=False)
    acts = svc.tick(datetime(2026, 3, 29, 12, 0, tzinfo=UTC))  # spring: 02:30 does not exist
    assert [(a["action"], a["at"]) for a in acts] == [
        ("start", "2026-03-29T01:30:00+00:00"), ("stop", "2026-03-29T02:00:00+00:00")]
    svc._last_tick = datetime(2026, 10, 24, 12, 0, tzinfo=UTC)
    acts = svc.tick(datetime(2026, 10, 25, 12, 0, tzinfo=UTC))  # autumn: 02:30 happens twice
    started = [a for a in acts if a["action"] == "start"]
    stopped = [a for a in acts if a["action"] == "stop"]
    assert [a["at"] for a in started] == ["2026-10-25T00:30:00+00:00"]
    assert [a["at"] for a in stopped] == ["2026-10-25T03:00:00+00:00"]  # 04:00 CET
    assert env.rec.active == {}


def test_offline_camera_gives_a_warning_and_the_next_trigger_tries_again(env):
    svc, cam = env.svc, env.cams[0]
    env.rec.offline.add(cam)
    svc.create(day(cam, "08:00", "12:00"))
    svc.start(run_jobs=False)
    acts = env.go(2026, 6, 1, 9, 0)
    assert acts[0]["action"] == "start_failed" and "not connected" in acts[0]["error"]
    kind, title, message, data = env.notes.sent[-1]
    assert kind == "warning" and title == "Scheduled recording not started" and "not connected" in message
    assert data["camera_id"] == cam
    assert env.go(2026, 6, 1, 12, 0, 1)[0]["reason"].endswith("not recording")
    env.rec.offline.clear()
    assert env.go(2026, 6, 2, 8, 0, 1)[0]["action"] == "start"

    class Broken(FakeRecorder):
        def start(self, *a, **kw):
            raise RuntimeError("encoder exploded")

    svc.recorder = Broken(env.db)
    env.rec.active.clear()
    assert env.go(2026, 6, 3, 8, 0, 1)[-1]["action"] == "start_failed"  # logged and notified, no crash


def test_manual_recording_is_not_stopped_and_not_restarted(env):
    svc, cam = env.svc, env.cams[0]
    svc.create(day(cam, "08:00", "12:00"))
    svc.start(run_jobs=False)
    env.rec.start(cam)  # manual, at 07:00
    acts = env.go(2026, 6, 1, 12, 0, 1)
    assert [a["reason"] for a in acts] == ["trigger: already recording", "trigger: a manual recording is left running"]
    assert cam in env.rec.active


def test_overlapping_and_back_to_back_windows_record_continuously(env):
    svc, cam = env.svc, env.cams[0]
    svc.create(day(cam, "08:00", "10:00"))
    svc.create(day(cam, "10:00", "11:00"))
    svc.create(day(cam, "09:30", "10:30"))
    svc.start(run_jobs=False)
    env.go(2026, 6, 1, 10, 59)
    assert [c[0] for c in env.rec.calls] == ["start"]
    env.go(2026, 6, 1, 11, 0)
    assert [c[0] for c in env.rec.calls] == ["start", "stop"]


def test_schedule_edited_while_running_is_picked_up(env):
    svc, cam = env.svc, env.cams[0]
    s = svc.create(day(cam, "08:00", "12:00"))
    svc.start(run_jobs=False)
    env.go(2026, 6, 1, 7, 10)
    env.clock.now = berlin(2026, 6, 1, 7, 10)
    svc.update(s["id"], start_time="07:30")  # the new start job replaces the old one
    assert env.go(2026, 6, 1, 7, 30, 1)[0]["action"] == "start"
    svc.update(s["id"], {"stop_time": "09:00"})  # while recording: the new stop time applies
    assert env.go(2026, 6, 1, 8, 59, 59) == []
    assert env.go(2026, 6, 1, 9, 0, 1)[0]["action"] == "stop"
    # an edit that opens a window around "now" starts at once; one that closes it stops at once
    env.clock.now = berlin(2026, 6, 1, 10, 0)
    svc.update(s["id"], stop_time="11:00")
    assert cam in env.rec.active
    svc.update(s["id"], days_of_week="sat")
    assert cam not in env.rec.active
    svc.update(s["id"], name="renamed")  # not a timing change: nothing happens
    assert [c[0] for c in env.rec.calls] == ["start", "stop", "start", "stop"]
    # deleting a schedule whose recording runs stops it
    svc.update(s["id"], days_of_week="mon")
    assert cam in env.rec.active
    svc.delete(s["id"])
    assert cam not in env.rec.active and svc.jobs() == []


def test_missed_start_during_downtime_starts_on_startup_inside_the_window(env):
    svc, cam = env.svc, env.cams[0]
    s = svc.create(day(cam, "08:00", "12:00"))
    assert env.rec.calls == []  # not started: nothing applied yet
    svc.start(berlin(2026, 6, 1, 10, 30), run_jobs=False)
    assert [a["action"] for a in svc.startup_actions] == ["start"]
    assert svc.startup_actions[0]["reason"] == "catch-up"
    assert env.rec.calls == [("start", cam, True, s["id"])]


def test_missed_start_outside_the_grace_or_after_the_window_does_nothing(db, env):
    cam = env.cams[0]
    s = env.svc.create(day(cam, "08:00", "12:00"))
    late = ScheduleService(db, env.rec, env.notes, clock=env.clock, catchup_grace=timedelta(minutes=30))
    try:
        late.start(berlin(2026, 6, 1, 8, 45), run_jobs=False)
        assert late.startup_actions[0]["action"] == "none" and "grace" in late.startup_actions[0]["reason"]
        late.shutdown()
        late = ScheduleService(db, env.rec, env.notes, clock=env.clock, catchup_grace=timedelta(minutes=30))
        late.start(berlin(2026, 6, 1, 8, 20), run_jobs=False)
        assert late.startup_actions[0]["action"] == "start"
        env.rec.stop(cam)
    finally:
        late.shutdown()
    closed = ScheduleService(db, env.rec, env.notes, clock=env.clock)
    try:
        closed.start(berlin(2026, 6, 1, 12, 30), run_jobs=False)  # the window closed during downtime
        assert closed.startup_actions[0]["action"] == "none"
        assert [c[0] for c in env.rec.calls] == ["start", "stop"]
        # a late start trigger (e.g. after a suspend) after the window closed starts nothing
        assert closed.fire(s["id"], "start", now=berlin(2026, 6, 1, 12, 30))["reason"].startswith("late start")
    finally:
        closed.shutdown()


def test_scheduled_recording_left_running_outside_every_window_is_stopped_on_startup(env):
    cam = env.cams[0]
    s = env.svc.create(day(cam, "08:00", "12:00"))
    env.rec.start(cam, scheduled=True, schedule_id=s["id"])
    env.svc.start(berlin(2026, 6, 1, 13, 0), run_jobs=False)
    assert [a["action"] for a in env.svc.startup_actions] == ["stop"]


def test_camera_deleted_removes_the_schedule_and_its_jobs_on_the_next_trigger(env):
    svc, cam = env.svc, env.cams[0]
    s = svc.create(day(cam, "08:00", "12:00"))
    svc.start(run_jobs=False)
    with env.db.session() as sess:
        repo.delete_camera(sess, cam)
    assert svc.get(s["id"]) is None
    acts = env.go(2026, 6, 1, 8, 0, 1)
    assert acts[0]["reason"] == "the schedule no longer exists" and svc.jobs() == []


def test_interval_job_for_storage_cleanup(env):
    calls = []
    env.svc.start()
    env.svc.add_interval_job("storage-cleanup", lambda: calls.append(1), seconds=0.2)
    wait_for(lambda: len(calls) >= 2, timeout=5, what="the interval job to run twice")
    assert env.svc.remove_job("storage-cleanup") and not env.svc.remove_job("storage-cleanup")
    with pytest.raises(ValueError):
        env.svc.add_interval_job("schedule-1-start", lambda: None, seconds=1)


# --- real time ------------------------------------------------------------------------------------


def test_real_scheduler_fires_start_and_stop_on_its_own(db):
    with db.session() as s:
        cam = repo.add_camera(s, "rt", "sim://").id
    rec, notes = FakeRecorder(db), Notes()
    svc = ScheduleService(db, rec, notes).start()
    try:
        now = datetime.now(UTC)  # margins: a start time already past when the job is made fires tomorrow
        start = (now + timedelta(seconds=5)).time().replace(microsecond=0)
        stop = (now + timedelta(seconds=8)).time().replace(microsecond=0)
        s = svc.create({"camera_id": cam, "start_time": start, "stop_time": stop, "timezone": "UTC",
                        "days_of_week": "daily"})
        wait_for(lambda: rec.calls, timeout=15, what="the start trigger")
        assert rec.calls[0] == ("start", cam, True, s["id"])
        wait_for(lambda: len(rec.calls) >= 2, timeout=15, what="the stop trigger")
        assert rec.calls[1] == ("stop", cam) and rec.active == {}
        # the scheduler's thread notifies after the recorder call returns: wait for the note, too
        wait_for(lambda: len(notes.sent) >= 2, timeout=5, what="the stop notification")
        assert [t for _, t in notes.titles()] == ["Scheduled recording started", "Scheduled recording stopped"]
    finally:
        svc.shutdown()
    assert not svc.running


# --- with the real RecordingService --------------------------------------------------------------


def test_with_the_real_recording_service_and_a_sim_camera(db, tmp_path):
    record = pytest.importorskip("thermalstream.record.service")
    from thermalstream.bus import EventBus
    from thermalstream.capture import CameraManager
    from thermalstream.config import Settings
    from thermalstream.notifications import NotificationService
    from thermalstream.record.video import VideoOptions

    bus = EventBus()
    manager = CameraManager(bus)
    notes = NotificationService(db, bus)
    settings = Settings(data_dir=tmp_path / "data")
    cfg = record.RecordingConfig(segment_seconds=1.0, reserve_bytes=0, video=VideoOptions(preset="ultrafast"))
    recorder = record.RecordingService(db, manager, notes, settings, config=cfg)
    url = "sim://?fps=25&width=160&height=128&seed=3"
    with db.session() as s:
        cam = repo.add_camera(s, "sim", url).id
        offline = repo.add_camera(s, "offline", "sim://").id
    manager.add(cam, url, "sim").read()
    t0 = datetime.now(UTC)
    clock = Clock(t0)
    svc = ScheduleService(db, recorder, notes, clock=clock)
    try:
        start = (t0 + timedelta(seconds=1)).time().replace(microsecond=0)
        stop = (t0 + timedelta(minutes=10)).time().replace(microsecond=0)
        a = svc.create(camera_id=cam, start_time=start, stop_time=stop, timezone="UTC", days_of_week="daily")
        svc.create(camera_id=offline, start_time=start, stop_time=stop, timezone="UTC", days_of_week="daily")
        svc.start(t0, run_jobs=False)
        clock.now = t0 + timedelta(seconds=2)
        acts = svc.tick(clock.now)
        assert sorted(a_["action"] for a_ in acts) == ["start", "start_failed"]
        assert recorder.is_recording(cam)
        wait_for(lambda: recorder.active()[0]["segments"] >= 1, timeout=20, what="a closed segment")
        clock.now = t0 + timedelta(minutes=10, seconds=1)
        assert [x["action"] for x in svc.tick(clock.now) if x["camera_id"] == cam] == ["stop"]
        assert not recorder.is_recording(cam)
        rows = recorder.list(camera_id=cam)
        assert len(rows) == 1 and rows[0]["scheduled"] is True and rows[0]["status"] == "completed"
        with db.session() as s:
            assert s.scalars(select(Recording)).one().schedule_id == a["id"]
        titles = [n["title"] for n in notes.list(None, limit=50)]
        assert "Scheduled recording started" in titles and "Scheduled recording not started" in titles
    finally:
        svc.shutdown()
        recorder.shutdown()
        manager.stop_all()
