"""GET/PATCH /api/cameras/{id}/radiometry: a camera's object parameters (emissivity, reflected
and atmospheric temperature, humidity, distance) and the calibration of a counts source."""

from __future__ import annotations

from pydantic import ValidationError

from app.handlers.base import ApiError, BaseHandler
from thermalstream.cameras import CameraNotFound
from thermalstream.sources.url import CameraURLError

RESULT = ("{camera_id, settings (null: the source's own value), temperature_unit ('°C', 'counts' or null), "
          "calibrated, description, source_unit, in_effect (object parameters behind the °C, or null)}")
ERRORS = {"400": {"description": "Invalid value (the message names the field)"},
          "404": {"description": "No such camera"}}


def _num(lo: float, hi: float, text: str) -> dict:
    return {"type": "number", "minimum": lo, "maximum": hi, "nullable": True, "description": text}


def schema() -> dict:
    """The request body (OpenAPI 3.0); the bounds are those of ``RadiometrySettings``."""
    point = {"type": "object", "required": ["counts", "celsius"],
             "properties": {"counts": {"type": "number"}, "celsius": {"type": "number"}}}
    return {
        "type": "object", "additionalProperties": False,
        "description": "Fields given replace the stored ones; null resets a field to the source's own value.",
        "properties": {
            "emissivity": _num(0.01, 1.0, "object emissivity"),
            "reflected_c": _num(-273.15, 2000, "reflected apparent temperature, °C"),
            "atmosphere_c": _num(-60, 100, "atmospheric temperature, °C"),
            "humidity": _num(0, 1, "relative humidity as a fraction (0.5 = 50 %)"),
            "distance_m": _num(0, 100000, "distance to the object, metres"),
            "calibration": {"type": "object", "nullable": True,
                            "description": "counts sources only: {a, b} for °C = a*counts + b, or two points",
                            "properties": {"a": {"type": "number"}, "b": {"type": "number"},
                                           "points": {"type": "array", "minItems": 2, "maxItems": 2,
                                                      "items": point}}},
        },
    }


def validation_message(exc: ValidationError) -> str:
    """One line per problem, naming the field: 'emissivity: Input should be less than or equal to 1'."""
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "body"
        parts.append(f"{where}: {err['msg'].removeprefix('Value error, ')}")
    return "; ".join(parts)


class RadiometryHandler(BaseHandler):
    openapi = {
        "get": {"summary": "Object parameters and calibration of a camera, and the unit of its temperatures",
                "tags": ["cameras"], "responses": {"200": {"description": RESULT}, **ERRORS}},
        "patch": {"summary": "Set emissivity, reflected/atmospheric temperature, humidity, distance, or the "
                             "calibration of a counts source; applies from the next frame",
                  "tags": ["cameras"],
                  "requestBody": {"required": True, "content": {"application/json": {"schema": schema()}}},
                  "responses": {"200": {"description": RESULT}, **ERRORS}},
    }

    def get(self, cid: str) -> None:
        try:
            self.write_json(self.runtime.cameras.radiometry(self.camera_id(cid)))
        except CameraNotFound as exc:
            raise ApiError(404, str(exc)) from None

    def patch(self, cid: str) -> None:
        camera = self.camera_id(cid)
        body = self.json_body()
        try:
            self.write_json(self.runtime.cameras.set_radiometry(camera, body))
        except ValidationError as exc:
            raise ApiError(400, validation_message(exc)) from None
        except CameraURLError as exc:
            raise ApiError(400, str(exc)) from None
        except CameraNotFound as exc:
            raise ApiError(404, str(exc)) from None
