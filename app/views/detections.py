"""The Detections page: a live timeline, a filterable table and a gallery of event snapshots.

Its filters are state: ``camera`` (0: all), ``label``, ``hours`` and ``min_confidence`` are parameters of
the page (also in the URL: ``?camera=3&label=person&hours=1&min_confidence=0.5``), their widgets are made
from them, and the page is read again when they, the viewer's zone or the cameras she may see change;
new detections stream in from the session's bridge."""

from __future__ import annotations

import datetime as dt
import html
import math
import time

import pandas as pd
import panel as pn
import param

from app.views import detector_state
from app.views.bridge import SessionBridge, every, session_bridge
from app.views.charts import FollowX, holoviews, name_source, stream_pane
from app.views.export_control import ExportControl
from app.views.session import CameraFilter, follow_cameras, viewer_zone, when_zone_known
from app.views.shell import page
from thermalstream.detect import queries
from thermalstream.detect.timeline import detection_timeline
from thermalstream.notifications import chart_time, format_local, zone_label
from thermalstream.runtime import Runtime

DETECTOR_CHECK_MS = 2000  # the detector's state (weights, errors) is read from memory this often
TIMELINE_BUCKETS = 300  # the timeline counts the whole period in this many time buckets
TIMELINE_REFRESH_S = 1.0
TABLE_REFRESH_S = 3.0  # table, count and gallery are re-read at most this often while detections arrive


PERIODS = {"last hour": 1, "last 24 h": 24, "last 7 days": 168}


