"""Export a camera's time range as one MP4 from the Recordings page: times typed in the viewer's zone,
a download link only when recorded video overlaps the range (otherwise it says so)."""

from __future__ import annotations

import html
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import panel as pn

from thermalstream.notifications import chart_time, format_local, from_local, zone_label
from thermalstream.runtime import Runtime

FORMAT = "%Y-%m-%d %H:%M:%S"


class RangeExport(pn.viewable.Viewer):
    """``camera()`` gives the chosen camera id (0: none), ``names`` its name, ``tz()`` the viewer's zone."""

    def __init__(self, runtime: Runtime, camera: Callable[[], int], names: dict[int, str],
                 tz: Callable[[], str | None], **params) -> None:
        super().__init__(**params)
        self.runtime, self.camera, self.names, self.tz = runtime, camera, names, tz
        now = datetime.now(UTC).replace(microsecond=0)
        self.start = pn.widgets.DatetimeInput(label="From", format=FORMAT, width=190,
                                              value=chart_time(now - timedelta(hours=1), None))
        self.end = pn.widgets.DatetimeInput(label="To", format=FORMAT, width=190,
                                            value=chart_time(now, None))
        self.result = pn.pane.HTML("", sizing_mode="stretch_width", css_classes=["ts-range"])
        for w in (self.start, self.end):
            w.param.watch(lambda e: self.update(), "value")
        self.update()

    def reset_zone(self) -> None:
        """Once the browser's zone is known: the last hour in that zone."""
        now = datetime.now(UTC).replace(microsecond=0)
        self.start.value = chart_time(now - timedelta(hours=1), self.tz())
        self.end.value = chart_time(now, self.tz())

    def update(self) -> None:
        cid, tz = self.camera(), self.tz()
        if not cid:
            return self._say("Choose a camera above to export a time range of it as one MP4.")
        if self.start.value is None or self.end.value is None:
            return self._say(f"Type both times as {FORMAT.replace('%', '')} ({zone_label(tz)}).", error=True)
        since, until = from_local(self.start.value, tz), from_local(self.end.value, tz)
        if since >= until:
            return self._say("The range ends before it starts.", error=True)
        if not self.runtime.recordings.segments_between(cid, since, until):
            return self._say(f"No recorded video of {self.names.get(cid, cid)} in that range.", error=True)
        url = f"/api/cameras/{cid}/export.mp4?" + urlencode({"since": since.isoformat(), "until": until.isoformat()})
        what = (f"{self.names.get(cid, cid)}, {format_local(since, tz)} to {format_local(until, tz)}")
        self.result.object = (f'<a class="ts-range-export" href="{html.escape(url)}" download>'
                              f'Download MP4: {html.escape(str(what))}</a>')

    def _say(self, text: str, error: bool = False) -> None:
        colour = "#c62828" if error else "#555"
        self.result.object = f'<small style="color:{colour}">{html.escape(text)}</small>'

    def __panel__(self):
        return pn.Column(pn.pane.Markdown("#### Export a time range"), pn.Row(self.start, self.end), self.result,
                         sizing_mode="stretch_width")
