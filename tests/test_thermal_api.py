"""Issue 9 server test: ROIs, series, live values and alarms through the REST API of a real server.

An operator draws a box ROI on a simulated camera in which a warm person (34 °C on a 24 °C scene)
walks across, gets its series within seconds, sets an alarm above 30 °C, and sees one alarm, one
event (with its snapshot), one notification, one alert mail and, with event recording on, one
recording of it. Viewers cannot create ROIs; ROIs, rules and alarms of a camera a user may not see
answer 404.
"""

from __future__ import annotations

import pytest

import thermalstream as ts
from tests.auth_fixtures import Inbox, start_smtp
from tests.conftest import start_server, stop_server, wait_for

PW = "correct horse battery staple 9"
SIM = "sim://?width=160&height=128&people=1&vehicle=0&animal=0&ffc=0&seed=3"
BOX = [[0.3, 0.35], [0.7, 0.75]]  # the person walks through it every 12 s (from about 8 s on)


@pytest.fixture
def srv(tmp_path):
    inbox = Inbox()
    smtp = start_smtp(inbox)
    s = start_server(tmp_path, smtp_host="127.0.0.1", smtp_port=smtp.port, smtp_security="none")
    s.inbox = inbox
    users = s.runtime.auth.users
    users.create("olga", PW, "operator")
    users.create("oscar", PW, "operator")
    users.create("vera", PW, "viewer", "vera@example.test", email_alerts=True)
    try:
        yield s
    finally:
        stop_server(s)
        smtp.stop()


def test_operator_measures_a_warm_object_and_gets_one_alarm(srv):
    status, cam = srv.request("POST", "/api/cameras", {"url": SIM, "name": "lab"}, as_user="olga")
    assert status == 201, cam
    cid = cam["id"]
    status, mode = srv.request("PATCH", f"/api/cameras/{cid}/recording-mode",
                               {"mode": "events", "pre_s": 1, "post_s": 1}, as_user="olga")
    assert status == 200, mode
    assert srv.request("POST", f"/api/cameras/{cid}/rois", {"kind": "box", "points": BOX},
                       as_user="vera")[0] == 403
    status, roi = srv.request("POST", f"/api/cameras/{cid}/rois",
                              {"kind": "box", "name": "walkway", "points": BOX}, as_user="olga")
    assert status == 201 and roi["id"] and roi["points"] == BOX and roi["name"] == "walkway", roi
    rid = roi["id"]

    # live values and a series within seconds, in °C
    wait_for(lambda: srv.request("GET", f"/api/rois/{rid}/live", as_user="vera")[0] == 200, timeout=15,
             what="live ROI values")
    live = srv.request("GET", f"/api/rois/{rid}/live", as_user="vera")[1]
    assert live["unit"] == "°C" and -30 < live["min"] <= live["mean"] <= live["max"] < 40
    x, y = live["hot"]
    assert 48 <= x <= 112 and 44 <= y <= 96  # inside the box (pixels of 160x128)
    wait_for(lambda: len(srv.request("GET", f"/api/rois/{rid}/series", as_user="vera")[1]["points"]) >= 2,
             timeout=10, what="series points")
    pts = srv.request("GET", f"/api/rois/{rid}/series?resolution=raw", as_user="vera")[1]["points"]
    assert pts[0]["unit"] == "°C" and pts[0]["resolution"] == "raw"
    assert srv.request("GET", f"/api/rois/{rid}/series?resolution=weekly", as_user="vera")[0] == 400
    remote = ts.connect(srv.base, username="vera", password=PW).roi_series("walkway")  # the same through the API
    assert len(remote) >= 2 and set(remote["unit"]) == {"°C"} and str(remote["timestamp"].dt.tz) == "UTC"

    # an alarm above 30 °C, which the person crosses
    status, rule = srv.request("POST", f"/api/cameras/{cid}/alarm-rules",
                               {"kind": "above", "name": "warm body", "roi_id": rid, "high": 30.0,
                                "hysteresis": 1.0, "min_duration_s": 0.3, "record": True}, as_user="olga")
    assert status == 201, rule
    assert srv.request("POST", f"/api/cameras/{cid}/alarm-rules", {"kind": "above", "roi_id": rid},
                       as_user="olga")[0] == 400  # no threshold
    alarms = lambda: srv.request("GET", f"/api/alarms?camera={cid}", as_user="vera")[1]["alarms"]  # noqa: E731
    wait_for(lambda: len(alarms()) >= 1, timeout=30, what="the alarm")
    [alarm] = alarms()
    assert alarm["name"] == "warm body" and alarm["unit"] == "°C" and alarm["value"] > 30
    assert alarm["raised_at"] and alarm["event_id"] and alarm["acknowledged_at"] is None

    events = srv.request("GET", f"/api/events?camera={cid}&class=alarm", as_user="vera")[1]["events"]
    assert [e["id"] for e in events] == [alarm["event_id"]]
    wait_for(lambda: srv.request("GET", f"/api/events/{alarm['event_id']}/snapshot.jpg", as_user="vera")[0] == 200,
             timeout=10, what="the alarm snapshot")
    notes = [n for n in srv.runtime.notifications.list(None) if n["title"].startswith("Alarm")]
    assert len(notes) == 1 and "walkway" in notes[0]["message"] and "°C" in notes[0]["message"]
    [mail] = srv.inbox.wait(1, timeout=15)
    assert "Alarm: warm body on lab" in mail["Subject"]
    wait_for(lambda: any(r["event_id"] == alarm["event_id"] for r in
                         srv.request("GET", f"/api/recordings?camera={cid}", as_user="vera")[1]["recordings"]),
             timeout=20, what="the alarm's event recording")
    recs = srv.request("GET", f"/api/recordings?camera={cid}", as_user="vera")[1]["recordings"]
    assert len([r for r in recs if r["event_id"] == alarm["event_id"]]) == 1

    # the alarm clears once (the person leaves), both moments kept; a viewer acknowledges it
    wait_for(lambda: alarms()[-1]["cleared_at"] is not None, timeout=30, what="the alarm to clear")
    first = alarms()[-1]
    assert first["cleared_at"] > first["raised_at"] and first["peak"] >= first["value"]
    status, acked = srv.request("PATCH", f"/api/alarms/{first['id']}", {"acknowledged": True}, as_user="vera")
    assert status == 200 and acked["acknowledged_at"] and acked["acknowledged_by"]
    assert srv.request("PATCH", f"/api/alarms/{first['id']}", {"acknowledged": False}, as_user="vera")[0] == 400


