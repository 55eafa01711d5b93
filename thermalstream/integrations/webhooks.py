"""Webhooks: the bus's events POSTed as signed JSON to the URLs admins configure.

The body is the event's payload from :mod:`thermalstream.integrations.payloads`, byte for byte
what is signed. Each attempt carries::

    X-ThermalStream-Event: camera.status
    X-ThermalStream-Delivery: <uuid, the same for every attempt of one event>
    X-ThermalStream-Timestamp: <unix seconds of this attempt>
    X-ThermalStream-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>

A receiver recomputes the signature over the raw body with its secret (:func:`verify`), compares in
constant time and refuses timestamps more than 5 minutes off (replays). docs/webhooks.md says more.

Delivery never blocks the publisher (capture threads publish camera status): the bus handler only
queues. A dispatcher thread matches queued events to webhooks and hands attempts to a small pool;
a failed attempt (not 2xx, redirects included: they are not followed) is retried after
``capture.backoff.Backoff`` delays with jitter, up to ``max_attempts``. Every attempt is logged.
"""

from __future__ import annotations

import hashlib
import heapq
import hmac
import http.client
import itertools
import json
import logging
import queue
import ssl
import threading
import time
import uuid
from base64 import b64encode
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote, urlsplit

from thermalstream.bus import Event, EventBus
from thermalstream.capture.backoff import Backoff
from thermalstream.db import Database
from thermalstream.db.outage import log_failure
from thermalstream.integrations import webhook_store as store
from thermalstream.integrations.payloads import BUS_TOPICS, VERSION, camera_of, iso, payload_for

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-ThermalStream-Signature"
TIMESTAMP_HEADER = "X-ThermalStream-Timestamp"
EVENT_HEADER = "X-ThermalStream-Event"
DELIVERY_HEADER = "X-ThermalStream-Delivery"
TOLERANCE_S = 300  # receivers refuse timestamps further off than this
TOPIC = "webhook.delivery"  # bus topic: an attempt was logged (the Webhooks page listens)
READ_BYTES = 1024  # of a response body; the log keeps store.EXCERPT_CHARS characters


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=<hex>``: HMAC-SHA256 with ``secret`` over ``timestamp + "." + body``."""
    mac = hmac.new(secret.encode("utf-8"), timestamp.encode("ascii") + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(secret: str, body: bytes, headers: Mapping[str, str], *, now: float | None = None,
           tolerance_s: float = TOLERANCE_S) -> bool:
    """What a receiver does: the signature matches ``body`` and the timestamp is recent."""
    stamp = headers.get(TIMESTAMP_HEADER) or ""
    given = headers.get(SIGNATURE_HEADER) or ""
    if not stamp.isascii() or not stamp.isdigit():
        return False
    if abs((time.time() if now is None else now) - int(stamp)) > tolerance_s:
        return False
    return hmac.compare_digest(signature(secret, stamp, body), given)


@dataclass
class Result:
    """The outcome of one attempt."""

    ok: bool
    status_code: int | None = None
    error: str | None = None
    duration_ms: float = 0.0
    excerpt: str | None = None


def post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> Result:
    """POST ``body`` once; never follows redirects. ``timeout`` bounds connecting and each read."""
    parts = urlsplit(url)
    cls = http.client.HTTPSConnection if parts.scheme.lower() == "https" else http.client.HTTPConnection
    kw: dict[str, Any] = {"context": ssl.create_default_context()} if cls is http.client.HTTPSConnection else {}
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    if parts.username is not None:
        pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()
        headers = {**headers, "Authorization": "Basic " + b64encode(pair).decode("ascii")}
    t0 = time.perf_counter()
    conn = cls(parts.hostname, parts.port, timeout=timeout, **kw)
    try:
        conn.request("POST", target, body=body, headers=headers)
        resp = conn.getresponse()
        excerpt = resp.read(READ_BYTES).decode("utf-8", "replace")[:store.EXCERPT_CHARS] or None
        ms = (time.perf_counter() - t0) * 1000
        if 200 <= resp.status < 300:
            return Result(True, resp.status, None, ms, excerpt)
        if 300 <= resp.status < 400:
            error = f"HTTP {resp.status}: redirect to {resp.getheader('Location', '?')[:200]} not followed"
        else:
            error = f"HTTP {resp.status} {resp.reason}"[:300]
        return Result(False, resp.status, error, ms, excerpt)
    except (OSError, http.client.HTTPException, ValueError) as exc:
        ms = (time.perf_counter() - t0) * 1000
        return Result(False, None, f"{type(exc).__name__}: {exc}"[:300] or type(exc).__name__, ms)
    finally:
        conn.close()


@dataclass
class Options:
    """From the ``THERMALSTREAM_WEBHOOK_*`` settings."""

    timeout_s: float = 10.0
    max_attempts: int = 5
    retry_base_s: float = 2.0
    retry_cap_s: float = 300.0
    log_keep: int = 500
    queue_size: int = 1000
    workers: int = 4

    @classmethod
    def from_settings(cls, settings: Any) -> Options:
        return cls(timeout_s=settings.webhook_timeout_s, max_attempts=settings.webhook_max_attempts,
                   retry_base_s=settings.webhook_retry_base_s, retry_cap_s=settings.webhook_retry_cap_s,
                   log_keep=settings.webhook_log_keep)


@dataclass
class Job:
    """One event on its way to one webhook."""

    webhook_id: int
    event_type: str
    body: bytes
    backoff: Backoff
    delivery: str = field(default_factory=lambda: str(uuid.uuid4()))
    attempt: int = 0


VisibleFor = Callable[[int], "set[int] | None"]  # owner id -> cameras they may see (None: all)


def owner_visibility(users: Any, cameras: Any) -> VisibleFor:
    """Per-user webhooks see what their owner sees now: nothing for a disabled or deleted user."""

    def visible(user_id: int) -> set[int] | None:
        user = users.get(user_id)
        if user is None or not user["is_active"]:
            return set()
        return cameras.visible_ids(user_id, user["role"])

    return visible


class WebhookService:
    """Queues bus events, delivers them to matching webhooks with retries, logs every attempt.

    ``visible_for(user_id)`` gives the cameras a per-user webhook's owner may see (an empty set for
    a disabled or deleted user); global webhooks get every camera's events."""

    def __init__(self, db: Database, bus: EventBus, options: Options | None = None,
                 visible_for: VisibleFor | None = None) -> None:
        self.db, self.bus = db, bus
        self.options = options or Options()
        self.visible_for = visible_for or (lambda uid: set())
        self.dropped = 0  # events lost because the queue was full (shown on the page)
        self._queue: queue.Queue = queue.Queue(maxsize=self.options.queue_size)
        self._due: list[tuple[float, int, Job]] = []  # (monotonic due time, tiebreak, job)
        self._order = itertools.count()
        self._lock = threading.Lock()
        self._endpoints: dict[int, store.Endpoint] | None = None
        self._stop = threading.Event()
        self._pool = ThreadPoolExecutor(max_workers=self.options.workers, thread_name_prefix="webhook-send")
        self._thread = threading.Thread(target=self._run, name="webhooks", daemon=True)
        self._unsubscribe: list[Callable[[], None]] = []

    # --- configuration (admins, through the API or the page) ----------------------------------

    def create(self, data: dict[str, Any], created_by: int | None = None) -> tuple[dict, str]:
        out = store.create(self.db, data, created_by)
        self.invalidate()
        return out

    def update(self, webhook_id: int, changes: dict[str, Any]) -> tuple[dict, str | None]:
        out = store.update(self.db, webhook_id, changes)
        self.invalidate()
        return out

    def delete(self, webhook_id: int) -> int:
        out = store.delete_webhook(self.db, webhook_id)
        self.invalidate()
        return out

    def invalidate(self) -> None:
        """Read the webhooks again before the next event (after any change)."""
        with self._lock:
            self._endpoints = None

    def stats(self) -> dict[str, int]:
        with self._lock:
            retrying = len(self._due)
        return {"queued": self._queue.qsize(), "retrying": retrying, "dropped": self.dropped}

    # --- running ------------------------------------------------------------------------------

    def start(self) -> WebhookService:
        self._unsubscribe = [self.bus.subscribe(self._on_event, topic) for topic in BUS_TOPICS]
        self._thread.start()
        return self

    def shutdown(self) -> None:
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._stop.set()
        self._wake()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        self._pool.shutdown(wait=True, cancel_futures=True)
        with self._lock:
            left = len(self._due)
        if left:
            log.warning("webhooks: %d failed deliveries were waiting for a retry when the server stopped", left)

    def _on_event(self, event: Event) -> None:
        """On the publisher's thread: map and queue, never wait."""
        mapped = payload_for(event.topic, event.data)
        if mapped is None or self._stop.is_set():
            return
        try:
            self._queue.put_nowait(mapped)
        except queue.Full:
            with self._lock:
                self.dropped += 1
                dropped = self.dropped
            if dropped == 1 or dropped % 100 == 0:
                log.warning("webhooks: %d events dropped: the delivery queue is full", dropped)

    def send_test(self, webhook_id: int) -> str:
        """Queue a ``test`` event for one webhook (enabled or not); returns its delivery id."""
        store.get(self.db, webhook_id)  # NotFound for an unknown id
        payload = {"version": VERSION, "type": store.TEST_EVENT, "time": iso(datetime.now(UTC)),
                   "camera_id": None, "webhook_id": webhook_id, "message": "ThermalStream test delivery"}
        job = self._job(webhook_id, store.TEST_EVENT, payload)
        self._schedule(job, 0.0)
        return job.delivery

    def _job(self, webhook_id: int, event_type: str, payload: dict) -> Job:
        body = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode("utf-8")
        o = self.options
        return Job(webhook_id, event_type, body, Backoff(base=o.retry_base_s, factor=2.0, cap=o.retry_cap_s))

    def _wake(self) -> None:
        try:
            self._queue.put_nowait(None)
        except queue.Full:
            pass  # the dispatcher is awake anyway: it has items to take

    def _schedule(self, job: Job, delay: float) -> None:
        with self._lock:
            heapq.heappush(self._due, (time.monotonic() + delay, next(self._order), job))
        if threading.current_thread() is not self._thread:  # the dispatcher itself needs no wake-up
            self._wake()

    def _run(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                wait = max(0.0, self._due[0][0] - time.monotonic()) if self._due else 1.0
            try:
                item = self._queue.get(timeout=min(wait, 1.0))
            except queue.Empty:
                item = None
            if self._stop.is_set():
                return
            if item is not None:
                try:
                    self._fan_out(*item)
                except Exception:  # noqa: BLE001 - a database hiccup must not end deliveries
                    log_failure(log, "webhooks: matching an event to webhooks failed")
            self._submit_due()

    def _submit_due(self) -> None:
        now = time.monotonic()
        ready = []
        with self._lock:
            while self._due and self._due[0][0] <= now:
                ready.append(heapq.heappop(self._due)[2])
        for job in ready:
            self._pool.submit(self._attempt, job)

    def _current(self) -> dict[int, store.Endpoint]:
        with self._lock:
            cached = self._endpoints
        if cached is None:
            cached = store.endpoints(self.db)
            with self._lock:
                self._endpoints = cached
        return cached

    def _fan_out(self, event_type: str, payload: dict) -> None:
        camera = camera_of(payload)
        for ep in self._current().values():
            if ep.enabled and event_type in ep.event_types and self._wants(ep, camera):
                self._schedule(self._job(ep.id, event_type, payload), 0.0)

    def _wants(self, ep: store.Endpoint, camera: int) -> bool:
        if ep.camera_ids is not None and camera not in ep.camera_ids:
            return False
        if ep.owner_id is None:
            return True
        visible = self.visible_for(ep.owner_id)
        return visible is None or camera in visible

    def _attempt(self, job: Job) -> None:
        try:
            self._try(job)
        except Exception:  # noqa: BLE001 - logged; the worker keeps going
            log_failure(log, "webhooks: logging an attempt of webhook %s failed", job.webhook_id)

    def _try(self, job: Job) -> None:
        ep = self._current().get(job.webhook_id)
        if ep is None:
            return  # deleted meanwhile, with its log
        job.attempt += 1
        if not ep.enabled and job.event_type != store.TEST_EVENT:
            result = Result(False, error="the webhook was disabled; not sent")
        else:
            result = post(ep.url, job.body, self._headers(ep, job), self.options.timeout_s)
        retry = not result.ok and ep.enabled and job.attempt < self.options.max_attempts
        delay = job.backoff.next_delay() if retry else None
        row = {"webhook_id": job.webhook_id, "delivery": job.delivery, "event_type": job.event_type,
               "attempt": job.attempt, "ok": result.ok, "status_code": result.status_code, "error": result.error,
               "duration_ms": result.duration_ms, "response_excerpt": result.excerpt,
               "next_attempt_at": datetime.now(UTC) + timedelta(seconds=delay) if delay is not None else None}
        if delay is not None:
            self._schedule(job, delay)
        logged = store.record_attempt(self.db, row, self.options.log_keep)
        if logged:
            self.bus.publish(TOPIC, logged)

    @staticmethod
    def _headers(ep: store.Endpoint, job: Job) -> dict[str, str]:
        stamp = str(int(time.time()))
        return {"Content-Type": "application/json", "User-Agent": "ThermalStream-Webhook",
                EVENT_HEADER: job.event_type, DELIVERY_HEADER: job.delivery, TIMESTAMP_HEADER: stamp,
                SIGNATURE_HEADER: signature(ep.secret, stamp, job.body)}
