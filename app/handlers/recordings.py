"""REST routes for recordings: start/stop, list, one recording, protect, segment files (with HTTP
range requests, looked up by ID, never by a path from the request) and MP4 export."""

from __future__ import annotations

import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import av
import pandas as pd
import tornado.ioloop
import tornado.web

from app.handlers.api_models import Recording, RecordingList
from app.handlers.base import ApiError, BaseHandler, Guarded, GuardedFileHandler, call_mapped, http_error
from app.handlers.schema import json_content
from thermalstream.detect import queries
from thermalstream.detect.types import Box, Detection
from thermalstream.palettes import PALETTES
from thermalstream.record.burnin import burn_in_mp4
from thermalstream.record.export import ExportError, export_mp4
from thermalstream.record.recorder import parse_segment_name
from thermalstream.record.service import RecordingConflict, RecordingNotFound, StorageFull
from thermalstream.record.thumbnail import make_thumbnail

CAMERA_BODY = {
    "required": True,
    "content": {"application/json": {"schema": {
        "type": "object", "required": ["camera_id"], "properties": {"camera_id": {"type": "integer"}}}}},
}
ERRORS = {"400": {"description": "Bad request"}, "404": {"description": "Not found"},
          "409": {"description": "Conflict (camera not connected, already recording…)"}}


SEGMENT_SPAN_S = 120.0  # no segment runs longer than this after its start (10 s by default)
BURN_IN = [
    {"name": "palette", "in": "query", "schema": {"type": "string", "enum": list(PALETTES)},
     "description": "re-encode with this palette (from the lossless °C data where recorded)"},
    {"name": "detections", "in": "query", "schema": {"type": "boolean"},
     "description": "re-encode with the detections drawn in"},
]
RECORDING_ERRORS = {StorageFull: 507, RecordingConflict: 409, RecordingNotFound: 404}  # StorageFull first


def _call(fn, *args, **kwargs):
    return call_mapped(RECORDING_ERRORS, fn, *args, **kwargs)


def parse_time(value: str | None, name: str) -> datetime | None:
    if value in (None, ""):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ApiError(400, f"{name} must be an ISO 8601 time, e.g. 2026-11-24T08:00:00Z") from None


def with_urls(rec: dict) -> dict:
    rid = rec["id"]
    rec["media_url"] = f"/api/recordings/{rid}/segments/0" if rec.get("segment_paths") else None
    rec["segment_urls"] = [f"/api/recordings/{rid}/segments/{i}" for i in range(len(rec.get("segment_paths") or []))]
    rec["export_url"] = f"/api/recordings/{rid}/export.mp4"
    rec["thumbnail_url"] = f"/api/recordings/{rid}/thumbnail.jpg" if rec.get("segment_paths") else None
    return rec


class RecordingStartHandler(BaseHandler):
    openapi = {"post": {"summary": "Start recording a camera", "tags": ["recordings"], "requestBody": CAMERA_BODY,
                        "responses": {"201": {"description": "Recording row", "content": json_content(Recording)},
                                      "507": {"description": "Disk full"},
                                      **ERRORS}}}

    def post(self) -> None:
        cid = self.body_camera_id()
        self.write_json(with_urls(_call(self.runtime.recordings.start, cid)), status=201)

    def body_camera_id(self) -> int:
        cid = self.json_body().get("camera_id")
        if not isinstance(cid, int) or isinstance(cid, bool):
            raise ApiError(400, "field 'camera_id' (integer) is required")
        if self.runtime.manager.get(cid) is None and not any(c["id"] == cid for c in self.runtime.cameras.list()):
            raise ApiError(404, f"no camera {cid}")
        return self.require_camera(cid)


class RecordingStopHandler(RecordingStartHandler):
    openapi = {"post": {"summary": "Stop recording a camera", "tags": ["recordings"], "requestBody": CAMERA_BODY,
                        "responses": {"200": {"description": "Finished recording row",
                                              "content": json_content(Recording)}, **ERRORS}}}

    def post(self) -> None:
        cid = self.body_camera_id()
        self.write_json(with_urls(_call(self.runtime.recordings.stop, cid)))


