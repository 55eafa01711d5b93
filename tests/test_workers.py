"""Cameras on local worker processes (THERMALSTREAM_WORKERS=processes): live pictures over the real
/ws/video socket, recording and detection through the API, and supervision: a worker killed with
SIGKILL gives its cameras to another worker within 5 s, the recording gap is recorded, and a
camera on another worker does not stall.

The camera, recording and detection API test files also run on this backend unchanged:
``THERMALSTREAM_WORKERS=processes THERMALSTREAM_WORKER_PROCESSES=2 pytest tests/test_recording_api.py``.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import struct
import threading
import time

import pytest

from tests.conftest import start_server, stop_server, wait_for
from thermalstream.record.recorder import read_manifest

SIM = "sim://?people=2&width=320&height=256&fps=20&seed={seed}"


@pytest.fixture
def proc_server(tmp_path):
    srv = start_server(tmp_path, workers="processes", worker_processes=2, record_segment_seconds=1.0)
    try:
        assert srv.runtime.cameras.workers.wait_ready(120), "worker processes did not start"
        yield srv
    finally:
        stop_server(srv)


def live_camera(srv, seed: int) -> int:
    status, cam = srv.request("POST", "/api/cameras", {"url": SIM.format(seed=seed), "name": f"cam{seed}"})
    assert status == 201, cam
    wait_for(lambda: srv.camera(cam["id"])["status"] == "live", timeout=30, what="camera live")
    return cam["id"]


class Viewer(threading.Thread):
    """A real /ws/video client that notes (arrival time, capture time) of every picture."""

    def __init__(self, srv, cid: int) -> None:
        super().__init__(daemon=True)
        self.ws = srv.ws(f"/ws/video/{cid}", timeout=30)
        self.frames: list[tuple[float, float]] = []
        self.bad = 0  # messages that are not the 8-byte time + a JPEG
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            try:
                msg = self.ws.recv()
            except Exception:  # noqa: BLE001 - closed at the end of the test
                return
            if self.done.is_set():
                return
            if not (isinstance(msg, bytes) and msg[8:10] == b"\xff\xd8"):
                self.bad += 1
                continue
            self.frames.append((time.time(), struct.unpack(">d", msg[:8])[0] / 1000.0))

    def first_captured_after(self, t: float) -> float | None:
        """Arrival time of the first picture captured after ``t``."""
        return next((arrived for arrived, captured in list(self.frames) if captured > t), None)

    def longest_pause(self, since: float, until: float) -> float:
        times = [a for a, _ in list(self.frames) if since <= a <= until]
        return max((b - a for a, b in itertools.pairwise(times)), default=until - since)

    def close(self) -> None:
        self.done.set()
        self.ws.close()


def owner_pid(srv, cid: int) -> tuple[str, int]:
    for w in srv.runtime.cameras.workers.health()["workers"]:
        if cid in w["cameras"]:
            return w["id"], w["pid"]
    raise AssertionError(f"camera {cid} runs on no worker")


def test_sigkill_worker_cameras_move_and_gap_is_recorded(proc_server, record_property):
    srv = proc_server
    a, b = live_camera(srv, 1), live_camera(srv, 2)
    (wa, pid_a), (wb, _) = owner_pid(srv, a), owner_pid(srv, b)
    assert wa != wb and pid_a != os.getpid(), "two cameras on two worker processes"
    status, rec = srv.request("POST", "/api/recording/start", {"camera_id": a})
    assert status == 201 and rec["status"] == "recording"
    viewers = {cid: Viewer(srv, cid) for cid in (a, b)}
    for v in viewers.values():
        v.start()
    wait_for(lambda: all(len(v.frames) > 10 for v in viewers.values()), timeout=30, what="pictures on both sockets")
    wait_for(lambda: srv.request("GET", f"/api/recordings/{rec['id']}")[1]["segments"] >= 1, timeout=30,
             what="a closed segment before the kill")

    os.kill(pid_a, signal.SIGKILL)
    killed = time.time()
    wait_for(lambda: viewers[a].first_captured_after(killed), timeout=5.0, interval=0.05,
             what="camera A's pictures on the same socket again within 5 s")
    back = viewers[a].first_captured_after(killed) - killed
    new_owner, new_pid = owner_pid(srv, a)
    assert new_owner != wa and new_pid != pid_a and back < 5.0
    leases = {x["camera_id"]: x for x in srv.runtime.workers.leases.list()}
    assert (leases[a]["worker_id"], leases[a]["pid"], leases[a]["moves"]) == (new_owner, new_pid, 1)
    assert (leases[b]["worker_id"], leases[b]["moves"]) == (wb, 0)
    record_property("seconds_until_live_again", round(back, 3))
    time.sleep(1.0)
    assert viewers[b].longest_pause(killed - 1.0, time.time()) < 1.0, "camera B stalled while A moved"
    assert srv.camera(a)["status"] == "live"

    # the old recording is closed from its folder, the gap recorded; recording went on in a new one
    wait_for(lambda: srv.request("GET", f"/api/recordings/{rec['id']}")[1]["status"] != "recording", timeout=30,
             what="the dead worker's recording closed")
    old = srv.request("GET", f"/api/recordings/{rec['id']}")[1]
    assert old["status"] == "completed" and old["segments"] >= 1 and "died" in old["error"]
    assert len(old["gaps"]) == 1 and "died" in old["gaps"][0]["reason"] and old["gaps"][0]["end"]
    listing = srv.request("GET", f"/api/recordings?camera={a}")[1]["recordings"]
    new = next(r for r in listing if r["id"] != rec["id"])
    assert new["status"] == "recording" and f"recording {new['id']}" in old["gaps"][0]["reason"]
    manifest = read_manifest(srv.runtime.recordings.resolve(old["path"]))
    assert manifest["continued_in"] == new["id"] and manifest["gaps"][-1]["end"] > manifest["gaps"][-1]["start"]
    notes = srv.runtime.notifications.list(None, limit=50)
    lost = [n for n in notes if n["title"] == "Recording interrupted: worker lost"]
    assert lost and lost[0]["data"]["previous_recording_id"] == rec["id"] and lost[0]["data"]["gap_end"]

    status, done = srv.request("POST", "/api/recording/stop", {"camera_id": a})
    assert status == 200 and done["id"] == new["id"] and done["status"] == "completed" and done["frames"] > 0
    for v in viewers.values():
        v.close()
        assert v.bad == 0
    wait_for(lambda: len(srv.runtime.cameras.workers.health()["workers"]) == 2, timeout=120,
             what="a replacement worker process")
    shown = srv.request("GET", "/health")[1]["workers"]  # the admin sees the workers, their pids and cameras
    assert shown["backend"] == "processes" and shown["restarts"] >= 1 and len(shown["workers"]) == 2
    assert pid_a not in {w["pid"] for w in shown["workers"]} and a in {c for w in shown["workers"] for c in w["cameras"]}


def test_api_on_worker_processes(proc_server):
    """Settings, snapshots, temperatures and detection reach the camera's worker."""
    srv = proc_server
    cid = live_camera(srv, 3)
    _wid, pid = owner_pid(srv, cid)
    assert pid != os.getpid()
    snap = srv.open(f"/api/cameras/{cid}/snapshot.jpg").read()
    assert snap[:2] == b"\xff\xd8"
    # the frame rate comes with the worker's periodic stats: a moment after "live", not with it
    cam = wait_for(lambda: (lambda c: c if c["fps"] > 5 else None)(srv.camera(cid)), timeout=15,
                   what="the worker's frame rate")
    assert cam["temperature"]["unit"] == "°C" and cam["width"] == 320
    status, t = srv.request("GET", f"/api/cameras/{cid}/temperature?x=10&y=10")
    assert status == 200 and t["unit"] == "°C" and -40 < t["value"] < 150
    assert srv.request("GET", f"/api/cameras/{cid}/temperature?x=999&y=10")[0] == 400

    status, body = srv.request("PATCH", f"/api/cameras/{cid}/display", {"span": "fixed", "lo": 10, "hi": 20})
    assert status == 200, body
    ws = srv.ws(f"/ws/video/{cid}")
    try:
        ws.recv()
        wait_for(lambda: srv.request("GET", f"/api/cameras/{cid}/display")[1]["scale"] == {
            "lo": 10.0, "hi": 20.0, "unit": "°C"}, timeout=10, what="the worker drawing with the fixed span")
    finally:
        ws.close()

    status, body = srv.request("PATCH", f"/api/cameras/{cid}/detection", {"enabled": True, "fps": 5})
    assert status == 200 and body["enabled"] is True, body
    wait_for(lambda: srv.request("GET", "/health")[1]["model"]["status"] == "ready", timeout=30,
             what="the worker's detector ready")
    wait_for(lambda: srv.request("GET", f"/api/detections?camera={cid}")[1]["total"] > 0, timeout=60,
             what="detections written by the worker")

    assert srv.request("POST", f"/api/cameras/{cid}/disconnect")[0] == 200
    wait_for(lambda: cid not in srv.runtime.cameras.workers.health()["workers"][0]["cameras"] + (
        srv.runtime.cameras.workers.health()["workers"][1]["cameras"]), what="camera stopped on its worker")
    assert srv.camera(cid)["connected"] is False
    assert json.dumps(srv.request("GET", "/health")[1])  # health answers with the workers gone quiet
