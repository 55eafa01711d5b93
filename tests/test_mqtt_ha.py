"""MQTT commands authorised by the broker (THERMALSTREAM_MQTT_COMMANDS=broker) and Home Assistant's
switches: a real mosquitto with a password file and an ACL, a real server with a simulated camera.
The ACL lets the MQTT user ``hass`` publish commands and not ``guest``; commands run as the
ThermalStream account THERMALSTREAM_MQTT_COMMAND_USER, checked at each command."""

from __future__ import annotations

import json
import logging
import time

import pytest
from pydantic import ValidationError

from tests.conftest import start_server, stop_server, wait_for
from tests.test_mqtt import PREFIX, Broker, Listener, broker, live_camera, topic  # noqa: F401 - broker: fixture
from thermalstream.config import Settings
from thermalstream.integrations import ha
from thermalstream.integrations.broker import Topics

HASS, GUEST = ("hass", "hass-secret-1"), ("guest", "guest-secret-1")
ACCOUNT = "hass-op"  # the ThermalStream account commands run as
ACL = f"""\
    user thermalstream
    topic readwrite {PREFIX}/#
    topic write homeassistant/#

    user {HASS[0]}
    topic read {PREFIX}/#
    topic readwrite homeassistant/#
    topic write {PREFIX}/cameras/+/command

    pattern read {PREFIX}/#
    """  # the ACL docs/mqtt.md tells admins to write


def send(client: Listener, cid: int, payload: dict) -> None:
    client.publish(topic(cid, "command"), payload)


def reply_to(sub: Listener, cid: int, rid: str) -> dict:
    text = sub.wait(topic(cid, "command/reply"), lambda t, r: json.loads(t)["request_id"] == rid)
    return json.loads(text)


def test_command_mode_settings(monkeypatch):
    """true/false keep their meaning (token/off); broker needs the account; other words are refused."""
    assert Settings().mqtt_commands == "off"
    for env, mode in (("true", "token"), ("TRUE", "token"), ("token", "token"), ("false", "off"), ("off", "off")):
        monkeypatch.setenv("THERMALSTREAM_MQTT_COMMANDS", env)
        assert Settings().mqtt_commands == mode
    monkeypatch.setenv("THERMALSTREAM_MQTT_COMMANDS", "broker")
    with pytest.raises(ValidationError, match="THERMALSTREAM_MQTT_COMMAND_USER"):
        Settings()
    monkeypatch.setenv("THERMALSTREAM_MQTT_COMMAND_USER", ACCOUNT)
    assert (Settings().mqtt_commands, Settings().mqtt_command_user) == ("broker", ACCOUNT)
    monkeypatch.setenv("THERMALSTREAM_MQTT_COMMANDS", "sometimes")
    with pytest.raises(ValidationError, match="'off', 'token' or 'broker'"):
        Settings()


def switch_config(sub: Listener, cid: int, obj: str) -> dict:
    """The retained discovery config of one switch, checked for the keys Home Assistant needs."""
    text = sub.wait(ha.config_topic("homeassistant", PREFIX, cid, obj), lambda t, r: r and t != "")
    cfg = json.loads(text)
    assert all(k in cfg and cfg[k] not in (None, "") for k in ha.REQUIRED_KEYS + ha.SWITCH_KEYS), cfg
    assert cfg["unique_id"] == f"{PREFIX}_cam{cid}_{obj}" and cfg["command_topic"] == topic(cid, "command")
    assert cfg["device"]["identifiers"] == [f"{PREFIX}_cam{cid}"] and cfg["optimistic"] is False
    assert "token" not in cfg["payload_on"] and cfg["retain"] is False  # a retained command is ignored
    return cfg


