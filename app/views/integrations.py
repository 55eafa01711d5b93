"""Integration status for admins (MQTT): what ``/health`` says under ``integrations``, on the Storage
page, redrawn when a connection changes state (bus topic ``integrations``), never polled."""

from __future__ import annotations

from typing import Any

import panel as pn
import param

from app.views.session import can, session_user, viewer_zone, when_zone_known
from app.views.text import md_escape
from thermalstream.integrations.mqtt import TOPIC_STATUS
from thermalstream.notifications import format_local
from thermalstream.runtime import Runtime

ALERT = {"connected": "success", "connecting": "info", "unreachable": "danger", "misconfigured": "danger",
         "off": "light", "stopped": "light"}


def mqtt_text(h: dict[str, Any] | None, tz: str | None) -> str:
    """The MQTT bridge's health as Markdown (the broker and reasons escaped)."""
    if not h or h.get("state") == "off":
        return ("**MQTT** is off: set `THERMALSTREAM_MQTT_URL` to publish cameras, events and alarms to a "
                "broker (and Home Assistant). See docs/mqtt.md.")
    state, reason = h["state"], md_escape(h.get("reason") or "")
    since = format_local(h.get("since"), tz)
    if state == "unreachable":
        return (f"**MQTT broker unreachable** since {since}: {reason}. Messages wait in a queue "
                f"({h['queued']} queued, {h['dropped']} dropped); retained states are sent again once it is back.")
    if state == "misconfigured":
        return f"**MQTT is not running**: {reason}."
    extras = (f"topic prefix `{md_escape(h['topic_prefix'])}` · Home Assistant discovery "
              f"{'on' if h['discovery'] else 'off'} · commands {'on' if h['commands'] else 'off'} · "
              f"{h['published']} message(s) published, {h['dropped']} dropped")
    return f"**MQTT {md_escape(state)}** {reason} (since {since})  \n{extras}"


class IntegrationStatus(pn.viewable.Viewer):
    """One alert per integration; shown to admins only (the broker's address is for them)."""

    state = param.String(default="off", doc="the MQTT bridge's state, as last drawn")

    def __init__(self, runtime: Runtime, **params) -> None:
        super().__init__(**params)
        self.runtime = runtime
        self.admin = can(session_user(runtime), "admin")
        self.mqtt = pn.pane.Alert("", alert_type="light", sizing_mode="stretch_width", visible=self.admin,
                                  css_classes=["ts-mqtt-status"])
        self.redraw()
        doc = pn.state.curdoc
        if self.admin and doc is not None:
            def changed(event) -> None:  # any thread
                if event.data.get("name") == "mqtt":
                    doc.add_next_tick_callback(self.redraw)

            unsubscribe = runtime.bus.subscribe(changed, TOPIC_STATUS)
            pn.state.on_session_destroyed(lambda ctx: unsubscribe())
            when_zone_known(self.redraw)

    def redraw(self) -> None:
        if not self.admin:
            return
        h = self.runtime.mqtt.health() if self.runtime.mqtt is not None else None
        self.state = h["state"] if h else "off"
        self.mqtt.object = mqtt_text(h, viewer_zone())
        self.mqtt.alert_type = ALERT.get(self.state, "info")

    def __panel__(self):
        return self.mqtt
