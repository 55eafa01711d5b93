"""REST routes for storage: usage now, usage over time, and a retention pass on demand.

Walking the data folders and deleting files happen in a worker thread, never on the event loop.
A dry run only plans (nothing is deleted, and the job's "last result" is left alone).
"""

from __future__ import annotations

from typing import Any

import tornado.ioloop

from app.handlers.base import ApiError, BaseHandler
from app.handlers.recordings import parse_time
from thermalstream.storage import CATEGORIES, list_samples, usage
from thermalstream.storage.samples import DISK_CATEGORIES
from thermalstream.storage.growth import growth
from thermalstream.storage.media import archive_usage
from thermalstream.storage.usage import visible_usage

ERRORS = {"400": {"description": "Bad request"}}


def _run(fn, *args, **kwargs):
    return tornado.ioloop.IOLoop.current().run_in_executor(None, lambda: fn(*args, **kwargs))


def storage_report(runtime, visible: set[int] | None = None) -> dict[str, Any]:
    """Usage per category and camera, the disk, the policy in force and the last cleanup pass, as a
    user who sees the cameras in ``visible`` (None: all) may see them."""
    snap = visible_usage(usage(runtime.settings), visible)
    names = {str(c["id"]): c["name"] for c in runtime.cameras.list(visible)}
    job = runtime.cleanup
    return {
        **snap,
        # admins only: files of deleted cameras, which retention never deletes
        **({"archived_media": archive_usage(runtime.settings.archive_dir)} if visible is None else {}),
        "camera_names": names,
        "policy": {**job.policy.to_dict(), "active": job.policy.active,
                   "cleanup_interval_s": runtime.settings.cleanup_interval_s},
        "last_cleanup": job.last_result,
        "retention_warnings": job.warnings(),  # limits that cannot be met (the archive is kept)
        "growth": growth(runtime.db, job.policy, visible=visible),
    }


def preview_cleanup(runtime) -> dict[str, Any]:
    """What one retention pass would delete now (nothing is deleted)."""
    job = runtime.cleanup
    plan = job.plan() if job.policy.active else None
    return {"dry_run": True, "plan": plan.to_dict() if plan is not None else None, "result": None}


def run_cleanup(runtime) -> dict[str, Any]:
    return {"dry_run": False, **runtime.cleanup.run()}


class StorageHandler(BaseHandler):
    openapi = {"get": {
        "summary": "Storage usage per category (recordings, screenshots, detections, thumbnails) and per camera, "
                   "the disk, the retention policy in force and the last cleanup result",
        "tags": ["storage"],
        "responses": {"200": {"description": "{categories, cameras, camera_names, total, disk, policy, "
                                             "last_cleanup, retention_warnings (limit -> why it cannot be "
                                             "met), growth {cameras: {id: bytes/day}, total_per_day, "
                                             "days_to_disk_full, days_to_size_limit}}; admins also get archived_media {bytes, files, "
                                             "cameras}: files of deleted cameras, never deleted by retention"}}}}

    async def get(self) -> None:
        self.write_json(await _run(storage_report, self.runtime, self.visible_cameras()))


class StorageSamplesHandler(BaseHandler):
    openapi = {"get": {
        "summary": "Storage usage over time (oldest first), for charts", "tags": ["storage"],
        "parameters": [
            {"name": "since", "in": "query", "schema": {"type": "string", "format": "date-time"}},
            {"name": "until", "in": "query", "schema": {"type": "string", "format": "date-time"}},
            {"name": "category", "in": "query",
             "schema": {"type": "string", "enum": [*CATEGORIES, *DISK_CATEGORIES]}},
            {"name": "camera", "in": "query", "schema": {"type": "string"},
             "description": "a camera id, or 'none' for category totals only; absent: every row"},
            {"name": "limit", "in": "query", "schema": {"type": "integer", "default": 10000, "maximum": 100000}},
        ],
        "responses": {"200": {"description": "{samples: [{timestamp, category, camera_id, bytes, files}]}"},
                      **ERRORS}}}

    async def get(self) -> None:
        since = parse_time(self.get_query_argument("since", None), "since")
        until = parse_time(self.get_query_argument("until", None), "until")
        category = self.get_query_argument("category", None) or None
        if category is not None and category not in (*CATEGORIES, *DISK_CATEGORIES):
            raise ApiError(400, f"category must be one of {', '.join((*CATEGORIES, *DISK_CATEGORIES))}")
        kwargs: dict[str, Any] = {"since": since, "until": until, "category": category}
        camera = self.get_query_argument("camera", None)
        try:
            if camera in ("none", "null", "total"):
                kwargs["camera_id"] = None
            elif camera not in (None, ""):
                kwargs["camera_id"] = int(camera)
            kwargs["limit"] = min(max(int(self.get_query_argument("limit", "10000")), 1), 100_000)
        except ValueError:
            raise ApiError(400, "camera must be an integer or 'none'; limit an integer") from None
        visible = self.visible_cameras()
        if visible is not None and isinstance(kwargs.get("camera_id"), int) and kwargs["camera_id"] not in visible:
            raise ApiError(404, f"no camera {kwargs['camera_id']}")
        self.write_json({"samples": await _run(list_samples, self.runtime.db, **kwargs, visible=visible)})


class StorageCleanupHandler(BaseHandler):
    openapi = {"post": {
        "summary": "Run one retention pass now (admin); {\"dry_run\": true} lists what would be deleted",
        "tags": ["storage"],
        "requestBody": {"required": False, "content": {"application/json": {"schema": {
            "type": "object", "properties": {"dry_run": {"type": "boolean", "default": False}}}}}},
        "responses": {"200": {"description": "{dry_run, plan: {delete: [...], segments, bytes, unsatisfied...}, "
                                             "result: {deleted_segments, freed_bytes, refused...} | null}"},
                      "409": {"description": "A cleanup pass is already running"},
                      "500": {"description": "The pass failed"}, **ERRORS}}}

    async def post(self) -> None:
        body = self.json_body()
        dry_run = body.get("dry_run", False)
        if not isinstance(dry_run, bool) or set(body) - {"dry_run"}:
            raise ApiError(400, 'body must be {"dry_run": true|false} (or empty)')
        out = await _run(preview_cleanup if dry_run else run_cleanup, self.runtime)
        if "skipped" in out:
            raise ApiError(409, out["skipped"])
        if "error" in out:
            raise ApiError(500, out["error"])
        self.write_json(out)
