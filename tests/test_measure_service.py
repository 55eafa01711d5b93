"""MeasureService on SQLite and PostgreSQL with scripted frames: a counts source measures in counts
(never °C), an alarm is raised once and cleared once around a flat-field correction, and raising it
makes one alarm row, one event, one notification and the bus messages that mails and recordings use."""

from __future__ import annotations

import numpy as np
import pytest
from sqlalchemy import select

from tests.db_fixtures import db, db_url  # noqa: F401 - fixtures
from thermalstream.bus import EventBus
from thermalstream.db import repo
from thermalstream.db.models import Alarm, Event
from thermalstream.frame import FFCState, Frame, Radiometry
from thermalstream.measure import store
from thermalstream.measure.service import MeasureService
from thermalstream.notifications import NotificationService


def counts_frame(t: float, hot: float, level: float = 3000.0, ffc: FFCState = FFCState.IDLE) -> Frame:
    raw = np.full((60, 80), level, np.uint16)
    raw[20:30, 30:40] = int(level + hot)
    return Frame(np.zeros((60, 80), np.uint8), timestamp=t, raw=raw,
                 radiometry=Radiometry(calibrated=False, ffc_state=ffc))


def test_counts_alarm_raised_once_cleared_once_around_an_ffc(db):  # noqa: F811
    with db.session() as s:
        cid = repo.add_camera(s, "lepton3", "sim://").id
    bus = EventBus()
    seen: list[tuple[str, dict]] = []
    bus.subscribe(lambda e: seen.append((e.topic, dict(e.data))), "detection.event")
    bus.subscribe(lambda e: seen.append((e.topic, dict(e.data))), "alarm")
    notes = NotificationService(db, bus)
    svc = MeasureService(db, None, bus, notes)
    roi = store.create_roi(db, cid, "box", [[0.3, 0.3], [0.6, 0.6]], "hot spot")
    store.create_rule(db, cid, {"kind": "above", "roi_id": roi["id"], "high": 3500.0, "hysteresis": 50.0,
                                "min_duration_s": 0.2, "name": "too warm"})
    svc.reload(cid)
    cam = svc._cams[cid]
    svc._stop_cam(cam, join=True)  # frames are fed by hand here
    script = ([(0.0, 100, FFCState.IDLE)] + [(0.1 * i, 100, FFCState.IDLE) for i in range(1, 5)]
              # an FFC: the hot value jumps for its frames and the 2 s after them: no alarm
              + [(0.5, 900, FFCState.IN_PROGRESS), (0.6, 900, FFCState.IN_PROGRESS)]
              + [(0.7 + 0.1 * i, 900, FFCState.DONE) for i in range(19)]  # up to 2.5 s: held
              # then really warm for 1 s, back below the threshold minus hysteresis
              + [(3.0 + 0.1 * i, 700, FFCState.DONE) for i in range(10)]
              + [(4.0 + 0.1 * i, 480, FFCState.DONE) for i in range(5)]  # within hysteresis: still up
              + [(4.5 + 0.1 * i, 300, FFCState.DONE) for i in range(5)])
    changes = []
    for t, hot, ffc in script:
        changes += [(ch.state, round(ch.t, 1)) for ch in svc.process(cam, counts_frame(1e9 + t, hot, ffc=ffc))]
    assert changes == [("raised", 1e9 + 3.2), ("cleared", 1e9 + 4.5)]
    live = svc.live(cid)
    assert live["unit"] == "counts" and live["rois"][str(roi["id"])]["max"] == 3300.0
    with db.session() as s:
        [alarm] = s.scalars(select(Alarm)).all()
        [event] = s.scalars(select(Event)).all()
        assert (alarm.unit, alarm.value, alarm.peak, alarm.event_id) == ("counts", 3700.0, 3700.0, event.id)
        assert alarm.cleared_at is not None and alarm.cleared_at > alarm.raised_at
        assert (event.label, event.max_counts, event.max_celsius) == ("alarm", 3700.0, None)
        assert event.ended_at == alarm.cleared_at
    assert "°C" not in alarm.message and "counts" in alarm.message
    [note] = [n for n in notes.list(None) if n["title"] == "Alarm: too warm"]
    assert "°C" not in note["message"] and note["data"]["alarm_id"] == alarm.id
    assert [(topic, d["state"]) for topic, d in seen] == [("detection.event", "start"), ("alarm", "raised"),
                                                          ("detection.event", "end"), ("alarm", "cleared")]
    start = seen[0][1]
    assert start["kind"] == "alarm" and start["record"] is False and start["max_celsius"] is None
    assert svc.writer.pending() >= 4  # about one sample per second of frame time
    assert svc.writer.flush() >= 4


def test_deleting_a_raised_rule_clears_its_alarm(db):  # noqa: F811
    with db.session() as s:
        cid = repo.add_camera(s, "lab", "sim://").id
    svc = MeasureService(db, None, EventBus(), None)
    rule = store.create_rule(db, cid, {"kind": "above", "high": 3500.0})  # the whole frame
    svc.reload(cid)
    cam = svc._cams[cid]
    svc._stop_cam(cam, join=True)
    assert [c.state for c in svc.process(cam, counts_frame(1e9, 900))] == ["raised"]
    store.delete_rule(db, rule["id"])
    svc.reload(cid)
    [alarm] = store.list_alarms(db)
    assert alarm["cleared_at"] is not None and "deleted" in alarm["message"]
    assert cid not in svc._cams


@pytest.mark.parametrize("body, words", [({"kind": "above", "roi_id": 999}, "no ROI"),
                                         ({"kind": "difference", "high": 1.0}, "two different"),
                                         ({"kind": "outside", "low": 3.0, "high": 1.0}, "below")])
def test_rules_are_checked_before_they_are_stored(db, body, words):  # noqa: F811
    with db.session() as s:
        cid = repo.add_camera(s, "lab", "sim://").id
    with pytest.raises(LookupError if "ROI" in words else ValueError, match=words):
        store.create_rule(db, cid, body)
    assert store.list_rules(db) == []


def test_samples_are_one_a_second_and_picture_only_cameras_say_why(db):  # noqa: F811
    with db.session() as s:
        cid = repo.add_camera(s, "lab", "sim://").id
    svc = MeasureService(db, None, EventBus(), None, sample_hz=1.0)
    store.create_roi(db, cid, "spot", [[0.5, 0.5]])
    svc.reload(cid)
    cam = svc._cams[cid]
    svc._stop_cam(cam, join=True)
    for i in range(125):  # 5 s at 25 fps
        svc.process(cam, counts_frame(1e9 + i / 25, 0))
    assert svc.writer.pending() == 5
    svc.process(cam, counts_frame(1e9 + 60, 0))  # after a gap: one sample, then the grid goes on
    svc.process(cam, counts_frame(1e9 + 60.5, 0))
    svc.process(cam, counts_frame(1e9 + 61, 0))
    assert svc.writer.pending() == 7
    svc.process(cam, Frame(np.zeros((60, 80, 3), np.uint8), timestamp=1e9 + 62))
    live = svc.live(cid)
    assert live["unit"] is None and "pictures only" in live["error"]
