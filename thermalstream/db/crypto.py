"""Camera credentials sealed at rest: the password of ``user:pass@`` and secret query values of
camera URLs are stored Fernet-encrypted (``enc1.<token>``); host, path and other options stay
readable. The key lives beside the cookie secret (``Settings.credentials_key``).

The ``SealedURL`` column type does it on every write and read. It finds its cipher on the
engine's dialect, where :func:`attach` puts it, so two databases in one process keep their own
keys. Rows written before (clear text) are still read, and :func:`reseal` encrypts them.
"""

from __future__ import annotations

import logging

from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import Text, select, update
from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.types import TypeDecorator

from thermalstream.sources.url import map_secrets

log = logging.getLogger(__name__)
PREFIX = "enc1."
_ATTR = "thermalstream_cipher"


class CredentialCipher:
    """Seal and open the secrets inside camera URLs with one Fernet key."""

    def __init__(self, key: str | bytes) -> None:
        self.fernet = Fernet(key)

    def seal(self, url: str) -> str:
        return map_secrets(url, self._seal_value)

    def open(self, stored: str) -> str:
        return map_secrets(stored, self._open_value, every_value=True) if PREFIX in stored else stored

    def _seal_value(self, value: str) -> str:
        if value.startswith(PREFIX) or value == "***":
            return value
        return PREFIX + self.fernet.encrypt(value.encode("utf-8")).decode("ascii")

    def _open_value(self, value: str) -> str:
        if not value.startswith(PREFIX):
            return value
        try:
            return self.fernet.decrypt(value[len(PREFIX):].encode("ascii")).decode("utf-8")
        except (InvalidToken, ValueError):
            log.error("a stored camera credential cannot be decrypted with this credentials key")
            return value


def is_sealed(stored: str | None, cipher: CredentialCipher) -> bool:
    """Whether every secret in ``stored`` is already encrypted."""
    return stored is None or cipher.seal(stored) == stored


def attach(engine: Engine, key: str | bytes) -> CredentialCipher:
    """Give ``engine`` its cipher: from now on its SealedURL columns are sealed and opened."""
    cipher = CredentialCipher(key)
    setattr(engine.dialect, _ATTR, cipher)
    return cipher


class SealedURL(TypeDecorator):
    """Text holding a camera URL whose credentials are encrypted in the database."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        cipher = getattr(dialect, _ATTR, None)
        return cipher.seal(value) if cipher is not None and value is not None else value

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        cipher = getattr(dialect, _ATTR, None)
        return cipher.open(value) if cipher is not None and value is not None else value


class SealedSecret(TypeDecorator):
    """Text holding a whole secret (a webhook's signing key), Fernet-encrypted in the database
    with the same key as camera credentials; clear when the engine has no cipher (bare tests)."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        cipher = getattr(dialect, _ATTR, None)
        return cipher._seal_value(value) if cipher is not None and value is not None else value

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        cipher = getattr(dialect, _ATTR, None)
        return cipher._open_value(value) if cipher is not None and value is not None else value


def reseal(engine: Engine) -> int:
    """Encrypt the credentials of camera rows stored in clear (rows from before sealing, or written
    without a key). Returns how many rows changed."""
    from thermalstream.db.models import Camera

    cipher: CredentialCipher | None = getattr(engine.dialect, _ATTR, None)
    if cipher is None:
        return 0
    table = Camera.__table__
    changed = 0
    with engine.begin() as conn:
        # read the stored text itself (not through SealedURL, which would open it)
        rows = conn.execute(select(table.c.id, table.c.url.cast(Text))).all()
        for cid, stored in rows:
            if stored and not is_sealed(stored, cipher):
                conn.execute(update(table).where(table.c.id == cid).values(url=cipher.open(stored)))
                changed += 1
    if changed:
        log.info("sealed the credentials of %d camera URL(s) stored in clear", changed)
    return changed
