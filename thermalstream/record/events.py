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
"""

from __future__ import annotations

import json
import logging
import math
import os
import queue
import shutil
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from thermalstream.db.models import Camera as CameraRow
from thermalstream.db.models import Recording, RecordingSegment
from thermalstream.db.outage import log_failure
from thermalstream.db.types import utcnow
from thermalstream.record.recorder import Recorder, RecorderResult, Segment, segment_name
from thermalstream.record.service import BUFFER_DIRNAME, REFUSE_STATUSES, RecordingService

log = logging.getLogger(__name__)

TOPIC_EVENT = "detection.event"
MODES = ("manual", "events")
MAX_PAD_S = 60.0
DEFAULT_PRE_S = 5.0
DEFAULT_POST_S = 5.0
KEEP_SLACK_S = 2.0  # extra seconds of buffer kept beyond pre_s (event start is announced late)
RETRY_S = 10.0  # a failed buffer is restarted after this long
TICK_S = 0.25
REFRESH_S = 5.0  # camera settings are re-read from the database this often


class RecordModeError(ValueError):
    """Invalid recording-mode settings (HTTP 400)."""


@dataclass(frozen=True)
class RecordMode:
    mode: str = "manual"
    pre_s: float = DEFAULT_PRE_S
    post_s: float = DEFAULT_POST_S

    @property
    def segment_seconds(self) -> float:
        """Buffer segment length: at most 2 s and at most pre_s (but at least 1 s)."""
        return min(2.0, max(1.0, self.pre_s))

    def to_json(self) -> dict[str, Any]:
        return {"mode": self.mode, "pre_s": self.pre_s, "post_s": self.post_s}

    @classmethod
    def from_settings(cls, settings: dict[str, Any] | None) -> RecordMode:
        """The mode stored in a camera's settings; invalid stored values fall back to the defaults."""
        raw = (settings or {}).get("record")
        if not isinstance(raw, dict):
            return cls()
        try:
            return validate_mode(raw, cls(), partial_ok=True)
        except RecordModeError as exc:
            log.warning("ignoring invalid record settings %r: %s", raw, exc)
            return cls()


