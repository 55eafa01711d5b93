"""Models of webhooks and their delivery log (migration 0011; thermalstream/integrations/webhooks.py);
re-exported by :mod:`thermalstream.db.models`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from thermalstream.db.crypto import SealedSecret, SealedURL
from thermalstream.db.model_base import Base
from thermalstream.db.types import utcnow


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
