"""RecordingService on SQLite and PostgreSQL with real cameras: sessions, rows, conflicts,
notifications, listing; crash (kill -9) then reconcile; disk full on a small filesystem;
missing files, orphans and paths outside the recordings folder."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
import types
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.conftest import tmpfs, wait_for
from thermalstream.bus import EventBus
from thermalstream.capture import CameraManager
from thermalstream.config import Settings
from thermalstream.db import Database, repo
from thermalstream.db.models import Recording, RecordingSegment
from thermalstream.notifications import NotificationService
from thermalstream.record.radiometric import read_radiometric
from thermalstream.record.service import RecordingConfig, RecordingConflict, RecordingService, StorageFull
from thermalstream.record.video import VideoOptions, probe_segment

SIM = "sim://?fps=25&width=160&height=128&seed={}"


def _config(**kw) -> RecordingConfig:
    kw.setdefault("segment_seconds", 1.0)
    kw.setdefault("reserve_bytes", 0)
    kw.setdefault("video", VideoOptions(preset="ultrafast"))
    return RecordingConfig(**kw)


class Stack:
    def __init__(self, db: Database, settings, config: RecordingConfig | None = None):
        self.db = db
        self.bus = EventBus()
        self.manager = CameraManager(self.bus)
        self.notes = NotificationService(db, self.bus)
        self.settings = settings
        self.svc = RecordingService(db, self.manager, self.notes, settings, config=config or _config())

    def camera(self, url: str, connect: bool = True) -> int:
        with self.db.session() as s:
            cid = repo.add_camera(s, f"cam {url[-1]}", url).id
        if connect:
            self.manager.add(cid, url, f"cam {cid}").read()
        return cid

    def titles(self) -> list[str]:
        return [n["title"] for n in self.notes.list(None, limit=100)]

    def close(self) -> None:
        self.svc.shutdown()
        self.manager.stop_all()


@pytest.fixture
def stack(db, tmp_path):
    st = Stack(db, Settings(data_dir=tmp_path / "data"))
    yield st
    st.close()


def test_record_two_cameras_at_once(stack):
    svc = stack.svc
    a, b = stack.camera(SIM.format(1)), stack.camera(SIM.format(2))
    ra = svc.start(a)
    rb = svc.start(b, scheduled=True)
    assert ra["status"] == "recording" and ra["camera_id"] == a and ra["ended_at"] is None
    assert rb["scheduled"] is True and not ra["scheduled"]
    assert not Path(ra["path"]).is_absolute() and ra["path"].startswith(f"cam{a}/")
    with pytest.raises(RecordingConflict, match="already recording"):
        svc.start(a)
    assert {r["id"] for r in svc.active()} == {ra["id"], rb["id"]}
    wait_for(lambda: all(r["segments"] >= 1 for r in svc.active()), timeout=20, what="a segment on each camera")

    done_a = svc.stop(a)
    assert svc.is_recording(b) and not svc.is_recording(a)
    done_b = svc.stop(b)
    for done in (done_a, done_b):
        assert done["status"] == "completed" and done["error"] is None
        assert done["ended_at"] is not None and done["frames"] > 25 and done["segments"] >= 2
        assert done["duration_s"] == pytest.approx(done["frames"] / 25, abs=0.1)
        assert done["dropped_frames"] == 0
        root = stack.settings.recordings_dir
        files = [root / p for p in done["segment_paths"]]
        assert len(files) == done["segments"] and done["media_path"] == done["segment_paths"][0]
        size = sum(f.stat().st_size + f.with_suffix(".h5").stat().st_size for f in files)
        assert done["size_bytes"] == size
        assert sum(probe_segment(f).frames for f in files) == done["frames"]
        assert sum(s["frames"] for s in done["segment_list"]) == done["frames"]
    assert svc.active() == []
    with pytest.raises(RecordingConflict, match="not recording"):
        svc.stop(a)
    titles = stack.titles()
    assert titles.count("Recording started") == 2 and titles.count("Recording stopped") == 2

    # listing and filters
    assert {r["id"] for r in svc.list()} == {ra["id"], rb["id"]}
    assert [r["id"] for r in svc.list(camera_id=b)] == [rb["id"]]
    later = datetime.now(UTC) + timedelta(minutes=5)
    assert svc.list(since=later) == []
    assert svc.list(until=datetime.now(UTC) - timedelta(hours=1)) == []
    assert len(svc.list(since=datetime.now(UTC) - timedelta(hours=1), until=later)) == 2
    with stack.db.session() as s:
        assert s.scalar(select(Recording).where(Recording.id == ra["id"])).segments == done_a["segments"]
        assert len(list(s.scalars(select(RecordingSegment)))) == done_a["segments"] + done_b["segments"]


def test_refusals_are_conflicts(stack):
    svc = stack.svc
    saved_only = stack.camera(SIM.format(3), connect=False)
    with pytest.raises(RecordingConflict, match="not connected"):
        svc.start(saved_only)
    with pytest.raises(RecordingConflict, match="not connected"):
        svc.start(999)
    stack.manager.add(77, SIM.format(4)).read()  # running but never saved: no row can point at it
    with pytest.raises(RecordingConflict, match="not saved"):
        svc.start(77)
    with stack.db.session() as s:
        assert list(s.scalars(select(Recording))) == []


def test_camera_removed_while_recording_finishes_the_recording(stack):
    cid = stack.camera(SIM.format(5))
    rec = stack.svc.start(cid)
    wait_for(lambda: stack.svc.active()[0]["frames"] > 10, what="frames")
    stack.manager.remove(cid)
    stack.bus.publish("camera.removed", {"camera_id": cid})
    row = stack.svc.get(rec["id"])
    assert row["status"] == "completed" and row["segments"] >= 1 and not stack.svc.is_recording(cid)


def test_reconcile_marks_missing_indexes_orphans_and_stays_inside_the_root(stack, tmp_path):
    svc = stack.svc
    cid = stack.camera(SIM.format(6))
    gone = svc.start(cid)
    wait_for(lambda: svc.active()[0]["segments"] >= 1, what="a segment")
    svc.stop(cid)
    kept = svc.start(cid)
    wait_for(lambda: svc.active()[0]["segments"] >= 1, what="a segment")
    kept = svc.stop(cid)
    root = stack.settings.recordings_dir
    # an orphan: a copy of a recording folder no row points at, under the camera's folder
    orphan = root / f"cam{cid}" / "20200101T000000Z_copied"
    shutil.copytree(root / kept["path"], orphan)
    (root / "stray.mp4").write_bytes(b"not a video")
    outside = tmp_path / "outside.mp4"
    outside.write_bytes(b"precious")
    shutil.rmtree(root / gone["path"])

    report = svc.reconcile()
    assert report["missing"] == [gone["id"]]
    assert svc.get(gone["id"])["status"] == "missing"
    assert svc.get(kept["id"])["status"] == "completed"
    assert sorted(report["orphans"]) == [".", f"cam{cid}/20200101T000000Z_copied"]
    assert len(report["indexed"]) == 1
    idx = svc.get(report["indexed"][0])
    assert idx["status"] == "completed" and idx["frames"] == kept["frames"] and idx["segments"] == kept["segments"]
    assert idx["path"] == f"cam{cid}/20200101T000000Z_copied"
    assert svc.reconcile()["orphans"] == ["."]  # indexed once; the stray file is only reported
    assert outside.read_bytes() == b"precious" and (root / "stray.mp4").exists()
    for bad in ("../outside.mp4", "/etc/passwd", f"cam{cid}/../../outside.mp4"):
        with pytest.raises(ValueError):
            svc.resolve(bad)


# --------------------------------------------------------------------------------- crash

CRASH_SCRIPT = textwrap.dedent("""
    import json, sys, time
    from thermalstream.bus import EventBus
    from thermalstream.capture import CameraManager
    from thermalstream.config import Settings
    from thermalstream.db import Database, repo
    from thermalstream.notifications import NotificationService
    from thermalstream.record import RecordingConfig, RecordingService, VideoOptions

    db_url, data_dir = sys.argv[1], sys.argv[2]
    db = Database(db_url)
    db.upgrade()
    bus = EventBus()
    manager = CameraManager(bus)
    url = "sim://?fps=25&width=160&height=128&seed=9"
    with db.session() as s:
        cid = repo.add_camera(s, "crash", url).id
    manager.add(cid, url, "crash").read()
    svc = RecordingService(db, manager, NotificationService(db, bus), Settings(data_dir=data_dir),
                           config=RecordingConfig(segment_seconds=2.0, reserve_bytes=0,
                                                  video=VideoOptions(preset="ultrafast", keyint_s=0.5)))
    row = svc.start(cid)
    print(json.dumps({"id": row["id"], "camera_id": cid}), flush=True)
    time.sleep(120)
