"""The Review page (Frigate-style): one camera's day as a timeline, recordings as bands, events and alarms
as marks, in the viewer's zone. A click on a mark plays from ``pre-roll`` seconds before it; a click
anywhere else, or a typed time on any day, plays the segment that holds that time (the next one when
nothing was recorded then). Dragging along the timeline scrubs: the cursor follows the pointer and
playback starts where it is let go (with the toolbar's pan tool chosen, a drag pans instead).
Previous/next day move the timeline; the player runs on across segments, and across midnight into
the next day's recording when it goes on within ``DAY_GAP_S``.

The camera and the day are state: parameters of the page (also in the URL: ``?camera=3&day=2026-11-30``),
their widgets are made from them, the day is loaded when they (or the viewer's zone) change, and today
grows when the bridge's ``recordings`` or ``events`` counters move."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import holoviews as hv
import numpy as np
import pandas as pd
import panel as pn
import param
from panel.custom import JSComponent

from app.handlers.review import segment_url
from app.views.bridge import SessionBridge, session_bridge
from app.views.charts import holoviews, naive
from app.views.session import follow_cameras, viewer_zone, when_zone_known
from app.views.shell import page
from app.views.text import md_escape
from thermalstream.notifications import chart_time, format_local, from_local, to_local, zone_label
from thermalstream.review import camera_timeline, day_range, locate
from thermalstream.runtime import Runtime

PRE_ROLL_S = 5  # default seconds played before an event
MARK_ROW = {"event": 1.6, "alarm": 2.2}  # y of the mark rows; bands span 0..1
NEAR = 0.015  # a click this share of the visible span from a mark plays the mark
STILL = 0.002  # a drag that ends this share of the visible span from its start moved no time (a pan)
DAY_GAP_S = 60  # the day's last segment ended: the next day plays on if recording resumed within this


class ReviewPlayer(JSComponent):
    """A <video> over a day's segments; ``target`` = {index, offset (s), serial} says where to play."""

    segments = param.List(default=[], doc="[{url, start, end (epoch ms), recording_id, text}]")
    target = param.Dict(default={})
    finished = param.Integer(default=0, doc="bumped by the browser when the last segment of the list ended")
    _esm = Path(__file__).with_name("review_player.js")


def _ms(iso: str) -> float:
    return dt.datetime.fromisoformat(iso).timestamp() * 1000.0


