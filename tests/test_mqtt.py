"""MQTT / Home Assistant: a real mosquitto (started here on a free loopback port, with a password file)
and a real server with a simulated camera and the hotspot detector. Checks what a subscriber sees:
retained availability (Last Will on kill -9), camera status, events from a real detection, recordings,
discovery configs, broker loss and recovery, and commands (off by default; viewer refused, operator obeyed)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time
from datetime import datetime
from pathlib import Path

import paho.mqtt.client as paho
import pytest

from tests.conftest import free_port, login, start_server, stop_server, wait_for
from tests.test_ui import page  # noqa: F401 - the Chromium page fixture
from thermalstream.integrations import ha
from thermalstream.integrations.broker import parse_broker_url
from thermalstream.integrations.payloads import EVENT_TYPES, payload_for

SIM = "sim://?people=1&vehicle=0&animal=0&seed=10&width=320&height=256&fps=25"
USER, PASSWORD = "thermalstream", "broker-secret-1"
PREFIX = "thermalstream"


def mosquitto_bin() -> str:
    found = shutil.which("mosquitto") or ("/usr/sbin/mosquitto" if os.path.exists("/usr/sbin/mosquitto") else None)
    if found is None:
        pytest.fail("mosquitto is not installed: run scripts/system-deps.sh (make test does)")
    return found


class Broker:
    """A mosquitto of our own: loopback only, no anonymous clients, no persistence."""

    def __init__(self, folder: Path, users: dict[str, str] | None = None, acl: str | None = None) -> None:
        """``users``: more MQTT accounts (name: password); ``acl``: the text of an ACL file (then every
        client, the server's included, may use only the topics it grants)."""
        self.folder, self.port, self.proc = folder, free_port(), None
        folder.mkdir(parents=True, exist_ok=True)
        pw = folder / "passwd"
        passwd = shutil.which("mosquitto_passwd") or "/usr/bin/mosquitto_passwd"
        subprocess.run([passwd, "-b", "-c", str(pw), USER, PASSWORD], check=True, capture_output=True)
        for name, secret in (users or {}).items():
            subprocess.run([passwd, "-b", str(pw), name, secret], check=True, capture_output=True)
        pw.chmod(0o600)
        conf = textwrap.dedent(f"""\
            listener {self.port} 127.0.0.1
            allow_anonymous false
            password_file {pw}
            persistence false
            log_dest stderr
            """) + ("user root\n" if os.geteuid() == 0 else "")
        if acl is not None:
            (folder / "acl").write_text(textwrap.dedent(acl))
            (folder / "acl").chmod(0o600)
            conf += f"acl_file {folder / 'acl'}\n"
        (folder / "mosquitto.conf").write_text(conf)

    @property
    def url(self) -> str:
        return f"mqtt://{USER}:{PASSWORD}@127.0.0.1:{self.port}"

    def start(self) -> Broker:
        self.log = open(self.folder / "mosquitto.log", "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen([mosquitto_bin(), "-c", str(self.folder / "mosquitto.conf")],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        wait_for(self._listening, timeout=10, what="mosquitto to listen")
        return self

    def _listening(self) -> bool:
        import socket

        assert self.proc.poll() is None, (self.folder / "mosquitto.log").read_text()
        with socket.socket() as s:
            return s.connect_ex(("127.0.0.1", self.port)) == 0

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        if self.proc is not None:
            self.log.close()


class Listener:
    """A subscriber that keeps every message (topic, text, retained)."""

    def __init__(self, broker: Broker, topics=("#",), user: str = USER, password: str = PASSWORD) -> None:
        self.messages: list[tuple[str, str, bool]] = []
        self.lock = threading.Lock()
        self.client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=f"test-{time.monotonic_ns()}")
        self.client.username_pw_set(user, password)
        self.client.on_message = self._on_message
        self.client.on_connect = lambda c, u, f, rc, p=None: [c.subscribe(t, qos=1) for t in topics]
        self.client.connect("127.0.0.1", broker.port)
        self.client.loop_start()

    def _on_message(self, client, userdata, msg) -> None:
        with self.lock:
            self.messages.append((msg.topic, msg.payload.decode(), bool(msg.retain)))

    def on(self, topic: str) -> list[tuple[str, bool]]:
        with self.lock:
            return [(text, retained) for t, text, retained in self.messages if t == topic]

    def json_on(self, topic: str) -> list[dict]:
        return [json.loads(text) for text, _ in self.on(topic) if text]

    def wait(self, topic: str, predicate=lambda text, retained: True, timeout: float = 20.0) -> str:
        found: list[str] = []

        def check() -> bool:
            found[:] = [text for text, retained in self.on(topic) if predicate(text, retained)]
            return bool(found)

        wait_for(check, timeout=timeout, what=f"a message on {topic}")
        return found[-1]

    def publish(self, topic: str, payload: dict | str) -> None:
        text = payload if isinstance(payload, str) else json.dumps(payload)
        self.client.publish(topic, text, qos=1).wait_for_publish(5)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def topic(cid: int, leaf: str) -> str:
    return f"{PREFIX}/cameras/{cid}/{leaf}"


@pytest.fixture
def broker(tmp_path):
    b = Broker(tmp_path / "broker").start()
    try:
        yield b
    finally:
        b.stop()


def live_camera(server) -> int:
    status, cam = server.request("POST", "/api/cameras", {"url": SIM, "name": "yard"})
    assert status == 201, cam
    wait_for(lambda: server.camera(cam["id"])["status"] == "live", what="camera live")
    return cam["id"]


def test_payloads_have_one_shape_per_type():
    """Every type maps, has the envelope, the same keys whatever the message carries, and is JSON."""
    messages = [("camera.status", {"status": "live", "reason": ""}), ("camera.removed", {}),
                ("detection.event", {"state": "start", "label": "hotspot", "started_at": 1.7e9, "zones": ("a",)}),
                ("detection.event", {"state": "update", "label": "hotspot"}),
                ("detection.event", {"state": "end", "label": "alarm", "kind": "alarm", "ended_at": 1.7e9}),
                ("alarm", {"state": "raised", "value": float("nan")}), ("alarm", {"state": "cleared"}),
                ("recording", {"state": "started", "recording_id": 3}), ("recording", {"state": "stopped"})]
    seen = {}
    for t, data in messages:
        kind, payload = payload_for(t, {**data, "camera_id": 7})
        json.dumps(payload, allow_nan=False)
        assert payload["version"] == 1 and payload["type"] == kind and payload["camera_id"] == 7
        assert kind not in seen or set(seen[kind]) == set(payload)
        seen[kind] = payload
    assert set(seen) == set(EVENT_TYPES)
    assert seen["event.new"]["started_at"] == "2023-11-14T22:13:20+00:00" and seen["event.new"]["zones"] == ["a"]
    assert seen["alarm.raised"]["value"] is None  # NaN is no JSON
    assert payload_for("detections", {"camera_id": 7}) is None
    assert payload_for("alarm", {"state": "acknowledged", "camera_id": 7, "alarm_id": 1}) is None  # pages only
    assert payload_for("recording", {"state": "segment", "camera_id": 7}) is None
    assert payload_for("detection.event", {"state": "start"}) is None  # no camera: nothing to say


def test_round_trip_status_events_recordings_discovery_and_broker_loss(tmp_path, broker):
    server = start_server(tmp_path, mqtt_url=broker.url, hotspot_threshold_c=26.0)
    sub = Listener(broker)
    try:
        cid = live_camera(server)
        wait_for(lambda: server.runtime.mqtt.health()["state"] == "connected", what="bridge connected")
        late = Listener(broker)  # a subscriber that arrives afterwards gets the retained state
        try:
            assert late.wait(f"{PREFIX}/availability", lambda t, r: r) == "online"
            status = json.loads(late.wait(topic(cid, "status"), lambda t, r: r and json.loads(t)["status"] == "live"))
            assert status["type"] == "camera.status" and status["version"] == 1
            assert late.wait(topic(cid, "alarm"), lambda t, r: r) == "OFF"
            configs = {}
            wait_for(lambda: len([t for t, *_ in late.messages if t.startswith("homeassistant/")]) >= 5,
                     what="discovery configs")
            for obj in ha.OBJECTS:
                cfg_topic = ha.config_topic("homeassistant", PREFIX, cid, obj)
                text, retained = late.on(cfg_topic)[-1]
                configs[obj] = cfg = json.loads(text)
                assert retained and all(k in cfg for k in ha.REQUIRED_KEYS), cfg
                assert cfg["availability"][0]["topic"] == f"{PREFIX}/availability"
                assert cfg["device"]["identifiers"] == [f"{PREFIX}_cam{cid}"] and cfg["device"]["name"] == "yard"
                assert cfg["state_topic"].startswith(f"{PREFIX}/cameras/{cid}/")
                assert cfg["default_entity_id"] == f"{ha.component(obj)}.{PREFIX}_cam{cid}_{obj}"
                assert "object_id" not in cfg  # removed from Home Assistant in 2026.4
            assert len({c["unique_id"] for c in configs.values()}) == len(ha.OBJECTS)
            assert configs["alarm"]["state_topic"] == topic(cid, "alarm")
        finally:
            late.close()

        # a real detection: the hotspot detector on the simulator's warm person
        assert server.request("PATCH", f"/api/cameras/{cid}/detection", {"enabled": True, "fps": 5})[0] == 200
        new = json.loads(sub.wait(topic(cid, "events"), lambda t, r: json.loads(t)["type"] == "event.new", 40))
        assert new["label"] == "hotspot" and new["kind"] == "detection" and isinstance(new["event_id"], int)
        assert server.request("GET", f"/api/events?camera={cid}")[1]["total"] >= 1
        # a better snapshot of the announced event while it goes on: the detection service says "update"
        # (DetectionService._event_snapshot; YOLO's confidence grows, the hotspot detector's is always 1.0, so
        # here it is announced as the service does) and subscribers get an event.update of the same event
        server.runtime.bus.publish("detection.event", {
            "state": "update", "kind": "detection", "camera_id": cid, "event_id": new["event_id"], "label": "hotspot",
            "confidence": 0.97, "max_celsius": 31.5, "zones": [], "snapshot": True,
            "started_at": datetime.fromisoformat(new["started_at"]).timestamp()})
        update = json.loads(sub.wait(topic(cid, "events"), lambda t, r: json.loads(t)["type"] == "event.update"))
        assert update["event_id"] == new["event_id"] and update["snapshot"] is True and update["ended_at"] is None
        assert update["started_at"] == new["started_at"] and update["confidence"] == 0.97 and set(update) == set(new)
        assert server.request("PATCH", f"/api/cameras/{cid}/detection", {"enabled": False})[0] == 200
        end = json.loads(sub.wait(topic(cid, "events"), lambda t, r: json.loads(t)["type"] == "event.end"))
        assert end["event_id"] == new["event_id"] and end["ended_at"] is not None

        # a recording started and stopped through the API
        status, rec = server.request("POST", "/api/recording/start", {"camera_id": cid})
        assert status == 201, rec
        sub.wait(topic(cid, "recording"), lambda t, r: t == "ON")
        assert server.request("POST", "/api/recording/stop", {"camera_id": cid})[0] == 200
        stopped = json.loads(sub.wait(topic(cid, "recordings"),
                                      lambda t, r: json.loads(t)["type"] == "recording.stopped"))
        assert stopped["recording_id"] == rec["id"] and stopped["status"] == "completed"
        assert [p["type"] for p in sub.json_on(topic(cid, "recordings"))] == ["recording.started", "recording.stopped"]
        sub.wait(topic(cid, "recording"), lambda t, r: t == "OFF")

        # an alarm rule that holds at once (whole frame above -100 °C), then removed: raised, then cleared
        status, hot = server.request("POST", f"/api/cameras/{cid}/alarm-rules", {"kind": "above", "high": -100})
        assert status == 201, hot
        raised = json.loads(sub.wait(topic(cid, "alarms"), lambda t, r: json.loads(t)["type"] == "alarm.raised"))
        assert raised["rule_id"] == hot["id"] and isinstance(raised["alarm_id"], int) and raised["unit"] == "°C"
        sub.wait(topic(cid, "alarm"), lambda t, r: t == "ON")
        assert any(p["kind"] == "alarm" for p in sub.json_on(topic(cid, "events")))
        assert server.request("DELETE", f"/api/alarm-rules/{hot['id']}")[0] == 200
        cleared = json.loads(sub.wait(topic(cid, "alarms"), lambda t, r: json.loads(t)["type"] == "alarm.cleared"))
        assert cleared["alarm_id"] == raised["alarm_id"]
        events = server.request("GET", f"/api/events?camera={cid}&limit=500")[1]["events"]
        assert [e["ended_at"] is not None for e in events if e["id"] == raised["event_id"]] == [True]
        wait_for(lambda: sub.on(topic(cid, "alarm"))[-1][0] == "OFF", what="alarm OFF")

        # commands are off by default: refused with the reason, nothing changes
        sub.publish(topic(cid, "command"), {"action": "detection_on", "token": server.token("admin"),
                                            "request_id": "r1"})
        reply = json.loads(sub.wait(topic(cid, "command/reply")))
        assert reply["ok"] is False and reply["status"] == 403 and "THERMALSTREAM_MQTT_COMMANDS" in reply["error"]
        assert reply["request_id"] == "r1" and not server.runtime.detection.enabled(cid)

        # broker loss: /health says so; on its return the retained state is published again
        broker.stop()
        wait_for(lambda: server.runtime.mqtt.health()["state"] == "unreachable", what="unreachable")
        health = server.request("GET", "/health")[1]
        assert health["status"] == "ok" and health["integrations"]["mqtt"]["state"] == "unreachable"
        assert PASSWORD not in json.dumps(health) and "reason" not in server.request("GET", "/health", as_user=None)[1]
        broker.start()  # same port, empty: no persistence
        wait_for(lambda: server.runtime.mqtt.health()["state"] == "connected", timeout=45, what="reconnected")
        again = Listener(broker)
        try:
            assert again.wait(f"{PREFIX}/availability", lambda t, r: r) == "online"
            assert json.loads(again.wait(topic(cid, "status"), lambda t, r: r))["status"] == "live"
            again.wait(ha.config_topic("homeassistant", PREFIX, cid, "status"), lambda t, r: r)
        finally:
            again.close()

        # removing the camera removes its Home Assistant entities (empty retained configs)
        assert server.request("DELETE", f"/api/cameras/{cid}")[0] in (200, 204)
        for obj in ha.OBJECTS:
            sub.wait(ha.config_topic("homeassistant", PREFIX, cid, obj), lambda t, r: t == "")
        sub.wait(topic(cid, "status"), lambda t, r: t == "")

        stop_server(server)
        server = None
        sub.wait(f"{PREFIX}/availability", lambda t, r: t == "offline", timeout=10)  # a clean stop says so too
    finally:
        sub.close()
        if server is not None:
            stop_server(server)


def test_last_will_when_the_server_is_killed(tmp_path, broker):
    script = textwrap.dedent(f"""
        import time
        from thermalstream.config import Settings
        from thermalstream.runtime import Runtime
        rt = Runtime.create(Settings(data_dir={str(tmp_path / 'data')!r}, default_camera={SIM!r},
                                     mqtt_url={broker.url!r}, detector="none", bcrypt_rounds=4,
                                     admin_password="test-admin-pw-1")).start()
        print("started", flush=True)
        time.sleep(120)
        """)
    sub = Listener(broker, topics=(f"{PREFIX}/availability",))
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=Path(__file__).parents[1],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        sub.wait(f"{PREFIX}/availability", lambda t, r: t == "online", timeout=60)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        sub.wait(f"{PREFIX}/availability", lambda t, r: t == "offline", timeout=60)  # keepalive 30 s * 1.5 at worst
    finally:
        if proc.poll() is None:
            proc.kill()
        sub.close()
    late = Listener(broker, topics=(f"{PREFIX}/availability",))
    try:
        assert late.wait(f"{PREFIX}/availability", lambda t, r: r) == "offline"  # retained
    finally:
        late.close()


def test_bad_settings_and_refused_credentials_say_why(tmp_path, broker):
    for url, why in (("http://broker", "mqtt:// or mqtts://"), ("mqtt://", "names no host"),
                     ("mqtt://h:99999", "invalid port")):
        with pytest.raises(ValueError, match=why):
            parse_broker_url(url)
    assert parse_broker_url("mqtts://u:p%40ss@h").port == 8883 and parse_broker_url("mqtts://u:p%40ss@h").password == "p@ss"
    server = start_server(tmp_path, mqtt_url=f"mqtt://{USER}:wrong-password@127.0.0.1:{broker.port}")
    try:
        wait_for(lambda: server.runtime.mqtt.health()["state"] == "unreachable", what="refused")
        health = server.request("GET", "/health")[1]["integrations"]["mqtt"]
        assert "refused" in health["reason"] and "authori" in health["reason"].lower(), health
        assert "wrong-password" not in json.dumps(health)
    finally:
        stop_server(server)
    server = start_server(tmp_path / "b", mqtt_url="mqtt//broker")
    try:
        health = server.request("GET", "/health")[1]["integrations"]["mqtt"]
        assert health["state"] == "misconfigured" and "mqtt://" in health["reason"]
    finally:
        stop_server(server)


@pytest.fixture
def commanding(tmp_path, broker):
    server = start_server(tmp_path, mqtt_url=broker.url, mqtt_commands=True)  # true: the token mode
    sub = Listener(broker)
    try:
        for name, role in (("vera", "viewer"), ("otto", "operator")):
            server.runtime.auth.users.create(name, f"{name}-password-123", role)
        cid = live_camera(server)
        wait_for(lambda: server.runtime.mqtt.health()["state"] == "connected", what="bridge connected")
        yield server, sub, cid
    finally:
        sub.close()
        stop_server(server)


def _command(sub: Listener, cid: int, action: str, token: str | None, rid: str) -> dict:
    sub.publish(topic(cid, "command"), {"action": action, "token": token, "request_id": rid})
    return json.loads(sub.wait(topic(cid, "command/reply"), lambda t, r: json.loads(t)["request_id"] == rid))


def test_commands_follow_the_access_rules(commanding):
    server, sub, cid = commanding
    det = server.runtime.detection
    # token mode: Home Assistant gets sensors, no switches (their configs are only ever cleared)
    sub.wait(ha.config_topic("homeassistant", PREFIX, cid, "status"), lambda t, r: t != "")
    assert all(t == "" for obj in ha.SWITCHES for t, _ in sub.on(ha.config_topic("homeassistant", PREFIX, cid, obj)))
    sub.wait(ha.config_topic("homeassistant", PREFIX, cid, "detection_switch"), lambda t, r: t == "")

    reply = _command(sub, cid, "detection_on", server.token("vera"), "viewer")
    assert reply["ok"] is False and reply["status"] == 403 and "operator" in reply["error"]
    assert _command(sub, cid, "detection_on", "not-a-token", "forged")["status"] == 401
    time.sleep(0.5)
    assert not det.enabled(cid)

    reply = _command(sub, cid, "detection_on", server.token("otto"), "operator")
    assert reply["ok"] is True and reply["user"] == "otto" and reply["result"]["detection"]["enabled"] is True
    assert det.enabled(cid) and server.request("GET", f"/api/cameras/{cid}/detection")[1]["enabled"] is True
    assert _command(sub, cid, "detection_off", server.token("otto"), "off")["ok"] and not det.enabled(cid)

    reply = _command(sub, cid, "record_start", server.token("otto"), "rec")
    assert reply["ok"] and server.runtime.recordings.is_recording(cid)
    assert _command(sub, cid, "record_stop", server.token("otto"), "stop")["ok"]
    assert not server.runtime.recordings.is_recording(cid)

    # a camera the operator may not see (shared with admins only) answers as an unknown one
    admin = server.runtime.auth.users.get("admin")
    server.runtime.cameras.set_shares(cid, [admin["id"]], [])
    assert _command(sub, cid, "detection_on", server.token("otto"), "hidden")["status"] == 404
    assert _command(sub, 999999, "detection_on", server.token("otto"), "unknown")["status"] == 404
    assert _command(sub, cid, "launch", server.token("admin"), "bad")["status"] == 400
    assert not det.enabled(cid)


@pytest.mark.ui
def test_storage_page_tells_admins_when_the_broker_is_unreachable(tmp_path, page):  # noqa: F811
    b = Broker(tmp_path / "broker")  # configured, not started yet: nothing listens on its port
    srv = start_server(tmp_path, mqtt_url=b.url)
    try:
        wait_for(lambda: srv.runtime.mqtt.health()["state"] == "unreachable", what="unreachable")
        login(page, srv)
        page.goto(srv.base + "/storage")
        alert = page.locator(".ts-mqtt-status p", has_text="MQTT broker unreachable")
        alert.wait_for(timeout=30000)
        text = alert.inner_text()
        assert f"127.0.0.1:{b.port}" in text and PASSWORD not in text and "queued" in text
        b.start()  # no reload: the page redraws when the bridge's state changes on the bus
        page.locator(".ts-mqtt-status p", has_text="MQTT connected").wait_for(timeout=60000)
        assert page.errors == []
    finally:
        stop_server(srv)
        b.stop()
