"""A camera's radiometry on the Live page: the unit and how temperatures are obtained (everyone),
and a small form for object parameters and the calibration of a counts source (operators)."""

from __future__ import annotations

import html

import panel as pn
from pydantic import ValidationError

from app.handlers.radiometry import validation_message
from app.views.session import can, session_user
from thermalstream.cameras import CameraNotFound
from thermalstream.runtime import Runtime
from thermalstream.sources.url import CameraURLError

FIELDS = {  # settings key -> (label, start, end, step)
    "emissivity": ("Emissivity (0.01–1)", 0.01, 1.0, 0.01),
    "reflected_c": ("Reflected temperature, °C", None, None, 0.5),
    "atmosphere_c": ("Atmospheric temperature, °C", None, None, 0.5),
    "humidity": ("Relative humidity (0–1)", 0.0, 1.0, 0.05),
    "distance_m": ("Distance, m", 0.0, None, 0.5),
}


def summary_html(info: dict) -> str:
    """One line: the unit of this camera's values and how they were obtained."""
    unit = info.get("temperature_unit")
    if unit is None:
        return '<small class="ts-rad-unit" data-unit="">No temperatures (pictures only, or no frame yet)</small>'
    how = html.escape(info.get("description") or "")
    note = " · uncalibrated sensor: give a calibration to get temperatures" if unit == "counts" else ""
    return (f'<small class="ts-rad-unit" data-unit="{html.escape(unit)}">Values in <b>{html.escape(unit)}</b>'
            f'{" · " + how if how else ""}{note}</small>')


class RadiometryForm(pn.viewable.Viewer):
    """Shown under a camera card; the form opens with the "Radiometry" toggle (operators only)."""

    def __init__(self, runtime: Runtime, camera_id: int, user=None, **params) -> None:
        super().__init__(**params)
        self.runtime, self.camera_id = runtime, camera_id
        self.summary = pn.pane.HTML("", margin=(0, 5))
        self.toggle = pn.widgets.Toggle(label="Radiometry", width=100, visible=can(user, "operator"))
        self.inputs = {k: pn.widgets.FloatInput(label=label, value=None, start=lo, end=hi, step=step, width=180,
                                                placeholder="source's own")
                       for k, (label, lo, hi, step) in FIELDS.items()}
        self.cal_a = pn.widgets.FloatInput(label="Calibration a (°C per count)", value=None, width=180)
        self.cal_b = pn.widgets.FloatInput(label="Calibration b (°C)", value=None, width=180)
        self.save = pn.widgets.Button(label="Save radiometry", color="primary", width=140)
        self.reset = pn.widgets.Button(label="Reset to source", width=120)
        self.message = pn.pane.HTML("", margin=(0, 5))
        self.save.on_click(self._save)
        self.reset.on_click(self._reset)
        self.form = pn.Column(pn.Row(*list(self.inputs.values())[:2]), pn.Row(*list(self.inputs.values())[2:4]),
                              pn.Row(self.inputs["distance_m"]), pn.pane.HTML(
                                  "<small>Counts sources only: °C = a × counts + b</small>"),
                              pn.Row(self.cal_a, self.cal_b), pn.Row(self.save, self.reset), self.message,
                              visible=False, css_classes=["ts-radiometry"])
        self.toggle.param.watch(self._open, "value")
        self.refresh()

    def refresh(self) -> None:
        """Update the unit line (called by the card on every refresh)."""
        try:
            self.summary.object = summary_html(self.runtime.cameras.radiometry(self.camera_id))
        except CameraNotFound:
            self.summary.object = ""

    def _open(self, event) -> None:
        self.form.visible = event.new
        if event.new:
            self._load()

    def _load(self) -> None:
        info = self.runtime.cameras.radiometry(self.camera_id)
        settings, used = info["settings"], info.get("in_effect") or {}
        for key, widget in self.inputs.items():
            widget.value = settings.get(key)
            if used.get(key) is not None:  # what applies while the field is empty
                widget.placeholder = f"source's own: {used[key]:.4g}"
        cal = settings.get("calibration") or {}
        if cal.get("points"):
            p1, p2 = cal["points"]
            a = (p2["celsius"] - p1["celsius"]) / (p2["counts"] - p1["counts"])
            cal = {"a": a, "b": p1["celsius"] - a * p1["counts"]}
        self.cal_a.value, self.cal_b.value = cal.get("a"), cal.get("b")

    def _changes(self) -> dict:
        changes: dict = {k: w.value for k, w in self.inputs.items()}
        a, b = self.cal_a.value, self.cal_b.value
        changes["calibration"] = None if a is None and b is None else {"a": a, "b": b}
        return changes

    def _save(self, _event) -> None:
        self._apply(self._changes())

    def _reset(self, _event) -> None:
        self._apply({**dict.fromkeys(FIELDS), "calibration": None})
        self._load()

    def _apply(self, changes: dict) -> None:
        if not can(session_user(self.runtime), "operator"):
            self._say("This needs the operator role.", error=True)
            return
        try:
            info = self.runtime.cameras.set_radiometry(self.camera_id, changes)
        except ValidationError as exc:
            self._say(validation_message(exc), error=True)
            return
        except (CameraURLError, CameraNotFound) as exc:
            self._say(str(exc), error=True)
            return
        self._say("Saved: applies from the next frame.")
        self.summary.object = summary_html(info)

    def _say(self, text: str, error: bool = False) -> None:
        colour = "#c62828" if error else "#2e7d32"
        role = ' role="alert"' if error else ""
        self.message.object = f'<small class="ts-rad-msg" style="color:{colour}"{role}>{html.escape(text)}</small>'

    def __panel__(self):
        return pn.Column(pn.Row(self.summary, pn.HSpacer(), self.toggle), self.form, margin=0)
