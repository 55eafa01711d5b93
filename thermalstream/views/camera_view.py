"""CameraView: one live camera drawn on a canvas, in the served app and in notebooks.

In a notebook: run ``ts.notebook()`` once in a cell of its own (it loads the pane's JavaScript inline,
so it works with no internet), then ``cam.view()`` or ``ts.CameraView(cam)``. Frames are pushed from
the kernel's main thread; the pointer readout is answered from that same thread, so JupyterLab's
comm subshells never interleave two messages. Frames flow only while the view is shown: clearing or
re-running its cell stops the push (Panel's delete message, which a JupyterLab race can lose, or the
pane's heartbeat falling silent for STALE_S), showing it again restarts it. The cell output carries a plain notice that the pane's script removes once it runs, so
a browser that cannot load the component says so in the notebook itself.
"""

from __future__ import annotations

import asyncio
import struct
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import param
from panel.custom import JSComponent

from thermalstream.cameras import spot_temperature
from thermalstream.capture.camera import Camera
from thermalstream.live import LiveEncoder
from thermalstream.palettes import bokeh_palette

Probe = Callable[[int, int], "tuple[float, str] | None"]
STALE_S = 10.0  # a shown pane whose page sent nothing for this long is taken as gone
NOT_LOADED = ("The live view needs its JavaScript: run `import thermalstream as ts; ts.notebook()` in a cell "
              "of its own first (it works offline), then show the view again.")
NOTICE = ("<style>@keyframes ts-notice{{to{{visibility:visible}}}}.ts-notice{{visibility:hidden;color:#b00020;"
          "font-weight:bold;animation:ts-notice 0s 5s forwards}}</style><div class='ts-notice' id='{id}'>"
          "The view did not load in this browser (its JavaScript is missing or failed; the browser console says "
          "why). Run <code>import thermalstream as ts; ts.notebook()</code> in a cell of its own, then run this "
          "cell again.</div>")


