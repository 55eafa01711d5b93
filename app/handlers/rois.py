"""Measurement regions, their series and live values, alarm rules and alarms.

* ``GET/POST /api/cameras/{id}/rois``, ``GET/PATCH/DELETE /api/rois/{id}``, ``GET /api/rois/{id}/series``,
  ``GET /api/rois/{id}/live``: viewers see, operators create and change.
* ``GET/POST /api/cameras/{id}/alarm-rules``, ``GET/PATCH/DELETE /api/alarm-rules/{id}``.
* ``GET /api/alarms`` lists alarms; ``PATCH /api/alarms/{id}`` with ``{"acknowledged": true}`` acknowledges one.

Everything of a camera the user may not see answers 404, like an unknown id.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.handlers.base import ApiError, BaseHandler, call_mapped, int_arg, parse_id
from app.handlers.schema import op, parse_model
from thermalstream.measure import series, store
from thermalstream.measure.alarms import RuleError
from thermalstream.measure.geometry import RoiError

ERRORS = {400: "Invalid body or query (the message names the field)", 404: "No such ROI, rule, alarm or camera"}
MAPPED = {store.NotFound: 404, RoiError: 400, RuleError: 400, ValueError: 400}
Point = list[float]


class Out(BaseModel):
    model_config = ConfigDict(extra="allow")


class RoiBody(BaseModel):
    """A new measurement region: a spot gives one point, a box two corners, a line two ends, a polygon
    3 to 64 vertices; coordinates normalised to the image (0..1)."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["spot", "box", "polygon", "line"]
    points: list[Point] = Field(min_length=1, max_length=64, examples=[[[0.1, 0.2], [0.4, 0.5]]])
    name: str | None = Field(default=None, min_length=1, max_length=128)


class RoiPatch(BaseModel):
    """Fields given replace the stored ones (a new kind needs new points)."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["spot", "box", "polygon", "line"] | None = None
    points: list[Point] | None = Field(default=None, min_length=1, max_length=64)
    name: str | None = Field(default=None, min_length=1, max_length=128)


class RoiLive(Out):
    """Newest values of an ROI (unit '°C' or 'counts'); ``profile`` for a line."""

    t: float
    min: float
    max: float
    mean: float
    std: float
    unit: str | None
    hot: list[int]
    ffc: bool


class RoiOut(Out):
    """A measurement region, with its newest values (``live``, null when not measured yet)."""

    id: int
    camera_id: int
    name: str
    kind: str
    points: list[Point]
    live: RoiLive | None = None


class RoiList(Out):
    """A camera's ROIs and the unit of their values."""

    rois: list[RoiOut]
    unit: str | None = None
    alarms: list[int] = Field(default_factory=list, description="ids of the camera's rules raised now")


class SeriesPoint(Out):
    t: str
    min: float
    max: float
    mean: float
    std: float | None
    samples: int
    unit: str
    resolution: Literal["raw", "minute"]


class Series(Out):
    """An ROI's series, oldest first."""

    roi_id: int
    points: list[SeriesPoint]


class RuleBody(BaseModel):
    """An alarm rule. ``roi_id`` null: the whole frame. Thresholds in the camera's unit: ``above`` uses
    ``high``, ``below`` ``low``, ``outside`` both, ``rise`` ``high`` per minute, ``difference`` ``high``
    (roi minus ``other_roi_id``). ``record``: start an event recording (camera in events mode)."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["above", "below", "outside", "rise", "difference"]
    name: str | None = Field(default=None, min_length=1, max_length=128)
    roi_id: int | None = None
    other_roi_id: int | None = None
    statistic: Literal["max", "min", "mean"] = "max"
    low: float | None = None
    high: float | None = None
    hysteresis: float = Field(default=0.5, ge=0, le=1e6)
    min_duration_s: float = Field(default=0.0, ge=0, le=86400)
    enabled: bool = True
    record: bool = False


class RulePatch(BaseModel):
    """Fields given replace the stored ones."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["above", "below", "outside", "rise", "difference"] | None = None
    name: str | None = Field(default=None, min_length=1, max_length=128)
    roi_id: int | None = None
    other_roi_id: int | None = None
    statistic: Literal["max", "min", "mean"] | None = None
    low: float | None = None
    high: float | None = None
    hysteresis: float | None = Field(default=None, ge=0, le=1e6)
    min_duration_s: float | None = Field(default=None, ge=0, le=86400)
    enabled: bool | None = None
    record: bool | None = None


