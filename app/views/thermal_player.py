"""A radiometric recording as thermal video: frames rendered from the lossless data (palette, colour bar,
the pointer's value, the camera's ROIs), one slider over the whole recording across its segments, play
and pause, and a region drawn on the picture measured over the recording with a progress bar.

The picture is the live pane (CameraView) fed by Python (``transport="msg"``), so it reads and draws
exactly as the live view does.
"""

from __future__ import annotations

import html
import io
import struct
import threading
from datetime import UTC, datetime

import panel as pn

from app.views.camera_view import CameraView, colour_bar, format_reading
from thermalstream.datasets.recording import RecordingData
from thermalstream.display import DisplaySettings, DisplayState
from thermalstream.live.encoder import encode_jpeg
from thermalstream.measure.geometry import Roi, RoiSet
from thermalstream.notifications import format_local
from thermalstream.palettes import PALETTES

MAX_PLAY_FPS = 10.0
RESEND_MS = 1000


class ThermalPlayer(pn.viewable.Viewer):
    def __init__(self, rec: RecordingData, palette: str = "inferno", rois: list[Roi] | None = None,
                 tz: str | None = None, **params) -> None:
        super().__init__(**params)
        self.rec, self.tz = rec, tz
        self.rois = RoiSet(list(rois or []))
        self.state = DisplayState()
        self.settings = DisplaySettings(span="fixed", **self._recording_span())
        self.view = CameraView(transport="msg", probe=self._probe, sizing_mode="stretch_width", max_width=900)
        self.slider = pn.widgets.IntSlider(label="Frame", start=0, end=max(len(rec) - 1, 0), value=0,
                                           sizing_mode="stretch_width")
        self.play = pn.widgets.Toggle(label="▶ Play", width=90)
        self.palette = pn.widgets.Select(options=list(PALETTES), value=palette, width=120)
        self.when = pn.pane.HTML("", css_classes=["ts-player-time"])
        self.region_btn = pn.widgets.Toggle(label="Draw a region", width=130)
        self.measure_btn = pn.widgets.Button(label="Measure over the recording", width=210, disabled=True)
        self.progress = pn.indicators.Progress(value=0, max=100, width=220, visible=False)
        self.result = pn.Column(sizing_mode="stretch_width")
        self.slider.param.watch(lambda e: self.show(e.new), "value_throttled")
        self.slider.param.watch(lambda e: self.show(e.new), "value")
        self.palette.param.watch(lambda e: self.show(self.slider.value), "value")
        self.play.param.watch(self._toggle_play, "value")
        self.region_btn.param.watch(self._drawing, "value")
        self.view.param.watch(lambda e: self._region_ready(), "polygon")
        self.measure_btn.on_click(lambda e: self._measure())
        self._cb = None
        self._job: threading.Thread | None = None
        self._msg = b""
        self.show(0)
        # a pane shown after this (a tab opened later) missed the message: repeat the current frame
        self._keep = pn.state.add_periodic_callback(self._resend, period=RESEND_MS)

    # --- frames ---------------------------------------------------------------------------------
    def _recording_span(self) -> dict:
        """One fixed span for the whole recording (1st-99th percentile of a few frames): colours mean
        the same temperature from the first frame to the last."""
        import numpy as np

        n = len(self.rec)
        sample = np.concatenate([self.rec[i].measurement()[::4, ::4].ravel() for i in np.linspace(0, n - 1, 5, dtype=int)])
        lo, hi = (float(v) for v in np.percentile(sample, (1, 99)))
        return {"lo": lo, "hi": max(hi, lo + 0.1)}

    def show(self, index: int) -> None:
        frame = self.rec[int(index)]
        self._frame = frame
        image = self.state.render(frame, self.settings, self.palette.value)
        self._msg = struct.pack(">d", frame.timestamp * 1000.0) + encode_jpeg(image)
        self.view._send_msg(self._msg)
        self.view.scale = colour_bar(self.state.scale, self.palette.value)
        when = format_local(datetime.fromtimestamp(frame.timestamp, UTC), self.tz)
        self.when.object = (f"<small>{html.escape(when)} · frame {int(index) + 1} "
                            f"of {len(self.rec)}</small>")
        if len(self.rois) and "rois" in self.view.param:
            stats = self.rois.measure(frame.measurement())
            self.view.rois = [{"kind": r.kind, "points": r.points, "alarm": False,
                               "label": f"{r.name or r.id} {format_reading(stats[r.id].mean, self.rec.unit)}"}
                              for r in self.rois.rois]

    def _resend(self) -> None:
        if self._cb is None and self._msg:  # while playing, frames flow anyway
            self.view._send_msg(self._msg)

    def stop(self) -> None:
        for cb in (self._keep, self._cb):
            if cb is not None:
                cb.stop()

    def _probe(self, x: int, y: int):
        frame = getattr(self, "_frame", None)
        if frame is None or frame.measurement() is None:
            return None
        return frame.value_at(x, y), frame.temperature_unit

    def _toggle_play(self, event) -> None:
        self.play.label = "❚❚ Pause" if event.new else "▶ Play"
        if event.new:
            fps = min(self.rec.fps or MAX_PLAY_FPS, MAX_PLAY_FPS)
            self._cb = pn.state.add_periodic_callback(self._step, period=int(1000 / fps))
        elif self._cb is not None:
            self._cb.stop()
            self._cb = None

    def _step(self) -> None:
        if self.slider.value >= self.slider.end:
            self.play.value = False
            return
        self.slider.value += 1

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
        import hvplot.pandas

        unit = self.rec.unit
        plot = df.hvplot.line(x="time", y=["min", "mean", "max"], ylabel=unit, height=260, responsive=True,
                              title=f"Region over the recording ({len(df)} frames)")
        csv = pn.widgets.FileDownload(callback=lambda: io.BytesIO(df.to_csv(index=False).encode()),
                                      filename="region_series.csv", label="Download CSV", width=160)
        return pn.Column(pn.pane.HoloViews(plot, sizing_mode="stretch_width"), csv,
                         pn.pane.HTML(f"<small class='ts-region-done'>{len(df)} frames measured</small>"),
                         sizing_mode="stretch_width")

    def __panel__(self):
        return pn.Column(self.view, pn.Row(self.play, self.slider, self.palette, sizing_mode="stretch_width"),
                         self.when, pn.Row(self.region_btn, self.measure_btn, self.progress), self.result,
                         sizing_mode="stretch_width")
