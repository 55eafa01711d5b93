"""Per-camera radiometric parameters and user calibration (thermal truth).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0004'
down_revision: str | Sequence[str] | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # thermalstream.radiometry.RadiometrySettings as JSON; NULL = the source's own values
    with op.batch_alter_table('cameras') as batch:
        batch.add_column(sa.Column('radiometry', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('cameras') as batch:
        batch.drop_column('radiometry')
