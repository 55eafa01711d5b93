"""ROIs, alarm rules and alarms in the database: validated create/change/delete, dicts for the API.

Every function that takes ``visible`` (camera ids a user may see; None: all) answers ROIs, rules
and alarms of other cameras as not found (:class:`NotFound`), exactly as unknown ids.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from thermalstream.db.engine import Database
from thermalstream.db.models import Alarm, AlarmRule, Camera, Event, Roi
from thermalstream.db.types import as_utc
from thermalstream.measure.alarms import Rule, RuleError
from thermalstream.measure.geometry import RoiError, validate

RULE_FIELDS = ("name", "kind", "roi_id", "other_roi_id", "statistic", "low", "high", "hysteresis",
               "min_duration_s", "enabled", "record")


class NotFound(LookupError):
    """No such ROI, rule, alarm or camera -- or one the user may not see."""


def _iso(dt: datetime | None) -> str | None:
    return as_utc(dt).isoformat() if dt is not None else None


def roi_dict(r: Roi) -> dict[str, Any]:
    return {"id": r.id, "camera_id": r.camera_id, "name": r.name, "kind": r.kind, "points": r.points,
            "created_at": _iso(r.created_at), "updated_at": _iso(r.updated_at)}


def rule_dict(r: AlarmRule) -> dict[str, Any]:
    return {"id": r.id, "camera_id": r.camera_id, **{k: getattr(r, k) for k in RULE_FIELDS},
            "created_at": _iso(r.created_at)}


def alarm_dict(a: Alarm) -> dict[str, Any]:
    return {"id": a.id, "rule_id": a.rule_id, "camera_id": a.camera_id, "roi_id": a.roi_id, "event_id": a.event_id,
            "name": a.name, "kind": a.kind, "raised_at": _iso(a.raised_at), "cleared_at": _iso(a.cleared_at),
            "active": a.cleared_at is None, "value": a.value, "peak": a.peak, "unit": a.unit, "message": a.message,
            "acknowledged_at": _iso(a.acknowledged_at), "acknowledged_by": a.acknowledged_by}


def to_rule(r: AlarmRule) -> Rule:
    return Rule(r.id, r.name, r.kind, roi=r.roi_id, other=r.other_roi_id, statistic=r.statistic, low=r.low,
                high=r.high, hysteresis=r.hysteresis, min_duration_s=r.min_duration_s)


def _seen(row, visible: set[int] | None, what: str, ident: int):
    if row is None or (visible is not None and row.camera_id not in visible):
        raise NotFound(f"no {what} {ident}")
    return row


def _name(value: Any, default: str) -> str:
    name = default if value is None else value
    if not isinstance(name, str) or not name.strip() or len(name) > 128:
        raise ValueError("name must be text of 1 to 128 characters")
    return name.strip()


# ----- ROIs

def list_rois(db: Database, camera_id: int | None = None, visible: set[int] | None = None) -> list[dict[str, Any]]:
    with db.session() as s:
        q = select(Roi).order_by(Roi.id)
        if camera_id is not None:
            q = q.where(Roi.camera_id == camera_id)
        if visible is not None:
            q = q.where(Roi.camera_id.in_(visible or {-1}))
        return [roi_dict(r) for r in s.scalars(q)]


def get_roi(db: Database, roi_id: int, visible: set[int] | None = None) -> dict[str, Any]:
    with db.session() as s:
        return roi_dict(_seen(s.get(Roi, roi_id), visible, "ROI", roi_id))


def create_roi(db: Database, camera_id: int, kind: str, points: Any, name: str | None = None,
               user_id: int | None = None) -> dict[str, Any]:
    pts = validate(kind, points)
    with db.session() as s:
        if s.get(Camera, camera_id) is None:
            raise NotFound(f"no camera {camera_id}")
        count = len(s.scalars(select(Roi.id).where(Roi.camera_id == camera_id)).all())
        row = Roi(camera_id=camera_id, kind=kind, points=pts, name=_name(name, f"{kind} {count + 1}"),
                  created_by=user_id)
        s.add(row)
        s.flush()
        return roi_dict(row)


def update_roi(db: Database, roi_id: int, changes: dict[str, Any], visible: set[int] | None = None) -> dict[str, Any]:
    with db.session() as s:
        row = _seen(s.get(Roi, roi_id), visible, "ROI", roi_id)
        kind = changes.get("kind", row.kind)
        points = changes.get("points", row.points if kind == row.kind else None)
        if points is None:
            raise RoiError(f"changing the kind to {kind} needs new points")
        row.points, row.kind = validate(kind, points), kind
        if "name" in changes:
            row.name = _name(changes["name"], row.name)
        s.flush()
        return roi_dict(row)


def delete_roi(db: Database, roi_id: int, visible: set[int] | None = None) -> int:
    """Delete an ROI (its series and its rules go with it); returns its camera id."""
    with db.session() as s:
        row = _seen(s.get(Roi, roi_id), visible, "ROI", roi_id)
        cid = row.camera_id
        s.delete(row)
        return cid


# ----- alarm rules

def _rule_values(s, camera_id: int, data: dict[str, Any]) -> dict[str, Any]:
    """Checked rule fields; the ROIs named must belong to the camera."""
    for key in ("low", "high", "hysteresis", "min_duration_s"):
        v = data.get(key)
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v)):
            raise RuleError(f"'{key}' must be a number")
    for key in ("roi_id", "other_roi_id"):
        rid = data.get(key)
        if rid is not None:
            roi = s.get(Roi, rid) if isinstance(rid, int) and not isinstance(rid, bool) else None
            if roi is None or roi.camera_id != camera_id:
                raise NotFound(f"no ROI {rid} on camera {camera_id}")
    for key in ("enabled", "record"):
        if key in data and not isinstance(data[key], bool):
            raise RuleError(f"'{key}' must be true or false")
    Rule(0, data.get("name") or "x", data.get("kind", ""), roi=data.get("roi_id"), other=data.get("other_roi_id"),
         statistic=data.get("statistic", "max"), low=data.get("low"), high=data.get("high"),
         hysteresis=float(data.get("hysteresis", 0.5)), min_duration_s=float(data.get("min_duration_s", 0.0))).check()
    return data


def list_rules(db: Database, camera_id: int | None = None, visible: set[int] | None = None) -> list[dict[str, Any]]:
    with db.session() as s:
        q = select(AlarmRule).order_by(AlarmRule.id)
        if camera_id is not None:
            q = q.where(AlarmRule.camera_id == camera_id)
        if visible is not None:
            q = q.where(AlarmRule.camera_id.in_(visible or {-1}))
        return [rule_dict(r) for r in s.scalars(q)]


def get_rule(db: Database, rule_id: int, visible: set[int] | None = None) -> dict[str, Any]:
    with db.session() as s:
        return rule_dict(_seen(s.get(AlarmRule, rule_id), visible, "alarm rule", rule_id))


def create_rule(db: Database, camera_id: int, data: dict[str, Any], user_id: int | None = None) -> dict[str, Any]:
    data = {k: v for k, v in data.items() if k in RULE_FIELDS}
    with db.session() as s:
        if s.get(Camera, camera_id) is None:
            raise NotFound(f"no camera {camera_id}")
        data = {"statistic": "max", "hysteresis": 0.5, "min_duration_s": 0.0, **data}
        data["name"] = _name(data.get("name"), f"{data.get('kind', 'alarm')} alarm")
        row = AlarmRule(camera_id=camera_id, created_by=user_id, **_rule_values(s, camera_id, data))
        s.add(row)
        s.flush()
        return rule_dict(row)


def update_rule(db: Database, rule_id: int, changes: dict[str, Any], visible: set[int] | None = None) -> dict[str, Any]:
    with db.session() as s:
        row = _seen(s.get(AlarmRule, rule_id), visible, "alarm rule", rule_id)
        data = {**{k: getattr(row, k) for k in RULE_FIELDS}, **{k: v for k, v in changes.items() if k in RULE_FIELDS}}
        data["name"] = _name(data.get("name"), row.name)
        for k, v in _rule_values(s, row.camera_id, data).items():
            setattr(row, k, v)
        s.flush()
        return rule_dict(row)


def delete_rule(db: Database, rule_id: int, visible: set[int] | None = None) -> int:
    with db.session() as s:
        row = _seen(s.get(AlarmRule, rule_id), visible, "alarm rule", rule_id)
        cid = row.camera_id
        s.delete(row)
        return cid


def camera_config(db: Database, camera_id: int) -> tuple[list[Roi], list[AlarmRule]]:
    """A camera's ROIs and enabled rules (detached rows) for the measure loop."""
    with db.session() as s:
        rois = list(s.scalars(select(Roi).where(Roi.camera_id == camera_id).order_by(Roi.id)))
        rules = list(s.scalars(select(AlarmRule).where(AlarmRule.camera_id == camera_id,
                                                       AlarmRule.enabled.is_(True)).order_by(AlarmRule.id)))
        s.expunge_all()
        return rois, rules


