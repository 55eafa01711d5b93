"""GET /health: liveness and a summary for monitoring."""

from __future__ import annotations

from app.handlers.base import BaseHandler


class HealthHandler(BaseHandler):
    openapi = {
        "get": {
            "summary": "Server health",
            "description": "Status, model status, active cameras and recordings, version and uptime.",
            "tags": ["system"],
            "responses": {"200": {"description": "Health report"}},
        }
    }

    def get(self) -> None:
        self.write_json(self.runtime.health())
