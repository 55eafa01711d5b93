"""Camera workers: the per-camera work (capture, motion gate, live JPEG, recording, measurements)
behind one narrow interface, so it can leave the web process.

The boundary (:mod:`.protocol`)::

    server ──► worker   Assign(CameraAssignment)   run a camera: id, URL, name, settings, radiometry
                        Unassign(camera_id)        stop it (its recording is closed)
                        Command(camera_id, name, args, request_id)
                            record.start / record.stop, detect (on: settings, off: None),
                            display / palette / radiometry / rename (settings changed),
                            live (viewers present: encode JPEGs), rois
                        Shutdown()
    worker ──► server   Hello(worker_id, pid)      ready
                        StatusReport               camera status + source info (size, radiometric)
                        StatsReport                fps, frames, drops, temperature summary, recorder counters
                        LiveFrame                  one ENCODED JPEG per frame, already framed as the
                                                   /ws/video message: the server forwards it as it is
                        EventReport                bus events to republish (notifications, detections…)
                        RecordingEnded             a recording the worker ran has finished
                        Reply                      the answer to a command with a request_id

    Backend protocol    start(), assign(camera) -> worker id, unassign(camera_id),
                        command(camera_id, name, args, timeout), owner(camera_id), stop(), health()

Backends, chosen by ``THERMALSTREAM_WORKERS``:

* ``inprocess`` (default): today's threads in the server process (:mod:`.inprocess`); what notebooks use.
* ``processes``: ``THERMALSTREAM_WORKER_PROCESSES`` local processes (spawn), supervised: a dead worker's
  cameras move to a live one (:mod:`.processes`).
* ``ray``: Ray actors (built on the same messages; see docs/architecture.md).

The shared database and data folder are the state workers and server have in common: a worker
writes recording rows, segments, notifications and detections itself.
"""

from __future__ import annotations

from thermalstream.workers.protocol import (
    BACKENDS,
    Assign,
    Backend,
    CameraAssignment,
    Command,
    EventReport,
    Hello,
    LiveFrame,
    RecordingEnded,
    Reply,
    Shutdown,
    StatsReport,
    StatusReport,
    Unassign,
)

__all__ = ["BACKENDS", "Assign", "Backend", "CameraAssignment", "Command", "EventReport", "Hello", "LiveFrame",
           "RecordingEnded", "Reply", "Shutdown", "StatsReport", "StatusReport", "Unassign"]
