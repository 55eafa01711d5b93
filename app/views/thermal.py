"""The Thermal page: pick cameras and their ROIs, see the trends over a chosen period (one plot per
ROI, zoom linked across them, new points streamed in while the period reaches now) and download the
series as CSV or Parquet."""

from __future__ import annotations

import html
import io
from datetime import UTC, datetime, timedelta

import holoviews as hv
import pandas as pd
import panel as pn

from app.views.bridge import session_bridge
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
    def __init__(self, runtime: Runtime, **params) -> None:
        super().__init__(**params)
        self.runtime = runtime
        self.user = session_user(runtime)
        self.visible = visible_cameras(runtime, self.user)
        cams = runtime.cameras.list(self.visible)
        self.cameras = pn.widgets.MultiChoice(label="Cameras", options={c["name"]: c["id"] for c in cams},
                                              value=[c["id"] for c in cams][:4], width=300)
        self.rois = pn.widgets.MultiChoice(label="ROIs", options={}, width=300)
        self.period = pn.widgets.Select(label="Period", options=list(PERIODS), value="last 10 minutes", width=150)
        self.statistic = pn.widgets.Select(label="Statistic", options=["max", "mean", "min"], width=90)
        self.resolution = pn.widgets.Select(label="Resolution", options=list(series.RESOLUTIONS), width=100)
        self.live = pn.widgets.Checkbox(label="Stream while live", value=True)
        self.fmt = pn.widgets.Select(label="Format", options=["csv", "parquet"], width=90)
        self.download = pn.widgets.FileDownload(callback=self._file, filename="roi_series.csv", label="Download",
                                                color="primary", width=130, align="end")
        self.summary = pn.pane.HTML("", margin=(0, 5))
        self.plots = pn.Column(sizing_mode="stretch_width")
        self._pipes: dict[int, hv.streams.Pipe] = {}
        self._names: dict[int, str] = {}
        self.cameras.param.watch(lambda e: self._roi_options(), "value")
        for w in (self.rois, self.period, self.statistic, self.resolution):
            w.param.watch(lambda e: self._build(), "value")
        self.fmt.param.watch(lambda e: setattr(self.download, "filename", f"roi_series.{e.new}"), "value")
        self._roi_options()
        session_bridge(runtime).param.watch(lambda _e: self._stream(), "series")  # new samples: from the bus

    def _roi_options(self) -> None:
        rois = [r for cid in self.cameras.value for r in store.list_rois(self.runtime.db, cid, self.visible)]
        names = {r["id"]: r["name"] for r in rois}
        self._names = names
        self.rois.options = {f"{r['name']} (#{r['id']})": r["id"] for r in rois}
        self.rois.value = [r for r in self.rois.value if r in names] or [r["id"] for r in rois][:6]
        self._build()

    def _since(self) -> datetime:
        return datetime.now(UTC) - timedelta(seconds=PERIODS[self.period.value])

    def _resolution(self) -> str:
        """"auto" plots raw samples up to an hour, per-minute aggregates for longer periods (so a week is
        10 080 points per ROI, not 604 800 re-read every 2 s)."""
        if self.resolution.value != "auto":
            return self.resolution.value
        return "raw" if PERIODS[self.period.value] <= 3600 else "minute"

    def _query(self, roi_id: int, since: datetime | None = None) -> pd.DataFrame:
        pts = series.query(self.runtime.db, roi_id, since or self._since(), None, self._resolution())
        return _frame(pts)

    def _curve(self, data: pd.DataFrame, name: str, unit: str) -> hv.Curve:
        return hv.Curve(data, "time", self.statistic.value, label=name).opts(
            responsive=True, height=220, tools=["hover"], ylabel=f"{self.statistic.value} ({unit})", framewise=True)

    def _build(self) -> None:
        """One plot per ROI; the shared time axis links their zoom."""
        self._pipes = {}
        plots = []
        total = 0
        for rid in self.rois.value:
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
        self.summary.object = (f'<small class="ts-trend" data-points="{total}" data-rois="{len(self._pipes)}">'
                               f'{total} points ({self._resolution()}) of {len(self._pipes)} ROI(s), '
                               f'{html.escape(self.period.value)}</small>')

    def _stream(self) -> None:
        """Re-read each ROI's period and push it into its plot (the zoom stays)."""
        if not self.live.value or not self._pipes:
            return
        total = 0
        for rid, pipe in self._pipes.items():
            df = self._query(rid)
            total += len(df)
            pipe.send(df)
        self._show(total)

    def dataframe(self) -> pd.DataFrame:
        """The chosen ROIs' series over the chosen period, one table (only cameras this user sees)."""
        ids = [r for r in self.rois.value if self.visible is None
               or store.roi_camera(self.runtime.db, r) in self.visible]
        return series.rois_dataframe(self.runtime.db, ids, self._since(), None, self._resolution())

    def _file(self) -> io.BytesIO:
        df = self.dataframe()
        buf = io.BytesIO()
        if self.fmt.value == "parquet":
            df.to_parquet(buf, index=False)
        else:
            buf.write(df.to_csv(index=False).encode("utf-8"))
        buf.seek(0)
        return buf

    def __panel__(self):
        controls = pn.Row(self.cameras, self.rois, self.period, self.statistic, self.resolution,
                          pn.Column(self.live), self.fmt, self.download, sizing_mode="stretch_width")
        return pn.Column(controls, self.summary, self.plots, sizing_mode="stretch_width")


def thermal_page(runtime: Runtime):
    hv.extension("bokeh")
    return page(runtime, "thermal", "Thermal", ThermalPage(runtime))
