"""Auth: per-user opt-in for alert emails, and rate-limit events kept in the database.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

TS = sa.DateTime(timezone=True)

revision: str = '0003'
down_revision: str | Sequence[str] | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('users') as batch_op:
        batch_op.add_column(sa.Column('email_alerts', sa.Boolean(), server_default=sa.false(), nullable=False))
    op.create_table(
        'rate_limit_events',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=32), nullable=False),
        sa.Column('key', sa.String(length=128), nullable=False),
        sa.Column('at', TS, nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_rate_limit_events'))
    )
    op.create_index(op.f('ix_rate_limit_events_kind_key_at'), 'rate_limit_events', ['kind', 'key', 'at'])


def downgrade() -> None:
    op.drop_table('rate_limit_events')
    with op.batch_alter_table('users') as batch_op:
        batch_op.drop_column('email_alerts')