class RecordingsHandler(BaseHandler):
    openapi = {"get": {
        "summary": "List recordings (newest first)", "tags": ["recordings"],
        "parameters": [
            {"name": "camera", "in": "query", "schema": {"type": "integer"}},
            {"name": "since", "in": "query", "schema": {"type": "string", "format": "date-time"}},
            {"name": "until", "in": "query", "schema": {"type": "string", "format": "date-time"}},
            {"name": "limit", "in": "query", "schema": {"type": "integer", "default": 200, "maximum": 1000}},
        ],
        "responses": {"200": {"description": "{recordings: [...]} with media URLs",
                              "content": json_content(RecordingList)}, **ERRORS}}}

    def get(self) -> None:
        camera = self.get_query_argument("camera", None)
        try:
            camera_id = int(camera) if camera not in (None, "") else None
            limit = min(max(int(self.get_query_argument("limit", "200")), 1), 1000)
        except ValueError:
            raise ApiError(400, "camera and limit must be integers") from None
        since = parse_time(self.get_query_argument("since", None), "since")
        until = parse_time(self.get_query_argument("until", None), "until")
        visible = self.visible_cameras()
        if camera_id is not None:
            self.require_camera(camera_id)
        rows = self.runtime.recordings.list(camera_id, since, until, limit=limit)
        self.write_json({"recordings": [with_urls(r) for r in rows if visible is None or r["camera_id"] in visible]})


class RecordingHandler(BaseHandler):
    openapi = {
        "get": {"summary": "One recording with its segments and gaps", "tags": ["recordings"],
                "responses": {"200": {"description": "Recording", "content": json_content(Recording)}, **ERRORS}},
        "patch": {"summary": "Protect a recording from retention (or release it)", "tags": ["recordings"],
                  "requestBody": {"required": True, "content": {"application/json": {"schema": {
                      "type": "object", "properties": {"protected": {"type": "boolean"}}}}}},
                  "responses": {"200": {"description": "Recording", "content": json_content(Recording)}, **ERRORS}},
        "delete": {"summary": "Delete a finished, unprotected recording and its files", "tags": ["recordings"],
                   "responses": {"204": {"description": "Deleted"},
                                 "409": {"description": "Still recording, or protected (unprotect it first)"},
                                 **ERRORS}},
    }

    def get(self, rid: str) -> None:
        self.write_json(with_urls(recording_of(self, rid)))

    def delete(self, rid: str) -> None:
        recording_of(self, rid)
        _call(self.runtime.recordings.delete, int(rid))
        self.set_status(204)
        self.finish()

    def patch(self, rid: str) -> None:
        recording_of(self, rid)
        body = self.json_body()
        if set(body) != {"protected"} or not isinstance(body["protected"], bool):
            raise ApiError(400, "body must be {\"protected\": true|false}")
        self.write_json(with_urls(_call(self.runtime.recordings.set_protected, int(rid), body["protected"])))


def recording_of(handler: Guarded, rid: str) -> dict:
    """Recording ``rid`` if the user may see its camera (404 otherwise: no probing for ids)."""
    rec = _call(handler.runtime.recordings.get, int(rid))
    try:
        handler.require_camera(rec["camera_id"])
    except ApiError:
        raise ApiError(404, f"no recording {rid}") from None
    return rec


def segment_file(handler: Guarded, rid: str, index: str) -> Path:
    """The file of segment ``index`` of recording ``rid``, resolved inside the recordings folder."""
    runtime = handler.runtime
    rec = recording_of(handler, rid)
    paths = rec.get("segment_paths") or []
    i = int(index)
    if not 0 <= i < len(paths):
        raise ApiError(404, f"recording {rid} has no segment {index}")
    try:
        path = runtime.recordings.resolve(paths[i])
    except ValueError:
        raise ApiError(404, "segment file is not available") from None
    if not path.is_file():
        raise ApiError(404, f"segment {index} of recording {rid} is missing on disk")
    return path


class SegmentHandler(GuardedFileHandler):
    """GET /api/recordings/{rid}/segments/{n}: an MP4 segment with Range support (seeking in browsers)."""

    openapi = {"get": {"summary": "One MP4 segment (supports Range requests)", "tags": ["recordings"],
                       "responses": {"200": {"description": "video/mp4"}, "206": {"description": "Partial content"},
                                     "404": {"description": "Not found"}}}}

    def folder(self, runtime) -> str:
        return str(runtime.recordings.root)

    async def get(self, rid: str, index: str, include_body: bool = True) -> None:
        try:
            path = segment_file(self, rid, index)
        except ApiError as exc:
            raise http_error(exc) from None
        rel = os.path.relpath(path, self.root)
        self.set_header("Content-Disposition", f'inline; filename="recording{rid}_seg{index}.mp4"')
        await super().get(rel, include_body)

    def get_content_type(self) -> str:
        return "video/mp4"


