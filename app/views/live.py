"""The Live page: connect form and a grid of live cameras with status badges and fps."""

from __future__ import annotations

import html

import panel as pn
import param

from app.auth import Principal
from app.views import detector_state
from app.views.bridge import SessionBridge, every, session_bridge
from app.views.camera_view import CameraView, colour_bar
from app.views.display_form import DisplayForm
from app.views.radiometry_form import RadiometryForm
from app.views.record_mode_form import RecordModeForm
from app.views.roi_editor import RoiEditor
from app.views.session import can, session_user, visible_cameras
from app.views.sharing_form import SharingForm
from app.views.shell import STYLE, page
from app.views.text import md_escape
from thermalstream.cameras import CameraConflict, CameraNotFound
from thermalstream.palettes import PALETTES
from thermalstream.record.service import RecordingError
from thermalstream.runtime import Runtime
from thermalstream.sources.url import CameraURLError

URL_HELP = "sim://?people=3 · rtsp://user:pass@host/stream · http://host/video.mjpg · 0 · /dev/video0 · /path/clip.mp4"


def toast_error(message: str) -> None:
    """Show an error toast in this browser session."""
    if pn.state.notifications is not None:
        pn.state.notifications.error(html.escape(message), duration=6000)


def badge_html(cam: dict) -> str:
    status = cam["status"]
    reason = html.escape(cam.get("reason") or "")
    fps = f"{cam.get('fps') or 0:.1f} fps" if status == "live" else ""
    if status == "live" and cam.get("temperature"):
        t = cam["temperature"]
        unit = html.escape(t.get("unit") or cam.get("temperature_unit") or "")
        digits = 0 if unit == "counts" else 1
        fps += f" · {t['min']:.{digits}f}–{t['max']:.{digits}f} {unit}"
    title = f' title="{reason}"' if reason else ""
    detail = f'<div class="ts-reason" style="font-size:12px;color:#c62828">{reason}</div>' if reason and status != "live" else ""
    return (f'<span class="ts-badge {status}" data-status="{status}"{title}>{status}</span> '
            f'<span class="ts-fps" style="font-size:12px;color:#666">{fps}</span>{detail}')


def _title_html(cam: dict) -> str:
    return f"<b>{html.escape(cam['name'])}</b><br><small>{html.escape(cam['url'])}</small>"


