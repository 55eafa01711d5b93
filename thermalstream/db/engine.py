"""Engines, sessions and migrations. No module-level engine: each server (or test) makes its own."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

from thermalstream.db import crypto
from thermalstream.db.outage import OutageWatch, outage_reason

if TYPE_CHECKING:
    from alembic.config import Config

    from thermalstream.config import Settings

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
SQLITE_BUSY_TIMEOUT_MS = 30_000
_MIGRATION_LOCK_ID = 0x7468_6572  # PostgreSQL advisory lock: one migrating process at a time


def _is_memory_sqlite(url: URL) -> bool:
    return url.database in (None, "", ":memory:") or (url.query.get("mode") == "memory")


def make_engine(url: str | URL, **kwargs: Any) -> Engine:
    """An engine for ``url`` set up for a multi-threaded server.

    SQLite: WAL journal, foreign keys enforced, a busy timeout, usable from any thread, and
    the database file's folder created. PostgreSQL (and others): ``pool_pre_ping`` so that
    connections dropped by a server restart are replaced. ``kwargs`` go to ``create_engine``.
    """
    u = make_url(url)
    if u.get_backend_name() == "sqlite":
        connect_args = dict(kwargs.pop("connect_args", {}) or {})
        connect_args.setdefault("check_same_thread", False)
        connect_args.setdefault("timeout", SQLITE_BUSY_TIMEOUT_MS / 1000)
        if _is_memory_sqlite(u):
            kwargs.setdefault("poolclass", StaticPool)  # one shared connection, else each one is empty
        elif u.database:
            Path(u.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(u, connect_args=connect_args, **kwargs)
        event.listen(engine, "connect", _sqlite_on_connect)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    if u.get_backend_name() == "postgresql" and "connect_timeout" not in u.query:
        kwargs.setdefault("connect_args", {}).setdefault("connect_timeout", 5)  # an outage must not hang requests
    return create_engine(u, **kwargs)


def _sqlite_on_connect(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    try:
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA synchronous=NORMAL")  # safe with WAL, much faster than FULL
    finally:
        cur.close()


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded attributes after commit (rows stay readable once the block ends)."""
    return sessionmaker(bind=engine, expire_on_commit=False)


# --- migrations -----------------------------------------------------------------------------


def alembic_config(url: str | URL | None = None, connection: Any = None) -> Config:
    """An alembic ``Config`` built in code (no alembic.ini): the package's migrations, ``url`` or
    an open ``connection`` to run them on."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["configure_logging"] = False
    if url is not None:
        cfg.attributes["url"] = url if isinstance(url, str) else url.render_as_string(hide_password=False)
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def _run_alembic(target: str | URL | Engine, fn: Any, revision: str) -> None:
    if isinstance(target, Engine):
        engine, own = target, False
    else:
        engine, own = make_engine(target), True
    try:
        with engine.begin() as conn:
            if conn.dialect.name == "postgresql":  # servers/workers starting together migrate in turn
                conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_MIGRATION_LOCK_ID})")
            fn(alembic_config(connection=conn), revision)
    finally:
        if own:
            engine.dispose()


def upgrade(target: str | URL | Engine, revision: str = "head") -> None:
    """Migrate the database at ``target`` (URL or engine) up to ``revision``."""
    from alembic import command

    _run_alembic(target, command.upgrade, revision)


def downgrade(target: str | URL | Engine, revision: str = "base") -> None:
    """Migrate the database at ``target`` (URL or engine) down to ``revision`` (default: empty)."""
    from alembic import command

    _run_alembic(target, command.downgrade, revision)


def current_revision(target: str | URL | Engine) -> str | None:
    """The revision the database is at (None: not under migration control)."""
    from alembic.migration import MigrationContext

    engine = target if isinstance(target, Engine) else make_engine(target)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        if engine is not target:
            engine.dispose()


def head_revision() -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def _mark_written(session: Session, _ctx: Any) -> None:
    session.info["wrote"] = True  # a full disk is over only when a write got through


# --- the database handle -----------------------------------------------------------------------


class Database:
    """One database: an engine plus a session factory.

    >>> db = Database.create(settings)          # migrate to head, then connect
    >>> with db.session() as s:                 # commits on success, rolls back on error
    ...     s.add(obj)
    """

    def __init__(self, target: str | URL | Engine, **engine_kwargs: Any) -> None:
        self.engine: Engine = target if isinstance(target, Engine) else make_engine(target, **engine_kwargs)
        self.sessionmaker: sessionmaker[Session] = session_factory(self.engine)
        self.outage = OutageWatch()  # outages logged once, failed fast, ended by the next success
        event.listen(self.sessionmaker, "after_flush", _mark_written)

    @classmethod
    def create(cls, settings: Settings, *, migrate: bool = True, **engine_kwargs: Any) -> Database:
        """The database configured by ``settings`` (``settings.db_url``), migrated to head first."""
        db = cls(settings.db_url, **engine_kwargs)
        if migrate:
            db.upgrade()
        crypto.attach(db.engine, settings.sealing_key())  # camera credentials sealed at rest
        if migrate:
            crypto.reseal(db.engine)  # rows from before sealing (or written without the key)
        return db

    @property
    def url(self) -> URL:
        return self.engine.url

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def upgrade(self, revision: str = "head") -> None:
        upgrade(self.engine, revision)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session in a transaction: committed when the block ends, rolled back if it raises.
        During an outage it raises :class:`DatabaseUnavailable` at once (see ``db.outage``)."""
        self.outage.check()
        s = self.sessionmaker()
        try:
            yield s
            s.commit()
        except BaseException as exc:
            try:
                s.rollback()
            except Exception:  # noqa: BLE001 - a dead connection: the original error matters
                pass
            self.outage.failed(exc)
            raise
        else:
            self.outage.ok(wrote=bool(s.info.get("wrote")))
        finally:
            s.close()

    def ping(self) -> str | None:
        """None when the database answers, else why not (used by /health)."""
        try:
            with self.session() as s:
                s.execute(text("SELECT 1"))
        except Exception as exc:  # noqa: BLE001 - any failure is the answer
            return outage_reason(exc) or f"{exc.__class__.__name__}: {exc}"[:200]
        return None

    def dispose(self) -> None:
        self.engine.dispose()

    def __repr__(self) -> str:
        return f"Database({self.url.render_as_string(hide_password=True)!r})"
