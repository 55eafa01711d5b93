"""Webhooks (admins only; docs/webhooks.md):

* ``GET/POST /api/webhooks``: list, create (the answer carries the secret, shown this once);
* ``GET/PATCH/DELETE /api/webhooks/{id}``; ``rotate_secret`` in a PATCH makes a new secret;
* ``GET /api/webhooks/{id}/deliveries``: the delivery log, newest attempt first;
* ``POST /api/webhooks/{id}/test``: queue a ``test`` event for this webhook.

Unknown ids answer 404.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from app.handlers.base import BaseHandler, call_mapped, int_arg, parse_id
from app.handlers.schema import op, parse_model
from thermalstream.integrations import webhook_store as store
from thermalstream.integrations.payloads import EVENT_TYPES

EventType = Literal[EVENT_TYPES]  # type: ignore[valid-type]
ERRORS = {400: "Invalid body (the message names the field)", 404: "No such webhook, camera or user"}
MAPPED = {store.NotFound: 404, store.WebhookError: 400, ValueError: 400}
URL = Field(min_length=1, max_length=store.MAX_URL, examples=["https://hooks.example.org/thermal"],
            description="http:// or https:// only; the server calls whatever host this names")
SECRET = Field(default=None, min_length=store.SECRET_MIN, max_length=store.SECRET_MAX,
               description="HMAC-SHA256 key; left out: one is generated and returned once")


class Out(BaseModel):
    model_config = ConfigDict(extra="allow")


class WebhookBody(BaseModel):
    """A new webhook. ``owner_id`` null: global (every camera); a user's id: only the cameras that
    user may see. ``camera_ids`` null or empty: every camera (of those)."""

    model_config = ConfigDict(extra="forbid")
    url: str = URL
    event_types: list[EventType] = Field(min_length=1, max_length=len(EVENT_TYPES))
    name: str | None = Field(default=None, max_length=128)
    camera_ids: list[int] | None = Field(default=None, max_length=1000)
    owner_id: int | None = None
    secret: str | None = SECRET
    enabled: bool = True


class WebhookPatch(BaseModel):
    """Fields given replace the stored ones; ``rotate_secret``: a new generated secret (returned once)."""

    model_config = ConfigDict(extra="forbid")
    url: str | None = Field(default=None, min_length=1, max_length=store.MAX_URL)
    event_types: list[EventType] | None = Field(default=None, min_length=1, max_length=len(EVENT_TYPES))
    name: str | None = Field(default=None, max_length=128)
    camera_ids: list[int] | None = Field(default=None, max_length=1000)
    owner_id: int | None = None
    secret: str | None = SECRET
    rotate_secret: bool = False
    enabled: bool | None = None


class DeliveryOut(Out):
    """One attempt: when, its number, the status code or the error, how long it took."""

    id: int
    webhook_id: int
    delivery: str = Field(description="the same for every attempt of one event (X-ThermalStream-Delivery)")
    event_type: str
    attempt: int
    at: str
    ok: bool
    status_code: int | None
    error: str | None
    duration_ms: float
    response_excerpt: str | None = Field(description="at most 200 characters of the response body")
    next_attempt_at: str | None = Field(description="when the next retry is due (null: no more)")


class WebhookOut(Out):
    """A webhook (URL credentials masked; the secret is never shown again)."""

    id: int
    name: str
    url: str
    event_types: list[str]
    camera_ids: list[int] | None
    enabled: bool
    owner_id: int | None
    owner: str | None
    scope: Literal["global", "user"]
    last_delivery: DeliveryOut | None = None
    secret: str | None = Field(default=None, description="only when created or changed")


class WebhookList(Out):
    """Every webhook, and the state of the delivery worker."""

    webhooks: list[WebhookOut]
    event_types: list[str]
    queue: dict[str, int] = Field(description="queued events, deliveries waiting to retry, events dropped")


class DeliveryList(Out):
    """A webhook's logged attempts, newest first (the newest THERMALSTREAM_WEBHOOK_LOG_KEEP are kept)."""

    webhook_id: int
    total: int
    deliveries: list[DeliveryOut]


class TestQueued(Out):
    """The test event was queued; its attempts appear in the delivery log."""

    webhook_id: int
    delivery: str


class Deleted(Out):
    deleted: int


PAGE = [{"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 500}},
        {"name": "offset", "in": "query", "schema": {"type": "integer", "minimum": 0}}]


class _Webhooks(BaseHandler):
    def call(self, fn, *args):
        return call_mapped(MAPPED, fn, *args)

    @property
    def service(self):
        return self.runtime.webhooks


class WebhooksHandler(_Webhooks):
    openapi = {"get": op("Every webhook (admins)", "webhooks", ok=WebhookList, errors=ERRORS),
               "post": op("Add a webhook (admins): signed JSON POSTs for chosen event types", "webhooks",
                          body=WebhookBody, ok=WebhookOut, status=201, errors=ERRORS)}

    def get(self) -> None:
        self.write_json({"webhooks": store.list_webhooks(self.runtime.db), "event_types": list(EVENT_TYPES),
                         "queue": self.service.stats()})

    def post(self) -> None:
        body = parse_model(self.json_body(), WebhookBody)
        user = self.principal.user_id if self.principal else None
        hook, secret = self.call(self.service.create, body.model_dump(), user)
        self.write_json({**hook, "secret": secret}, 201)


class WebhookHandler(_Webhooks):
    openapi = {"get": op("A webhook (admins)", "webhooks", ok=WebhookOut, errors=ERRORS),
               "patch": op("Change a webhook (admins)", "webhooks", body=WebhookPatch, ok=WebhookOut, errors=ERRORS),
               "delete": op("Delete a webhook and its delivery log (admins)", "webhooks", ok=Deleted,
                            errors=ERRORS)}

    def get(self, wid: str) -> None:
        self.write_json(self.call(store.get, self.runtime.db, parse_id(wid, "webhook")))

    def patch(self, wid: str) -> None:
        changes = parse_model(self.json_body(), WebhookPatch).model_dump(exclude_unset=True)
        hook, secret = self.call(self.service.update, parse_id(wid, "webhook"), changes)
        self.write_json({**hook, "secret": secret} if secret else hook)

    def delete(self, wid: str) -> None:
        self.write_json({"deleted": self.call(self.service.delete, parse_id(wid, "webhook"))})


class WebhookDeliveriesHandler(_Webhooks):
    openapi = {"get": op("A webhook's delivery log, newest attempt first (admins)", "webhooks", ok=DeliveryList,
                         errors=ERRORS, parameters=PAGE)}

    def get(self, wid: str) -> None:
        arg = self.get_query_argument
        limit = int_arg(arg("limit", None), "limit", 50, 1, 500)
        offset = int_arg(arg("offset", None), "offset", 0, 0, 10**9)
        self.write_json(self.call(store.deliveries, self.runtime.db, parse_id(wid, "webhook"), limit, offset))


class WebhookTestHandler(_Webhooks):
    openapi = {"post": op("Send a test event to a webhook (admins); see its delivery log", "webhooks",
                          ok=TestQueued, status=202, errors=ERRORS)}

    def post(self, wid: str) -> None:
        webhook_id = parse_id(wid, "webhook")
        self.write_json({"webhook_id": webhook_id, "delivery": self.call(self.service.send_test, webhook_id)}, 202)
