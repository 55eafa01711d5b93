"""The Review page (Frigate-style): one camera's day as a timeline, recordings as bands, events and alarms
as marks, in the viewer's zone. A click on a mark plays from ``pre-roll`` seconds before it; a click
anywhere else, or a typed time on any day, plays the segment that holds that time (the next one when
nothing was recorded then). Previous/next day move the timeline; the player runs on across segments."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import panel as pn
import param
from bokeh.events import Tap
from bokeh.models import ColumnDataSource, HoverTool, Range1d, Span
from bokeh.plotting import figure
from panel.custom import JSComponent

from app.handlers.review import segment_url
from app.views.bridge import session_bridge
from app.views.session import follow_cameras, viewer_zone, when_zone_known
from app.views.shell import page
from app.views.text import md_escape
from thermalstream.notifications import chart_time, format_local, from_local, to_local, zone_label
from thermalstream.review import camera_timeline, day_range, locate
from thermalstream.runtime import Runtime

PRE_ROLL_S = 5  # default seconds played before an event
MARK_ROW = {"event": 1.6, "alarm": 2.2}  # y of the mark rows; bands span 0..1
NEAR = 0.015  # a click this share of the visible span from a mark plays the mark


class ReviewPlayer(JSComponent):
    """A <video> over a day's segments; ``target`` = {index, offset (s), serial} says where to play."""

    segments = param.List(default=[], doc="[{url, start, end (epoch ms), recording_id, text}]")
    target = param.Dict(default={})
    _esm = Path(__file__).with_name("review_player.js")


def _ms(iso: str) -> float:
    return dt.datetime.fromisoformat(iso).timestamp() * 1000.0


