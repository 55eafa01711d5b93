"""The Detections page: a live timeline, a filterable table and a gallery of event snapshots."""

from __future__ import annotations

import datetime as dt
import html
import math
import time

import pandas as pd
import panel as pn
from bokeh.models import ColumnDataSource, HoverTool
from bokeh.plotting import figure

from app.views import detector_state
from app.views.bridge import every, session_bridge
from app.views.export_control import ExportControl
from app.views.session import follow_cameras, viewer_zone, when_zone_known
from app.views.shell import page
from thermalstream.detect import store
from thermalstream.detect.timeline import detection_timeline
from thermalstream.notifications import chart_time, format_local, zone_label
from thermalstream.runtime import Runtime

DETECTOR_CHECK_MS = 2000  # the detector's state (weights, errors) is read from memory this often
TIMELINE_BUCKETS = 300  # the timeline counts the whole period in this many time buckets
TIMELINE_REFRESH_S = 1.0
TABLE_REFRESH_S = 3.0  # table, count and gallery are re-read at most this often while detections arrive


class DetectionsPage(pn.viewable.Viewer):
    def __init__(self, runtime: Runtime, **params) -> None:
        super().__init__(**params)
        self.runtime = runtime
        self.names: dict[int, str] = {}
        self.camera = pn.widgets.Select(label="Camera", width=200)
        self.visible = follow_cameras(runtime, self.camera, self.names, self._cameras_changed, all_label="All cameras")
        self.label = pn.widgets.Select(label="Class", options=["any", *sorted(runtime.detection.known_labels)], width=140)
        self.hours = pn.widgets.Select(label="Period", options={"last hour": 1, "last 24 h": 24, "last 7 days": 168},
                                       value=24, width=130)
        self.min_conf = pn.widgets.FloatSlider(label="Min confidence", start=0, end=1, step=0.05, value=0, width=180)
        self.table = pn.widgets.Tabulator(pd.DataFrame(), disabled=True, show_index=False, sizing_mode="stretch_width",
                                          height=320, pagination="local", page_size=15)
        self.gallery = pn.pane.HTML("", sizing_mode="stretch_width")
        self.summary = pn.pane.Markdown("")
        self.detector = pn.pane.HTML("", sizing_mode="stretch_width", stylesheets=[detector_state.STYLE])
        self._show_detector()
        self.source = ColumnDataSource({"t": [], "y": [], "label": [], "count": [], "confidence": [], "size": []},
                                       name="ts-timeline")
        self.last_id = 0
        self._table_at = self._timeline_at = 0.0
        for w in (self.camera, self.label, self.hours, self.min_conf):
            w.param.watch(lambda e: self.refresh(), "value")
        self.plot = self._timeline()
        self.kind = pn.widgets.RadioButtonGroup(options=["detections", "events"], value="detections", align="end")
        self.export = ExportControl(runtime, {"CSV": "csv", "Parquet": "parquet"}, self._export_request,
                                    label="Download")
        self.refresh()
        when_zone_known(self.refresh)  # times in the browser's zone once it is known
        self._doc, self._trailing = pn.state.curdoc, False
        session_bridge(runtime).param.watch(lambda _e: self.stream(), "detections")  # new rows: from the bus
        every(self._show_detector, DETECTOR_CHECK_MS)  # from memory

    def _cameras_changed(self, visible: set[int] | None) -> None:
        """A camera added, renamed, removed or shared: its row on the timeline, the menu, the lists."""
        self.visible = visible
        self.plot.object.y_range.factors = sorted({*self.names.values()}) or ["—"]
        self.refresh()

    def _filters(self) -> dict:
        camera = self.camera.value or None  # 0: all cameras (a None value shows as a blank select)
        if camera is None and self.visible is not None:
            camera = sorted(self.visible) or [-1]  # -1: no camera (the user may see none)
        return {
            "camera": camera,
            "label": None if self.label.value == "any" else self.label.value,
            "since": dt.datetime.now(dt.UTC) - dt.timedelta(hours=self.hours.value),
            "min_confidence": self.min_conf.value or None,
        }

    def _export_request(self) -> dict:
        """The table as filtered on the page, every row (not only the newest 1000)."""
        f = self._filters()
        camera = f["camera"] if isinstance(f["camera"], int) else None  # else: the cameras the user sees
        return {"kind": self.kind.value, "camera_id": camera, "label": f["label"], "since": f["since"],
                "min_confidence": f["min_confidence"] if self.kind.value == "detections" else None}

    def _timeline(self):
        p = figure(x_axis_type="datetime", height=220, sizing_mode="stretch_width", y_range=sorted(
            {*self.names.values()} or ["—"]), toolbar_location="right", tools="xpan,xwheel_zoom,reset")
        p.scatter("t", "y", source=self.source, size="size", alpha=0.6, color="#e8532f")
        p.add_tools(HoverTool(tooltips=[("class", "@label"), ("detections", "@count"),
                                        ("best confidence", "@confidence{0.00}"), ("around", "@t{%F %T}")],
                              formatters={"@t": "datetime"}))
        p.yaxis.axis_label = "camera"
        return pn.pane.Bokeh(p, sizing_mode="stretch_width")

    def _fill_timeline(self) -> None:
        """The whole period, counted per bucket, camera and class in the database (not the newest rows)."""
        f = self._filters()
        rows = detection_timeline(self.runtime.db, f["camera"], f["label"], f["since"], None, f["min_confidence"],
                                  buckets=TIMELINE_BUCKETS)
        self.source.data = {
            "t": [chart_time(r["t"], viewer_zone()) for r in rows],
            "y": [self.names.get(r["camera_id"], str(r["camera_id"])) for r in rows],
            "label": [r["label"] for r in rows],
            "count": [r["count"] for r in rows],
            "confidence": [r["max_confidence"] for r in rows],
            "size": [min(30.0, 5 + 3 * math.sqrt(r["count"])) for r in rows],
        }
        width = rows[0]["width_s"] if rows else None
        self.plot.object.xaxis.axis_label = (f"time ({zone_label(viewer_zone())})"
                                             + (f" · each dot: {_span(width)} of one class" if width else ""))

    def refresh(self) -> None:
        """Reload the timeline, the table and the gallery for the current filters."""
        rows = store.query_detections(self.runtime.db, limit=1000, **self._filters())
        self.last_id = max((r["id"] for r in rows), default=self.last_id)
        self._fill_timeline()
        self._fill_table(rows)

    def _fill_table(self, rows: list[dict]) -> None:
        f = self._filters()
        tz = viewer_zone()
        self.table.value = pd.DataFrame(
            [{"time": format_local(r["timestamp"], tz), "camera": self.names.get(r["camera_id"], r["camera_id"]),
              "class": r["label"], "confidence": round(r["confidence"], 2), "track": r["track_id"],
              "event": r["event_id"], "max": hottest(r)}
             for r in rows],
            columns=["time", "camera", "class", "confidence", "track", "event", "max"])
        total = store.count_detections(self.runtime.db, **f)
        self.summary.object = (f"{total} detections in the period (table shows the newest {len(rows)}) · "
                               f"times in {zone_label(tz)}")
        events = store.query_events(self.runtime.db, limit=24, **f)
        self.gallery.object = "".join(
            f'<figure style="display:inline-block;margin:4px;width:200px" data-event="{e["id"]}">'
            f'<img src="/api/events/{e["id"]}/snapshot.jpg" width="200" loading="lazy" alt="event {e["id"]}">'
            f'<figcaption style="font-size:12px">{html.escape(e["label"])} · {e["max_confidence"]:.2f} · '
            f'{html.escape(format_local(e["started_at"], tz))}</figcaption></figure>'
            for e in events if e["snapshot"]
        ) or "<i>No event snapshots in this period.</i>"

    def _show_detector(self) -> None:
        """The detector's state, and what to do when it cannot detect (weights, export, hotspot)."""
        html_ = detector_state.detector_html(self.runtime.detection.detector_status())
        if self.detector.object != html_:
            self.detector.object = html_

    def stream(self) -> None:
        """While detections arrive (the session's bridge says so, at most twice a second): the timeline
        is counted again every TIMELINE_REFRESH_S, the table and gallery every TABLE_REFRESH_S; what a
        burst leaves unshown is shown by one trailing call when that time has passed."""
        f = self._filters()
        newest = store.query_detections(self.runtime.db, limit=1, **f)
        if not newest or newest[0]["id"] <= self.last_id:
            return
        now = time.monotonic()
        if now - self._timeline_at >= TIMELINE_REFRESH_S:
            self._timeline_at = now
            self._fill_timeline()
        if now - self._table_at >= TABLE_REFRESH_S:
            self._table_at = now
            rows = store.query_detections(self.runtime.db, limit=1000, **f)
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
            pn.Row(self.camera, self.label, self.hours, self.min_conf),
            self.summary,
            pn.pane.Markdown("#### Timeline"), self.plot,
            pn.pane.Markdown("#### Detections"), self.table,
            pn.Row(pn.pane.Markdown("Download the filtered", align="center"), self.kind, self.export),
            pn.pane.Markdown("#### Events"), self.gallery,
            sizing_mode="stretch_width",
        )


def detections_page(runtime: Runtime):
    return page(runtime, "detections", "Detections", DetectionsPage(runtime))


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