""")


def test_kill_9_mid_recording_then_reconcile(tmp_path):
    db_url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    data_dir = tmp_path / "data"
    proc = subprocess.Popen([sys.executable, "-c", CRASH_SCRIPT, db_url, str(data_dir)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        first = json.loads(proc.stdout.readline() or "{}")
        assert "id" in first, proc.stderr.read() if proc.poll() is not None else "no output"
        db = Database(db_url)

        def closed_segments() -> int:
            with db.session() as s:
                return len(list(s.scalars(select(RecordingSegment))))

        wait_for(lambda: closed_segments() >= 2, timeout=30, what="two closed segments in the crashing process")
        time.sleep(1.2)  # into the open segment: past two 0.5 s fragments
    finally:
        proc.kill()  # SIGKILL: no cleanup of any kind
        proc.wait(10)
        killed_at = time.time()
    assert proc.returncode == -9

    settings = Settings(data_dir=data_dir)
    with db.session() as s:
        row = s.get(Recording, first["id"])
        assert row.status == "recording"
        started = row.started_at.timestamp()
    st = Stack(db, settings)  # a "restarted server": no cameras yet
    try:
        report = st.svc.reconcile()
        assert report["closed"] == [first["id"]] and report["missing"] == []
        rec = st.svc.get(first["id"])
    finally:
        st.close()
        db.dispose()
    assert rec["status"] == "completed" and rec["ended_at"] is not None
    assert "unclean shutdown" in rec["error"]
    files = sorted((settings.recordings_dir / rec["path"]).glob("seg*.mp4"))
    assert [settings.recordings_dir / p for p in rec["segment_paths"]] == files
    assert len(files) == rec["segments"] >= 2
    total = 0
    for f in files:
        p = probe_segment(f)
        assert p.ok and p.codec == "h264"
        total += p.frames
        read_radiometric(f.with_suffix(".h5"))  # the radiometric file beside it opens too
    assert total == rec["frames"]
    lost = (killed_at - started) - rec["duration_s"]
    assert lost <= 2.0 + 0.5, f"lost {lost:.2f} s, more than one 2 s segment"
    assert datetime.fromisoformat(rec["ended_at"]).timestamp() <= killed_at


# --------------------------------------------------------------------------------- disk full


@pytest.fixture
def small_fs(tmp_path):
    """A 3 MB tmpfs of the test's own (root only); skipped where mounting is not allowed."""
    with tmpfs(tmp_path / "small", "3m") as mnt:
        yield mnt


