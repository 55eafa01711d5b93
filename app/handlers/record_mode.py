"""GET/PATCH /api/cameras/{id}/recording-mode: record a camera manually or on detection events
(with a rolling pre-capture buffer; see thermalstream.record.events)."""

from __future__ import annotations

from app.handlers.base import ApiError, BaseHandler
from thermalstream.record.events import MAX_PAD_S, MODES, RecordModeError

MODE_SCHEMA = {
    "type": "object",
    "properties": {
        "mode": {"type": "string", "enum": list(MODES)},
        "pre_s": {"type": "number", "minimum": 0, "maximum": MAX_PAD_S},
        "post_s": {"type": "number", "minimum": 0, "maximum": MAX_PAD_S},
    },
}
ERRORS = {"400": {"description": "Invalid mode or seconds"}, "404": {"description": "No such camera"}}


class RecordingModeHandler(BaseHandler):
    openapi = {
        "get": {"summary": "Recording mode of a camera (manual, or on events with pre/post seconds)",
                "tags": ["recordings"],
                "responses": {"200": {"description": "{mode, pre_s, post_s, buffering, recording_id}"}, **ERRORS}},
        "patch": {"summary": "Set the recording mode: 'events' keeps pre_s before to post_s after each "
                             "detection event (while detection is on)",
                  "tags": ["recordings"],
                  "requestBody": {"required": True, "content": {"application/json": {"schema": MODE_SCHEMA}}},
                  "responses": {"200": {"description": "{mode, pre_s, post_s, buffering, recording_id}"},
                                **ERRORS}},
    }

    def _service(self):
        svc = getattr(self.runtime, "event_recordings", None)
        if svc is None:
            raise ApiError(503, "event recording is not running")
        return svc

    def get(self, cid: str) -> None:
        cam = self.camera_id(cid)
        try:
            self.write_json(self._service().info(cam))
        except LookupError as exc:
            raise ApiError(404, str(exc)) from None

    def patch(self, cid: str) -> None:
        cam = self.camera_id(cid)
        body = self.json_body()
        try:
            self.write_json(self._service().set_mode(cam, body))
        except RecordModeError as exc:
            raise ApiError(400, str(exc)) from None
        except LookupError as exc:
            raise ApiError(404, str(exc)) from None