class ReviewPage(pn.viewable.Viewer):
    camera = param.Selector(default=None, objects=[], doc="the camera reviewed; options: the cameras' names")
    day = param.CalendarDate(default=None, doc="the day shown, in the viewer's zone")
    zone = param.String(default=None, allow_None=True, doc="the browser's time zone (None: not told yet, UTC)")
    bridge = param.ClassSelector(class_=SessionBridge, doc="this session's news from the bus")

    def __init__(self, runtime: Runtime, **params) -> None:
        self._first_day = dt.date.today()
        super().__init__(bridge=session_bridge(runtime), zone=viewer_zone(), day=self._first_day, **params)
        self.runtime = runtime
        self.names: dict[int, str] = {}
        # a camera no longer visible: another is loaded; a rename: the heading follows
        self.camera_select = pn.widgets.Select.from_param(self.param.camera, label="Camera", width=200)
        follow_cameras(runtime, self.camera_select, self.names, lambda _visible: self._write_note())
        self.day_picker = pn.widgets.DatePicker.from_param(self.param.day, label="Day", width=150)
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
        self.bands = hv.streams.Pipe(data=_bands_frame([]))
        self.marks = hv.streams.Pipe(data=_marks_frame([]))
        self.cursor = hv.streams.Pipe(data=_cursor_frame(None))
        self._day_view: tuple[float, float] = (0.0, 86_400_000.0)  # chart ms the day shows when loaded
        self._view_serial, self._applied_view = 0, {}  # the day's view, set once per load on each figure
        self._mark_times: list[tuple[float, str]] = []  # (chart ms, UTC ISO time) of each mark
        self.plot = self._chart()
        self.timeline: dict = {}
        self._serial = 0
        self.prev.on_click(lambda e: self._shift(-1))
        self.next.on_click(lambda e: self._shift(1))
        self.go.on_click(lambda e: self._go_to())
        self._playing_at: dt.datetime | None = None  # where the cursor stands (chart time)
        self._strokes, self._drag_from = 0, None  # drags ended so far; where the current one started (ms)
        self.player.param.watch(lambda _e: self._day_done(), "finished")
        self.load()
        if pn.state.location is not None:  # a bookmarked ?camera=3&day=2026-11-30
            pn.state.location.sync(self, {"camera": "camera", "day": "day"})
            if self.camera is not None and self.camera not in self.names:
                self.camera = None  # not (or no longer) one of hers: her first camera
        when_zone_known(self._on_zone)

    def _tz(self) -> str | None:
        return self.zone

    def _on_zone(self) -> None:
        """The browser told its zone: times in it, and its today unless the user chose a day."""
        tz = viewer_zone()
        today = to_local(dt.datetime.now(dt.UTC), tz).date()
        day = today if self.day == self._first_day else self.day
        self.param.update(zone=tz, day=day)  # loads when either changed

    def _chart(self) -> pn.pane.HoloViews:
        """The day as HoloViews: recorded bands, event/alarm marks and the play cursor, each its own
        DynamicMap fed by a Pipe (a cursor move sends only the cursor). A tap plays; a drag (no pan tool
        active) scrubs; the toolbar's x-pan and wheel zoom move the view."""
        holoviews()  # the Bokeh backend, loaded once per process
        bands = hv.DynamicMap(lambda data: hv.Rectangles(data, ["left", "bottom", "right", "top"], ["text"]),
                              streams=[self.bands]).opts(color="#4caf50", alpha=0.6, line_alpha=0,
                                                         tools=["hover", "xpan", "xwheel_zoom", "reset"],
                                                         hover_tooltips=[("recorded", "@text")], default_tools=[])
        marks = hv.DynamicMap(lambda data: hv.Scatter(data, "t", ["y", "text"]), streams=[self.marks]).opts(
            size=13, marker="triangle", color="#e8532f", line_color="#222", tools=["hover"],
            hover_tooltips=[("", "@text")], default_tools=[])
        cursor = hv.DynamicMap(lambda data: hv.VLines(data, "x"), streams=[self.cursor]).opts(
            color="#1565c0", line_width=2, default_tools=[])
        chart = (bands * marks * cursor).opts(
            hooks=[self._name_and_view], ylim=(-0.3, 2.6), yaxis=None, height=170, responsive=True,
            xlabel="", active_tools=[], toolbar="right")  # no active drag: a drag scrubs; the pan tool pans
        hv.streams.SingleTap(source=bands).add_subscriber(self._tap)
        hv.streams.Draw(source=bands).add_subscriber(self._draw)
        self._figure = None  # the Bokeh figure, once drawn (the hook keeps it)
        return pn.pane.HoloViews(chart, sizing_mode="stretch_width", backend="bokeh")

    def _name_and_view(self, plot, _element) -> None:
        """HoloViews hook: the figure is named (tests and scripts find it) and, once per loaded day,
        shows that day whole; later updates keep the user's zoom."""
        fig = self._figure = plot.state
        fig.name = "ts-review-plot"
        if self._applied_view.get(id(fig)) != self._view_serial:
            self._applied_view[id(fig)] = self._view_serial
            fig.x_range.start, fig.x_range.end = self._day_view

    # ------------------------------------------------------------------ data

    @param.depends("camera", "day", "zone", watch=True)
    def load(self) -> None:
        """The chosen camera's chosen day, in the viewer's zone, shown whole, nothing playing."""
        cid, tz = self._camera_id(), self._tz()
        if cid is None or self.day is None:
            self.note.object = "No camera to review." if cid is None else "Choose a day."
            return
        since, until = day_range(self.day, tz)
        self._day_view, self._view_serial = (_chart_ms(since, tz), _chart_ms(until, tz)), self._view_serial + 1
        self.player.target, self._playing_at = {}, None
        self.cursor.send(_cursor_frame(None))
        self._fill(camera_timeline(self.runtime.db, cid, since, until))

    def _camera_id(self) -> int | None:
        """The chosen camera if the user may see it, else the first she may see (None: none)."""
        if self.camera in self.names:
            return self.camera
        return next(iter(self.names), None)

    @param.depends("bridge.recordings", "bridge.events", watch=True)
    def follow(self) -> None:
        """Something was recorded or happened (the session's bridge says so): when the shown day holds
        now, its new segments, events and alarms are added in place; the zoom and the playing video stay."""
        cid, tz = self._camera_id(), self._tz()
        if cid is None or self.day is None:
            return
        since, until = day_range(self.day, tz)
        if not since <= dt.datetime.now(dt.UTC) < until:
            return
        self._fill(camera_timeline(self.runtime.db, cid, since, until))

    def _fill(self, timeline: dict) -> None:
        """Bands, marks, the player's segments and the summary from ``timeline`` (a day of one camera)."""
        tz = self._tz()
        self.timeline = timeline
        fmt = "%H:%M:%S"
        self.bands.send(_bands_frame([(chart_time(b["start"], tz), chart_time(b["end"], tz),
                                       f'{format_local(b["start"], tz, fmt)}–{format_local(b["end"], tz, fmt)}')
                                      for b in self.timeline["bands"]]))
        marks = [("event", e, f'{e["label"]} at {format_local(e["start"], tz, fmt)}') for e in self.timeline["events"]]
        marks += [("alarm", a, f'alarm {a["name"]} at {format_local(a["start"], tz, fmt)}')
                  for a in self.timeline["alarms"]]
        self._mark_times = [(_chart_ms(m["start"], tz), m["start"]) for _, m, _ in marks]
        self.marks.send(_marks_frame([(chart_time(m["start"], tz), MARK_ROW[k], text) for k, m, text in marks]))
        segments = [{"url": segment_url(s["recording_id"], s["index"]), "start": _ms(s["start"]),
                     "end": _ms(s["end"]), "recording_id": s["recording_id"],
                     "text": f'recording {s["recording_id"]}, segment {s["index"] + 1}'}
                    for s in self.timeline["segments"]]
        if segments != self.player.segments:
            self.player.segments = segments
        self._write_note()

    def _write_note(self) -> None:
        """The summary line of the shown day: the camera's name now, what the day holds, the zone."""
        if not self.timeline or self.day is None:
            return
        tz, cid = self._tz(), self.timeline["camera_id"]
        n, e, a = len(self.timeline["segments"]), len(self.timeline["events"]), len(self.timeline["alarms"])
        name = md_escape(self.names.get(cid, str(cid)))
        self.note.object = (f"**{name}**, {self.day:%A %d %B %Y} · {n} segment(s), {e} event(s), {a} alarm(s) · "
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
        self._playing_at = chart_time(at, tz)
        self.cursor.send(_cursor_frame(self._playing_at))
        seg = self.timeline["segments"][k]
        when = format_local(at, tz) if offset > 0 else f'{format_local(seg["start"], tz)} (nothing recorded before)'
        self.status.object = f"Playing from {when}{why}."
        return True

    def _tap(self, x=None, y=None) -> None:
        """A click: on a mark, play from pre-roll seconds before it; elsewhere, from that time."""
        if x is None:
            return
        tz, x = self._tz(), _x_ms(x)
        mark = self._mark_near(x, y)
        if mark is not None:
            start = dt.datetime.fromisoformat(mark)
            self.play_at(start - dt.timedelta(seconds=self.pre_roll.value or 0),
                         f", {self.pre_roll.value or 0} s before the {format_local(start, tz)} mark")
        else:
            self.play_at(_chart_at(x, tz))

    def _view(self) -> tuple[float, float]:
        """The visible x range (chart ms) as the browser last said, else the loaded day."""
        xr = self._figure.x_range if self._figure is not None else None
        return (xr.start, xr.end) if xr is not None and None not in (xr.start, xr.end) else self._day_view

    def _draw(self, x=None, y=None, stroke_count=0) -> None:
        """A drag along the timeline: the cursor follows the pointer and playback starts where it is let
        go. With the toolbar's pan tool chosen the view moves under the pointer instead, so the drag ends
        at the time it started on: that plays nothing and the cursor goes back to what plays."""
        if x is None:
            return
        x, ended, self._strokes = _x_ms(x), stroke_count != self._strokes, stroke_count
        if self._drag_from is None:
            self._drag_from = x
        start, end = self._view()
        moved = abs(x - self._drag_from) > STILL * (end - start)
        if not ended:
            self.cursor.send(_cursor_frame(naive(x) if moved else self._playing_at))
            return
        self._drag_from = None
        if moved:
            self.play_at(_chart_at(x, self._tz()))
        else:
            self.cursor.send(_cursor_frame(self._playing_at))

    def _day_done(self) -> None:
        """The shown day's last segment ended: when the camera's recording goes on past midnight (within
        DAY_GAP_S), the next day is shown and plays on from there; otherwise say so."""
        segments, cid = self.timeline.get("segments", []), self._camera_id()
        if not segments or cid is None or self.day is None:
            return
        end = dt.datetime.fromisoformat(segments[-1]["end"])
        since, until = day_range(self.day + dt.timedelta(days=1), self._tz())
        following = [s for s in camera_timeline(self.runtime.db, cid, since, until)["segments"]
                     if dt.datetime.fromisoformat(s["end"]) > end]
        gap = dt.datetime.fromisoformat(following[0]["start"]) - end if following else None
        if gap is None or gap > dt.timedelta(seconds=DAY_GAP_S):
            self.status.object = f"End of this day's recordings ({format_local(end, self._tz())})."
            return
        self.day = self.day + dt.timedelta(days=1)  # loads the next day
        self.play_at(end, ", on into the next day")

    def _mark_near(self, x: float, y: float) -> str | None:
        """The mark a click at (x chart ms, y) hit: in a mark row, the nearest within NEAR of the view."""
        if y is None or y < 1.3:
            return None
        start, end = self._view()
        best, near = None, NEAR * (end - start)
        for t, at in self._mark_times:
            d = abs(t - x)
            if d <= near:
                best, near = at, d
        return best

    def _shift(self, days: int) -> None:
        self.day = self.day + dt.timedelta(days=days)

    def _go_to(self) -> None:
        """A typed time in the viewer's zone, on any day: that day's timeline, played from that time."""
        try:
            naive = dt.datetime.fromisoformat(self.goto.value.strip())
        except ValueError:
            self.status.object = "Type a time as YYYY-MM-DD HH:MM:SS."
            return
        tz = self._tz()
        if self.day != naive.date():
            self.day = naive.date()  # loads that day
        self.play_at(from_local(naive.replace(tzinfo=None), tz))

    def __panel__(self):
        return pn.Column(
            pn.Row(self.camera_select, self.prev, self.day_picker, self.next, self.pre_roll, self.goto, self.go),
            self.note, self.plot, self.status, self.player, sizing_mode="stretch_width")


def _chart_ms(at, tz) -> float:
    """A time as a chart x value (ms of the viewer's wall clock, as Bokeh reads naive times)."""
    return (chart_time(at, tz) - dt.datetime(1970, 1, 1)).total_seconds() * 1000


def _chart_at(x: float, tz) -> dt.datetime:
    """The time (UTC) of a chart x value: the inverse of :func:`_chart_ms`."""
    return from_local(dt.datetime(1970, 1, 1) + dt.timedelta(milliseconds=x), tz)


def _x_ms(x) -> float:
    """A chart x as HoloViews hands it back (datetime64, Timestamp, datetime or ms) in chart ms."""
    if isinstance(x, (int, float)):
        return float(x)
    return (pd.Timestamp(x).tz_localize(None) - pd.Timestamp(0)) / pd.Timedelta(milliseconds=1)


def _bands_frame(rows: list[tuple]) -> pd.DataFrame:
    """Recorded spans as rectangles over the band row (0..1): (left, right, text) per row."""
    left, right, text = zip(*rows, strict=True) if rows else ((), (), ())
    return pd.DataFrame({"left": pd.to_datetime(list(left)), "bottom": np.zeros(len(rows)),
                         "right": pd.to_datetime(list(right)), "top": np.ones(len(rows)), "text": list(text)})


def _marks_frame(rows: list[tuple]) -> pd.DataFrame:
    """Event and alarm marks: (chart time, row y, text) per mark."""
    t, y, text = zip(*rows, strict=True) if rows else ((), (), ())
    return pd.DataFrame({"t": pd.to_datetime(list(t)), "y": np.asarray(y, dtype=float), "text": list(text)})


def _cursor_frame(at: dt.datetime | None) -> pd.DataFrame:
    """The play cursor at a chart time (None: hidden)."""
    return pd.DataFrame({"x": pd.to_datetime([] if at is None else [at])})


def review_page(runtime: Runtime):
    return page(runtime, "review", "Review", ReviewPage(runtime))
