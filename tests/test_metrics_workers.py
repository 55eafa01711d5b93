"""GET /metrics with cameras on worker processes (THERMALSTREAM_WORKERS=processes): what happens in
the workers (detector calls and latency, a camera's frame rate, frames, drops and last-frame age,
its recorder's queue) is served under the same names and labels as in-process, parsed with
prometheus_client's own parser; counters never go down when a worker dies and its camera moves."""

from __future__ import annotations

import os
import signal

import pytest

from tests.conftest import start_server, stop_server, wait_for
from tests.test_metrics import TOKEN, check_detected_and_recorded, dashboard_series, scrape, value
from thermalstream.workers.remote import WorkerCounters

SIM = "sim://?people=1&vehicle=0&animal=0&seed=10&width=320&height=256"


@pytest.fixture
def srv(tmp_path):
    server = start_server(tmp_path, workers="processes", worker_processes=2, metrics_token=TOKEN,
                          record_segment_seconds=1.0, hotspot_threshold_c=26.0)
    try:
        assert server.runtime.cameras.workers.wait_ready(120), "worker processes did not start"
        yield server
    finally:
        stop_server(server)


def owner_pid(srv, cid: int) -> int | None:
    return next((w["pid"] for w in srv.runtime.cameras.workers.health()["workers"] if cid in w["cameras"]), None)


def metric(srv, name: str, **labels) -> float | None:
    found = [v for lab, v in scrape(srv)[1].get(name, []) if all(lab.get(k) == str(x) for k, x in labels.items())]
    return found[0] if len(found) == 1 else None


def test_metrics_count_what_happens_in_worker_processes(srv):
    cid = srv.request("POST", "/api/cameras", {"url": SIM, "name": "yard"})[1]["id"]
    wait_for(lambda: srv.camera(cid)["status"] == "live", timeout=30, what="live")
    pid = owner_pid(srv, cid)
    assert pid is not None and pid != os.getpid(), "the camera runs in a worker process"
    assert srv.request("PATCH", f"/api/cameras/{cid}/detection", {"enabled": True})[0] == 200
    assert srv.request("POST", "/api/recording/start", {"camera_id": cid})[0] == 201
    cam = {"camera_id": cid, "camera": "yard"}
    wait_for(lambda: (metric(srv, "thermalstream_detector_calls_total") or 0) > 0, timeout=60,
             what="the worker's detector calls in /metrics")
    wait_for(lambda: (metric(srv, "thermalstream_detector_last_inference_seconds", **cam) or 0) > 0, timeout=30,
             what="the camera's last inference in /metrics")
    wait_for(lambda: (metric(srv, "thermalstream_camera_frames_total", **cam) or 0) > 10, timeout=30,
             what="the camera's frames in /metrics")

    _, m = scrape(srv)
    calls = check_detected_and_recorded(m, cam)  # the in-process test's checks, on a worker's camera
    frames = value(m, "thermalstream_camera_frames_total", **cam)
    wanted = dashboard_series()
    assert len(wanted) >= 20 and wanted - set(m) == set(), "the Grafana dashboard works unchanged on workers"

    # the worker dies: the camera moves; its counters and the detector's go on from where they were
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: owner_pid(srv, cid) not in (None, pid) and srv.camera(cid)["status"] == "live", timeout=30,
             what="the camera live on another worker")
    wait_for(lambda: (metric(srv, "thermalstream_detector_calls_total") or 0) > calls, timeout=60,
             what="detector calls counted on from the dead worker's")
    wait_for(lambda: (metric(srv, "thermalstream_camera_frames_total", **cam) or 0) > frames, timeout=30,
             what="frames counted on from the dead worker's")
    _, m = scrape(srv)
    assert value(m, "thermalstream_camera_reconnects_total", **cam) == 1, "the move counts as a reconnect"
    assert value(m, "thermalstream_detector_latency_seconds_count") == value(m, "thermalstream_detector_calls_total")
    assert srv.request("POST", "/api/recording/stop", {"camera_id": cid})[0] == 200


def test_worker_counters_never_go_down_and_queues_count_only_workers_heard_from():
    now = [100.0]
    c = WorkerCounters(clock=lambda: now[0])
    c.update("w1", {"calls": 5, "frames": 6, "errors": 1, "busy_s": 0.5, "store_pending": 3, "running": True})
    c.update("w2", {"calls": 2, "frames": 2, "errors": 0, "busy_s": 0.25, "store_pending": 1, "running": True,
                    "last_error": "boom"})
    d = c.detector()
    assert (d["calls"], d["frames"], d["errors"], d["busy_s"]) == (7, 8, 1, 0.75) and c.gauge("store_pending") == 4
    assert d["running"] is True and d["last_error"] == "boom"
    c.update("w1", {"calls": 1, "frames": 1, "errors": 0, "busy_s": 0.125})  # the same id counting anew
    assert c.detector()["calls"] == 8 and c.detector()["busy_s"] == 0.875
    now[0] += WorkerCounters.FRESH_S + 1  # every worker gone quiet (dead)
    d = c.detector()
    assert d["calls"] == 8 and c.gauge("store_pending") == 0 and d["running"] is False and d["last_error"] is None
