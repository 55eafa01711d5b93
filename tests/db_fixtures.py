"""Database fixtures shared by the database tests: import them into a test module.

``db_url`` is an empty database, once on SQLite (under ``tmp_path``) and once on PostgreSQL
(a fresh, uniquely named schema selected through ``search_path``, dropped afterwards);
``db`` is a :class:`~thermalstream.db.Database` on it, migrated to head.

PostgreSQL is not optional: if it cannot be reached the postgres cases fail (CI starts it
with ``scripts/postgres.sh``).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from thermalstream.db import Database

PG_URL = os.environ.get(
    "THERMALSTREAM_TEST_PG_URL",
    "postgresql+psycopg://thermalstream:thermalstream@127.0.0.1:5432/thermalstream_test",
)
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


def _pg_schema_url() -> Iterator[str]:
    base = make_url(PG_URL)
    admin = create_engine(base, connect_args={"connect_timeout": 5}, poolclass=NullPool)
    schema = f"ts_test_{uuid.uuid4().hex[:12]}"
    try:
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    except Exception as exc:  # noqa: BLE001 - any failure to reach the server fails the test
        admin.dispose()
        pytest.fail(
            f"PostgreSQL at {base.render_as_string(hide_password=True)} is not usable ({exc.__class__.__name__}: "
            f"{str(exc).strip().splitlines()[0] if str(exc).strip() else ''}); start it with scripts/postgres.sh "
            "or set THERMALSTREAM_TEST_PG_URL",
            pytrace=False,
        )
    url = base.update_query_dict({"options": f"-csearch_path={schema}", "connect_timeout": "5"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.execute(text("SET LOCAL lock_timeout = '10s'"))
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:
    """URL of an empty database on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'db' / 'thermalstream.db'}"
    else:
        yield from _pg_schema_url()


@pytest.fixture
def pg_url() -> Iterator[str]:
    """URL of an empty PostgreSQL schema (for PostgreSQL-only tests)."""
    yield from _pg_schema_url()


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    """A migrated database on each backend."""
    database = Database(db_url)
    database.upgrade()
    try:
        yield database
    finally:
        database.dispose()
