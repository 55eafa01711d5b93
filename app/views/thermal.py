"""The Thermal page: pick cameras and their ROIs, see the trends over a chosen period (one plot per
ROI, zoom linked across them, new points streamed in while the period reaches now) and download the
series as CSV or Parquet.

The choices are state: ``cameras``, ``rois``, ``period``, ``statistic``, ``resolution``, ``live`` and the
download ``fmt`` are parameters of the page (all but the cameras and the format also in the URL:
``?rois=[4,5]&period=last+hour&statistic=mean``), their widgets are made from them; the ROI list follows
the cameras, the plots follow the ROIs and the period, and new samples stream in from the session's
bridge."""

from __future__ import annotations

import html
import io
from datetime import UTC, datetime, timedelta

import holoviews as hv
import pandas as pd
import panel as pn
import param

from app.views.bridge import SessionBridge, session_bridge
from app.views.charts import holoviews
from app.views.session import session_user, visible_cameras
from app.views.shell import page
from thermalstream.measure import series, store
from thermalstream.runtime import Runtime

PERIODS = {"last 10 minutes": 600, "last hour": 3600, "last 24 hours": 86400, "last 7 days": 7 * 86400,
           "last 30 days": 30 * 86400}


def _frame(points: list[dict]) -> pd.DataFrame:
    df = pd.DataFrame(points, columns=["t", "min", "max", "mean", "std", "samples", "unit", "resolution"])
    df["time"] = pd.to_datetime(df["t"], utc=True, format="ISO8601").dt.tz_localize(None)
    return df


