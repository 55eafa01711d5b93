"""Camera workers: which worker owns which camera (leases).

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

TS = sa.DateTime(timezone=True)

revision: str = '0012'
down_revision: str | Sequence[str] | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'worker_leases',
        sa.Column('camera_id', sa.Integer(), nullable=False),
        sa.Column('worker_id', sa.String(length=128), nullable=False),
        sa.Column('backend', sa.String(length=16), nullable=False),
        sa.Column('pid', sa.Integer(), nullable=True),
        sa.Column('acquired_at', TS, nullable=False),
        sa.Column('moves', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['camera_id'], ['cameras.id'], name=op.f('fk_worker_leases_camera_id_cameras'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('camera_id', name=op.f('pk_worker_leases')),
    )


def downgrade() -> None:
    op.drop_table('worker_leases')
