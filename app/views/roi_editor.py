"""Measurement regions on a Live camera card: the ROIs drawn over the picture with their values (red
while an alarm is up), a table of live values, a line ROI's profile, and for operators tools to draw
ROIs by clicking and to set an alarm on one."""

from __future__ import annotations

import html

import pandas as pd
import panel as pn

from app.views.bridge import every
from app.views.camera_view import CameraView, format_reading
from app.views.charts import holoviews, name_source, stream_pane
from app.views.session import can, session_user
from thermalstream.measure import store
from thermalstream.measure.alarms import RuleError
from thermalstream.measure.geometry import RoiError
from thermalstream.runtime import Runtime

HELP = {"box": "click two corners", "spot": "click one point", "line": "click both ends",
        "polygon": "click 3 or more corners"}


def values_html(rois: list[dict], live: dict | None, up: set[int]) -> str:
    """The table of ROI values (min, mean, max, std in the frame's unit); rows in alarm are red."""
    if not rois:
        return '<small class="ts-roi-table" data-rois="0">No measurement regions.</small>'
    if live and live.get("error"):  # e.g. a camera that gives pictures only
        return f'<small class="ts-roi-table" data-rois="{len(rois)}" style="color:#c62828">{html.escape(live["error"])}</small>'
    rows = []
    for r in rois:
        v = (live or {}).get("rois", {}).get(str(r["id"]))
        cells = ("<td colspan=4>–</td>" if v is None else "".join(
            f"<td>{html.escape(format_reading(v[k], v['unit']))}</td>" for k in ("min", "mean", "max")
        ) + f"<td>±{v['std']:.2f}</td>")
        alarm = r["id"] in up
        style = ' style="color:#c62828;font-weight:bold"' if alarm else ""
        rows.append(f'<tr data-roi="{r["id"]}" data-alarm="{int(alarm)}"{style}><td>{html.escape(r["name"])}</td>'
                    f"<td>{r['kind']}</td>{cells}</tr>")
    return ('<table class="ts-roi-table" style="font-size:12px" data-rois="%d"><tr><th>ROI</th><th></th><th>min</th>'
            "<th>mean</th><th>max</th><th>std</th></tr>%s</table>" % (len(rois), "".join(rows)))


def profile_frame(values: list[float], unit: str | None = None) -> pd.DataFrame:
    """A line ROI's values, pixel by pixel along the line (``unit`` kept as the frame's attribute)."""
    df = pd.DataFrame({"along": range(len(values)), "value": values})
    df.attrs["unit"] = unit or ""
    return df


def profile_chart(data: pd.DataFrame, name: str):
    """The values along a line ROI (HoloViews Curve), redrawn from its stream as the line or the scene changes."""
    return holoviews().Curve(data, "along", "value").opts(
        line_width=2, height=130, responsive=True, framewise=True, toolbar=None, xlabel="along the line",
        ylabel=data.attrs.get("unit", ""), hooks=[name_source(name)])


