"""The database schema (SQLAlchemy 2.0 typed declarative).

All timestamps are :class:`~thermalstream.db.types.UTCDateTime`: aware UTC in and out on
every backend. Constraint names follow ``NAMING_CONVENTION`` so that migrations can refer
to them by name on SQLite (batch mode) and PostgreSQL alike.

Deleting a user removes their tokens and personal notifications and un-owns their cameras;
deleting a camera removes everything recorded about it (recordings and segment rows,
events, detections, schedules, shares). Files on disk are the caller's business.

The base and its naming convention are in :mod:`.model_base`; measurement regions, series and
alarms in :mod:`.models_measure`; webhooks in :mod:`.models_webhooks`. Every model and constant is
importable from here, and ``metadata`` holds every table.
"""

from __future__ import annotations

from datetime import datetime, time
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    Time,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from thermalstream.db.crypto import SealedURL
from thermalstream.db.model_base import NAMING_CONVENTION, Base, _in  # noqa: F401 - re-exported
from thermalstream.db.models_measure import (  # noqa: F401 - re-exported
    ALARM_KINDS,
    ALARM_STATISTICS,
    ROI_KINDS,
    Alarm,
    AlarmRule,
    Roi,
    RoiMinute,
    RoiSample,
)
from thermalstream.db.models_webhooks import Webhook, WebhookDelivery  # noqa: F401 - re-exported
from thermalstream.db.types import utcnow

ROLES = ("admin", "operator", "viewer")
CAMERA_STATUSES = ("connecting", "live", "reconnecting", "failed", "stopped")
RECORDING_STATUSES = ("recording", "completed", "failed", "missing")
NOTIFICATION_TYPES = ("info", "success", "warning", "error")


class User(Base):
    __tablename__ = "users"
    __table_args__ = (CheckConstraint(_in("role", ROLES), name="role"), {"sqlite_autoincrement": True})

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    email: Mapped[str | None] = mapped_column(String(255))
    password_hash: Mapped[str | None] = mapped_column(String(255))  # bcrypt; None: no password login
    role: Mapped[str] = mapped_column(String(16), default="viewer")
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None]
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")  # IANA name
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None]
    # 0003 (auth): alert emails are opt-in per user
    email_alerts: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # 0007 (access): bumped to end every login cookie and access token of the user at once
    session_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    def __repr__(self) -> str:
        return f"User(id={self.id!r}, username={self.username!r}, role={self.role!r})"


class PasswordResetToken(Base):
    __tablename__ = "password_reset_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(128), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class RefreshToken(Base):
    __tablename__ = "refresh_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(128), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    replaced_by_id: Mapped[int | None] = mapped_column(ForeignKey("refresh_tokens.id", ondelete="SET NULL"))


class Camera(Base):
    """A camera. ``url`` may hold credentials (sealed in the database, clear on the row): show
    ``repo.public_dict(camera)``, never the row."""

    __tablename__ = "cameras"
    __table_args__ = (CheckConstraint(_in("status", CAMERA_STATUSES), name="status"), {"sqlite_autoincrement": True})

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    url: Mapped[str] = mapped_column(SealedURL)  # credentials encrypted at rest (db/crypto.py)
    kind: Mapped[str] = mapped_column(String(16))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    status: Mapped[str] = mapped_column(String(16), default="stopped")
    status_reason: Mapped[str | None] = mapped_column(Text)
    last_seen_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    worker_id: Mapped[str | None] = mapped_column(String(64), index=True)
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    radiometric: Mapped[bool] = mapped_column(Boolean, default=False)
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    fps: Mapped[float | None] = mapped_column(Float)
    # object parameters and calibration (thermalstream.radiometry.RadiometrySettings); None: source's own
    radiometry: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    owner: Mapped[User | None] = relationship()

    def __repr__(self) -> str:  # the URL is left out on purpose
        return f"Camera(id={self.id!r}, name={self.name!r}, kind={self.kind!r}, status={self.status!r})"