class ThumbnailHandler(BaseHandler):
    """GET /api/recordings/{rid}/thumbnail.jpg: the first frame, small."""

    openapi = {"get": {"summary": "Thumbnail of a recording", "tags": ["recordings"],
                       "responses": {"200": {"description": "image/jpeg"}, **ERRORS}}}

    async def get(self, rid: str) -> None:
        seg = segment_file(self, rid, "0")
        out = self.runtime.settings.data_dir / "thumbnails" / f"recording{int(rid)}.jpg"
        try:
            await tornado.ioloop.IOLoop.current().run_in_executor(None, make_thumbnail, seg, out)
        except (ValueError, OSError, av.error.FFmpegError) as exc:
            raise ApiError(404, f"no thumbnail: {exc}") from None
        self.set_header("Content-Type", "image/jpeg")
        self.set_header("Cache-Control", "private, max-age=3600")
        self.finish(out.read_bytes())


class ExportHandler(BaseHandler):
    """GET /api/recordings/{rid}/export.mp4: the whole recording as one MP4 (remuxed, not re-encoded)."""

    openapi = {"get": {"summary": "Download a recording as one MP4 (copied; re-encoded with a palette or "
                                  "detections burnt in when asked)", "tags": ["recordings"],
                       "parameters": BURN_IN,
                       "responses": {"200": {"description": "video/mp4 attachment"}, **ERRORS}}}

    async def get(self, rid: str) -> None:
        rec = recording_of(self, rid)
        await self.send_export([self.runtime.recordings.resolve(p) for p in rec.get("segment_paths") or []],
                               f"recording{rid}.mp4", rec["camera_id"])

    def _burn_in(self) -> tuple[str | None, bool]:
        palette = self.get_query_argument("palette", None) or None
        if palette is not None and palette not in PALETTES:
            raise ApiError(400, f"palette must be one of {', '.join(PALETTES)}")
        return palette, self.get_query_argument("detections", "0") in ("1", "true", "yes")

    def _detections(self, camera_id: int, segments: list[Path]) -> list:
        starts = [s for p in segments if (s := parse_segment_name(p.name))]
        if not starts:
            return []
        since = datetime.fromtimestamp(min(t for _, t in starts), UTC)
        until = datetime.fromtimestamp(max(t for _, t in starts) + SEGMENT_SPAN_S, UTC)
        df = queries.detections_dataframe(self.runtime.db, camera=camera_id, since=since, until=until, limit=None)
        return [(r.timestamp.timestamp(), Detection(r.label, r.confidence, Box(r.x1, r.y1, r.x2, r.y2),
                                                    track_id=None if r.track_id is pd.NA else r.track_id))
                for r in df.itertuples()]

    async def send_export(self, segments: list[Path], filename: str, camera_id: int) -> None:
        segments = [p for p in segments if p.is_file()]
        palette, with_dets = self._burn_in()
        with tempfile.TemporaryDirectory(dir=self.runtime.settings.cache_dir) as tmp:
            out = Path(tmp) / filename
            loop = tornado.ioloop.IOLoop.current()
            try:
                if palette or with_dets:
                    dets = self._detections(camera_id, segments) if with_dets else []
                    await loop.run_in_executor(None, lambda: burn_in_mp4(segments, out, palette=palette,
                                                                         detections=dets))
                else:
                    await loop.run_in_executor(None, export_mp4, segments, out)
            except ExportError as exc:
                raise ApiError(404, str(exc)) from None
            self.set_header("Content-Type", "video/mp4")
            self.set_header("Content-Disposition", f'attachment; filename="{filename}"')
            self.set_header("Content-Length", str(out.stat().st_size))
            with out.open("rb") as fh:
                while chunk := fh.read(1 << 20):
                    self.write(chunk)
                    await self.flush()
        self.finish()


class CameraExportHandler(ExportHandler):
    """GET /api/cameras/{cid}/export.mp4?since=&until=: every segment of that camera overlapping the range."""

    openapi = {"get": {
        "summary": "Export a time range of a camera as one MP4", "tags": ["recordings"],
        "parameters": [{"name": "since", "in": "query", "required": True, "schema": {"type": "string"}},
                       {"name": "until", "in": "query", "required": True, "schema": {"type": "string"}},
                       *BURN_IN],
        "responses": {"200": {"description": "video/mp4 attachment"}, **ERRORS}}}

    async def get(self, cid: str) -> None:
        since = parse_time(self.get_query_argument("since", None), "since")
        until = parse_time(self.get_query_argument("until", None), "until")
        if since is None or until is None or until <= since:
            raise ApiError(400, "since and until are required, with since before until")
        segments = self.runtime.recordings.segments_between(self.camera_id(cid), since, until)
        stamp = since.strftime("%Y%m%dT%H%M%S")
        await self.send_export(segments, f"camera{cid}_{stamp}.mp4", int(cid))