def _seconds(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise RecordModeError(f"{name} must be a number of seconds from 0 to {MAX_PAD_S:g}")
    if not 0 <= value <= MAX_PAD_S:
        raise RecordModeError(f"{name} must be between 0 and {MAX_PAD_S:g} seconds, not {value}")
    return float(value)


def validate_mode(changes: dict[str, Any], base: RecordMode | None = None, *, partial_ok: bool = True) -> RecordMode:
    """``base`` with ``changes`` (any of mode, pre_s, post_s) applied; RecordModeError when invalid."""
    if not isinstance(changes, dict):
        raise RecordModeError("record settings must be an object")
    fields = {"mode", "pre_s", "post_s"}
    unknown = set(changes) - fields
    if unknown:
        raise RecordModeError(f"unknown field(s) {sorted(unknown)}; give one or more of {sorted(fields)}")
    if not changes:
        raise RecordModeError(f"give one or more of {sorted(fields)}")
    if not partial_ok and set(changes) != fields:
        raise RecordModeError(f"give all of {sorted(fields)}")
    base = base or RecordMode()
    mode = changes.get("mode", base.mode)
    if mode not in MODES:
        raise RecordModeError(f"mode must be one of {list(MODES)}, not {mode!r}")
    pre = _seconds(changes["pre_s"], "pre_s") if "pre_s" in changes else base.pre_s
    post = _seconds(changes["post_s"], "post_s") if "post_s" in changes else base.post_s
    return RecordMode(mode, pre, post)


def _dt(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


@dataclass(eq=False)
class _EventRec:
    """An event recording being collected."""

    recording_id: int
    directory: Path
    event_id: int | None
    started_at: float  # epoch of the earliest segment (or event start - pre_s before any)
    open_events: set = field(default_factory=set)
    event_ids: list = field(default_factory=list)
    last_end: float | None = None  # latest event end (frame time)
    deadline: float | None = None  # last_end + post_s once no event is open
    deadline_mono: float = 0.0
    segments: list[Segment] = field(default_factory=list)

    @property
    def last_seg_end(self) -> float | None:
        return self.segments[-1].end if self.segments else None


@dataclass(eq=False)
class _Buffer:
    """One camera's rolling buffer."""

    camera_id: int
    camera: Any = None
    recorder: Recorder | None = None
    directory: Path | None = None
    segments: deque = field(default_factory=deque)  # closed, unclaimed Segments (oldest first)
    newest_end: float = 0.0
    rec: _EventRec | None = None
    retry_at: float = 0.0
    failed_note_sent: bool = False
    finalize_on_finish: bool = False
    stale_dirs: list = field(default_factory=list)


class EventRecordingService:
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
        self._modes: dict[int, RecordMode] = {}
        self._modes_lock = threading.Lock()
        self._bufs: dict[int, _Buffer] = {}
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

    # ------------------------------------------------------------------ paths

    def _inside(self, path: Path, root: Path | None = None) -> Path:
        root = root or self.root
        p = path.resolve()
        if p == root or not p.is_relative_to(root):
            raise ValueError(f"{path} is outside {root}")
        return p

    def _delete_file(self, path: Path | None) -> None:
        if path is None:
            return
        try:
            self._inside(path, self.buffer_root.resolve()).unlink()
        except FileNotFoundError:
            pass
        except (OSError, ValueError) as exc:
            log.warning("not deleting %s: %s", path, exc)

    def _remove_dir(self, d: Path | None) -> None:
        """Remove a buffer folder (only ever one inside ``.buffer``)."""
        if d is None or not d.exists():
            return
        try:
            p = self._inside(d, self.buffer_root.resolve())
            if p.is_symlink():
                raise ValueError("a link")
            shutil.rmtree(p)
        except (OSError, ValueError) as exc:
            log.warning("cannot remove buffer folder %s: %s", d, exc)

    def _clear_buffer_root(self) -> None:
        b = self.buffer_root
        if b.is_symlink():
            log.error("%s is a link: not touching it", b)
            return
        if b.is_dir() and b.resolve().parent == self.root:
            shutil.rmtree(b, ignore_errors=True)

    # ------------------------------------------------------------------ inputs (other threads)

    def _on_bus_event(self, event) -> None:
        self._q.put(("event", dict(event.data)))

    def _on_segment(self, buf: _Buffer, rec: Recorder, seg: Segment) -> None:
        self._q.put(("segment", buf, rec, seg))

    def _on_finished(self, buf: _Buffer, rec: Recorder, res: RecorderResult) -> None:
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
                self._finalize(buf, note=None)
            self._discard_buffer(buf)
            self._remove_dir(buf.directory)
            for d in buf.stale_dirs:
                self._remove_dir(d)
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
                buf = self._bufs[cid] = _Buffer(cid)
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
                self._discard_buffer(buf)
            self._prune(buf, mode)
            if buf.rec is not None:
                self._maybe_finalize(buf)
            if buf.recorder is None and buf.rec is None and not buf.segments and not want:
                for d in buf.stale_dirs:
                    self._remove_dir(d)
                self._bufs.pop(cid, None)

    def _start_recorder(self, buf: _Buffer, cam, mode: RecordMode) -> None:
        cfg = self.recs.config
        stamp = utcnow().strftime("%Y%m%dT%H%M%S%fZ")
        d = self.buffer_root / f"cam{buf.camera_id}" / stamp
        try:
            self._inside(d)
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
            self._remove_dir(d)
            self._buffer_failed(buf, str(exc))
            return
        buf.recorder, buf.camera, buf.directory = rec, cam, d
        log.info("camera %s: event pre-capture buffer on (%g s segments, pre %g s, post %g s)",
                 buf.camera_id, mode.segment_seconds, mode.pre_s, mode.post_s)

    def _stop_recorder(self, buf: _Buffer) -> None:
        rec, buf.recorder = buf.recorder, None
        if rec is None:
            return
        rec.stop(self.recs.config.stop_timeout)  # closes the open segment; messages follow in the queue

    def _discard_buffer(self, buf: _Buffer) -> None:
        while buf.segments:
            seg = buf.segments.popleft()
            self._delete_file(seg.path)
            self._delete_file(seg.radiometric_path)

    def _prune(self, buf: _Buffer, mode: RecordMode) -> None:
        keep_from = buf.newest_end - (mode.pre_s + KEEP_SLACK_S)
        while buf.segments and buf.segments[0].end < keep_from:
            seg = buf.segments.popleft()
            self._delete_file(seg.path)
            self._delete_file(seg.radiometric_path)
        for d in list(buf.stale_dirs):
            if not any(s.path.parent == d for s in buf.segments):
                self._remove_dir(d)
                buf.stale_dirs.remove(d)

    def _buffer_failed(self, buf: _Buffer, error: str) -> None:
        log.error("camera %s: event pre-capture buffer stopped: %s", buf.camera_id, error)
        if not buf.failed_note_sent:
            buf.failed_note_sent = True
            self.recs._notify("error", "Event recording buffer stopped", f"{self._name(buf.camera_id)}: {error}",
                              camera_id=buf.camera_id)

    def _name(self, cid: int) -> str:
        cam = self.manager.get(cid)
        return getattr(cam, "name", "") or f"camera {cid}"

    # ----- recorder messages

    def _segment(self, buf: _Buffer, rec: Recorder, seg: Segment) -> None:
        buf.newest_end = max(buf.newest_end, seg.end)
        buf.failed_note_sent = False
        if buf.rec is not None:
            self._attach(buf, seg)
            self._maybe_finalize(buf)
        elif buf.recorder is None:  # the last segment of a buffer we stopped: not needed
            self._delete_file(seg.path)
            self._delete_file(seg.radiometric_path)
        else:
            buf.segments.append(seg)
            self._prune(buf, self.mode(buf.camera_id))

    def _finished(self, buf: _Buffer, rec: Recorder, res: RecorderResult) -> None:
        # every segment message of this recorder has been handled: its folder may go once the
        # buffered segments in it are gone
        if buf.directory == rec.directory:
            buf.directory = None
        buf.stale_dirs.append(rec.directory)
        if rec is buf.recorder:  # it stopped on its own: an error
            buf.recorder = None
            buf.retry_at = time.monotonic() + RETRY_S
            if res.error:
                self._buffer_failed(buf, res.error)
            if buf.rec is not None:
                self._finalize(buf, note=res.error or "the buffer recorder stopped")
        elif buf.rec is not None and buf.recorder is None:
            # stopped by us with a recording still open (camera removed, shutdown): close it
            cam = self.manager.get(buf.camera_id)
            if cam is None or getattr(cam.status, "value", cam.status) in REFUSE_STATUSES:
                self._finalize(buf, note=None)

    # ----- events

    def _event(self, data: dict[str, Any]) -> None:
        cid = data.get("camera_id")
        state = data.get("state")
        buf = self._bufs.get(cid) if isinstance(cid, int) else None
        if buf is None:
            return
        key = data.get("event_id")
        if key is None:
            key = ("anon", data.get("label"), data.get("started_at"))
        mode = self.mode(cid)
        if state == "start" and data.get("record") is False:  # an alarm whose rule does not record
            return
        if state == "start":
            if buf.rec is None and (buf.recorder is None or not buf.recorder.running):
                log.info("camera %s: event %s not recorded (the buffer is not running)", cid, key)
                return
            started = float(data.get("started_at") or time.time())
            if buf.rec is None:
                self._open_recording(buf, data.get("event_id"), started, mode)
                if buf.rec is None:
                    return
            rec = buf.rec
            rec.open_events.add(key)
            if data.get("event_id") is not None and data["event_id"] not in rec.event_ids:
                rec.event_ids.append(data["event_id"])
            rec.deadline = None
            self._write_manifest(buf)
        elif state == "end":
            rec = buf.rec
            if rec is None or key not in rec.open_events:
                return
            rec.open_events.discard(key)
            end = data.get("ended_at")
            end = float(end) if isinstance(end, (int, float)) else (rec.last_seg_end or time.time())
            rec.last_end = end if rec.last_end is None else max(rec.last_end, end)
            if not rec.open_events:
                rec.deadline = rec.last_end + mode.post_s
                rec.deadline_mono = time.monotonic()
                self._maybe_finalize(buf)

    def _open_recording(self, buf: _Buffer, event_id: int | None, started: float, mode: RecordMode) -> None:
        cid = buf.camera_id
        since = started - mode.pre_s
        claimed = [s for s in buf.segments if s.end > since]
        first = claimed[0].start if claimed else started  # lowered when an earlier segment is attached
        try:
            with self.db.session() as s:
                row = Recording(camera_id=cid, started_at=_dt(first), path="", scheduled=False,
                                event_id=event_id, status="recording")
                s.add(row)
                s.flush()
                row.path = f"cam{cid}/{_dt(first).strftime('%Y%m%dT%H%M%SZ')}_r{row.id}"
                rid, rel = row.id, row.path
        except Exception:
            log.exception("camera %s: cannot create the event recording row", cid)
            return
        try:
            d = self.recs.resolve(rel)
            d.mkdir(parents=True, exist_ok=True)
        except (OSError, ValueError) as exc:
            self.recs._finish_row(rid, RecorderResult(error=f"cannot create {rel}: {exc}"))
            log.error("camera %s: cannot create %s: %s", cid, rel, exc)
            return
        buf.rec = _EventRec(rid, d, event_id, first)
        # older buffered segments are not needed; the claimed ones move into the recording
        while buf.segments:
            seg = buf.segments.popleft()
            if seg in claimed:
                self._attach(buf, seg)
            else:
                self._delete_file(seg.path)
                self._delete_file(seg.radiometric_path)
        log.info("camera %s: event recording %s started for event %s (%d buffered segment(s))",
                 cid, rid, event_id, len(claimed))
        self.recs._notify("success", "Recording started", f"{self._name(cid)} (event)", camera_id=cid,
                          recording_id=rid, event_id=event_id)
        self.recs.announce("started", camera_id=cid, recording_id=rid, event_id=event_id, scheduled=False,
                           status="recording", started_at=first)

    def _attach(self, buf: _Buffer, seg: Segment) -> None:
        rec = buf.rec
        assert rec is not None
        index = len(rec.segments)
        try:
            src = self._inside(seg.path, self.buffer_root.resolve())
            dst = self._inside(rec.directory / segment_name(index, seg.start))
            os.replace(src, dst)
            rad = None
            if seg.radiometric_path is not None and seg.radiometric_path.exists():
                rad_src = self._inside(seg.radiometric_path, self.buffer_root.resolve())
                rad = self._inside(dst.with_suffix(".h5"))
                os.replace(rad_src, rad)
        except (OSError, ValueError) as exc:
            log.error("camera %s: cannot move segment %s into recording %s: %s",
                      buf.camera_id, seg.path, rec.recording_id, exc)
            return
        moved = Segment(index, dst, seg.start, seg.end, seg.frames, seg.duration_s, seg.size_bytes, rad)
        rec.segments.append(moved)
        try:
            with self.db.session() as s:
                s.add(RecordingSegment(recording_id=rec.recording_id, path=self.recs._rel(dst),
                                       started_at=_dt(seg.start), ended_at=_dt(seg.end),
                                       size_bytes=seg.size_bytes, frames=seg.frames))
                row = s.get(Recording, rec.recording_id)
                if row is not None:
                    self._totals(row, rec)
                    if seg.start < rec.started_at:
                        rec.started_at = seg.start
                        row.started_at = _dt(seg.start)
        except Exception as exc:  # noqa: BLE001 - synced from the manifest below once the database is back
            log_failure(log, "camera %s: cannot save segment row of recording %s", buf.camera_id, rec.recording_id)
            self.recs.retry_sync(rec.recording_id, rec.directory, exc)
        self._write_manifest(buf)

    @staticmethod
    def _totals(row: Recording, rec: _EventRec) -> None:
        row.frames = sum(x.frames for x in rec.segments)
        row.size_bytes = sum(x.size_bytes for x in rec.segments)
        row.segments = len(rec.segments)
        row.duration_s = round(sum(x.duration_s for x in rec.segments), 3)

    def _maybe_finalize(self, buf: _Buffer) -> None:
        rec = buf.rec
        if rec is None or rec.deadline is None:
            return
        end = rec.last_seg_end
        if end is not None and end >= rec.deadline:
            self._finalize(buf, note=None)
            return
        # a camera that went quiet cannot hold the recording open
        wait = max(0.0, rec.deadline - (end or rec.deadline)) + self.mode(buf.camera_id).segment_seconds
        wait += self.recs.config.gap_after + 5.0
        if time.monotonic() - rec.deadline_mono > wait:
            self._finalize(buf, note=None)

    def _finalize(self, buf: _Buffer, note: str | None) -> None:
        rec, buf.rec = buf.rec, None
        if rec is None:
            return
        cid = buf.camera_id
        error = note if note else (None if rec.segments else "no segment was recorded")
        try:
            with self.db.session() as s:
                row = s.get(Recording, rec.recording_id)
                if row is not None:
                    self._totals(row, rec)
                    row.ended_at = _dt(rec.last_seg_end) if rec.segments else utcnow()
                    row.status = "failed" if error else "completed"
                    row.error = error
        except Exception:
            log.exception("camera %s: cannot close event recording %s", cid, rec.recording_id)
        self._write_manifest(buf, rec)
        dur = sum(x.duration_s for x in rec.segments)
        size = sum(x.size_bytes for x in rec.segments)
        log.info("camera %s: event recording %s closed (%d segment(s), %.1f s)", cid, rec.recording_id,
                 len(rec.segments), dur)
        if error:
            self.recs._notify("error", "Recording failed", f"{self._name(cid)} (event): {error}. "
                              f"{len(rec.segments)} segment(s) kept ({dur:.1f} s).", camera_id=cid,
                              recording_id=rec.recording_id, event_id=rec.event_id)
        else:
            self.recs._notify("success", "Recording stopped",
                              f"{self._name(cid)} (event): {dur:.1f} s in {len(rec.segments)} segment(s), "
                              f"{size / 1e6:.1f} MB", camera_id=cid, recording_id=rec.recording_id,
                              event_id=rec.event_id)
        self.recs.announce("stopped", camera_id=cid, recording_id=rec.recording_id, event_id=rec.event_id,
                           status="failed" if error else "completed", error=error, duration_s=round(dur, 3),
                           ended_at=rec.last_seg_end if rec.segments else time.time(),
                           segments=len(rec.segments), size_bytes=size)

    def _write_manifest(self, buf: _Buffer, rec: _EventRec | None = None) -> None:
        rec = rec or buf.rec
        if rec is None:
            return
        doc = {
            "format": "thermalstream-recording/1", "camera_id": str(buf.camera_id), "trigger": "events",
            "event_id": rec.event_id, "event_ids": list(rec.event_ids),
            "segments": [x.as_dict(rec.directory) for x in rec.segments], "gaps": [],
            "frames": sum(x.frames for x in rec.segments), "dropped": 0,
        }
        try:
            d = self._inside(rec.directory)
            tmp = d / "recording.json.tmp"
            tmp.write_text(json.dumps(doc, indent=1))
            os.replace(tmp, d / "recording.json")
        except (OSError, ValueError) as exc:
            log.warning("cannot write the manifest of recording %s: %s", rec.recording_id, exc)


__all__ = ["MODES", "EventRecordingService", "RecordMode", "RecordModeError", "validate_mode"]