class CameraShare(Base):
    """Access to a camera for one user (``user_id``) or for everyone with a role (``role``)."""

    __tablename__ = "camera_shares"
    __table_args__ = (
        CheckConstraint("user_id IS NOT NULL OR role IS NOT NULL", name="target"),
        CheckConstraint(f"role IS NULL OR {_in('role', ROLES)}", name="role"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    camera_id: Mapped[int] = mapped_column(ForeignKey("cameras.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    role: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Event(Base):
    """A tracked object: one row per appearance of something on a camera."""

    __tablename__ = "events"
    __table_args__ = (Index(None, "camera_id", "started_at"), {"sqlite_autoincrement": True})

    id: Mapped[int] = mapped_column(primary_key=True)
    camera_id: Mapped[int] = mapped_column(ForeignKey("cameras.id", ondelete="CASCADE"))
    label: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    max_confidence: Mapped[float] = mapped_column(Float, default=0.0)
    max_celsius: Mapped[float | None] = mapped_column(Float)
    snapshot_path: Mapped[str | None] = mapped_column(String(512))
    zones: Mapped[list[Any]] = mapped_column(default=list)
    max_counts: Mapped[float | None] = mapped_column(Float)  # uncalibrated sources: raw sensor counts, not °C
    hint: Mapped[str | None] = mapped_column(String(32))  # hotspot detector: person-/animal-/vehicle-sized


class RecordingSchedule(Base):
    __tablename__ = "recording_schedules"

    id: Mapped[int] = mapped_column(primary_key=True)
    camera_id: Mapped[int] = mapped_column(ForeignKey("cameras.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(128))
    days_of_week: Mapped[str] = mapped_column(String(64), default="mon,tue,wed,thu,fri,sat,sun")
    start_time: Mapped[time] = mapped_column(Time)
    stop_time: Mapped[time] = mapped_column(Time)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")  # IANA name the times are in
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class Recording(Base):
    """A recording; ``path`` is relative to ``Settings.recordings_dir``."""

    __tablename__ = "recordings"
    __table_args__ = (
        CheckConstraint(_in("status", RECORDING_STATUSES), name="status"),
        Index(None, "camera_id", "started_at"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    camera_id: Mapped[int] = mapped_column(ForeignKey("cameras.id", ondelete="CASCADE"))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[datetime | None]
    duration_s: Mapped[float | None] = mapped_column(Float)
    frames: Mapped[int] = mapped_column(Integer, default=0)
    dropped_frames: Mapped[int] = mapped_column(Integer, default=0)
    size_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    segments: Mapped[int] = mapped_column(Integer, default=0)
    path: Mapped[str] = mapped_column(String(512))
    scheduled: Mapped[bool] = mapped_column(Boolean, default=False)
    schedule_id: Mapped[int | None] = mapped_column(
        ForeignKey("recording_schedules.id", ondelete="SET NULL"), index=True
    )
    status: Mapped[str] = mapped_column(String(16), default="recording", index=True)
    protected: Mapped[bool] = mapped_column(Boolean, default=False)
    event_id: Mapped[int | None] = mapped_column(ForeignKey("events.id", ondelete="SET NULL"), index=True)
    error: Mapped[str | None] = mapped_column(Text)

    segment_rows: Mapped[list[RecordingSegment]] = relationship(
        back_populates="recording", cascade="all, delete-orphan", passive_deletes=True,
        order_by="RecordingSegment.started_at",
    )


class RecordingSegment(Base):
    __tablename__ = "recording_segments"
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(primary_key=True)
    recording_id: Mapped[int] = mapped_column(ForeignKey("recordings.id", ondelete="CASCADE"), index=True)
    path: Mapped[str] = mapped_column(String(512))
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    size_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    frames: Mapped[int] = mapped_column(Integer, default=0)

    recording: Mapped[Recording] = relationship(back_populates="segment_rows")


class Detection(Base):
    """One detected box in one frame; coordinates are pixels in the camera's frame."""

    __tablename__ = "detections"
    __table_args__ = (Index(None, "camera_id", "timestamp"), Index(None, "timestamp"), {"sqlite_autoincrement": True})

    id: Mapped[int] = mapped_column(primary_key=True)
    camera_id: Mapped[int] = mapped_column(ForeignKey("cameras.id", ondelete="CASCADE"))
    event_id: Mapped[int | None] = mapped_column(ForeignKey("events.id", ondelete="SET NULL"), index=True)
    track_id: Mapped[int | None] = mapped_column(Integer)
    label: Mapped[str] = mapped_column(String(64))
    class_id: Mapped[int | None] = mapped_column(Integer)
    confidence: Mapped[float] = mapped_column(Float)
    x1: Mapped[float] = mapped_column(Float)
    y1: Mapped[float] = mapped_column(Float)
    x2: Mapped[float] = mapped_column(Float)
    y2: Mapped[float] = mapped_column(Float)
    timestamp: Mapped[datetime]
    screenshot_path: Mapped[str | None] = mapped_column(String(512))
    max_celsius: Mapped[float | None] = mapped_column(Float)
    mean_celsius: Mapped[float | None] = mapped_column(Float)
    max_counts: Mapped[float | None] = mapped_column(Float)  # uncalibrated sources: raw sensor counts, not °C
    hint: Mapped[str | None] = mapped_column(String(32))  # hotspot detector: person-/animal-/vehicle-sized


class DetectionMinute(Base):
    """Detections counted per minute (``minute`` = epoch seconds // 60), camera and class: kept by
    triggers on ``detections`` (migration 0010) for the Detections timeline; read-only for Python."""

    __tablename__ = "detection_minutes"

    minute: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    camera_id: Mapped[int] = mapped_column(ForeignKey("cameras.id", ondelete="CASCADE"), primary_key=True)
    label: Mapped[str] = mapped_column(String(64), primary_key=True)
    count: Mapped[int] = mapped_column(Integer)
    max_confidence: Mapped[float] = mapped_column(Float)
    for _k in range(5, 100, 5):  # n05 ... n95: rows with a confidence of at least 0.05 ... 0.95
        vars()[f"n{_k:02d}"] = mapped_column(Integer, nullable=False)
    del _k


class Notification(Base):
    """A message for one user, or for everyone when ``user_id`` is None.

    ``read`` is a single flag, so a broadcast read by one user is read for all.
    """

    __tablename__ = "notifications"
    __table_args__ = (
        CheckConstraint(_in("type", NOTIFICATION_TYPES), name="type"),
        Index(None, "user_id", "read", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    type: Mapped[str] = mapped_column(String(16), default="info")
    title: Mapped[str] = mapped_column(String(200))
    message: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    read: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class StorageSample(Base):
    """Storage used at one moment, for the usage-over-time charts (``thermalstream.storage.samples``).

    ``category`` is a storage folder (recordings, screenshots, detections, thumbnails) or
    ``disk_free`` / ``disk_total``; ``camera_id`` None is the category's total, else one camera's
    folder. No foreign key: samples outlive cameras, and folders may name deleted cameras.
    """

    __tablename__ = "storage_samples"

    id: Mapped[int] = mapped_column(primary_key=True)
    timestamp: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    category: Mapped[str] = mapped_column(String(32))
    camera_id: Mapped[int | None] = mapped_column(Integer)
    bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    files: Mapped[int] = mapped_column(Integer, default=0)


# --- auth (migration 0003) ----------------------------------------------------------------------


class RateLimitEvent(Base):
    """One counted attempt (a failed login, a token request, a reset request) for one key.

    ``key`` is ``scope:value`` (``user:alice``, ``ip:192.0.2.7``; long values are hashed).
    Kept in the database so that limits hold across processes; ``thermalstream.auth.ratelimit``
    counts the rows inside a sliding window and prunes old ones.
    """

    __tablename__ = "rate_limit_events"
    __table_args__ = (Index(None, "kind", "key", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    key: Mapped[str] = mapped_column(String(128))
    at: Mapped[datetime] = mapped_column(default=utcnow)


# --- camera workers (migration 0012; thermalstream/workers/) ------------------------------------


class WorkerLease(Base):
    """Which worker runs a camera now: one row per placed camera (the key allows one owner only),
    written by the server's worker backend when it places or moves the camera."""

    __tablename__ = "worker_leases"

    camera_id: Mapped[int] = mapped_column(ForeignKey("cameras.id", ondelete="CASCADE"), primary_key=True)
    worker_id: Mapped[str] = mapped_column(String(128))
    backend: Mapped[str] = mapped_column(String(16))
    pid: Mapped[int | None] = mapped_column(Integer)
    acquired_at: Mapped[datetime] = mapped_column(default=utcnow)
    moves: Mapped[int] = mapped_column(Integer, default=0)  # times moved to another worker (its worker died)


metadata = Base.metadata
