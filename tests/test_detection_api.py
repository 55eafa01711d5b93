"""Detection through the server: switching it on, boxes on the live view, rows, events, screenshots,
filtered queries, and bad input. The detector is the real hotspot detector on the simulator's °C."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from tests.conftest import start_server, stop_server, wait_for

SIM = "sim://?people=1&vehicle=0&animal=0&seed=10&width=320&height=256&fps=25"


def coloured_pixels(jpeg: bytes) -> int:
    img = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR).astype(int)
    return int((np.abs(img[..., 0] - img[..., 2]) > 60).sum())


@pytest.fixture
def detecting(tmp_path):
    server = start_server(tmp_path, hotspot_threshold_c=26.0)  # people are ~30-34 °C, the scene is colder
    try:
        yield _live_camera(server)
    finally:
        stop_server(server)


def _live_camera(server):
    status, cam = server.request("POST", "/api/cameras", {"url": SIM, "name": "yard"})
    assert status == 201
    cid = cam["id"]
    wait_for(lambda: server.camera(cid)["status"] == "live", what="live")
    assert server.request("PATCH", f"/api/cameras/{cid}", {"palette": "white-hot"})[0] == 200
    return server, cid


def test_detection_on_draws_boxes_and_stores_events(detecting):
    server, cid = detecting
    snap = f"/api/cameras/{cid}/snapshot.jpg"
    assert coloured_pixels(server.open(snap, timeout=5).read()) == 0  # white-hot, no boxes yet

    status, cfg = server.request("PATCH", f"/api/cameras/{cid}/detection", {"enabled": True, "fps": 5})
    assert status == 200 and cfg["enabled"] is True
    wait_for(lambda: coloured_pixels(server.open(snap, timeout=5).read()) > 50, timeout=30,
             what="boxes drawn on the live view")
    wait_for(lambda: server.request("GET", f"/api/detections?camera={cid}")[1]["total"] > 3, timeout=30,
             what="detection rows")
    wait_for(lambda: server.request("GET", f"/api/events?camera={cid}")[1]["total"] >= 1, what="an event")

    status, page = server.request("GET", f"/api/detections?camera={cid}&class=hotspot&limit=2")
    assert status == 200 and len(page["detections"]) == 2 and page["limit"] == 2
    d = page["detections"][0]
    assert d["label"] == "hotspot" and d["max_celsius"] > 25 and len(d["box"]) == 4
    assert server.request("GET", f"/api/detections?camera={cid}&class=person")[1]["total"] == 0
    assert server.request("GET", "/api/detections?since=2999-01-01T00:00:00Z")[1]["total"] == 0

    events = server.request("GET", f"/api/events?camera={cid}")[1]["events"]
    ev = events[-1]
    wait_for(lambda: server.request("GET", f"/api/events/{ev['id']}/snapshot.jpg")[0] == 200, what="event snapshot")
    img = server.open(f"/api/events/{ev['id']}/snapshot.jpg", timeout=5).read()
    assert img[:2] == b"\xff\xd8"
    shot = [x for x in server.request("GET", f"/api/detections?camera={cid}&limit=500")[1]["detections"]
            if x["screenshot"]]
    assert shot and server.request("GET", f"/api/detections/{shot[0]['id']}/screenshot.jpg")[0] == 200
    notes = [n["title"] for n in server.runtime.notifications.list(None, limit=50)]
    assert any("hotspot" in t.lower() for t in notes)
    assert server.request("GET", "/health")[1]["model"]["status"] == "ready"

    status, cfg = server.request("PATCH", f"/api/cameras/{cid}/detection", {"enabled": False})
    assert status == 200 and cfg["enabled"] is False
    wait_for(lambda: coloured_pixels(server.open(snap, timeout=5).read()) == 0, what="boxes gone")


@pytest.mark.parametrize("body, fragment", [
    ({"min_confidence": 1.5}, "between 0 and 1"),
    ({"min_confidence": -0.1}, "between 0 and 1"),
    ({"labels": ["unicorn"]}, "unknown class"),
    ({"fps": 0}, "fps"),
    ({"colour": "red"}, "unknown"),
    ({}, "give one or more"),
])
def test_detection_settings_bad_input(detecting, body, fragment):
    server, cid = detecting
    status, err = server.request("PATCH", f"/api/cameras/{cid}/detection", body)
    assert status == 400 and fragment in err["error"]


def test_queries_bad_input_and_unknown_ids(server):
    assert server.request("GET", "/api/detections?min_confidence=2")[0] == 400
    assert server.request("GET", "/api/detections?limit=abc")[0] == 400
    assert server.request("GET", "/api/detections?since=notatime")[0] == 400
    assert server.request("GET", "/api/detections/999/screenshot.jpg")[0] == 404
    assert server.request("GET", "/api/events/999/snapshot.jpg")[0] == 404
    assert server.request("PATCH", "/api/cameras/999/detection", {"enabled": True})[0] == 404


def test_zones_round_trip_and_validation(detecting):
    server, cid = detecting
    zones = {"masks": [{"name": "radiator", "points": [[0, 0], [0.2, 0], [0.2, 0.2]]}],
             "zones": [{"name": "door", "points": [[0.5, 0.5], [1, 0.5], [1, 1], [0.5, 1]], "required": True}]}
    status, body = server.request("PUT", f"/api/cameras/{cid}/zones", zones)
    assert status == 200
    got = server.request("GET", f"/api/cameras/{cid}/zones")[1]
    assert [m["name"] for m in got["masks"]] == ["radiator"] and got["zones"][0]["required"] is True
    assert server.request("PUT", f"/api/cameras/{cid}/zones", {"zones": [{"name": "x", "points": [[0, 0]]}]})[0] == 400


def test_websocket_message_switches_detection(detecting):
    server, cid = detecting
    ws = server.ws("/ws/updates", timeout=10)
    try:
        ws.send(json.dumps({"type": "detect", "camera_id": cid, "enabled": True}))
        reply = None
        while reply is None or reply["topic"] not in ("detect.ok", "error"):
            reply = json.loads(ws.recv())
        assert reply["topic"] == "detect.ok" and reply["data"]["enabled"] is True
        assert server.runtime.detection.enabled(cid)
        ws.send(json.dumps({"type": "detect", "camera_id": "x"}))
        while (reply := json.loads(ws.recv()))["topic"] != "error":
            pass
        assert "camera_id" in reply["data"]["message"]
    finally:
        ws.close()


def test_notebook_dataframe(detecting):
    import thermalstream as ts

    server, cid = detecting
    server.request("PATCH", f"/api/cameras/{cid}/detection", {"enabled": True})
    wait_for(lambda: server.request("GET", f"/api/detections?camera={cid}")[1]["total"] > 2, timeout=30,
             what="rows")
    df = ts.detections(camera=cid, database_url=server.runtime.settings.db_url)
    assert len(df) > 2 and {"label", "confidence", "timestamp", "camera_id"} <= set(df.columns)
    assert (df["label"] == "hotspot").all() and str(df["timestamp"].dt.tz) == "UTC"


def test_zones_are_drawn_on_the_live_view(detecting):
    server, cid = detecting
    snap = f"/api/cameras/{cid}/snapshot.jpg"
    # detection on, but only for a class the hotspot detector never reports: no boxes, only the zone
    server.request("PATCH", f"/api/cameras/{cid}/detection", {"enabled": True, "labels": ["person"]})
    assert coloured_pixels(server.open(snap, timeout=5).read()) == 0
    zone = {"zones": [{"name": "door", "points": [[0.1, 0.1], [0.5, 0.1], [0.5, 0.5], [0.1, 0.5]]}]}
    assert server.request("PUT", f"/api/cameras/{cid}/zones", zone)[0] == 200
    wait_for(lambda: coloured_pixels(server.open(snap, timeout=5).read()) > 100, what="zone outline")
