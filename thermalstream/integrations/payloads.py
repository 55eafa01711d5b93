"""The one place that turns bus events into the JSON payloads integrations send (MQTT, webhooks).

``payload_for(topic, data)`` maps one :class:`~thermalstream.bus.Event` (topic and data) to
``(event_type, payload)``, or None for topics that integrations do not carry. Every payload is a
JSON-able dict with the same envelope::

    {"version": 1, "type": "<event type>", "time": "<ISO 8601 UTC>", "camera_id": <int>, ...}

followed by the fields of its type (times are ISO 8601 UTC strings or null):

``camera.status``      ``status`` (connecting, live, reconnecting, failed, stopped), ``reason``
``camera.removed``     nothing more
``event.new``          ``event_id``, ``kind`` (detection | alarm), ``label``, ``started_at``, ``ended_at``
``event.update``       (null until the end), ``confidence``, ``max_celsius``, ``zones``, ``snapshot``
``event.end``          (bool: a snapshot exists), plus ``alarm_id`` and ``name`` for alarm events
``alarm.raised``       ``alarm_id``, ``event_id``, ``rule_id``, ``roi_id``, ``name``, ``value``,
``alarm.cleared``      ``unit``, ``message``
``recording.started``  ``recording_id``, ``event_id`` (event recordings), ``scheduled``, ``status``,
``recording.stopped``  ``error``, ``duration_s``, ``segments``, ``size_bytes``

Fields that a message does not carry are null, so every payload of a type has the same keys.
Not carried (pages only): ``alarm`` state ``acknowledged`` (an operator acknowledged an alarm) and
``recording`` state ``segment``.
A change that removes or renames a key raises :data:`VERSION`; new keys do not.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

VERSION = 1

EVENT_TYPES: tuple[str, ...] = (
    "camera.status", "camera.removed",
    "event.new", "event.update", "event.end",
    "alarm.raised", "alarm.cleared",
    "recording.started", "recording.stopped",
)

# the bus topics payload_for reads (subscribe to each; the bus matches prefixes)
BUS_TOPICS: tuple[str, ...] = ("camera.status", "camera.removed", "detection.event", "alarm", "recording")

_EVENT_STATES = {"start": "event.new", "update": "event.update", "end": "event.end"}
_ALARM_STATES = {"raised": "alarm.raised", "cleared": "alarm.cleared"}
_RECORDING_STATES = {"started": "recording.started", "stopped": "recording.stopped"}

_FIELDS: dict[str, tuple[str, ...]] = {
    "camera.status": ("status", "reason"),
    "camera.removed": (),
    "event": ("event_id", "kind", "label", "started_at", "ended_at", "confidence", "max_celsius", "zones",
              "snapshot", "alarm_id", "name"),
    "alarm": ("alarm_id", "event_id", "rule_id", "roi_id", "name", "value", "unit", "message"),
    "recording": ("recording_id", "event_id", "scheduled", "status", "error", "duration_s", "segments",
                  "size_bytes", "started_at", "ended_at"),
}
_TIMES = {"started_at", "ended_at"}


def iso(value: Any) -> str | None:
    """An epoch (seconds), datetime or ISO string as an ISO 8601 UTC string; None stays None."""
    if value is None:
        return None
    if isinstance(value, datetime):
        dt = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        return dt.astimezone(UTC).isoformat()
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return datetime.fromtimestamp(value, UTC).isoformat()
    return str(value)


def _plain(value: Any) -> Any:
    """JSON-able copies of values (numpy numbers, tuples, sets, non-finite floats)."""
    if isinstance(value, bool) or value is None or isinstance(value, (str, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_plain(v) for v in value]
    if isinstance(value, datetime):
        return iso(value)
    item = getattr(value, "item", None)  # numpy scalars
    return _plain(item()) if callable(item) else str(value)


def _classify(topic: str, data: dict[str, Any]) -> tuple[str, str] | None:
    """(event type, field group) of a bus message, or None."""
    state = data.get("state")
    if topic in ("camera.status", "camera.removed"):
        return topic, topic
    if topic == "detection.event" and state in _EVENT_STATES:
        return _EVENT_STATES[state], "event"
    if topic == "alarm" and state in _ALARM_STATES:
        return _ALARM_STATES[state], "alarm"
    if topic == "recording" and state in _RECORDING_STATES:
        return _RECORDING_STATES[state], "recording"
    return None


def payload_for(topic: str, data: dict[str, Any] | None, *, now: float | None = None) -> tuple[str, dict] | None:
    """``(event_type, payload)`` for a bus message, or None when integrations do not carry it
    (other topics, unknown states, no integer ``camera_id``)."""
    data = data or {}
    kind = _classify(topic, data)
    cid = data.get("camera_id")
    if kind is None or not isinstance(cid, int) or isinstance(cid, bool):
        return None
    event_type, group = kind
    out: dict[str, Any] = {"version": VERSION, "type": event_type,
                           "time": iso(now if now is not None else datetime.now(UTC)), "camera_id": cid}
    for key in _FIELDS[group]:
        value = data.get(key)
        out[key] = iso(value) if key in _TIMES else _plain(value)
    if group == "event":
        out["kind"] = out["kind"] or "detection"
        out["zones"] = out["zones"] or []
        out["snapshot"] = bool(out["snapshot"])
    return event_type, out


def camera_of(payload: dict[str, Any]) -> int:
    """The camera a payload is about (every payload names one)."""
    return int(payload["camera_id"])


__all__ = ["BUS_TOPICS", "EVENT_TYPES", "VERSION", "camera_of", "iso", "payload_for"]
