"""API tokens for scripts and notebooks: log in for a JWT pair, refresh (rotated), log out (revoked)."""

from __future__ import annotations

import math

from app.handlers.api_models import RefreshRequest, TokenPair, TokenRequest
from app.handlers.base import ApiError, BaseHandler, off_loop
from app.handlers.schema import op, parse_model
from thermalstream.auth import AuthError, RateLimited

PAIR_ERRORS = {400: "Bad request (the message names the field)", 401: "Refused",
               429: "Too many attempts (Retry-After says when to try again)"}


class TokenBase(BaseHandler):
    def client_ip(self) -> str:
        return self.runtime.auth.client_ip(self.request.remote_ip, self.request.headers.get("X-Forwarded-For"))

    def limited(self, exc: RateLimited) -> ApiError:
        return ApiError(429, str(exc), {"Retry-After": str(max(1, math.ceil(exc.retry_after_s)))})

    def check_token_rate(self) -> None:
        decision = self.runtime.auth.limiter.attempt("token", {"ip": self.client_ip()})
        if not decision.allowed:
            raise self.limited(RateLimited(decision.message, decision.retry_after_s, "token"))


class TokenHandler(TokenBase):
    openapi = {"post": op("Log in: get an access token and a refresh token", "auth", body=TokenRequest,
                          ok=TokenPair, errors=PAIR_ERRORS, public=True)}

    async def post(self) -> None:
        req = parse_model(self.json_body(), TokenRequest)
        self.check_token_rate()
        try:
            user = await off_loop(self.runtime.auth.users.authenticate, req.username, req.password,
                                  ip=self.client_ip())
        except RateLimited as exc:
            raise self.limited(exc) from None
        if user is None:
            raise ApiError(401, "wrong username or password")
        self.write_json(self.runtime.auth.tokens.issue_pair(user))


class RefreshHandler(TokenBase):
    openapi = {"post": op("Swap a refresh token for a new pair (the old one stops working)", "auth",
                          body=RefreshRequest, ok=TokenPair, errors=PAIR_ERRORS, public=True)}

    def post(self) -> None:
        token = parse_model(self.json_body(), RefreshRequest).refresh_token
        self.check_token_rate()
        try:
            self.write_json(self.runtime.auth.tokens.refresh(token))
        except AuthError as exc:
            raise ApiError(401, str(exc)) from None


class LogoutApiHandler(TokenBase):
    openapi = {"post": op("Log out: revoke the refresh token and end every session of its user", "auth",
                          body=RefreshRequest, status=204, errors={400: "Bad request"}, public=True)}

    def post(self) -> None:
        token = parse_model(self.json_body(), RefreshRequest).refresh_token
        if self.runtime.auth.tokens.revoke(token):  # a live token: its user logs out everywhere
            self.runtime.auth.users.end_sessions(self.runtime.auth.tokens.user_of(token))
        self.set_status(204)
        self.finish()
