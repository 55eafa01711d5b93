"""The Recordings page: filter by camera and date, thumbnails, play with seeking, download or export.

Its filters are state: ``camera`` (also in the URL: ``?camera=3``; 0: all), ``dates`` and the viewer's
``zone`` are parameters of the page, their widgets are made from them, and the list is a view that
depends on them, on ``reload`` (the Refresh button) and on the bridge's ``recordings`` counter."""

from __future__ import annotations

import datetime as dt
import html
from pathlib import Path

import pandas as pd
import panel as pn
import param
from panel.custom import JSComponent

from app.views.bridge import SessionBridge, session_bridge
from app.views.charts import holoviews, name_source, stream_pane
from app.views.export_control import ExportControl
from app.views.range_export import RangeExport
from app.views.session import CameraFilter, can, follow_cameras, session_user, viewer_zone, when_zone_known
from app.views.shell import page
from app.views.text import md_escape
from app.views.thermal_player import ThermalPlayer
from thermalstream.datasets.recording import RecordingData
from thermalstream.detect import queries
from thermalstream.measure.geometry import Roi
from thermalstream.measure.store import list_rois
from thermalstream.notifications import chart_time, format_local, local_day_range, to_local, zone_label
from thermalstream.record.service import RecordingError
from thermalstream.runtime import Runtime


class SegmentPlayer(JSComponent):
    """A <video> that plays segments in order and draws detections over it from their timestamps."""

    segments = param.List(default=[], doc="[{url, start}] with start in epoch ms")
    detections = param.List(default=[], doc="[{t (epoch ms), box [x1, y1, x2, y2], label, confidence}]")
    show_detections = param.Boolean(default=True)
    window_ms = param.Number(default=400, doc="how long a detection stays drawn after its timestamp")
    _esm = Path(__file__).with_name("player.js")
    _stylesheets = [".ts-segments button{margin:2px;padding:2px 8px;border:1px solid #ccc;border-radius:4px;"
                    "background:#fff;cursor:pointer}.ts-segments button.active{background:#e8532f;color:#fff}"]


def _epoch_ms(iso: str) -> float:
    return dt.datetime.fromisoformat(iso).timestamp() * 1000.0


def detections_frame(dets: list[dict], tz: str | None = None) -> pd.DataFrame:
    """Detections of one recording as the timeline's table: time (in the viewer's zone) and class."""
    return pd.DataFrame({"x": pd.to_datetime([chart_time(d["timestamp"], tz) for d in dets]),
                         "y": [d["label"] for d in dets]})


def detections_chart(data: pd.DataFrame, tz: str | None = None):
    """The detections of one recording over time, one row per class (shown under the player)."""
    hv = holoviews()
    return hv.Scatter(data, "x", hv.Dimension("y", values=sorted(set(data["y"])) or ["—"])).opts(
        color="#e8532f", alpha=0.6, size=8, height=160, responsive=True, framewise=True,
        xlabel=f"time ({zone_label(tz)})", ylabel="", toolbar="right", default_tools=[],
        tools=["xpan", "xwheel_zoom", "reset", "hover"], active_tools=["xpan", "xwheel_zoom"],
        hover_tooltips=[("class", "@y"), ("time", "@x{%T}")], hover_formatters={"@x": "datetime"},
        hooks=[name_source("ts-recording-detections")])


def _size(n: int | None) -> str:
    n = n or 0
    return f"{n / 1e9:.2f} GB" if n >= 1e9 else f"{n / 1e6:.1f} MB" if n >= 1e6 else f"{n / 1e3:.0f} kB"


def _duration(s: float | None) -> str:
    s = int(s or 0)
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


