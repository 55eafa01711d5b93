"""GET/PATCH /api/cameras/{id}/display: level/span (automatic or a fixed range), isotherm and
hottest/coldest markers of a camera's live view, and the scale its colour bar shows now."""

from __future__ import annotations

from pydantic import ValidationError

from app.handlers.base import ApiError, BaseHandler
from app.handlers.radiometry import validation_message
from thermalstream.display import DisplaySettings

RESULT = "{camera_id, settings {span, lo, hi, isotherm, markers}, palette, scale {lo, hi, unit} or null}"
ERRORS = {"400": {"description": "Invalid settings (the message names the field)"},
          "404": {"description": "No such camera"}}


def _schema() -> dict:
    """DisplaySettings as OpenAPI 3.0 (nullable instead of anyOf null, no $defs)."""
    iso = {"type": "object", "nullable": True, "required": ["mode", "t1"], "additionalProperties": False,
           "properties": {"mode": {"type": "string", "enum": ["above", "below", "between"]},
                          "t1": {"type": "number"}, "t2": {"type": "number", "nullable": True},
                          "colour": {"type": "string", "pattern": "^#[0-9a-fA-F]{6}$"}}}
    return {"type": "object", "additionalProperties": False,
            "description": "Replaces the camera's display settings; values are in the camera's unit (°C or counts).",
            "properties": {"span": {"type": "string", "enum": ["auto", "fixed"]},
                           "lo": {"type": "number", "nullable": True}, "hi": {"type": "number", "nullable": True},
                           "isotherm": iso, "markers": {"type": "boolean"}}}


class DisplayHandler(BaseHandler):
    openapi = {
        "get": {"summary": "A camera's display settings and the colour bar's current scale", "tags": ["cameras"],
                "responses": {"200": {"description": RESULT}, **ERRORS}},
        "patch": {"summary": "Set level/span (auto or fixed lo..hi), an isotherm and hottest/coldest markers",
                  "tags": ["cameras"],
                  "requestBody": {"required": True, "content": {"application/json": {"schema": _schema()}}},
                  "responses": {"200": {"description": RESULT}, **ERRORS}},
    }

    def get(self, cid: str) -> None:
        self.write_json(self._state(self._camera(cid)))

    def patch(self, cid: str) -> None:
        camera_id = self._camera(cid)
        try:
            value = DisplaySettings.model_validate(self.json_body())
        except ValidationError as exc:
            raise ApiError(400, validation_message(exc)) from None
        self.runtime.display.set(camera_id, value)
        self.write_json(self._state(camera_id))

    def _camera(self, cid: str) -> int:
        camera_id = self.camera_id(cid)
        if not any(c["id"] == camera_id for c in self.runtime.cameras.list()):
            raise ApiError(404, f"no camera {camera_id}")
        return camera_id

    def _state(self, camera_id: int) -> dict:
        scale = None
        try:
            s = self.runtime.encoder(camera_id).display.scale
            scale = {"lo": s[0], "hi": s[1], "unit": s[2]} if s else None
        except LookupError:
            pass  # not connected: no picture, no scale
        return {"camera_id": camera_id, "settings": self.runtime.display.get(camera_id).model_dump(),
                "palette": self.runtime.cameras.palette(camera_id), "scale": scale}
