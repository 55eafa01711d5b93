"""The detection status of a camera that runs in a worker process (THERMALSTREAM_WORKERS=processes)
answers per camera as in-process: GET /api/cameras/{id}/detection and DetectionService.status()
give the camera's detector (state, model, message), its last inference time and its slot, as the
camera's worker reports them. A worker whose detector cannot load (YOLO weights missing) says
"unavailable" and why, for that camera."""

from __future__ import annotations

import pytest

from tests.conftest import start_server, stop_server, wait_for

SIM = "sim://?people=2&width=320&height=256&fps=10&seed=4"


@pytest.fixture
def servers(tmp_path):
    started = []

    def start(name: str, **settings):
        srv = start_server(tmp_path / name, **settings)
        started.append(srv)
        if settings.get("workers") == "processes":
            assert srv.runtime.cameras.workers.wait_ready(120), "worker process did not start"
        return srv

    try:
        yield start
    finally:
        for srv in started:
            stop_server(srv)


def camera_detecting(srv, name: str) -> int:
    """A live sim camera with detection switched on (through the API)."""
    status, cam = srv.request("POST", "/api/cameras", {"url": SIM, "name": name})
    assert status == 201, cam
    cid = cam["id"]
    wait_for(lambda: srv.camera(cid)["status"] == "live", timeout=30, what="camera live")
    assert srv.request("PATCH", f"/api/cameras/{cid}/detection", {"enabled": True})[0] == 200
    return cid


def detecting_camera(srv) -> tuple[int, dict]:
    """A live sim camera with detection on, and its detection answer once the detector ran on it."""
    cid = camera_detecting(srv, "yard")

    def answered():
        body = srv.request("GET", f"/api/cameras/{cid}/detection")[1]
        state = srv.runtime.detection.status()["cameras"].get(str(cid)) or {}
        return body if body.get("last_inference_ms") is not None and state.get("sampled") else None

    return cid, wait_for(answered, timeout=60, what="the camera's detector state with a last inference")


def test_worker_camera_answers_its_detection_state_as_in_process(servers):
    local = servers("local", record_segment_seconds=1.0)
    worker = servers("worker", workers="processes", worker_processes=1, record_segment_seconds=1.0)
    lid, local_body = detecting_camera(local)
    cid, body = detecting_camera(worker)
    assert worker.runtime.cameras.workers.owner(cid) is not None, "the camera runs in a worker"

    assert body["active"] is True and body["enabled"] is True
    assert body["detector"]["state"] == "ready" and body["detector"]["model"] == local_body["detector"]["model"]
    assert body["last_inference_ms"] > 0
    assert set(body) == set(local_body), "the same answer as in-process"

    state = worker.runtime.detection.status()["cameras"][str(cid)]
    local_state = local.runtime.detection.status()["cameras"][str(lid)]
    assert set(state) == set(local_state), "the same per-camera status as in-process"
    assert state["detector"]["state"] == "ready" and state["sampled"] > 0 and state["tracker"]
    assert worker.runtime.detection.detector_status(cid).state == "ready"

    assert worker.request("PATCH", f"/api/cameras/{cid}/detection", {"enabled": False})[0] == 200
    assert str(cid) not in worker.runtime.detection.status()["cameras"]
    wait_for(lambda: worker.runtime.manager.get(cid).detect_state is None, timeout=10,
             what="detection off on the camera's worker too")
    assert worker.request("GET", f"/api/cameras/{cid}/detection")[1]["active"] is False


def test_worker_without_weights_says_unavailable_for_its_camera(servers, tmp_path):
    missing = tmp_path / "no-such-weights.pt"
    srv = servers("noweights", workers="processes", worker_processes=1, detector="yolo", model=missing)
    cid = camera_detecting(srv, "gate")

    def unavailable():
        body = srv.request("GET", f"/api/cameras/{cid}/detection")[1]
        state = srv.runtime.detection.status()["cameras"].get(str(cid)) or {}
        return body if body["detector"]["state"] == "unavailable" and state.get("detector") else None

    body = wait_for(unavailable, timeout=60, what="the worker's detector 'unavailable' for the camera")
    assert "YOLO weights not found" in body["detector"]["message"] and str(missing) in body["detector"]["message"]
    assert body["active"] is True and body["last_inference_ms"] is None
    state = srv.runtime.detection.status()["cameras"][str(cid)]
    assert state["detector"] == body["detector"] and state["detected"] == 0
    assert srv.runtime.detection.detector_status(cid).state == "unavailable"