@pytest.mark.parametrize("reserve", [0, 1_000_000], ids=["enospc", "reserve"])
def test_disk_full_stops_cleanly_keeps_segments_and_notifies(tmp_path, small_fs, reserve):
    """enospc: video only, no reserve and no floor, so the MP4 muxer itself meets ENOSPC;
    reserve: radiometric too, stopped by the free-space reserve before the disk is full (HDF5
    must never meet ENOSPC: closing such a file segfaults)."""
    db = Database(f"sqlite:///{tmp_path / 'db.sqlite'}")
    db.upgrade()
    settings = types.SimpleNamespace(recordings_dir=small_fs / "recordings")
    cfg = _config(segment_seconds=0.5, reserve_bytes=reserve, disk_check_s=0.1)
    if not reserve:
        cfg.radiometric, cfg.min_free_bytes = False, 0
        cfg.video = VideoOptions(preset="ultrafast", crf=4)  # big frames: fills 3 MB in about a second
    st = Stack(db, settings, cfg)
    try:
        cid = st.camera("sim://?fps=50&width=320&height=256&pace=1&seed=8" if not reserve
                        else "sim://?fps=50&width=160&height=128&pace=1&seed=8")
        rec = st.svc.start(cid)
        wait_for(lambda: not st.svc.is_recording(cid), timeout=30, what="the recording to stop on a full disk")
        row = st.svc.get(rec["id"])
        assert row["status"] == "failed" and row["error"].startswith("disk full")
        assert row["segments"] >= 1
        for p in row["segment_paths"]:
            f = settings.recordings_dir / p
            assert probe_segment(f).ok
            if reserve:
                read_radiometric(f.with_suffix(".h5"))
        on_disk = sorted(settings.recordings_dir.rglob("seg*.mp4"))
        assert on_disk == sorted(settings.recordings_dir / p for p in row["segment_paths"])  # nothing half-written left
        assert "Recording stopped: disk full" in st.titles()
        if reserve:
            assert shutil.disk_usage(small_fs).free >= reserve * 0.5  # stopped near the reserve, not at 0
        # refused at start while the disk is still full
        if reserve:
            with pytest.raises(StorageFull, match="disk full"):
                st.svc.start(cid)
            assert "Recording refused: disk full" in st.titles()
        assert os.listdir(small_fs) == ["recordings"]
    finally:
        st.close()
        db.dispose()