class DetectionsPage(CameraFilter, pn.viewable.Viewer):
    camera = param.Selector(default=None, objects=[], doc="the camera shown (0 or None: all); options: names")
    label = param.Selector(default="any", objects=["any"], doc="the class shown ('any': every class)")
    hours = param.Selector(default=24, objects=PERIODS, doc="the period: this many hours back from now")
    min_confidence = param.Number(default=0.0, bounds=(0.0, 1.0), step=0.05, doc="the lowest confidence")
    zone = param.String(default=None, allow_None=True, doc="the browser's time zone (None: not told yet)")
    bridge = param.ClassSelector(class_=SessionBridge, doc="this session's news from the bus")

    def __init__(self, runtime: Runtime, **params) -> None:
        super().__init__(bridge=session_bridge(runtime), zone=viewer_zone(), **params)
        self.param.label.objects = ["any", *sorted(runtime.detection.known_labels)]
        self.runtime = runtime
        self.names: dict[int, str] = {}
        self.camera_select = pn.widgets.Select.from_param(self.param.camera, label="Camera", width=200)
        self.visible = follow_cameras(runtime, self.camera_select, self.names, self._cameras_changed,
                                      all_label="All cameras")
        self.label_select = pn.widgets.Select.from_param(self.param.label, label="Class", width=140)
        self.hours_select = pn.widgets.Select.from_param(self.param.hours, label="Period", width=130)
        self.min_conf = pn.widgets.FloatSlider.from_param(self.param.min_confidence, label="Min confidence",
                                                          width=180)
        self.table = pn.widgets.Tabulator(pd.DataFrame(), disabled=True, show_index=False, sizing_mode="stretch_width",
                                          height=320, pagination="local", page_size=15)
        self.gallery = pn.pane.HTML("", sizing_mode="stretch_width")
        self.summary = pn.pane.Markdown("")
        self.detector = pn.pane.HTML("", sizing_mode="stretch_width", stylesheets=[detector_state.STYLE])
        self._show_detector()
        self.last_id = 0
        self._table_at = self._timeline_at = 0.0
        self._xlabel, self._period = "time", (None, None)
        self.follow = FollowX()  # the timeline follows new data until the user pans or zooms
        self.timeline = holoviews().streams.Pipe(data=timeline_frame([], {}, None))
        self.plot = stream_pane(self._timeline, self.timeline)
        self.kind = pn.widgets.RadioButtonGroup(options=["detections", "events"], value="detections", align="end")
        self.export = ExportControl(runtime, {"CSV": "csv", "Parquet": "parquet"}, self._export_request,
                                    label="Download")
        self._doc, self._trailing = pn.state.curdoc, False
        self.refresh()
        if pn.state.location is not None:  # a bookmarked ?camera=3&label=person&hours=1&min_confidence=0.5
            pn.state.location.sync(self, {"camera": "camera", "label": "label", "hours": "hours",
                                          "min_confidence": "min_confidence"})
            self._drop_unseen_camera()  # not (or no longer) one of hers: all her cameras
        when_zone_known(lambda: setattr(self, "zone", viewer_zone()))  # times in the browser's zone
        every(self._show_detector, DETECTOR_CHECK_MS)  # from memory

    def _filters(self) -> dict:
        camera = self._camera_id()
        if camera is None and self.visible is not None:
            camera = sorted(self.visible) or [-1]  # -1: no camera (the user may see none)
        return {
            "camera": camera,
            "label": None if self.label == "any" else self.label,
            "since": dt.datetime.now(dt.UTC) - dt.timedelta(hours=self.hours),
            "min_confidence": self.min_confidence or None,
        }

    def _export_request(self) -> dict:
        """The table as filtered on the page, every row (not only the newest 1000)."""
        f = self._filters()
        camera = f["camera"] if isinstance(f["camera"], int) else None  # else: the cameras the user sees
        return {"kind": self.kind.value, "camera_id": camera, "label": f["label"], "since": f["since"],
                "min_confidence": f["min_confidence"] if self.kind.value == "detections" else None}

    def _timeline(self, data: pd.DataFrame):
        """One dot per time bucket, camera and class (its size: how many), a row per camera the user sees,
        across the whole period (or where the user panned or zoomed to)."""
        hv = holoviews()
        cameras = hv.Dimension("y", label="camera", values=sorted({*self.names.values()}) or ["—"])
        return hv.Scatter(data, "t", [cameras, "label", "count", "confidence", "size"]).opts(
            color="#e8532f", alpha=0.6, size=hv.dim("size"), height=220, responsive=True, framewise=True,
            xlabel=self._xlabel, ylabel="camera", xlim=self.follow.xlim(self._period), toolbar="right",
            default_tools=[], tools=["xpan", "xwheel_zoom", "reset", "hover"], active_tools=["xpan", "xwheel_zoom"],
            hover_tooltips=[("class", "@label"), ("detections", "@count"),
                            ("best confidence", "@confidence{0.00}"), ("around", "@t{%F %T}")],
            hover_formatters={"@t": "datetime"}, hooks=[name_source("ts-timeline"), self.follow.hook])

    def _fill_timeline(self) -> None:
        """The whole period, counted per bucket, camera and class in the database (not the newest rows)."""
        f = self._filters()
        rows = detection_timeline(self.runtime.db, f["camera"], f["label"], f["since"], None, f["min_confidence"],
                                  buckets=TIMELINE_BUCKETS)
        width = rows[0]["width_s"] if rows else None
        self._period = (chart_time(f["since"], self.zone), chart_time(dt.datetime.now(dt.UTC), self.zone))
        self._xlabel = (f"time ({zone_label(self.zone)})"
                        + (f" · each dot: {_span(width)} of one class" if width else ""))
        self.timeline.send(timeline_frame(rows, self.names, self.zone))

    @param.depends("camera", "label", "hours", "min_confidence", "zone", watch=True)
    def refresh(self) -> None:
        """Reload the timeline, the table and the gallery for the current filters (runs when they change)."""
        rows = queries.query_detections(self.runtime.db, limit=1000, **self._filters())
        self.last_id = max((r["id"] for r in rows), default=self.last_id)
        self._fill_timeline()
        self._fill_table(rows)

    def _fill_table(self, rows: list[dict]) -> None:
        f = self._filters()
        tz = self.zone
        self.table.value = pd.DataFrame(
            [{"time": format_local(r["timestamp"], tz), "camera": self.names.get(r["camera_id"], r["camera_id"]),
              "class": r["label"], "confidence": round(r["confidence"], 2), "track": r["track_id"],
              "event": r["event_id"], "max": hottest(r)}
             for r in rows],
            columns=["time", "camera", "class", "confidence", "track", "event", "max"])
        total = queries.count_detections(self.runtime.db, **f)
        self.summary.object = (f"{total} detections in the period (table shows the newest {len(rows)}) · "
                               f"times in {zone_label(tz)}")
        events = queries.query_events(self.runtime.db, limit=24, **f)
        self.gallery.object = "".join(
            f'<figure style="display:inline-block;margin:4px;width:200px" data-event="{e["id"]}">'
            f'<img src="/api/events/{e["id"]}/snapshot.jpg" width="200" loading="lazy" alt="event {e["id"]}">'
            f'<figcaption style="font-size:12px">{html.escape(e["label"])} · {e["max_confidence"]:.2f} · '
            f'{html.escape(format_local(e["started_at"], tz))}</figcaption></figure>'
            for e in events if e["snapshot"]
        ) or "<i>No event snapshots in this period.</i>"

    def _show_detector(self) -> None:
        """The detector's state, and what to do when it cannot detect (weights, export, hotspot)."""
        html_ = detector_state.detector_html(self.runtime.detection.detector_status(self._camera_id()))
        if self.detector.object != html_:
            self.detector.object = html_

    @param.depends("bridge.detections", watch=True)
    def stream(self) -> None:
        """While detections arrive (the session's bridge says so, at most twice a second): the timeline
        is counted again every TIMELINE_REFRESH_S, the table and gallery every TABLE_REFRESH_S; what a
        burst leaves unshown is shown by one trailing call when that time has passed."""
        f = self._filters()
        newest = queries.query_detections(self.runtime.db, limit=1, **f)
        if not newest or newest[0]["id"] <= self.last_id:
            return
        now = time.monotonic()
        if now - self._timeline_at >= TIMELINE_REFRESH_S:
            self._timeline_at = now
            self._fill_timeline()
        if now - self._table_at >= TABLE_REFRESH_S:
            self._table_at = now
            rows = queries.query_detections(self.runtime.db, limit=1000, **f)
            self.last_id = max((r["id"] for r in rows), default=self.last_id)
            self._fill_table(rows)
        elif self._doc is not None and not self._trailing:
            self._trailing = True
            self._doc.add_timeout_callback(self._trail, int(1000 * (TABLE_REFRESH_S - (now - self._table_at))) + 50)

    def _trail(self) -> None:
        self._trailing = False
        self.stream()

    def __panel__(self):
        return pn.Column(
            self.detector,
            pn.Row(self.camera_select, self.label_select, self.hours_select, self.min_conf),
            self.summary,
            pn.pane.Markdown("#### Timeline"), self.plot,
            pn.pane.Markdown("#### Detections"), self.table,
            pn.Row(pn.pane.Markdown("Download the filtered", align="center"), self.kind, self.export),
            pn.pane.Markdown("#### Events"), self.gallery,
            sizing_mode="stretch_width",
        )


