"""A camera's display on the Live page: level/span (automatic, or a fixed range locked per camera), an
isotherm and hottest/coldest markers; operators change them, everyone sees the colour bar."""

from __future__ import annotations

import html

import panel as pn
from pydantic import ValidationError

from app.handlers.radiometry import validation_message
from app.views.session import can, session_user
from thermalstream.display import DisplaySettings
from thermalstream.runtime import Runtime


class DisplayForm(pn.viewable.Viewer):
    """Opens with the "Display" toggle (operators only); saved settings apply from the next frame."""

    def __init__(self, runtime: Runtime, camera_id: int, user=None, **params) -> None:
        super().__init__(**params)
        self.runtime, self.camera_id = runtime, camera_id
        self.toggle = pn.widgets.Toggle(label="Display", width=80, visible=can(user, "operator"))
        self.span = pn.widgets.RadioButtonGroup(options={"Auto span": "auto", "Fixed span": "fixed"}, value="auto")
        self.lo = pn.widgets.FloatInput(label="Low", value=None, width=90, step=0.5)
        self.hi = pn.widgets.FloatInput(label="High", value=None, width=90, step=0.5)
        self.iso_mode = pn.widgets.Select(label="Isotherm", options={"none": "", "above": "above", "below": "below",
                                                                     "between": "between"}, value="", width=100)
        self.t1 = pn.widgets.FloatInput(label="t1", value=None, width=80, step=0.5)
        self.t2 = pn.widgets.FloatInput(label="t2", value=None, width=80, step=0.5)
        self.colour = pn.widgets.ColorPicker(label="Colour", value="#00ff66", width=70)
        self.markers = pn.widgets.Checkbox(label="Hottest/coldest markers")
        self.save = pn.widgets.Button(label="Save display", color="primary", width=120)
        self.message = pn.pane.HTML("")
        self.save.on_click(lambda e: self._save())
        self.form = pn.Column(pn.Row(self.span, self.lo, self.hi), pn.Row(self.iso_mode, self.t1, self.t2, self.colour),
                              pn.Row(self.markers, self.save), self.message, visible=False)
        self.toggle.link(self.form, value="visible")
        self._load()

    def _load(self) -> None:
        s = self.runtime.display.get(self.camera_id)
        self.span.value, self.lo.value, self.hi.value, self.markers.value = s.span, s.lo, s.hi, s.markers
        if s.isotherm is not None:
            self.iso_mode.value, self.t1.value, self.t2.value = s.isotherm.mode, s.isotherm.t1, s.isotherm.t2
            self.colour.value = s.isotherm.colour

    def _save(self) -> None:
        if not can(session_user(self.runtime), "operator"):
            self.message.object = "<small style='color:#c62828'>This needs the operator role.</small>"
            return
        iso = ({"mode": self.iso_mode.value, "t1": self.t1.value, "t2": self.t2.value, "colour": self.colour.value}
               if self.iso_mode.value else None)
        body = {"span": self.span.value, "lo": self.lo.value, "hi": self.hi.value, "isotherm": iso,
                "markers": self.markers.value}
        try:
            self.runtime.display.set(self.camera_id, DisplaySettings.model_validate(body))
        except ValidationError as exc:
            self.message.object = f"<small style='color:#c62828'>{html.escape(validation_message(exc))}</small>"
            return
        self.message.object = "<small class='ts-display-saved'>Saved: applies from the next frame.</small>"

    def __panel__(self):
        return pn.Column(self.form)
