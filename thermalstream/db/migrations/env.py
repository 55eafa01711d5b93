"""Alembic environment, configured in code by :func:`thermalstream.db.engine.alembic_config`.

Runs on ``config.attributes["connection"]`` when given, else on an engine made from
``config.attributes["url"]`` (or ``sqlalchemy.url``). Offline mode (``--sql``) renders SQL
for the URL's dialect.
"""

from __future__ import annotations

from alembic import context

from thermalstream.db.engine import make_engine
from thermalstream.db.models import metadata

config = context.config


def _url() -> str:
    url = config.attributes.get("url") or config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no database: pass a connection or url to thermalstream.db.engine.alembic_config")
    return str(url)


def _configure(**kw) -> None:
    context.configure(
        target_metadata=metadata,
        compare_type=True,
        render_as_batch=True,  # SQLite cannot ALTER most things; batch mode copies the table
        **kw,
    )


def run_offline() -> None:
    _configure(url=_url(), literal_binds=True, dialect_opts={"paramstyle": "named"})
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection=connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = make_engine(_url())
    try:
        with engine.connect() as conn:
            _configure(connection=conn)
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
