"""Detections from a counts source: the value in counts beside max_celsius (weightless detector).

Also the detector's label hint (person-sized, animal-sized, vehicle-sized) on detections and events.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0005'
down_revision: str | Sequence[str] | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    for table in ('detections', 'events'):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column('max_counts', sa.Float(), nullable=True))
            batch.add_column(sa.Column('hint', sa.String(length=32), nullable=True))


def downgrade() -> None:
    for table in ('detections', 'events'):
        with op.batch_alter_table(table) as batch:
            batch.drop_column('hint')
            batch.drop_column('max_counts')
