"""GET/PUT /api/cameras/{id}/shares: who may see a camera besides its owner and admins.

Anyone who may see the camera may read its shares; only its owner or an admin may change them
(403 for others who see it, 404 for those who do not: no probing for ids).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from app.handlers.base import ApiError, BaseHandler, call_mapped
from thermalstream.cameras import CameraNotFound, ShareError


class SharesBody(BaseModel):
    """The full set of shares (replaces the current one). Both lists empty: every signed-in user sees
    the camera again."""

    model_config = ConfigDict(extra="forbid")
    users: list[int | str] = Field(default_factory=list, max_length=1000,
                                   description="user ids or usernames that may see the camera")
    roles: list[Literal["viewer", "operator", "admin"]] = Field(
        default_factory=list, max_length=3, description="everyone with this role or a higher one may see it")


SHARES = {"type": "object", "properties": {
    "camera_id": {"type": "integer"},
    "owner": {"type": "object", "nullable": True, "properties": {"id": {"type": "integer"},
                                                                  "username": {"type": "string"}}},
    "private": {"type": "boolean", "description": "false: no shares, every signed-in user sees the camera"},
    "users": {"type": "array", "items": {"type": "object", "properties": {"id": {"type": "integer"},
                                                                          "username": {"type": "string"}}}},
    "roles": {"type": "array", "items": {"type": "string", "enum": ["viewer", "operator", "admin"]}},
}}
BODY = {"type": "object", "additionalProperties": False, "properties": {
    "users": {"type": "array", "maxItems": 1000, "items": {"oneOf": [{"type": "integer"}, {"type": "string"}]}},
    "roles": {"type": "array", "maxItems": 3, "items": {"type": "string", "enum": ["viewer", "operator", "admin"]}},
}}
ERRORS = {"400": {"description": "Bad body or unknown user"},
          "403": {"description": "Only the camera's owner or an admin may change its shares"},
          "404": {"description": "No such camera"}}


def _message(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err.get("loc", ())) or "body"
    return f"{where}: {err.get('msg', 'invalid')}"


class CameraSharesHandler(BaseHandler):
    openapi = {
        "get": {"summary": "Who a camera is shared with", "tags": ["cameras"],
                "responses": {"200": {"description": "Shares",
                                      "content": {"application/json": {"schema": SHARES}}}, **ERRORS}},
        "put": {"summary": "Share a camera with users and roles (owner or admin); empty lists make it public",
                "tags": ["cameras"],
                "requestBody": {"required": True, "content": {"application/json": {"schema": BODY}}},
                "responses": {"200": {"description": "Shares after the change",
                                      "content": {"application/json": {"schema": SHARES}}}, **ERRORS}},
    }

    def get(self, cid: str) -> None:
        self.write_json(call_mapped({CameraNotFound: 404}, self.runtime.cameras.shares, self.camera_id(cid)))

    def put(self, cid: str) -> None:
        camera_id = self.camera_id(cid)
        p = self.principal
        if p is None or not self.runtime.cameras.may_manage(camera_id, p.user_id, p.role):
            raise ApiError(403, "only the camera's owner or an admin may change who it is shared with")
        try:
            body = SharesBody.model_validate(self.json_body())
        except ValidationError as exc:
            raise ApiError(400, _message(exc)) from None
        self.write_json(call_mapped({ShareError: 400, CameraNotFound: 404}, self.runtime.cameras.set_shares,
                                    camera_id, body.users, list(body.roles)))