def test_switches_only_in_broker_mode():
    cam, topics = {"id": 4, "name": "gate", "kind": "sim"}, Topics(PREFIX)
    plain = dict(ha.discovery_configs(cam, topics, "homeassistant", "1.0"))
    both = dict(ha.discovery_configs(cam, topics, "homeassistant", "1.0", switches=True))
    added = {t: c for t, c in both.items() if t not in plain}
    assert sorted(added) == [f"homeassistant/switch/{PREFIX}/cam4_{o}/config" for o in ha.SWITCHES]
    for cfg in added.values():
        assert all(k in cfg for k in ha.REQUIRED_KEYS + ha.SWITCH_KEYS) and cfg["device"] == plain[
            f"homeassistant/sensor/{PREFIX}/cam4_status/config"]["device"]
    det, rec = (both[f"homeassistant/switch/{PREFIX}/cam4_{o}/config"] for o in ha.SWITCHES)
    assert json.loads(det["payload_on"]) == {"action": "detection_on", "request_id": "homeassistant"}
    assert json.loads(rec["payload_off"])["action"] == "record_stop"
    assert (det["state_topic"], rec["state_topic"]) == (topic(4, "detection"), topic(4, "recording"))
    assert len({c["unique_id"] for c in both.values()}) == len(both)
    assert set(ha.removal_topics(4, topics, "homeassistant")) == set(both)  # removal clears the switches too


@pytest.fixture
def acl_broker(tmp_path):
    b = Broker(tmp_path / "broker", users=dict([HASS, GUEST]), acl=ACL).start()
    try:
        yield b
    finally:
        b.stop()


def test_broker_mode_obeys_who_the_acl_allows(tmp_path, acl_broker):
    server = start_server(tmp_path, mqtt_url=acl_broker.url, mqtt_commands="broker", mqtt_command_user=ACCOUNT)
    hass = guest = None
    try:
        server.runtime.auth.users.create(ACCOUNT, "hass-op-password-1", "operator")
        cid = live_camera(server)
        wait_for(lambda: server.runtime.mqtt.health()["state"] == "connected", what="bridge connected")
        health = server.request("GET", "/health")[1]["integrations"]["mqtt"]
        assert health["commands_mode"] == "broker" and health["commands_user"] == ACCOUNT
        assert health["commands_problem"] is None, health
        hass, guest = Listener(acl_broker, user=HASS[0], password=HASS[1]), Listener(acl_broker, user=GUEST[0],
                                                                                     password=GUEST[1])
        det = server.runtime.detection

        det_sw = switch_config(hass, cid, "detection_switch")
        rec_sw = switch_config(hass, cid, "recording_switch")
        assert hass.wait(det_sw["state_topic"], lambda t, r: r) == det_sw["state_off"]

        # the ACL does not let guest publish commands: mosquitto drops it, nothing runs, nothing answers.
        # hass's command, sent after the broker acknowledged guest's, is answered: guest's came to nothing
        guest.publish(det_sw["command_topic"], det_sw["payload_on"])
        send(hass, cid, {"action": "probe", "request_id": "probe"})
        assert reply_to(hass, cid, "probe")["status"] == 400
        assert [r["request_id"] for r in hass.json_on(topic(cid, "command/reply"))] == ["probe"]
        assert not det.enabled(cid)

        # hass may, with the switch's payload (no token): it runs as the account; the state topic follows
        hass.publish(det_sw["command_topic"], det_sw["payload_on"])
        reply = reply_to(hass, cid, ha.SWITCH_REQUEST_ID)
        assert reply["ok"] is True and reply["user"] == ACCOUNT and reply["result"]["detection"]["enabled"] is True
        assert det.enabled(cid)
        hass.wait(det_sw["state_topic"], lambda t, r: t == det_sw["state_on"], timeout=5)
        late = Listener(acl_broker, topics=(det_sw["state_topic"],), user=GUEST[0], password=GUEST[1])
        try:  # retained: Home Assistant (re)starting sees it
            assert late.wait(det_sw["state_topic"], lambda t, r: r) == "ON"
        finally:
            late.close()
        hass.publish(rec_sw["command_topic"], rec_sw["payload_on"])
        hass.wait(rec_sw["state_topic"], lambda t, r: t == rec_sw["state_on"])
        assert server.runtime.recordings.is_recording(cid)
        hass.publish(rec_sw["command_topic"], rec_sw["payload_off"])
        hass.wait(rec_sw["state_topic"], lambda t, r: t == rec_sw["state_off"])
        # switched off elsewhere (the REST API): the switch's state follows
        assert server.request("PATCH", f"/api/cameras/{cid}/detection", {"enabled": False})[0] == 200
        hass.wait(det_sw["state_topic"], lambda t, r: t == det_sw["state_off"], timeout=5)
        send(hass, cid, {"action": "detection_on", "request_id": "on"})
        assert reply_to(hass, cid, "on")["ok"] and det.enabled(cid)

        send(hass, cid, {"action": "record_start", "request_id": "rec"})
        assert reply_to(guest, cid, "rec")["ok"] and server.runtime.recordings.is_recording(cid)  # guest reads
        send(hass, cid, {"action": "record_stop", "request_id": "stop"})
        assert reply_to(hass, cid, "stop")["ok"] and not server.runtime.recordings.is_recording(cid)

        # a rename sends the switches again with the new device name; removal clears them
        assert server.request("PATCH", f"/api/cameras/{cid}", {"name": "gate"})[0] == 200
        for obj in ha.SWITCHES:
            hass.wait(ha.config_topic("homeassistant", PREFIX, cid, obj),
                      lambda t, r: t and json.loads(t)["device"]["name"] == "gate")

        # the account's role and cameras are read at each command: demoted, then an unshared camera
        server.runtime.auth.users.set_role(ACCOUNT, "viewer")
        send(hass, cid, {"action": "detection_off", "request_id": "demoted"})
        reply = reply_to(hass, cid, "demoted")
        assert reply["status"] == 403 and f"needs the operator role; {ACCOUNT} is viewer" in reply["error"]
        assert det.enabled(cid)
        server.runtime.auth.users.set_role(ACCOUNT, "operator")
        admin = server.runtime.auth.users.get("admin")
        server.runtime.cameras.set_shares(cid, [admin["id"]], [])
        send(hass, cid, {"action": "detection_off", "request_id": "hidden"})
        assert reply_to(hass, cid, "hidden")["status"] == 404 and det.enabled(cid)
        assert server.request("DELETE", f"/api/cameras/{cid}")[0] in (200, 204)
        for obj in ha.SWITCHES:
            hass.wait(ha.config_topic("homeassistant", PREFIX, cid, obj), lambda t, r: t == "")
        hass.wait(topic(cid, "detection"), lambda t, r: t == "")
    finally:
        for client in (hass, guest):
            if client is not None:
                client.close()
        stop_server(server)


