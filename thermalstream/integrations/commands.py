"""Commands over MQTT: detection on/off and record start/stop, authorised in one of two ways.

A command is a JSON object published to ``<prefix>/cameras/<id>/command``::

    {"action": "detection_on" | "detection_off" | "record_start" | "record_stop",
     "token": "<access token, token mode only>", "request_id": "<optional, echoed>"}

The reply goes to ``<prefix>/cameras/<id>/command/reply`` with ``ok``, an HTTP-like ``status`` and
an ``error`` that says why a command was refused. ``mode`` (``THERMALSTREAM_MQTT_COMMANDS``) says who
the command runs as:

* ``token``: the user of the access token, verified with her current role and session
  (``TokenService.verify_access`` with ``check_user``: logged-out, disabled or demoted users are refused);
* ``broker``: the broker's ACL decides who may publish on the command topics, and every command runs
  as the account ``command_user`` (``THERMALSTREAM_MQTT_COMMAND_USER``), looked up at each command:
  missing or disabled accounts are refused; a token in the message is not used.

Then, in both modes, as for the REST API: the least role of each command comes from the server's
access table (``app.access.MQTT_COMMANDS``, the roles of the REST routes they mirror; a runtime
without it refuses every command), and the camera must be one the user may see
(``CameraService.visible_ids``); others answer 404, as unknown cameras do.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from thermalstream.auth.errors import AuthError
from thermalstream.auth.roles import role_at_least

log = logging.getLogger(__name__)
MAX_COMMAND_BYTES = 16 * 1024
ACTIONS: dict[str, tuple[str, bool]] = {  # action -> (access group, on/start)
    "detection_on": ("detection", True), "detection_off": ("detection", False),
    "record_start": ("record", True), "record_stop": ("record", False),
}
MODES = ("off", "token", "broker")
OFF_REASON = "commands over MQTT are off on this server (THERMALSTREAM_MQTT_COMMANDS=off)"


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
        raise Refused(400, "a command is a JSON object: {\"action\": …}") from None
    if not isinstance(cmd, dict):
        raise Refused(400, "a command is a JSON object: {\"action\": …}")
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
    """Authorise and run commands. ``mode`` is one of :data:`MODES`; ``users`` (a ``UserService``) and
    ``command_user`` serve the broker mode; ``roles`` maps access groups to least roles (None: refuse all)."""

    def __init__(self, tokens, cameras, detection, recordings, *, mode: str, users=None,
                 command_user: str | None = None, roles: Mapping[str, str] | None = None) -> None:
        if mode not in MODES:
            raise ValueError(f"MQTT commands mode {mode!r}: use one of {', '.join(MODES)}")
        self.tokens, self.cameras, self.detection, self.recordings = tokens, cameras, detection, recordings
        self.mode, self.users, self.command_user = mode, users, command_user
        self.roles = roles
        self.accepted = 0
        self.refused = 0

    @property
    def enabled(self) -> bool:
        return self.mode != "off"

    @property
    def roles(self) -> Mapping[str, str] | None:
        return self._roles

    @roles.setter
    def roles(self, roles: Mapping[str, str] | None) -> None:
        """Set by the app when it serves the API; broker mode then logs whether its account may command."""
        self._roles = roles
        if roles is not None and self.mode == "broker":
            problem = self.account_problem()
            if problem:
                log.error("MQTT commands (broker mode) will be refused: %s", problem)
            else:
                log.info("MQTT commands (broker mode) run as %r; the broker's ACL decides who may publish them",
                         self.command_user)

    def account_problem(self) -> str | None:
        """Broker mode: why every command would be refused now (the account is missing, disabled or
        below the least role of each command); None when commands may run, and in other modes."""
        if self.mode != "broker":
            return None
        try:
            _, name, role = self._broker_account()
        except Refused as exc:
            return str(exc)
        if self.roles is None:
            return "commands need the server's access table (this runtime serves no API)"
        least = sorted(set(self.roles.values()))
        if not any(role_at_least(role, r) for r in least):
            return f"THERMALSTREAM_MQTT_COMMAND_USER {name!r} is {role}; MQTT commands need the {' or '.join(least)} role"
        return None

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
        """The user's name when she may run this command on this camera."""
        user_id, name, role = self._broker_account() if self.mode == "broker" else self._token_user(cmd)
        if self.roles is None:
            raise Refused(503, "commands need the server's access table (this runtime serves no API)")
        least = self.roles.get(ACTIONS[cmd["action"]][0])
        if least is None or not role_at_least(role, least):
            raise Refused(403, f"{cmd['action']} needs the {least or 'admin'} role; {name} is {role}")
        visible = self.cameras.visible_ids(user_id, role)
        if visible is not None and camera_id not in visible:
            raise Refused(404, f"no camera {camera_id}")
        try:
            self.cameras.get(camera_id)
        except LookupError:
            raise Refused(404, f"no camera {camera_id}") from None
        return name

    def _token_user(self, cmd: dict[str, Any]) -> tuple[int, str, str]:
        """(id, name, current role) of the command's access token; 401 when it is refused."""
        try:
            claims = self.tokens.verify_access(cmd.get("token"), check_user=True)
        except AuthError as exc:
            raise Refused(401, f"token refused: {exc}") from None
        return claims["user_id"], str(claims.get("name")), str(claims.get("role"))

    def _broker_account(self) -> tuple[int, str, str]:
        """(id, name, current role) of the account broker-mode commands run as; 503 when it cannot."""
        user = self.users.get(self.command_user) if self.users is not None and self.command_user else None
        if user is None:
            raise Refused(503, f"THERMALSTREAM_MQTT_COMMAND_USER {self.command_user!r} names no account "
                               "on this server; an admin creates it (an operator)")
        if not user["is_active"]:
            raise Refused(503, f"THERMALSTREAM_MQTT_COMMAND_USER {self.command_user!r} is disabled")
        return int(user["id"]), str(user["username"]), str(user["role"])

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
