"""Access: session versions, ids never reused.

* ``users.session_version``: bumped whenever every session of a user must end (logout, password
  change or reset, role change, disabling); login cookies and access tokens carry it.
* On SQLite, the tables whose ids name things on disk or in tokens (users, cameras, recordings,
  recording_segments, events, detections) become ``AUTOINCREMENT`` tables, so a deleted row's id
  is never given to a new one. PostgreSQL sequences never reuse ids; nothing to do there.

SQLite cannot add AUTOINCREMENT in place: each table is copied. Foreign keys are switched off
while the tables are swapped (else dropping the old ``cameras`` would cascade to its recordings),
which SQLite allows only outside a transaction, so the migration commits what came before it
(the copy comes first and may run again if a later step fails).

Revision ID: 0007
Revises: 0005
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0007'
down_revision: str | Sequence[str] | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("users", "cameras", "recordings", "recording_segments", "events", "detections")


def _recreate(autoincrement: bool) -> None:
    """Copy each table with or without SQLite AUTOINCREMENT, foreign keys off meanwhile."""
    bind = op.get_bind()
    raw = bind.connection.dbapi_connection
    if raw.in_transaction:
        raw.commit()
    bind.exec_driver_sql("PRAGMA foreign_keys=OFF")
    try:
        for name in TABLES:
            with op.batch_alter_table(name, recreate="always",
                                      table_kwargs={"sqlite_autoincrement": autoincrement}):
                pass
        bad = bind.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
        if bad:
            raise RuntimeError(f"foreign keys broken by the table copy: {bad[:5]}")
    finally:
        if raw.in_transaction:
            raw.commit()
        bind.exec_driver_sql("PRAGMA foreign_keys=ON")


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":  # first: it commits, and copying again is harmless
        _recreate(True)
    with op.batch_alter_table('users') as batch_op:  # in the same transaction as the version stamp
        batch_op.add_column(sa.Column('session_version', sa.Integer(), server_default='0', nullable=False))


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _recreate(False)
    with op.batch_alter_table('users') as batch_op:
        batch_op.drop_column('session_version')