class CameraView(JSComponent):
    """Live pane. In the served app it reads ``/ws/video/{camera_id}``; given a ``Camera``
    object (notebooks) it pushes frames itself with ``_send_msg``."""

    camera_id = param.Integer(default=0, doc="Camera id on the server")
    transport = param.Selector(default="ws", objects=["ws", "msg"])
    active = param.Boolean(default=True, doc="The camera is connected: only then does the pane open /ws/video "
                                             "(a stopped camera is not asked for frames every second)")
    max_fps = param.Number(default=25.0, bounds=(1, 60))
    readout = param.String(default="", doc="Value under the pointer with its unit, e.g. '31.2 °C @ 120,88' "
                                           "or '3012 counts @ 120,88' (uncalibrated sensor)")
    drawing = param.Boolean(default=False, doc="Clicks on the picture add points to `polygon`")
    polygon = param.List(default=[], doc="Points [x, y] in 0..1 image coordinates, drawn by clicking")
    rois = param.List(default=[], doc="Measurement regions drawn over the picture: [{kind, points, label, "
                                      "alarm, hot}] (red while alarm is true; hot: the hottest point, 0..1)")
    scale = param.Dict(default={}, doc="Colour bar: {lo, hi, unit, colours (coldest first)}; empty: no bar")
    notice = param.String(default="", doc="Id of the notebook notice that the script removes once it runs")

    _esm = Path(__file__).with_name("camera_view.js")
    _stylesheets = [
        ".ts-view{position:relative;width:100%}"
        ".ts-canvas{width:100%;height:auto;display:block;background:#111;border-radius:4px}"
        ".ts-hud{position:absolute;right:6px;bottom:6px;color:#fff;font:12px monospace;pointer-events:none;"
        "background:rgba(0,0,0,.5);padding:1px 4px;border-radius:3px}"
        ".ts-view.with-bar{padding-right:58px;box-sizing:border-box}.ts-view.with-bar .ts-hud{right:64px}"
        ".ts-bar{position:absolute;right:0;top:0;bottom:0;width:54px;display:none;font:11px sans-serif;color:#333}"
        ".ts-bar canvas{position:absolute;left:0;top:8px;width:12px;height:calc(100% - 16px);border:1px solid #999}"
        ".ts-bar span{position:absolute;left:16px;white-space:nowrap;transform:translateY(-50%)}"
    ]

    def __init__(self, camera: Camera | None = None, probe: Probe | None = None, **params) -> None:
        """``probe(x, y)`` returns (value, unit) at an image pixel (None for picture-only cameras);
        with a ``camera`` it defaults to reading that camera's newest frame."""
        if camera is not None:
            params.setdefault("transport", "msg")
        super().__init__(**params)
        self._camera = camera
        if probe is None and camera is not None:
            probe = lambda x, y: spot_temperature(camera.latest(), x, y)  # noqa: E731
        self._probe = probe
        self._encoder: LiveEncoder | None = None
        self._palette = "inferno"
        self._sent = -1
        self._cb = None
        self._pointer: dict | None = None  # the newest pointer message, answered by _push
        self._watchers: list[Callable[[bool], None]] = []
        self._loop: asyncio.AbstractEventLoop | None = None  # the kernel's main loop (notebooks)
        self._heard, self._stale = time.monotonic(), False  # the page's last message; gone silent
        if camera is not None:
            self._encoder = LiveEncoder(camera, max_fps=self.max_fps)
            self.on_shown(self._live)

    def on_shown(self, callback: Callable[[bool], None]) -> None:
        """``callback(True)`` when the pane gets its first view, ``callback(False)`` when its last view
        is gone (cell output cleared or re-run, page closed)."""
        self._watchers.append(callback)

    def _get_model(self, doc, root=None, parent=None, comm=None):
        if comm is not None and threading.current_thread() is threading.main_thread():
            try:
                self._loop = asyncio.get_running_loop()
            except RuntimeError:
                self._loop = None
        model = super()._get_model(doc, root, parent, comm)
        self._heard, self._stale = time.monotonic(), False
        self._tell(True)  # (callbacks are idempotent: a second output changes nothing)
        return model

    def _tell(self, shown: bool) -> None:
        for callback in self._watchers:
            callback(shown)

    def _cleanup(self, root=None) -> None:
        had = bool(self._models)
        super()._cleanup(root)
        if had and not self._models:
            self._tell(False)

    def _live(self, shown: bool) -> None:
        if not shown:
            self.stop()
        elif self._cb is None:
            import panel as pn

            self._cb = pn.state.add_periodic_callback(self._push, period=int(1000 / self.max_fps), start=True)

    def check_stale(self) -> bool:
        """Whether the page has sent nothing (heartbeat, pointer) for STALE_S while the pane is shown: its
        output is gone though no delete message came (the watchers are told False once; a heartbeat
        later, a tab back from the background, tells them True again)."""
        if self._stale or time.monotonic() - self._heard < STALE_S:
            return self._stale
        self._stale = True
        self._tell(False)
        return True

    @property
    def live(self) -> bool:
        """Frames are being pushed (the view is shown and not stopped)."""
        return self._cb is not None

    def _push(self) -> None:
        if self.check_stale():
            return
        pointer, self._pointer = self._pointer, None
        if pointer is not None:
            self._answer(pointer)
        frame = self._encoder.snapshot() if self._encoder else None
        if frame is None or frame.seq == self._sent:
            return
        self._sent = frame.seq
        self._send_msg(struct.pack(">d", frame.timestamp * 1000.0) + frame.jpeg)
        if frame.seq % 10 == 0:  # the colour bar follows the automatic span a few times a second
            self.scale = colour_bar(self._encoder.display.scale, self._palette)

    def _handle_msg(self, msg) -> None:
        if not isinstance(msg, dict):
            return
        self._heard = time.monotonic()
        if msg.get("gone"):  # the page removed its last view of this pane
            if len(self._models) <= 1:
                self._tell(False)
            return
        if msg.get("alive"):  # the page's heartbeat (every second): a pane that went silent is back
            if self._stale:
                self._stale = False
                self.on_kernel_thread(self._tell, True)
            return
        if self._probe is None:
            return
        if self._cb is not None:  # frames leave from the periodic callback: answer from that thread too
            self._pointer = msg
            return
        self.on_kernel_thread(self._answer, msg)

    def on_kernel_thread(self, fn: Callable, *args) -> None:
        """Run ``fn(*args)`` on the notebook kernel's main thread, where cells and timers send their
        messages: called from a comm subshell (JupyterLab 4.4+), it is handed over, so the pieces of two
        messages never interleave. Elsewhere (the served app, plain Python) it runs at once."""
        loop = self._loop
        if loop is not None and not loop.is_closed() and threading.current_thread() is not threading.main_thread():
            loop.call_soon_threadsafe(fn, *args)
        else:
            fn(*args)

    def _answer(self, msg: dict) -> None:
        if msg.get("leave"):
            self.readout = ""
            return
        try:
            x, y = int(msg["x"]), int(msg["y"])
            reading = self._probe(x, y)
        except (KeyError, TypeError, ValueError, LookupError):
            return
        self.readout = "" if reading is None else f"{format_reading(*reading)} @ {x},{y}"

    def _repr_mimebundle_(self, include=None, exclude=None):
        return with_notice(self, lambda: super(CameraView, self)._repr_mimebundle_(include, exclude))

    def stop(self) -> None:
        """Stop pushing frames (notebook transport); showing the view again starts them again."""
        if self._cb is not None:
            self._cb.stop()
            self._cb = None


def with_notice(view: CameraView, render: Callable[[], tuple[dict, dict]]) -> tuple[dict, dict]:
    """A notebook output holding ``view``: NOT_LOADED when this kernel has not loaded the extension;
    otherwise ``render()``'s bundle after a notice that the pane's script removes when it runs, so a
    browser that cannot load the component says so in the notebook."""
    from panel.config import panel_extension

    if not panel_extension._loaded:  # say so in the notebook, not only in the browser console
        return {"text/html": f"<b>{NOT_LOADED}</b>", "text/plain": NOT_LOADED}, {}
    view.notice = f"ts-notice-{uuid.uuid4().hex[:12]}"
    data, meta = render()
    if "text/html" in data:
        data["text/html"] = NOTICE.format(id=view.notice) + data["text/html"]
    return data, meta


def colour_bar(scale: tuple[float, float, str] | None, palette: str, stops: int = 32) -> dict:
    """The ``scale`` parameter for a (lo, hi, unit) scale and a palette: ``{}`` when there is none."""
    if not scale:
        return {}
    colours = bokeh_palette(palette)
    step = (len(colours) - 1) / (stops - 1)
    lo, hi, unit = scale
    digits = 0 if unit == "counts" else 1
    return {"lo": round(lo, digits), "hi": round(hi, digits), "unit": unit,
            "colours": [colours[round(i * step)] for i in range(stops)]}


def format_reading(value: float, unit: str) -> str:
    """'31.2 °C' or '3012 counts' (counts are whole numbers, never labelled °C)."""
    return f"{value:.0f} counts" if unit == "counts" else f"{value:.1f} {unit}"
