"""Login for the served app: who a request is (cookie or Bearer token), the login, logout and
password-reset pages, and the Panel auth provider that puts every page behind the login.

Custom Tornado handlers are not covered by Panel's authorisation, so ``app.handlers.base``
calls :func:`principal_of` and checks ``app.access`` itself on every request.
"""

from __future__ import annotations

import functools
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import jinja2
import panel as pn
import tornado.ioloop
import tornado.web
from panel.auth import BasicAuthProvider

from thermalstream.auth import AuthError, AuthValueError, InvalidResetToken, RateLimited
from thermalstream.db.outage import is_disk_full, outage_reason
from thermalstream.runtime import Runtime

log = logging.getLogger(__name__)
_TEMPLATES = jinja2.Environment(loader=jinja2.FileSystemLoader(Path(__file__).with_name("templates")),
                                autoescape=True)
COOKIE = "user"


@dataclass(frozen=True)
class Principal:
    """The user behind a request. ``via`` is "cookie" (browser login) or "token" (API)."""

    user_id: int
    username: str
    role: str
    via: str


class Unauthenticated(Exception):
    """A Bearer token was sent but is not valid; the message says why."""


def principal_of(runtime: Runtime, handler: tornado.web.RequestHandler) -> Principal | None:
    """From ``Authorization: Bearer`` (checked first) or the signed login cookie; None when neither.
    The role always comes from the database, so a changed role or a disabled account counts at once."""
    header = handler.request.headers.get("Authorization", "")
    if header:
        if not header.lower().startswith("bearer "):
            raise Unauthenticated("only Bearer tokens are accepted in the Authorization header")
        try:
            claims = runtime.auth.tokens.verify_access(header, check_user=True)
        except AuthError as exc:
            raise Unauthenticated(str(exc)) from None
        return Principal(claims["user_id"], claims["name"], claims["role"], "token")
    raw = handler.get_secure_cookie(COOKIE, max_age_days=runtime.settings.session_days)
    if not raw:
        return None
    return principal_from_cookie(runtime, raw.decode("utf-8", "replace"))


def cookie_value(user: dict) -> str:
    """What the signed login cookie holds: ``username:id:session_version``. Ending the user's
    sessions moves the version on, so every cookie issued before is refused from then on."""
    return f"{user['username']}:{user['id']}:{user.get('session_version') or 0}"


def principal_from_cookie(runtime: Runtime, value: str | None, via: str = "cookie") -> Principal | None:
    """The user of a login cookie's value, or None when the session has ended (logout, password
    or role change, account disabled or deleted). A bare username is accepted only with OAuth
    on (Panel's OAuth login writes it)."""
    if not value:
        return None
    name, sep, rest = value.partition(":")
    if not sep:
        return principal_named(runtime, value, via) if runtime.settings.oauth_provider else None
    uid, _, version = rest.partition(":")
    if not (uid.isdigit() and version.isdigit()):
        return None
    user = runtime.auth.users.get(int(uid))
    if user is None or not user["is_active"] or user["username"] != name or user["session_version"] != int(version):
        return None
    return Principal(user["id"], user["username"], user["role"], via)


def principal_named(runtime: Runtime, username: str, via: str) -> Principal | None:
    """The active user called ``username``. With OAuth on, someone the identity provider vouched
    for (the signed cookie says so) and who is new here gets an account with the default role."""
    user = runtime.auth.users.get(username)
    if user is None and runtime.settings.oauth_provider:
        user = provision_oauth_user(runtime, username)
    if user is None or not user["is_active"]:
        return None
    return Principal(user["id"], user["username"], user["role"], via)


def provision_oauth_user(runtime: Runtime, username: str) -> dict | None:
    """Create a password-less account for an OAuth user (usernames are normalised by the service)."""
    try:
        user = runtime.auth.users.create(username, None, runtime.settings.oauth_default_role)
    except AuthValueError as exc:
        log.warning("OAuth user %r not provisioned: %s", username, exc)
        return runtime.auth.users.get(username)
    log.info("OAuth user %s created with role %s", user["username"], user["role"])
    return user


async def off_loop(fn, *args, **kwargs):
    """Run slow blocking work (bcrypt, mail) on a worker thread, so one login never stalls every user."""
    return await tornado.ioloop.IOLoop.current().run_in_executor(None, functools.partial(fn, *args, **kwargs))


def same_origin(handler: tornado.web.RequestHandler) -> bool:
    """Whether a browser request comes from our own pages (Origin, else Referer, matches Host)."""
    source = handler.request.headers.get("Origin") or handler.request.headers.get("Referer")
    if not source:
        return False
    try:
        return urlsplit(source).netloc == handler.request.host
    except ValueError:
        return False


def render(handler: tornado.web.RequestHandler, title: str, form: str, status: int = 200, **ctx) -> None:
    handler.set_status(status)
    handler.set_header("Content-Type", "text/html; charset=utf-8")
    handler.set_header("X-Frame-Options", "DENY")
    handler.set_header("Cache-Control", "no-store")
    handler.finish(_TEMPLATES.get_template("auth.html").render(title=title, form=form, **ctx))


