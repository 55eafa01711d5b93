"""Storage through the HTTP API on a running server: usage grows with recordings, samples for charts,
and retention on demand: a dry run lists old segments, a real run deletes only files inside the
recordings folder and never a protected recording."""

from __future__ import annotations

import urllib.parse
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from tests.conftest import start_server, stop_server, wait_for
from thermalstream.db.models import Recording, RecordingSegment

SIM = "sim://?width=160&height=128"


@pytest.fixture
def srv(tmp_path):
    s = start_server(tmp_path, record_segment_seconds=1.0, retention_max_age_days=7, retention_min_free_gb=None,
                     retention_max_total_gb=None)
    try:
        yield s
    finally:
        stop_server(s)


def live_camera(srv) -> int:
    status, cam = srv.request("POST", "/api/cameras", {"url": SIM})
    assert status == 201, cam
    wait_for(lambda: srv.camera(cam["id"])["status"] == "live", what="camera live")
    return cam["id"]


def record(srv, cid: int, segments: int = 2) -> dict:
    status, rec = srv.request("POST", "/api/recording/start", {"camera_id": cid})
    assert status == 201, rec
    wait_for(lambda: srv.request("GET", f"/api/recordings/{rec['id']}")[1]["segments"] >= segments, timeout=30,
             what=f"{segments} closed segments")
    status, done = srv.request("POST", "/api/recording/stop", {"camera_id": cid})
    assert status == 200 and done["status"] == "completed", done
    return done


def files_of(srv, rec: dict) -> list:
    return [srv.runtime.recordings.resolve(p) for p in rec["segment_paths"]]


def backdate(srv, rid: int, days: float) -> None:
    delta = timedelta(days=days)
    with srv.runtime.db.session() as s:
        rec = s.get(Recording, rid)
        rec.started_at = rec.started_at - delta
        rec.ended_at = rec.ended_at - delta
        for seg in rec.segment_rows:
            seg.started_at = seg.started_at - delta
            seg.ended_at = seg.ended_at - delta if seg.ended_at else None


def test_usage_grows_after_a_recording_and_samples_for_charts(srv):
    status, before = srv.request("GET", "/api/storage")
    assert status == 200, before
    assert set(before["categories"]) == {"recordings", "screenshots", "detections", "thumbnails"}
    assert before["disk"]["total"] > 0 and before["disk"]["free"] > 0
    assert before["policy"]["max_age_days"] == 7 and before["policy"]["min_free_gb"] is None
    assert before["policy"]["active"] is True and before["last_cleanup"] is None

    cid = live_camera(srv)
    rec = record(srv, cid)
    status, after = srv.request("GET", "/api/storage")
    assert status == 200
    grown = after["categories"]["recordings"]["bytes"] - before["categories"]["recordings"]["bytes"]
    assert grown >= rec["size_bytes"] > 0
    assert after["categories"]["recordings"]["files"] > before["categories"]["recordings"]["files"]
    assert after["cameras"][str(cid)]["bytes"] >= rec["size_bytes"]
    assert after["camera_names"][str(cid)]
    assert after["total"]["bytes"] >= after["categories"]["recordings"]["bytes"]

    assert srv.request("GET", "/api/storage/samples")[1]["samples"] == []
    srv.runtime.sample_storage()
    status, body = srv.request("GET", "/api/storage/samples")
    assert status == 200
    cats = {(r["category"], r["camera_id"]) for r in body["samples"]}
    assert {("recordings", None), ("recordings", cid), ("disk_free", None), ("disk_total", None)} <= cats
    totals = srv.request("GET", "/api/storage/samples?category=recordings&camera=none")[1]["samples"]
    assert len(totals) == 1 and totals[0]["camera_id"] is None
    assert totals[0]["bytes"] == after["categories"]["recordings"]["bytes"]
    mine = srv.request("GET", f"/api/storage/samples?camera={cid}")[1]["samples"]
    assert mine and {r["camera_id"] for r in mine} == {cid}

    srv.runtime.sample_storage()
    assert len(srv.request("GET", "/api/storage/samples?category=recordings&camera=none")[1]["samples"]) == 2
    future = urllib.parse.urlencode({"since": (datetime.now(UTC) + timedelta(hours=1)).isoformat()})
    assert srv.request("GET", f"/api/storage/samples?{future}")[1]["samples"] == []
    past = urllib.parse.urlencode({"until": (datetime.now(UTC) - timedelta(hours=1)).isoformat()})
    assert srv.request("GET", f"/api/storage/samples?{past}")[1]["samples"] == []
    assert srv.request("GET", "/api/storage/samples?since=yesterday")[0] == 400
    assert srv.request("GET", "/api/storage/samples?category=videos")[0] == 400
    assert srv.request("GET", "/api/storage/samples?camera=x")[0] == 400