class CameraCard(pn.viewable.Viewer):
    """One camera: title, status badge, fps, disconnect/remove buttons and the live canvas."""

    def __init__(self, runtime: Runtime, cam: dict, user: Principal | None = None, **params) -> None:
        super().__init__(**params)
        self.runtime = runtime
        self.user = user
        self.camera_id = cam["id"]
        self.badge = pn.pane.HTML(badge_html(cam), margin=(0, 5), stylesheets=[STYLE])
        self.toggle = pn.widgets.Button(label="Disconnect", color="light", width=100)
        self.remove = pn.widgets.Button(label="Remove", color="light", width=80)
        self.remove_media = pn.widgets.Select(options={"keep files in the archive": "archive",
                                                       "delete its files": "delete"}, width=170)
        self.detect = pn.widgets.Toggle(label="Detect", value=runtime.detection.enabled(cam["id"]), width=95)
        self.detect.param.watch(self._detect, "value")
        self.detector_line = pn.pane.HTML("", margin=(0, 5), sizing_mode="stretch_width",
                                          stylesheets=[detector_state.STYLE])
        self.record = pn.widgets.Button(label="● Record", color="light", width=90)
        self.record.on_click(self._record)
        self.toggle.on_click(self._toggle)
        self.remove.on_click(self._remove)
        self.stopped = pn.pane.HTML('<div class="ts-stopped" style="padding:10px;color:#555;background:#f3f3f3;'
                                    'border-radius:4px">Not connected: no picture. Press <b>Connect</b> to watch.</div>',
                                    sizing_mode="stretch_width", visible=False)
        self.view = CameraView(camera_id=cam["id"], sizing_mode="stretch_width",
                               probe=lambda x, y: runtime.cameras.temperature_at(self.camera_id, x, y))
        self.palette = pn.widgets.Select(options=list(PALETTES), value=cam.get("settings", {}).get("palette", "inferno"),
                                         width=110, visible=bool(cam.get("radiometric")))
        self.palette.param.watch(self._set_palette, "value")
        self.zones_toggle = pn.widgets.Toggle(label="Zones", width=70)
        self.zone_kind = pn.widgets.Select(options=["zone", "mask"], width=80)
        self.zone_name = pn.widgets.TextInput(placeholder="name, e.g. door", width=130)
        self.zone_required = pn.widgets.Checkbox(label="required to notify", width=140)
        self.zone_save = pn.widgets.Button(label="Save shape", color="primary", width=100)
        self.zone_clear = pn.widgets.Button(label="Remove all", width=100)
        self.zone_help = pn.pane.HTML("<small>Click points on the picture, then save.</small>")
        self.zone_editor = pn.Column(pn.Row(self.zone_kind, self.zone_name, self.zone_required),
                                     pn.Row(self.zone_save, self.zone_clear, self.zone_help), visible=False)
        self.radiometry = RadiometryForm(runtime, cam["id"], user)
        self.display = DisplayForm(runtime, cam["id"], user)
        self.record_mode = RecordModeForm(runtime, cam["id"], user)
        self.sharing = SharingForm(runtime, cam["id"], user)
        self.roi_editor = RoiEditor(runtime, cam["id"], self.view, user)
        self.zones_toggle.param.watch(self._zones_mode, "value")
        self.zone_save.on_click(self._save_zone)
        self.zone_clear.on_click(self._clear_zones)
        self.title = title = pn.pane.HTML(_title_html(cam))
        self.new_name = pn.widgets.TextInput(value=cam["name"], placeholder="camera name", width=200)
        self.rename = pn.widgets.Button(label="Rename", width=80)
        self.rename.on_click(self._rename)
        self._layout = pn.Card(
            pn.Row(self.badge, pn.HSpacer(), self.palette),
            self.detector_line,
            pn.FlexBox(self.detect, self.zones_toggle, self.record, self.toggle, self.remove),  # wraps in the card
            pn.Row(self.display.toggle, self.record_mode.toggle),
            self.zone_editor,
            pn.Row(self.roi_editor.toggle),
            self.roi_editor,
            self.display,
            self.record_mode,
            self.radiometry,
            self.sharing,
            pn.Row(self.new_name, self.rename, visible=can(user, "operator")),
            pn.Row(self.remove_media, visible=can(user, "admin")),
            self.view,
            self.stopped,
            self.roi_editor.profile,  # a line ROI's profile, under the picture
            header=title,
            collapsible=False,
            width=420,
            margin=8,
            css_classes=["ts-camera"],
        )
        operator, admin = can(user, "operator"), can(user, "admin")
        for w in (self.detect, self.record, self.toggle, self.palette):
            w.disabled = not operator
        self.zones_toggle.visible = operator
        self.remove.visible = admin
        self.update(cam)

    def _colour_bar(self, cam: dict) -> dict:
        """The colour bar for the newest encoded frame (nothing before the first one, or when stopped)."""
        if not cam.get("connected"):
            return {}
        try:
            scale = self.runtime.encoder(self.camera_id).display.scale
        except LookupError:
            return {}
        return colour_bar(scale, self.runtime.cameras.palette(self.camera_id))

    def allowed(self, role: str) -> bool:
        """Checked again on every action: a widget event is not proof of the role."""
        if can(session_user(self.runtime), role):
            return True
        toast_error(f"This needs the {role} role.")
        return False

    def tick(self, cam: dict) -> None:
        """What changes continuously (status line, fps, temperature range, REC, detector state), from
        memory: ``cam`` is the last row with its live part read again (CameraService.with_live)."""
        recording = self.runtime.recordings.is_recording(self.camera_id)
        badge = badge_html(cam) + (' <span class="ts-badge failed" data-rec="1">REC</span>' if recording else "")
        if self.badge.object != badge:
            self.badge.object = badge
        self.record.label = "■ Stop" if recording else "● Record"
        self.record.disabled = not cam.get("connected") or not can(self.user, "operator")
        self.detect.value = self.runtime.detection.enabled(self.camera_id) or bool(
            (cam.get("settings") or {}).get("detect", {}).get("enabled"))
        self._show_detector()
        if (scale := self._colour_bar(cam)) != self.view.scale:  # the automatic span moves with the scene
            self.view.scale = scale
        if cam.get("connected"):
            self.roi_editor.refresh()  # the ROIs' newest values on the picture

    def update(self, cam: dict) -> None:
        """Everything, after the camera changed (the session's bridge said so): reads the database."""
        self.tick(cam)
        self.palette.visible = bool(cam.get("radiometric"))
        self.radiometry.refresh()
        self.roi_editor.refresh(reload=True)  # ROIs over the picture with their values, red in alarm
        self.view.active = self.view.visible = bool(cam.get("connected"))  # a stopped camera: no black box
        self.stopped.visible = not cam.get("connected")
        self.toggle.label = "Disconnect" if cam.get("connected") else "Connect"
        if self.title.object != (title := _title_html(cam)):  # renamed here or through the API
            self.title.object = title

    def _show_detector(self) -> None:
        """The detector's state on the card and an unmistakable Detect button (off, on, on but not detecting)."""
        status = self.runtime.detection.detector_status(self.camera_id)  # a worker's own, with workers
        line = detector_state.detector_html(status, self.detect.value)
        if self.detector_line.object != line:
            self.detector_line.object = line
        self.detect.param.update(**detector_state.detect_button_look(self.detect.value, status))

    def _toggle(self, _event) -> None:
        if not self.allowed("operator"):
            return
        svc = self.runtime.cameras
        try:
            cam = svc.get(self.camera_id)
            cam = svc.disconnect(self.camera_id) if cam.get("connected") else svc.reconnect(self.camera_id)
        except (CameraConflict, CameraNotFound, CameraURLError) as exc:
            toast_error(str(exc))
            return
        self.update(cam)

    def _zones_mode(self, event) -> None:
        self.view.drawing = self.zone_editor.visible = event.new
        self.view.polygon = []

    def _save_zone(self, _event) -> None:
        if not self.allowed("operator"):
            return
        points = list(self.view.polygon)
        if len(points) < 3:
            toast_error("Click at least three points on the picture first.")
            return
        settings = self.runtime.cameras.get(self.camera_id).get("settings") or {}
        shape = {"name": self.zone_name.value.strip() or f"{self.zone_kind.value} {len(points)}", "points": points}
        key = "zones" if self.zone_kind.value == "zone" else "masks"
        if key == "zones":
            shape["required"] = self.zone_required.value
        try:
            self.runtime.detection.set_zones(self.camera_id, **{key: [*settings.get(key, []), shape]})
        except (LookupError, ValueError) as exc:
            toast_error(str(exc))
            return
        self.view.polygon = []
        self.zone_name.value = ""
        if pn.state.notifications is not None:
            pn.state.notifications.success(f"Saved {self.zone_kind.value} {html.escape(shape['name'])}", duration=4000)

    def _clear_zones(self, _event) -> None:
        if not self.allowed("operator"):
            return
        self.runtime.detection.set_zones(self.camera_id, masks=[], zones=[])
        self.view.polygon = []

    def _detect(self, event) -> None:
        if event.new == self.runtime.detection.enabled(self.camera_id) or not self.allowed("operator"):
            return
        try:
            self.runtime.detection.enable(self.camera_id, event.new)
        except (LookupError, ValueError) as exc:
            toast_error(str(exc))
        status = self.runtime.detection.detector_status(self.camera_id)  # a worker's own, with workers
        if event.new and not detector_state.working(status):
            toast_error(f"Detection is on but the detector is {status.state}: {status.message}")
        self._show_detector()

    def _record(self, _event) -> None:
        if not self.allowed("operator"):
            return
        recs = self.runtime.recordings
        try:
            if recs.is_recording(self.camera_id):
                recs.stop(self.camera_id)
            else:
                recs.start(self.camera_id)
        except RecordingError as exc:
            toast_error(str(exc))
            return
        self.update(self.runtime.cameras.get(self.camera_id))

    def _rename(self, _event) -> None:
        if not self.allowed("operator"):
            return
        try:
            cam = self.runtime.cameras.update(self.camera_id, name=self.new_name.value_input or self.new_name.value)
        except (CameraNotFound, CameraURLError) as exc:
            toast_error(str(exc))
            return
        self.update(self.runtime.cameras.get(cam["id"]))

    def _set_palette(self, event) -> None:
        if event.new == self.runtime.cameras.palette(self.camera_id) or not self.allowed("operator"):
            return
        try:
            self.runtime.cameras.update(self.camera_id, palette=event.new)
        except (CameraNotFound, CameraURLError) as exc:
            toast_error(str(exc))

    def _remove(self, _event) -> None:
        if not self.allowed("admin"):
            return
        try:
            self.runtime.cameras.delete(self.camera_id, self.remove_media.value)
        except CameraNotFound:
            pass

    def __panel__(self):
        return self._layout


