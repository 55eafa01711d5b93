"""GET /metrics: Prometheus metrics (``thermalstream.metrics``) for admins, or for a scraper that sends
``Authorization: Bearer <THERMALSTREAM_METRICS_TOKEN>``."""

from __future__ import annotations

import hmac

from app.auth import off_loop
from app.handlers.base import BaseHandler
from thermalstream.metrics import CONTENT_TYPE, metrics_text

TEXT = {"text/plain": {"schema": {"type": "string"}}}


class MetricsHandler(BaseHandler):
    openapi = {"get": {
        "summary": "Prometheus metrics", "tags": ["system"],
        "description": "Per-camera fps, drops, reconnects and last-frame age; detector state, calls and latency; "
                       "queue depths; recording bytes and segments; free disk; database errors. Admins, or "
                       "`Authorization: Bearer` with the server's THERMALSTREAM_METRICS_TOKEN.",
        "responses": {"200": {"description": "Prometheus text exposition format", "content": TEXT}},
    }}

    def prepare(self) -> None:
        if not self._scraper():
            self.guard()  # admins (cookie or access token); anyone else 401/403

    def _scraper(self) -> bool:
        """The request carries the configured metrics token (compared in constant time)."""
        token = self.runtime.settings.metrics_token
        header = self.request.headers.get("Authorization", "")
        if not token or not header.lower().startswith("bearer "):
            return False
        return hmac.compare_digest(header[7:].strip().encode(), token.encode())

    async def get(self) -> None:
        body = await off_loop(metrics_text, self.runtime)  # database and disk reads: off the event loop
        self.set_header("Content-Type", CONTENT_TYPE)
        self.set_header("Cache-Control", "no-store")
        self.finish(body)
