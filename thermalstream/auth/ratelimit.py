"""Rate limits kept in the database, and the client address behind trusted proxies.

Each counted attempt is a row in ``rate_limit_events`` (kind, ``scope:value`` key, time).
:meth:`RateLimiter.check` counts the rows of a key inside a sliding window, so every process
on the same database sees the same counts. Limits apply per scope: usually ``user`` (the
username or email typed, existing or not, so a lockout tells nothing about which accounts
exist) and ``ip`` (the client address from :func:`client_ip`).

>>> limiter = RateLimiter(db)
>>> d = limiter.check("login", login_keys("alice", "192.0.2.7"))
>>> if not d.allowed: answer 429 with d.message and Retry-After: d.retry_after_s
>>> limiter.hit("login", login_keys("alice", "192.0.2.7"))   # after a failed login

Kinds and their default limits (``DEFAULT_LIMITS``; pass ``limits=`` to change them):

* ``login``  failed logins per (user, source) pair: 5 / 15 min, 10 / hour, 15 / day (a backoff);
             20 per IP / 15 min. Nobody can lock a user out from another address.
* ``token``  calls to the token endpoints (token, refresh): 20 per user / min, 60 per IP / min
* ``reset``  password reset requests: 3 per address or username / hour, 10 per IP / hour
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, or_, select

from thermalstream.auth.errors import RateLimited
from thermalstream.db.engine import Database
from thermalstream.db.models import RateLimitEvent
from thermalstream.db.types import utcnow

KEY_MAX = 128


@dataclass(frozen=True)
class Limit:
    count: int  # attempts allowed inside the window; the next one is refused
    window_s: float


# Failed logins count per (user, source) pair, so nobody elsewhere can lock an account out. The
# three pair scopes make a backoff: 5 failures lock the pair for up to 15 min, 10 for up to an hour,
# 15 for up to a day. The ip scope stops one source trying many names.
PAIR_SCOPES = ("pair", "pair_hour", "pair_day")
DEFAULT_LIMITS: dict[str, dict[str, Limit]] = {
    "login": {"pair": Limit(5, 15 * 60), "pair_hour": Limit(10, 60 * 60), "pair_day": Limit(15, 24 * 3600),
              "ip": Limit(20, 15 * 60)},
    "token": {"user": Limit(20, 60), "ip": Limit(60, 60)},
    "reset": {"user": Limit(3, 60 * 60), "ip": Limit(10, 60 * 60)},
}

MESSAGES = {
    "login": "Too many failed logins; try again in {wait}.",
    "token": "Too many requests; try again in {wait}.",
    "reset": "Too many password reset requests; try again in {wait}.",
}


def format_wait(seconds: float) -> str:
    """``45 seconds``, ``1 minute``, ``15 minutes``, ``2 hours`` (rounded up)."""
    s = max(1, math.ceil(seconds))
    if s < 60:
        return f"{s} second{'s' if s != 1 else ''}"
    m = math.ceil(s / 60)
    if m < 120:
        return f"{m} minute{'s' if m != 1 else ''}"
    h = math.ceil(m / 60)
    return f"{h} hours"


@dataclass(frozen=True)
class Decision:
    allowed: bool
    retry_after_s: int = 0  # whole seconds, >= 1 when refused
    message: str = ""
    scope: str | None = None  # the scope that refused ("user" or "ip")

    def raise_if_refused(self, kind: str = "") -> None:
        if not self.allowed:
            raise RateLimited(self.message, self.retry_after_s, kind)


def login_keys(user: str | None, ip: str | None) -> dict[str, str | None]:
    """The rate-limit keys of one login attempt: the (user, source) pair scopes and the source."""
    pair = f"{user.strip().lower()}|{(ip or 'local').strip().lower()}" if user and user.strip() else None
    return {**{scope: pair for scope in PAIR_SCOPES}, "ip": ip}


def make_key(scope: str, value: str) -> str:
    """``scope:value``, lower-cased; values too long for the column are replaced by their SHA-256."""
    key = f"{scope}:{value.strip().lower()}"
    if len(key) > KEY_MAX:
        key = f"{scope}:sha256:{hashlib.sha256(value.strip().lower().encode('utf-8', 'replace')).hexdigest()}"
    return key


class RateLimiter:
    def __init__(
        self,
        db: Database,
        limits: Mapping[str, Mapping[str, Limit]] | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.db = db
        self.limits: dict[str, dict[str, Limit]] = {k: dict(v) for k, v in DEFAULT_LIMITS.items()}
        for kind, scopes in (limits or {}).items():
            self.limits.setdefault(kind, {}).update(scopes)
        self.clock = clock

    def _keys(self, kind: str, keys: Mapping[str, str | None]) -> list[tuple[str, str, Limit]]:
        if kind not in self.limits:
            raise ValueError(f"unknown rate limit kind {kind!r}")
        out = []
        for scope, value in keys.items():
            limit = self.limits[kind].get(scope)
            if limit is not None and isinstance(value, str) and value.strip():
                out.append((scope, make_key(scope, value), limit))
        return out

    def check(self, kind: str, keys: Mapping[str, str | None]) -> Decision:
        """Whether one more attempt of ``kind`` is allowed for all of ``keys`` (``{"user": ..., "ip": ...}``;
        None values and scopes without a limit are skipped). Counts nothing."""
        now = self.clock()
        worst: Decision = Decision(True)
        with self.db.session() as s:
            for scope, key, limit in self._keys(kind, keys):
                since = now - timedelta(seconds=limit.window_s)
                # the limit-th most recent attempt: once it leaves the window, one more is allowed
                nth = s.scalar(
                    select(RateLimitEvent.at)
                    .where(RateLimitEvent.kind == kind, RateLimitEvent.key == key, RateLimitEvent.at > since)
                    .order_by(RateLimitEvent.at.desc())
                    .offset(limit.count - 1)
                    .limit(1)
                )
                if nth is None:
                    continue
                wait = max(1, math.ceil((nth + timedelta(seconds=limit.window_s) - now).total_seconds()))
                if worst.allowed or wait > worst.retry_after_s:
                    msg = MESSAGES.get(kind, "Too many attempts; try again in {wait}.").format(wait=format_wait(wait))
                    worst = Decision(False, wait, msg, scope)
        return worst

    def hit(self, kind: str, keys: Mapping[str, str | None]) -> None:
        """Count one attempt of ``kind`` for each of ``keys``, and forget attempts older than the
        longest window of ``kind``."""
        now = self.clock()
        entries = self._keys(kind, keys)
        if not entries:
            return
        horizon = now - timedelta(seconds=max(limit.window_s for limit in self.limits[kind].values()))
        with self.db.session() as s:
            s.add_all(RateLimitEvent(kind=kind, key=key, at=now) for _, key, _ in entries)
            s.execute(delete(RateLimitEvent).where(RateLimitEvent.kind == kind, RateLimitEvent.at < horizon))

    def attempt(self, kind: str, keys: Mapping[str, str | None]) -> Decision:
        """:meth:`check`, and when allowed :meth:`hit` too (for limits on every call, e.g. ``token``)."""
        decision = self.check(kind, keys)
        if decision.allowed:
            self.hit(kind, keys)
        return decision

    def clear(self, kind: str, keys: Mapping[str, str | None]) -> int:
        """Forget the attempts of ``kind`` for ``keys`` (a successful login clears its user's failures;
        an admin unlocks a user). Returns the number of rows removed."""
        entries = self._keys(kind, keys)
        if not entries:
            return 0
        with self.db.session() as s:
            res = s.execute(
                delete(RateLimitEvent).where(
                    RateLimitEvent.kind == kind, RateLimitEvent.key.in_([key for _, key, _ in entries])
                )
            )
            return res.rowcount or 0

    def clear_user(self, kind: str, user: str) -> int:
        """Forget ``user``'s attempts of ``kind`` from every source (an admin's unlock, a reset)."""
        name = user.strip().lower()
        prefixes = [f"{scope}:{name}|" for scope in PAIR_SCOPES] + [make_key("user", name)]
        with self.db.session() as s:
            res = s.execute(delete(RateLimitEvent).where(RateLimitEvent.kind == kind, or_(
                *[RateLimitEvent.key.startswith(p, autoescape=True) for p in prefixes[:-1]],
                RateLimitEvent.key == prefixes[-1])))
            return res.rowcount or 0

    def count(self, kind: str, scope: str, value: str) -> int:
        """Attempts of ``kind`` for one key inside its window (for tests and the Users page)."""
        limit = self.limits[kind][scope]
        since = self.clock() - timedelta(seconds=limit.window_s)
        with self.db.session() as s:
            return s.scalar(
                select(func.count()).select_from(RateLimitEvent).where(
                    RateLimitEvent.kind == kind, RateLimitEvent.key == make_key(scope, value),
                    RateLimitEvent.at > since,
                )
            ) or 0


# --- client address ------------------------------------------------------------------------------

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def parse_trusted_proxies(value: str | Iterable[str] | None) -> tuple[Network, ...]:
    """``"127.0.0.1, 10.0.0.0/8, ::1"`` (or a list) -> networks. Raises ValueError naming a bad entry."""
    if value is None:
        return ()
    items = value.split(",") if isinstance(value, str) else list(value)
    nets = []
    for item in items:
        if isinstance(item, (ipaddress.IPv4Network, ipaddress.IPv6Network)):
            nets.append(item)
            continue
        item = str(item).strip()
        if not item:
            continue
        try:
            nets.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ValueError(f"trusted proxy {item!r} is not an IP address or network") from None
    return tuple(nets)


def _parse_ip(value: str | None) -> Address | None:
    if not value:
        return None
    v = value.strip().strip('"')
    if v.startswith("["):  # [v6] or [v6]:port
        v = v[1:].split("]", 1)[0]
    elif v.count(":") == 1:  # v4:port
        v = v.split(":", 1)[0]
    v = v.split("%", 1)[0]  # zone index
    try:
        ip = ipaddress.ip_address(v)
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def _trusted(ip: Address, nets: tuple[Network, ...]) -> bool:
    return any(ip.version == n.version and ip in n for n in nets)


def client_ip(
    remote_ip: str | None,
    x_forwarded_for: str | Iterable[str] | None,
    trusted_proxies: str | Iterable[str] | tuple[Network, ...] | None,
) -> str:
    """The client's address.

    ``X-Forwarded-For`` is read only when the direct peer (``remote_ip``) is a trusted proxy.
    Then the chain is walked from the right: each address added by a trusted proxy is trusted
    to name the next hop, and the first address that is not a trusted proxy is the client. A
    malformed entry stops the walk at the last trusted hop. Clients can prepend anything to
    the header, so entries left of the first untrusted address are never used.
    """
    nets = trusted_proxies if isinstance(trusted_proxies, tuple) and all(
        isinstance(n, (ipaddress.IPv4Network, ipaddress.IPv6Network)) for n in trusted_proxies
    ) else parse_trusted_proxies(trusted_proxies)  # type: ignore[arg-type]
    peer = _parse_ip(remote_ip)
    if peer is None:
        return (remote_ip or "").strip() or "unknown"
    if not nets or not _trusted(peer, nets) or not x_forwarded_for:
        return str(peer)
    header = x_forwarded_for if isinstance(x_forwarded_for, str) else ",".join(x_forwarded_for)
    current = peer
    for entry in reversed(header.split(",")):
        ip = _parse_ip(entry)
        if ip is None:
            return str(current)
        current = ip
        if not _trusted(ip, nets):
            return str(ip)
    return str(current)  # every hop was a proxy: the leftmost is the best we know
