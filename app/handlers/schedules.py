"""REST routes for recording schedules: list, one schedule, create, update, delete.

Bodies are JSON. Bad input (an unknown day, time, time zone or camera) is answered 400 with the
:class:`~thermalstream.schedules.ScheduleError` message and the offending ``field``; an unknown
schedule id is 404. Creating, changing or deleting a schedule may start or stop a recording at
once (see :mod:`thermalstream.schedules.service`), so the service runs in a worker thread and the
event loop never waits on an encoder.
"""

from __future__ import annotations

import json
from typing import Any

import tornado.ioloop

from app.handlers.api_models import Schedule, ScheduleList
from app.handlers.base import ApiError, BaseHandler, is_digits, parse_id
from app.handlers.schema import json_content
from thermalstream.schedules import DAYS, ScheduleError

ERRORS = {"400": {"description": "Bad request (invalid day, time, time zone, camera or field)"},
          "404": {"description": "No such schedule (or its camera is not visible to you)"}}

SCHEDULE_FIELDS = {
    "camera_id": {"type": "integer"},
    "name": {"type": "string", "maxLength": 128},
    "days_of_week": {"oneOf": [{"type": "array", "items": {"type": "string", "enum": list(DAYS)}},
                               {"type": "string", "example": "mon-fri"}]},
    "start_time": {"type": "string", "example": "22:00", "description": "HH:MM or HH:MM:SS, 24-hour, local"},
    "stop_time": {"type": "string", "example": "06:00", "description": "earlier than start: crosses midnight"},
    "timezone": {"type": "string", "example": "Europe/Berlin", "description": "IANA zone name"},
    "enabled": {"type": "boolean", "default": True},
}


def _body(required: list[str], extra: dict[str, Any] | None = None) -> dict:
    return {"required": True, "content": {"application/json": {"schema": {
        "type": "object", "required": required, "properties": {**(extra or {}), **SCHEDULE_FIELDS}}}}}


async def _call(fn, *args, **kwargs) -> Any:
    """Run a ScheduleService call in a worker thread; ScheduleError -> 400."""
    try:
        return await tornado.ioloop.IOLoop.current().run_in_executor(None, lambda: fn(*args, **kwargs))
    except ScheduleError as exc:
        raise _bad(exc) from None


def _bad(exc: ScheduleError) -> ApiError:
    err = ApiError(400, str(exc))
    err.field = exc.field  # type: ignore[attr-defined]
    return err


def _schedule_id(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, str) and is_digits(value.strip()):
            return parse_id(value, "schedule")
        raise ApiError(400, "field 'id' (integer) is required")
    return value


class _ScheduleBase(BaseHandler):
    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        field = getattr(exc, "field", None)
        if field is None:
            super().write_error(status_code, **kwargs)
            return
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.finish(json.dumps({"error": exc.message, "status": status_code, "field": field}))


class SchedulesHandler(_ScheduleBase):
    openapi = {"get": {
        "summary": "List recording schedules", "tags": ["schedules"],
        "parameters": [{"name": "camera", "in": "query", "schema": {"type": "integer"},
                        "description": "only this camera's schedules"}],
        "responses": {"200": {"description": "{schedules: [...]}, each with active and the open or next window",
                              "content": json_content(ScheduleList)},
                      **ERRORS}}}

    def get(self) -> None:
        camera = self.get_query_argument("camera", None)
        try:
            camera_id = int(camera) if camera not in (None, "") else None
        except ValueError:
            raise ApiError(400, "camera must be an integer") from None
        self.write_json({"schedules": self.runtime.schedules.list(camera_id, visible=self.visible_cameras())})


class ScheduleHandler(_ScheduleBase):
    openapi = {"get": {"summary": "One recording schedule", "tags": ["schedules"],
                       "responses": {"200": {"description": "Schedule", "content": json_content(Schedule)},
                                     **ERRORS}}}

    def get(self, sid: str) -> None:
        row = self.runtime.schedules.get(int(sid), visible=self.visible_cameras())
        if row is None:
            raise ApiError(404, f"no schedule {sid}")
        self.write_json(row)


class ScheduleCreateHandler(_ScheduleBase):
    openapi = {"post": {
        "summary": "Create a recording schedule (its jobs start at once; an open window starts recording now)",
        "tags": ["schedules"], "requestBody": _body(["camera_id", "start_time", "stop_time"]),
        "responses": {"201": {"description": "The new schedule", "content": json_content(Schedule)}, **ERRORS}}}

    async def post(self) -> None:
        body = self.json_body()
        body.pop("created_by", None)  # always the caller
        body["created_by"] = self.principal.user_id if self.principal else None
        self.write_json(await _call(self.runtime.schedules.create, body, visible=self.visible_cameras()), status=201)


class ScheduleUpdateHandler(_ScheduleBase):
    openapi = {"post": {
        "summary": "Change fields of a schedule (jobs replaced at once; a closed window stops its recording)",
        "tags": ["schedules"], "requestBody": _body(["id"], {"id": {"type": "integer"}}),
        "responses": {"200": {"description": "The changed schedule", "content": json_content(Schedule)},
                      **ERRORS}}}

    async def post(self) -> None:
        body = self.json_body()
        sid = _schedule_id(body.pop("id", None))
        body.pop("created_by", None)
        row = await _call(self.runtime.schedules.update, sid, body, visible=self.visible_cameras())
        if row is None:
            raise ApiError(404, f"no schedule {sid}")
        self.write_json(row)


class ScheduleDeleteHandler(_ScheduleBase):
    openapi = {"post": {
        "summary": "Delete a schedule (a scheduled recording left without an open window stops)",
        "tags": ["schedules"],
        "requestBody": {"required": True, "content": {"application/json": {"schema": {
            "type": "object", "required": ["id"], "properties": {"id": {"type": "integer"}}}}}},
        "responses": {"200": {"description": "{deleted: id}"}, **ERRORS}}}

    async def post(self) -> None:
        sid = _schedule_id(self.json_body().get("id"))
        if not await _call(self.runtime.schedules.delete, sid, visible=self.visible_cameras()):
            raise ApiError(404, f"no schedule {sid}")
        self.write_json({"deleted": sid})
