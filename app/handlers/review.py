"""GET /api/cameras/{id}/timeline: a camera's review timeline (recorded bands, segments, events, alarms)
for a day in a time zone (``day`` + ``tz``) or for a range (``since`` + ``until``)."""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict

from app.handlers.base import ApiError, BaseHandler
from app.handlers.recordings import parse_time
from app.handlers.schema import op
from thermalstream.review import camera_timeline, day_range


def segment_url(recording_id: int, index: int) -> str:
    """Where a segment is served (``SegmentHandler``): by recording id and index, never by path."""
    return f"/api/recordings/{recording_id}/segments/{index}"


class _Out(BaseModel):
    model_config = ConfigDict(extra="allow")


class Band(_Out):
    start: str
    end: str
    recordings: list[int]


class Segment(_Out):
    recording_id: int
    index: int
    start: str
    end: str
    url: str


class Mark(_Out):
    id: int
    start: str
    end: str | None = None


class Timeline(_Out):
    """Recorded bands, segments (with their URLs), events and alarms overlapping the range (UTC times)."""

    camera_id: int
    since: str
    until: str
    bands: list[Band]
    segments: list[Segment]
    events: list[Mark]
    alarms: list[Mark]
    truncated: bool


PARAMS = [
    {"name": "day", "in": "query", "schema": {"type": "string", "format": "date"},
     "description": "a calendar day (YYYY-MM-DD) in the zone ``tz``; or give since and until"},
    {"name": "tz", "in": "query", "schema": {"type": "string"},
     "description": "IANA time zone of ``day`` (default UTC)"},
    {"name": "since", "in": "query", "schema": {"type": "string"}, "description": "ISO 8601 start (with until)"},
    {"name": "until", "in": "query", "schema": {"type": "string"}, "description": "ISO 8601 end, at most 8 days on"},
]


class CameraTimelineHandler(BaseHandler):
    openapi = {"get": op("A camera's review timeline: recorded bands, segments, events and alarms", "recordings",
                         ok=Timeline, parameters=PARAMS,
                         errors={400: "Bad day, zone or range", 404: "No such camera (or not visible to you)"})}

    def get(self, cid: str) -> None:
        camera_id = self.camera_id(cid)
        since, until = self._range()
        try:
            out = camera_timeline(self.runtime.db, camera_id, since, until)
        except ValueError as exc:
            raise ApiError(400, str(exc)) from None
        for seg in out["segments"]:
            seg["url"] = segment_url(seg["recording_id"], seg["index"])
        self.write_json(out)

    def _range(self):
        arg = self.get_query_argument
        day, tz = arg("day", None), arg("tz", None) or "UTC"
        if day:
            try:
                ZoneInfo(tz)
            except (KeyError, ValueError):  # ZoneInfoNotFoundError is a KeyError
                raise ApiError(400, f"unknown time zone {tz!r} (use an IANA name such as Europe/Berlin)") from None
            try:
                return day_range(date.fromisoformat(day), tz)
            except ValueError:
                raise ApiError(400, "day must be a date, YYYY-MM-DD") from None
        since, until = parse_time(arg("since", None), "since"), parse_time(arg("until", None), "until")
        if since is None or until is None:
            raise ApiError(400, "give day=YYYY-MM-DD (and tz), or since and until")
        if since.tzinfo is None or until.tzinfo is None:
            raise ApiError(400, "since and until need a zone offset or Z")
        return since, until
