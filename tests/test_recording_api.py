"""Recording through the HTTP API: start/stop, listing, range-served segments, export, bad input."""

from __future__ import annotations

import io
import urllib.parse
import urllib.request
from datetime import UTC, datetime, timedelta

import av
import pytest

from tests.conftest import start_server, stop_server, wait_for

SIM = "sim://?people=2&seed=4&width=320&height=256&fps=25"


@pytest.fixture
def rec_server(tmp_path):
    srv = start_server(tmp_path, record_segment_seconds=1.0)
    try:
        yield srv
    finally:
        stop_server(srv)


def live_camera(srv, url=SIM) -> int:
    status, cam = srv.request("POST", "/api/cameras", {"url": url})
    assert status == 201, cam
    wait_for(lambda: srv.camera(cam["id"])["status"] == "live", what="live")
    return cam["id"]


def decode(data: bytes) -> tuple[str, int]:
    with av.open(io.BytesIO(data)) as c:
        s = c.streams.video[0]
        return s.codec_context.name, sum(1 for _ in c.decode(s))


def test_record_list_play_and_export(rec_server):
    srv = rec_server
    cid = live_camera(srv)
    other = live_camera(srv, "sim://?seed=5&width=160&height=128")
    status, rec = srv.request("POST", "/api/recording/start", {"camera_id": cid})
    assert status == 201 and rec["status"] == "recording" and rec["scheduled"] is False
    assert srv.request("POST", "/api/recording/start", {"camera_id": cid})[0] == 409
    assert srv.request("POST", "/api/recording/start", {"camera_id": other})[0] == 201  # several at once
    assert srv.request("GET", "/health")[1]["recordings"]["active"] == 2
    wait_for(lambda: srv.request("GET", f"/api/recordings/{rec['id']}")[1]["segments"] >= 2, timeout=30,
             what="two closed segments")
    status, done = srv.request("POST", "/api/recording/stop", {"camera_id": cid})
    assert status == 200 and done["status"] == "completed" and done["frames"] > 40
    assert done["duration_s"] > 1.5 and done["size_bytes"] > 0 and done["dropped_frames"] == 0
    srv.request("POST", "/api/recording/stop", {"camera_id": other})
    assert srv.request("POST", "/api/recording/stop", {"camera_id": cid})[0] == 409

    status, listing = srv.request("GET", f"/api/recordings?camera={cid}")
    assert status == 200 and [r["id"] for r in listing["recordings"]] == [rec["id"]]
    r = listing["recordings"][0]
    assert r["media_url"] and len(r["segment_urls"]) == r["segments"]
    future = urllib.parse.urlencode({"since": (datetime.now(UTC) + timedelta(hours=1)).isoformat()})
    assert srv.request("GET", f"/api/recordings?{future}")[1]["recordings"] == []
    assert srv.request("GET", "/api/recordings?since=yesterday")[0] == 400

    # a segment plays with seeking: full body and a byte range
    full = srv.open(r["segment_urls"][0], timeout=10)
    assert full.headers["Content-Type"] == "video/mp4" and full.headers.get("Accept-Ranges") == "bytes"
    body = full.read()
    assert decode(body)[0] == "h264"
    part = srv.open(r["segment_urls"][0], headers={"Range": "bytes=0-99"}, timeout=10)
    assert part.status == 206 and part.read() == body[:100]

    # the whole recording as one MP4, and a camera time range
    whole = srv.open(r["export_url"], timeout=30).read()
    codec, frames = decode(whole)
    assert codec == "h264" and abs(frames - done["frames"]) <= 2
    since = r["started_at"]
    until = (datetime.fromisoformat(r["ended_at"]) + timedelta(seconds=1)).isoformat()
    q = urllib.parse.urlencode({"since": since, "until": until})
    ranged = srv.open(f"/api/cameras/{cid}/export.mp4?{q}", timeout=30).read()
    assert decode(ranged)[1] == frames

    thumb = srv.open(r["thumbnail_url"], timeout=10)
    assert thumb.headers["Content-Type"] == "image/jpeg" and thumb.read()[:2] == b"\xff\xd8"

    # protect it from retention
    status, body = srv.request("PATCH", f"/api/recordings/{rec['id']}", {"protected": True})
    assert status == 200 and body["protected"] is True


def test_recording_bad_input(rec_server):
    srv = rec_server
    assert srv.request("POST", "/api/recording/start", {"camera_id": "1"})[0] == 400
    assert srv.request("POST", "/api/recording/start", {})[0] == 400
    assert srv.request("POST", "/api/recording/start", {"camera_id": 99})[0] == 404
    cid = live_camera(srv)
    srv.request("POST", f"/api/cameras/{cid}/disconnect")
    status, err = srv.request("POST", "/api/recording/start", {"camera_id": cid})
    assert status == 409 and "camera" in err["error"]
    assert srv.request("GET", "/api/recordings/999")[0] == 404
    assert srv.request("GET", "/api/recordings/999/segments/0")[0] == 404
    assert srv.request("PATCH", "/api/recordings/999", {"protected": True})[0] == 404
    q = "since=2026-01-01T00:00:00Z&until=2025-01-01T00:00:00Z"
    assert srv.request("GET", f"/api/cameras/{cid}/export.mp4?{q}")[0] == 400


@pytest.mark.parametrize("path", [
    "/api/recordings/1/segments/../../../../etc/passwd",
    "/api/recordings/1/segments/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "/api/recordings/..%2F..%2Fetc/segments/0",
    "/api/recordings/1/segments/0%00.mp4",
])
def test_path_traversal_on_file_routes_serves_nothing(rec_server, path):
    status, body = rec_server.request("GET", path)
    assert status in (403, 404)
    assert b"root:" not in (body if isinstance(body, bytes) else str(body).encode())
