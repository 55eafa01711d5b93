"""Measurement regions (ROIs), their temperature series and alarms (thermal workbench).

Revision ID: 0009
Revises: 0007
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

TS = sa.DateTime(timezone=True)

revision: str = '0009'
down_revision: str | Sequence[str] | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'rois',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('camera_id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=128), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('points', sa.JSON(), nullable=False),
        sa.Column('created_at', TS, nullable=False),
        sa.Column('updated_at', TS, nullable=False),
        sa.Column('created_by', sa.Integer(), nullable=True),
        sa.CheckConstraint("kind IN ('spot', 'box', 'polygon', 'line')", name=op.f('ck_rois_kind')),
        sa.ForeignKeyConstraint(['camera_id'], ['cameras.id'], name=op.f('fk_rois_camera_id_cameras'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_rois_created_by_users'),
                                ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_rois')),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f('ix_rois_camera_id'), 'rois', ['camera_id'])
    op.create_table(
        'roi_samples',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('roi_id', sa.Integer(), nullable=False),
        sa.Column('timestamp', TS, nullable=False),
        *[sa.Column(c, sa.Float(), nullable=False) for c in ('min', 'max', 'mean', 'std')],
        sa.Column('unit', sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(['roi_id'], ['rois.id'], name=op.f('fk_roi_samples_roi_id_rois'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_roi_samples')),
    )
    op.create_index(op.f('ix_roi_samples_roi_id_timestamp'), 'roi_samples', ['roi_id', 'timestamp'])
    op.create_table(
        'roi_minutes',
        sa.Column('roi_id', sa.Integer(), nullable=False),
        sa.Column('minute', TS, nullable=False),
        *[sa.Column(c, sa.Float(), nullable=False) for c in ('min', 'max', 'mean')],
        sa.Column('samples', sa.Integer(), nullable=False),
        sa.Column('unit', sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(['roi_id'], ['rois.id'], name=op.f('fk_roi_minutes_roi_id_rois'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('roi_id', 'minute', name=op.f('pk_roi_minutes')),
    )
    op.create_table(
        'alarm_rules',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('camera_id', sa.Integer(), nullable=False),
        sa.Column('roi_id', sa.Integer(), nullable=True),
        sa.Column('other_roi_id', sa.Integer(), nullable=True),
        sa.Column('name', sa.String(length=128), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('statistic', sa.String(length=8), nullable=False),
        sa.Column('low', sa.Float(), nullable=True),
        sa.Column('high', sa.Float(), nullable=True),
        sa.Column('hysteresis', sa.Float(), nullable=False),
        sa.Column('min_duration_s', sa.Float(), nullable=False),
        sa.Column('enabled', sa.Boolean(), nullable=False),
        sa.Column('record', sa.Boolean(), nullable=False),
        sa.Column('created_at', TS, nullable=False),
        sa.Column('created_by', sa.Integer(), nullable=True),
        sa.CheckConstraint("kind IN ('above', 'below', 'outside', 'rise', 'difference')",
                           name=op.f('ck_alarm_rules_kind')),
        sa.CheckConstraint("statistic IN ('max', 'min', 'mean')", name=op.f('ck_alarm_rules_statistic')),
        sa.ForeignKeyConstraint(['camera_id'], ['cameras.id'], name=op.f('fk_alarm_rules_camera_id_cameras'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['roi_id'], ['rois.id'], name=op.f('fk_alarm_rules_roi_id_rois'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['other_roi_id'], ['rois.id'], name=op.f('fk_alarm_rules_other_roi_id_rois'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_alarm_rules_created_by_users'),
                                ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_alarm_rules')),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f('ix_alarm_rules_camera_id'), 'alarm_rules', ['camera_id'])
    op.create_index(op.f('ix_alarm_rules_roi_id'), 'alarm_rules', ['roi_id'])
    op.create_table(
        'alarms',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('rule_id', sa.Integer(), nullable=True),
        sa.Column('camera_id', sa.Integer(), nullable=False),
        sa.Column('roi_id', sa.Integer(), nullable=True),
        sa.Column('event_id', sa.Integer(), nullable=True),
        sa.Column('name', sa.String(length=128), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('raised_at', TS, nullable=False),
        sa.Column('cleared_at', TS, nullable=True),
        sa.Column('value', sa.Float(), nullable=False),
        sa.Column('peak', sa.Float(), nullable=False),
        sa.Column('unit', sa.String(length=16), nullable=False),
        sa.Column('message', sa.Text(), nullable=False),
        sa.Column('acknowledged_at', TS, nullable=True),
        sa.Column('acknowledged_by', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['rule_id'], ['alarm_rules.id'], name=op.f('fk_alarms_rule_id_alarm_rules'),
                                ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['camera_id'], ['cameras.id'], name=op.f('fk_alarms_camera_id_cameras'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['roi_id'], ['rois.id'], name=op.f('fk_alarms_roi_id_rois'), ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['event_id'], ['events.id'], name=op.f('fk_alarms_event_id_events'),
                                ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['acknowledged_by'], ['users.id'], name=op.f('fk_alarms_acknowledged_by_users'),
                                ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_alarms')),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f('ix_alarms_rule_id'), 'alarms', ['rule_id'])
    op.create_index(op.f('ix_alarms_camera_id_raised_at'), 'alarms', ['camera_id', 'raised_at'])


def downgrade() -> None:
    for table in ('alarms', 'alarm_rules', 'roi_minutes', 'roi_samples', 'rois'):
        op.drop_table(table)
