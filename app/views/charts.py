"""What the pages' HoloViews charts share: the Bokeh backend loaded once per process, a pane redrawn from
a stream, a name for a chart's data source (the browser and the tests find a chart's data by it), and :class:`FollowX`, which
lets a streamed chart follow its data (or the period it shows) until the user pans or zooms (Reset follows
again)."""

from __future__ import annotations

import datetime as dt

import holoviews as hv
import pandas as pd
import panel as pn


def holoviews():
    """``holoviews`` with the Bokeh backend loaded (``hv.extension`` runs once per process, not per page)."""
    if "bokeh" not in hv.Store.renderers or hv.Store.current_backend != "bokeh":
        hv.extension("bokeh", logo=False)
    return hv


def stream_pane(chart, stream, **params) -> pn.pane.HoloViews:
    """``chart(data)`` redrawn in place whenever ``stream`` (a Pipe) sends data, in its own pane: its axes
    are not linked to the page's other charts (Panel links those sharing a dimension name by default)."""
    return pn.pane.HoloViews(holoviews().DynamicMap(chart, streams=[stream]), sizing_mode="stretch_width",
                             linked_axes=False, **params)


def name_source(name: str):
    """A plot hook naming the element's ColumnDataSource ``name`` (hooks run on every redraw)."""

    def hook(plot, _element) -> None:
        plot.handles["source"].name = name

    return hook


class FollowX:
    """A streamed chart's x range: the data's own or the chart's period (``framewise``) until the user pans
    or zooms; from then on what she chose stays while new data arrives, until Reset. Add :meth:`hook` to the
    chart's hooks and pass :meth:`xlim` as its ``xlim`` each time the chart is drawn."""

    def __init__(self) -> None:
        self.following = True
        self._range = None

    def hook(self, plot, _element) -> None:
        fig = plot.state
        if self._range is not fig.x_range:  # first drawing (hooks run again on every redraw)
            self._range = fig.x_range
            fig.on_event("rangesupdate", self._stop)
            fig.on_event("reset", self._resume)

    def _stop(self, _event) -> None:
        self.following = False

    def _resume(self, _event) -> None:
        self.following = True

    def xlim(self, following: tuple = (None, None)) -> tuple:
        """``following`` (default: the data's extent) while following, else the range on screen as naive
        datetimes."""
        if self.following or self._range is None or self._range.start is None:
            return following
        return (naive(self._range.start), naive(self._range.end))


def naive(v) -> dt.datetime:
    """A chart's x value (epoch ms from the browser, or a datetime64/Timestamp/datetime HoloViews hands
    back) as a naive datetime."""
    ts = pd.Timestamp(v, unit="ms") if isinstance(v, (int, float)) else pd.Timestamp(v)
    return (ts.tz_localize(None) if ts.tzinfo else ts).floor("us").to_pydatetime()  # a datetime holds no ns
