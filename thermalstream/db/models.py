"""The database schema (SQLAlchemy 2.0 typed declarative).

All timestamps are :class:`~thermalstream.db.types.UTCDateTime`: aware UTC in and out on
every backend. Constraint names follow ``NAMING_CONVENTION`` so that migrations can refer
to them by name on SQLite (batch mode) and PostgreSQL alike.

Deleting a user removes their tokens and personal notifications and un-owns their cameras;
deleting a camera removes everything recorded about it (recordings and segment rows,
events, detections, schedules, shares). Files on disk are the caller's business.
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
    MetaData,
    String,
    Text,
    Time,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from thermalstream.db.crypto import SealedSecret, SealedURL
from thermalstream.db.types import UTCDateTime, utcnow

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

ROLES = ("admin", "operator", "viewer")
CAMERA_STATUSES = ("connecting", "live", "reconnecting", "failed", "stopped")
RECORDING_STATUSES = ("recording", "completed", "failed", "missing")
NOTIFICATION_TYPES = ("info", "success", "warning", "error")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON(), list[Any]: JSON()}


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


# --- measurement regions, their series and alarms (migration 0009) ------------------------------

ROI_KINDS = ("spot", "box", "polygon", "line")
ALARM_KINDS = ("above", "below", "outside", "rise", "difference")
ALARM_STATISTICS = ("max", "min", "mean")


class Roi(Base):
    """A measurement region of a camera; ``points`` are normalised ``[[x, y], ...]`` (0..1)."""

    __tablename__ = "rois"
    __table_args__ = (CheckConstraint(_in("kind", ROI_KINDS), name="kind"), {"sqlite_autoincrement": True})

    id: Mapped[int] = mapped_column(primary_key=True)
    camera_id: Mapped[int] = mapped_column(ForeignKey("cameras.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(16))
    points: Mapped[list[Any]] = mapped_column(default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class RoiSample(Base):
    """One raw sample of an ROI (1 Hz by default), in ``unit`` ("°C" or "counts")."""

    __tablename__ = "roi_samples"
    __table_args__ = (Index(None, "roi_id", "timestamp"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    roi_id: Mapped[int] = mapped_column(ForeignKey("rois.id", ondelete="CASCADE"))
    timestamp: Mapped[datetime]
    min: Mapped[float] = mapped_column(Float)
    max: Mapped[float] = mapped_column(Float)
    mean: Mapped[float] = mapped_column(Float)
    std: Mapped[float] = mapped_column(Float)
    unit: Mapped[str] = mapped_column(String(16))


class RoiMinute(Base):
    """Per-minute aggregate of an ROI's samples, kept after the raw samples age out."""

    __tablename__ = "roi_minutes"

    roi_id: Mapped[int] = mapped_column(ForeignKey("rois.id", ondelete="CASCADE"), primary_key=True)
    minute: Mapped[datetime] = mapped_column(primary_key=True)
    min: Mapped[float] = mapped_column(Float)
    max: Mapped[float] = mapped_column(Float)
    mean: Mapped[float] = mapped_column(Float)
    samples: Mapped[int] = mapped_column(Integer)
    unit: Mapped[str] = mapped_column(String(16))


class AlarmRule(Base):
    """An alarm condition on an ROI (``roi_id``) or the whole frame (None). Thresholds are in the
    camera's unit; ``rise`` is per minute; ``difference`` is roi minus ``other_roi_id``."""

    __tablename__ = "alarm_rules"
    __table_args__ = (
        CheckConstraint(_in("kind", ALARM_KINDS), name="kind"),
        CheckConstraint(_in("statistic", ALARM_STATISTICS), name="statistic"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    camera_id: Mapped[int] = mapped_column(ForeignKey("cameras.id", ondelete="CASCADE"), index=True)
    roi_id: Mapped[int | None] = mapped_column(ForeignKey("rois.id", ondelete="CASCADE"), index=True)
    other_roi_id: Mapped[int | None] = mapped_column(ForeignKey("rois.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(16))
    statistic: Mapped[str] = mapped_column(String(8), default="max")
    low: Mapped[float | None] = mapped_column(Float)
    high: Mapped[float | None] = mapped_column(Float)
    hysteresis: Mapped[float] = mapped_column(Float, default=0.5)
    min_duration_s: Mapped[float] = mapped_column(Float, default=0.0)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    record: Mapped[bool] = mapped_column(Boolean, default=False)  # start an event recording when raised
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class Alarm(Base):
    """One occurrence of an alarm: raised once, cleared once (both moments stored)."""

    __tablename__ = "alarms"
    __table_args__ = (Index(None, "camera_id", "raised_at"), {"sqlite_autoincrement": True})

    id: Mapped[int] = mapped_column(primary_key=True)
    rule_id: Mapped[int | None] = mapped_column(ForeignKey("alarm_rules.id", ondelete="SET NULL"), index=True)
    camera_id: Mapped[int] = mapped_column(ForeignKey("cameras.id", ondelete="CASCADE"))
    roi_id: Mapped[int | None] = mapped_column(ForeignKey("rois.id", ondelete="SET NULL"))
    event_id: Mapped[int | None] = mapped_column(ForeignKey("events.id", ondelete="SET NULL"))
    name: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(16))
    raised_at: Mapped[datetime]
    cleared_at: Mapped[datetime | None]
    value: Mapped[float] = mapped_column(Float)  # the value that raised it
    peak: Mapped[float] = mapped_column(Float)  # the furthest value while raised
    unit: Mapped[str] = mapped_column(String(16))
    message: Mapped[str] = mapped_column(Text, default="")
    acknowledged_at: Mapped[datetime | None]
    acknowledged_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


# --- webhooks (migration 0011; thermalstream/integrations/webhooks.py) --------------------------


class Webhook(Base):
    """A URL that is POSTed signed JSON for chosen event types. ``owner_id`` None: global (every
    camera); else only cameras that user may see. ``camera_ids`` None: every camera."""

    __tablename__ = "webhooks"
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    url: Mapped[str] = mapped_column(SealedURL)  # secret query values encrypted at rest
    secret: Mapped[str] = mapped_column(SealedSecret)  # HMAC-SHA256 key, encrypted at rest
    event_types: Mapped[list[Any]] = mapped_column(default=list)
    camera_ids: Mapped[list[Any] | None] = mapped_column(JSON)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class WebhookDelivery(Base):
    """One attempt to deliver one event (``delivery`` groups the attempts of an event)."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (Index(None, "webhook_id", "id"), {"sqlite_autoincrement": True})

    id: Mapped[int] = mapped_column(primary_key=True)
    webhook_id: Mapped[int] = mapped_column(ForeignKey("webhooks.id", ondelete="CASCADE"))
    delivery: Mapped[str] = mapped_column(String(36))
    event_type: Mapped[str] = mapped_column(String(64))
    attempt: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    ok: Mapped[bool] = mapped_column(Boolean, default=False)
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    duration_ms: Mapped[float] = mapped_column(Float, default=0.0)
    response_excerpt: Mapped[str | None] = mapped_column(Text)  # at most 200 characters
    next_attempt_at: Mapped[datetime | None]  # a retry is due then (None: no more attempts)


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