def cameras_with_rois(db: Database) -> set[int]:
    with db.session() as s:
        return set(s.scalars(select(Roi.camera_id).distinct())) | set(
            s.scalars(select(AlarmRule.camera_id).where(AlarmRule.enabled.is_(True)).distinct()))


# ----- alarms

def list_alarms(db: Database, visible: set[int] | None = None, camera_id: int | None = None,
                active: bool | None = None, limit: int = 100, offset: int = 0) -> list[dict[str, Any]]:
    with db.session() as s:
        q = select(Alarm).order_by(Alarm.raised_at.desc(), Alarm.id.desc())
        if camera_id is not None:
            q = q.where(Alarm.camera_id == camera_id)
        if visible is not None:
            q = q.where(Alarm.camera_id.in_(visible or {-1}))
        if active is not None:
            q = q.where(Alarm.cleared_at.is_(None) if active else Alarm.cleared_at.is_not(None))
        return [alarm_dict(a) for a in s.scalars(q.limit(limit).offset(offset))]


def acknowledge(db: Database, alarm_id: int, user_id: int | None,
                visible: set[int] | None = None) -> tuple[dict[str, Any], bool]:
    """Acknowledge an alarm (the first acknowledgement is kept): the alarm, and whether this call acknowledged
    it. Callers go through ``MeasureService.acknowledge``, which also announces it."""
    with db.session() as s:
        row = _seen(s.get(Alarm, alarm_id), visible, "alarm", alarm_id)
        newly = row.acknowledged_at is None
        if newly:
            row.acknowledged_at, row.acknowledged_by = datetime.now(UTC), user_id
        s.flush()
        return alarm_dict(row), newly


