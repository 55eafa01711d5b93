"""Database outages: recognised once, logged once, answered fast, ended on their own.

:class:`OutageWatch` is told about every session's success or failure by
:meth:`Database.session`. The first failure that means "the database cannot be reached or
cannot write" (:func:`outage_reason`) is logged once, without a traceback; while the outage
lasts, sessions fail fast with :class:`DatabaseUnavailable` except one real attempt per
``probe_s`` (so a dead server does not stall every request for its connect timeout), and the
first success logs that the database is back. Handlers answer 503 (507 when the disk is full).
"""

from __future__ import annotations

import logging
import re
import threading
import time

from sqlalchemy import exc as sa_exc

log = logging.getLogger("thermalstream.db")

# SQLite says what went wrong only in its message; PostgreSQL gives a SQLSTATE (none when the
# client could not reach the server at all).
_SQLITE_OUTAGE = re.compile(r"unable to open|disk i/o error|disk is full|database is locked|readonly|"
                            r"file is not a database|malformed", re.I)
_PG_OUTAGE_STATES = ("08", "53", "57P01", "57P02", "57P03", "58")  # connection, resources, shutdown, system
_DISK_FULL = re.compile(r"disk is full|no space left|could not extend|could not write|ENOSPC", re.I)


class DatabaseUnavailable(RuntimeError):
    """The database is out (unreachable, or its disk is full); ``reason`` says why."""

    def __init__(self, reason: str, disk_full: bool = False) -> None:
        super().__init__(f"database unavailable: {reason}")
        self.reason = reason
        self.disk_full = disk_full


def outage_reason(exc: BaseException) -> str | None:
    """A one-line reason when ``exc`` means the database is unreachable or cannot write, else None."""
    if isinstance(exc, DatabaseUnavailable):
        return exc.reason
    orig = getattr(exc, "orig", None)
    text = str(orig or exc).strip()
    if isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated:
        pass
    elif isinstance(exc, sa_exc.TimeoutError):  # no pooled connection came free
        pass
    elif not isinstance(exc, (sa_exc.OperationalError, sa_exc.InterfaceError)):
        return None
    elif type(orig).__module__.startswith("sqlite3"):
        if not _SQLITE_OUTAGE.search(text):
            return None  # a bad statement, not an outage
    else:
        state = getattr(orig, "sqlstate", None)
        if state and not state.startswith(_PG_OUTAGE_STATES):
            return None  # deadlock, lock timeout, serialization: the caller's error, not an outage
    first = next((ln.strip() for ln in text.splitlines() if ln.strip()), exc.__class__.__name__)
    return first[:200]


def is_disk_full(exc: BaseException) -> bool:
    if isinstance(exc, DatabaseUnavailable):
        return exc.disk_full
    return bool(_DISK_FULL.search(str(getattr(exc, "orig", None) or exc)))


class OutageWatch:
    """The outage state of one database (see the module docstring)."""

    def __init__(self, probe_s: float = 1.0) -> None:
        self.probe_s = float(probe_s)
        self.reason: str | None = None
        self.disk_full = False
        self.since: float | None = None
        self.count = 0  # outages seen since start
        self.errors = 0  # sessions that failed with a database error (any kind; /metrics)
        self._next_probe = 0.0
        self._lock = threading.Lock()

    def check(self) -> None:
        """Before a session: fail fast during an outage, except one probe every ``probe_s``. A
        full disk still serves reads, so it never fails fast."""
        if self.reason is None or self.disk_full:
            return
        with self._lock:
            now = time.monotonic()
            if self.reason is not None and now < self._next_probe:
                raise DatabaseUnavailable(self.reason, self.disk_full)
            self._next_probe = now + self.probe_s

    def failed(self, exc: BaseException) -> bool:
        """Record a failed session; True when it was an outage."""
        if isinstance(exc, sa_exc.SQLAlchemyError):
            self.errors += 1
        reason = outage_reason(exc)
        if reason is None:
            return False
        with self._lock:
            self._next_probe = time.monotonic() + self.probe_s
            self.disk_full = is_disk_full(exc)
            if self.reason is None:
                self.since = time.time()
                self.count += 1
                log.error("database unavailable: %s (logged once; answering 503 until it is back)", reason)
            self.reason = reason
        return True

    def ok(self, wrote: bool = True) -> None:
        """A session succeeded; a full disk is over only when a session could write."""
        if self.reason is None or (self.disk_full and not wrote):
            return
        with self._lock:
            if self.reason is not None:
                log.warning("database is back after %.1f s", time.time() - (self.since or time.time()))
                self.reason, self.since, self.disk_full = None, None, False

    def state(self) -> dict:
        return {"ok": self.reason is None, "error": self.reason, "since": self.since, "outages": self.count,
                "errors": self.errors}





def log_failure(logger: logging.Logger, msg: str, *args) -> None:
    """``logger.exception(msg)`` for the error being handled, but only a debug line when it is a
    database outage (already logged once by :class:`OutageWatch`): no traceback per retry."""
    import sys

    exc = sys.exc_info()[1]
    if exc is not None and outage_reason(exc) is not None:
        logger.debug(msg + " (database unavailable)", *args)
    else:
        logger.exception(msg, *args)
__all__ = ["DatabaseUnavailable", "OutageWatch", "is_disk_full", "log_failure", "outage_reason"]
