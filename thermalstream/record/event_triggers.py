"""What the event recorder's worker thread does with its inputs: each closed buffer segment (kept
in the buffer, or moved into the open event recording), a buffer recorder that finished, and
``detection.event`` starts and ends (open, extend or schedule the close of an event recording).

:class:`EventTriggers` is mixed into :class:`~thermalstream.record.events.EventRecordingService`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from thermalstream.record.event_collect import Buffer, BufferFiles, EventCollector
from thermalstream.record.event_mode import RecordMode
from thermalstream.record.recorder import Recorder
from thermalstream.record.segments import RecorderResult, Segment
from thermalstream.record.service import REFUSE_STATUSES, RecordingService

log = logging.getLogger(__name__)

KEEP_SLACK_S = 2.0  # extra seconds of buffer kept beyond pre_s (event start is announced late)
RETRY_S = 10.0  # a failed buffer is restarted after this long


class EventTriggers:
    """Recorder messages and detection events of an :class:`EventRecordingService`."""

    recs: RecordingService
    manager: Any
    files: BufferFiles
    collect: EventCollector
    _bufs: dict[int, Buffer]
    mode: Callable[[int], RecordMode]
    _buffer_failed: Callable[[Buffer, str], None]

    # ----- recorder messages

    def _segment(self, buf: Buffer, rec: Recorder, seg: Segment) -> None:
        buf.newest_end = max(buf.newest_end, seg.end)
        buf.failed_note_sent = False
        if buf.rec is not None:
            self.collect.attach(buf, seg)
            self._maybe_finalize(buf)
        elif buf.recorder is None:  # the last segment of a buffer we stopped: not needed
            self.files.delete(seg.path)
            self.files.delete(seg.radiometric_path)
        else:
            buf.segments.append(seg)
            self.files.prune(buf, self.mode(buf.camera_id).pre_s + KEEP_SLACK_S)

    def _finished(self, buf: Buffer, rec: Recorder, res: RecorderResult) -> None:
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
                self.collect.finalize(buf, note=res.error or "the buffer recorder stopped")
        elif buf.rec is not None and buf.recorder is None:
            # stopped by us with a recording still open (camera removed, shutdown): close it
            cam = self.manager.get(buf.camera_id)
            if cam is None or getattr(cam.status, "value", cam.status) in REFUSE_STATUSES:
                self.collect.finalize(buf, note=None)

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
                self.collect.open(buf, data.get("event_id"), started, mode)
                if buf.rec is None:
                    return
            rec = buf.rec
            rec.open_events.add(key)
            if data.get("event_id") is not None and data["event_id"] not in rec.event_ids:
                rec.event_ids.append(data["event_id"])
            rec.deadline = None
            self.collect.write_manifest(buf)
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

    def _maybe_finalize(self, buf: Buffer) -> None:
        rec = buf.rec
        if rec is None or rec.deadline is None:
            return
        end = rec.last_seg_end
        if end is not None and end >= rec.deadline:
            self.collect.finalize(buf, note=None)
            return
        # a camera that went quiet cannot hold the recording open
        wait = max(0.0, rec.deadline - (end or rec.deadline)) + self.mode(buf.camera_id).segment_seconds
        wait += self.recs.config.gap_after + 5.0
        if time.monotonic() - rec.deadline_mono > wait:
            self.collect.finalize(buf, note=None)
