"""The Notifications page: alarms (acknowledge them) and notifications, newest first, times in the viewer's own
time zone, mark as read. New ones appear as they come (the session's bridge), ticked rows stay ticked."""

from __future__ import annotations

import pandas as pd
import panel as pn

from app.access import about_visible_camera
from app.views.bridge import session_bridge
from app.views.session import session_user, viewer_zone, visible_cameras, when_zone_known
from app.views.shell import page
from app.views.text import md_escape
from thermalstream.measure import store as measure_store
from thermalstream.notifications import format_local, zone_label
from thermalstream.runtime import Runtime


class NotificationsPage(pn.viewable.Viewer):
    def __init__(self, runtime: Runtime, **params) -> None:
        super().__init__(**params)
        self.runtime = runtime
        user = session_user(runtime)
        self.user_id = user.user_id if user else None  # own notifications plus broadcasts
        self.visible = visible_cameras(runtime, user)  # broadcasts about cameras this user may not see are hidden
        self.unread_only = pn.widgets.Checkbox(label="Unread only")
        self.mark = pn.widgets.Button(label="Mark all read", color="primary", width=140)
        self.summary = pn.pane.Markdown()
        self.table = pn.widgets.Tabulator(pd.DataFrame(), disabled=True, show_index=False, selectable="checkbox",
                                          sizing_mode="stretch_width", height=500, pagination="local", page_size=25,
                                          css_classes=["ts-notifications"])
        self.mark_selected = pn.widgets.Button(label="Mark selected read", width=160)
        self.mark_selected.on_click(self._mark_selected)
        self._rows: list[dict] = []
        self.alarms = pn.widgets.Tabulator(pd.DataFrame(), disabled=True, show_index=False, selectable="checkbox",
                                           sizing_mode="stretch_width", height=220, css_classes=["ts-alarms"])
        self.ack = pn.widgets.Button(label="Acknowledge selected alarms", width=220)
        self.ack.on_click(self._acknowledge)
        self.mark.on_click(self._mark_read)
        self.unread_only.param.watch(lambda e: self.refresh(), "value")
        self._alarm_rows: list[dict] = []
        when_zone_known(self.refresh)
        self.refresh()
        session_bridge(runtime).param.watch(lambda _e: self.refresh(), ["notifications", "events"])  # events: alarms

    def _tz(self) -> str | None:
        return viewer_zone()

    def refresh(self) -> None:
        rows = [r for r in self.runtime.notifications.list(self.user_id, unread_only=self.unread_only.value, limit=500)
                if about_visible_camera(r.get("data") or {}, self.visible)]
        tz = self._tz()
        ticked = _ids(self._rows, self.table.selection)
        self._rows = rows
        self.table.value = pd.DataFrame(
            [{"time": format_local(r["created_at"], tz), "type": r["type"], "title": r["title"],
              "message": r["message"], "read": r["read"]} for r in rows],
            columns=["time", "type", "title", "message", "read"],
        )
        self.table.selection = _positions(rows, ticked)
        ticked = _ids(self._alarm_rows, self.alarms.selection)
        self._alarm_rows = measure_store.list_alarms(self.runtime.db, self.visible, limit=200)
        names = {c["id"]: c["name"] for c in self.runtime.cameras.list(self.visible)}
        self.alarms.value = pd.DataFrame(
            [{"raised": format_local(a["raised_at"], tz), "cleared": format_local(a["cleared_at"], tz) or "active",
              "camera": names.get(a["camera_id"], a["camera_id"]), "alarm": a["name"], "message": a["message"],
              "acknowledged": format_local(a["acknowledged_at"], tz)} for a in self._alarm_rows],
            columns=["raised", "cleared", "camera", "alarm", "message", "acknowledged"])
        self.alarms.selection = _positions(self._alarm_rows, ticked)
        unread = self.runtime.notifications.unread_count(self.user_id)
        self.summary.object = f"{unread} unread · times shown in {md_escape(zone_label(tz))}"

    def _acknowledge(self, _event) -> None:
        for i in self.alarms.selection:
            if i < len(self._alarm_rows):
                try:
                    measure_store.acknowledge(self.runtime.db, self._alarm_rows[i]["id"], self.user_id, self.visible)
                except LookupError:
                    pass
        self.alarms.selection = []  # done with them
        self.refresh()

    def _mark_selected(self, _event) -> None:
        """Mark only the ticked notifications read (one or a few at a time)."""
        ids = [self._rows[i]["id"] for i in self.table.selection
               if i < len(self._rows) and self._rows[i]["id"] is not None]
        if ids:
            self.runtime.notifications.mark_read(self.user_id, ids)
        self.table.selection = []  # done with them
        self.refresh()

    def _mark_read(self, _event) -> None:
        self.runtime.notifications.mark_read(self.user_id)
        self.refresh()

    def __panel__(self):
        return pn.Column(pn.pane.Markdown("### Alarms"), self.alarms, self.ack, pn.pane.Markdown("### Notifications"),
                         pn.Row(self.unread_only, self.mark_selected, self.mark), self.summary, self.table, sizing_mode="stretch_width")


def _ids(rows: list[dict], positions: list[int]) -> set:
    """The ids of the rows at ``positions`` (what the user ticked)."""
    return {rows[i]["id"] for i in positions if i < len(rows) and rows[i].get("id") is not None}


def _positions(rows: list[dict], ids: set) -> list[int]:
    """Where rows with these ids are now (new rows come first and move the others down)."""
    return [i for i, r in enumerate(rows) if r.get("id") in ids]


def notifications_page(runtime: Runtime):
    return page(runtime, "notifications", "Notifications", NotificationsPage(runtime))
