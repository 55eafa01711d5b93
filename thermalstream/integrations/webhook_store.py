"""Webhook endpoints and their delivery log in the database (``webhooks``, ``webhook_deliveries``).

Values are checked here, once, for the API and the page alike: http(s) URLs only, known event
types, existing cameras and owner. Secrets never leave through :func:`webhook_dict`; the one
place that reads them is :func:`enabled_endpoints` (for signing). The log keeps the newest
``keep`` attempts of each webhook.
"""

from __future__ import annotations

import secrets as _secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import delete, func, select

from thermalstream.db import Database
from thermalstream.db.models import Camera, User, Webhook, WebhookDelivery
from thermalstream.integrations.payloads import EVENT_TYPES
from thermalstream.sources.url import mask_credentials

SCHEMES = ("http", "https")
MAX_URL = 2048
SECRET_MIN, SECRET_MAX = 16, 256
EXCERPT_CHARS = 200
MAX_ID = 2**31 - 1  # ids are PostgreSQL integers
TEST_EVENT = "test"  # the type of the event that "Send test" delivers (to one webhook)


class WebhookError(ValueError):
    """A value that cannot be stored (the message says which and why)."""


class NotFound(LookupError):
    """No such webhook, camera or user."""


@dataclass(frozen=True)
class Endpoint:
    """What the delivery worker needs of a webhook (including its secret)."""

    id: int
    url: str
    secret: str
    event_types: frozenset[str]
    camera_ids: frozenset[int] | None
    owner_id: int | None
    enabled: bool


def _control(text: str) -> bool:
    return any(ord(c) < 32 or ord(c) == 127 for c in text)


def check_url(url: Any) -> str:
    """An absolute http(s) URL with a host, at most 2048 characters."""
    text = str(url or "").strip()
    if not text or len(text) > MAX_URL:
        raise WebhookError(f"url: give an http:// or https:// URL of at most {MAX_URL} characters")
    if _control(text) or " " in text:
        raise WebhookError("url: spaces and control characters are not allowed (percent-encode them)")
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError as exc:
        raise WebhookError(f"url: {exc}") from None
    if parts.scheme.lower() not in SCHEMES:
        raise WebhookError(f"url: only http and https are allowed, not {parts.scheme or 'no scheme'!r}")
    if not parts.hostname:
        raise WebhookError("url: the URL names no host")
    return text


def check_events(types: Any) -> list[str]:
    """A non-empty list of known event types (sorted, without repeats)."""
    if not isinstance(types, (list, tuple, set)) or not types:
        raise WebhookError(f"event_types: choose at least one of {', '.join(EVENT_TYPES)}")
    unknown = [t for t in types if t not in EVENT_TYPES]
    if unknown:
        raise WebhookError(f"event_types: unknown {unknown[0]!r}; known: {', '.join(EVENT_TYPES)}")
    return sorted(set(types), key=EVENT_TYPES.index)


def check_secret(secret: Any) -> str:
    text = str(secret or "")
    if not SECRET_MIN <= len(text) <= SECRET_MAX or _control(text):
        raise WebhookError(f"secret: {SECRET_MIN} to {SECRET_MAX} characters, no control characters (leave it "
                           "out to have one generated)")
    return text


def _check_cameras(s, ids: Any) -> list[int] | None:
    if ids is None or ids == []:
        return None
    wanted = sorted({int(i) for i in ids})
    outside = [i for i in wanted if not 1 <= i <= MAX_ID]
    if outside:
        raise NotFound(f"no camera {outside[0]}")  # not an id the database can hold
    found = set(s.scalars(select(Camera.id).where(Camera.id.in_(wanted))))
    missing = [i for i in wanted if i not in found]
    if missing:
        raise NotFound(f"no camera {missing[0]}")
    return wanted


def _check_owner(s, owner_id: int | None) -> int | None:
    if owner_id is not None and s.get(User, owner_id) is None:
        raise NotFound(f"no user {owner_id}")
    return owner_id


def _iso(dt: datetime | None) -> str | None:
    return dt.isoformat() if dt is not None else None


def _name(value: Any, url: str) -> str:
    text = str(value or "").strip()
    if len(text) > 128 or _control(text):
        raise WebhookError("name: at most 128 characters, no control characters")
    return text or (urlsplit(url).hostname or "webhook")[:128]


def webhook_dict(w: Webhook, owner: str | None = None, last: WebhookDelivery | None = None) -> dict[str, Any]:
    """A webhook as the API and the page show it: URL credentials masked, no secret."""
    return {"id": w.id, "name": w.name, "url": mask_credentials(w.url), "event_types": list(w.event_types),
            "camera_ids": w.camera_ids, "enabled": w.enabled, "owner_id": w.owner_id, "owner": owner,
            "scope": "global" if w.owner_id is None else "user", "created_at": _iso(w.created_at),
            "updated_at": _iso(w.updated_at), "created_by": w.created_by,
            "last_delivery": delivery_dict(last) if last is not None else None}


def delivery_dict(d: WebhookDelivery) -> dict[str, Any]:
    return {"id": d.id, "webhook_id": d.webhook_id, "delivery": d.delivery, "event_type": d.event_type,
            "attempt": d.attempt, "at": _iso(d.at), "ok": d.ok, "status_code": d.status_code, "error": d.error,
            "duration_ms": round(d.duration_ms, 1), "response_excerpt": d.response_excerpt,
            "next_attempt_at": _iso(d.next_attempt_at)}