def test_rois_of_cameras_a_user_may_not_see_answer_404(srv):
    status, cam = srv.request("POST", "/api/cameras", {"url": SIM, "name": "olga's"}, as_user="olga")
    assert status == 201
    srv.runtime.cameras.share(cam["id"], user_id=srv.runtime.auth.users.get("olga")["id"])
    status, roi = srv.request("POST", f"/api/cameras/{cam['id']}/rois",
                              {"kind": "line", "points": [[0, 0.5], [1, 0.5]]}, as_user="olga")
    assert status == 201 and roi["name"] == "line 1"
    status, rule = srv.request("POST", f"/api/cameras/{cam['id']}/alarm-rules",
                               {"kind": "below", "low": -100, "roi_id": roi["id"]}, as_user="olga")
    assert status == 201
    wait_for(lambda: srv.request("GET", f"/api/rois/{roi['id']}/live", as_user="olga")[0] == 200, timeout=15,
             what="live values")
    live = srv.request("GET", f"/api/rois/{roi['id']}/live", as_user="olga")[1]
    assert len(live["profile"]) == 160  # a line across the image: one value per column
    # a whole-frame alarm that is up at once: its owner sees it, others do not and cannot acknowledge it
    status, hot = srv.request("POST", f"/api/cameras/{cam['id']}/alarm-rules", {"kind": "above", "high": -100},
                              as_user="olga")
    assert status == 201 and hot["roi_id"] is None
    wait_for(lambda: srv.request("GET", "/api/alarms", as_user="olga")[1]["alarms"], timeout=15, what="the alarm")
    [mine] = srv.request("GET", "/api/alarms", as_user="olga")[1]["alarms"]
    assert mine["rule_id"] == hot["id"] and mine["roi_id"] is None and mine["cleared_at"] is None
    assert srv.request("GET", "/api/alarms", as_user="oscar")[1]["alarms"] == []
    assert srv.request("GET", f"/api/alarms?camera={cam['id']}", as_user="oscar")[0] == 404
    assert srv.request("PATCH", f"/api/alarms/{mine['id']}", {"acknowledged": True}, as_user="oscar")[0] == 404
    rid, path = roi["id"], f"/api/rois/{roi['id']}"
    for method, probe, body in (("GET", path, None), ("PATCH", path, {"name": "x"}), ("DELETE", path, None),
                                ("GET", path + "/series", None), ("GET", path + "/live", None),
                                ("GET", f"/api/cameras/{cam['id']}/rois", None),
                                ("POST", f"/api/cameras/{cam['id']}/rois", {"kind": "spot", "points": [[0.5, 0.5]]}),
                                ("GET", f"/api/alarm-rules/{rule['id']}", None),
                                ("DELETE", f"/api/alarm-rules/{rule['id']}", None)):
        assert srv.request(method, probe, body, as_user="oscar")[0] == 404, (method, probe)
    assert srv.request("GET", "/api/rois/999999", as_user="olga")[0] == 404
    # the owner still has it, and bad bodies are clear 400s
    assert srv.request("GET", path, as_user="olga")[1]["id"] == rid
    for bad in ({"points": [[0.1, 0.1]]}, {"points": [[2, 0.5], [0.1, 0.1]]}, {"kind": "polygon"},
                {"colour": "red"}):
        status, err = srv.request("PATCH", path, bad, as_user="olga")
        assert status == 400 and err["error"], (bad, err)
    status, moved = srv.request("PATCH", path, {"kind": "box", "points": [[0.1, 0.1], [0.2, 0.3]], "name": "b"},
                                as_user="olga")
    assert status == 200 and moved["kind"] == "box" and moved["name"] == "b"
    assert srv.request("DELETE", path, as_user="olga")[0] == 200
    assert srv.request("GET", path, as_user="olga")[0] == 404
    assert srv.request("GET", f"/api/alarm-rules/{rule['id']}", as_user="olga")[0] == 404  # went with its ROI