class ThermalPage(pn.viewable.Viewer):
    cameras = param.ListSelector(default=[], objects=[], doc="the cameras whose ROIs are offered (ids)")
    rois = param.ListSelector(default=[], objects=[], doc="the ROIs plotted (ids)")
    period = param.Selector(default="last 10 minutes", objects=list(PERIODS), doc="how far back from now")
    statistic = param.Selector(default="max", objects=["max", "mean", "min"], doc="the value plotted")
    resolution = param.Selector(default="auto", objects=list(series.RESOLUTIONS), doc="samples or aggregates")
    live = param.Boolean(default=True, doc="stream new samples in while the period reaches now")
    fmt = param.Selector(default="csv", objects=["csv", "parquet"], doc="the download's format")
    bridge = param.ClassSelector(class_=SessionBridge, doc="this session's news from the bus")

    def __init__(self, runtime: Runtime, **params) -> None:
        super().__init__(bridge=session_bridge(runtime), **params)
        self.runtime = runtime
        self.user = session_user(runtime)
        self.visible = visible_cameras(runtime, self.user)
        cams = runtime.cameras.list(self.visible)
        self.param.cameras.objects = [c["id"] for c in cams]
        self.camera_choice = pn.widgets.MultiChoice.from_param(
            self.param.cameras, label="Cameras", options={c["name"]: c["id"] for c in cams}, width=300)
        self.roi_choice = pn.widgets.MultiChoice.from_param(self.param.rois, label="ROIs", width=300)
        self.period_select = pn.widgets.Select.from_param(self.param.period, label="Period", width=150)
        self.statistic_select = pn.widgets.Select.from_param(self.param.statistic, label="Statistic",
                                                             width=90)
        self.resolution_select = pn.widgets.Select.from_param(self.param.resolution, label="Resolution",
                                                              width=100)
        self.live_box = pn.widgets.Checkbox.from_param(self.param.live, label="Stream while live")
        self.fmt_select = pn.widgets.Select.from_param(self.param.fmt, label="Format", width=90)
        self.download = pn.widgets.FileDownload(callback=self._file, filename="roi_series.csv", label="Download",
                                                color="primary", width=130, align="end")
        self.summary = pn.pane.HTML("", margin=(0, 5))
        self.plots = pn.Column(sizing_mode="stretch_width")
        self._pipes: dict[int, hv.streams.Pipe] = {}
        self._names: dict[int, str] = {}
        self.cameras = [c["id"] for c in cams][:4]  # offers their ROIs, plots them
        if pn.state.location is not None:  # a bookmarked ?rois=[4,5]&period=last+hour
            pn.state.location.sync(self, {"rois": "rois", "period": "period", "statistic": "statistic",
                                          "resolution": "resolution"})

    @param.depends("fmt", watch=True)
    def _name_file(self) -> None:
        self.download.filename = f"roi_series.{self.fmt}"

    @param.depends("cameras", watch=True)
    def _roi_options(self) -> None:
        """The chosen cameras' ROIs (only cameras this user sees) are offered; those chosen stay."""
        rois = [r for cid in self.cameras for r in store.list_rois(self.runtime.db, cid, self.visible)]
        names = {r["id"]: r["name"] for r in rois}
        self._names = names
        self.param.rois.objects = list(names)
        self.roi_choice.options = {f"{r['name']} (#{r['id']})": r["id"] for r in rois}
        chosen = [r for r in self.rois if r in names] or [r["id"] for r in rois][:6]
        if chosen != self.rois:
            self.rois = chosen  # builds
        else:
            self._build()

    def _since(self) -> datetime:
        return datetime.now(UTC) - timedelta(seconds=PERIODS[self.period])

    def _resolution(self) -> str:
        """"auto" plots raw samples up to an hour, per-minute aggregates for longer periods (so a week is
        10 080 points per ROI, not 604 800 re-read every 2 s)."""
        if self.resolution != "auto":
            return self.resolution
        return "raw" if PERIODS[self.period] <= 3600 else "minute"

    def _query(self, roi_id: int, since: datetime | None = None) -> pd.DataFrame:
        pts = series.query(self.runtime.db, roi_id, since or self._since(), None, self._resolution())
        return _frame(pts)

    def _curve(self, data: pd.DataFrame, name: str, unit: str) -> hv.Curve:
        return hv.Curve(data, "time", self.statistic, label=name).opts(
            responsive=True, height=220, tools=["hover"], ylabel=f"{self.statistic} ({unit})", framewise=True)

    @param.depends("rois", "period", "statistic", "resolution", watch=True)
    def _build(self) -> None:
        """One plot per ROI; the shared time axis links their zoom."""
        self._pipes = {}
        plots = []
        total = 0
        for rid in self.rois:
            df = self._query(rid)
            total += len(df)
            unit = df["unit"].iloc[-1] if len(df) else ""
            pipe = hv.streams.Pipe(data=df)
            self._pipes[rid] = pipe
            name = self._names.get(rid, str(rid))
            plots.append(hv.DynamicMap(lambda data, n=name, u=unit: self._curve(data, n, u), streams=[pipe]))
        self.plots.objects = ([pn.pane.HoloViews(hv.Layout(plots).cols(1).opts(shared_axes=True),
                                                 sizing_mode="stretch_width", linked_axes=True)]
                              if plots else [pn.pane.Markdown("Pick cameras with measurement regions (draw them "
                                                              "on the Live page).")])
        self._show(total)

    def _show(self, total: int) -> None:
        self.summary.object = (f'<small class="ts-trend" data-points="{total}" data-rois="{len(self._pipes)}" '
                               f'data-statistic="{self.statistic}">'
                               f'{total} points ({self._resolution()}) of {len(self._pipes)} ROI(s), '
                               f'{html.escape(self.period)}</small>')

    @param.depends("bridge.series", watch=True)
    def _stream(self) -> None:
        """New samples (the bridge says so): each ROI's period read again into its plot (the zoom stays)."""
        if not self.live or not self._pipes:
            return
        total = 0
        for rid, pipe in self._pipes.items():
            df = self._query(rid)
            total += len(df)
            pipe.send(df)
        self._show(total)

    def dataframe(self) -> pd.DataFrame:
        """The chosen ROIs' series over the chosen period, one table (only cameras this user sees)."""
        ids = [r for r in self.rois if self.visible is None
               or store.roi_camera(self.runtime.db, r) in self.visible]
        return series.rois_dataframe(self.runtime.db, ids, self._since(), None, self._resolution())

    def _file(self) -> io.BytesIO:
        df = self.dataframe()
        buf = io.BytesIO()
        if self.fmt == "parquet":
            df.to_parquet(buf, index=False)
        else:
            buf.write(df.to_csv(index=False).encode("utf-8"))
        buf.seek(0)
        return buf

    def __panel__(self):
        controls = pn.Row(self.camera_choice, self.roi_choice, self.period_select, self.statistic_select,
                          self.resolution_select, pn.Column(self.live_box), self.fmt_select, self.download,
                          sizing_mode="stretch_width")
        return pn.Column(controls, self.summary, self.plots, sizing_mode="stretch_width")


def thermal_page(runtime: Runtime):
    holoviews()  # the Bokeh backend, loaded once per process
    return page(runtime, "thermal", "Thermal", ThermalPage(runtime))
