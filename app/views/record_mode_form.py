"""A camera's recording mode on its Live card: manual, or on detection events with seconds kept
before and after each event (``thermalstream.record.events``); operators change it."""

from __future__ import annotations

import html

import panel as pn

from app.views.session import can, session_user
from thermalstream.record.events import MAX_PAD_S, RecordModeError
from thermalstream.runtime import Runtime


class RecordModeForm(pn.viewable.Viewer):
    """Opens with the "Event rec." toggle (operators only); says plainly when detection is off."""

    def __init__(self, runtime: Runtime, camera_id: int, user=None, **params) -> None:
        super().__init__(**params)
        self.runtime, self.camera_id = runtime, camera_id
        self.toggle = pn.widgets.Toggle(label="Event rec.", width=95, visible=can(user, "operator"))
        self.mode = pn.widgets.RadioButtonGroup(options={"Manual": "manual", "On detection events": "events"},
                                                value="manual")
        self.pre = pn.widgets.FloatInput(label="Seconds before", value=5.0, start=0, end=MAX_PAD_S, step=1, width=120)
        self.post = pn.widgets.FloatInput(label="Seconds after", value=5.0, start=0, end=MAX_PAD_S, step=1, width=120)
        self.save = pn.widgets.Button(label="Save recording mode", color="primary", width=170)
        self.message = pn.pane.HTML("")
        self.save.on_click(lambda e: self._save())
        self.form = pn.Column(self.mode, pn.Row(self.pre, self.post), self.save, self.message, visible=False)
        self.toggle.link(self.form, value="visible")
        self._load()

    def _service(self):
        return getattr(self.runtime, "event_recordings", None)

    def _load(self) -> None:
        svc = self._service()
        if svc is None:
            return
        try:
            info = svc.info(self.camera_id)
        except LookupError:
            return
        self.mode.value, self.pre.value, self.post.value = info["mode"], info["pre_s"], info["post_s"]
        self.message.object = self._state(info)

    def _state(self, info: dict) -> str:
        if info["mode"] != "events":
            return "<small class='ts-recmode'>Recording is manual (● Record, or a schedule).</small>"
        text = (f"Records {info['pre_s']:g} s before to {info['post_s']:g} s after each detection event.")
        if not self.runtime.detection.enabled(self.camera_id):
            return (f"<small class='ts-recmode' style='color:#c62828'>{html.escape(text)} Detection is off for "
                    "this camera, so nothing is recorded until you turn <b>Detect</b> on.</small>")
        return f"<small class='ts-recmode'>{html.escape(text)}</small>"

    def _save(self) -> None:
        if not can(session_user(self.runtime), "operator"):
            self.message.object = "<small style='color:#c62828'>This needs the operator role.</small>"
            return
        svc = self._service()
        if svc is None:
            self.message.object = "<small style='color:#c62828'>Event recording is not running.</small>"
            return
        try:
            info = svc.set_mode(self.camera_id, {"mode": self.mode.value, "pre_s": self.pre.value,
                                                 "post_s": self.post.value})
        except (RecordModeError, LookupError) as exc:
            self.message.object = f"<small style='color:#c62828'>{html.escape(str(exc))}</small>"
            return
        self.message.object = "<small class='ts-recmode-saved'>Saved.</small> " + self._state(info)

    def __panel__(self):
        return self.form
