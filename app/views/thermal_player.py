"""The Recordings page's thermal video: the core's :class:`RecordingPlayer` (frames from the lossless
data, palette, colour bar, the pointer's value, one slider across segments, Play) plus what the app
adds: the camera's ROIs labelled on the picture, times in the viewer's zone, and a region drawn on the
picture measured over the whole recording with a progress bar, a chart and a CSV.
"""

from __future__ import annotations

import html
import io
import threading

import panel as pn

from thermalstream.datasets.recording import RecordingData
from thermalstream.measure.geometry import Roi, RoiSet
from thermalstream.views.camera_view import format_reading
from thermalstream.views.recording_player import RecordingPlayer


class ThermalPlayer(RecordingPlayer):
    def __init__(self, rec: RecordingData, palette: str = "inferno", rois: list[Roi] | None = None,
                 tz: str | None = None, **params) -> None:
        self.rois = RoiSet(list(rois or []))
        super().__init__(rec, palette=palette, tz=tz, **params)
        self.region_btn = pn.widgets.Toggle(label="Draw a region", width=130)
        self.measure_btn = pn.widgets.Button(label="Measure over the recording", width=210, disabled=True)
        self.progress = pn.indicators.Progress(value=0, max=100, width=220, visible=False)
        self.result = pn.Column(sizing_mode="stretch_width")
        self.region_btn.param.watch(self._drawing, "value")
        self.view.param.watch(lambda e: self._region_ready(), "polygon")
        self.measure_btn.on_click(lambda e: self._measure())
        self._job: threading.Thread | None = None

    def show(self, index: int) -> None:
        super().show(index)
        if len(self.rois):
            stats = self.rois.measure(self._frame.measurement())
            self.view.rois = [{"kind": r.kind, "points": r.points, "alarm": False,
                               "label": f"{r.name or r.id} {format_reading(stats[r.id].mean, self.rec.unit)}"}
                              for r in self.rois.rois]

    # --- a region over the whole recording --------------------------------------------------------
    def _drawing(self, event) -> None:
        self.view.drawing = event.new
        self.view.polygon = []
        self._region_ready()

    def _region_ready(self) -> None:
        self.measure_btn.disabled = len(self.view.polygon) < 2 or (self._job is not None and self._job.is_alive())

    def region(self) -> Roi:
        """The drawn region: a box from two clicks, a polygon from three or more."""
        pts = [list(map(float, p)) for p in self.view.polygon]
        return Roi("region", "box" if len(pts) == 2 else "polygon", pts, "region")

    def _measure(self) -> None:
        roi = self.region()
        self.progress.visible, self.progress.value, self.measure_btn.disabled = True, 0, True
        done: dict = {}

        def work() -> None:
            try:
                done["df"] = self.rec.region_series([roi], progress=lambda d, t: done.update(p=d / t))
            except Exception as exc:
                done["error"] = str(exc)

        self._job = threading.Thread(target=work, name="region-series", daemon=True)
        self._job.start()
        cb = pn.state.add_periodic_callback(lambda: self._poll(done, cb), period=250)

    def _poll(self, done: dict, cb) -> None:
        self.progress.value = int(done.get("p", 0) * 100)
        if self._job is not None and self._job.is_alive():
            return
        cb.stop()
        self.progress.visible = False
        self._region_ready()
        if "error" in done:
            self.result.objects = [pn.pane.HTML(f"<span style='color:#c62828'>{html.escape(done['error'])}</span>")]
            return
        self.result.objects = [self._chart(done["df"])]

    def _chart(self, df):
        import hvplot.pandas  # noqa: F401

        unit = self.rec.unit
        plot = df.hvplot.line(x="time", y=["min", "mean", "max"], ylabel=unit, height=260, responsive=True,
                              title=f"Region over the recording ({len(df)} frames)")
        csv = pn.widgets.FileDownload(callback=lambda: io.BytesIO(df.to_csv(index=False).encode()),
                                      filename="region_series.csv", label="Download CSV", width=160)
        return pn.Column(pn.pane.HoloViews(plot, sizing_mode="stretch_width"), csv,
                         pn.pane.HTML(f"<small class='ts-region-done'>{len(df)} frames measured</small>"),
                         sizing_mode="stretch_width")

    def __panel__(self):
        return pn.Column(self.view, self.controls(), self.when, pn.Row(self.region_btn, self.measure_btn, self.progress),
                         self.result, sizing_mode="stretch_width")
