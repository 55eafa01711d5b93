"""All auth services on one database, wired from a settings object.

>>> auth = Auth.from_settings(db, settings)
>>> auth.users.ensure_admin(settings.admin_password)
>>> user = auth.users.authenticate(name, password, ip=auth.client_ip(request))
>>> pair = auth.tokens.issue_pair(user)

Settings read (each optional, defaults in brackets): ``bcrypt_rounds`` [12], ``jwt_secret``
[derived from ``secret()``], ``access_token_ttl_s`` [900], ``refresh_token_ttl_s`` [2592000],
``reset_token_ttl_s`` [3600], ``public_url`` [``http://{host}:{port}``], ``trusted_proxies``
[""], and the ``smtp_*`` fields of :meth:`MailConfig.from_settings`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from thermalstream.auth.mail import MailConfig, Mailer
from thermalstream.auth.passwords import PasswordHasher
from thermalstream.auth.ratelimit import Network, RateLimiter, client_ip, parse_trusted_proxies
from thermalstream.auth.reset import RESET_TTL_S, ResetService
from thermalstream.auth.tokens import ACCESS_TTL_S, REFRESH_TTL_S, TokenService
from thermalstream.auth.users import UserService
from thermalstream.db.engine import Database


def public_url(settings: Any) -> str:
    url = getattr(settings, "public_url", None)
    if url:
        return str(url).rstrip("/")
    host = getattr(settings, "host", "127.0.0.1")
    if host in ("0.0.0.0", "::", ""):
        host = "localhost"
    return f"http://{host}:{getattr(settings, 'port', 5006)}"


@dataclass
class Auth:
    db: Database
    limiter: RateLimiter
    users: UserService
    tokens: TokenService
    mailer: Mailer
    resets: ResetService
    trusted_proxies: tuple[Network, ...] = ()

    @classmethod
    def from_settings(cls, db: Database, settings: Any) -> Auth:
        limiter = RateLimiter(db)
        users = UserService(db, hasher=PasswordHasher(int(getattr(settings, "bcrypt_rounds", 12) or 12)),
                            limiter=limiter)
        secret = getattr(settings, "jwt_secret", None) or settings.secret()
        tokens = TokenService(db, secret,
                              access_ttl_s=int(getattr(settings, "access_token_ttl_s", ACCESS_TTL_S)),
                              refresh_ttl_s=int(getattr(settings, "refresh_token_ttl_s", REFRESH_TTL_S)))
        mailer = Mailer(MailConfig.from_settings(settings))
        resets = ResetService(db, users, mailer, public_url=public_url(settings),
                              ttl_s=int(getattr(settings, "reset_token_ttl_s", RESET_TTL_S)), limiter=limiter)
        return cls(db, limiter, users, tokens, mailer, resets,
                   parse_trusted_proxies(getattr(settings, "trusted_proxies", "") or ""))

    def client_ip(self, remote_ip: str | None, x_forwarded_for: str | None) -> str:
        return client_ip(remote_ip, x_forwarded_for, self.trusted_proxies)

    def close(self) -> None:
        self.mailer.close()
