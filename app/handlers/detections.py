"""REST routes for detection: queries (paged), events, screenshots by ID, per-camera settings, zones."""

from __future__ import annotations

from pathlib import Path

from app.handlers.base import ApiError, BaseHandler, call_mapped
from thermalstream.detect import queries
from thermalstream.detect.zones import ZoneError

FILTERS = [
    {"name": "camera", "in": "query", "schema": {"type": "integer"}},
    {"name": "class", "in": "query", "schema": {"type": "string"}, "description": "label, e.g. person"},
    {"name": "since", "in": "query", "schema": {"type": "string", "format": "date-time"}},
    {"name": "until", "in": "query", "schema": {"type": "string", "format": "date-time"}},
    {"name": "min_confidence", "in": "query", "schema": {"type": "number", "minimum": 0, "maximum": 1}},
    {"name": "limit", "in": "query", "schema": {"type": "integer", "default": 100, "maximum": 1000}},
    {"name": "offset", "in": "query", "schema": {"type": "integer", "default": 0}},
]
ERRORS = {"400": {"description": "Bad filter or setting"}, "404": {"description": "Not found"}}


class QueryHandler(BaseHandler):
    def filters(self) -> dict:
        """Query arguments as keyword arguments of the query functions (thermalstream.detect.queries)."""
        arg = self.get_query_argument
        try:
            camera = int(arg("camera")) if arg("camera", "") else None
            limit = int(arg("limit", "100"))
            offset = int(arg("offset", "0"))
            conf = float(arg("min_confidence")) if arg("min_confidence", "") else None
        except ValueError:
            raise ApiError(400, "camera, limit and offset must be integers; min_confidence a number") from None
        return {"camera": camera, "label": arg("class", None) or None, "since": arg("since", None) or None,
                "until": arg("until", None) or None, "min_confidence": conf, "limit": limit, "offset": offset}

    def page(self, rows_fn, count_fn, key: str) -> None:
        f = self.filters()
        visible = self.visible_cameras()
        if f["camera"] is not None:
            self.require_camera(f["camera"])
        elif visible is not None:
            if not visible:  # this user may see no camera at all
                self.write_json({key: [], "total": 0, "limit": f["limit"], "offset": f["offset"]})
                return
            f["camera"] = sorted(visible)
        try:
            rows = rows_fn(self.runtime.db, **f)
            total = count_fn(self.runtime.db, **{k: v for k, v in f.items() if k not in ("limit", "offset")})
        except ValueError as exc:
            raise ApiError(400, str(exc)) from None
        self.write_json({key: rows, "total": total, "limit": f["limit"], "offset": f["offset"]})


class DetectionsHandler(QueryHandler):
    openapi = {"get": {"summary": "Detections, newest first (paged)", "tags": ["detection"], "parameters": FILTERS,
                       "responses": {"200": {"description": "{detections, total, limit, offset}"}, **ERRORS}}}

    def get(self) -> None:
        self.page(queries.query_detections, queries.count_detections, "detections")


class EventsHandler(QueryHandler):
    openapi = {"get": {"summary": "Events (one tracked object, first to last sighting), newest first",
                       "tags": ["detection"], "parameters": FILTERS,
                       "responses": {"200": {"description": "{events, total, limit, offset}"}, **ERRORS}}}

    def get(self) -> None:
        self.page(queries.query_events, queries.count_events, "events")


class ImageHandler(BaseHandler):
    """A screenshot looked up by ID in the database; the path never comes from the request."""

    def require_owned(self, camera_id: int | None, what: str) -> None:
        """404 for ids that do not exist or belong to a camera this user may not see."""
        if camera_id is None:
            raise ApiError(404, f"no {what}")
        try:
            self.require_camera(camera_id)
        except ApiError:
            raise ApiError(404, f"no {what}") from None

    def send_image(self, path: Path | None, what: str) -> None:
        if path is None or not path.is_file():
            raise ApiError(404, f"no screenshot for {what}")
        self.set_header("Content-Type", "image/jpeg")
        self.set_header("Cache-Control", "private, max-age=3600")
        self.finish(path.read_bytes())