def _next_url(value: str | None) -> str:
    """Only local paths: never redirect to another site after login."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    return value


class AuthPage(tornado.web.RequestHandler):
    runtime: Runtime  # bound by auth_provider()

    def _handle_request_exception(self, e: BaseException) -> None:
        """A database outage answers 503 (507: its disk is full) with the login form and a reason."""
        if outage_reason(e) is None or self._finished:
            return super()._handle_request_exception(e)
        full = is_disk_full(e)
        self.clear()
        self.set_header("Retry-After", "30" if full else "5")
        render(self, "Log in", "login", 507 if full else 503,
               error="The database cannot write: its disk is full. Tell your administrator." if full
               else "The database is unreachable. Try again in a moment.")

    def client_ip(self) -> str:
        return self.runtime.auth.client_ip(self.request.remote_ip, self.request.headers.get("X-Forwarded-For"))

    def check_form_origin(self) -> bool:
        """Login CSRF guard: a form post must come from our own page (browsers send Origin on POST)."""
        if same_origin(self):
            return True
        render(self, "Log in", "login", 403, error="This form must be sent from the ThermalStream page.")
        return False


class LoginHandler(AuthPage):
    def get(self) -> None:
        nxt = _next_url(self.get_argument("next", None))
        self.set_cookie("next_url", nxt, httponly=True, samesite="Lax")
        info = "You have logged out." if self.get_argument("logged_out", None) is not None else None
        if self.get_argument("reset", None) is not None:
            info = "Your password was changed. Log in with the new one."
        if self.runtime.db.outage.reason is not None and not self.runtime.db.outage.disk_full:
            self.set_header("Retry-After", "5")
            render(self, "Log in", "login", 503, error="The database is unreachable. Try again in a moment.")
            return
        render(self, "Log in", "login", info=info)

    async def post(self) -> None:
        if not self.check_form_origin():
            return
        username = self.get_argument("username", "")[:256]
        password = self.get_argument("password", "")[:4096]
        try:
            user = await off_loop(self.runtime.auth.users.authenticate, username, password, ip=self.client_ip())
        except RateLimited as exc:
            self.set_header("Retry-After", str(max(1, math.ceil(exc.retry_after_s))))
            render(self, "Log in", "login", 429, error=str(exc))
            return
        if user is None:
            render(self, "Log in", "login", 401, error="Wrong username or password.")
            return
        self.set_secure_cookie(COOKIE, cookie_value(user), expires_days=self.runtime.settings.session_days,
                               httponly=True, samesite="Lax", secure=self.request.protocol == "https")
        self.clear_cookie("is_guest")
        log.info("login: %s from %s", user["username"], self.client_ip())
        self.redirect(_next_url(self.get_cookie("next_url")))


class LogoutHandler(AuthPage):
    """Logging out changes state, so another site must not be able to do it: a GET from our own
    pages (the menu link) logs out; any other GET shows a button that posts back (same-origin)."""

    def get(self) -> None:
        if not same_origin(self):
            render(self, "Log out", "logout")
            return
        self.log_out()

    def post(self) -> None:
        if not same_origin(self):
            render(self, "Log out", "logout", 403, error="This form must be sent from the ThermalStream page.")
            return
        self.log_out()

    def log_out(self) -> None:
        who = principal_of(self.runtime, self) if not self.request.headers.get("Authorization") else None
        if who is not None:  # every cookie and token of this user ends, not only this browser's
            self.runtime.auth.users.end_sessions(who.user_id)
        for name in (COOKIE, "id_token", "next_url", "is_guest"):
            self.clear_cookie(name)
        self.redirect("/login?logged_out")


class ForgotHandler(AuthPage):
    """Always the same answer, whether or not the account exists (no user enumeration)."""

    SENT = "If that account exists and has an email address, a reset link is on its way. It is valid for one hour."
    NO_MAIL = ("This server cannot send email (no mail server is set up), so no reset link was sent. "
               "The administrators have been told: ask one of them to set a new password for you.")

    def get(self) -> None:
        render(self, "Reset your password", "forgot")

    async def post(self) -> None:
        if not self.check_form_origin():
            return
        who = self.get_argument("who", "").strip()[:320]
        try:
            if who:  # may send mail: off the event loop
                await off_loop(self.runtime.auth.resets.request_reset, who, ip=self.client_ip())
        except RateLimited as exc:
            self.set_header("Retry-After", str(max(1, math.ceil(exc.retry_after_s))))
            render(self, "Reset your password", "forgot", 429, error=str(exc))
            return
        if not self.runtime.auth.mailer.config.enabled:  # honest, and the same for every name
            if who:
                await off_loop(self.runtime.notifications.to_admins, "warning",
                               "Password reset asked for, but mail is not set up",
                               f"Someone asked for a reset link for {who!r}. No mail server is configured "
                               "(THERMALSTREAM_SMTP_HOST), so none was sent: set a new password on the Users "
                               "page, or set up mail.")
            render(self, "Reset your password", "done", info=self.NO_MAIL)
            return
        render(self, "Reset your password", "done", info=self.SENT)


class ResetHandler(AuthPage):
    def get(self) -> None:
        token = self.get_argument("token", "")
        if not self.runtime.auth.resets.check_token(token):
            render(self, "Reset your password", "done", 400,
                   error="This reset link is not valid: it was used, has expired, or was replaced.")
            return
        render(self, "Choose a new password", "reset", token=token)

    async def post(self) -> None:
        if not self.check_form_origin():
            return
        token = self.get_argument("token", "")
        password, confirm = self.get_argument("password", ""), self.get_argument("confirm", "")
        if password != confirm:
            render(self, "Choose a new password", "reset", 400, token=token, error="The two passwords differ.")
            return
        try:
            await off_loop(self.runtime.auth.resets.complete_reset, token, password)
        except InvalidResetToken:
            render(self, "Reset your password", "done", 400,
                   error="This reset link is not valid: it was used, has expired, or was replaced.")
            return
        except AuthValueError as exc:
            render(self, "Choose a new password", "reset", 400, token=token, error=str(exc))
            return
        self.redirect("/login?reset")


class ChangePasswordHandler(AuthPage):
    """/change-password: any signed-in user (cookie) changes their own password. The current one is
    required (and counts as a login attempt); every other session of the user ends, this one stays."""

    TITLE = "Change your password"

    def me(self) -> Principal | None:
        try:
            who = principal_of(self.runtime, self)
        except Unauthenticated:
            who = None
        if who is None or who.via != "cookie":  # the login form, then back here
            self.set_cookie("next_url", "/change-password", httponly=True, samesite="Lax")
            render(self, "Log in", "login", 401, info="Log in to change your password.")
            return None
        return who

    def get(self) -> None:
        if (who := self.me()) is not None:
            render(self, self.TITLE, "change", username=who.username)

    async def post(self) -> None:
        if (who := self.me()) is None or not self.check_form_origin():
            return
        current = self.get_argument("current", "")[:4096]
        password, confirm = self.get_argument("password", "")[:4096], self.get_argument("confirm", "")[:4096]

        def again(status: int, error: str) -> None:
            render(self, self.TITLE, "change", status, username=who.username, error=error)

        if password != confirm:
            return again(400, "The two new passwords differ.")
        try:
            ok = await off_loop(self.runtime.auth.users.authenticate, who.username, current, ip=self.client_ip())
            if ok is None:
                return again(400, "Your current password is not right.")
            changed = await off_loop(self.runtime.auth.users.change_password, who.user_id, current, password)
        except RateLimited as exc:
            self.set_header("Retry-After", str(max(1, math.ceil(exc.retry_after_s))))
            return again(429, str(exc))
        except AuthValueError as exc:
            return again(400, str(exc))
        if not changed:
            return again(400, "Your current password is not right.")
        user = self.runtime.auth.users.get(who.user_id)  # new session version: this browser stays signed in
        self.set_secure_cookie(COOKIE, cookie_value(user), expires_days=self.runtime.settings.session_days,
                               httponly=True, samesite="Lax", secure=self.request.protocol == "https")
        log.info("password changed by user %s; their other sessions ended", who.username)
        render(self, self.TITLE, "done", info="Your password was changed. You were signed out everywhere else.",
               home="/")


def oauth_options(runtime: Runtime) -> dict:
    """``pn.serve`` arguments for Panel's OAuth providers, when THERMALSTREAM_OAUTH_PROVIDER is set."""
    s = runtime.settings
    if not s.oauth_provider:
        return {}
    pn.config.oauth_expiry = s.session_days
    return {"oauth_provider": s.oauth_provider, "oauth_key": s.oauth_key, "oauth_secret": s.oauth_secret}


