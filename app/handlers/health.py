"""GET /health: liveness and a summary for monitoring."""

from __future__ import annotations

from app.handlers.api_models import Health
from app.handlers.base import BaseHandler
from app.handlers.schema import op

PUBLIC_KEYS = ("status", "reason")


class HealthHandler(BaseHandler):
    openapi = {"get": op(
        "Server health", "system", ok=Health, public=True,
        description="Status (and the reason when not ok) for anyone; signed-in admins also get model status, "
                    "active cameras and recordings, version and uptime.",
        errors={503: "The database is unreachable (the reason is in the report)"}, error_model=Health)}

    def get(self) -> None:
        report = self.runtime.health()
        status = 200 if report["status"] == "ok" else 503
        if self.principal is None or self.principal.role != "admin":  # details only for admins
            report = {k: report[k] for k in PUBLIC_KEYS if k in report}
        self.write_json(report, status)
