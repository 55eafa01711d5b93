"""REST routes for cameras: list, connect, show, disconnect, reconnect, delete."""

from __future__ import annotations

import tornado.web

from app.handlers.api_models import Camera, CameraCreate, CameraList
from app.handlers.base import ApiError, BaseHandler, call_mapped
from app.handlers.schema import json_content, op, parse_model
from thermalstream.cameras import CameraConflict, CameraNotFound
from thermalstream.palettes import PALETTES
from thermalstream.storage.media import MEDIA_CHOICES
from thermalstream.sources.url import CameraURLError

CAMERA_SCHEMA = {"$ref": "#/components/schemas/Camera"}
ERRORS = {
    "400": {"description": "Bad request (e.g. malformed camera URL)"},
    "404": {"description": "No such camera"},
    "409": {"description": "Conflict with the camera's current state"},
}


CAMERA_ERRORS = {CameraURLError: 400, CameraNotFound: 404, CameraConflict: 409}


def _call(fn, *args, **kwargs):
    return call_mapped(CAMERA_ERRORS, fn, *args, **kwargs)


class CamerasHandler(BaseHandler):
    openapi = {
        "get": op("List cameras", "cameras", ok=CameraList,
                  description="Cameras this user may see, with live status; URL credentials masked"),
        "post": op("Connect a camera", "cameras", body=CameraCreate, ok=Camera, status=201,
                   description="Connected (status starts at connecting); the caller owns it. Files must lie in "
                               "the media folder unless an admin adds them",
                   errors={400: "Bad request (e.g. malformed camera URL)", 409: "The URL is already saved"}),
    }

    def get(self) -> None:
        self.write_json({"cameras": self.runtime.cameras.list(self.visible_cameras())})

    def post(self) -> None:
        req = parse_model(self.json_body(), CameraCreate)
        url, name = req.url, req.name
        p = self.principal
        self.write_json(_call(self.runtime.cameras.connect, url, name, owner_id=p.user_id if p else None,
                              any_file=p is not None and p.role == "admin"), status=201)


class CameraHandler(BaseHandler):
    openapi = {
        "get": {"summary": "One camera", "tags": ["cameras"],
                "responses": {"200": {"description": "Camera", "content": json_content(Camera)}, **ERRORS}},
        "delete": {
            "summary": "Disconnect and delete a camera; its recordings, screenshots and thumbnails are archived "
                       "(admin-only, on disk) or deleted",
            "tags": ["cameras"],
            "parameters": [{"name": "media", "in": "query", "schema": {"type": "string", "enum": list(MEDIA_CHOICES),
                                                                      "default": "archive"}}],
            "responses": {"204": {"description": "Deleted (a notification says where the files went)"}, **ERRORS},
        },
        "patch": {
            "summary": "Rename a camera or change its palette",
            "tags": ["cameras"],
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": {"type": "object", "properties": {
                    "name": {"type": "string", "maxLength": 128},
                    "palette": {"type": "string", "enum": list(PALETTES)},
                }}}},
            },
            "responses": {"200": {"description": "Camera", "content": json_content(Camera)}, **ERRORS},
        },
    }

    def get(self, cid: str) -> None:
        self.write_json(_call(self.runtime.cameras.get, self.camera_id(cid)))

    def patch(self, cid: str) -> None:
        body = self.json_body()
        unknown = set(body) - {"name", "palette"}
        if unknown:
            raise ApiError(400, f"unknown field(s): {', '.join(sorted(unknown))}")
        for key in ("name", "palette"):
            if key in body and not isinstance(body[key], str):
                raise ApiError(400, f"field '{key}' must be a string")
        self.write_json(_call(self.runtime.cameras.update, self.camera_id(cid),
                              name=body.get("name"), palette=body.get("palette")))

    def delete(self, cid: str) -> None:
        media = self.get_query_argument("media", "archive")
        if media not in MEDIA_CHOICES:
            raise ApiError(400, f"media must be one of {', '.join(MEDIA_CHOICES)}")
        camera_id = self.camera_id(cid)
        _call(self.runtime.cameras.delete, camera_id, media)
        self.set_status(204)
        self.finish()


class TemperatureHandler(BaseHandler):
    """GET /api/cameras/{id}/temperature?x=&y= — spot temperature in the newest frame."""

    openapi = {
        "get": {
            "summary": "Spot value at a pixel of the newest frame, with its unit (°C, or counts for "
                       "an uncalibrated sensor)",
            "tags": ["live"],
            "parameters": [
                {"name": "x", "in": "query", "required": True, "schema": {"type": "integer", "minimum": 0}},
                {"name": "y", "in": "query", "required": True, "schema": {"type": "integer", "minimum": 0}},
            ],
            "responses": {"200": {"description": "{x, y, value, unit ('°C' or 'counts'), "
                                                 "celsius (null for counts)}"}, **ERRORS},
        }
    }

    def get(self, cid: str) -> None:
        try:
            x, y = int(self.get_query_argument("x")), int(self.get_query_argument("y"))
        except (ValueError, tornado.web.MissingArgumentError):
            raise ApiError(400, "query parameters x and y (integer pixels) are required") from None
        try:
            reading = _call(self.runtime.cameras.temperature_at, self.camera_id(cid), x, y)
        except ValueError as exc:
            raise ApiError(400, str(exc)) from None
        if reading is None:
            raise ApiError(409, f"camera {cid} gives pictures only, no temperatures")
        value, unit = reading
        self.write_json({"x": x, "y": y, "value": value, "unit": unit, "celsius": value if unit == "°C" else None})


class CameraActionHandler(BaseHandler):
    """POST /api/cameras/{id}/(connect|disconnect)."""

    openapi = {
        "post": {
            "summary": "Connect or disconnect a saved camera",
            "tags": ["cameras"],
            "parameters": [{"name": "action", "in": "path", "required": True,
                            "schema": {"type": "string", "enum": ["connect", "disconnect"]}}],
            "responses": {"200": {"description": "Camera after the action"}, **ERRORS},
        }
    }

    def post(self, cid: str, action: str) -> None:
        fn = self.runtime.cameras.reconnect if action == "connect" else self.runtime.cameras.disconnect
        self.write_json(_call(fn, self.camera_id(cid)))