def detections_page(runtime: Runtime):
    return page(runtime, "detections", "Detections", DetectionsPage(runtime))


def timeline_frame(rows: list[dict], names: dict[int, str], tz: str | None) -> pd.DataFrame:
    """The timeline's buckets (``detection_timeline`` rows) as the chart's table, times in the zone ``tz``."""
    return pd.DataFrame({
        "t": pd.to_datetime([chart_time(r["t"], tz) for r in rows]),
        "y": [names.get(r["camera_id"], str(r["camera_id"])) for r in rows],
        "label": [r["label"] for r in rows],
        "count": [r["count"] for r in rows],
        "confidence": [r["max_confidence"] for r in rows],
        "size": [min(30.0, 5 + 3 * math.sqrt(r["count"])) for r in rows],
    })


def hottest(row: dict) -> str:
    """A detection's hottest value with its unit: '31.2 °C', '2412 counts' (uncalibrated sensor) or ''."""
    if row.get("max_celsius") is not None:
        return f"{row['max_celsius']:.1f} °C"
    if row.get("max_counts") is not None:
        return f"{row['max_counts']:.0f} counts"
    return ""


def _span(seconds: float) -> str:
    """'1 s', '12 s', '5 min', '2.0 h' for a bucket width."""
    if seconds < 120:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.0f} min" if seconds < 7200 else f"{seconds / 3600:.1f} h"
