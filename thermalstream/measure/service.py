"""MeasureService: every camera with ROIs or alarm rules is measured frame by frame on its own thread.

Per frame: ROI statistics (:class:`RoiSet`), the FFC guard, alarm rules (:class:`AlarmEngine`). The
newest values are kept for live views (:meth:`live`); every ``1 / sample_hz`` seconds a sample of
each ROI is queued, and one writer thread stores the queue in batches, folds finished minutes into
aggregates and, every hour, prunes by the retention settings.

Raising an alarm (once) stores an ``alarms`` row and an event (label ``alarm``, with a snapshot, in
the events table beside detection events), sends a warning notification, and publishes
``detection.event`` (``kind`` "alarm", ``record`` from the rule) so that alert mails go out and an
event recording starts where the camera records on events. Clearing it (once) stores the moment,
ends the event and publishes the end. Both are also published as bus topic ``alarm``, and so is
an acknowledgement (state ``acknowledged``, :meth:`MeasureService.acknowledge`: pages only, integrations
do not carry it).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from thermalstream.db.models import Alarm, Event
from thermalstream.db.outage import log_failure
from thermalstream.detect.types import Box, Detection
from thermalstream.frame import COUNTS, Frame
from thermalstream.measure import series, store
from thermalstream.measure.alarms import AlarmEngine, Change, FFCGuard
from thermalstream.measure.geometry import Roi, RoiSet, RoiStats, frame_stats

log = logging.getLogger(__name__)

TOPIC_ALARM = "alarm"
TOPIC_CHANGED = "roi.changed"  # a camera's ROIs or alarm rules changed
TOPIC_SAMPLES = "roi.samples"  # ROI samples were stored (every 2 s while any ROI is sampled)
TOPIC_EVENT = "detection.event"
JUMP = {"°C": 0.5, COUNTS: 15.0}  # whole-frame level jump (per frame) taken as a flat-field correction


@dataclass
class _Cam:
    camera_id: int
    rois: RoiSet
    names: dict[int, str]
    engine: AlarmEngine
    rules: dict[int, Any]
    whole: bool
    guard: FFCGuard = field(default_factory=FFCGuard)
    latest: dict[str, Any] | None = None
    active: dict[int, int] = field(default_factory=dict)  # rule id -> alarm id
    raised_t: dict[int, float] = field(default_factory=dict)  # rule id -> when raised (matches the end to its start)
    next_sample: float = 0.0
    thread: threading.Thread | None = None
    stop: threading.Event = field(default_factory=threading.Event)
    frames: int = 0
    cost_s: float = 0.0


class MeasureService:
    def __init__(self, db, manager, bus, notes, *, sample_hz: float = 1.0, raw_days: float = 7.0,
                 minute_days: float | None = 365.0, detection=None, camera_name=None) -> None:
        self.db, self.manager, self.bus, self.notes = db, manager, bus, notes
        self.sample_hz, self.raw_days, self.minute_days = sample_hz, raw_days, minute_days
        self.detection = detection  # DetectionService: its store writes the snapshots
        self.camera_name = camera_name or (lambda cid: f"camera {cid}")
        self.writer = series.SeriesWriter(db)
        self._cams: dict[int, _Cam] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._unsubs: list = []
        self.raised = 0
        self.cleared = 0

    # ----- lifecycle
    def start(self) -> MeasureService:
        for cid in store.cameras_with_rois(self.db):
            self.reload(cid)
        self._unsubs.append(self.bus.subscribe(self._on_removed, "camera.removed"))
        self._thread = threading.Thread(target=self._write_loop, name="roi-series", daemon=True)
        self._thread.start()
        return self

    def shutdown(self) -> None:
        for u in self._unsubs:
            u()
        with self._lock:
            cams, self._cams = list(self._cams.values()), {}
        for c in cams:
            self._stop_cam(c, join=True)
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
        try:
            self.writer.flush()
        except Exception:  # noqa: BLE001
            log_failure(log, "ROI samples could not be written at shutdown")

    def _on_removed(self, event) -> None:
        cid = event.data.get("camera_id")
        with self._lock:
            c = self._cams.pop(cid, None)
        if c is not None:
            self._stop_cam(c)

    @staticmethod
    def _stop_cam(c: _Cam, join: bool = False) -> None:
        c.stop.set()
        if join and c.thread is not None and c.thread is not threading.current_thread():
            c.thread.join(5)

    def reload(self, camera_id: int) -> None:
        """Re-read a camera's ROIs and rules (after any change; bus topic ``roi.changed`` tells open pages);
        raised alarms of kept rules stay raised."""
        self.bus.publish(TOPIC_CHANGED, {"camera_id": camera_id})
        rois, rules = store.camera_config(self.db, camera_id)
        with self._lock:
            old = self._cams.pop(camera_id, None)
        if old is not None:
            self._stop_cam(old)
        before = old.active if old else self._open_alarms(camera_id)
        active = {rid: aid for rid, aid in before.items() if any(r.id == rid for r in rules)}
        gone = [aid for rid, aid in before.items() if rid not in active]
        if gone:  # told like a clearing: integrations and pages must not show them raised for ever
            for data in store.close_alarms(self.db, gone, "its rule was deleted or switched off"):
                self.cleared += 1
                self.bus.publish(TOPIC_EVENT, {**data, "state": "end", "label": "alarm"})
                self.bus.publish(TOPIC_ALARM, {**data, "state": "cleared"})
        if not rois and not rules:
            return
        engine = AlarmEngine([store.to_rule(r) for r in rules])
        for rid in active:
            engine.restore(rid, True)
        c = _Cam(camera_id, RoiSet([Roi(r.id, r.kind, r.points, r.name) for r in rois]),
                 {r.id: r.name for r in rois}, engine, {r.id: r for r in rules},
                 any(r.roi_id is None for r in rules), active=active)
        c.thread = threading.Thread(target=self._run, args=(c,), name=f"measure-{camera_id}", daemon=True)
        with self._lock:
            self._cams[camera_id] = c
        c.thread.start()

    def acknowledge(self, alarm_id: int, user_id: int | None, visible: set[int] | None = None) -> dict[str, Any]:
        """Acknowledge an alarm (the first acknowledgement is kept; another camera's: ``store.NotFound``) and
        announce it on the bus, so every open page shows it acknowledged (from a page or the API)."""
        alarm, newly = store.acknowledge(self.db, alarm_id, user_id, visible)
        if newly:
            self.bus.publish(TOPIC_ALARM, {"state": "acknowledged", "kind": "alarm", "camera_id": alarm["camera_id"],
                                           "alarm_id": alarm["id"], "event_id": alarm["event_id"],
                                           "rule_id": alarm["rule_id"], "name": alarm["name"],
                                           "acknowledged_at": alarm["acknowledged_at"],
                                           "acknowledged_by": alarm["acknowledged_by"]})
        return alarm

    def _open_alarms(self, camera_id: int) -> dict[int, int]:
        return {a["rule_id"]: a["id"] for a in store.list_alarms(self.db, camera_id=camera_id, active=True,
                                                                  limit=1000) if a["rule_id"] is not None}

    def records_alarms(self, camera_id: int) -> bool:
        """Whether an alarm rule of the camera asks for event recordings (keeps its pre-capture buffer on)."""
        c = self._cams.get(camera_id)
        return c is not None and any(r.record for r in c.rules.values())

    def _camera_name(self, camera_id: int) -> str:
        try:
            return str(self.camera_name(camera_id))
        except Exception:  # noqa: BLE001 - a camera deleted meanwhile
            return f"camera {camera_id}"

    # ----- live values
    def live(self, camera_id: int) -> dict[str, Any] | None:
        """Newest values of a camera: ``{t, unit, ffc, width, height, rois: {"id": stats}, alarms: [rule ids
        up]}`` (None when it is not measured); the dicts are made here, not per frame."""
        c = self._cams.get(camera_id)
        latest = None if c is None else c.latest
        if latest is None or "stats" not in latest:
            return latest
        (h, w), unit = latest["shape"], latest["unit"]
        return {"t": latest["t"], "unit": unit, "ffc": latest["ffc"], "width": w, "height": h,
                "alarms": latest["alarms"],
                "rois": {str(k): {"name": c.names.get(k, ""), **v.to_dict(w, h, unit)}
                         for k, v in latest["stats"].items() if k is not None}}

    def roi_live(self, camera_id: int, roi_id: int) -> dict[str, Any] | None:
        latest = self.live(camera_id)
        if latest is None or str(roi_id) not in latest["rois"]:
            return None
        return {"t": latest["t"], "ffc": latest["ffc"], **latest["rois"][str(roi_id)]}

    def stats(self) -> dict[str, Any]:
        return {"cameras": len(self._cams), "raised": self.raised, "cleared": self.cleared,
                "samples_written": self.writer.written, "samples_pending": self.writer.pending(),
                "ms_per_frame": {c.camera_id: round(c.cost_s / c.frames * 1000, 3) if c.frames else None
                                 for c in list(self._cams.values())}}

    # ----- the camera loops
    def _run(self, c: _Cam) -> None:
        if self.manager is None:  # no cameras to read (frames are given to process() directly)
            return
        seq, source = -1, None
        while not c.stop.is_set() and not self._stop.is_set():
            cam = self.manager.get(c.camera_id)
            if cam is None:
                c.stop.wait(0.5)
                continue
            if cam is not source:  # a reconnected camera counts its frames from 0 again
                seq, source = -1, cam
            frame = cam.wait_frame(seq, timeout=1.0)
            if frame is None or frame.seq == seq:
                continue
            seq = frame.seq
            try:
                self.process(c, frame)
            except Exception:  # noqa: BLE001 - one bad frame must not end the loop
                log_failure(log, f"camera {c.camera_id}: measuring a frame failed")
                c.stop.wait(0.5)

    def process(self, c: _Cam, frame: Frame) -> list[Change]:
        """Measure one frame, evaluate the rules, queue a sample when due; returns alarm changes."""
        values = frame.measurement()
        if values is None:
            c.latest = {"t": frame.timestamp, "unit": None, "ffc": False, "rois": {}, "alarms": [],
                        "error": "this camera gives pictures only: nothing to measure"}
            return []
        t0 = time.perf_counter()
        unit = frame.temperature_unit
        stats: dict[Any, RoiStats] = c.rois.measure(values) if len(c.rois) else {}
        if c.whole:
            stats[None] = frame_stats(values)
        c.guard.jump = JUMP.get(unit or "", 0.5)
        ffc = c.guard(frame, values)
        changes = c.engine.update(frame.timestamp, stats, ffc=ffc)
        c.frames += 1
        c.cost_s += time.perf_counter() - t0
        c.latest = {"t": frame.timestamp, "unit": unit, "ffc": ffc, "shape": values.shape[:2], "stats": stats,
                    "alarms": [rid for rid, on in c.engine.active().items() if on]}
        if frame.timestamp >= c.next_sample:  # on a 1/sample_hz grid; after a gap, from this frame on
            step = 1.0 / self.sample_hz
            c.next_sample += step
            if c.next_sample <= frame.timestamp:
                c.next_sample = frame.timestamp + step
            for k, v in stats.items():
                if k is not None:
                    self.writer.add(k, frame.timestamp, v.min, v.max, v.mean, v.std, unit or "")
        for ch in changes:
            try:
                self._raise(c, ch, frame, stats, unit) if ch.state == "raised" else self._clear(c, ch, unit)
            except Exception:  # noqa: BLE001
                log_failure(log, f"camera {c.camera_id}: alarm {ch.rule.name!r} could not be stored")
        return changes

    # ----- alarms
    def _describe(self, c: _Cam, ch: Change, unit: str | None) -> str:
        r = ch.rule
        where = c.names.get(r.roi, "whole frame") if r.roi is not None else "whole frame"
        u = f"{unit}/min" if r.kind == "rise" else (unit or "")
        limit = {"above": f"above {r.high}", "below": f"below {r.low}", "outside": f"outside {r.low}..{r.high}",
                 "rise": f"rising faster than {r.high}", "difference": f"more than {r.high} above "
                 f"{c.names.get(r.other, 'the other ROI')}"}[r.kind]
        return f"{where}: {r.statistic} {ch.value:.2f} {u} ({limit} {u})".replace("  ", " ")

    def _raise(self, c: _Cam, ch: Change, frame: Frame, stats: dict, unit: str | None) -> None:
        rule = c.rules[ch.rule.id]
        started = datetime.fromtimestamp(ch.t, UTC)
        text = self._describe(c, ch, unit)
        value = stats[rule.roi_id].max if rule.roi_id in stats else ch.value
        alarm_id = event_id = None
        try:
            with self.db.session() as s:
                ev = Event(camera_id=c.camera_id, label="alarm", started_at=started, max_confidence=1.0,
                           max_celsius=value if unit == "°C" else None,
                           max_counts=value if unit == COUNTS else None)
                s.add(ev)
                s.flush()
                row = Alarm(rule_id=rule.id, camera_id=c.camera_id, roi_id=rule.roi_id, event_id=ev.id,
                            name=rule.name, kind=rule.kind, raised_at=started, value=ch.value, peak=ch.peak,
                            unit=unit or "", message=text)
                s.add(row)
                s.flush()
                alarm_id, event_id = row.id, ev.id
        except Exception:  # noqa: BLE001 - a database outage: the alarm is still announced (and kept in memory)
            log_failure(log, f"camera {c.camera_id}: alarm {rule.name!r} could not be saved")
        self.raised += 1
        c.raised_t[rule.id] = ch.t
        if alarm_id is not None:
            c.active[rule.id] = alarm_id
            self._snapshot(c, rule, frame, event_id)
        name = self._camera_name(c.camera_id)
        data = {"kind": "alarm", "camera_id": c.camera_id, "alarm_id": alarm_id, "event_id": event_id,
                "rule_id": rule.id, "roi_id": rule.roi_id, "name": rule.name, "value": round(ch.value, 3),
                "unit": unit, "message": text}
        self.bus.publish(TOPIC_EVENT, {**data, "state": "start", "label": "alarm", "record": bool(rule.record),
                                       "started_at": ch.t, "confidence": 1.0, "camera": name,
                                       "max_celsius": round(value, 2) if unit == "°C" else None})
        self.bus.publish(TOPIC_ALARM, {**data, "state": "raised"})
        if self.notes is not None:
            self.notes.notify("warning", f"Alarm: {rule.name}", f"{name}: {text}", data=data)

    def _snapshot(self, c: _Cam, rule, frame: Frame, event_id: int) -> None:
        st = getattr(self.detection, "store", None)
        if st is None:
            return
        dets = []
        for rid in (rule.roi_id, rule.other_roi_id):
            roi = next((r for r in c.rois.rois if r.id == rid), None)
            if roi is not None:
                h, w = frame.shape
                xs, ys = [p[0] * w for p in roi.points], [p[1] * h for p in roi.points]
                dets.append(Detection(label=roi.name or "roi", confidence=1.0,
                                      box=Box(min(xs), min(ys), max(max(xs), min(xs) + 1), max(max(ys), min(ys) + 1))))
        palette = "inferno"
        try:
            palette = self.detection.palette(c.camera_id)
        except Exception:  # noqa: BLE001
            pass
        rel = st.save_screenshot(c.camera_id, frame, dets, palette=palette)
        if rel:
            st.update_event(event_id, snapshot_path=rel)

    def _clear(self, c: _Cam, ch: Change, unit: str | None) -> None:
        """Store the clearing moment (when the alarm was saved) and announce it in any case."""
        alarm_id = c.active.pop(ch.rule.id, None)
        raised_t = c.raised_t.pop(ch.rule.id, None)
        self.cleared += 1
        ended, event_id = datetime.fromtimestamp(ch.t, UTC), None
        if alarm_id is not None:
            with self.db.session() as s:
                row = s.get(Alarm, alarm_id)
                if row is not None:
                    row.cleared_at, row.peak = ended, ch.peak
                    event_id = row.event_id
                    ev = s.get(Event, event_id) if event_id is not None else None
                    if ev is not None:
                        ev.ended_at = ended
        data = {"kind": "alarm", "camera_id": c.camera_id, "alarm_id": alarm_id, "event_id": event_id,
                "rule_id": ch.rule.id, "name": ch.rule.name, "value": round(ch.value, 3), "unit": unit}
        self.bus.publish(TOPIC_EVENT, {**data, "state": "end", "label": "alarm", "started_at": raised_t,
                                       "ended_at": ch.t})
        self.bus.publish(TOPIC_ALARM, {**data, "state": "cleared"})

    # ----- the writer
    def _write_loop(self) -> None:
        next_agg = time.monotonic() + 60
        next_prune = time.monotonic() + 300
        while not self._stop.wait(2.0):
            try:
                if self.writer.flush():
                    self.bus.publish(TOPIC_SAMPLES, {})  # open trend plots read the new samples
                now = time.monotonic()
                if now >= next_prune:
                    next_prune, next_agg = now + 3600, now + 60
                    series.prune(self.db, self.raw_days, self.minute_days)
                elif now >= next_agg:
                    next_agg = now + 60
                    series.aggregate(self.db)
            except Exception:  # noqa: BLE001 - kept queued; retried in 2 s
                log_failure(log, "writing ROI samples failed")