class RecordingsPage(CameraFilter, pn.viewable.Viewer):
    camera = param.Selector(default=None, objects=[], doc="the camera listed (0 or None: all); options: names")
    dates = param.CalendarDateRange(default=None, doc="the viewer's calendar days listed")
    zone = param.String(default=None, allow_None=True, doc="the browser's time zone (None: not told yet, UTC)")
    reload = param.Event(doc="read the list again")
    bridge = param.ClassSelector(class_=SessionBridge, doc="this session's news from the bus")

    def __init__(self, runtime: Runtime, **params) -> None:
        today = dt.date.today()
        super().__init__(bridge=session_bridge(runtime), zone=viewer_zone(),
                         dates=(today - dt.timedelta(days=7), today), **params)
        self.runtime = runtime
        self.protect = pn.widgets.Button(label="Protect from cleanup", width=190, visible=False)
        self.protect.on_click(self._toggle_protect)
        self.protect_note = pn.pane.Alert("", alert_type="danger", visible=False, sizing_mode="stretch_width")
        self.delete = pn.widgets.Button(label="Delete recording", color="danger", width=260, visible=False)
        self._armed: int | None = None  # the first click arms, a second click on the same recording deletes
        self.delete.on_click(self._delete)
        self.names: dict[int, str] = {}
        self.camera_select = pn.widgets.Select.from_param(self.param.camera, label="Camera", width=220)
        self.visible = follow_cameras(runtime, self.camera_select, self.names, self._cameras_changed,
                                      all_label="All cameras")
        self.dates_picker = pn.widgets.DateRangePicker.from_param(self.param.dates, label="Dates", width=260)
        self.refresh_btn = pn.widgets.Button.from_param(self.param.reload, label="Refresh", width=100, align="end")
        self.table = pn.widgets.Tabulator(pd.DataFrame(), disabled=True, show_index=False, selectable=1,
                                          sizing_mode="stretch_width", height=360, pagination="local", page_size=20,
                                          formatters={"thumbnail": {"type": "html"}})
        self.player = SegmentPlayer(sizing_mode="stretch_width")
        self.show_boxes = pn.widgets.Checkbox(label="Show detections on the video", value=True)
        self.show_boxes.link(self.player, value="show_detections")
        self.marks = holoviews().streams.Pipe(data=detections_frame([]))  # the selected recording's detections
        self.timeline = pn.Column(stream_pane(lambda data: detections_chart(data, self._tz()), self.marks),
                                  sizing_mode="stretch_width", visible=False)
        self.thermal = pn.Column(sizing_mode="stretch_width")  # the thermal player of radiometric recordings
        self.tabs = pn.Tabs(("Video", pn.Column(self.show_boxes, self.player, self.timeline, sizing_mode="stretch_width")),
                            ("Thermal data", self.thermal), sizing_mode="stretch_width")
        self.details = pn.pane.HTML("Select a recording to play it.", sizing_mode="stretch_width")
        self.selected: dict | None = None
        self.export = ExportControl(runtime, {"NetCDF": "netcdf", "HDF5": "hdf5"}, self._export_request,
                                    label="Export thermal data")  # °C, or counts for an uncalibrated camera
        self.table.param.watch(self._select, "selection")
        self.rows: list[dict] = []
        self.zone_note = pn.pane.Markdown("", margin=(0, 10))
        self.range_export = RangeExport(runtime, lambda: self._camera_id() or 0, self.names, self._tz)
        self._restoring = False  # True while refresh() puts the user's selection back
        self.refresh()
        if pn.state.location is not None:  # a bookmarked ?camera=3
            pn.state.location.sync(self, {"camera": "camera"})
            self._drop_unseen_camera()  # not (or no longer) one of hers: all her cameras
        when_zone_known(self._on_load)

    def _tz(self) -> str | None:
        return self.zone

    @param.depends("camera", watch=True)
    def _camera_chosen(self) -> None:
        self.range_export.update()

    def _on_load(self) -> None:
        """The browser's zone is known now: its last seven days, times shown in it (refreshes when they change)."""
        tz = viewer_zone()
        today = to_local(dt.datetime.now(dt.UTC), tz).date()
        self.range_export.reset_zone()
        self.param.update(zone=tz, dates=(today - dt.timedelta(days=7), today))

    @param.depends("camera", "dates", "zone", "reload", "bridge.recordings", watch=True)
    def refresh(self) -> None:
        """The list for the chosen camera and days; the selected recording, the sorting and the page stay.
        Runs when a filter changes, on Refresh, and when the bridge says recordings started, stopped or
        closed a segment."""
        start, end = self.dates or (None, None)
        since, until = local_day_range(start, end, self._tz())  # the viewer's calendar days
        self.rows = [r for r in self.runtime.recordings.list(self._camera_id(), since, until, limit=1000)
                     if self.visible is None or r["camera_id"] in self.visible]
        tz, page = self._tz(), self.table.page
        self.zone_note.object = f"Dates and times in {zone_label(tz)}"
        self.table.value = pd.DataFrame(
            [{
                "thumbnail": f'<img src="/api/recordings/{r["id"]}/thumbnail.jpg" height="40" loading="lazy">'
                if r["segments"] else "",
                "id": r["id"],
                "camera": self.names.get(r["camera_id"], str(r["camera_id"])),
                "started": format_local(r["started_at"], tz),
                "duration": _duration(r["duration_s"]),
                "frames": r["frames"],
                "dropped": r["dropped_frames"],
                "size": _size(r["size_bytes"]),
                "status": r["status"],
                "scheduled": "yes" if r["scheduled"] else "",
                "protected": "yes" if r["protected"] else "",
            } for r in self.rows],
            columns=["thumbnail", "id", "camera", "started", "duration", "frames", "dropped", "size", "status",
                     "scheduled", "protected"],
        )
        self._keep_selection(page)

    def _keep_selection(self, page: int) -> None:
        """Select the selected recording again where it is now (rows move as recordings come), without
        reloading the player; keep the table's page."""
        keep = self.selected["id"] if self.selected else None
        at = [i for i, r in enumerate(self.rows) if r["id"] == keep]
        self._restoring = True
        try:
            self.table.selection = at[:1]
        finally:
            self._restoring = False
        if at:
            self.selected = self.rows[at[0]]
            self._show_details(self.selected)
            self._grow_player()
        _lo, hi = self.table.param.page.bounds or (1, page)
        if self.table.page != page and (hi is None or page <= hi):
            self.table.page = page

    def _select(self, event) -> None:
        if not event.new or self._restoring:
            return
        rec = self.rows[event.new[0]]
        self.selected = rec
        self._show_protect(rec)
        dets = self._load_player(rec)
        self.timeline.visible = bool(dets)
        if dets:
            self.marks.send(detections_frame(dets, self._tz()))
        for old in self.thermal.objects:
            if isinstance(old, ThermalPlayer):
                old.stop()
        self.thermal.objects = [self._thermal_player(rec)]
        self._show_details(rec)

    def _load_player(self, rec: dict) -> list[dict]:
        """The player's segments and detections of ``rec`` (the whole recording so far); returns the detections."""
        rid = rec["id"]
        full = self.runtime.recordings.get(rid)
        segments = [{"url": f"/api/recordings/{rid}/segments/{i}", "start": _epoch_ms(seg["started_at"])}
                    for i, seg in enumerate(full["segment_list"])]
        if segments != self.player.segments:
            self.player.segments = segments
        dets = queries.playback_detections(self.runtime.db, rec["camera_id"], rec["started_at"],
                                         rec["ended_at"] or dt.datetime.now(dt.UTC))  # the whole recording
        self.player.detections = [{"t": _epoch_ms(d["timestamp"]), "box": d["box"], "label": d["label"],
                                   "confidence": d["confidence"]} for d in dets]
        return dets

    def _grow_player(self) -> None:
        """The selected recording closed segments since the player got its list (it is still recording, or
        has just stopped): the player gets them; the playing video goes on (player.js keeps it)."""
        rec = self.selected
        if rec is not None and rec["segments"] != len(self.player.segments):
            self._load_player(rec)

    def _show_details(self, rec: dict) -> None:
        rid = rec["id"]
        error = f"<br><span style='color:#c62828'>{html.escape(rec['error'])}</span>" if rec.get("error") else ""
        self.details.object = (
            f"<b>Recording {rid}</b> · {rec['segments']} segment(s) · {_duration(rec['duration_s'])} · "
            f"{_size(rec['size_bytes'])} · {html.escape(rec['status'])} · "
            f"<a href='/api/recordings/{rid}/export.mp4'>Download MP4</a>{error}"
        )

    def _show_protect(self, rec: dict) -> None:
        """Operators protect a recording from retention cleanup, or release it; viewers see no button."""
        self.protect.visible = can(session_user(self.runtime), "operator")
        self.protect.label = "Unprotect (cleanup may delete it)" if rec["protected"] else "Protect from cleanup"
        self.protect.width = 240 if rec["protected"] else 190
        self.delete.visible = self.protect.visible
        self.delete.label, self._armed = "Delete recording", None

    def _toggle_protect(self, _event) -> None:
        rec, self.protect_note.visible = self.selected, False
        if rec is None:
            return
        if not can(session_user(self.runtime), "operator"):  # a widget event is not proof of the role
            self.protect_note.object, self.protect_note.visible = "Protecting recordings needs the operator role.", True
            return
        if self.visible is not None and rec["camera_id"] not in self.visible:
            return
        row = self.runtime.recordings.set_protected(rec["id"], not rec["protected"])
        rec["protected"] = row["protected"]
        self._show_protect(rec)
        idx = [i for i, r in enumerate(self.rows) if r["id"] == rec["id"]]
        if idx:
            self.table.patch({"protected": [(idx[0], "yes" if row["protected"] else "")]})

    def _delete(self, _event) -> None:
        """Operators delete the selected recording with a second click; protected ones are refused."""
        rec, self.protect_note.visible = self.selected, False
        if rec is None or not can(session_user(self.runtime), "operator"):
            return
        if self._armed != rec["id"]:
            self._armed, self.delete.label = rec["id"], f"Click again to delete recording {rec['id']}"
            return
        if self.visible is not None and rec["camera_id"] not in self.visible:
            return
        try:
            self.runtime.recordings.delete(rec["id"])
        except RecordingError as exc:
            self.protect_note.object, self.protect_note.visible = md_escape(exc), True
            return
        self.selected = None
        self.player.segments, self.player.detections = [], []
        for old in self.thermal.objects:
            if isinstance(old, ThermalPlayer):
                old.stop()
        self.thermal.objects = []
        self.details.object = f"Recording {rec['id']} deleted."
        self.protect.visible = self.delete.visible = False
        self._armed = None
        self.refresh()

    def _thermal_player(self, rec: dict):
        """The recording as thermal video from its lossless data, or why there is none."""
        try:
            data = RecordingData.from_path(self.runtime.recordings.resolve(rec["path"]))
        except (OSError, ValueError):
            return pn.pane.HTML("<i>No radiometric data in this recording (a picture-only camera, or the "
                                "recording keeps video only).</i>")
        rois = [Roi(r["id"], r["kind"], r["points"], r["name"]) for r in list_rois(self.runtime.db, rec["camera_id"])]
        return ThermalPlayer(data, palette=self.runtime.cameras.palette(rec["camera_id"]), rois=rois, tz=self._tz())

    def _export_request(self) -> dict:
        if self.selected is None:
            raise ValueError("select a recording first")
        return {"kind": "radiometric", "recording_id": self.selected["id"]}

    def __panel__(self):
        return pn.Column(
            pn.Row(self.camera_select, self.dates_picker, self.refresh_btn),
            self.zone_note,
            self.table,
            self.details,
            pn.Row(self.protect, self.delete, self.protect_note),
            self.export,
            self.tabs,
            self.range_export,
            sizing_mode="stretch_width",
        )


def recordings_page(runtime: Runtime):
    return page(runtime, "recordings", "Recordings", RecordingsPage(runtime))
