"""The Schedules page: every recording schedule with its open or next window in the viewer's time
zone, a form to create one, and edit / enable-disable / delete of the selected schedule."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import available_timezones

import pandas as pd
import panel as pn

from app.views.session import can, session_user, viewer_zone, visible_cameras, when_zone_known
from app.views.shell import page
from app.views.text import md_escape
from thermalstream.notifications import format_local, zone_label
from thermalstream.runtime import Runtime
from thermalstream.schedules import DAYS, ScheduleError

COLUMNS = ["id", "camera", "name", "days", "start", "stop", "time zone", "enabled", "active now", "next window"]
ZONES = sorted(z for z in available_timezones() if "/" in z and not z.startswith(("Etc/", "SystemV/", "posix/",
                                                                                   "right/")))
ZONES = ["UTC", *ZONES]
FAILED = object()  # an action that failed (its message is already shown)


def _days(days: list[str]) -> str:
    if list(days) == list(DAYS):
        return "every day"
    if list(days) == list(DAYS[:5]):
        return "mon–fri"
    if list(days) == list(DAYS[5:]):
        return "sat, sun"
    return ", ".join(days)


def window_text(row: dict, tz: str | None) -> str:
    """The open window ("now, until …") or the next one, in the viewer's time zone."""
    if not row["enabled"]:
        return "disabled"
    if row["active"]:
        return f"now, until {format_local(row['window_end'], tz)}"
    if row["window_start"] is None:
        return "never"
    return f"{format_local(row['window_start'], tz)} → {format_local(row['window_end'], tz, '%H:%M %Z')}"


