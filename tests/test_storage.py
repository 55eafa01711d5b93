"""Storage: usage walk, disk helpers, path safety, retention planning (pure) and cleanup (both databases),
the cleanup job and usage samples."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from thermalstream.db import Recording, RecordingSegment, repo
from thermalstream.storage import (
    GB,
    CleanupJob,
    RetentionPolicy,
    SegmentInfo,
    StoragePathError,
    apply_cleanup,
    collect_segments,
    dir_usage,
    has_room,
    list_samples,
    plan_cleanup,
    prune_samples,
    safe_file_to_delete,
    safe_path,
    sample_storage,
    storage_roots,
    usage,
)

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def write(path: Path, size: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\0" * size)
    return path


class Notes:
    def __init__(self):
        self.sent: list[tuple[str, str, str, dict]] = []

    def notify(self, type, title, message="", user_id=None, data=None):
        self.sent.append((type, title, message, data or {}))
        return {}


# --- usage -----------------------------------------------------------------------------------


def test_usage_per_category_and_camera_without_following_links(tmp_path):
    data = tmp_path / "data"
    write(data / "recordings" / "1" / "a" / "s1.mp4", 1000)
    write(data / "recordings" / "1" / "a" / "s2.mp4", 500)
    write(data / "recordings" / "cam2" / "s1.mp4", 300)  # RecordingService layout
    write(data / "recordings" / "orphan.bin", 7)
    write(data / "screenshots" / "2" / "x.jpg", 40)
    write(data / "detections" / "d.jpg", 11)
    outside = write(tmp_path / "elsewhere" / "big.bin", 10_000)
    os.symlink(outside, data / "recordings" / "1" / "link.bin")
    os.symlink(outside.parent, data / "recordings" / "3")

    u = usage(data)
    rec = u["categories"]["recordings"]
    assert rec["bytes"] == 1807 and rec["files"] == 4
    assert rec["by_camera"] == {"1": {"bytes": 1500, "files": 2}, "2": {"bytes": 300, "files": 1}}
    assert u["categories"]["thumbnails"] == {"path": str(data / "thumbnails"), "bytes": 0, "files": 0, "by_camera": {}}
    assert u["cameras"] == {"1": {"bytes": 1500, "files": 2}, "2": {"bytes": 340, "files": 2}}
    assert u["total"] == {"bytes": 1858, "files": 6}
    assert u["disk"]["total"] >= u["disk"]["free"] > 0
    assert dir_usage(tmp_path / "nope").bytes == 0


def test_storage_roots_from_settings(tmp_path):
    from thermalstream.config import Settings

    roots = storage_roots(Settings(data_dir=tmp_path))
    assert roots["recordings"] == tmp_path / "recordings" and roots["thumbnails"] == tmp_path / "thumbnails"


def test_has_room_uses_reserve_and_needed_bytes(tmp_path):
    assert has_room(tmp_path, 100, free_fn=lambda p: 1000)
    assert has_room(tmp_path, 900, 100, free_fn=lambda p: 1000)
    assert not has_room(tmp_path, 901, 100, free_fn=lambda p: 1000)
    assert has_room(tmp_path / "not" / "yet", 0)  # nearest existing parent is measured


# --- path safety -----------------------------------------------------------------------------


def test_safe_path_refuses_traversal_absolute_and_escaping_links(tmp_path):
    root = tmp_path / "rec"
    write(root / "1" / "ok.mp4", 1)
    secret = write(tmp_path / "secret.txt", 5)
    assert safe_path(root, "1/ok.mp4") == (root / "1" / "ok.mp4").resolve()
    for bad in ("../secret.txt", "1/../../secret.txt", str(secret), "", ".", "1/.."):
        with pytest.raises(StoragePathError):
            safe_path(root, bad)
    os.symlink(secret, root / "1" / "escape.mp4")
    os.symlink(tmp_path, root / "dirlink")
    with pytest.raises(StoragePathError):
        safe_path(root, "1/escape.mp4")
    with pytest.raises(StoragePathError):
        safe_path(root, "dirlink/secret.txt")
    # a link that stays inside the root is still never deleted (its target may be another segment)
    os.symlink(root / "1" / "ok.mp4", root / "1" / "inner.mp4")
    with pytest.raises(StoragePathError, match="symbolic link"):
        safe_file_to_delete(root, "1/inner.mp4")
    with pytest.raises(StoragePathError, match="regular file"):
        safe_file_to_delete(root, "1")
    assert safe_file_to_delete(root, "1/gone.mp4") is None
    assert secret.exists()


# --- policy ----------------------------------------------------------------------------------


def test_policy_validation_and_sources():
    p = RetentionPolicy.from_mapping({"retention_max_age_days": "30", "max_total_gb": 2, "other": 1})
    assert (p.max_age_days, p.max_total_gb, p.min_free_gb) == (30.0, 2.0, None)
    assert p.max_total_bytes == 2 * GB and p.active
    assert not RetentionPolicy().active
    assert RetentionPolicy(min_free_gb=0).min_free_bytes == 0

    class S:
        retention_max_age_days = 7
        retention_min_free_gb = 1.5

    assert RetentionPolicy.from_settings(S()).to_dict()["min_free_gb"] == 1.5
    for bad in ({"max_age_days": -1}, {"max_age_days": 0}, {"max_total_gb": "lots"}, {"min_free_gb": -0.1},
                {"brake_fraction": 0}, {"max_total_gb": float("nan")}):
        with pytest.raises(ValueError):
            RetentionPolicy(**bad)


# --- planning (pure) -------------------------------------------------------------------------


def seg(i, hours_ago, size=100, *, rec=None, cam=1, protected=False, open=False, ended=True):
    start = NOW - timedelta(hours=hours_ago)
    return SegmentInfo(i, rec if rec is not None else i, cam, f"{cam}/{i}.mp4", start,
                       start + timedelta(seconds=10) if ended else None, size, protected, open)


def ids(plan):
    return [s.id for s in plan.delete]


def test_plan_total_deletes_oldest_first_across_cameras_and_keeps_protected_and_open():
    segs = [seg(1, 50, cam=2), seg(2, 60, protected=True), seg(3, 40), seg(4, 30, cam=2), seg(5, 70, open=True),
            seg(6, 20)]
    plan = plan_cleanup(segs, RetentionPolicy(max_total_gb=350 / GB), now=NOW)
    assert ids(plan) == [1, 3, 4]  # 600 -> 300 bytes; 5 (open) and 2 (protected) are older but kept
    assert {plan.reasons[i] for i in ids(plan)} == {"total"}
    assert plan.unsatisfied == {} and plan.eligible == 4
    active = [seg(1, 50, rec=7), seg(2, 40, rec=7, open=True)]
    active = [SegmentInfo(**{**s.__dict__, "active": True}) for s in active]
    assert ids(plan_cleanup(active, RetentionPolicy(max_total_gb=150 / GB), now=NOW)) == [1]
    assert ids(plan_cleanup(active, RetentionPolicy(max_total_gb=150 / GB, trim_active=False), now=NOW)) == []


def test_plan_age_limit():
    segs = [seg(1, 24 * 10), seg(2, 24 * 8, protected=True), seg(3, 24 * 3), seg(4, 24 * 6 + 23)]
    plan = plan_cleanup(segs, RetentionPolicy(max_age_days=7, brake_min_files=0, brake_fraction=1), now=NOW)
    assert ids(plan) == [1]
    # a segment still open counts by its start
    plan = plan_cleanup([seg(9, 24 * 9, ended=False)], RetentionPolicy(max_age_days=7), now=NOW)
    assert ids(plan) == [9]


def test_plan_reserve_uses_free_space_input():
    segs = [seg(i, 100 - i, size=1000) for i in range(1, 6)]
    pol = RetentionPolicy(min_free_gb=5000 / GB)
    assert ids(plan_cleanup(segs, pol, now=NOW, free_bytes=5000)) == []
    assert ids(plan_cleanup(segs, pol, now=NOW, free_bytes=2500)) == [1, 2, 3]
    assert ids(plan_cleanup(segs, pol, now=NOW, free_bytes=None)) == []  # unknown free space: limit skipped


def test_plan_limits_combine_and_count_what_age_freed():
    segs = [seg(i, 24 * 30 - i, size=1000) for i in range(1, 11)]  # ids 1..10, 1 oldest
    pol = RetentionPolicy(max_age_days=29.85, max_total_gb=7000 / GB, min_free_gb=2500 / GB)
    plan = plan_cleanup(segs, pol, now=NOW, free_bytes=0)
    # age: 1..3 (older than 29.85 days); total 10000 -> needs 3000 freed: already; reserve: needs 2500 -> done
    assert [plan.reasons[i] for i in ids(plan)] == ["age", "age", "age"]
    plan = plan_cleanup(segs, pol, now=NOW, free_bytes=-2000)  # reserve needs 4500: two more
    assert ids(plan) == [1, 2, 3, 4, 5] and plan.reasons[5] == "reserve"


def test_brake_holds_back_age_deletions_but_not_satisfiable_limits():
    segs = [seg(i, 24 * 400 - i, size=10) for i in range(1, 101)]  # everything "too old" (clock jump)
    plan = plan_cleanup(segs, RetentionPolicy(max_age_days=1), now=NOW)
    assert len(plan.delete) == 50 and plan.braked == 50 and "max_age_days" in plan.unsatisfied
    assert ids(plan) == list(range(1, 51))  # the oldest half
    # a size limit that deleting can meet is obeyed past the brake
    plan = plan_cleanup(segs, RetentionPolicy(max_total_gb=150 / GB), now=NOW)
    assert len(plan.delete) == 85 and plan.unsatisfied == {}
    # small archives: at least brake_min_files may go
    plan = plan_cleanup(segs[:4], RetentionPolicy(max_age_days=1), now=NOW)
    assert len(plan.delete) == 4


def test_unmeetable_reserve_never_wipes_the_archive():
    """Deleting everything would still miss the limit (a reserve larger than a small disk):
    nothing is deleted for it, pass after pass, and the plan says why (issue 11: each pass used
    to delete the brake's share, so a few passes emptied the archive)."""
    segs = [seg(i, 100 - i, size=10) for i in range(1, 41)] + [seg(99, 200, size=10**6, protected=True)]
    plan = plan_cleanup(segs, RetentionPolicy(min_free_gb=1), now=NOW, free_bytes=1000)
    assert plan.delete == [] and plan.braked == 40
    assert "archive is kept" in plan.unsatisfied["min_free_gb"]
    plan = plan_cleanup(segs, RetentionPolicy(max_total_gb=10**5 / GB), now=NOW)
    assert plan.delete == [] and "max_total_gb" in plan.unsatisfied
    plan = plan_cleanup(segs[:3], RetentionPolicy(min_free_gb=1), now=NOW, free_bytes=1000)  # a small archive
    assert plan.delete == [] and "min_free_gb" in plan.unsatisfied


# --- applying against a real database ---------------------------------------------------------


def make_recording(db, root: Path, cam: int, start: datetime, n: int, *, size=100, status="completed",
                   protected=False, layout="{cam}/{rid}/{i:04d}.mp4"):
    with db.session() as s:
        rec = Recording(camera_id=cam, started_at=start, ended_at=start + timedelta(seconds=10 * n),
                        duration_s=10.0 * n, frames=25 * n, size_bytes=size * n, segments=n, path="tmp",
                        status=status, protected=protected)
        if status == "recording":
            rec.ended_at = rec.duration_s = None
        s.add(rec)
        s.flush()
        rec.path = f"{cam}/{rec.id}"
        for i in range(n):
            rel = layout.format(cam=cam, rid=rec.id, i=i)
            write(root / rel, size)
            seg_end = start + timedelta(seconds=10 * (i + 1))
            s.add(RecordingSegment(recording_id=rec.id, path=rel, started_at=start + timedelta(seconds=10 * i),
                                   ended_at=None if (status == "recording" and i == n - 1) else seg_end,
                                   size_bytes=size, frames=25))
        return rec.id


@pytest.fixture
def cams(db):
    with db.session() as s:
        return [repo.add_camera(s, f"c{i}", "sim://").id for i in range(2)]


def rec_row(db, rid):
    with db.session() as s:
        r = s.get(Recording, rid)
        return None if r is None else (r.segments, r.size_bytes, r.frames, r.started_at, r.duration_s, r.status)


def test_collect_segments_marks_open_and_protected(db, tmp_path, cams):
    root = tmp_path / "rec"
    t0 = NOW - timedelta(days=3)
    a = make_recording(db, root, cams[0], t0, 3, status="recording")
    b = make_recording(db, root, cams[1], t0 + timedelta(seconds=5), 2, protected=True)
    segs = collect_segments(db, root)
    assert [(s.recording_id, s.open, s.protected) for s in segs] == [
        (a, False, False), (b, False, True), (a, False, False), (b, False, True), (a, True, False)]


def test_apply_cleanup_deletes_oldest_updates_rows_and_removes_empty_recordings(db, tmp_path, cams):
    root = tmp_path / "rec"
    old = make_recording(db, root, cams[0], NOW - timedelta(days=10), 2)
    mid = make_recording(db, root, cams[1], NOW - timedelta(days=9), 3)
    keep = make_recording(db, root, cams[0], NOW - timedelta(days=20), 2, protected=True)
    live = make_recording(db, root, cams[1], NOW - timedelta(days=30), 2, status="recording")
    write(root / f"{cams[0]}/{old}/0000.h5", 50)  # radiometric companion of segment 0000
    write(root / f"{cams[0]}/{old}/0000.h5.partial", 1)  # not a companion (different stem)

    thumbs = tmp_path / "thumbnails"
    for rid in (old, mid, keep):
        write(thumbs / f"recording{rid}.jpg", 3)
    segs = collect_segments(db, root)
    plan = plan_cleanup(segs, RetentionPolicy(max_total_gb=500 / GB), now=NOW)  # 900 -> 500
    # oldest unprotected first: live's closed segment, then old's two, then mid's first
    assert [(s.recording_id) for s in plan.delete] == [live, old, old, mid]
    res = apply_cleanup(db, root, plan, thumbnails_dir=thumbs)
    assert res["deleted_segments"] == 4 and res["refused"] == [] and res["errors"] == []
    assert res["freed_bytes"] == 450 and res["files"] == 8
    assert sorted(p.name for p in thumbs.iterdir()) == [f"recording{keep}.jpg"]  # stale first frames gone
    assert res["recordings_deleted"] == [old] and res["recordings_trimmed"] == sorted([live, mid])

    assert rec_row(db, old) is None
    assert not (root / f"{cams[0]}/{old}").exists()  # its folder's leftovers (.partial) went with it
    assert (root / f"{cams[0]}").is_dir()
    segments, size, frames, started, duration, status = rec_row(db, mid)
    assert (segments, size, frames, status) == (2, 200, 50, "completed")
    assert started == NOW - timedelta(days=9) + timedelta(seconds=10) and duration == 20.0
    assert rec_row(db, keep)[0] == 2 and (root / f"{cams[0]}/{keep}/0000.mp4").exists()
    assert rec_row(db, live)[0] == 1 and rec_row(db, live)[5] == "recording"
    assert all(s.active == (s.recording_id == live) for s in collect_segments(db, root))
    assert (root / f"{cams[1]}/{live}/0001.mp4").exists()  # the open segment


def test_deleted_recording_folder_is_removed_only_when_nothing_else_uses_it(db, tmp_path, cams):
    root = tmp_path / "rec"
    rid = make_recording(db, root, cams[0], NOW - timedelta(days=10), 1)
    write(root / f"{cams[0]}/{rid}/recording.json", 10)
    # a second recording whose path is a shared folder with another recording's segments in it
    shared = make_recording(db, root, cams[1], NOW - timedelta(days=9), 1, layout="{cam}/day/{i:04d}_a.mp4")
    other = make_recording(db, root, cams[1], NOW - timedelta(days=1), 1, layout="{cam}/day/{i:04d}_b.mp4")
    with db.session() as s:
        s.get(Recording, shared).path = f"{cams[1]}/day"
    res = apply_cleanup(db, root, [s for s in collect_segments(db, root) if s.recording_id != other])
    assert sorted(res["recordings_deleted"]) == sorted([rid, shared])
    assert not (root / f"{cams[0]}").exists() and root.exists()
    assert (root / f"{cams[1]}/day/0000_b.mp4").exists() and rec_row(db, other)[0] == 1


def test_apply_cleanup_rechecks_protection_and_refuses_paths_outside(db, tmp_path, cams):
    root = tmp_path / "rec"
    outside = write(tmp_path / "precious" / "thesis.mp4", 123)
    target_inside = write(root / "other" / "kept.mp4", 9)
    rid = make_recording(db, root, cams[0], NOW - timedelta(days=10), 4)
    with db.session() as s:
        rows = s.scalars(select(RecordingSegment).where(RecordingSegment.recording_id == rid)
                         .order_by(RecordingSegment.started_at)).all()
        rows[0].path = "../precious/thesis.mp4"
        rows[1].path = str(outside)
        os.symlink(outside, root / "escape.mp4")
        rows[2].path = "escape.mp4"
        os.symlink(target_inside, root / "inner.mp4")
        rows[3].path = "inner.mp4"
    plan = plan_cleanup(collect_segments(db, root), RetentionPolicy(max_age_days=1), now=NOW)
    assert len(plan.delete) == 4
    res = apply_cleanup(db, root, plan)
    assert res["deleted_segments"] == 0 and len(res["refused"]) == 4
    assert outside.read_bytes() == b"\0" * 123 and target_inside.exists()
    assert rec_row(db, rid)[0] == 4  # rows kept

    rid2 = make_recording(db, root, cams[1], NOW - timedelta(days=10), 1)
    plan = plan_cleanup(collect_segments(db, root), RetentionPolicy(max_age_days=1), now=NOW)
    with db.session() as s:
        s.get(Recording, rid2).protected = True  # protected between planning and applying
    res = apply_cleanup(db, root, plan)
    assert res["deleted_segments"] == 0 and res["skipped"] == 1 and rec_row(db, rid2)[0] == 1


def test_missing_file_row_is_still_removed(db, tmp_path, cams):
    root = tmp_path / "rec"
    rid = make_recording(db, root, cams[0], NOW - timedelta(days=10), 2)
    (root / f"{cams[0]}/{rid}/0000.mp4").unlink()
    res = apply_cleanup(db, root, collect_segments(db, root))
    assert res["deleted_segments"] == 2 and res["files"] == 1 and rec_row(db, rid) is None


def test_cleanup_job_runs_notifies_and_warns_once(db, tmp_path, cams):
    root = tmp_path / "rec"
    make_recording(db, root, cams[0], NOW - timedelta(days=10), 4, size=1000)
    make_recording(db, root, cams[1], NOW - timedelta(hours=1), 2, size=1000, protected=True)
    notes = Notes()
    free = {"bytes": 10**9}
    job = CleanupJob(db, root, RetentionPolicy(max_age_days=5, min_free_gb=2), notifications=notes,
                     free_fn=lambda p: free["bytes"], clock=lambda: NOW)
    assert job.run(dry_run=True)["plan"]["segments"] == 4 and notes.sent == []
    out = job()
    assert out["result"]["deleted_segments"] == 4
    kinds = [n[0] for n in notes.sent]
    assert kinds == ["info", "warning"]  # deleted, and the reserve cannot be met (protected ones remain)
    assert "min_free_gb" in notes.sent[1][3]["unsatisfied"]
    job()
    assert [n[0] for n in notes.sent] == ["info", "warning"]  # the same unmet limit is not repeated
    assert job.run()["plan"]["segments"] == 0
    free["bytes"] = 3 * GB
    job()
    assert len(notes.sent) == 2
    assert CleanupJob(db, root, RetentionPolicy())() == {"plan": None, "result": None}


# --- samples -------------------------------------------------------------------------------------


def test_samples_recorded_listed_and_pruned(db, tmp_path):
    data = tmp_path / "data"
    write(data / "recordings" / "4" / "a.mp4", 100)
    write(data / "screenshots" / "s.jpg", 10)
    t1 = NOW - timedelta(days=100)
    rows = sample_storage(db, data, now=t1)
    cats = {(r["category"], r["camera_id"]): r["bytes"] for r in rows}
    assert cats[("recordings", None)] == 100 and cats[("recordings", 4)] == 100 and cats[("screenshots", None)] == 10
    assert cats[("disk_total", None)] >= cats[("disk_free", None)] > 0
    write(data / "recordings" / "4" / "b.mp4", 50)
    sample_storage(db, data, now=NOW)
    series = list_samples(db, category="recordings", camera_id=4)
    assert [(r["timestamp"], r["bytes"]) for r in series] == [(t1.isoformat(), 100), (NOW.isoformat(), 150)]
    assert len(list_samples(db, category="recordings", camera_id=None)) == 2
    assert len(list_samples(db, since=NOW - timedelta(days=1))) == len(rows)
    assert prune_samples(db, keep_days=90, now=NOW) == len(rows)
    assert list_samples(db, until=NOW - timedelta(days=1)) == []