def _out(s, w: Webhook) -> dict[str, Any]:
    owner = s.get(User, w.owner_id).username if w.owner_id is not None else None
    last = s.scalar(select(WebhookDelivery).where(WebhookDelivery.webhook_id == w.id)
                    .order_by(WebhookDelivery.id.desc()).limit(1))
    return webhook_dict(w, owner, last)


def _require(s, webhook_id: int) -> Webhook:
    w = s.get(Webhook, webhook_id)
    if w is None:
        raise NotFound(f"no webhook {webhook_id}")
    return w


def create(db: Database, data: dict[str, Any], created_by: int | None = None) -> tuple[dict[str, Any], str]:
    """Store a webhook from ``data`` (url, event_types, name, camera_ids, owner_id, secret, enabled);
    returns it and its secret (generated when not given: shown once)."""
    url = check_url(data.get("url"))
    secret = check_secret(data["secret"]) if data.get("secret") else _secrets.token_urlsafe(32)
    with db.session() as s:
        w = Webhook(name=_name(data.get("name"), url), url=url, secret=secret,
                    event_types=check_events(data.get("event_types")),
                    camera_ids=_check_cameras(s, data.get("camera_ids")),
                    owner_id=_check_owner(s, data.get("owner_id")), enabled=bool(data.get("enabled", True)),
                    created_by=created_by)
        s.add(w)
        s.flush()
        return _out(s, w), secret


def update(db: Database, webhook_id: int, changes: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    """Change the given fields; ``rotate_secret`` makes a new secret. Returns the webhook and the new
    secret (None when it did not change)."""
    with db.session() as s:
        w = _require(s, webhook_id)
        new_secret = None
        if "url" in changes:
            w.url = check_url(changes["url"])
        if "name" in changes:
            w.name = _name(changes["name"], w.url)
        if "event_types" in changes:
            w.event_types = check_events(changes["event_types"])
        if "camera_ids" in changes:
            w.camera_ids = _check_cameras(s, changes["camera_ids"])
        if "owner_id" in changes:
            w.owner_id = _check_owner(s, changes["owner_id"])
        if "enabled" in changes and changes["enabled"] is not None:
            w.enabled = bool(changes["enabled"])
        if changes.get("secret"):
            w.secret = new_secret = check_secret(changes["secret"])
        elif changes.get("rotate_secret"):
            w.secret = new_secret = _secrets.token_urlsafe(32)
        s.flush()
        return _out(s, w), new_secret


def delete_webhook(db: Database, webhook_id: int) -> int:
    """Delete a webhook and its log."""
    with db.session() as s:
        s.delete(_require(s, webhook_id))
    return webhook_id


def get(db: Database, webhook_id: int) -> dict[str, Any]:
    with db.session() as s:
        return _out(s, _require(s, webhook_id))


def list_webhooks(db: Database) -> list[dict[str, Any]]:
    with db.session() as s:
        return [_out(s, w) for w in s.scalars(select(Webhook).order_by(Webhook.id))]


def endpoints(db: Database) -> dict[int, Endpoint]:
    """Every webhook with its secret, for the delivery worker."""
    with db.session() as s:
        return {w.id: Endpoint(w.id, w.url, w.secret, frozenset(w.event_types),
                               frozenset(w.camera_ids) if w.camera_ids else None, w.owner_id, w.enabled)
                for w in s.scalars(select(Webhook))}


def record_attempt(db: Database, row: dict[str, Any], keep: int) -> dict[str, Any]:
    """Log one attempt (``row``: WebhookDelivery fields) and drop the webhook's attempts beyond the
    newest ``keep``. A webhook deleted meanwhile logs nothing ({})."""
    with db.session() as s:
        if s.get(Webhook, row["webhook_id"]) is None:
            return {}
        d = WebhookDelivery(**{**row, "response_excerpt": (row.get("response_excerpt") or None) and
                               row["response_excerpt"][:EXCERPT_CHARS]})
        s.add(d)
        s.flush()
        out = delivery_dict(d)
        prune(s, row["webhook_id"], keep)
        return out


def prune(s, webhook_id: int, keep: int) -> None:
    """Delete the attempts of a webhook older than its newest ``keep``."""
    cutoff = s.scalar(select(WebhookDelivery.id).where(WebhookDelivery.webhook_id == webhook_id)
                      .order_by(WebhookDelivery.id.desc()).offset(keep).limit(1))
    if cutoff is not None:
        s.execute(delete(WebhookDelivery).where(WebhookDelivery.webhook_id == webhook_id,
                                                WebhookDelivery.id <= cutoff))


def deliveries(db: Database, webhook_id: int, limit: int = 50, offset: int = 0) -> dict[str, Any]:
    """A webhook's logged attempts, newest first, and how many are kept."""
    with db.session() as s:
        _require(s, webhook_id)
        where = WebhookDelivery.webhook_id == webhook_id
        total = s.scalar(select(func.count()).select_from(WebhookDelivery).where(where)) or 0
        rows = s.scalars(select(WebhookDelivery).where(where).order_by(WebhookDelivery.id.desc())
                         .offset(offset).limit(limit))
        return {"webhook_id": webhook_id, "total": total, "deliveries": [delivery_dict(d) for d in rows]}