class SchedulesPage(pn.viewable.Viewer):
    def __init__(self, runtime: Runtime, **params) -> None:
        super().__init__(**params)
        self.runtime = runtime
        self.rows: list[dict] = []
        user = session_user(runtime)
        self.may_edit = can(user, "operator")  # viewers see the form disabled, not enabled-then-refused
        cams = {c["name"]: c["id"] for c in runtime.cameras.list(visible_cameras(runtime, user))}
        self.names = {v: k for k, v in cams.items()}
        self.table = pn.widgets.Tabulator(pd.DataFrame(columns=COLUMNS), disabled=True, show_index=False,
                                          selectable=1, sizing_mode="stretch_width", height=300,
                                          pagination="local", page_size=20)
        self.summary = pn.pane.Markdown("", margin=(0, 10))
        self.alert = pn.pane.Alert("", alert_type="danger", visible=False, sizing_mode="stretch_width")
        # the form (create, or edit the selected schedule)
        self.camera = pn.widgets.Select(label="Camera", options=cams, width=220)
        self.name_input = pn.widgets.TextInput(label="Name", placeholder="e.g. Night watch (optional)", width=220)
        self.days = pn.widgets.CheckBoxGroup(label="Days", options=list(DAYS), value=list(DAYS[:5]), inline=True)
        self.start = pn.widgets.TextInput(label="Start (HH:MM)", value="22:00", placeholder="HH:MM", width=110)
        self.stop = pn.widgets.TextInput(label="Stop (HH:MM)", value="06:00", placeholder="HH:MM", width=110)
        self.zone = pn.widgets.Select(label="Time zone", options=ZONES, value="UTC", width=220)
        self.enabled = pn.widgets.Checkbox(label="Enabled", value=True, align="end")
        self.create_btn = pn.widgets.Button(label="Create schedule", color="primary", width=150)
        self.save_btn = pn.widgets.Button(label="Save changes", color="primary", width=130, disabled=True)
        self.toggle_btn = pn.widgets.Button(label="Disable", width=100, disabled=True)
        self.delete_btn = pn.widgets.Button(label="Delete", color="danger", width=100, disabled=True)
        self.new_btn = pn.widgets.Button(label="New", width=80, disabled=True)
        self.refresh_btn = pn.widgets.Button(label="Refresh", width=90)
        self.form_title = pn.pane.Markdown("### New schedule")
        self.create_btn.on_click(lambda e: self._create())
        self.save_btn.on_click(lambda e: self._save())
        self.toggle_btn.on_click(lambda e: self._toggle())
        self.delete_btn.on_click(lambda e: self._delete())
        self.new_btn.on_click(lambda e: self._clear())
        self.refresh_btn.on_click(lambda e: self.refresh())
        self.table.param.watch(self._select, "selection")
        self._zone_touched = False
        self.zone.param.watch(self._touch_zone, "value")
        for w in (self.camera, self.name_input, self.days, self.start, self.stop, self.zone, self.enabled,
                  self.create_btn):
            w.disabled = not self.may_edit
        if not self.may_edit:
            self.form_title.object = "### Schedules (read only: editing needs the operator role)"
        if not cams:
            self._error("Add a camera on the Live page first: a schedule records one camera.")
        when_zone_known(self._on_load)
        self.refresh()

    # ------------------------------------------------------------------ helpers

    def _tz(self) -> str | None:
        return viewer_zone()

    def _visible(self) -> set[int] | None:
        """The cameras this user may see now (shares may change while the page is open)."""
        return visible_cameras(self.runtime, session_user(self.runtime))

    def _touch_zone(self, _event) -> None:
        self._zone_touched = True

    def _on_load(self) -> None:
        tz = self._tz()
        if tz and tz in ZONES and not self._zone_touched and self.selected is None:
            self.zone.value = tz
            self._zone_touched = False
        self.refresh()

    def _error(self, message: str) -> None:
        self.alert.alert_type = "danger"
        self.alert.object = md_escape(message)  # schedule and camera names are user text
        self.alert.visible = True

    def _ok(self, message: str) -> None:
        self.alert.alert_type = "success"
        self.alert.object = md_escape(message)
        self.alert.visible = True

    @property
    def selected(self) -> dict | None:
        sel = self.table.selection
        return self.rows[sel[0]] if sel and sel[0] < len(self.rows) else None

    def _values(self) -> dict:
        if self.camera.value is None:
            raise ScheduleError("choose a camera", "camera_id")
        if not self.days.value:
            raise ScheduleError("tick at least one day", "days_of_week")
        return {
            "camera_id": self.camera.value,
            "name": self.name_input.value.strip() or None,
            "days_of_week": [d for d in DAYS if d in self.days.value],
            "start_time": self.start.value.strip(),
            "stop_time": self.stop.value.strip(),
            "timezone": self.zone.value,
            "enabled": bool(self.enabled.value),
        }

    def _attempt(self, what: str, fn) -> object:
        if not can(session_user(self.runtime), "operator"):  # checked on every action, not only in the UI
            self._error(f"Could not {what}: editing schedules needs the operator role.")
            return FAILED
        try:
            out = fn()
        except ScheduleError as exc:
            label = {"days_of_week": "Days", "start_time": "Start", "stop_time": "Stop", "timezone": "Time zone",
                     "camera_id": "Camera", "name": "Name"}.get(exc.field or "", "")
            self._error(f"Could not {what}: {f'{label}: ' if label else ''}{exc}")
            return FAILED
        except Exception as exc:  # noqa: BLE001 - shown to the user, never a broken page
            self._error(f"Could not {what}: {exc}")
            return FAILED
        return out

    # ------------------------------------------------------------------ actions

    def refresh(self, select_id: int | None = None) -> None:
        visible = self._visible()
        self.names = {c["id"]: c["name"] for c in self.runtime.cameras.list(visible)}
        self.camera.options = {v: k for k, v in self.names.items()}
        keep = select_id if select_id is not None else (self.selected or {}).get("id")
        self.rows = self.runtime.schedules.list(visible=visible)
        tz = self._tz()
        self.table.value = pd.DataFrame([{
            "id": r["id"],
            "camera": self.names.get(r["camera_id"], str(r["camera_id"])),
            "name": r["name"],
            "days": _days(r["days_of_week"]),
            "start": r["start_time"],
            "stop": r["stop_time"] + (" (+1 day)" if r["crosses_midnight"] else ""),
            "time zone": r["timezone"],
            "enabled": "yes" if r["enabled"] else "no",
            "active now": "● recording window" if r["active"] else "",
            "next window": window_text(r, tz),
        } for r in self.rows], columns=COLUMNS)
        idx = [i for i, r in enumerate(self.rows) if r["id"] == keep]
        self.table.selection = idx[:1]
        self._select(None)  # the selection may be unchanged (no event) while its row changed
        now = format_local(datetime.now(UTC), tz, "%H:%M %Z")
        self.summary.object = (f"{len(self.rows)} schedule(s) · times of windows shown in {md_escape(zone_label(tz))} "
                               f"(now {now}); start and stop are in each schedule's own zone")

    def _create(self) -> None:
        me = session_user(self.runtime)
        values = {"created_by": me.user_id if me else None}
        row = self._attempt("create the schedule", lambda: self.runtime.schedules.create(
            {**self._values(), **values}, visible=self._visible()))
        if row is not FAILED:
            self._ok(f"Schedule “{row['name']}” created." + (" Its window is open: recording now."
                                                              if row["active"] else ""))
            self.refresh(select_id=row["id"])

    def _save(self) -> None:
        sel = self.selected
        if sel is None:
            return
        row = self._attempt("save the schedule", lambda: self.runtime.schedules.update(
            sel["id"], self._values(), visible=self._visible()))
        if row is FAILED:
            return
        if row is None:
            self._error(f"Schedule {sel['id']} no longer exists.")
            self.refresh()
            return
        self._ok(f"Schedule “{row['name']}” saved.")
        self.refresh(select_id=row["id"])

    def _toggle(self) -> None:
        sel = self.selected
        if sel is None:
            return
        row = self._attempt("change the schedule",
                            lambda: self.runtime.schedules.update(sel["id"], {"enabled": not sel["enabled"]},
                                                                 visible=self._visible()))
        if row is FAILED:
            return
        if row is None:
            self._error(f"Schedule {sel['id']} no longer exists.")
            self.refresh()
        else:
            self._ok(f"Schedule “{row['name']}” {'enabled' if row['enabled'] else 'disabled'}.")
            self.refresh(select_id=row["id"])

    def _delete(self) -> None:
        sel = self.selected
        if sel is None:
            return
        gone = self._attempt("delete the schedule",
                             lambda: self.runtime.schedules.delete(sel["id"], visible=self._visible()))
        if gone is True:
            self._ok(f"Schedule “{sel['name']}” deleted.")
        self.table.selection = []
        self.refresh()

    def _clear(self) -> None:
        self.table.selection = []
        self.alert.visible = False

    # ------------------------------------------------------------------ selection -> form

    def _clear_form_state(self) -> None:
        self.form_title.object = "### New schedule" if self.may_edit else self.form_title.object
        self.create_btn.disabled = not self.may_edit
        for b in (self.save_btn, self.toggle_btn, self.delete_btn, self.new_btn):
            b.disabled = True
        self.toggle_btn.label = "Disable"

    def _select(self, event) -> None:
        sel = self.selected
        if sel is None:
            self._clear_form_state()
            return
        if sel["camera_id"] in self.names:
            self.camera.value = sel["camera_id"]
        self.name_input.value = sel["name"]
        self.days.value = list(sel["days_of_week"])
        self.start.value = sel["start_time"]
        self.stop.value = sel["stop_time"]
        if sel["timezone"] not in self.zone.options:
            self.zone.options = [sel["timezone"], *self.zone.options]
        self.zone.value = sel["timezone"]
        self.enabled.value = sel["enabled"]
        self.form_title.object = f"### {'Edit' if self.may_edit else 'View'} schedule {sel['id']}"
        for b in (self.save_btn, self.toggle_btn, self.delete_btn):
            b.disabled = not self.may_edit
        self.new_btn.disabled = False
        self.toggle_btn.label = "Disable" if sel["enabled"] else "Enable"

    def __panel__(self):
        form = pn.Column(
            self.form_title,
            pn.Row(self.camera, self.name_input),
            pn.pane.Markdown("Days", margin=(0, 10)),
            self.days,
            pn.Row(self.start, self.stop, self.zone, self.enabled),
            pn.Row(self.create_btn, self.save_btn, self.toggle_btn, self.delete_btn, self.new_btn),
            sizing_mode="stretch_width",
        )
        return pn.Column(self.alert, pn.Row(self.refresh_btn, self.summary), self.table, form,
                         sizing_mode="stretch_width")


def schedules_page(runtime: Runtime):
    return page(runtime, "schedules", "Schedules", SchedulesPage(runtime))
