"""The Notifications page: alarms (acknowledge them) and notifications, newest first, times in the viewer's own
time zone, mark as read. New ones appear as they come (the session's bridge), ticked rows stay ticked.

The page is state: ``unread_only`` (also in the URL: ``?unread=true``) and ``zone`` are parameters, the
checkbox is made from its parameter, and each table is a view that depends on them and on the bridge's
counters (``notifications``; ``events`` for alarms raised, cleared or acknowledged; ``cameras`` for a
camera shared with the user or no longer: what she may see is read again)."""

from __future__ import annotations

import pandas as pd
import panel as pn
import param

from app.access import about_visible_camera
from app.views.bridge import SessionBridge, session_bridge
from app.views.session import session_user, viewer_zone, visible_cameras, when_zone_known
from app.views.shell import page
from app.views.text import md_escape
from thermalstream.measure import store as measure_store
from thermalstream.notifications import format_local, zone_label
from thermalstream.runtime import Runtime


class NotificationsPage(pn.viewable.Viewer):
    unread_only = param.Boolean(default=False, doc="show only notifications not read yet")
    zone = param.String(default=None, allow_None=True, doc="the browser's time zone (None: not told yet, UTC)")
    bridge = param.ClassSelector(class_=SessionBridge, doc="this session's news from the bus")

    def __init__(self, runtime: Runtime, **params) -> None:
        super().__init__(bridge=session_bridge(runtime), zone=viewer_zone(), **params)
        self.runtime = runtime
        user = session_user(runtime)
        self.user_id = user.user_id if user else None  # own notifications plus broadcasts
        self.visible = visible_cameras(runtime, user)  # broadcasts about cameras this user may not see are hidden
        self.summary = pn.pane.Markdown()
        self.table = pn.widgets.Tabulator(pd.DataFrame(), disabled=True, show_index=False, selectable="checkbox",
                                          sizing_mode="stretch_width", height=500, pagination="local", page_size=25,
                                          css_classes=["ts-notifications"])
        self.alarms = pn.widgets.Tabulator(pd.DataFrame(), disabled=True, show_index=False, selectable="checkbox",
                                           sizing_mode="stretch_width", height=220, css_classes=["ts-alarms"])
        self._rows: list[dict] = []
        self._alarm_rows: list[dict] = []
        self.ack = pn.widgets.Button(label="Acknowledge selected alarms", width=220)
        self.ack.on_click(self._acknowledge)
        self.mark_selected = pn.widgets.Button(label="Mark selected read", width=160)
        self.mark_selected.on_click(self._mark_selected)
        self.mark = pn.widgets.Button(label="Mark all read", color="primary", width=140)
        self.mark.on_click(self._mark_read)
        self.unread_box = pn.widgets.Checkbox.from_param(self.param.unread_only, label="Unread only")
        self.show_notifications()
        self.show_alarms()
        if pn.state.location is not None:  # a bookmarked ?unread=true
            pn.state.location.sync(self, {"unread_only": "unread"})
        when_zone_known(lambda: setattr(self, "zone", viewer_zone()))

    @param.depends("unread_only", "zone", "bridge.notifications", watch=True)
    def show_notifications(self) -> None:
        """The user's notifications (unread only when asked), ticked rows kept ticked, and the unread count."""
        rows = [r for r in self.runtime.notifications.list(self.user_id, unread_only=self.unread_only, limit=500)
                if about_visible_camera(r.get("data") or {}, self.visible)]
        ticked = _ids(self._rows, self.table.selection)
        self._rows = rows
        self.table.value = pd.DataFrame(
            [{"time": format_local(r["created_at"], self.zone), "type": r["type"], "title": r["title"],
              "message": r["message"], "read": r["read"]} for r in rows],
            columns=["time", "type", "title", "message", "read"],
        )
        self.table.selection = _positions(rows, ticked)
        unread = self.runtime.notifications.unread_count(self.user_id)
        self.summary.object = f"{unread} unread · times shown in {md_escape(zone_label(self.zone))}"

    @param.depends("zone", "bridge.events", watch=True)
    def show_alarms(self) -> None:
        """Alarms of the cameras this user may see (raised, cleared, acknowledged), ticked rows kept ticked."""
        tz, ticked = self.zone, _ids(self._alarm_rows, self.alarms.selection)
        self._shown_for = self.visible
        self._alarm_rows = measure_store.list_alarms(self.runtime.db, self.visible, limit=200)
        names = {c["id"]: c["name"] for c in self.runtime.cameras.list(self.visible)}
        self.alarms.value = pd.DataFrame(
            [{"raised": format_local(a["raised_at"], tz), "cleared": format_local(a["cleared_at"], tz) or "active",
              "camera": names.get(a["camera_id"], a["camera_id"]), "alarm": a["name"], "message": a["message"],
              "acknowledged": format_local(a["acknowledged_at"], tz)} for a in self._alarm_rows],
            columns=["raised", "cleared", "camera", "alarm", "message", "acknowledged"])
        self.alarms.selection = _positions(self._alarm_rows, ticked)

    @param.depends("bridge.cameras", watch=True)
    def _cameras_changed(self) -> None:
        """A camera shared with this user, or no longer, or removed: both lists show what she may see now."""
        if self._see() != self._shown_for:
            self.show_notifications()
            self.show_alarms()

    def _see(self) -> set[int] | None:
        """The cameras this user may see now (None: all), told to the session's bridge too."""
        self.visible = visible_cameras(self.runtime, session_user(self.runtime))
        self.bridge.see(self.visible)
        return self.visible

    def _acknowledge(self, _event) -> None:
        for i in self.alarms.selection:
            if i < len(self._alarm_rows):
                try:
                    self.runtime.measure.acknowledge(self._alarm_rows[i]["id"], self.user_id, self._see())
                except LookupError:
                    pass  # gone, or no longer shared with this user: the list read below shows it so
        self.alarms.selection = []  # done with them
        self.show_alarms()

    def _mark_selected(self, _event) -> None:
        """Mark only the ticked notifications read (one or a few at a time)."""
        ids = [self._rows[i]["id"] for i in self.table.selection
               if i < len(self._rows) and self._rows[i]["id"] is not None]
        if ids:
            self.runtime.notifications.mark_read(self.user_id, ids)
        self.table.selection = []  # done with them
        self.show_notifications()

    def _mark_read(self, _event) -> None:
        self.runtime.notifications.mark_read(self.user_id)
        self.show_notifications()

    def __panel__(self):
        return pn.Column(pn.pane.Markdown("### Alarms"), self.alarms, self.ack, pn.pane.Markdown("### Notifications"),
                         pn.Row(self.unread_box, self.mark_selected, self.mark), self.summary, self.table,
                         sizing_mode="stretch_width")


def _ids(rows: list[dict], positions: list[int]) -> set:
    """The ids of the rows at ``positions`` (what the user ticked)."""
    return {rows[i]["id"] for i in positions if i < len(rows) and rows[i].get("id") is not None}


def _positions(rows: list[dict], ids: set) -> list[int]:
    """Where rows with these ids are now (new rows come first and move the others down)."""
    return [i for i, r in enumerate(rows) if r.get("id") in ids]


def notifications_page(runtime: Runtime):
    return page(runtime, "notifications", "Notifications", NotificationsPage(runtime))
