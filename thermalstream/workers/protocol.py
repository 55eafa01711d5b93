"""The worker boundary: what a camera worker is told, what it reports, and the Backend protocol.

Messages are small frozen dataclasses made of plain values (ints, strings, dicts of JSON-able
values, bytes): they pickle cheaply for a pipe and travel unchanged through Ray. Frames never
cross the boundary as arrays: a worker sends each live picture once, already JPEG-encoded.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

BACKENDS = ("inprocess", "processes", "ray")

# Commands a worker understands (``Command.name``); ``args`` per name:
#   record.start   {"scheduled": bool, "schedule_id": int | None}   -> the new recording row (dict)
#   record.stop    {}                                                -> the finished row (dict)
#   detect         {"settings": dict | None, "zones": bool}  None: off; else the camera's settings with its
#                                             detect config (``zones``: its masks/zones changed)
#   display        {"display": dict}          level/span, isotherm, markers (DisplaySettings JSON)
#   palette        {"palette": str}
#   radiometry     {"radiometry": dict}       object parameters / calibration (RadiometrySettings JSON)
#   rename         {"name": str}
#   live           {"on": bool}               encode JPEGs for viewers (only while someone watches)
#   rois           {}                         the camera's ROIs or alarm rules changed (re-read them)
#   record_mode    {}                         the camera's record-on-events mode changed (re-read it)
#   temperature    {"x": float, "y": float}   -> (value, unit) at that pixel of the newest frame, or None
#   snapshot       {}                         -> (seq, timestamp, jpeg, scale) of the newest frame, or None
COMMANDS = ("record.start", "record.stop", "detect", "display", "palette", "radiometry", "rename", "live", "rois",
            "record_mode", "temperature", "snapshot")


# ----------------------------------------------------------------- server -> worker

@dataclass(frozen=True)
class CameraAssignment:
    """Everything a worker needs to run one camera. ``url`` is the raw URL (credentials included):
    it only travels to workers of this installation. A camera moved from a dead worker while it
    recorded gets a ``record.start`` command after its Assign (a new recording; the gap is recorded
    by the server)."""

    camera_id: int
    url: str
    name: str
    settings: dict[str, Any] = field(default_factory=dict)  # the camera row's settings (palette, detect, display…)
    radiometry: dict[str, Any] = field(default_factory=dict)
    live: bool = False  # someone is watching: encode JPEGs from the first frame


@dataclass(frozen=True)
class Assign:
    """Run a camera; ``request_id`` not None asks for a :class:`Reply` once it is started."""

    camera: CameraAssignment
    request_id: int | None = None


@dataclass(frozen=True)
class Unassign:
    """Stop a camera (its recording closed first); ``request_id`` asks for a :class:`Reply` when done."""

    camera_id: int
    request_id: int | None = None


@dataclass(frozen=True)
class Command:
    """A command for one camera; ``request_id`` not None asks for a :class:`Reply`."""

    camera_id: int
    name: str
    args: dict[str, Any] = field(default_factory=dict)
    request_id: int | None = None


@dataclass(frozen=True)
class Shutdown:
    """Stop every camera (recordings closed) and exit."""


# ----------------------------------------------------------------- worker -> server

@dataclass(frozen=True)
class Hello:
    """Sent once when a worker is ready for commands."""

    worker_id: str
    pid: int


@dataclass(frozen=True)
class StatusReport:
    """A camera's status changed (``Camera`` statuses: connecting, live, reconnecting, failed,
    stopped). ``info`` has width, height, radiometric and fps once the source is open."""

    camera_id: int
    status: str
    reason: str = ""
    info: dict[str, Any] | None = None


@dataclass(frozen=True)
class StatsReport:
    """Periodic counters of one camera: ``Camera.stats()`` (fps, frames, dropped, last_frame_age,
    reconnects), ``temperature`` (min/mean/max/unit of the newest frame or None),
    ``temperature_unit``, and ``recording`` (the running recording's id, frames, dropped…, or None).
    Every report also carries its worker's ``counters`` (the server sums them over workers)."""

    camera_id: int
    stats: dict[str, Any]
    temperature: dict[str, Any] | None = None
    temperature_unit: str | None = None
    recording: dict[str, Any] | None = None
    detection: dict[str, Any] | None = None  # the newest detection overlay (None: detection off)
    detector: dict[str, Any] | None = None  # the worker's detector: state, backend, model, message
    measure: dict[str, Any] | None = None  # newest ROI values and raised alarms (MeasureService.live)
    events: dict[str, Any] | None = None  # record-on-events state (EventRecordingService.info)
    slot: dict[str, Any] | None = None  # the camera's detector slot (CameraSlot: last inference, gated…)
    detect_state: dict[str, Any] | None = None  # its DetectionService.camera_status() on the worker: config,
    #                                             note, detector, tracker, events, slot (None: detection off)
    counters: dict[str, Any] | None = None  # the worker's own totals for /metrics: its detector's calls,
    #                                         frames, errors, busy_s…; store_pending, notifications_unsaved


WIRE_HEADER = struct.Struct(">d")  # capture time in ms: the /ws/video message is this header + the JPEG


@dataclass(frozen=True)
class LiveFrame:
    """One encoded live picture. ``wire`` is exactly the /ws/video message (8-byte big-endian
    capture time in ms, then the JPEG), so the server forwards it to every viewer as it came."""

    camera_id: int
    seq: int
    timestamp: float
    wire: bytes
    scale: tuple[float, float, str] | None = None  # the colour bar's (lo, hi, unit) for this picture

    @property
    def jpeg(self) -> bytes:
        """The JPEG alone (a copy; MJPEG and snapshots only)."""
        return self.wire[WIRE_HEADER.size:]

    @staticmethod
    def make(camera_id: int, seq: int, timestamp: float, jpeg: bytes,
             scale: tuple[float, float, str] | None = None) -> LiveFrame:
        return LiveFrame(camera_id, seq, timestamp, WIRE_HEADER.pack(timestamp * 1000.0) + jpeg, scale)


@dataclass(frozen=True)
class EventReport:
    """An event of the worker's bus the server republishes (notifications, detection and
    recording events): same ``topic``, ``data`` and ``user_id`` as :class:`~thermalstream.bus.Event`."""

    topic: str
    data: dict[str, Any]
    user_id: int | None = None


@dataclass(frozen=True)
class RecordingEnded:
    """A recording the worker ran has finished (stopped, failed, or the camera went away)."""

    camera_id: int
    recording_id: int


@dataclass(frozen=True)
class Reply:
    """The answer to a :class:`Command` with a ``request_id``: ``value`` or an error (the
    exception's class name, so the server raises the same kind, and its message)."""

    request_id: int
    value: Any = None
    error: str | None = None
    error_type: str | None = None


Report = Hello | StatusReport | StatsReport | LiveFrame | EventReport | RecordingEnded | Reply


# ----------------------------------------------------------------- the backend

WorkersSetting = Literal["inprocess", "processes", "ray"]


@runtime_checkable
class Backend(Protocol):
    """Runs cameras somewhere. The server calls these; everything a worker reports reaches the
    server's :class:`~thermalstream.workers.hub.WorkerHub` (processes, Ray) or happens in this
    process already (in-process)."""

    name: str

    def start(self) -> None:
        """Start the workers (idempotent)."""

    def assign(self, camera: CameraAssignment) -> str:
        """Run ``camera`` on one worker (exactly one); returns that worker's id."""

    def unassign(self, camera_id: int) -> None:
        """Stop the camera on its worker (its recording is closed); no error if it runs nowhere."""

    def command(self, camera_id: int, name: str, args: dict[str, Any] | None = None,
                timeout: float | None = None) -> Any:
        """Send a command to the camera's worker; with ``timeout`` wait for and return its reply."""

    def owner(self, camera_id: int) -> str | None:
        """The id of the worker running the camera, None when none does."""

    def stop(self) -> None:
        """Stop every worker (recordings closed)."""

    def health(self) -> dict[str, Any]:
        """{"backend": name, "workers": [{"id", "pid", "alive", "cameras": [...]}, ...], ...}"""
