"""pydantic models of request and response bodies. The OpenAPI document takes its schemas from
them (``app.handlers.schema.op``), and handlers validate bodies with them (``parse_model``).
Answers may carry more fields than listed (``extra="allow"``); the listed ones are checked."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from thermalstream.sources.url import MAX_URL_LENGTH


class Out(BaseModel):
    model_config = ConfigDict(extra="allow")


class Error(Out):
    """An error: what went wrong, and the HTTP status again."""

    error: str
    status: int


class Health(Out):
    """Health: status (and why, when not ok) for anyone; the details for signed-in admins."""

    status: Literal["ok", "unavailable", "degraded"]
    reason: str | None = None
    version: str | None = None
    uptime_s: float | None = None
    model: dict[str, Any] | None = None
    cameras: dict[str, int] | None = None
    recordings: dict[str, int] | None = None
    database: str | None = None
    integrations: dict[str, Any] | None = None  # e.g. mqtt: state (connected, unreachable…), reason, broker
    workers: dict[str, Any] | None = None  # backend, its live workers (id, pid, cameras), restarts


class Temperature(Out):
    min: float
    mean: float
    max: float
    unit: str | None = None


class Camera(Out):
    """A camera: the saved row with its live status. Credentials in the URL are masked."""

    id: int
    name: str
    url: str = Field(description="credentials masked")
    kind: str
    enabled: bool
    status: str = Field(description="connecting, live, reconnecting, failed or stopped")
    status_reason: str | None = None
    last_seen_at: datetime | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    owner_id: int | None = None
    settings: dict[str, Any] = Field(default_factory=dict)
    radiometric: bool | None = None
    width: int | None = None
    height: int | None = None
    fps: float | None = None
    connected: bool | None = None
    reason: str | None = None
    frames: int | None = None
    dropped: int | None = None
    last_frame_age: float | None = None
    reconnects: int | None = None
    temperature: Temperature | None = Field(default=None, description="of the newest frame; null without one")


class CameraList(Out):
    """The cameras this user may see."""

    cameras: list[Camera]


class CameraCreate(BaseModel):
    """A camera to connect: its URL (or device, or file) and an optional name."""

    model_config = ConfigDict(extra="forbid")
    url: str = Field(min_length=1, max_length=MAX_URL_LENGTH, examples=["sim://?people=3"])
    name: str = Field(default="", max_length=128)


class TokenRequest(BaseModel):
    """Username and password."""

    username: str = Field(min_length=1, max_length=256)
    password: str = Field(min_length=1, max_length=4096)


class RefreshRequest(BaseModel):
    """A refresh token from an earlier pair."""

    refresh_token: str = Field(min_length=1, max_length=4096)


class TokenPair(Out):
    """An access token (JWT, send as ``Authorization: Bearer``) and a refresh token."""

    access_token: str
    refresh_token: str
    token_type: Literal["bearer"]
    expires_in: int
    refresh_expires_in: int


class Schedule(Out):
    """A recording schedule, with whether its window is open and the open (or next) window."""

    id: int
    camera_id: int
    name: str
    days_of_week: list[str]
    start_time: str = Field(description="HH:MM in the schedule's time zone")
    stop_time: str
    timezone: str
    enabled: bool
    crosses_midnight: bool
    active: bool
    window_start: datetime | None = None
    window_end: datetime | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    created_by: int | None = None


class ScheduleList(Out):
    """The schedules of cameras this user may see."""

    schedules: list[Schedule]


class Recording(Out):
    """A recording: its row, whether it is being written now, and the URLs of its media."""

    id: int
    camera_id: int | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    duration_s: float | None = None
    frames: int | None = None
    dropped_frames: int | None = None
    size_bytes: int | None = None
    segments: int | None = None
    scheduled: bool | None = None
    schedule_id: int | None = None
    status: str
    protected: bool
    event_id: int | None = None
    error: str | None = None
    recording: bool | None = None
    segment_urls: list[str] | None = None


class RecordingList(Out):
    """Recordings of cameras this user may see, newest first."""

    recordings: list[Recording]
