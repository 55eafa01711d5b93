"""Password hashing (bcrypt) and the password policy.

Hash format
    ``bcrypt-sha256$<bcrypt hash>`` where the bcrypt input is
    ``base64(sha256(NFKC(password) as UTF-8))`` (44 ASCII bytes). bcrypt reads at most 72
    bytes and stops at NUL; bcrypt 5 refuses longer input outright. Pre-hashing lets
    every password count in full, whatever its length, and removes the NUL problem. Plain
    bcrypt hashes (``$2b$...``, written by other tools) are still verified, and
    :meth:`PasswordHasher.needs_rehash` says when to upgrade them after a successful login.

Unknown users
    :meth:`PasswordHasher.dummy_verify` spends the same time as a real check against a hash
    of the same cost, so the response time does not tell whether a username exists.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
import unicodedata

import bcrypt

from thermalstream.auth.errors import WeakPassword

PREFIX = "bcrypt-sha256$"
DEFAULT_ROUNDS = 12
MIN_LENGTH = 10
MAX_LENGTH = 1024  # characters; the pre-hash makes any length safe, this only bounds work and storage

# The most common passwords of at least MIN_LENGTH characters (breach lists); compared case-insensitively.
COMMON_PASSWORDS = frozenset({
    "1234567890", "0123456789", "12345678910", "1q2w3e4r5t", "1qaz2wsx3edc", "qwertyuiop", "qwerty1234",
    "qwerty12345", "password1", "password12", "password123", "password1234", "passw0rd123", "iloveyou12",
    "abcdefghij", "abc1234567", "aaaaaaaaaa", "1111111111", "0000000000", "administrator", "admin12345",
    "adminadmin", "letmein123", "welcome123", "changeme123", "thermalstream", "thermalstream1",
    "thermalstream123", "trustno1234", "football123", "baseball123", "princess123", "sunshine123",
})


def _normalize(password: str) -> str:
    return unicodedata.normalize("NFKC", password)


def _prehash(password: str) -> bytes:
    return base64.b64encode(hashlib.sha256(_normalize(password).encode("utf-8")).digest())


def check_policy(password: object, username: str | None = None) -> str:
    """Return ``password`` if it meets the policy, else raise :class:`WeakPassword` saying why.

    At least 10 and at most 1024 characters, not only spaces, not the username, not one of the
    most common passwords.
    """
    if not isinstance(password, str):
        raise WeakPassword("The password must be text.")
    n = len(_normalize(password))
    if n < MIN_LENGTH:
        raise WeakPassword(f"The password is too short: use at least {MIN_LENGTH} characters.")
    if n > MAX_LENGTH:
        raise WeakPassword(f"The password is too long: use at most {MAX_LENGTH} characters.")
    if not password.strip():
        raise WeakPassword("The password cannot be only spaces.")
    if "\x00" in password:
        raise WeakPassword("The password cannot contain NUL characters.")
    folded = _normalize(password).casefold()
    if username and folded == _normalize(username).casefold():
        raise WeakPassword("The password cannot be the same as the username.")
    if folded in COMMON_PASSWORDS or len(set(folded)) <= 2:
        raise WeakPassword("The password is too easy to guess: choose a less common one.")
    return password


def generate_password(nbytes: int = 15) -> str:
    """A random password (20 URL-safe characters for the default 15 bytes)."""
    return secrets.token_urlsafe(nbytes)


class PasswordHasher:
    """bcrypt with SHA-256 pre-hashing. ``rounds`` is the bcrypt cost (12 by default; tests use 4)."""

    def __init__(self, rounds: int = DEFAULT_ROUNDS) -> None:
        if not 4 <= rounds <= 31:
            raise ValueError("bcrypt rounds must be between 4 and 31")
        self.rounds = rounds
        self._dummy: bytes | None = None
        self._lock = threading.Lock()

    def hash(self, password: str) -> str:
        if not isinstance(password, str):
            raise TypeError("password must be a str")
        digest = bcrypt.hashpw(_prehash(password), bcrypt.gensalt(self.rounds))
        return PREFIX + digest.decode("ascii")

    def verify(self, password: object, stored: str | None) -> bool:
        """True if ``password`` matches ``stored``. Never raises for bad input: it just says False
        (and still spends the time of one bcrypt check)."""
        if not isinstance(password, str) or not stored:
            self.dummy_verify()
            return False
        try:
            if stored.startswith(PREFIX):
                return bcrypt.checkpw(_prehash(password), stored[len(PREFIX):].encode("ascii"))
            if stored.startswith(("$2a$", "$2b$", "$2y$")):  # plain bcrypt written elsewhere
                raw = _normalize(password).encode("utf-8")
                if len(raw) > 72 or b"\x00" in raw:
                    self.dummy_verify()
                    return False
                return bcrypt.checkpw(raw, stored.encode("ascii"))
        except (ValueError, UnicodeError):
            pass
        self.dummy_verify()
        return False

    def dummy_verify(self) -> None:
        """Spend the time of one verification against a hash of this cost (unknown user, bad input)."""
        with self._lock:
            if self._dummy is None:
                self._dummy = bcrypt.hashpw(_prehash(secrets.token_hex(16)), bcrypt.gensalt(self.rounds))
        bcrypt.checkpw(b"x" * 44, self._dummy)

    def needs_rehash(self, stored: str | None) -> bool:
        """True for hashes in another format or of another cost: re-hash after a successful login."""
        if not stored or not stored.startswith(PREFIX):
            return True
        try:
            cost = int(stored[len(PREFIX):].split("$")[2])
        except (IndexError, ValueError):
            return True
        return cost != self.rounds


def constant_time_equals(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())