def test_cleanup_dry_run_then_real_run_inside_the_recordings_folder_only(srv, tmp_path):
    cid = live_camera(srv)
    old = record(srv, cid)
    kept = record(srv, cid)  # old too, but protected
    new = record(srv, cid)
    for r in (old, kept):
        backdate(srv, r["id"], 30)
    assert srv.request("PATCH", f"/api/recordings/{kept['id']}", {"protected": True})[0] == 200

    # a row that points outside the recordings folder (a corrupted or hostile database)
    outside = tmp_path / "outside.mp4"
    outside.write_bytes(b"not yours")
    other_root = srv.runtime.settings.screenshots_dir / "cam1" / "keep.jpg"
    other_root.parent.mkdir(parents=True, exist_ok=True)
    other_root.write_bytes(b"jpeg")
    ref = datetime.now(UTC) - timedelta(days=40)
    with srv.runtime.db.session() as s:
        s.add(RecordingSegment(recording_id=old["id"], path="../../outside.mp4", started_at=ref,
                               ended_at=ref + timedelta(seconds=1), size_bytes=9, frames=1))
    with srv.runtime.db.session() as s:  # and the old recording's own path stays where it was
        s.execute(update(Recording).where(Recording.id == old["id"]).values(segments=len(old["segment_paths"]) + 1))

    old_files, kept_files, new_files = files_of(srv, old), files_of(srv, kept), files_of(srv, new)
    assert all(p.is_file() for p in old_files + kept_files + new_files)

    status, dry = srv.request("POST", "/api/storage/cleanup", {"dry_run": True})
    assert status == 200, dry
    assert dry["dry_run"] is True and dry["result"] is None
    planned = dry["plan"]["delete"]
    assert {p["recording_id"] for p in planned} == {old["id"]}
    assert sorted(p["path"] for p in planned) == sorted([*old["segment_paths"], "../../outside.mp4"])
    assert {p["reason"] for p in planned} == {"age"} and not any(p["protected"] for p in planned)
    assert all(p.is_file() for p in old_files + kept_files + new_files)  # a dry run deletes nothing
    assert srv.request("GET", "/api/storage")[1]["last_cleanup"] is None

    status, run = srv.request("POST", "/api/storage/cleanup", {})
    assert status == 200, run
    res = run["result"]
    assert run["dry_run"] is False
    assert res["deleted_segments"] == len(old["segment_paths"])
    assert [r["path"] for r in res["refused"]] == ["../../outside.mp4"]
    assert not any(p.exists() for p in old_files)
    assert all(p.is_file() for p in kept_files + new_files)  # protected and recent footage stays
    assert outside.read_bytes() == b"not yours" and other_root.read_bytes() == b"jpeg"
    status, kept_now = srv.request("GET", f"/api/recordings/{kept['id']}")
    assert status == 200 and kept_now["segments"] == len(kept["segment_paths"]) and kept_now["protected"]
    status, old_now = srv.request("GET", f"/api/recordings/{old['id']}")
    assert status == 200 and old_now["segment_paths"] == ["../../outside.mp4"]  # the refused row is kept

    last = srv.request("GET", "/api/storage")[1]["last_cleanup"]
    assert last["result"]["deleted_segments"] == res["deleted_segments"]
    status, again = srv.request("POST", "/api/storage/cleanup", {"dry_run": True})
    assert [p["path"] for p in again["plan"]["delete"]] == ["../../outside.mp4"]

    assert srv.request("POST", "/api/storage/cleanup", {"dry_run": "yes"})[0] == 400
    assert srv.request("POST", "/api/storage/cleanup", {"force": True})[0] == 400


def test_cleanup_without_limits_deletes_nothing(tmp_path):
    srv = start_server(tmp_path, retention_max_age_days=None, retention_min_free_gb=None)
    try:
        status, body = srv.request("GET", "/api/storage")
        assert status == 200 and body["policy"]["active"] is False
        for dry in (True, False):
            status, out = srv.request("POST", "/api/storage/cleanup", {"dry_run": dry})
            assert status == 200 and out["plan"] is None and out["result"] is None
    finally:
        stop_server(srv)