class RuleOut(Out):
    """An alarm rule."""

    id: int
    camera_id: int
    kind: str
    name: str


class AlarmOut(Out):
    """An alarm: raised once, cleared once (``cleared_at`` null while it is up)."""

    id: int
    camera_id: int
    name: str
    raised_at: str
    cleared_at: str | None
    value: float
    unit: str
    acknowledged_at: str | None


class AlarmList(Out):
    """Alarms, newest first."""

    alarms: list[AlarmOut]


class AckBody(BaseModel):
    """Acknowledge the alarm."""

    model_config = ConfigDict(extra="forbid")
    acknowledged: Literal[True]


class Deleted(Out):
    """What was deleted."""

    deleted: int


SERIES_PARAMS = [
    {"name": "since", "in": "query", "schema": {"type": "string", "format": "date-time"}},
    {"name": "until", "in": "query", "schema": {"type": "string", "format": "date-time"}},
    {"name": "resolution", "in": "query", "schema": {"type": "string", "enum": list(series.RESOLUTIONS)},
     "description": "raw (1 Hz samples), minute (aggregates, kept longer) or auto"},
    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 100000}},
]
ALARM_PARAMS = [
    {"name": "camera", "in": "query", "schema": {"type": "integer"}},
    {"name": "active", "in": "query", "schema": {"type": "boolean"}},
    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000}},
    {"name": "offset", "in": "query", "schema": {"type": "integer", "minimum": 0}},
]


def _given(model: BaseModel) -> dict[str, Any]:
    return model.model_dump(exclude_unset=True)


class _Measure(BaseHandler):
    def call(self, fn, *args, **kwargs):
        return call_mapped(MAPPED, fn, *args, **kwargs)

    def with_live(self, roi: dict) -> dict:
        return {**roi, "live": self.runtime.measure.roi_live(roi["camera_id"], roi["id"])}

    def reload(self, camera_id: int) -> None:
        self.runtime.measure.reload(camera_id)

    def roi(self, raw: str) -> dict:
        return self.call(store.get_roi, self.runtime.db, parse_id(raw, "ROI"), self.visible_cameras())

    def user_id(self) -> int | None:
        return self.principal.user_id if self.principal else None


class CameraRoisHandler(_Measure):
    openapi = {"get": op("A camera's measurement regions with their newest values", "thermal", ok=RoiList,
                         errors=ERRORS),
               "post": op("Add a measurement region (spot, box, polygon, line) to a camera", "thermal",
                          body=RoiBody, ok=RoiOut, status=201, errors=ERRORS)}

    def get(self, cid: str) -> None:
        camera_id = self.camera_id(cid)
        live = self.runtime.measure.live(camera_id) or {}
        rois = [self.with_live(r) for r in store.list_rois(self.runtime.db, camera_id)]
        self.write_json({"rois": rois, "unit": live.get("unit"), "alarms": live.get("alarms", [])})

    def post(self, cid: str) -> None:
        camera_id = self.camera_id(cid)
        body = parse_model(self.json_body(), RoiBody)
        roi = self.call(store.create_roi, self.runtime.db, camera_id, body.kind, body.points, body.name,
                        self.user_id())
        self.reload(camera_id)
        self.write_json(self.with_live(roi), 201)


class RoiHandler(_Measure):
    openapi = {"get": op("A measurement region with its newest values", "thermal", ok=RoiOut, errors=ERRORS),
               "patch": op("Rename, move or reshape a measurement region", "thermal", body=RoiPatch, ok=RoiOut,
                           errors=ERRORS),
               "delete": op("Delete a measurement region (its series and alarm rules go with it)", "thermal",
                            ok=Deleted, errors=ERRORS)}

    def get(self, roi: str) -> None:
        self.write_json(self.with_live(self.roi(roi)))

    def patch(self, roi: str) -> None:
        changes = _given(parse_model(self.json_body(), RoiPatch))
        out = self.call(store.update_roi, self.runtime.db, parse_id(roi, "ROI"), changes, self.visible_cameras())
        self.reload(out["camera_id"])
        self.write_json(self.with_live(out))

    def delete(self, roi: str) -> None:
        rid = parse_id(roi, "ROI")
        self.reload(self.call(store.delete_roi, self.runtime.db, rid, self.visible_cameras()))
        self.write_json({"deleted": rid})


