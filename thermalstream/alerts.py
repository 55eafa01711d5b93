"""Alert emails: one mail per new detection event or raised alarm to each user who opted in and may see the camera."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from thermalstream.auth import Mailer, UserService
from thermalstream.bus import Event, EventBus
from thermalstream.cameras import CameraService

log = logging.getLogger(__name__)


class AlertMailer:
    """Listens for ``detection.event`` starts on the bus; mails go out on the mailer's own thread."""

    def __init__(self, bus: EventBus, users: UserService, mailer: Mailer, cameras: CameraService,
                 public_url: str) -> None:
        self.users = users
        self.mailer = mailer
        self.cameras = cameras
        self.public_url = public_url.rstrip("/")
        self.sent = 0
        self._unsub = bus.subscribe(self._on_event, "detection.event")

    def _on_event(self, event: Event) -> None:
        d = event.data
        if d.get("state") != "start" or not self.mailer.config.enabled:
            return
        try:
            self.send(d)
        except Exception:  # noqa: BLE001 - mail trouble must not disturb detection
            log.exception("alert mail failed")

    def send(self, d: dict[str, Any]) -> int:
        cid = d["camera_id"]
        try:
            camera = self.cameras.get(cid)["name"]
        except LookupError:
            return 0
        started = datetime.fromtimestamp(d["started_at"], UTC).isoformat(timespec="seconds") \
            if isinstance(d.get("started_at"), (int, float)) else str(d.get("started_at", ""))
        temp = f", {d['max_celsius']} °C" if d.get("max_celsius") is not None else ""
        if d.get("kind") == "alarm":  # a measurement alarm (thermalstream.measure): its own words
            subject, text, link = f"Alarm: {d.get('name', '')} on {camera}", str(d.get("message", "")), "/notifications"
        else:
            subject = f"{d['label'].capitalize()} detected on {camera}"
            text, link = f"{d['label']} ({d.get('confidence', 0):.0%}{temp})", "/detections"
        n = 0
        for user in self.users.alert_recipients():
            visible = self.cameras.visible_ids(user["id"], user["role"])
            if visible is not None and cid not in visible:
                continue
            if self.mailer.send_alert(user["email"], subject, text, camera=camera,
                                      link=f"{self.public_url}{link}", time=started):
                n += 1
        self.sent += n
        return n

    def close(self) -> None:
        self._unsub()
