"""Home Assistant MQTT discovery: the retained config messages that make each camera a device.

Per camera (``<d>`` is the discovery prefix, ``<node>`` the node id from the topic prefix):

=====================  ==============================================  ==============================
entity                 config topic                                    state
=====================  ==============================================  ==============================
connected              ``<d>/binary_sensor/<node>/cam<id>_connected``  ``status`` is ``live``
status                 ``<d>/sensor/<node>/cam<id>_status``            ``status`` (text)
last event             ``<d>/sensor/<node>/cam<id>_last_event``        the last event's label
alarm                  ``<d>/binary_sensor/<node>/cam<id>_alarm``      any alarm rule raised
recording              ``<d>/binary_sensor/<node>/cam<id>_recording``  a recording is running
=====================  ==============================================  ==============================

Only when commands are authorised by the broker (``THERMALSTREAM_MQTT_COMMANDS=broker``), two switches
(``switches=True``) whose ``command_topic`` is the camera's command topic with fixed JSON payloads:

=====================  ======================================================  ===========================
detection switch       ``<d>/switch/<node>/cam<id>_detection_switch``          ``detection``: ON while it runs
recording switch       ``<d>/switch/<node>/cam<id>_recording_switch``          ``recording``: ON while one runs
=====================  ======================================================  ===========================

All share the camera's device and the server's availability topic. Removing a camera publishes an
empty retained config to each topic, which removes the entities from Home Assistant; so does
discovery without switches for the switch topics (switches left from an earlier broker mode go).
"""

from __future__ import annotations

import json
import re
from typing import Any

# keys every config we publish carries (Home Assistant's MQTT discovery schema; tests check them)
REQUIRED_KEYS = ("name", "unique_id", "state_topic", "availability", "device")
OBJECTS = ("connected", "status", "last_event", "alarm", "recording")
SWITCHES = ("detection_switch", "recording_switch")  # broker mode only
# keys a switch needs besides REQUIRED_KEYS (Home Assistant's MQTT switch schema; tests check them)
SWITCH_KEYS = ("command_topic", "payload_on", "payload_off", "state_on", "state_off")
SWITCH_REQUEST_ID = "homeassistant"  # echoed in the replies to a switch's commands


def node_id(prefix: str) -> str:
    """The discovery node id for a topic prefix: letters, digits, ``_`` and ``-`` only."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", prefix) or "thermalstream"


def component(obj: str) -> str:
    if obj in SWITCHES:
        return "switch"
    return "sensor" if obj in ("status", "last_event") else "binary_sensor"


def config_topic(discovery: str, node: str, camera_id: int, obj: str) -> str:
    return f"{discovery}/{component(obj)}/{node}/cam{camera_id}_{obj}/config"


def command_payload(action: str) -> str:
    """The fixed JSON a switch publishes (no token: broker mode)."""
    return json.dumps({"action": action, "request_id": SWITCH_REQUEST_ID})


def _switch(name: str, state_topic: str, command_topic: str, on: str, off: str, icon: str) -> dict[str, Any]:
    return {"name": name, "state_topic": state_topic, "state_on": "ON", "state_off": "OFF",
            "command_topic": command_topic, "payload_on": command_payload(on), "payload_off": command_payload(off),
            "optimistic": False, "qos": 1, "retain": False, "icon": icon}


def _entity(obj: str, topics: Any, camera_id: int) -> dict[str, Any]:
    """The entity-specific keys of one object (name, state topic, how to read the state)."""
    status, events = topics.camera(camera_id, "status"), topics.camera(camera_id, "events")
    if obj in SWITCHES:
        command = topics.camera(camera_id, "command")
        if obj == "detection_switch":
            return _switch("Detection", topics.camera(camera_id, "detection"), command, "detection_on",
                           "detection_off", "mdi:motion-sensor")
        return _switch("Record", topics.camera(camera_id, "recording"), command, "record_start", "record_stop",
                       "mdi:record-rec")
    on_off = {"payload_on": "ON", "payload_off": "OFF"}
    return {
        "connected": {"name": "Connected", "state_topic": status, "device_class": "connectivity",
                      "value_template": "{{ 'ON' if value_json.status == 'live' else 'OFF' }}",
                      "json_attributes_topic": status, **on_off},
        "status": {"name": "Status", "state_topic": status, "value_template": "{{ value_json.status }}",
                   "json_attributes_topic": status, "icon": "mdi:cctv"},
        "last_event": {"name": "Last event", "state_topic": events, "value_template": "{{ value_json.label }}",
                       "json_attributes_topic": events, "icon": "mdi:motion-sensor"},
        "alarm": {"name": "Alarm", "state_topic": topics.camera(camera_id, "alarm"), "device_class": "problem",
                  **on_off},
        "recording": {"name": "Recording", "state_topic": topics.camera(camera_id, "recording"),
                      "icon": "mdi:record-rec", **on_off},
    }[obj]


def discovery_configs(camera: dict[str, Any], topics: Any, discovery: str, version: str, *,
                      switches: bool = False) -> list[tuple[str, dict]]:
    """``(config topic, payload)`` for every entity of ``camera`` (a ``CameraService`` dict: id, name,
    kind), the switches too when ``switches``. ``topics`` is the bridge's :class:`~thermalstream.integrations.broker.Topics`."""
    cid, node = int(camera["id"]), node_id(topics.prefix)
    device = {"identifiers": [f"{node}_cam{cid}"], "name": str(camera.get("name") or f"Camera {cid}"),
              "manufacturer": "ThermalStream", "model": f"{camera.get('kind') or 'camera'} camera",
              "sw_version": version}
    out = []
    for obj in OBJECTS + (SWITCHES if switches else ()):
        payload = {**_entity(obj, topics, cid), "unique_id": f"{node}_cam{cid}_{obj}",
                   "default_entity_id": f"{component(obj)}.{node}_cam{cid}_{obj}",  # object_id: gone in HA 2026.4
                   "availability": [{"topic": topics.availability, "payload_available": "online",
                                     "payload_not_available": "offline"}],
                   "device": device, "origin": {"name": "ThermalStream", "sw_version": version}}
        out.append((config_topic(discovery, node, cid, obj), payload))
    return out


def removal_topics(camera_id: int, topics: Any, discovery: str, objects: tuple[str, ...] = OBJECTS + SWITCHES) -> list[str]:
    """The config topics to clear (empty retained payload) when a camera is removed (all objects), or
    ``objects`` only (the switches, when discovery runs without them)."""
    return [config_topic(discovery, node_id(topics.prefix), camera_id, obj) for obj in objects]
