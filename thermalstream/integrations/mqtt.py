"""MQTT bridge: camera status, events, alarms and recordings to a broker, Home Assistant discovery,
and (off by default) commands. The topic layout is in docs/mqtt.md.

Bus handlers only put messages on a bounded queue (capture never waits on the network). One
publisher thread sends them while the broker is connected; while it is not, messages wait (the
oldest are dropped and counted beyond ``QUEUE_MAX``). Retained states (camera status, alarm,
recording, discovery) are kept per topic and sent again on every (re)connect, newest only.
paho's network thread reconnects with exponential backoff (1 s doubling to 30 s). A retained
availability topic says ``online``; the broker publishes the Last Will ``offline`` when the
connection dies, and a clean shutdown publishes it too. Whether detection runs is not announced on
the bus: the commands thread reads it every second and retains a change on ``…/detection``.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections import deque
from typing import Any

from thermalstream.detect.types import TOPIC_STATE
from thermalstream.integrations import ha
from thermalstream.integrations.broker import Broker, Topics, parse_broker_url
from thermalstream.integrations.commands import Commands
from thermalstream.integrations.payloads import BUS_TOPICS, iso, payload_for

log = logging.getLogger(__name__)
QUEUE_MAX = 1000
TOPIC_STATUS = "integrations"  # bus topic: {"name": "mqtt", "state": …} when the connection's state changes
RECONNECT_MIN_S, RECONNECT_MAX_S = 1, 30
_EVENT_TOPIC = {"event": "events", "alarm": "alarms", "recording": "recordings"}


class MqttBridge:
    """See the module docstring. ``start()`` connects when ``THERMALSTREAM_MQTT_URL`` is set."""

    def __init__(self, settings, bus, cameras, detection, recordings, tokens, version: str, users=None) -> None:
        self.settings, self.bus, self.cameras, self.detection, self.version = settings, bus, cameras, detection, version
        self.topics = Topics(settings.mqtt_topic_prefix)
        self.discovery = (settings.mqtt_discovery_prefix or "").strip("/")
        self.switches = settings.mqtt_commands == "broker"  # Home Assistant switches: commands need no token
        mode = settings.mqtt_commands if settings.mqtt_url else "off"  # no broker: no command can come
        self.commands = Commands(tokens, cameras, detection, recordings, mode=mode, users=users,
                                 command_user=settings.mqtt_command_user)
        self.broker: Broker | None = None
        self.state, self.reason, self.since = "off", "THERMALSTREAM_MQTT_URL is not set", time.time()
        self.published = self.dropped = 0
        self._queue: deque[tuple] = deque()
        self._retained: dict[str, tuple[int, str]] = {}  # topic -> (seq, payload) sent again on reconnect
        self._sent: dict[str, int] = {}  # topic -> seq the broker has
        self._seq = 0
        self._known: set[int] = set()  # cameras whose discovery was published (or queued)
        self._removed: set[int] = set()  # ids are never reused: late messages of removed cameras are dropped
        self._alarms: dict[int, set] = {}  # raised alarms and running recordings per camera
        self._recs: dict[int, set] = {}
        self._cond = threading.Condition()
        self._connected = self._resync = False
        self._client = None
        self._threads: list[threading.Thread] = []
        self._commands_q: deque[tuple[int, bytes]] = deque(maxlen=100)
        self._stop = threading.Event()
        self._unsubs = []
        if settings.mqtt_url:
            try:
                self.broker = parse_broker_url(settings.mqtt_url)
                self._unsubs = [bus.subscribe(self._on_bus, t) for t in BUS_TOPICS]
                self._unsubs += [bus.subscribe(self._on_changed, t) for t in ("camera.added", "camera.changed")]
                self._unsubs.append(bus.subscribe(self._on_detection_state, TOPIC_STATE))
                self._set_state("stopped", "not started yet")
            except ValueError as exc:
                self._set_state("misconfigured", str(exc))
                log.error("MQTT is off: %s", exc)

    # ----- lifecycle
    def start(self) -> MqttBridge:
        """Connect in the background (never blocks); publish every camera's state once connected."""
        if self.broker is None or self._client is not None:
            return self
        import paho.mqtt.client as paho

        s = self.settings
        cid = s.mqtt_client_id or f"thermalstream-{socket.gethostname()[:32]}-{s.port}"
        c = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=cid)
        if self.broker.username:
            c.username_pw_set(self.broker.username, self.broker.password)
        if self.broker.tls:
            c.tls_set()
        c.will_set(self.topics.availability, "offline", qos=1, retain=True)
        c.reconnect_delay_set(RECONNECT_MIN_S, RECONNECT_MAX_S)
        c.on_connect, c.on_disconnect, c.on_connect_fail = self._on_connect, self._on_disconnect, self._on_fail
        c.on_message = self._on_message
        self._client = c
        for cam in self._cameras():
            self._known.add(cam["id"])
            self._track_camera(cam)
        self._set_state("connecting", f"to {self.broker.shown}")
        c.connect_async(self.broker.host, self.broker.port, keepalive=30)
        c.loop_start()
        for name, target in (("mqtt-publish", self._publish_loop), ("mqtt-commands", self._command_loop)):
            t = threading.Thread(target=target, name=name, daemon=True)
            t.start()
            self._threads.append(t)
        return self

    def stop(self, timeout: float = 3.0) -> None:
        """Send what is queued (up to ``timeout``), say ``offline``, disconnect."""
        for unsub in self._unsubs:
            unsub()
        self._unsubs = []
        c = self._client
        if c is None:
            return
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._connected and self._queue and time.monotonic() < deadline:
                self._cond.wait(0.05)
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        for t in self._threads:
            t.join(timeout)
        if self._connected:
            try:
                c.publish(self.topics.availability, "offline", qos=1, retain=True).wait_for_publish(1.0)
            except (RuntimeError, ValueError):  # the connection went meanwhile: the Last Will says it
                pass
        c.disconnect()
        c.loop_stop()
        self._client = None
        self._set_state("stopped", "the server stopped")

    def health(self) -> dict[str, Any]:
        """State for /health and the Storage page: ``state`` is off, misconfigured, connecting,
        connected, unreachable or stopped; ``reason`` says why."""
        with self._cond:
            queued = len(self._queue)
        return {"enabled": self.broker is not None, "state": self.state, "reason": self.reason,
                "since": iso(self.since), "broker": self.broker.shown if self.broker else None,
                "topic_prefix": self.topics.prefix, "discovery": bool(self.discovery), "queued": queued,
                "published": self.published, "dropped": self.dropped, "commands": self.commands.enabled,
                "commands_mode": self.commands.mode, "commands_user": self.commands.command_user
                if self.commands.mode == "broker" else None, "commands_problem": self._commands_problem(),
                "commands_accepted": self.commands.accepted, "commands_refused": self.commands.refused}

    def _commands_problem(self) -> str | None:
        try:
            return self.commands.account_problem()
        except Exception:  # noqa: BLE001 - a database outage must not break /health
            return "cannot look up THERMALSTREAM_MQTT_COMMAND_USER (database unavailable)"

    def _set_state(self, state: str, reason: str) -> None:
        changed = state != self.state
        if changed:
            self.since = time.time()
        self.state, self.reason = state, reason
        if changed:  # pages showing it update at once (no broker address on the bus: viewers get it too)
            self.bus.publish(TOPIC_STATUS, {"name": "mqtt", "state": state})

    # ----- paho callbacks (its network thread)
    def _on_connect(self, client, userdata, flags, reason_code, properties=None) -> None:
        if reason_code.is_failure:
            self._set_state("unreachable", f"{self.broker.shown} refused the connection: {reason_code}")
            log.warning("MQTT: %s", self.reason)
            return
        client.subscribe(self.topics.commands, qos=1)
        with self._cond:
            self._connected = self._resync = True
            self._sent.clear()
            self._cond.notify_all()
        self._set_state("connected", f"to {self.broker.shown}")
        log.info("MQTT connected to %s", self.broker.shown)

    def _on_disconnect(self, client, userdata, flags, reason_code, properties=None) -> None:
        with self._cond:
            was, self._connected = self._connected, False
        if not self._stop.is_set() and (was or self.state != "unreachable"):  # keep a refusal's reason
            self._set_state("unreachable", f"lost the connection to {self.broker.shown} ({reason_code}); "
                                           f"retrying every {RECONNECT_MIN_S}-{RECONNECT_MAX_S} s")
            log.warning("MQTT: %s", self.reason)

    def _on_fail(self, client, userdata) -> None:
        self._set_state("unreachable", f"cannot reach {self.broker.shown}; retrying every "
                                       f"{RECONNECT_MIN_S}-{RECONNECT_MAX_S} s")
        log.warning("MQTT: %s", self.reason)

    def _on_message(self, client, userdata, message) -> None:
        cid = self.topics.command_camera(message.topic)
        if cid is not None and not message.retain:  # a retained command would run again at every connect
            self._commands_q.append((cid, bytes(message.payload)))
            with self._cond:
                self._cond.notify_all()

    # ----- bus (any thread: only queue work)
    def _on_bus(self, event) -> None:
        out = payload_for(event.topic, event.data)
        if out is None:
            return
        kind, payload = out
        cid = payload["camera_id"]
        if cid in self._removed:
            return
        if kind == "camera.removed":
            self._removed.add(cid)
            self._enqueue(("removed", cid))
            return
        self._discover_once(cid)
        if kind == "camera.status":
            self._retain(self.topics.camera(cid, "status"), payload)
            return
        group = kind.split(".")[0]
        self._enqueue(("event", self.topics.camera(cid, _EVENT_TOPIC[group]), json.dumps(payload)))
        if group == "alarm":
            active = self._alarms.setdefault(cid, set())
            key = payload["alarm_id"] if payload["alarm_id"] is not None else ("rule", payload["rule_id"])
            (active.add if kind == "alarm.raised" else active.discard)(key)
            self._retain(self.topics.camera(cid, "alarm"), "ON" if active else "OFF")
        elif group == "recording":  # a manual and an event recording may overlap
            running = self._recs.setdefault(cid, set())
            (running.add if kind == "recording.started" else running.discard)(payload["recording_id"])
            self._retain(self.topics.camera(cid, "recording"), "ON" if running else "OFF")

    def _on_detection_state(self, event) -> None:
        """Detection started or stopped on a camera (the detection service says so): retain ON/OFF."""
        cid = event.data.get("camera_id")
        if not isinstance(cid, int) or cid in self._removed:
            return
        self._discover_once(cid)
        self._retain(self.topics.camera(cid, "detection"), "ON" if event.data.get("active") else "OFF")

    def _discover_once(self, cid: int) -> None:
        """A camera first heard of on the bus: its discovery configs are queued (once)."""
        if cid not in self._known:
            self._known.add(cid)
            self._enqueue(("discover", cid))

    def _on_changed(self, event) -> None:
        """A camera added or changed (renamed): its discovery configs again, with its current name."""
        cid = event.data.get("camera_id")
        if isinstance(cid, int) and cid not in self._removed:
            self._known.add(cid)
            self._enqueue(("discover", cid))

    def _retain(self, topic: str, payload: Any) -> None:
        text = payload if isinstance(payload, str) else json.dumps(payload)
        with self._cond:
            self._seq += 1
            self._retained[topic] = (self._seq, text)
            self._push(("retained", topic, self._seq))

    def _enqueue(self, item: tuple) -> None:
        with self._cond:
            self._push(item)

    def _push(self, item: tuple) -> None:
        if len(self._queue) >= QUEUE_MAX:
            self._queue.popleft()
            self.dropped += 1
        self._queue.append(item)
        self._cond.notify_all()

    # ----- publisher thread
    def _publish_loop(self) -> None:
        while not self._stop.is_set():
            with self._cond:
                while not self._stop.is_set() and not (self._connected and (self._queue or self._resync)):
                    self._cond.wait(1.0)
                if self._stop.is_set():
                    return
                resync, self._resync = self._resync, False
                item = None if resync else self._queue.popleft()
            try:
                self._resend_all() if resync else self._send(item)
            except Exception:  # one bad message must not stop the bridge
                log.exception("MQTT: publishing %s failed", item)
            with self._cond:
                self._cond.notify_all()

    def _resend_all(self) -> None:
        self._publish(self.topics.availability, "online", retain=True)
        for cam in self._cameras():
            if cam["id"] not in self._removed:
                self._track_camera(cam)
                self._discover(cam)
        with self._cond:
            retained = list(self._retained.items())
        for topic, (seq, text) in retained:
            self._publish(topic, text, retain=True)
            self._sent[topic] = seq

    def _send(self, item: tuple) -> None:
        if item[0] == "event":
            self._publish(item[1], item[2])
        elif item[0] == "retained":
            topic, seq = item[1], item[2]
            with self._cond:
                current = self._retained.get(topic)
            if current is not None and current[0] == seq and self._sent.get(topic) != seq:
                self._publish(topic, current[1], retain=True)
                self._sent[topic] = seq
        elif item[0] == "discover":
            cam = self._camera(item[1])
            if cam is not None and cam["id"] not in self._removed:
                self._track_camera(cam)
                self._discover(cam)
        elif item[0] == "removed":
            self._forget(item[1])

    def _publish(self, topic: str, payload: str, retain: bool = False) -> None:
        info = self._client.publish(topic, payload, qos=1, retain=retain)
        with self._cond:
            if info.rc == 0:
                self.published += 1
            else:
                self.dropped += 1

    # ----- cameras and discovery
    def _cameras(self) -> list[dict]:
        try:
            return self.cameras.list()
        except Exception:  # noqa: BLE001 - a database outage: retained states still go out
            log.warning("MQTT: cannot list cameras for discovery")
            return []

    def _camera(self, cid: int) -> dict | None:
        try:
            return self.cameras.get(cid)
        except Exception:  # noqa: BLE001 - removed meanwhile, or the database is out
            return None

    def _track_camera(self, cam: dict) -> None:
        """Seed the retained states of a camera not seen on the bus yet (status from its row)."""
        cid = cam["id"]
        status = self.topics.camera(cid, "status")
        for topic, value in ((self.topics.camera(cid, "alarm"), "OFF"), (self.topics.camera(cid, "recording"), "OFF"),
                             (self.topics.camera(cid, "detection"), self._detection_state(cid))):
            if topic not in self._retained:
                self._retain(topic, value)
        if status not in self._retained:
            out = payload_for("camera.status", {"camera_id": cid, "status": cam.get("status") or "stopped",
                                                "reason": cam.get("reason") or cam.get("status_reason") or ""})
            self._retain(status, out[1])

    def _discover(self, cam: dict) -> None:
        self._known.add(cam["id"])
        if not self.discovery:
            return
        for topic, payload in ha.discovery_configs(cam, self.topics, self.discovery, self.version,
                                                   switches=self.switches):
            self._publish(topic, json.dumps(payload), retain=True)
        if not self.switches:  # switches of an earlier broker mode would send commands that are refused
            for topic in ha.removal_topics(cam["id"], self.topics, self.discovery, ha.SWITCHES):
                self._publish(topic, "", retain=True)

    def _forget(self, cid: int) -> None:
        """A removed camera: empty retained configs remove its entities; its retained states go too."""
        self._known.discard(cid)
        self._alarms.pop(cid, None)
        self._recs.pop(cid, None)
        topics = ha.removal_topics(cid, self.topics, self.discovery) if self.discovery else []
        with self._cond:
            for leaf in ("status", "alarm", "recording", "detection"):
                self._retained.pop(self.topics.camera(cid, leaf), None)
                topics.append(self.topics.camera(cid, leaf))
        for topic in topics:
            self._publish(topic, "", retain=True)

    # ----- commands thread
    def _command_loop(self) -> None:
        while not self._stop.is_set():
            with self._cond:
                if not self._commands_q:
                    self._cond.wait(1.0)
                if self._stop.is_set():
                    return
                item = self._commands_q.popleft() if self._commands_q else None
            if item is not None:
                self._run_command(*item)

    def _run_command(self, cid: int, raw: bytes) -> None:
        reply = self.commands.handle(cid, raw)
        log.info("MQTT command on camera %s: %s", cid, "ok" if reply["ok"] else reply["error"])
        self._enqueue(("event", self.topics.camera(cid, "command/reply"), json.dumps(reply, default=str)))

    def _detection_state(self, cid: int) -> str:
        try:
            return "ON" if self.detection.enabled(cid) else "OFF"
        except Exception:  # noqa: BLE001 - a camera going away meanwhile
            return "OFF"
