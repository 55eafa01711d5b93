"""GET /metrics: Prometheus' text format, parsed with prometheus_client's own parser, from a real
server with a live camera, detection and a recording; only admins or the metrics token get it."""

from __future__ import annotations

import json
import re
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text

from tests.conftest import start_server, stop_server, wait_for

TOKEN = "scrape-me-please-0123456789"


@pytest.fixture
def srv(tmp_path):
    server = start_server(tmp_path, metrics_token=TOKEN, record_segment_seconds=1.0, hotspot_threshold_c=26.0)
    try:
        yield server
    finally:
        stop_server(server)


def scrape(server, token: str = TOKEN) -> tuple[str, dict]:
    req = urllib.request.Request(server.base + "/metrics", headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(req, timeout=20) as resp:
        assert resp.status == 200
        ctype, body = resp.headers["Content-Type"], resp.read().decode()
    samples: dict = {}
    for family in text_string_to_metric_families(body):
        for s in family.samples:
            samples.setdefault(s.name, []).append((s.labels, s.value))
    return ctype, samples


def value(samples: dict, name: str, **labels) -> float:
    found = [v for lab, v in samples.get(name, []) if all(lab.get(k) == str(x) for k, x in labels.items())]
    assert len(found) == 1, f"{name} {labels}: {samples.get(name)}"
    return found[0]


def check_detected_and_recorded(m: dict, cam: dict) -> float:
    """The series of a live camera with detection on and a recording running (whatever the
    worker backend); returns the detector's calls."""
    assert value(m, "thermalstream_camera_up", **cam) == 1
    assert value(m, "thermalstream_camera_fps", **cam) > 0
    assert value(m, "thermalstream_camera_frames_total", **cam) > 10
    assert value(m, "thermalstream_camera_dropped_frames_total", **cam) >= 0
    assert value(m, "thermalstream_camera_reconnects_total", **cam) == 0
    assert 0 <= value(m, "thermalstream_camera_last_frame_age_seconds", **cam) < 5
    assert value(m, "thermalstream_detector_ready", state="ready") == 1
    calls = value(m, "thermalstream_detector_calls_total")
    assert calls > 0 and value(m, "thermalstream_detector_latency_seconds_count") == calls
    assert value(m, "thermalstream_detector_frames_total") >= calls
    assert value(m, "thermalstream_detector_latency_seconds_sum") > 0
    assert value(m, "thermalstream_detector_last_inference_seconds", **cam) > 0
    assert value(m, "thermalstream_queue_depth", queue="detection_store") >= 0
    assert value(m, "thermalstream_queue_depth", queue="recorder", **cam) >= 0
    assert value(m, "thermalstream_recording_active", **cam) == 1
    return calls


def dashboard_series() -> set[str]:
    """Every series the sample Grafana dashboard plots."""
    dash = json.loads((Path(__file__).parents[1] / "docs" / "grafana-thermalstream.json").read_text())
    return {n for p in dash["panels"] for t in p["targets"] for n in re.findall(r"thermalstream_\w+", t["expr"])}


def test_metrics_cover_cameras_detector_queues_recordings_disk_and_database(srv):
    cid = srv.request("POST", "/api/cameras", {"url": "sim://?people=1&vehicle=0&animal=0&seed=10&width=320&height=256",
                                               "name": "yard"})[1]["id"]
    wait_for(lambda: srv.camera(cid)["status"] == "live", what="live")
    srv.request("PATCH", f"/api/cameras/{cid}/detection", {"enabled": True})
    rec = srv.request("POST", "/api/recording/start", {"camera_id": cid})[1]
    wait_for(lambda: srv.request("GET", f"/api/recordings/{rec['id']}")[1]["segments"] >= 2, timeout=30,
             what="two segments")
    wait_for(lambda: srv.runtime.detection.worker_stats()["calls"] > 0, timeout=30, what="detector calls")

    ctype, m = scrape(srv)
    assert ctype.startswith("text/plain; version=")
    cam = {"camera_id": cid, "camera": "yard"}
    check_detected_and_recorded(m, cam)
    assert value(m, "thermalstream_disk_free_bytes") > 0 and value(m, "thermalstream_disk_total_bytes") > 0
    assert value(m, "thermalstream_database_up") == 1
    recording = set(m)  # series that exist only while a camera records

    srv.request("POST", "/api/recording/stop", {"camera_id": cid})
    wait_for(lambda: not srv.runtime.recordings.active(), what="recording stopped")
    row = srv.request("GET", f"/api/recordings/{rec['id']}")[1]
    _, m = scrape(srv)
    assert value(m, "thermalstream_recording_size_bytes", **cam) == row["size_bytes"] > 0
    assert value(m, "thermalstream_recording_segments", **cam) == row["segments"] >= 2
    assert "thermalstream_recording_active" not in m or all(v == 0 for _, v in m["thermalstream_recording_active"])

    # every series the sample Grafana dashboard plots is one the server serves
    wanted = dashboard_series()
    assert len(wanted) >= 20 and wanted - set(m) - recording == set()

    errors = value(m, "thermalstream_database_errors_total")
    with pytest.raises(Exception):
        with srv.runtime.db.session() as s:
            s.execute(text("SELECT * FROM no_such_table"))
    assert value(scrape(srv)[1], "thermalstream_database_errors_total") == errors + 1


def test_metrics_need_the_token_or_an_admin(srv):
    srv.runtime.auth.users.create("vera", "vera has a long password", "viewer")
    assert srv.request("GET", "/metrics", as_user=None)[0] == 401
    assert srv.request("GET", "/metrics", as_user=None, headers={"Authorization": "Bearer wrong-token"})[0] == 401
    assert srv.request("GET", "/metrics", as_user="vera")[0] == 403
    status, body = srv.request("GET", "/metrics")  # an admin's access token
    assert status == 200 and b"thermalstream_database_up" in body
    assert "thermalstream_database_up" in scrape(srv)[1]


def test_without_a_token_setting_only_admins_read_metrics(server):
    assert server.runtime.settings.metrics_token is None
    assert server.request("GET", "/metrics", as_user=None, headers={"Authorization": "Bearer "})[0] == 401
    assert server.request("GET", "/metrics")[0] == 200
