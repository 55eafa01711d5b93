"""Commands over MQTT: detection on/off and record start/stop, each carrying an API access token.

A command is a JSON object published to ``<prefix>/cameras/<id>/command``::

    {"action": "detection_on" | "detection_off" | "record_start" | "record_stop",
     "token": "<access token from POST /api/auth/token>", "request_id": "<optional, echoed>"}

The reply goes to ``<prefix>/cameras/<id>/command/reply`` with ``ok``, an HTTP-like ``status`` and
an ``error`` that says why a command was refused. Who may do what is decided as for the REST API:

* the token is verified with the user's current role and session (``TokenService.verify_access``
  with ``check_user``: logged-out, disabled or demoted users are refused);
* the least role of each command comes from the server's access table (``app.access.MQTT_COMMANDS``,
  the roles of the REST routes they mirror); a runtime without it refuses every command;
* the camera must be one the user may see (``CameraService.visible_ids``); others answer 404, as
  unknown cameras do.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from thermalstream.auth.errors import AuthError
from thermalstream.auth.roles import role_at_least

MAX_COMMAND_BYTES = 16 * 1024
ACTIONS: dict[str, tuple[str, bool]] = {  # action -> (access group, on/start)
    "detection_on": ("detection", True), "detection_off": ("detection", False),
    "record_start": ("record", True), "record_stop": ("record", False),
}
OFF_REASON = "commands over MQTT are off on this server (THERMALSTREAM_MQTT_COMMANDS=false)"


class Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def parse(raw: bytes) -> dict[str, Any]:
    """The JSON object of a message; :class:`Refused` (400) with the reason otherwise."""
    if len(raw) > MAX_COMMAND_BYTES:
        raise Refused(400, f"a command is at most {MAX_COMMAND_BYTES} bytes")
    try:
        cmd = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise Refused(400, "a command is a JSON object: {\"action\": …, \"token\": …}") from None
    if not isinstance(cmd, dict):
        raise Refused(400, "a command is a JSON object: {\"action\": …, \"token\": …}")
    return cmd


def check_action(cmd: dict[str, Any]) -> dict[str, Any]:
    """``cmd`` when its action is known; :class:`Refused` (400) otherwise."""
    if cmd.get("action") not in ACTIONS:
        raise Refused(400, f"unknown action {str(cmd.get('action'))[:32]!r}; use one of {', '.join(ACTIONS)}")
    return cmd


def request_id(cmd: Any) -> str | None:
    rid = cmd.get("request_id") if isinstance(cmd, dict) else None
    return rid[:64] if isinstance(rid, str) else None


class Commands:
    """Authorise and run commands. ``roles`` maps access groups to least roles (None: refuse all)."""

    def __init__(self, tokens, cameras, detection, recordings, *, enabled: bool,
                 roles: Mapping[str, str] | None = None) -> None:
        self.tokens, self.cameras, self.detection, self.recordings = tokens, cameras, detection, recordings
        self.enabled = enabled
        self.roles = roles
        self.accepted = 0
        self.refused = 0

    def handle(self, camera_id: int, raw: bytes) -> dict[str, Any]:
        """The reply to one command message (never raises)."""
        cmd: Any = None
        try:
            try:
                cmd = parse(raw)
            except Refused:
                if self.enabled:
                    raise
            if not self.enabled:  # said to every sender, with their request id
                raise Refused(403, OFF_REASON)
            check_action(cmd)
            user = self._authorise(camera_id, cmd)
            result = self._run(camera_id, cmd["action"])
        except Refused as exc:
            self.refused += 1
            action = cmd.get("action") if isinstance(cmd, dict) else None
            return self._reply(camera_id, cmd, action, False, exc.status, str(exc))
        self.accepted += 1
        return {**self._reply(camera_id, cmd, cmd["action"], True, 200, None), "user": user, "result": result}

    @staticmethod
    def _reply(camera_id: int, cmd: Any, action: Any, ok: bool, status: int, error: str | None) -> dict[str, Any]:
        return {"version": 1, "camera_id": camera_id, "request_id": request_id(cmd),
                "action": action if action in ACTIONS else None, "ok": ok, "status": status, "error": error}

    def _authorise(self, camera_id: int, cmd: dict[str, Any]) -> str:
        """The user's name when their token may run this command on this camera."""
        try:
            claims = self.tokens.verify_access(cmd.get("token"), check_user=True)
        except AuthError as exc:
            raise Refused(401, f"token refused: {exc}") from None
        if self.roles is None:
            raise Refused(503, "commands need the server's access table (this runtime serves no API)")
        group = ACTIONS[cmd["action"]][0]
        least = self.roles.get(group)
        if least is None or not role_at_least(claims.get("role"), least):
            raise Refused(403, f"{cmd['action']} needs the {least or 'admin'} role; "
                               f"{claims.get('name')} is {claims.get('role')}")
        visible = self.cameras.visible_ids(claims["user_id"], claims["role"])
        if visible is not None and camera_id not in visible:
            raise Refused(404, f"no camera {camera_id}")
        try:
            self.cameras.get(camera_id)
        except LookupError:
            raise Refused(404, f"no camera {camera_id}") from None
        return str(claims.get("name"))

    def _run(self, camera_id: int, action: str) -> dict[str, Any]:
        from thermalstream.detect.service import DetectionConfigError
        from thermalstream.record.service import RecordingConflict, StorageFull

        group, on = ACTIONS[action]
        try:
            if group == "detection":
                cfg = self.detection.configure(camera_id, enabled=on)
                return {"detection": {"enabled": bool(cfg.get("enabled", on))}}
            row = self.recordings.start(camera_id) if on else self.recordings.stop(camera_id)
            return {"recording": {"id": row.get("id"), "status": row.get("status")}}
        except LookupError:
            raise Refused(404, f"no camera {camera_id}") from None
        except StorageFull as exc:
            raise Refused(507, str(exc)) from None
        except (RecordingConflict, DetectionConfigError) as exc:
            raise Refused(409, str(exc)) from None