class LivePage(pn.viewable.Viewer):
    refresh_ms = param.Integer(default=1000)
    bridge = param.ClassSelector(class_=SessionBridge, doc="this session's news from the bus")

    def __init__(self, runtime: Runtime, **params) -> None:
        super().__init__(bridge=session_bridge(runtime), **params)
        self.runtime = runtime
        self.url = pn.widgets.TextInput(label="Camera URL", placeholder=URL_HELP, sizing_mode="stretch_width")
        self.cam_name = pn.widgets.TextInput(label="Name (optional)", width=220)
        self.connect = pn.widgets.Button(label="Connect", color="primary", width=120, align="end")
        self.error = pn.pane.Alert("", alert_type="danger", visible=False, sizing_mode="stretch_width")
        self.connect.on_click(self._connect)
        self.url.param.watch(self._connect, "enter_pressed")
        self.grid = pn.FlexBox(sizing_mode="stretch_width")
        self.empty = pn.pane.Markdown("No cameras yet: type a URL above and press **Connect**."
                                      if can(session_user(runtime), "operator") else "No cameras to show.")
        self.cards: dict[int, CameraCard] = {}
        self.user = session_user(runtime)
        self.can_connect = can(self.user, "operator")
        self.rows: dict[int, dict] = {}
        self.refresh()
        self._cb = every(self.tick, self.refresh_ms)  # fps etc. from memory

    def _connect(self, _event) -> None:
        self.error.visible = False
        user = session_user(self.runtime)
        if not can(user, "operator"):
            self.error.object, self.error.visible = "Connecting cameras needs the operator role.", True
            return
        try:
            self.runtime.cameras.connect(self.url.value_input or self.url.value, self.cam_name.value,
                                         owner_id=user.user_id, any_file=can(user, "admin"))
        except (CameraURLError, CameraConflict) as exc:
            self.error.object = md_escape(exc)
            self.error.visible = True
            return
        self.url.value = self.url.value_input = ""
        self.cam_name.value = ""
        self.refresh()

    def tick(self) -> None:
        """Every second: the live part of each card, from memory (no database query)."""
        for cid, card in self.cards.items():
            if cid in self.rows:
                card.tick(self.runtime.cameras.with_live(self.rows[cid]))

    @param.depends("bridge.cameras", watch=True)
    def refresh(self) -> None:
        """The cameras this user may see, from the database: at start and when the bridge reports a change
        (a camera added, changed, removed or shared; its ROIs changed)."""
        visible = visible_cameras(self.runtime, self.user)
        self.bridge.see(visible)
        cams = self.rows = {c["id"]: c for c in self.runtime.cameras.list(visible)}
        for cid in list(self.cards):
            if cid not in cams:
                self.grid.remove(self.cards.pop(cid))
        for cid, cam in cams.items():
            if cid in self.cards:
                self.cards[cid].update(cam)
            else:
                self.cards[cid] = CameraCard(self.runtime, cam, self.user)
                self.grid.append(self.cards[cid])
        self.empty.visible = not cams

    def __panel__(self):
        form = pn.Row(self.url, self.cam_name, self.connect, sizing_mode="stretch_width", visible=self.can_connect)
        return pn.Column(form, self.error, self.empty, self.grid, sizing_mode="stretch_width")


def live_page(runtime: Runtime):
    return page(runtime, "live", "Live", LivePage(runtime))
