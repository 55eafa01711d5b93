"""Exports: POST /api/exports queues one (detections/events as CSV or Parquet, radiometric data as
NetCDF or HDF5), GET /api/exports[/{id}] shows progress, GET /api/exports/{id}/download serves the
file to the user who asked for it while they may still see its cameras."""

from __future__ import annotations

from pydantic import ValidationError

from app.handlers.base import ApiError, BaseHandler, Guarded, GuardedFileHandler, http_error
from app.handlers.radiometry import validation_message
from thermalstream.datasets.jobs import ExportJob, ExportRequest

JOB = "{id, kind, format, status (queued|running|done|failed), progress 0..1, error, download_url, …}"
ERRORS = {"400": {"description": "Invalid request (the message names the field)"},
          "404": {"description": "No such export, recording or camera"}}


def _request_schema() -> dict:
    schema = ExportRequest.model_json_schema()
    schema.pop("title", None)
    for prop in schema.get("properties", {}).values():  # OpenAPI 3.0: nullable instead of anyOf null
        options = prop.pop("anyOf", None)
        if options:
            prop.update(next(o for o in options if o.get("type") != "null"), nullable=True)
        prop.pop("title", None)
    return schema


class _ExportAccess(Guarded):
    def job(self, job_id: str) -> ExportJob:
        p = self.principal
        try:
            return self.runtime.exports.get(job_id, p.user_id, self.visible_cameras(), admin=p.role == "admin")
        except KeyError:
            raise ApiError(404, f"no export {job_id}") from None


class ExportsHandler(_ExportAccess, BaseHandler):
    openapi = {
        "get": {"summary": "Your exports, newest first", "tags": ["exports"],
                "responses": {"200": {"description": f"[{JOB}]"}}},
        "post": {"summary": "Export detections or events (CSV, Parquet) or radiometric data of a recording or a "
                            "camera's time range (NetCDF, HDF5) in the background; a notification links the file",
                 "tags": ["exports"],
                 "requestBody": {"required": True, "content": {"application/json": {"schema": _request_schema()}}},
                 "responses": {"202": {"description": JOB}, **ERRORS}},
    }

    def get(self) -> None:
        p = self.principal
        self.write_json([j.public() for j in self.runtime.exports.list(p.user_id, admin=p.role == "admin")])

    def post(self) -> None:
        try:
            req = ExportRequest.model_validate(self.json_body())
        except ValidationError as exc:
            raise ApiError(400, validation_message(exc)) from None
        try:
            job = self.runtime.exports.submit(self.principal.user_id, req, self.visible_cameras())
        except KeyError as exc:
            raise ApiError(404, str(exc.args[0])) from None
        self.write_json(job.public(), status=202)


class ExportJobHandler(_ExportAccess, BaseHandler):
    openapi = {"get": {"summary": "One export and its progress", "tags": ["exports"],
                       "responses": {"200": {"description": JOB}, **ERRORS}}}

    def get(self, xid: str) -> None:
        self.write_json(self.job(xid).public())


class ExportDownloadHandler(_ExportAccess, GuardedFileHandler):
    openapi = {"get": {"summary": "Download a finished export", "tags": ["exports"],
                       "responses": {"200": {"description": "the file"}, **ERRORS}}}

    def folder(self, runtime) -> str:
        return str(runtime.exports.dir)

    async def get(self, xid: str, include_body: bool = True) -> None:
        try:
            job = self.job(xid)
        except ApiError as exc:
            raise http_error(exc) from None
        if job.status != "done" or job.path is None or not job.path.is_file():
            raise http_error(ApiError(404, f"export {xid} is {job.status}, no file to download"))
        self.set_header("Content-Disposition", f'attachment; filename="{job.path.name}"')
        await super().get(job.path.name, include_body)