class DetectionScreenshotHandler(ImageHandler):
    openapi = {"get": {"summary": "Annotated screenshot of a detection", "tags": ["detection"],
                       "responses": {"200": {"description": "image/jpeg"}, **ERRORS}}}

    def get(self, did: str) -> None:
        self.require_owned(queries.camera_of(self.runtime.db, detection_id=int(did)), f"detection {did}")
        path = queries.screenshot_path(self.runtime.db, int(did), self.runtime.settings.screenshots_dir)
        self.send_image(path, f"detection {did}")


class EventSnapshotHandler(ImageHandler):
    openapi = {"get": {"summary": "Best snapshot of an event", "tags": ["detection"],
                       "responses": {"200": {"description": "image/jpeg"}, **ERRORS}}}

    def get(self, eid: str) -> None:
        self.require_owned(queries.camera_of(self.runtime.db, event_id=int(eid)), f"event {eid}")
        path = queries.event_snapshot_path(self.runtime.db, int(eid), self.runtime.settings.screenshots_dir)
        self.send_image(path, f"event {eid}")


def _camera_call(fn, *args, **kwargs):
    return call_mapped({LookupError: 404, ValueError: 400, ZoneError: 400}, fn, *args, **kwargs)


class CameraDetectionHandler(BaseHandler):
    """GET/PATCH /api/cameras/{id}/detection: switch detection and set fps, confidence, classes."""

    openapi = {
        "get": {"summary": "Detection settings and status of a camera", "tags": ["detection"],
                "responses": {"200": {"description": "config"}, **ERRORS}},
        "patch": {
            "summary": "Switch detection on/off or change its settings", "tags": ["detection"],
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "properties": {
                    "enabled": {"type": "boolean"}, "fps": {"type": "number", "exclusiveMinimum": 0},
                    "min_confidence": {"type": "number", "minimum": 0, "maximum": 1},
                    "labels": {"type": "array", "items": {"type": "string"}}, "bypass_gate": {"type": "boolean"}}}}}},
            "responses": {"200": {"description": "config"}, **ERRORS}},
    }
    FIELDS = {"enabled", "fps", "min_confidence", "labels", "bypass_gate"}

    def get(self, cid: str) -> None:
        self.write_json(_camera_call(self.runtime.detection.config, self.camera_id(cid)))

    def patch(self, cid: str) -> None:
        body = self.json_body()
        unknown = set(body) - self.FIELDS
        if unknown or not body:
            raise ApiError(400, f"give one or more of {sorted(self.FIELDS)}" + (f"; unknown: {sorted(unknown)}"
                                                                                 if unknown else ""))
        self.write_json(_camera_call(self.runtime.detection.configure, self.camera_id(cid), **body))


class CameraZonesHandler(BaseHandler):
    """GET/PUT /api/cameras/{id}/zones: masks the detector ignores and named zones."""

    openapi = {
        "get": {"summary": "Masks and zones of a camera", "tags": ["detection"],
                "responses": {"200": {"description": "{masks, zones}"}, **ERRORS}},
        "put": {"summary": "Replace masks and/or zones (polygons in 0..1 image coordinates)", "tags": ["detection"],
                "requestBody": {"required": True, "content": {"application/json": {"schema": {
                    "type": "object", "properties": {"masks": {"type": "array"}, "zones": {"type": "array"}}}}}},
                "responses": {"200": {"description": "{masks, zones}"}, **ERRORS}},
    }

    def get(self, cid: str) -> None:
        cam = _camera_call(self.runtime.cameras.get, self.camera_id(cid))
        settings = cam.get("settings") or {}
        self.write_json({"masks": settings.get("masks", []), "zones": settings.get("zones", [])})

    def put(self, cid: str) -> None:
        body = self.json_body()
        if not set(body) <= {"masks", "zones"} or not body:
            raise ApiError(400, "body must have 'masks' and/or 'zones'")
        self.write_json(_camera_call(self.runtime.detection.set_zones, self.camera_id(cid),
                                     masks=body.get("masks"), zones=body.get("zones")))
