"""Shared pieces of the Tornado handlers: JSON in/out, errors, the runtime, OpenAPI metadata."""

from __future__ import annotations

import json
from typing import Any

import tornado.web

from thermalstream.runtime import Runtime


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class BaseHandler(tornado.web.RequestHandler):
    """JSON handler. Subclasses set ``openapi = {"get": {...}, ...}`` describing each method;
    the OpenAPI document is built from these, so a route cannot exist without a description."""

    openapi: dict[str, dict] = {}

    def initialize(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def set_default_headers(self) -> None:
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("Cache-Control", "no-store")

    def write_json(self, data: Any, status: int = 200) -> None:
        self.set_status(status)
        self.finish(json.dumps(data, default=str))

    def json_body(self) -> dict:
        try:
            body = json.loads(self.request.body or b"{}")
        except ValueError:
            raise ApiError(400, "request body is not valid JSON") from None
        if not isinstance(body, dict):
            raise ApiError(400, "request body must be a JSON object")
        return body

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        message = exc.message if isinstance(exc, ApiError) else self._reason
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.finish(json.dumps({"error": message, "status": status_code}))

    def _handle_request_exception(self, e: BaseException) -> None:
        if isinstance(e, ApiError):
            self.send_error(e.status, exc_info=(type(e), e, e.__traceback__))
            return
        super()._handle_request_exception(e)

    def camera_id(self, raw: str) -> int:
        try:
            return int(raw)
        except ValueError:
            raise ApiError(404, f"no camera {raw!r}") from None
