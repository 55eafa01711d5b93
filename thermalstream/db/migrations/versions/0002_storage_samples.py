"""Storage samples: bytes per storage category (and per camera) over time, for the usage charts.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

TS = sa.DateTime(timezone=True)

revision: str = '0002'
down_revision: str | Sequence[str] | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'storage_samples',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('timestamp', TS, nullable=False),
        sa.Column('category', sa.String(length=32), nullable=False),
        sa.Column('camera_id', sa.Integer(), nullable=True),
        sa.Column('bytes', sa.BigInteger(), nullable=False),
        sa.Column('files', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_storage_samples'))
    )
    op.create_index(op.f('ix_storage_samples_timestamp'), 'storage_samples', ['timestamp'])


def downgrade() -> None:
    op.drop_table('storage_samples')
