"""Event-triggered recording through the server: a rolling pre-capture buffer while detection is
on, a recording row tied to the event (pre_s before it to post_s after it) that plays and exports,
no row and a bounded buffer when nothing happens, and bad input."""

from __future__ import annotations

import io
import re
import time
from datetime import datetime

import av
import pytest

from tests.conftest import start_server, stop_server, wait_for

WALKER = "sim://?people=1&vehicle=0&animal=0&seed=10&width=320&height=256&fps=25"
STATIC = "sim://?people=0&vehicle=0&animal=0&seed=3&width=160&height=128&fps=25"
PRE_S = POST_S = 2.0
SEGMENT_S = 2.0  # the buffer's segment length for pre_s = 2


@pytest.fixture
def srv(tmp_path):
    server = start_server(tmp_path, hotspot_threshold_c=26.0)  # people are ~30-34 °C, the scene is colder
    try:
        yield server
    finally:
        stop_server(server)


def live_camera(server, url: str) -> int:
    status, cam = server.request("POST", "/api/cameras", {"url": url, "name": "yard"})
    assert status == 201, cam
    wait_for(lambda: server.camera(cam["id"])["status"] == "live", what="live")
    return cam["id"]


def ts(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


def buffer_segments(server, cid: int) -> list:
    root = server.runtime.settings.recordings_dir / ".buffer" / f"cam{cid}"
    return sorted(root.rglob("seg*.mp4")) if root.exists() else []


def decode_frames(data: bytes) -> int:
    with av.open(io.BytesIO(data)) as c:
        return sum(1 for _ in c.decode(c.streams.video[0]))


def event_recordings(server, cid: int) -> list[dict]:
    return [r for r in server.request("GET", f"/api/recordings?camera={cid}")[1]["recordings"] if r["event_id"]]


def test_event_recording_keeps_pre_and_post_event_video(srv):
    cid = live_camera(srv, WALKER)
    status, mode = srv.request("PATCH", f"/api/cameras/{cid}/recording-mode",
                               {"mode": "events", "pre_s": PRE_S, "post_s": POST_S})
    assert status == 200 and mode["mode"] == "events" and mode["pre_s"] == PRE_S and mode["post_s"] == POST_S
    # detection on, but looking for a class the hotspot detector never reports: the buffer fills, no event yet
    assert srv.request("PATCH", f"/api/cameras/{cid}/detection", {"enabled": True, "labels": ["person"]})[0] == 200
    wait_for(lambda: srv.request("GET", f"/api/cameras/{cid}/recording-mode")[1]["buffering"], what="buffering")
    time.sleep(PRE_S + SEGMENT_S + 0.5)
    assert event_recordings(srv, cid) == []

    assert srv.request("PATCH", f"/api/cameras/{cid}/detection", {"labels": ["hotspot"]})[0] == 200
    recs = wait_for(lambda: event_recordings(srv, cid), timeout=20, what="an event recording")
    assert srv.request("GET", "/health")[1]["recordings"]["active"] == 1  # an event recording counts as active
    time.sleep(1.0)
    assert srv.request("PATCH", f"/api/cameras/{cid}/detection", {"enabled": False})[0] == 200  # ends the events
    rec = wait_for(lambda: [r for r in event_recordings(srv, cid) if r["id"] == recs[-1]["id"]
                            and r["status"] == "completed"], timeout=20, what="the recording to close")[0]
    assert rec["scheduled"] is False and rec["segments"] >= 2 and rec["frames"] > 0

    events = wait_for(lambda: [e for e in srv.request("GET", f"/api/events?camera={cid}")[1]["events"]
                               if e["id"] == rec["event_id"] and e["ended_at"]], what="the event's end")
    ev = events[0]
    assert ts(rec["started_at"]) <= ts(ev["started_at"]) - PRE_S + SEGMENT_S + 0.1, (rec, ev)
    assert ts(rec["ended_at"]) >= ts(ev["ended_at"]) + POST_S - 0.1, (rec, ev)

    # it plays like any recording: segments through the range-serving file route, and the export
    srv_frames = 0
    for url in rec["segment_urls"]:
        srv_frames += decode_frames(srv.open(url, timeout=10).read())
    assert abs(srv_frames - rec["frames"]) <= len(rec["segment_urls"])
    assert decode_frames(srv.open(rec["export_url"], timeout=30).read()) > 0
    detail = srv.request("GET", f"/api/recordings/{rec['id']}")[1]
    root = srv.runtime.settings.recordings_dir.resolve()
    for p in detail["segment_paths"]:
        f = (root / p).resolve()
        assert f.is_relative_to(root) and ".buffer" not in f.parts and f.exists()
    notes = [n["title"] for n in srv.runtime.notifications.list(None, limit=100)]
    assert "Recording started" in notes and "Recording stopped" in notes

    # detection off and nothing open: the buffer stops and its files go
    wait_for(lambda: not srv.request("GET", f"/api/cameras/{cid}/recording-mode")[1]["buffering"]
             and not buffer_segments(srv, cid), what="the buffer emptied")


def test_no_event_no_recording_and_the_buffer_stays_small(srv):
    cid = live_camera(srv, STATIC)
    assert srv.request("PATCH", f"/api/cameras/{cid}/recording-mode", {"mode": "events", "pre_s": PRE_S})[0] == 200
    assert srv.request("PATCH", f"/api/cameras/{cid}/detection", {"enabled": True})[0] == 200
    wait_for(lambda: srv.request("GET", f"/api/cameras/{cid}/recording-mode")[1]["buffering"], what="buffering")
    most, highest = 0, -1
    deadline = time.monotonic() + 4 * SEGMENT_S + 1.5
    while time.monotonic() < deadline:
        segs = buffer_segments(srv, cid)
        most = max(most, len(segs))
        for p in segs:
            highest = max(highest, int(re.match(r"seg(\d+)_", p.name).group(1)))
        time.sleep(0.3)
    assert highest >= 3, "the buffer should have rolled over several segments"
    # window pre_s + 2 s slack = 4 s of closed 2 s segments, plus the one being written
    assert most <= 4, most
    assert srv.request("GET", f"/api/recordings?camera={cid}")[1]["recordings"] == []
    assert srv.request("GET", f"/api/cameras/{cid}/recording-mode")[1]["recording_id"] is None

    # bad input
    url = f"/api/cameras/{cid}/recording-mode"
    for body in ({"mode": "sometimes"}, {"pre_s": -1}, {"pre_s": 61}, {"post_s": "5"}, {"post_s": True},
                 {"pre_s": None}, {"colour": "red"}, {}):
        status, err = srv.request("PATCH", url, body)
        assert status == 400 and err["error"], body
    assert srv.request("PATCH", url, None, headers={"Content-Type": "application/json"})[0] == 400
    assert srv.request("PATCH", "/api/cameras/999/recording-mode", {"mode": "manual"})[0] == 404
    assert srv.request("GET", "/api/cameras/999/recording-mode")[0] == 404
    got = srv.request("GET", url)[1]
    assert (got["mode"], got["pre_s"], got["post_s"]) == ("events", PRE_S, 5.0)  # bad input changed nothing
    status, got = srv.request("PATCH", url, {"mode": "manual"})
    assert status == 200 and got["mode"] == "manual"
    wait_for(lambda: not buffer_segments(srv, cid), what="the buffer emptied in manual mode")


def test_reconcile_leaves_the_buffer_alone(db, tmp_path):
    from thermalstream.config import Settings
    from thermalstream.db import repo
    from thermalstream.record.service import BUFFER_DIRNAME, RecordingService

    settings = Settings(data_dir=tmp_path / "data")
    settings.ensure_dirs()
    with db.session() as s:
        cid = repo.add_camera(s, "yard", "sim://?seed=1").id
    seg = settings.recordings_dir / BUFFER_DIRNAME / f"cam{cid}" / "20260101T000000000000Z" / \
        "seg00000_20260101T000000.000Z.mp4"
    seg.parent.mkdir(parents=True)
    seg.write_bytes(b"not yet closed")
    report = RecordingService(db, None, None, settings).reconcile()
    assert not report["orphans"] and not report["indexed"] and not report["dropped_segments"]
    assert seg.exists()
