"""Models of measurement regions, their series and alarms (migration 0009); re-exported by
:mod:`thermalstream.db.models`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, CheckConstraint, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from thermalstream.db.model_base import Base, _in
from thermalstream.db.types import utcnow

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