def close_alarms(db: Database, alarm_ids: list[int], why: str) -> list[dict[str, Any]]:
    """Clear alarms that can no longer clear by themselves (their rule went away) and end their events;
    returns what was cleared, in the shape of the bus topic ``alarm``."""
    now, out = datetime.now(UTC), []
    with db.session() as s:
        for row in s.scalars(select(Alarm).where(Alarm.id.in_(alarm_ids), Alarm.cleared_at.is_(None))):
            row.cleared_at = now
            row.message = f"{row.message} (cleared: {why})".strip()
            ev = s.get(Event, row.event_id) if row.event_id is not None else None
            if ev is not None and ev.ended_at is None:
                ev.ended_at = now
            out.append({"kind": "alarm", "camera_id": row.camera_id, "alarm_id": row.id, "event_id": row.event_id,
                        "rule_id": row.rule_id, "name": row.name, "value": row.value, "unit": row.unit or None,
                        "message": row.message, "started_at": as_utc(row.raised_at).timestamp(),
                        "ended_at": now.timestamp()})
    return out


def find_roi(db: Database, roi: int | str) -> int:
    """An ROI id from an id or a unique name; LookupError otherwise."""
    with db.session() as s:
        if isinstance(roi, int) and not isinstance(roi, bool):
            if s.get(Roi, roi) is None:
                raise NotFound(f"no ROI {roi}")
            return roi
        ids = s.scalars(select(Roi.id).where(Roi.name == str(roi))).all()
    if not ids:
        raise NotFound(f"no ROI named {roi!r}")
    if len(ids) > 1:
        raise NotFound(f"{len(ids)} ROIs are named {roi!r} (ids {', '.join(map(str, ids))}): give the id")
    return ids[0]


def roi_camera(db: Database, roi_id: int) -> int | None:
    with db.session() as s:
        row = s.get(Roi, roi_id)
        return None if row is None else row.camera_id
