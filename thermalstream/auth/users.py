"""Accounts: create, authenticate, change role or password, delete; the first admin.

Every method takes and returns plain values: users leave this module as dicts
(:func:`user_dict`) without the password hash. Usernames are case-insensitive: they are
stored lower-case. Bad input raises a ``ValueError`` subclass from
:mod:`thermalstream.auth.errors` whose message can be shown to the user.

>>> users = UserService(db, limiter=RateLimiter(db))
>>> users.create("alice", "correct horse battery", role="operator", email="alice@example.org")
>>> users.authenticate("alice", "correct horse battery", ip="192.0.2.7")   # dict, None, or RateLimited
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from thermalstream.auth.errors import (
    InvalidEmail,
    LastAdmin,
    UserExists,
    UserNotFound,
)
from thermalstream.auth.passwords import PasswordHasher, check_policy, generate_password
from thermalstream.auth.ratelimit import RateLimiter, login_keys
from thermalstream.auth.roles import check_role, role_at_least
from thermalstream.auth.user_data import EMAIL_MAX, USERNAME_RE, user_dict, validate_email, validate_username
from thermalstream.db.engine import Database
from thermalstream.db.models import PasswordResetToken, RefreshToken, User
from thermalstream.db.types import utcnow

log = logging.getLogger(__name__)

__all__ = ["UserService", "role_at_least", "user_dict", "validate_email", "validate_username"]

DEFAULT_ADMIN = "admin"

UserRef = int | str  # an id or a username


class UserService:
    """Accounts in the database.

    ``limiter`` (a :class:`RateLimiter` on the same database, made when not given) locks out
    failed logins per user and per IP; ``hasher`` sets the bcrypt cost; ``clock`` returns the
    current aware UTC time (tests move it).
    """

    def __init__(
        self,
        db: Database,
        *,
        hasher: PasswordHasher | None = None,
        limiter: RateLimiter | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.db = db
        self.hasher = hasher or PasswordHasher()
        self.clock = clock
        self.limiter = limiter if limiter is not None else RateLimiter(db, clock=clock)
        self.listeners: list[Callable[[int], None]] = []  # told the id of a user whose sessions ended

    # --- lookups ---------------------------------------------------------------------------

    @staticmethod
    def _find(s: Session, ref: UserRef) -> User | None:
        if isinstance(ref, bool):
            return None
        if isinstance(ref, int):
            return s.get(User, ref)
        if isinstance(ref, str):
            name = ref.strip().lower()
            if not USERNAME_RE.fullmatch(name):
                return None
            return s.scalar(select(User).where(User.username == name))
        return None

    def _require(self, s: Session, ref: UserRef) -> User:
        user = self._find(s, ref)
        if user is None:
            raise UserNotFound(f"No such user: {str(ref)[:64]!r}.")
        return user

    def get(self, ref: UserRef) -> dict[str, Any] | None:
        """The user with this id (int) or username (str), or None."""
        with self.db.session() as s:
            user = self._find(s, ref)
            return user_dict(user) if user else None

    def find_by_email(self, email: str) -> list[dict[str, Any]]:
        """Users with this address (compared case-insensitively)."""
        if not isinstance(email, str) or not email.strip() or len(email) > EMAIL_MAX:
            return []
        with self.db.session() as s:
            rows = s.scalars(select(User).where(func.lower(User.email) == email.strip().lower()).order_by(User.id))
            return [user_dict(u) for u in rows]

    def list(self) -> list[dict[str, Any]]:
        with self.db.session() as s:
            return [user_dict(u) for u in s.scalars(select(User).order_by(User.username))]

    def alert_recipients(self) -> list[dict[str, Any]]:
        """Active users who opted in to alert emails and have an address. The caller still filters by
        which cameras each user may see."""
        with self.db.session() as s:
            rows = s.scalars(
                select(User).where(User.email_alerts.is_(True), User.is_active.is_(True), User.email.is_not(None))
                .order_by(User.id)
            )
            return [user_dict(u) for u in rows]

    # --- changes -----------------------------------------------------------------------------

    def _email_taken(self, s: Session, email: str | None, except_id: int | None = None) -> bool:
        if email is None:
            return False
        q = select(User.id).where(func.lower(User.email) == email.lower())
        if except_id is not None:
            q = q.where(User.id != except_id)
        return s.scalar(q.limit(1)) is not None

    def create(
        self,
        username: str,
        password: str | None,
        role: str = "viewer",
        email: str | None = None,
        *,
        email_alerts: bool = False,
    ) -> dict[str, Any]:
        """A new user. ``password`` None makes an account without password login (OAuth users).
        Raises InvalidUsername, WeakPassword, InvalidRole, InvalidEmail or UserExists."""
        name = validate_username(username)
        check_role(role)
        address = validate_email(email)
        password_hash = None
        if password is not None:
            check_policy(password, name)
            password_hash = self.hasher.hash(password)
        try:
            with self.db.session() as s:
                if s.scalar(select(User.id).where(User.username == name)) is not None:
                    raise UserExists(f"The username {name!r} is taken.")
                if self._email_taken(s, address):
                    raise UserExists("The email address is used by another user.")
                user = User(username=name, password_hash=password_hash, role=role, email=address,
                            email_alerts=bool(email_alerts), is_active=True, failed_logins=0)
                s.add(user)
                s.flush()
                result = user_dict(user)
        except IntegrityError:  # created by another process meanwhile
            raise UserExists(f"The username {name!r} is taken.") from None
        log.info("user %s created with role %s", name, role)
        return result

    def _active_admins(self, s: Session, except_id: int | None = None) -> int:
        q = select(func.count()).select_from(User).where(User.role == "admin", User.is_active.is_(True))
        if except_id is not None:
            q = q.where(User.id != except_id)
        return s.scalar(q) or 0

    def set_role(self, ref: UserRef, role: str) -> dict[str, Any]:
        """Change a user's role. Refuses to demote the last active admin (:class:`LastAdmin`).
        Access tokens carry the role for at most their lifetime; refreshes read the new one."""
        check_role(role)
        with self.db.session() as s:
            user = self._require(s, ref)
            if user.role == "admin" and role != "admin" and user.is_active and self._active_admins(s, user.id) == 0:
                raise LastAdmin("Cannot change the role of the last admin: make another user admin first.")
            changed = user.role != role
            user.role = role
            if changed:
                self._revoke_sessions(s, user.id)
            result = user_dict(user)
        if changed:
            self._ended(result["id"])
        return result

    def set_email(self, ref: UserRef, email: str | None) -> dict[str, Any]:
        address = validate_email(email)
        with self.db.session() as s:
            user = self._require(s, ref)
            if self._email_taken(s, address, user.id):
                raise UserExists("The email address is used by another user.")
            user.email = address
            if address is None:
                user.email_alerts = False
            return user_dict(user)

    def set_email_alerts(self, ref: UserRef, enabled: bool) -> dict[str, Any]:
        """Opt in to (or out of) alert emails. Opting in needs an email address."""
        with self.db.session() as s:
            user = self._require(s, ref)
            if enabled and not user.email:
                raise InvalidEmail("Set an email address before turning on alert emails.")
            user.email_alerts = bool(enabled)
            return user_dict(user)

    def set_active(self, ref: UserRef, active: bool) -> dict[str, Any]:
        """Enable or disable an account; disabling revokes its refresh tokens."""
        with self.db.session() as s:
            user = self._require(s, ref)
            if not active and user.role == "admin" and user.is_active and self._active_admins(s, user.id) == 0:
                raise LastAdmin("Cannot disable the last admin.")
            user.is_active = bool(active)
            if not active:
                self._revoke_sessions(s, user.id)
            result = user_dict(user)
        if not active:
            self._ended(result["id"])
        return result

    def end_sessions(self, ref: UserRef) -> dict[str, Any]:
        """Log a user out everywhere: every login cookie, access token and refresh token stops working."""
        with self.db.session() as s:
            user = self._require(s, ref)
            self._revoke_sessions(s, user.id)
            result = user_dict(user)
        self._ended(result["id"])
        return result

    def session_version(self, user_id: int) -> int | None:
        """The user's current session version (None: no such user or disabled)."""
        with self.db.session() as s:
            user = s.get(User, user_id)
            return user.session_version or 0 if user is not None and user.is_active else None

    def _ended(self, user_id: int) -> None:
        for fn in list(self.listeners):
            try:
                fn(user_id)
            except Exception:  # noqa: BLE001 - a listener must not undo the account change
                log.exception("session-end listener failed for user %s", user_id)

    def _revoke_sessions(self, s: Session, user_id: int) -> None:
        """End every session of the user (inside ``s``): the session version moves on, so login
        cookies and access tokens carrying the old one are refused; refresh and reset tokens are revoked."""
        now = self.clock()
        s.execute(update(User).where(User.id == user_id).values(session_version=User.session_version + 1))
        s.execute(update(RefreshToken).where(RefreshToken.user_id == user_id, RefreshToken.revoked_at.is_(None))
                  .values(revoked_at=now))
        s.execute(update(PasswordResetToken)
                  .where(PasswordResetToken.user_id == user_id, PasswordResetToken.used_at.is_(None))
                  .values(used_at=now))

    def _store_password(self, s: Session, user: User, password: str) -> None:
        """Set a (policy-checked) password inside ``s``: every refresh token and outstanding reset
        token of the user stops working, and the lockout is lifted."""
        user.password_hash = self.hasher.hash(password)
        user.failed_logins = 0
        user.locked_until = None
        self._revoke_sessions(s, user.id)

    def reset_password(self, ref: UserRef, new_password: str | None = None) -> str | None:
        """Set a user's password (an admin's reset, the CLI). With no ``new_password`` a random one
        is generated and returned, to be handed to the user; else returns None. All the user's
        refresh and reset tokens are invalidated and the login lockout is cleared."""
        generated = None
        if new_password is None:
            new_password = generated = generate_password()
        with self.db.session() as s:
            user = self._require(s, ref)
            check_policy(new_password, user.username)
            self._store_password(s, user, new_password)
            name, uid = user.username, user.id
        self.limiter.clear_user("login", name)
        self._ended(uid)
        log.info("password of user %s reset", name)
        return generated

    def change_password(self, ref: UserRef, old_password: str, new_password: str) -> bool:
        """A user changing their own password: False (and nothing changed) if ``old_password`` is wrong."""
        with self.db.session() as s:
            user = self._require(s, ref)
            if not self.hasher.verify(old_password, user.password_hash):
                return False
            check_policy(new_password, user.username)
            self._store_password(s, user, new_password)
            uid = user.id
        self._ended(uid)
        return True

    def unlock(self, ref: UserRef) -> dict[str, Any]:
        """Lift a login lockout (an admin's action): forget the user's failed logins."""
        with self.db.session() as s:
            user = self._require(s, ref)
            user.failed_logins = 0
            user.locked_until = None
            result = user_dict(user)
        self.limiter.clear_user("login", result["username"])
        return result

    def delete(self, ref: UserRef) -> bool:
        """Delete a user (their tokens and notifications go too; their cameras lose their owner).
        False if there is no such user; refuses the last active admin."""
        with self.db.session() as s:
            user = self._find(s, ref)
            if user is None:
                return False
            if user.role == "admin" and user.is_active and self._active_admins(s, user.id) == 0:
                raise LastAdmin("Cannot delete the last admin.")
            uid = user.id
            s.delete(user)
        self._ended(uid)
        return True

    # --- login ---------------------------------------------------------------------------------

    def authenticate(self, username: object, password: object, ip: str | None = None) -> dict[str, Any] | None:
        """The user if ``username``/``password`` are right and the account is active, else None.

        Raises :class:`~thermalstream.auth.errors.RateLimited` (with a message such as "Too many
        failed logins; try again in 15 minutes.") while this username from this source (``ip``),
        or the source itself, is locked out, with a longer lock each time (see
        ``ratelimit.DEFAULT_LIMITS``). Failures elsewhere never lock a user out here. The lockout
        applies to names that do not exist as well, and a locked-out attempt does not check the
        password. Unknown names cost the same bcrypt time as known ones.
        """
        typed = username.strip().lower() if isinstance(username, str) else ""
        keys = login_keys(typed or None, ip)
        self.limiter.check("login", keys).raise_if_refused("login")
        now = self.clock()
        with self.db.session() as s:
            user = self._find(s, typed) if typed else None
            if user is not None and user.is_active and user.password_hash:
                ok = self.hasher.verify(password, user.password_hash)
            else:
                self.hasher.dummy_verify()
                ok = False
            if ok:
                user.failed_logins = 0
                user.locked_until = None
                user.last_login_at = now
                if self.hasher.needs_rehash(user.password_hash):
                    user.password_hash = self.hasher.hash(password)  # type: ignore[arg-type]
                result = user_dict(user)
            elif user is not None:
                user.failed_logins = (user.failed_logins or 0) + 1
        if ok:
            self.limiter.clear("login", {k: v for k, v in keys.items() if k != "ip"})
            return result
        self.limiter.hit("login", keys)
        if user is not None:  # shown on the Users page: locked (from this source) until
            locked = self.limiter.check("login", {k: v for k, v in keys.items() if k != "ip"})
            if not locked.allowed:
                with self.db.session() as s:
                    s.execute(update(User).where(User.id == user.id)
                              .values(locked_until=now + timedelta(seconds=locked.retry_after_s)))
        return None

    def lockout(self, username: str, ip: str | None = None):
        """The rate-limit decision for the next login of ``username`` from ``ip`` (to show a
        lockout before the password is typed)."""
        typed = username.strip().lower() if isinstance(username, str) else ""
        return self.limiter.check("login", login_keys(typed or None, ip))

    # --- first start -------------------------------------------------------------------------

    def ensure_admin(self, password_from_env: str | None = None,
                     username: str = DEFAULT_ADMIN) -> tuple[bool, str | None]:
        """Make sure an admin exists. With no active admin, create ``username`` (``admin``) with
        ``password_from_env`` (``THERMALSTREAM_ADMIN_PASSWORD``; it must meet the policy, else
        :class:`WeakPassword`) or, when that is empty, a generated one-time password.

        Returns ``(created, one_time_password)``: ``(False, None)`` when an admin exists (or
        another process created one meanwhile), ``(True, None)`` when the given password was
        used, ``(True, password)`` when one was generated: print it once, it is not stored.
        If the username is taken by a non-admin, that account is promoted and its password set.
        """
        with self.db.session() as s:
            if self._active_admins(s) > 0:
                return False, None
        generated = None
        password = password_from_env or None
        if password is None:
            password = generated = generate_password()
        check_policy(password, username)
        existing = self.get(username)
        if existing is not None:
            with self.db.session() as s:
                user = self._require(s, username)
                user.role = "admin"
                user.is_active = True
                self._store_password(s, user, password)
            log.warning("no admin existed: user %s promoted to admin and given a new password", username)
            return True, generated
        try:
            self.create(username, password, role="admin")
        except UserExists:
            return False, None
        log.warning("created the first admin user %r", username)
        return True, generated
