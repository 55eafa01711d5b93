"""API tokens for scripts and notebooks: log in for a JWT pair, refresh (rotated), log out (revoked)."""

from __future__ import annotations

import math

from app.handlers.base import ApiError, BaseHandler, off_loop
from thermalstream.auth import AuthError, RateLimited

PAIR = {"200": {"description": "{access_token, refresh_token, token_type, expires_in, refresh_expires_in}"},
        "400": {"description": "Bad request"}, "401": {"description": "Refused"},
        "429": {"description": "Too many attempts (Retry-After)"}}


def _body(schema_props: dict) -> dict:
    return {"required": True, "content": {"application/json": {"schema": {
        "type": "object", "required": list(schema_props), "properties": schema_props}}}}


class TokenBase(BaseHandler):
    def client_ip(self) -> str:
        return self.runtime.auth.client_ip(self.request.remote_ip, self.request.headers.get("X-Forwarded-For"))

    def field(self, body: dict, name: str, max_len: int = 4096) -> str:
        value = body.get(name)
        if not isinstance(value, str) or not value or len(value) > max_len:
            raise ApiError(400, f"field '{name}' (non-empty string) is required")
        return value

    def limited(self, exc: RateLimited) -> ApiError:
        return ApiError(429, str(exc), {"Retry-After": str(max(1, math.ceil(exc.retry_after_s)))})

    def check_token_rate(self) -> None:
        decision = self.runtime.auth.limiter.attempt("token", {"ip": self.client_ip()})
        if not decision.allowed:
            raise self.limited(RateLimited(decision.message, decision.retry_after_s, "token"))


class TokenHandler(TokenBase):
    openapi = {"post": {"summary": "Log in: get an access token and a refresh token", "tags": ["auth"],
                        "security": [],
                        "requestBody": _body({"username": {"type": "string"}, "password": {"type": "string"}}),
                        "responses": PAIR}}

    async def post(self) -> None:
        body = self.json_body()
        username, password = self.field(body, "username", 256), self.field(body, "password")
        self.check_token_rate()
        try:
            user = await off_loop(self.runtime.auth.users.authenticate, username, password, ip=self.client_ip())
        except RateLimited as exc:
            raise self.limited(exc) from None
        if user is None:
            raise ApiError(401, "wrong username or password")
        self.write_json(self.runtime.auth.tokens.issue_pair(user))


class RefreshHandler(TokenBase):
    openapi = {"post": {"summary": "Swap a refresh token for a new pair (the old one stops working)",
                        "tags": ["auth"], "security": [],
                        "requestBody": _body({"refresh_token": {"type": "string"}}), "responses": PAIR}}

    def post(self) -> None:
        token = self.field(self.json_body(), "refresh_token")
        self.check_token_rate()
        try:
            self.write_json(self.runtime.auth.tokens.refresh(token))
        except AuthError as exc:
            raise ApiError(401, str(exc)) from None


class LogoutApiHandler(TokenBase):
    openapi = {"post": {"summary": "Log out: revoke the refresh token and end every session of its user",
                        "tags": ["auth"], "security": [],
                        "requestBody": _body({"refresh_token": {"type": "string"}}),
                        "responses": {"204": {"description": "Revoked (also when it already was)"},
                                      "400": {"description": "Bad request"}}}}

    def post(self) -> None:
        token = self.field(self.json_body(), "refresh_token")
        if self.runtime.auth.tokens.revoke(token):  # a live token: its user logs out everywhere
            self.runtime.auth.users.end_sessions(self.runtime.auth.tokens.user_of(token))
        self.set_status(204)
        self.finish()
