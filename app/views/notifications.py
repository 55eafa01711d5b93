"""The Notifications page: newest first, times in the viewer's own time zone, mark as read."""

from __future__ import annotations

import pandas as pd
import panel as pn

from app.access import about_visible_camera
from app.views.session import session_user, visible_cameras
from app.views.shell import page
from app.views.text import md_escape
from thermalstream.notifications import format_local
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
        self.table = pn.widgets.Tabulator(pd.DataFrame(), disabled=True, show_index=False,
                                          sizing_mode="stretch_width", height=500, pagination="local", page_size=25)
        self.mark.on_click(self._mark_read)
        self.unread_only.param.watch(lambda e: self.refresh(), "value")
        pn.state.onload(self.refresh)
        self.refresh()

    def _tz(self) -> str | None:
        return getattr(pn.state.browser_info, "timezone", None)

    def refresh(self) -> None:
        rows = [r for r in self.runtime.notifications.list(self.user_id, unread_only=self.unread_only.value, limit=500)
                if about_visible_camera(r.get("data") or {}, self.visible)]
        tz = self._tz()
        self.table.value = pd.DataFrame(
            [{"time": format_local(r["created_at"], tz), "type": r["type"], "title": r["title"],
              "message": r["message"], "read": r["read"]} for r in rows],
            columns=["time", "type", "title", "message", "read"],
        )
        unread = self.runtime.notifications.unread_count(self.user_id)
        self.summary.object = f"{unread} unread · times shown in {md_escape(tz or 'UTC')}"

    def _mark_read(self, _event) -> None:
        self.runtime.notifications.mark_read(self.user_id)
        self.refresh()

    def __panel__(self):
        return pn.Column(pn.Row(self.unread_only, self.mark), self.summary, self.table, sizing_mode="stretch_width")


def notifications_page(runtime: Runtime):
    return page(runtime, "notifications", "Notifications", NotificationsPage(runtime))
