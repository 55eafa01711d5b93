"""RecordingPlayer: a radiometric recording (:class:`~thermalstream.datasets.RecordingData`) as thermal
video, in a notebook (``rec.view()``) and in the app (``app.views.thermal_player`` adds regions).

Frames are rendered from the lossless data with the palettes and level/span of
:mod:`thermalstream.display` (one fixed span for the whole recording, so a colour means the same
temperature throughout) and drawn by the live pane (:class:`CameraView` fed by Python), so the
colour bar and the value under the pointer work as in the live view. One slider covers every
segment; Play steps through the frames at the recorded rate (at most 10 fps). Timers run only while
the player is shown: clearing or re-running its cell stops them.
"""

from __future__ import annotations

import html
import struct
from datetime import UTC, datetime

import numpy as np
import panel as pn

from thermalstream.datasets.recording import RecordingData
from thermalstream.display import DisplaySettings, DisplayState
from thermalstream.live.encoder import encode_jpeg
from thermalstream.notifications import format_local
from thermalstream.palettes import PALETTES
from thermalstream.views.camera_view import CameraView, colour_bar, with_notice

MAX_PLAY_FPS = 10.0
RESEND_MS = 1000


def recording_span(rec: RecordingData, samples: int = 5) -> dict:
    """One fixed span for a whole recording (1st-99th percentile of a few frames): ``{lo, hi}``."""
    n = len(rec)
    picks = np.linspace(0, n - 1, min(samples, n), dtype=int)
    sample = np.concatenate([rec[int(i)].measurement()[::4, ::4].ravel() for i in picks])
    lo, hi = (float(v) for v in np.percentile(sample, (1, 99)))
    return {"lo": lo, "hi": max(hi, lo + 0.1)}


class RecordingPlayer(pn.viewable.Viewer):
    """Slider, Play/Pause and palette over a recording's frames; time and frame number under them."""

    def __init__(self, rec: RecordingData, palette: str = "inferno", tz: str | None = None, **params) -> None:
        if palette not in PALETTES:
            raise ValueError(f"unknown palette {palette!r}; one of {', '.join(PALETTES)}")
        super().__init__(**params)
        self.rec, self.tz = rec, tz
        self.state = DisplayState()
        self.settings = DisplaySettings(span="fixed", **recording_span(rec))
        self.view = CameraView(transport="msg", probe=self._probe, sizing_mode="stretch_width", max_width=900)
        self.slider = pn.widgets.IntSlider(label="Frame", start=0, end=max(len(rec) - 1, 0), value=0,
                                           sizing_mode="stretch_width")
        self.play = pn.widgets.Toggle(label="▶ Play", width=90)
        self.palette = pn.widgets.Select(options=list(PALETTES), value=palette, width=120)
        self.when = pn.pane.HTML("", css_classes=["ts-player-time"])
        # widget changes may arrive on a comm subshell: draw from the kernel's thread, as Play does
        self.slider.param.watch(lambda e: self.view.on_kernel_thread(self.show, e.new), "value")
        self.palette.param.watch(lambda e: self.view.on_kernel_thread(self.show, self.slider.value), "value")
        self.play.param.watch(lambda e: self.view.on_kernel_thread(self._toggle_play, e), "value")
        self._cb = self._keep = None
        self._msg = b""
        self._frame = None
        self.view.on_shown(self._shown)
        self.show(0)

    # --- frames ---------------------------------------------------------------------------------
    def show(self, index: int) -> None:
        """Draw frame ``index`` (palette, span, colour bar) and say when it was taken."""
        frame = self.rec[int(index)]
        self._frame = frame
        image = self.state.render(frame, self.settings, self.palette.value)
        self._msg = struct.pack(">d", frame.timestamp * 1000.0) + encode_jpeg(image)
        self.view._send_msg(self._msg)
        self.view.scale = colour_bar(self.state.scale, self.palette.value)
        when = format_local(datetime.fromtimestamp(frame.timestamp, UTC), self.tz)
        self.when.object = f"<small>{html.escape(when)} · frame {int(index) + 1} of {len(self.rec)}</small>"

    def _resend(self) -> None:
        if self.view.check_stale():  # its output is gone: timers stop (a heartbeat restarts them)
            return
        if self._cb is None and self._msg:  # a pane shown after the last frame missed it; while playing frames flow
            self.view._send_msg(self._msg)

    def _probe(self, x: int, y: int):
        frame = self._frame
        if frame is None or frame.measurement() is None:
            return None
        return frame.value_at(x, y), frame.temperature_unit

    # --- timers: only while shown -----------------------------------------------------------------
    def _shown(self, shown: bool) -> None:
        if shown and self._keep is None:
            self._keep = pn.state.add_periodic_callback(self._resend, period=RESEND_MS)
        elif not shown:
            self.stop()

    @property
    def live(self) -> bool:
        """A timer of this player runs (it is shown, or playing)."""
        return self._keep is not None or self._cb is not None

    def stop(self) -> None:
        """Stop playing and resending; showing the player again resumes the resend."""
        if self.play.value:
            self.play.value = False
        for cb in (self._keep, self._cb):
            if cb is not None:
                cb.stop()
        self._keep = self._cb = None

    def _toggle_play(self, event) -> None:
        self.play.label = "❚❚ Pause" if event.new else "▶ Play"
        if event.new and self._cb is None:
            fps = min(self.rec.fps or MAX_PLAY_FPS, MAX_PLAY_FPS)
            self._cb = pn.state.add_periodic_callback(self._step, period=int(1000 / fps))
        elif not event.new and self._cb is not None:
            self._cb.stop()
            self._cb = None

    def _step(self) -> None:
        if self.slider.value >= self.slider.end:
            self.play.value = False
            return
        self.slider.value += 1

    # --- layout -------------------------------------------------------------------------------------
    def controls(self) -> pn.Row:
        return pn.Row(self.play, self.slider, self.palette, sizing_mode="stretch_width")

    def __panel__(self):
        return pn.Column(self.view, self.controls(), self.when, sizing_mode="stretch_width")

    def _repr_mimebundle_(self, include=None, exclude=None):
        return with_notice(self.view, lambda: super(RecordingPlayer, self)._repr_mimebundle_(include, exclude))