class RoiEditor(pn.viewable.Viewer):
    """Opened with the "ROIs" toggle of a camera card; values refresh twice a second while open."""

    def __init__(self, runtime: Runtime, camera_id: int, view: CameraView, user=None, **params) -> None:
        super().__init__(**params)
        self.runtime, self.camera_id, self.view, self.user = runtime, camera_id, view, user
        operator = can(user, "operator")
        self.toggle = pn.widgets.Toggle(label="ROIs", width=60)
        self.kind = pn.widgets.Select(options=list(HELP), value="box", width=90)
        self.roi_name = pn.widgets.TextInput(placeholder="name, e.g. bearing", width=140)
        self.draw = pn.widgets.Toggle(label="Draw", width=70)
        self.save = pn.widgets.Button(label="Save ROI", color="primary", width=90)
        self.help = pn.pane.HTML("", margin=(0, 5))
        self.pick = pn.widgets.Select(options={}, width=140)
        self.delete = pn.widgets.Button(label="Delete", width=70)
        self.alarm_on = pn.widgets.Select(options={"this ROI": "roi", "whole frame": "frame"}, width=110)
        self.alarm_kind = pn.widgets.Select(options=["above", "below"], width=80)
        self.alarm_value = pn.widgets.FloatInput(value=None, placeholder="limit", width=80)
        self.alarm_save = pn.widgets.Button(label="Set alarm", width=90)
        self.table = pn.pane.HTML(values_html([], None, set()), margin=(0, 5))
        self.line = holoviews().streams.Pipe(data=profile_frame([]))  # the profile of the camera's first line ROI
        self.profile = pn.Column(visible=False,  # its chart made when first shown (a pane's own visible breaks Panel)
                                 sizing_mode="stretch_width", css_classes=["ts-profile"])
        tools = pn.Column(pn.Row(self.kind, self.roi_name, self.draw), pn.Row(self.save, self.help),
                          pn.Row(self.pick, self.delete), pn.Row(self.alarm_on, self.alarm_kind, self.alarm_value),
                          pn.Row(self.alarm_save),
                          visible=operator)
        self.panel = pn.Column(tools, self.table, visible=False, css_classes=["ts-rois"])  # profile: under the view
        self.toggle.param.watch(self._open, "value")
        self.draw.param.watch(self._drawing, "value")
        self.kind.param.watch(lambda e: self._hint(), "value")
        self.save.on_click(self._save)
        self.delete.on_click(self._delete)
        self.alarm_save.on_click(self._set_alarm)
        self._rois: list[dict] = []
        self._rules: dict[int, dict] = {}
        self._cb = None
        self._hint()
        self.refresh(reload=True)

    def _hint(self) -> None:
        self.help.object = f"<small>{HELP[self.kind.value]} on the picture, then save.</small>"

    def _open(self, event) -> None:
        self.panel.visible = event.new
        if self._cb is None and event.new:
            self._cb = every(self.refresh, 500)
        elif self._cb is not None and not event.new:
            self._cb.stop()
            self._cb = None
            self.draw.value = False

    def _drawing(self, event) -> None:
        self.view.drawing = event.new
        self.view.polygon = []

    def allowed(self) -> bool:
        if can(session_user(self.runtime), "operator"):
            return True
        pn.state.notifications and pn.state.notifications.error("This needs the operator role.", duration=5000)
        return False

    def _toast(self, ok: bool, text: str) -> None:
        if pn.state.notifications is not None:
            (pn.state.notifications.success if ok else pn.state.notifications.error)(html.escape(text), duration=5000)

    def _save(self, _event) -> None:
        if not self.allowed():
            return
        kind, points = self.kind.value, [list(p) for p in self.view.polygon]
        try:
            roi = store.create_roi(self.runtime.db, self.camera_id, kind, points, self.roi_name.value.strip() or None,
                                   session_user(self.runtime).user_id)
        except (RoiError, ValueError) as exc:
            self._toast(False, f"Not saved: {exc}")
            return
        self.runtime.measure.reload(self.camera_id)
        self.view.polygon, self.roi_name.value, self.draw.value = [], "", False
        self._toast(True, f"Saved ROI {roi['name']}")
        self.refresh(reload=True)

    def _delete(self, _event) -> None:
        if not self.allowed() or self.pick.value is None:
            return
        try:
            store.delete_roi(self.runtime.db, self.pick.value, {self.camera_id})
        except LookupError:
            pass
        self.runtime.measure.reload(self.camera_id)
        self.refresh(reload=True)

    def _set_alarm(self, _event) -> None:
        whole = self.alarm_on.value == "frame"
        if not self.allowed() or (self.pick.value is None and not whole) or self.alarm_value.value is None:
            self._toast(False, "Pick an ROI (or the whole frame) and give a limit first")
            return
        key = "high" if self.alarm_kind.value == "above" else "low"
        roi = None if whole else next((r for r in self._rois if r["id"] == self.pick.value), None)
        name = f"{roi['name'] if roi else 'whole frame'} {self.alarm_kind.value} {self.alarm_value.value:g}"
        try:
            store.create_rule(self.runtime.db, self.camera_id, {"kind": self.alarm_kind.value, "name": name,
                                                                "roi_id": None if whole else self.pick.value,
                                                                key: self.alarm_value.value},
                              session_user(self.runtime).user_id)
        except (RuleError, LookupError, ValueError) as exc:
            self._toast(False, f"Not saved: {exc}")
            return
        self.runtime.measure.reload(self.camera_id)
        self._toast(True, f"Alarm set: {name}")

    def refresh(self, reload: bool = False) -> None:
        """Re-read the ROIs and alarm rules (when asked: the page does when the bus says they changed) and
        show the newest values (from memory) on the picture and in the table."""
        if reload:
            self._rois = store.list_rois(self.runtime.db, self.camera_id)
            self._rules = {r["id"]: r for r in store.list_rules(self.runtime.db, self.camera_id)}
            options = {f"{r['name']} (#{r['id']})": r["id"] for r in self._rois}
            if options != self.pick.options:  # unchanged: leave the widget alone (an open list stays open)
                self.pick.options = options
        measure = self.runtime.measure
        live = measure.live(self.camera_id) if measure is not None else None
        rules = self._rules if live else {}
        up = {rules[i]["roi_id"] for i in (live or {}).get("alarms", []) if i in rules}
        vals = (live or {}).get("rois", {})
        self.view.rois = [{"kind": r["kind"], "points": r["points"], "alarm": r["id"] in up,
                           "hot": vals.get(str(r["id"]), {}).get("hot_norm"),
                           "label": r["name"] + (f" {format_reading(vals[str(r['id'])]['max'], vals[str(r['id'])]['unit'])}"
                                                 if str(r["id"]) in vals else "")} for r in self._rois]
        self.table.object = values_html(self._rois, live, up)
        line = next((vals[str(r["id"])] for r in self._rois if r["kind"] == "line" and str(r["id"]) in vals), None)
        self.profile.visible = line is not None and "profile" in line
        if self.profile.visible:
            self.line.send(profile_frame(line["profile"], line.get("unit")))
            if not self.profile.objects:  # most cards never show one: no chart for them on the Live page
                self.profile.objects = [stream_pane(lambda data: profile_chart(data, f"ts-profile-{self.camera_id}"),
                                                    self.line)]

    def stop(self) -> None:
        if self._cb is not None:
            self._cb.stop()
            self._cb = None

    def __panel__(self):
        return self.panel
