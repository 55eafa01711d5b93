"""Event-triggered recording: a rolling pre-capture buffer per camera, kept around detection events.

A camera records on events when its settings say so::

    camera.settings["record"] = {"mode": "events", "pre_s": 5, "post_s": 5}   # "manual" (default) or "events"

``pre_s`` and ``post_s`` are seconds, 0 to 60.

How it works (:class:`EventRecordingService`, one worker thread for all cameras):

* **Buffer.** While a camera is in ``events`` mode, connected, and detection is on for it (or one of
  its alarm rules records: ``buffer_for``; alarm starts carry ``record``), a
  :class:`~thermalstream.record.recorder.Recorder` writes it continuously in *short* segments
  (``clamp(pre_s, 1, 2)`` seconds) into ``recordings_dir/.buffer/cam{id}/{UTC start}/``. Closed
  segments that end more than ``pre_s + KEEP_SLACK_S`` seconds before the newest closed segment
  (frame time) are deleted as soon as they close, so the buffer never holds more than a few
  segments. ``KEEP_SLACK_S`` covers the delay between an event's first sighting and its
  ``detection.event`` ``start`` message (the detector's ``min_hits``). The buffer stops (and its
  folder is emptied) when the mode goes back to manual, detection goes off or the camera goes
  away -- but never while an event recording is still collecting its tail.
* **Event start** (bus topic ``detection.event``, ``state`` = ``"start"``): a
  :class:`~thermalstream.db.models.Recording` row is created (``scheduled`` False, ``event_id``
  the event, ``status`` "recording", folder ``cam{id}/{UTC start}_r{id}`` like a manual
  recording) and the buffered segments that end after ``event start - pre_s`` are *moved* into it
  (renamed ``seg00000_…``, ``seg00001_…`` in order; ``.h5`` radiometric files move with them).
  Each segment gets a :class:`~thermalstream.db.models.RecordingSegment` row, so the recording
  plays and exports like any other (``segment_paths``).
* **While events are open** every segment the buffer closes is moved into the recording.
* **Event end** (``state`` = ``"end"``): when no event of the recording is open any more, its
  deadline is ``latest event end + post_s``; the recording is closed (row completed, notification
  sent) at the first closed segment that reaches the deadline. A camera that stops sending frames
  cannot hold a recording open: it is closed at most ``segment + gap_after + 5 s`` after the
  deadline with what it has.
* **Overlapping events** extend the same recording: an event that starts while a recording is
  open -- or collecting its post-event tail -- joins it, and ``event_id`` stays the *first*
  event's id (the others are listed in the folder's ``recording.json``, key ``event_ids``).
* Events that start while the camera is not buffering (manual mode, detection just switched on
  elsewhere, buffer failed) are not recorded.
* Every path is resolved and checked to lie inside the recordings folder before it is written,
  moved or deleted. At start-up the whole ``.buffer`` folder (left by a crash) is deleted; the
  rows of event recordings left "recording" by a crash are closed by
  :meth:`RecordingService.reconcile` like manual ones (their moved segments are in their folder),
  which also never treats ``.buffer`` as orphans.
* Disk full or a write error stops the buffer: an open event recording is closed as "failed"
  with the error (notification), and the buffer is retried every ``RETRY_S`` seconds.

The modes are in :mod:`~thermalstream.record.event_mode`; opening, filling and closing a recording
and the path-checked buffer files in :mod:`~thermalstream.record.event_collect`; what the worker thread
does with segments, finished recorders and events in :mod:`~thermalstream.record.event_triggers`.
"""


from __future__ import annotations

import logging
import queue
import threading
import time
from pathlib import Path
from typing import Any

from thermalstream.db.models import Camera as CameraRow
from thermalstream.db.outage import log_failure
from thermalstream.db.types import utcnow
from thermalstream.record.event_collect import Buffer, BufferFiles, EventCollector
from thermalstream.record.event_mode import MAX_PAD_S, MODES, RecordMode, RecordModeError, validate_mode
from thermalstream.record.event_triggers import KEEP_SLACK_S, RETRY_S, EventTriggers
from thermalstream.record.recorder import Recorder
from thermalstream.record.segments import RecorderResult, Segment
from thermalstream.record.service import BUFFER_DIRNAME, REFUSE_STATUSES, RecordingService

log = logging.getLogger(__name__)

TOPIC_EVENT = "detection.event"
TICK_S = 0.25
REFRESH_S = 5.0  # camera settings are re-read from the database this often