def test_broker_mode_refuses_a_missing_viewer_or_disabled_account(tmp_path, broker, caplog):  # noqa: F811
    caplog.set_level(logging.INFO, logger="thermalstream.integrations.commands")
    server = start_server(tmp_path, mqtt_url=broker.url, mqtt_commands="broker", mqtt_command_user=ACCOUNT)
    sub = Listener(broker)
    try:
        cid = live_camera(server)
        wait_for(lambda: server.runtime.mqtt.health()["state"] == "connected", what="bridge connected")
        users, det = server.runtime.auth.users, server.runtime.detection
        # said at start-up (log) and in /health, before any command
        assert any("names no account" in r.getMessage() and r.levelno == logging.ERROR for r in caplog.records)
        problem = server.request("GET", "/health")[1]["integrations"]["mqtt"]["commands_problem"]
        assert f"THERMALSTREAM_MQTT_COMMAND_USER '{ACCOUNT}' names no account" in problem

        send(sub, cid, {"action": "detection_on", "request_id": "missing"})
        reply = reply_to(sub, cid, "missing")
        assert reply["ok"] is False and reply["status"] == 503 and "names no account" in reply["error"]

        users.create(ACCOUNT, "hass-op-password-1", "viewer")
        assert "is viewer; MQTT commands need the operator role" in server.runtime.mqtt.health()["commands_problem"]
        send(sub, cid, {"action": "detection_on", "request_id": "viewer", "token": server.token("admin")})
        reply = reply_to(sub, cid, "viewer")  # an admin's token changes nothing: the account is the viewer
        assert reply["status"] == 403 and reply["error"] == f"detection_on needs the operator role; {ACCOUNT} is viewer"

        users.set_role(ACCOUNT, "operator")
        users.set_active(ACCOUNT, False)
        send(sub, cid, {"action": "detection_on", "request_id": "disabled"})
        reply = reply_to(sub, cid, "disabled")
        assert reply["status"] == 503 and "is disabled" in reply["error"]
        assert "is disabled" in server.runtime.mqtt.health()["commands_problem"]
        time.sleep(0.3)
        assert not det.enabled(cid)

        users.set_active(ACCOUNT, True)
        assert server.runtime.mqtt.health()["commands_problem"] is None
        send(sub, cid, {"action": "detection_on", "request_id": "ok"})
        assert reply_to(sub, cid, "ok")["ok"] and det.enabled(cid)
    finally:
        sub.close()
        stop_server(server)