class ReviewPage(pn.viewable.Viewer):
    def __init__(self, runtime: Runtime, **params) -> None:
        super().__init__(**params)
        self.runtime = runtime
        self.names: dict[int, str] = {}
        self.camera = pn.widgets.Select(label="Camera", width=200)  # a camera no longer visible: another is loaded
        follow_cameras(runtime, self.camera, self.names)
        self._first_day = dt.date.today()
        self.day = pn.widgets.DatePicker(label="Day", value=self._first_day, width=150)
        self.prev = pn.widgets.Button(label="◀ Previous day", width=130, align="end")
        self.next = pn.widgets.Button(label="Next day ▶", width=110, align="end")
        self.pre_roll = pn.widgets.IntInput(label="Pre-roll (s before an event)", value=PRE_ROLL_S, start=0, end=120,
                                            width=190)
        self.goto = pn.widgets.TextInput(label="Go to (YYYY-MM-DD HH:MM:SS)", width=220)
        self.go = pn.widgets.Button(label="Play", width=70, align="end")
        self.note = pn.pane.Markdown("", margin=(0, 10), sizing_mode="stretch_width")
        self.status = pn.pane.Markdown("Click a mark or a band to play from there.", margin=(0, 10),
                                       sizing_mode="stretch_width")
        self.player = ReviewPlayer(sizing_mode="stretch_width")
        self.bands = ColumnDataSource({"left": [], "right": [], "text": []}, name="ts-review-bands")
        self.marks = ColumnDataSource({"t": [], "y": [], "kind": [], "text": [], "at": []}, name="ts-review-marks")
        self.cursor = Span(location=0, dimension="height", line_color="#1565c0", line_width=2, visible=False)
        self.plot = self._figure()
        self.timeline: dict = {}
        self._serial = 0
        self.prev.on_click(lambda e: self._shift(-1))
        self.next.on_click(lambda e: self._shift(1))
        self.go.on_click(lambda e: self._go_to())
        for w in (self.camera, self.day):
            w.param.watch(lambda e: self.load(), "value")
        self.load()
        when_zone_known(self._on_zone)
        bridge = session_bridge(runtime)  # what is recorded or happens now: the shown day grows in place
        bridge.param.watch(lambda _e: self.follow(), ["recordings", "events"])

    def _tz(self) -> str | None:
        return viewer_zone()

    def _on_zone(self) -> None:
        today = to_local(dt.datetime.now(dt.UTC), self._tz()).date()
        if self.day.value == self._first_day and self.day.value != today:
            self.day.value = today  # the viewer's today (loads)
        else:
            self.load()

    def _figure(self):
        p = figure(x_axis_type="datetime", x_range=Range1d(0, 86_400_000), height=170, sizing_mode="stretch_width", y_range=(-0.3, 2.6),
                   tools="xpan,xwheel_zoom,reset", toolbar_location="right", name="ts-review-plot")
        p.yaxis.visible = False
        p.ygrid.visible = False
        bands = p.quad(left="left", right="right", bottom=0, top=1, source=self.bands, color="#4caf50", alpha=0.6)
        marks = p.scatter("t", "y", source=self.marks, size=13, marker="triangle", color="#e8532f",
                          line_color="#222")
        p.add_tools(HoverTool(renderers=[bands], tooltips=[("recorded", "@text")]),
                    HoverTool(renderers=[marks], tooltips=[("", "@text")]))
        p.add_layout(self.cursor)
        p.on_event(Tap, self._tap)
        return pn.pane.Bokeh(p, sizing_mode="stretch_width")

    # ------------------------------------------------------------------ data

    def load(self) -> None:
        """The chosen camera's chosen day, in the viewer's zone, shown whole, nothing playing."""
        cid, tz = self.camera.value, self._tz()
        fig = self.plot.object
        if cid is None or self.day.value is None:
            self.note.object = "No camera to review." if cid is None else "Choose a day."
            return
        since, until = day_range(self.day.value, tz)
        self._fill(camera_timeline(self.runtime.db, cid, since, until))
        fig.x_range.start, fig.x_range.end = _chart_ms(since, tz), _chart_ms(until, tz)
        self.player.target = {}
        self.cursor.visible = False

    def follow(self) -> None:
        """Something was recorded or happened (the session's bridge says so): when the shown day holds
        now, its new segments, events and alarms are added in place; the zoom and the playing video stay."""
        cid, tz = self.camera.value, self._tz()
        if cid is None or self.day.value is None:
            return
        since, until = day_range(self.day.value, tz)
        if not since <= dt.datetime.now(dt.UTC) < until:
            return
        self._fill(camera_timeline(self.runtime.db, cid, since, until))

    def _fill(self, timeline: dict) -> None:
        """Bands, marks, the player's segments and the summary from ``timeline`` (a day of one camera)."""
        tz, cid = self._tz(), timeline["camera_id"]
        self.timeline = timeline
        fmt = "%H:%M:%S"
        self.bands.data = {"left": [chart_time(b["start"], tz) for b in self.timeline["bands"]],
                           "right": [chart_time(b["end"], tz) for b in self.timeline["bands"]],
                           "text": [f'{format_local(b["start"], tz, fmt)}–{format_local(b["end"], tz, fmt)}'
                                    for b in self.timeline["bands"]]}
        marks = [("event", e, f'{e["label"]} at {format_local(e["start"], tz, fmt)}') for e in self.timeline["events"]]
        marks += [("alarm", a, f'alarm {a["name"]} at {format_local(a["start"], tz, fmt)}')
                  for a in self.timeline["alarms"]]
        self.marks.data = {"t": [chart_time(m["start"], tz) for _, m, _ in marks], "y": [MARK_ROW[k] for k, _, _ in marks],
                           "kind": [k for k, _, _ in marks], "text": [t for _, _, t in marks],
                           "at": [m["start"] for _, m, _ in marks]}
        segments = [{"url": segment_url(s["recording_id"], s["index"]), "start": _ms(s["start"]),
                     "end": _ms(s["end"]), "recording_id": s["recording_id"],
                     "text": f'recording {s["recording_id"]}, segment {s["index"] + 1}'}
                    for s in self.timeline["segments"]]
        if segments != self.player.segments:
            self.player.segments = segments
        n, e, a = len(self.timeline["segments"]), len(self.timeline["events"]), len(self.timeline["alarms"])
        name = md_escape(self.names.get(cid, str(cid)))
        self.note.object = (f"**{name}**, {self.day.value:%A %d %B %Y} · {n} segment(s), {e} event(s), {a} alarm(s) · "
                            f"times in {zone_label(tz)}" + (" · too many marks: the first 5000 shown"
                                                           if self.timeline["truncated"] else "")
                            + ("" if n else " · nothing recorded this day"))

    # ------------------------------------------------------------------ playing

    def play_at(self, at: dt.datetime, why: str = "") -> bool:
        """Play the segment that holds ``at`` (UTC), or the next one; False when none follows that day."""
        where = locate(self.timeline.get("segments", []), at)
        tz = self._tz()
        if where is None:
            self.status.object = f"Nothing recorded after {format_local(at, tz)} on this day."
            return False
        k, offset = where
        self._serial += 1
        self.player.target = {"index": k, "offset": offset, "serial": self._serial}
        self.cursor.location, self.cursor.visible = _chart_ms(at, tz), True
        seg = self.timeline["segments"][k]
        when = format_local(at, tz) if offset > 0 else f'{format_local(seg["start"], tz)} (nothing recorded before)'
        self.status.object = f"Playing from {when}{why}."
        return True

    def _tap(self, event) -> None:
        tz = self._tz()
        at = from_local(dt.datetime(1970, 1, 1) + dt.timedelta(milliseconds=event.x), tz)
        mark = self._mark_near(event.x, event.y)
        if mark is not None:
            start = dt.datetime.fromisoformat(mark)
            self.play_at(start - dt.timedelta(seconds=self.pre_roll.value or 0),
                         f", {self.pre_roll.value or 0} s before the {format_local(start, tz)} mark")
        else:
            self.play_at(at)

    def _mark_near(self, x: float, y: float) -> str | None:
        """The mark a click at (x chart ms, y) hit: in a mark row, the nearest within NEAR of the view."""
        if y is None or y < 1.3:
            return None
        xr = self.plot.object.x_range
        span = (xr.end - xr.start) if xr.start is not None and xr.end is not None else 86_400_000
        best, near = None, NEAR * span
        for t, at in zip(self.marks.data["t"], self.marks.data["at"], strict=True):
            d = abs((t - dt.datetime(1970, 1, 1)).total_seconds() * 1000 - x)
            if d <= near:
                best, near = at, d
        return best

    def _shift(self, days: int) -> None:
        self.day.value = self.day.value + dt.timedelta(days=days)

    def _go_to(self) -> None:
        """A typed time in the viewer's zone, on any day: that day's timeline, played from that time."""
        try:
            naive = dt.datetime.fromisoformat(self.goto.value.strip())
        except ValueError:
            self.status.object = "Type a time as YYYY-MM-DD HH:MM:SS."
            return
        tz = self._tz()
        if self.day.value != naive.date():
            self.day.value = naive.date()  # loads that day
        self.play_at(from_local(naive.replace(tzinfo=None), tz))

    def __panel__(self):
        return pn.Column(
            pn.Row(self.camera, self.prev, self.day, self.next, self.pre_roll, self.goto, self.go),
            self.note, self.plot, self.status, self.player, sizing_mode="stretch_width")


def _chart_ms(at, tz) -> float:
    """A time as a chart x value (ms of the viewer's wall clock, as Bokeh reads naive times)."""
    return (chart_time(at, tz) - dt.datetime(1970, 1, 1)).total_seconds() * 1000


def review_page(runtime: Runtime):
    return page(runtime, "review", "Review", ReviewPage(runtime))