class EventRecordingService(EventTriggers):
    """See the module docstring. ``recordings`` is the :class:`RecordingService` (root, config,
    palette, notifications); ``detection`` the DetectionService (``enabled(camera_id)``)."""

    def __init__(self, recordings: RecordingService, manager, bus, detection, *, tick_s: float = TICK_S) -> None:
        self.recs = recordings
        self.db = recordings.db
        self.manager = manager
        self.bus = bus
        self.detection = detection
        self.tick_s = tick_s
        self.root: Path = recordings.root
        self.buffer_root: Path = self.root / BUFFER_DIRNAME
        self.files = BufferFiles(self.root, self.buffer_root)
        self.collect = EventCollector(recordings, self.files, self._name)
        self._modes: dict[int, RecordMode] = {}
        self._modes_lock = threading.Lock()
        self._bufs: dict[int, Buffer] = {}
        self._q: queue.Queue = queue.Queue()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._unsub = None
        self._next_refresh = 0.0
        self.buffer_for: list = []  # more reasons to buffer a camera in events mode (alarm rules that record)

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> EventRecordingService:
        self._clear_buffer_root()
        self._refresh_modes()
        self._unsub = self.bus.subscribe(self._on_bus_event, TOPIC_EVENT)
        self._thread = threading.Thread(target=self._run, name="event-recording", daemon=True)
        self._thread.start()
        return self

    def shutdown(self, timeout: float = 30.0) -> None:
        """Close open event recordings now (with what they have) and stop every buffer."""
        if self._unsub is not None:
            self._unsub()
            self._unsub = None
        self._stop.set()
        self._q.put(("wake",))
        t = self._thread
        if t is not None:
            t.join(timeout)
            if t.is_alive():
                log.error("event recording did not stop within %.0f s", timeout)
        self._thread = None

    # ------------------------------------------------------------------ settings

    def mode(self, camera_id: int) -> RecordMode:
        with self._modes_lock:
            m = self._modes.get(camera_id)
        if m is not None:
            return m
        return RecordMode.from_settings(self._camera_settings(camera_id))

    def active_count(self) -> int:
        """Event recordings being written now (buffers that are only waiting for an event do not count)."""
        return sum(1 for b in list(self._bufs.values()) if b.rec is not None)

    def info(self, camera_id: int) -> dict[str, Any]:
        """The camera's mode and what the service is doing for it; LookupError for an unknown camera."""
        m = RecordMode.from_settings(self._camera_settings(camera_id))
        buf = self._bufs.get(camera_id)
        rec = buf.rec if buf is not None else None
        return {**m.to_json(), "camera_id": camera_id,
                "buffering": bool(buf is not None and buf.recorder is not None and buf.recorder.running),
                "recording_id": rec.recording_id if rec is not None else None}

    def set_mode(self, camera_id: int, changes: dict[str, Any]) -> dict[str, Any]:
        """Validate and save ``changes`` (mode, pre_s, post_s); applied within a tick. Raises
        RecordModeError (400) or LookupError (404)."""
        with self.db.session() as s:
            row = s.get(CameraRow, camera_id)
            if row is None:
                raise LookupError(f"no camera {camera_id}")
            settings = dict(row.settings or {})
            new = validate_mode(changes, RecordMode.from_settings(settings))
            settings["record"] = new.to_json()
            row.settings = settings
        with self._modes_lock:
            self._modes[camera_id] = new
        self._q.put(("wake",))
        return self.info(camera_id)

    def _camera_settings(self, camera_id: int) -> dict[str, Any]:
        with self.db.session() as s:
            row = s.get(CameraRow, camera_id)
            if row is None:
                raise LookupError(f"no camera {camera_id}")
            return dict(row.settings or {})

    def _refresh_modes(self) -> None:
        from sqlalchemy import select

        try:
            with self.db.session() as s:
                rows = [(c.id, dict(c.settings or {})) for c in s.scalars(select(CameraRow))]
        except Exception:  # keep the last known modes
            log_failure(log, "reading camera record settings failed")
            return
        with self._modes_lock:
            self._modes = {cid: RecordMode.from_settings(st) for cid, st in rows}

    def _clear_buffer_root(self) -> None:
        """Empty the pre-capture buffer folder at start (a worker process's service overrides this: the
        server clears the shared folder once, before any worker starts)."""
        self.files.clear_root()

    # ------------------------------------------------------------------ inputs (other threads)

    def _on_bus_event(self, event) -> None:
        self._q.put(("event", dict(event.data)))

    def _on_segment(self, buf: Buffer, rec: Recorder, seg: Segment) -> None:
        self._q.put(("segment", buf, rec, seg))

    def _on_finished(self, buf: Buffer, rec: Recorder, res: RecorderResult) -> None:
        self._q.put(("finished", buf, rec, res))

    # ------------------------------------------------------------------ worker thread

    def _run(self) -> None:
        next_tick = 0.0
        while not self._stop.is_set():
            try:
                msg = self._q.get(timeout=self.tick_s)
            except queue.Empty:
                msg = None
            try:
                if msg is not None:
                    self._handle(msg)
                now = time.monotonic()
                if now >= next_tick:
                    next_tick = now + self.tick_s
                    self._tick()
            except Exception:
                log_failure(log, "event recording: %s failed", msg[0] if msg else "tick")
        try:
            self._teardown()
        except Exception:
            log.exception("event recording shutdown failed")

    def _handle(self, msg: tuple) -> None:
        kind = msg[0]
        if kind == "event":
            self._event(msg[1])
        elif kind == "segment":
            self._segment(msg[1], msg[2], msg[3])
        elif kind == "finished":
            self._finished(msg[1], msg[2], msg[3])

    def _drain(self) -> None:
        while True:
            try:
                msg = self._q.get_nowait()
            except queue.Empty:
                return
            try:
                self._handle(msg)
            except Exception:
                log_failure(log, "event recording: %s failed", msg[0])

    def _teardown(self) -> None:
        for buf in list(self._bufs.values()):
            if buf.recorder is not None:
                buf.recorder.stop(self.recs.config.stop_timeout)  # its last segment arrives as a message
        self._drain()
        for buf in list(self._bufs.values()):
            if buf.rec is not None:
                self.collect.finalize(buf, note=None)
            self.files.discard(buf)
            self.files.remove_dir(buf.directory)
            for d in buf.stale_dirs:
                self.files.remove_dir(d)
        self._bufs.clear()

    # ----- periodic

    def _tick(self) -> None:
        now = time.monotonic()
        if now >= self._next_refresh:
            self._next_refresh = now + REFRESH_S
            self._refresh_modes()
        with self._modes_lock:
            modes = dict(self._modes)
        for cid in set(self._bufs) | {c for c, m in modes.items() if m.mode == "events"}:
            buf = self._bufs.get(cid)
            mode = modes.get(cid, RecordMode())
            cam = self.manager.get(cid)
            usable = cam is not None and getattr(cam.status, "value", cam.status) not in REFUSE_STATUSES
            want = usable and mode.mode == "events" and (
                self.detection.enabled(cid) or any(f(cid) for f in self.buffer_for))
            if buf is None:
                if not want:
                    continue
                buf = self._bufs[cid] = Buffer(cid)
            recording = buf.rec is not None
            running = buf.recorder is not None and buf.recorder.running
            if running and buf.camera is not cam:
                self._stop_recorder(buf)  # camera gone or reconnected as a new object
                running = False
            if (want or (recording and usable)) and not running and now >= buf.retry_at:
                if buf.recorder is not None:
                    self._stop_recorder(buf)
                self._start_recorder(buf, cam, mode)
            elif not want and not recording:
                if running:
                    self._stop_recorder(buf)
                self.files.discard(buf)
            self.files.prune(buf, mode.pre_s + KEEP_SLACK_S)
            if buf.rec is not None:
                self._maybe_finalize(buf)
            if buf.recorder is None and buf.rec is None and not buf.segments and not want:
                for d in buf.stale_dirs:
                    self.files.remove_dir(d)
                self._bufs.pop(cid, None)

    def _start_recorder(self, buf: Buffer, cam, mode: RecordMode) -> None:
        cfg = self.recs.config
        stamp = utcnow().strftime("%Y%m%dT%H%M%S%fZ")
        d = self.buffer_root / f"cam{buf.camera_id}" / stamp
        try:
            self.files.inside(d)
        except ValueError as exc:
            log.error("camera %s: buffer folder refused: %s", buf.camera_id, exc)
            buf.retry_at = time.monotonic() + RETRY_S
            return
        palette = self.recs.palette(buf.camera_id) if self.recs.palette is not None else None
        rec: Recorder | None = None
        rec = Recorder(
            cam, d, segment_seconds=mode.segment_seconds, video=cfg.video,
            radiometric=None if cfg.radiometric else False, radiometric_options=cfg.radiometric_options,
            palette=palette, queue_size=cfg.queue_size, gap_after=cfg.gap_after,
            reserve_bytes=cfg.reserve_bytes, min_free_bytes=cfg.min_free_bytes, disk_check_s=cfg.disk_check_s,
            on_segment=lambda seg: self._on_segment(buf, rec, seg),
            on_finished=lambda res: self._on_finished(buf, rec, res),
        )
        try:
            rec.start()
        except Exception as exc:  # noqa: BLE001 - DiskFull, bad palette, camera gone
            buf.retry_at = time.monotonic() + RETRY_S
            self.files.remove_dir(d)
            self._buffer_failed(buf, str(exc))
            return
        buf.recorder, buf.camera, buf.directory = rec, cam, d
        log.info("camera %s: event pre-capture buffer on (%g s segments, pre %g s, post %g s)",
                 buf.camera_id, mode.segment_seconds, mode.pre_s, mode.post_s)

    def _stop_recorder(self, buf: Buffer) -> None:
        rec, buf.recorder = buf.recorder, None
        if rec is None:
            return
        rec.stop(self.recs.config.stop_timeout)  # closes the open segment; messages follow in the queue

    def _buffer_failed(self, buf: Buffer, error: str) -> None:
        log.error("camera %s: event pre-capture buffer stopped: %s", buf.camera_id, error)
        if not buf.failed_note_sent:
            buf.failed_note_sent = True
            self.recs._notify("error", "Event recording buffer stopped", f"{self._name(buf.camera_id)}: {error}",
                              camera_id=buf.camera_id)

    def _name(self, cid: int) -> str:
        cam = self.manager.get(cid)
        return getattr(cam, "name", "") or f"camera {cid}"


__all__ = ["MAX_PAD_S", "MODES", "EventRecordingService", "RecordMode", "RecordModeError", "validate_mode"]
