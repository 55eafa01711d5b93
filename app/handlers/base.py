"""Shared pieces of the Tornado handlers: JSON in/out, errors, the runtime, OpenAPI metadata."""

from __future__ import annotations

import json
import re
from typing import Any

import tornado.web

from app import access
from app.auth import Principal, Unauthenticated, off_loop, principal_of, same_origin  # noqa: F401 (off_loop)
from thermalstream.db.outage import is_disk_full, outage_reason
from thermalstream.runtime import Runtime

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


class ApiError(Exception):
    """An answer with ``status`` and ``{"error": message}``; ``headers`` go with it (Retry-After, Allow)."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


def allowed_methods(route: str) -> str:
    """The ``Allow`` header of a route: the methods the access table lists for it."""
    return ", ".join(sorted({*access.ROUTES.get(route, {}), "OPTIONS"}))


def outage_error(e: BaseException) -> ApiError | None:
    """A database outage as ApiError 503 (507 when the database's disk is full), else None. The
    details stay in the server log (written once per outage by ``Database.outage``)."""
    if outage_reason(e) is None:
        return None
    if is_disk_full(e):
        return ApiError(507, "the database cannot write: its disk is full", {"Retry-After": "30"})
    return ApiError(503, "the database is unreachable; retry shortly", {"Retry-After": "5"})


def call_mapped(errors: dict[type[Exception], int], fn, *args, **kwargs):
    """Call a service; exceptions listed in ``errors`` (checked in order) become ApiError(status)."""
    try:
        return fn(*args, **kwargs)
    except tuple(errors) as exc:
        status = next(code for kind, code in errors.items() if isinstance(exc, kind))
        raise ApiError(status, str(exc)) from None


def check_access(handler: tornado.web.RequestHandler, runtime: Runtime, route: str) -> Principal | None:
    """Enforce the access table for this request; raises ApiError 401/403. Cookie-authenticated
    state changes must come from our own pages (CSRF); Bearer requests cannot be forged by a site."""
    method = handler.request.method or "GET"
    if method == "OPTIONS":
        return None
    try:
        needed = access.ROUTES[route][method]
    except KeyError:
        raise ApiError(405, f"{method} is not allowed here", {"Allow": allowed_methods(route)}) from None
    try:
        principal = principal_of(runtime, handler)
    except Unauthenticated as exc:
        raise ApiError(401, f"invalid access token: {exc}") from None
    if needed == access.PUBLIC:
        return principal
    if principal is None:
        raise ApiError(401, "log in first (browser) or send Authorization: Bearer <access_token>")
    if not access.allows(principal.role, needed):
        raise ApiError(403, f"this needs the {needed} role; you are {principal.role}")
    if principal.via == "cookie" and method not in SAFE_METHODS and not same_origin(handler):
        raise ApiError(403, "cross-site request refused: send it from the ThermalStream page or use a token")
    return principal


MAX_ID = 2**31 - 1  # ids are PostgreSQL integers; a larger one names nothing
MAX_BODY = 1 << 20  # bytes of a JSON request body
MAX_DEPTH = 32  # nesting of a JSON request body
_ID_NAMES = {"cid": "camera", "rid": "recording", "sid": "schedule", "did": "detection", "eid": "event",
             "index": "segment", "uid": "user"}


def is_digits(text: str) -> bool:
    """ASCII digits only: ``str.isdigit`` also accepts "²", which ``int()`` refuses."""
    return text.isascii() and text.isdigit()


def parse_id(raw: object, what: str = "id") -> int:
    """An id from a URL, query or body: a positive integer that fits the database, else 404."""
    text = str(raw).strip() if isinstance(raw, (str, int)) and not isinstance(raw, bool) else ""
    if not is_digits(text) or int(text) > MAX_ID:
        raise ApiError(404, f"no {what} {str(raw)[:40]!r}")
    return int(text)


def check_path_ids(kwargs: dict) -> None:
    """Every numeric path parameter is checked here, once, for every route (out of range: 404)."""
    for name, value in kwargs.items():
        if isinstance(value, str) and is_digits(value):
            parse_id(value, _ID_NAMES.get(name, name))


_QUERY_IDS = {"camera": "camera", "camera_id": "camera", "recording": "recording", "schedule": "schedule"}
INT64 = 2**63 - 1


def check_query(arguments: dict[str, list[bytes]]) -> None:
    """Numeric query ids must fit the database (else 404: they name nothing); no integer argument
    may overflow 64 bits (400). Other values (``camera=none``, a typo) are the handler's to judge."""
    for name, values in arguments.items():
        for value in values:
            text = value.decode("utf-8", "replace").strip()
            if name in _QUERY_IDS and is_digits(text):
                parse_id(text, _QUERY_IDS[name])
            elif re.fullmatch(r"[-+]?\d+", text) and abs(int(text)) > INT64:
                raise ApiError(400, f"'{name}' is out of range")


def int_arg(value: str | None, name: str, default: int, lo: int, hi: int) -> int:
    """A bounded integer query argument; a clear 400 when it is not one."""
    if value in (None, ""):
        return default
    try:
        number = int(value)
    except ValueError:
        raise ApiError(400, f"'{name}' must be an integer") from None
    if not lo <= number <= hi:
        raise ApiError(400, f"'{name}' must be between {lo} and {hi}")
    return number


def _depth(value: Any) -> int:
    """Nesting depth of parsed JSON, without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, d = stack.pop()
        deepest = max(deepest, d)
        if isinstance(item, dict):
            stack.extend((v, d + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, d + 1) for v in item)
    return deepest


def check_numbers(body: Any) -> None:
    """Integers in a body fit the database: ids (``id``, ``*_id``) name something (404), other
    integers fit 64 bits (400)."""
    stack = [("", body)]
    while stack:
        key, item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.items())
        elif isinstance(item, list):
            stack.extend((key, v) for v in item)
        elif isinstance(item, int) and not isinstance(item, bool):
            if (key == "id" or key.endswith("_id")) and not 0 <= item <= MAX_ID:
                raise ApiError(404, f"no {key.removesuffix('_id') or 'object'} {item}")
            if abs(item) > INT64:
                raise ApiError(400, f"'{key}' is out of range")


def _bad_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def parse_json(raw: bytes | None) -> Any:
    """Parse a request body within the size and depth limits; ApiError 413/400 otherwise."""
    if raw and len(raw) > MAX_BODY:
        raise ApiError(413, f"request body over {MAX_BODY} bytes")
    opened = max(raw.count(b"[") + raw.count(b"{"), 0) if raw else 0
    try:
        body = json.loads(raw or b"{}", parse_constant=_bad_constant)
    except (ValueError, RecursionError):
        raise ApiError(400, "request body is not valid JSON") from None
    if opened > MAX_DEPTH and _depth(body) > MAX_DEPTH:
        raise ApiError(400, f"request body nested deeper than {MAX_DEPTH} levels")
    check_numbers(body)
    return body


def http_error(exc: ApiError) -> tornado.web.HTTPError:
    """For handlers that are not JSON handlers (files, WebSockets)."""
    return tornado.web.HTTPError(exc.status, reason=exc.message)


class Guarded:
    """Access checks and camera visibility shared by every custom handler."""

    runtime: Runtime
    route: str
    principal: Principal | None = None

    def guard(self) -> None:
        self.principal = check_access(self, self.runtime, self.route)  # type: ignore[arg-type]
        check_path_ids(getattr(self, "path_kwargs", None) or {})
        check_query(self.request.query_arguments)  # type: ignore[attr-defined]

    def _handle_request_exception(self, e: BaseException) -> None:
        """File and WebSocket handlers too: a database outage is a 503/507 with a reason, no traceback."""
        mapped = outage_error(e)
        if mapped is not None and not self._finished:  # type: ignore[attr-defined]
            self.send_error(mapped.status, reason=mapped.message)  # type: ignore[attr-defined]
            return
        super()._handle_request_exception(e)  # type: ignore[misc]

    def visible_cameras(self) -> set[int] | None:
        """Ids of the cameras this user may see (None: all)."""
        p = self.principal
        if p is None:
            return set()
        return self.runtime.cameras.visible_ids(p.user_id, p.role)

    def require_camera(self, camera_id: int) -> int:
        """404 (not 403: no probing for ids) unless the user may see this camera."""
        visible = self.visible_cameras()
        if visible is not None and camera_id not in visible:
            raise ApiError(404, f"no camera {camera_id}")
        return camera_id


class GuardedFileHandler(Guarded, tornado.web.StaticFileHandler):
    """Files served with Range support behind the access table; subclasses name the folder
    (``folder(runtime)``) and resolve the file from ids, never from a path in the request.
    Errors are JSON, as from every other route."""

    def folder(self, runtime: Runtime) -> str:
        raise NotImplementedError

    def initialize(self, runtime: Runtime, route: str) -> None:
        self.runtime = runtime
        self.route = route
        super().initialize(path=str(self.folder(runtime)))

    def prepare(self) -> None:
        try:
            self.guard()
        except ApiError as exc:
            raise http_error(exc) from None

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.finish({"error": self._reason, "status": status_code})


class BaseHandler(Guarded, tornado.web.RequestHandler):
    """JSON handler. Subclasses set ``openapi = {"get": {...}, ...}`` describing each method;
    the OpenAPI document is built from these, so a route cannot exist without a description.
    Every request is checked against ``app.access`` before the method runs."""

    openapi: dict[str, dict] = {}

    def initialize(self, runtime: Runtime, route: str) -> None:
        self.runtime = runtime
        self.route = route

    def prepare(self) -> None:
        self.guard()

    def options(self, *args, **kwargs) -> None:
        """CORS preflight: answered only for origins in THERMALSTREAM_CORS_ORIGINS."""
        self.set_status(204 if self._cors_origin() else 403)
        self.finish()

    def _cors_origin(self) -> str | None:
        origin = self.request.headers.get("Origin")
        allowed = {o.strip() for o in self.runtime.settings.cors_origins.split(",") if o.strip()}
        return origin if origin and origin in allowed else None

    def set_default_headers(self) -> None:
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("Cache-Control", "no-store")

    def write_json(self, data: Any, status: int = 200) -> None:
        self.set_status(status)
        self.finish(json.dumps(data, default=str))

    def json_body(self) -> dict:
        body = parse_json(self.request.body)
        if not isinstance(body, dict):
            raise ApiError(400, "request body must be a JSON object")
        return body

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        message = exc.message if isinstance(exc, ApiError) else self._reason
        self.set_header("Content-Type", "application/json; charset=utf-8")
        for name, value in (exc.headers if isinstance(exc, ApiError) else {}).items():
            self.set_header(name, value)
        if status_code == 405 and hasattr(self, "route"):
            self.set_header("Allow", allowed_methods(self.route))
        self.finish(json.dumps({"error": message, "status": status_code}))

    def _handle_request_exception(self, e: BaseException) -> None:
        e = outage_error(e) or e  # a database outage is a 503 with a reason, logged once by the core
        if isinstance(e, ApiError):
            self.send_error(e.status, exc_info=(type(e), e, e.__traceback__))
            return
        super()._handle_request_exception(e)

    def camera_id(self, raw: str) -> int:
        """A camera id from the URL, checked against what this user may see."""
        return self.require_camera(parse_id(raw, "camera"))

    def finish(self, chunk=None):
        origin = self._cors_origin() if hasattr(self, "runtime") else None
        if origin:
            self.set_header("Access-Control-Allow-Origin", origin)
            self.set_header("Vary", "Origin")
            self.set_header("Access-Control-Allow-Headers", "Authorization, Content-Type")
            self.set_header("Access-Control-Allow-Methods", "GET, POST, PUT, PATCH, DELETE")
        return super().finish(chunk)


class ApiNotFound(tornado.web.RequestHandler):
    """Any other ``/api/`` path, whatever the method: a JSON 404 (not the HTML page of the app)."""

    def prepare(self) -> None:
        self.set_status(404)
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.set_header("Cache-Control", "no-store")
        self.finish(json.dumps({"error": f"no such API path: {self.request.path[:200]}", "status": 404}))
