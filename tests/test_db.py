"""Database layer: engines, UTC timestamps, migrations and camera repository, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, time, timedelta, timezone
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, select, text
from sqlalchemy.exc import IntegrityError

from thermalstream.config import Settings
from thermalstream.db import (
    Camera,
    Database,
    Detection,
    Event,
    Recording,
    RecordingSchedule,
    RecordingSegment,
    User,
    current_revision,
    downgrade,
    head_revision,
    make_engine,
    metadata,
    repo,
    upgrade,
)
from thermalstream.sources.url import CameraURLError

# --- engines --------------------------------------------------------------------------------


def test_sqlite_engine_pragmas_and_threads(tmp_path):
    path = tmp_path / "a" / "b" / "x.db"
    engine = make_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 1000
        assert path.exists()
        # a pooled connection may be used from another thread
        conn = engine.connect()
        out: list[object] = []
        t = threading.Thread(target=lambda: out.append(conn.exec_driver_sql("select 1").scalar()))
        t.start()
        t.join()
        conn.close()
        assert out == [1]
    finally:
        engine.dispose()


def test_sqlite_memory_database_is_shared():
    db = Database("sqlite://")
    db.upgrade()
    with db.session() as s:
        repo.add_camera(s, "mem", "sim://")
    with db.session() as s:
        assert [c.name for c in repo.list_cameras(s)] == ["mem"]
    db.dispose()


@pytest.mark.postgres
def test_postgres_engine_pre_ping(pg_url):
    engine = make_engine(pg_url)
    try:
        assert engine.pool._pre_ping
        with engine.connect() as conn:
            assert conn.execute(text("select current_schema()")).scalar().startswith("ts_test_")
    finally:
        engine.dispose()


def test_database_create_from_settings_and_independent_instances(tmp_path):
    a = Database.create(Settings(data_dir=tmp_path / "a"))
    b = Database.create(Settings(data_dir=tmp_path / "b"))
    try:
        assert (tmp_path / "a" / "thermalstream.db").exists()
        with a.session() as s:
            repo.add_camera(s, "only-in-a", "sim://")
        with b.session() as s:
            assert repo.list_cameras(s) == []
        with a.session() as s:
            assert [c.name for c in repo.list_cameras(s)] == ["only-in-a"]
        assert current_revision(a.engine) == head_revision()
    finally:
        a.dispose()
        b.dispose()


def test_session_rolls_back_on_error(db):
    with pytest.raises(RuntimeError):
        with db.session() as s:
            repo.add_camera(s, "gone", "sim://")
            raise RuntimeError("boom")
    with db.session() as s:
        assert repo.list_cameras(s) == []


# --- UTC timestamps -------------------------------------------------------------------------


def test_utc_round_trip(db):
    plus5 = timezone(timedelta(hours=5))
    local = datetime(2024, 3, 1, 17, 30, 15, 123456, tzinfo=plus5)
    naive = datetime(2024, 3, 1, 12, 0, 0)
    with db.session() as s:
        u = User(username="ann", role="viewer", last_login_at=local, locked_until=naive)
        s.add(u)
        s.flush()
        uid = u.id
    with db.session() as s:
        u = s.get(User, uid)
        assert u.last_login_at.tzinfo is not None and u.last_login_at.utcoffset() == timedelta(0)
        assert u.last_login_at == local
        assert u.last_login_at.hour == 12  # 17:30 at +05:00 is 12:30 UTC
        assert u.locked_until == naive.replace(tzinfo=UTC)  # naive means UTC
        assert u.created_at.tzinfo is not None and u.created_at.utcoffset() == timedelta(0)
        assert abs(datetime.now(UTC) - u.created_at) < timedelta(minutes=1)
        # comparisons in queries use UTC too
        if db.dialect == "sqlite":  # stored as naive UTC text
            raw = s.execute(text("select last_login_at from users")).scalar()
            assert str(raw).startswith("2024-03-01 12:30:15.123456")
        found = s.scalars(select(User).where(User.last_login_at > datetime(2024, 3, 1, 12, 29, tzinfo=UTC))).all()
        assert [x.id for x in found] == [uid]


def test_time_and_schedule_columns(db):
    with db.session() as s:
        cam = repo.add_camera(s, "c", "sim://")
        sched = RecordingSchedule(camera_id=cam.id, name="nights", days_of_week="mon,fri",
                                  start_time=time(22, 0), stop_time=time(6, 30), timezone="Europe/Berlin")
        s.add(sched)
        s.flush()
        sid = sched.id
    with db.session() as s:
        sched = s.get(RecordingSchedule, sid)
        assert (sched.start_time, sched.stop_time) == (time(22, 0), time(6, 30))
        assert sched.enabled is True and sched.created_at.tzinfo is not None


# --- cameras --------------------------------------------------------------------------------


def test_camera_crud_and_masking(db):
    url = "rtsp://admin:s3cret@10.0.0.5:554/stream?token=abc&channel=1"
    with db.session() as s:
        cam = repo.add_camera(s, "gate", url, settings={"palette": "ironbow", "span": [20, 40]})
        cid = cam.id
        assert cam.kind == "rtsp" and cam.status == "stopped" and cam.enabled
        assert "s3cret" not in repr(cam)
    with db.session() as s:
        cam = repo.get_camera(s, cid)
        assert cam.url == url  # stored in full for the capture worker
        assert cam.settings == {"palette": "ironbow", "span": [20, 40]}
        pub = repo.public_dict(cam)
        assert "s3cret" not in str(pub) and "abc" not in str(pub)
        assert pub["url"] == "rtsp://admin:***@10.0.0.5:554/stream?token=***&channel=1"
        assert pub["created_at"].endswith("+00:00")

        repo.add_camera(s, "yard", "sim://?people=2", enabled=False, worker_id="w1")
        assert [c.name for c in repo.list_cameras(s)] == ["gate", "yard"]
        assert [c.name for c in repo.list_cameras(s, enabled=True)] == ["gate"]
        assert [c.name for c in repo.list_cameras(s, worker_id="w1")] == ["yard"]

        before = cam.updated_at
        repo.update_camera(s, cid, name="front gate", settings={"palette": "gray"}, url="sim://")
    with db.session() as s:
        cam = repo.get_camera(s, cid)
        assert (cam.name, cam.kind, cam.settings) == ("front gate", "sim", {"palette": "gray"})
        assert cam.updated_at >= before
        with pytest.raises(ValueError):
            repo.update_camera(s, cid, status="live")  # status has its own function
        assert repo.update_camera(s, 9999, name="x") is None

        seen = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
        repo.update_camera_status(s, cid, "live", seen_at=seen)
        repo.update_camera_status(s, cid, "reconnecting", "timeout reading frame")
        with pytest.raises(ValueError):
            repo.update_camera_status(s, cid, "sleeping")
        assert repo.update_camera_status(s, 9999, "live") is None
    with db.session() as s:
        cam = repo.get_camera(s, cid)
        assert (cam.status, cam.status_reason, cam.last_seen_at) == ("reconnecting", "timeout reading frame", seen)
        assert repo.delete_camera(s, cid) is True
        assert repo.delete_camera(s, cid) is False
    with db.session() as s:
        assert repo.get_camera(s, cid) is None
        assert [c.name for c in repo.list_cameras(s)] == ["yard"]


def test_add_camera_rejects_bad_url(db):
    with db.session() as s:
        with pytest.raises(CameraURLError):
            repo.add_camera(s, "bad", "ftp://x/y")


def test_deleting_camera_cascades(db):
    now = datetime.now(UTC)
    with db.session() as s:
        cam = repo.add_camera(s, "c", "sim://")
        ev = Event(camera_id=cam.id, label="person", started_at=now, zones=["door"])
        s.add(ev)
        s.flush()
        s.add(Detection(camera_id=cam.id, event_id=ev.id, label="person", confidence=0.9,
                        x1=1, y1=2, x2=3, y2=4, timestamp=now, max_celsius=36.6))
        rec = Recording(camera_id=cam.id, path="c/2024/x", event_id=ev.id)
        s.add(rec)
        s.flush()
        s.add(RecordingSegment(recording_id=rec.id, path="c/2024/x/0.mp4", started_at=now))
        cid = cam.id
    with db.session() as s:
        assert s.scalars(select(Event)).one().zones == ["door"]
        # delete with a bulk statement so the database's ON DELETE rules do the work
        s.execute(Camera.__table__.delete().where(Camera.id == cid))
    with db.session() as s:
        for model in (Event, Detection, Recording, RecordingSegment):
            assert s.scalars(select(model)).all() == [], model


def test_check_constraints(db):
    with pytest.raises(IntegrityError):
        with db.session() as s:
            s.add(User(username="x", role="superuser"))
    with pytest.raises(IntegrityError):
        with db.session() as s:
            s.add_all([User(username="dup"), User(username="dup")])
            s.flush()


# --- migrations -----------------------------------------------------------------------------


MIGRATIONS = Path(__file__).resolve().parents[1] / "thermalstream" / "db" / "migrations" / "versions"


def test_migration_matches_models(db_url):
    upgrade(db_url)
    newest = max(f.name[:4] for f in MIGRATIONS.glob("[0-9][0-9][0-9][0-9]_*.py"))
    assert current_revision(db_url) == head_revision() == newest
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True})
            diff = compare_metadata(ctx, metadata)
            assert diff == [], diff
            tables = set(inspect(conn).get_table_names())
        assert tables == set(metadata.tables) | {"alembic_version"}
    finally:
        engine.dispose()


def test_schema_comparison_sees_differences(db):
    """Guard against a vacuous comparison: a schema that differs must be reported."""
    with db.engine.begin() as conn:
        conn.execute(text("DROP INDEX ix_recordings_status"))
        conn.execute(text("ALTER TABLE cameras ADD COLUMN extra INTEGER"))
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata)
    kinds = {d[0] for d in diff if isinstance(d, tuple)}
    assert {"add_index", "remove_column"} <= kinds, diff


def test_upgrade_is_idempotent_and_downgrade_to_base(db_url):
    upgrade(db_url)
    upgrade(db_url)  # already at head: nothing to do
    downgrade(db_url, "base")
    assert current_revision(db_url) is None
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            assert set(inspect(conn).get_table_names()) <= {"alembic_version"}
    finally:
        engine.dispose()
    upgrade(db_url)  # and back up again
    assert current_revision(db_url) == head_revision()
