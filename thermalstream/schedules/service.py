"""Recording schedules: APScheduler 3 cron jobs that start and stop recordings.

Each enabled schedule has two jobs in a ``BackgroundScheduler``: ``schedule-<id>-start``
(CronTrigger on the schedule's days at ``start_time``) and ``schedule-<id>-stop`` (at
``stop_time``, on the next day when the window crosses midnight), both in the schedule's IANA
time zone. Creating, updating, enabling, disabling or deleting a schedule replaces its jobs at
once. Every job only wakes the service: what to do is decided by :func:`window_state` at that
instant, so late, duplicated (DST autumn) or stale triggers do no harm.

Rules (copied to the docs):

* **Windows** belong to the day they start on; 22:00–06:00 on ``mon`` runs Monday 22:00 to
  Tuesday 06:00. Windows are [start, stop). DST: see :mod:`thermalstream.schedules.windows`.
* **Start trigger**: if the camera is not recording, ``recorder.start(camera_id, scheduled=True,
  schedule_id=id)``; a notification says so. If it cannot (camera offline, disk full, any
  error), a *warning* notification says why; nothing crashes and the next trigger tries again.
  A camera already recording (manually or by another schedule) is left as it is.
* **Stop trigger**: the camera's recording is stopped only if it is a *scheduled* one and no
  enabled schedule of that camera has a window open at that instant (overlapping or
  back-to-back windows record continuously). Manual recordings are never stopped by a schedule.
* **Missed triggers (downtime) and catch-up**: when the service starts, and when a schedule is
  created or its timing/enabled flag changes, each camera is brought to the state its schedules
  ask for *now*: inside an open window (and, if ``catchup_grace`` is set, no later than that
  after the window's start) recording starts now; outside every window a scheduled recording
  still running is stopped. A window that closed during downtime starts nothing. APScheduler
  jobs use ``misfire_grace_time=None`` with ``coalesce=True``: a trigger that fires late (e.g.
  after a suspend) runs once and applies the same window check. Default ``catchup_grace=None``:
  as long as the window is open.
* A manual stop inside a window is respected until the next start trigger (the service acts on
  edges while running; it re-applies the level only at the moments listed above).

Time is injectable for tests: ``clock()`` gives "now" for decisions, :meth:`reconcile` applies
the state for a given instant, and :meth:`tick` replays the cron triggers that fall between the
previous tick and ``now`` (start the service with ``run_jobs=False`` so real time fires nothing).
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import select

from thermalstream.db.engine import Database
from thermalstream.db.models import Recording, RecordingSchedule
from thermalstream.db.types import utcnow
from thermalstream.schedules.actions import ScheduleActions
from thermalstream.schedules.rows import TIMING, find_row, iso, merge_fields, schedule_dict, validate
from thermalstream.schedules.windows import DAYS, parse_days, stop_days, window_state

log = logging.getLogger(__name__)

_JOB_PREFIX = "schedule-"
_EPS = timedelta(microseconds=1)


def _job_id(schedule_id: int, action: str) -> str:
    return f"{_JOB_PREFIX}{schedule_id}-{action}"


class ScheduleService(ScheduleActions):
    """Schedules in the database, their cron jobs, and the start/stop decisions.

    ``recorder`` needs ``start(camera_id, scheduled=False, schedule_id=None)`` and
    ``stop(camera_id)`` (raising on conflicts); ``is_recording(camera_id)`` is used when present,
    else the camera's newest ``recording`` row tells. ``notifications`` needs
    ``notify(type, title, message, data=...)`` (or None).
    """

    def __init__(
        self,
        db: Database,
        recorder: Any,
        notifications: Any = None,
        *,
        scheduler: BackgroundScheduler | None = None,
        clock: Callable[[], datetime] | None = None,
        catchup_grace: timedelta | None = None,
        notify_success: bool = True,
    ) -> None:
        self.db = db
        self.recorder = recorder
        self.notifications = notifications
        self.clock = clock or utcnow
        self.catchup_grace = catchup_grace
        self.notify_success = notify_success
        self._own_scheduler = scheduler is None
        self.scheduler = scheduler or BackgroundScheduler(
            timezone=UTC, job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None})
        self._lock = threading.RLock()
        self._last_tick: datetime | None = None
        self.startup_actions: list[dict[str, Any]] = []

    # ------------------------------------------------------------------ validation

    # ------------------------------------------------------------------ CRUD

    def to_dict(self, row: RecordingSchedule, now: datetime | None = None) -> dict[str, Any]:
        return schedule_dict(row, now or self.clock())

    # ``visible`` (every method below): the camera ids the caller may see, None for all. Schedules
    # of other cameras are treated exactly as schedules that do not exist, and so are those cameras.

    def list(self, camera_id: int | None = None, *, visible: set[int] | None = None) -> list[dict[str, Any]]:
        q = select(RecordingSchedule).order_by(RecordingSchedule.id)
        if camera_id is not None:
            q = q.where(RecordingSchedule.camera_id == camera_id)
        if visible is not None:
            q = q.where(RecordingSchedule.camera_id.in_(sorted(visible)))
        now = self.clock()
        with self.db.session() as s:
            return [self.to_dict(r, now) for r in s.scalars(q)]

    def get(self, schedule_id: int, *, visible: set[int] | None = None) -> dict[str, Any] | None:
        with self.db.session() as s:
            row = find_row(s, schedule_id, visible)
            return self.to_dict(row) if row is not None else None

    def create(self, data: Mapping[str, Any] | None = None, /, *, visible: set[int] | None = None,
               **fields: Any) -> dict[str, Any]:
        """Save a schedule and install its jobs; returns its dict. ``ScheduleError`` on bad input.

        Needs ``camera_id``, ``start_time`` and ``stop_time``; ``days_of_week`` defaults to every
        day, ``timezone`` to UTC, ``enabled`` to true, ``name`` to "HH:MM–HH:MM"."""
        values = merge_fields(data, fields)
        values.setdefault("days_of_week", list(DAYS))
        values.setdefault("timezone", "UTC")
        with self._lock:
            with self.db.session() as s:
                clean = validate(s, values, visible)
                row = RecordingSchedule(**clean)
                s.add(row)
                s.flush()
                sid, cam = row.id, row.camera_id
                self._install(row)
            self._apply_now([cam])
            return self.get(sid)  # type: ignore[return-value]

    def update(self, schedule_id: int, data: Mapping[str, Any] | None = None, /, *,
               visible: set[int] | None = None, **fields: Any) -> dict[str, Any] | None:
        """Change fields of a schedule (None if it does not exist); its jobs are replaced at once,
        and when the timing, camera or enabled flag changed the camera is brought to the state the
        schedules ask for now (see the module rules)."""
        values = merge_fields(data, fields)
        with self._lock:
            with self.db.session() as s:
                row = find_row(s, schedule_id, visible)
                if row is None:
                    return None
                current = {
                    "camera_id": row.camera_id, "name": row.name, "days_of_week": row.days_of_week,
                    "start_time": row.start_time, "stop_time": row.stop_time, "timezone": row.timezone,
                    "enabled": row.enabled, "created_by": row.created_by,
                }
                clean = validate(s, {**current, **values}, visible)
                changed = {k for k, v in clean.items() if current.get(k) != v}
                old_cam = row.camera_id
                for k, v in clean.items():
                    setattr(row, k, v)
                s.flush()
                self._install(row)
            if changed & TIMING:
                self._apply_now(sorted({old_cam, clean["camera_id"]}))
            return self.get(schedule_id)

    def delete(self, schedule_id: int, *, visible: set[int] | None = None) -> bool:
        """Delete a schedule and its jobs; a scheduled recording it leaves without an open window stops."""
        with self._lock:
            with self.db.session() as s:
                row = find_row(s, schedule_id, visible)
                if row is None:
                    if visible is None:
                        self._remove_jobs(schedule_id)
                    return False
                cam = row.camera_id
                s.delete(row)
            self._remove_jobs(schedule_id)
            self._apply_now([cam])
            return True

    # ------------------------------------------------------------------ jobs

    def _remove_jobs(self, schedule_id: int) -> None:
        for action in ("start", "stop"):
            with contextlib.suppress(JobLookupError):  # there was none
                self.scheduler.remove_job(_job_id(schedule_id, action))

    def _install(self, row: RecordingSchedule) -> None:
        """(Re)create the start and stop jobs of ``row`` (only the removal when it is disabled)."""
        self._remove_jobs(row.id)
        if not row.enabled:
            return
        tz = row.timezone
        days = parse_days(row.days_of_week)
        for action, t, on in (("start", row.start_time, days),
                              ("stop", row.stop_time, stop_days(days, row.start_time, row.stop_time))):
            trigger = CronTrigger(day_of_week=",".join(on), hour=t.hour, minute=t.minute, second=t.second, timezone=tz)
            self.scheduler.add_job(
                self._run_job, trigger, args=(row.id, action), id=_job_id(row.id, action),
                name=f"{row.name} ({action})", replace_existing=True, coalesce=True, max_instances=1,
                misfire_grace_time=None,
            )

    def _run_job(self, schedule_id: int, action: str) -> None:
        try:
            self.fire(schedule_id, action)
        except Exception:
            log.exception("schedule %s %s failed", schedule_id, action)

    def sync(self) -> int:
        """Rebuild every schedule's jobs from the database (e.g. after cameras were deleted);
        returns the number of enabled schedules."""
        with self._lock, self.db.session() as s:
            for job in list(self.scheduler.get_jobs()):
                if job.id.startswith(_JOB_PREFIX):
                    self.scheduler.remove_job(job.id)
            rows = list(s.scalars(select(RecordingSchedule).order_by(RecordingSchedule.id)))
            for row in rows:
                self._install(row)
            return sum(1 for r in rows if r.enabled)

    def jobs(self) -> list[dict[str, Any]]:
        """The scheduler's jobs (id, name, next run) — for health pages and tests."""
        out = []
        for job in self.scheduler.get_jobs():
            nxt = getattr(job, "next_run_time", None)
            out.append({"id": job.id, "name": job.name, "next_run_time": iso(nxt)})
        return sorted(out, key=lambda j: j["id"])

    def add_interval_job(self, job_id: str, func: Callable[[], Any], *, seconds: float,
                         first_run: datetime | None = None) -> None:
        """Run ``func`` every ``seconds`` on this scheduler (e.g. the storage cleanup job)."""
        if job_id.startswith(_JOB_PREFIX):
            raise ValueError(f"job ids starting with {_JOB_PREFIX!r} are reserved")
        kw: dict[str, Any] = {}
        if first_run is not None:
            kw["next_run_time"] = first_run
        self.scheduler.add_job(func, "interval", seconds=seconds, id=job_id, replace_existing=True,
                               coalesce=True, max_instances=1, misfire_grace_time=None, **kw)

    def remove_job(self, job_id: str) -> bool:
        try:
            self.scheduler.remove_job(job_id)
            return True
        except JobLookupError:
            return False

    # ------------------------------------------------------------------ lifecycle

    def start(self, now: datetime | None = None, *, run_jobs: bool = True) -> ScheduleService:
        """Install every schedule's jobs, start the scheduler (paused when ``run_jobs`` is false:
        tests then drive time with :meth:`tick`) and catch up on open windows (module rules).
        The catch-up actions are kept in ``startup_actions``."""
        with self._lock:
            self.sync()
            if not self.scheduler.running:
                self.scheduler.start(paused=not run_jobs)
            now = now or self.clock()
            self._last_tick = now
            self.startup_actions = self.reconcile(now)
        return self

    @property
    def running(self) -> bool:
        return bool(self.scheduler.running)

    def shutdown(self, wait: bool = False) -> None:
        """Stop the scheduler (its own) or remove this service's jobs (a shared one). Recordings keep going."""
        with self._lock:
            if self._own_scheduler:
                if self.scheduler.running:
                    self.scheduler.shutdown(wait=wait)
            else:
                for job in list(self.scheduler.get_jobs()):
                    if job.id.startswith(_JOB_PREFIX):
                        self.scheduler.remove_job(job.id)

    # ------------------------------------------------------------------ time

    def tick(self, now: datetime) -> list[dict[str, Any]]:
        """Fire, in order, every schedule trigger due in (previous tick, ``now``] — as the
        scheduler would have — with the trigger's own time as "now". Returns the actions."""
        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        with self._lock:
            now = now.astimezone(UTC)  # compare instants, never wall clocks
            since = (self._last_tick or now).astimezone(UTC)
            due: list[tuple[datetime, int, int, str]] = []
            for job in self.scheduler.get_jobs():
                if not job.id.startswith(_JOB_PREFIX):
                    continue
                sid, action = job.args
                t = job.trigger.get_next_fire_time(None, since + _EPS)
                while t is not None and t.astimezone(UTC) <= now:
                    t_u = t.astimezone(UTC)
                    due.append((t_u, 0 if action == "stop" else 1, sid, action))
                    # "after" in UTC: from a repeated autumn time (fold=1) in the zone itself,
                    # CronTrigger would return that same time again, forever
                    t = job.trigger.get_next_fire_time(t, t_u + _EPS)
                    if t is not None and t.astimezone(UTC) <= t_u:
                        t = job.trigger.get_next_fire_time(t, t_u + timedelta(seconds=1))
            due.sort()
            actions = [self.fire(sid, action, now=t) for t, _, sid, action in due]
            self._last_tick = max(now, since)
            return actions

    def fire(self, schedule_id: int, action: str, now: datetime | None = None) -> dict[str, Any]:
        """What a trigger does (``action`` "start" or "stop") at ``now``; returns the action taken."""
        if action not in ("start", "stop"):
            raise ValueError(f"unknown action {action!r}")
        now = now or self.clock()
        with self._lock:
            with self.db.session() as s:
                row = s.get(RecordingSchedule, schedule_id)
                if row is None:
                    self._remove_jobs(schedule_id)
                    return self._act("none", schedule_id, None, now, "the schedule no longer exists")
                if not row.enabled:
                    return self._act("none", schedule_id, row.camera_id, now, "the schedule is disabled")
                sched = {"id": row.id, "camera_id": row.camera_id, "name": row.name}
                inside, _, _ = window_state(row, now)
            if action == "start":
                if not inside:
                    return self._act("none", schedule_id, sched["camera_id"], now,
                                     "late start trigger: the window has closed")
                return self._start(sched, now, "trigger")
            return self._stop_if_due(sched["camera_id"], now, sched, "trigger")

    def reconcile(self, now: datetime | None = None, *, camera_id: int | None = None) -> list[dict[str, Any]]:
        """Bring each camera with schedules (or with a scheduled recording running) to the state its
        enabled schedules ask for at ``now`` — start inside an open window (within
        ``catchup_grace``), stop a scheduled recording outside every window. Returns the actions."""
        now = now or self.clock()
        with self._lock:
            with self.db.session() as s:
                q = select(RecordingSchedule.camera_id).distinct()
                cams = set(s.scalars(q))
                cams |= set(s.scalars(select(Recording.camera_id).where(
                    Recording.status == "recording", Recording.scheduled.is_(True)).distinct()))
            if camera_id is not None:
                cams = {camera_id}
            return [a for cam in sorted(cams) for a in self._reconcile_camera(cam, now)]

    def _apply_now(self, cameras: list[int]) -> None:
        if not self.running:
            return  # not started yet: start() catches up
        for cam in cameras:
            self._reconcile_camera(cam, self.clock())

    def _reconcile_camera(self, camera_id: int, now: datetime) -> list[dict[str, Any]]:
        with self.db.session() as s:
            rows = list(s.scalars(select(RecordingSchedule).where(
                RecordingSchedule.camera_id == camera_id, RecordingSchedule.enabled.is_(True))
                .order_by(RecordingSchedule.id)))
            open_windows = []
            for r in rows:
                inside, ws, _ = window_state(r, now)
                if inside:
                    open_windows.append((ws.astimezone(UTC), r.id, {"id": r.id, "camera_id": r.camera_id, "name": r.name}))
        if not open_windows:
            return [self._stop_if_due(camera_id, now, None, "catch-up")]
        open_windows.sort(key=lambda w: (w[0], w[1]))
        ws, _, sched = open_windows[0]
        if self.catchup_grace is not None and now.astimezone(UTC) - ws.astimezone(UTC) > self.catchup_grace:
            return [self._act("none", sched["id"], camera_id, now,
                              f"window opened at {ws.isoformat()}, more than the catch-up grace ago")]
        return [self._start(sched, now, "catch-up")]


__all__ = ["ScheduleService"]