class ThermalAuthProvider(BasicAuthProvider):
    """Panel's basic provider with our database-backed login and logout pages."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self._login = type("BoundLogin", (LoginHandler,), {"runtime": runtime})
        self._logout = type("BoundLogout", (LogoutHandler,), {"runtime": runtime})
        super().__init__(login_endpoint="/login", logout_endpoint="/logout")
        pn.config.oauth_expiry = runtime.settings.session_days

    @property
    def get_user(self):
        """Panel's cookie check, plus: a cookie whose session has ended counts as no login."""
        panel_get_user = super().get_user

        def get_user(handler):
            user = panel_get_user(handler)
            try:
                if user and user != "guest" and principal_from_cookie(self.runtime, user) is None:
                    return None
            except Exception as exc:
                if outage_reason(exc) is None:
                    raise
                return None  # the database is out: to the login page, which says so (503), not a 500
            return user
        return get_user

    @property
    def login_handler(self):
        return self._login

    @property
    def logout_handler(self):
        return self._logout


def auth_routes(runtime: Runtime) -> list[tuple]:
    """The password reset pages (public) as Tornado routes."""
    bind = {"runtime": runtime}
    return [
        (r"/forgot-password", type("BoundForgot", (ForgotHandler,), bind)),
        (r"/reset-password", type("BoundReset", (ResetHandler,), bind)),
        (r"/change-password", type("BoundChangePassword", (ChangePasswordHandler,), bind)),
    ]
