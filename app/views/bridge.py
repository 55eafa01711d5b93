"""One bridge per browser session from the event bus to the page's state.

Pages do not poll the database to learn that something changed: the session's
:class:`SessionBridge` is subscribed to the bus once, keeps only what concerns cameras this user
may see, and bumps a counter parameter per kind of change on the session's own thread, at most
:data:`MAX_HZ` times a second however busy the bus is. Components depend on the counters
declaratively (``param.depends("bridge.cameras", watch=True)`` or ``pn.bind``)::

    bridge = session_bridge(runtime)
    pn.bind(lambda _: reload(), bridge.param.cameras, watch=True)

Kinds: ``cameras`` (a camera added, removed, changed or its status changed; sharing changed),
``detections`` (detections or events stored), ``series`` (ROI samples or alarms), ``recordings``
(a recording started, stopped or got a closed segment), ``events`` (a detection event or an alarm
started, changed or ended: marks on the Review timeline, the alarm list), ``notifications`` (a
notification for this user: their own or a broadcast, about no camera or one they may see). One
bus message may bump several kinds. What only changes continuously (fps, the temperature range of
a live frame) is read from memory by a page's own slow tick, never from the database.
"""

from __future__ import annotations

import threading
import weakref
from typing import Any

import panel as pn
import param

from app.access import about_visible_camera
from thermalstream.bus import Event
from thermalstream.runtime import Runtime

MAX_HZ = 2.0
KINDS = ("cameras", "detections", "series", "recordings", "events", "notifications")
_BRIDGES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def kinds_of(event: Event) -> tuple[str, ...]:
    """Which counters an event bumps (none: not a page's concern, e.g. an overlay with nothing in it)."""
    topic = event.topic
    if topic.startswith("camera.") or topic == "roi.changed":  # roi.changed: a camera's ROIs or alarm rules
        return ("cameras",)
    if topic == "detections":  # the live overlay, at frame rate: rows are stored only when it holds boxes
        return ("detections",) if event.data.get("detections") else ()
    if topic.startswith("detection.event"):
        return ("detections", "events")
    if topic == "recording":  # started | stopped | segment (thermalstream.record.service.announce)
        return ("recordings",)
    if topic.startswith("alarm"):
        return ("series", "events")
    if topic.startswith("roi"):
        return ("series",)
    if topic == "notification":
        return ("notifications",)
    return ()


class SessionBridge(param.Parameterized):
    """Counters a page watches; each bump means "what you show of this kind may be stale"."""

    cameras = param.Integer(default=0, doc="cameras added, removed, changed or changing status")
    detections = param.Integer(default=0, doc="detections or events stored")
    series = param.Integer(default=0, doc="ROI samples or alarms")
    recordings = param.Integer(default=0, doc="a recording started, stopped or closed a segment")
    events = param.Integer(default=0, doc="a detection event or an alarm started, changed or ended")
    notifications = param.Integer(default=0, doc="a notification for this session's user")

    def __init__(self, runtime: Runtime, visible: set[int] | None, doc: Any, user_id: int | None = None,
                 **params) -> None:
        super().__init__(**params)
        self._visible = visible
        self._user_id = user_id  # notifications addressed to another user are not this session's
        self._doc = doc
        self._pending: set[str] = set()
        self._scheduled = False
        self._lock = threading.Lock()
        self._unsubscribe = runtime.bus.subscribe(self._on_event)

    def _concerns(self, event: Event, kinds: tuple[str, ...]) -> bool:
        """Whether this user may learn of the event: camera lists are re-read whoever's camera changed
        (they are filtered when read); everything else only for cameras the user may see."""
        if kinds == ("cameras",):
            return True
        if event.topic == "notification":
            mine = event.user_id is None or event.user_id == self._user_id
            return mine and about_visible_camera(event.data.get("data") or {}, self._visible)
        cid = event.data.get("camera_id")
        return self._visible is None or cid is None or cid in self._visible

    def _on_event(self, event: Event) -> None:  # any thread; must be cheap
        kinds = kinds_of(event)
        if not kinds or not self._concerns(event, kinds):
            return
        with self._lock:
            self._pending.update(kinds)
            if self._scheduled:
                return
            self._scheduled = True
        try:
            self._doc.add_next_tick_callback(self._schedule)
        except Exception:  # noqa: BLE001 - the session is closing
            self.close()

    def _schedule(self) -> None:
        self._doc.add_timeout_callback(self._flush, int(1000 / MAX_HZ))

    def _flush(self) -> None:
        with self._lock:
            kinds, self._pending, self._scheduled = self._pending, set(), False
        updates = {k: getattr(self, k) + 1 for k in KINDS if k in kinds}
        if updates:
            self.param.update(**updates)

    def see(self, visible: set[int] | None) -> None:
        """The cameras this user may see changed (a share added or removed)."""
        self._visible = visible

    def close(self) -> None:
        self._unsubscribe()


def session_bridge(runtime: Runtime) -> SessionBridge:
    """The current session's bridge, made on first use and closed with the session."""
    from app.views.session import session_user, visible_cameras

    doc = pn.state.curdoc
    bridge = _BRIDGES.get(doc) if doc is not None else None
    if bridge is None:
        user = session_user(runtime)
        bridge = SessionBridge(runtime, visible_cameras(runtime, user), doc, user.user_id if user else None)
        if doc is not None:
            _BRIDGES[doc] = bridge
            pn.state.on_session_destroyed(lambda ctx: bridge.close())
    return bridge


def every(callback, period_ms: int):
    """Run ``callback`` every ``period_ms`` in this session, stopped with the session, as a *background*
    periodic callback. Panel's ordinary periodic callbacks flip the global busy state twice per call,
    and that state drives the busy indicator of every open session: N idle tabs with a 1 s tick cost
    N x N indicator updates a second (seen with py-spy; bench/idle.py measures it)."""
    from panel.io.callbacks import PeriodicCallback

    cb = PeriodicCallback(callback=callback, period=period_ms, background=True)
    cb.start()
    pn.state.on_session_destroyed(lambda ctx: cb.stop())
    return cb