class RoiSeriesHandler(_Measure):
    openapi = {"get": op("An ROI's temperature series (raw 1 Hz samples and per-minute aggregates)", "thermal",
                         ok=Series, errors=ERRORS, parameters=SERIES_PARAMS)}

    def get(self, roi: str) -> None:
        r = self.roi(roi)
        arg = self.get_query_argument
        limit = int_arg(arg("limit", None), "limit", series.MAX_POINTS, 1, series.MAX_POINTS)
        points = self.call(series.query, self.runtime.db, r["id"], arg("since", None) or None,
                           arg("until", None) or None, arg("resolution", "auto") or "auto", limit)
        self.write_json({"roi_id": r["id"], "points": points})


class RoiLiveHandler(_Measure):
    openapi = {"get": op("An ROI's newest values (min, max, mean, std, hottest point; a line's profile)",
                         "thermal", ok=RoiLive, errors={**ERRORS, 409: "Not measured yet (camera not live, or "
                                                                 "it gives pictures only)"})}

    def get(self, roi: str) -> None:
        r = self.roi(roi)
        live = self.runtime.measure.roi_live(r["camera_id"], r["id"])
        if live is None:
            why = (self.runtime.measure.live(r["camera_id"]) or {}).get("error") or "no frame measured yet"
            raise ApiError(409, why)
        self.write_json(live)


class CameraRulesHandler(_Measure):
    openapi = {"get": op("A camera's alarm rules", "thermal", ok={"type": "array", "items": {"type": "object"}},
                         errors=ERRORS),
               "post": op("Add an alarm rule (above, below, outside, rise, difference) to a camera", "thermal",
                          body=RuleBody, ok=RuleOut, status=201, errors=ERRORS)}

    def get(self, cid: str) -> None:
        self.write_json(store.list_rules(self.runtime.db, self.camera_id(cid)))

    def post(self, cid: str) -> None:
        camera_id = self.camera_id(cid)
        body = parse_model(self.json_body(), RuleBody)
        rule = self.call(store.create_rule, self.runtime.db, camera_id, body.model_dump(), self.user_id())
        self.reload(camera_id)
        self.write_json(rule, 201)


class RuleHandler(_Measure):
    openapi = {"get": op("An alarm rule", "thermal", ok=RuleOut, errors=ERRORS),
               "patch": op("Change an alarm rule", "thermal", body=RulePatch, ok=RuleOut, errors=ERRORS),
               "delete": op("Delete an alarm rule (a raised alarm of it is cleared)", "thermal", ok=Deleted,
                            errors=ERRORS)}

    def get(self, rule: str) -> None:
        self.write_json(self.call(store.get_rule, self.runtime.db, parse_id(rule, "rule"), self.visible_cameras()))

    def patch(self, rule: str) -> None:
        changes = _given(parse_model(self.json_body(), RulePatch))
        out = self.call(store.update_rule, self.runtime.db, parse_id(rule, "rule"), changes, self.visible_cameras())
        self.reload(out["camera_id"])
        self.write_json(out)

    def delete(self, rule: str) -> None:
        rid = parse_id(rule, "rule")
        self.reload(self.call(store.delete_rule, self.runtime.db, rid, self.visible_cameras()))
        self.write_json({"deleted": rid})


class AlarmsHandler(_Measure):
    openapi = {"get": op("Alarms of the cameras you may see, newest first", "thermal", ok=AlarmList,
                         errors=ERRORS, parameters=ALARM_PARAMS)}

    def get(self) -> None:
        arg = self.get_query_argument
        camera = arg("camera", "") or None
        if camera is not None:
            self.require_camera(parse_id(camera, "camera"))
        active = {"": None, "true": True, "1": True, "false": False, "0": False}.get(arg("active", "").lower(), "bad")
        if active == "bad":
            raise ApiError(400, "'active' must be true or false")
        rows = store.list_alarms(self.runtime.db, self.visible_cameras(), None if camera is None else int(camera),
                                 active, int_arg(arg("limit", None), "limit", 100, 1, 1000),
                                 int_arg(arg("offset", None), "offset", 0, 0, 10**9))
        self.write_json({"alarms": rows})


class AlarmHandler(_Measure):
    openapi = {"patch": op("Acknowledge an alarm", "thermal", body=AckBody, ok=AlarmOut, errors=ERRORS)}

    def patch(self, aid: str) -> None:
        parse_model(self.json_body(), AckBody)
        self.write_json(self.call(self.runtime.measure.acknowledge, parse_id(aid, "alarm"), self.user_id(),
                                  self.visible_cameras()))
