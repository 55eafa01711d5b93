"""Initial schema: users and tokens, cameras and shares, recordings and segments,
schedules, events, detections, notifications.

Timestamps are ``timestamp with time zone`` (UTC; SQLite stores naive UTC, see
``thermalstream.db.types.UTCDateTime``). Hand-reviewed autogenerate output.

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

TS = sa.DateTime(timezone=True)

revision: str = '0001'
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'users',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('username', sa.String(length=64), nullable=False),
        sa.Column('email', sa.String(length=255), nullable=True),
        sa.Column('password_hash', sa.String(length=255), nullable=True),
        sa.Column('role', sa.String(length=16), nullable=False),
        sa.Column('is_active', sa.Boolean(), nullable=False),
        sa.Column('created_at', TS, nullable=False),
        sa.Column('last_login_at', TS, nullable=True),
        sa.Column('timezone', sa.String(length=64), nullable=False),
        sa.Column('failed_logins', sa.Integer(), nullable=False),
        sa.Column('locked_until', TS, nullable=True),
        sa.CheckConstraint("role IN ('admin', 'operator', 'viewer')", name=op.f('ck_users_role')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_users')),
        sa.UniqueConstraint('username', name=op.f('uq_users_username'))
    )
    op.create_table(
        'cameras',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=128), nullable=False),
        sa.Column('url', sa.Text(), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('enabled', sa.Boolean(), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('status_reason', sa.Text(), nullable=True),
        sa.Column('last_seen_at', TS, nullable=True),
        sa.Column('created_at', TS, nullable=False),
        sa.Column('updated_at', TS, nullable=False),
        sa.Column('owner_id', sa.Integer(), nullable=True),
        sa.Column('worker_id', sa.String(length=64), nullable=True),
        sa.Column('settings', sa.JSON(), nullable=False),
        sa.Column('radiometric', sa.Boolean(), nullable=False),
        sa.Column('width', sa.Integer(), nullable=True),
        sa.Column('height', sa.Integer(), nullable=True),
        sa.Column('fps', sa.Float(), nullable=True),
        sa.CheckConstraint("status IN ('connecting', 'live', 'reconnecting', 'failed', 'stopped')", name=op.f('ck_cameras_status')),
        sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_cameras_owner_id_users'), ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_cameras'))
    )
    op.create_index(op.f('ix_cameras_owner_id'), 'cameras', ['owner_id'])
    op.create_index(op.f('ix_cameras_worker_id'), 'cameras', ['worker_id'])
    op.create_table(
        'notifications',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=True),
        sa.Column('type', sa.String(length=16), nullable=False),
        sa.Column('title', sa.String(length=200), nullable=False),
        sa.Column('message', sa.Text(), nullable=False),
        sa.Column('data', sa.JSON(), nullable=False),
        sa.Column('read', sa.Boolean(), nullable=False),
        sa.Column('created_at', TS, nullable=False),
        sa.CheckConstraint("type IN ('info', 'success', 'warning', 'error')", name=op.f('ck_notifications_type')),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_notifications_user_id_users'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_notifications'))
    )
    op.create_index(op.f('ix_notifications_user_id_read_created_at'), 'notifications', ['user_id', 'read', 'created_at'])
    op.create_table(
        'password_reset_tokens',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('token_hash', sa.String(length=128), nullable=False),
        sa.Column('created_at', TS, nullable=False),
        sa.Column('expires_at', TS, nullable=False),
        sa.Column('used_at', TS, nullable=True),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_password_reset_tokens_user_id_users'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_password_reset_tokens')),
        sa.UniqueConstraint('token_hash', name=op.f('uq_password_reset_tokens_token_hash'))
    )
    op.create_index(op.f('ix_password_reset_tokens_user_id'), 'password_reset_tokens', ['user_id'])
    op.create_table(
        'refresh_tokens',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('token_hash', sa.String(length=128), nullable=False),
        sa.Column('created_at', TS, nullable=False),
        sa.Column('expires_at', TS, nullable=False),
        sa.Column('revoked_at', TS, nullable=True),
        sa.Column('replaced_by_id', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['replaced_by_id'], ['refresh_tokens.id'], name=op.f('fk_refresh_tokens_replaced_by_id_refresh_tokens'), ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_refresh_tokens_user_id_users'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_refresh_tokens')),
        sa.UniqueConstraint('token_hash', name=op.f('uq_refresh_tokens_token_hash'))
    )
    op.create_index(op.f('ix_refresh_tokens_user_id'), 'refresh_tokens', ['user_id'])
    op.create_table(
        'camera_shares',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('camera_id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=True),
        sa.Column('role', sa.String(length=16), nullable=True),
        sa.Column('created_at', TS, nullable=False),
        sa.CheckConstraint("role IS NULL OR role IN ('admin', 'operator', 'viewer')", name=op.f('ck_camera_shares_role')),
        sa.CheckConstraint('user_id IS NOT NULL OR role IS NOT NULL', name=op.f('ck_camera_shares_target')),
        sa.ForeignKeyConstraint(['camera_id'], ['cameras.id'], name=op.f('fk_camera_shares_camera_id_cameras'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_camera_shares_user_id_users'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_camera_shares'))
    )
    op.create_index(op.f('ix_camera_shares_camera_id'), 'camera_shares', ['camera_id'])
    op.create_index(op.f('ix_camera_shares_user_id'), 'camera_shares', ['user_id'])
    op.create_table(
        'events',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('camera_id', sa.Integer(), nullable=False),
        sa.Column('label', sa.String(length=64), nullable=False),
        sa.Column('started_at', TS, nullable=False),
        sa.Column('ended_at', TS, nullable=True),
        sa.Column('max_confidence', sa.Float(), nullable=False),
        sa.Column('max_celsius', sa.Float(), nullable=True),
        sa.Column('snapshot_path', sa.String(length=512), nullable=True),
        sa.Column('zones', sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(['camera_id'], ['cameras.id'], name=op.f('fk_events_camera_id_cameras'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_events'))
    )
    op.create_index(op.f('ix_events_camera_id_started_at'), 'events', ['camera_id', 'started_at'])
    op.create_table(
        'recording_schedules',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('camera_id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=128), nullable=False),
        sa.Column('days_of_week', sa.String(length=64), nullable=False),
        sa.Column('start_time', sa.Time(), nullable=False),
        sa.Column('stop_time', sa.Time(), nullable=False),
        sa.Column('timezone', sa.String(length=64), nullable=False),
        sa.Column('enabled', sa.Boolean(), nullable=False),
        sa.Column('created_at', TS, nullable=False),
        sa.Column('updated_at', TS, nullable=False),
        sa.Column('created_by', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['camera_id'], ['cameras.id'], name=op.f('fk_recording_schedules_camera_id_cameras'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_recording_schedules_created_by_users'), ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_recording_schedules'))
    )
    op.create_index(op.f('ix_recording_schedules_camera_id'), 'recording_schedules', ['camera_id'])
    op.create_table(
        'detections',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('camera_id', sa.Integer(), nullable=False),
        sa.Column('event_id', sa.Integer(), nullable=True),
        sa.Column('track_id', sa.Integer(), nullable=True),
        sa.Column('label', sa.String(length=64), nullable=False),
        sa.Column('class_id', sa.Integer(), nullable=True),
        sa.Column('confidence', sa.Float(), nullable=False),
        sa.Column('x1', sa.Float(), nullable=False),
        sa.Column('y1', sa.Float(), nullable=False),
        sa.Column('x2', sa.Float(), nullable=False),
        sa.Column('y2', sa.Float(), nullable=False),
        sa.Column('timestamp', TS, nullable=False),
        sa.Column('screenshot_path', sa.String(length=512), nullable=True),
        sa.Column('max_celsius', sa.Float(), nullable=True),
        sa.Column('mean_celsius', sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(['camera_id'], ['cameras.id'], name=op.f('fk_detections_camera_id_cameras'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['event_id'], ['events.id'], name=op.f('fk_detections_event_id_events'), ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_detections'))
    )
    op.create_index(op.f('ix_detections_camera_id_timestamp'), 'detections', ['camera_id', 'timestamp'])
    op.create_index(op.f('ix_detections_event_id'), 'detections', ['event_id'])
    op.create_table(
        'recordings',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('camera_id', sa.Integer(), nullable=False),
        sa.Column('started_at', TS, nullable=False),
        sa.Column('ended_at', TS, nullable=True),
        sa.Column('duration_s', sa.Float(), nullable=True),
        sa.Column('frames', sa.Integer(), nullable=False),
        sa.Column('dropped_frames', sa.Integer(), nullable=False),
        sa.Column('size_bytes', sa.BigInteger(), nullable=False),
        sa.Column('segments', sa.Integer(), nullable=False),
        sa.Column('path', sa.String(length=512), nullable=False),
        sa.Column('scheduled', sa.Boolean(), nullable=False),
        sa.Column('schedule_id', sa.Integer(), nullable=True),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('protected', sa.Boolean(), nullable=False),
        sa.Column('event_id', sa.Integer(), nullable=True),
        sa.Column('error', sa.Text(), nullable=True),
        sa.CheckConstraint("status IN ('recording', 'completed', 'failed', 'missing')", name=op.f('ck_recordings_status')),
        sa.ForeignKeyConstraint(['camera_id'], ['cameras.id'], name=op.f('fk_recordings_camera_id_cameras'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['event_id'], ['events.id'], name=op.f('fk_recordings_event_id_events'), ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['schedule_id'], ['recording_schedules.id'], name=op.f('fk_recordings_schedule_id_recording_schedules'), ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_recordings'))
    )
    op.create_index(op.f('ix_recordings_camera_id_started_at'), 'recordings', ['camera_id', 'started_at'])
    op.create_index(op.f('ix_recordings_event_id'), 'recordings', ['event_id'])
    op.create_index(op.f('ix_recordings_schedule_id'), 'recordings', ['schedule_id'])
    op.create_index(op.f('ix_recordings_status'), 'recordings', ['status'])
    op.create_table(
        'recording_segments',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('recording_id', sa.Integer(), nullable=False),
        sa.Column('path', sa.String(length=512), nullable=False),
        sa.Column('started_at', TS, nullable=False),
        sa.Column('ended_at', TS, nullable=True),
        sa.Column('size_bytes', sa.BigInteger(), nullable=False),
        sa.Column('frames', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['recording_id'], ['recordings.id'], name=op.f('fk_recording_segments_recording_id_recordings'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_recording_segments'))
    )
    op.create_index(op.f('ix_recording_segments_recording_id'), 'recording_segments', ['recording_id'])



def downgrade() -> None:
    # Dropping a table drops its indexes and constraints.
    op.drop_table('recording_segments')
    op.drop_table('recordings')
    op.drop_table('detections')
    op.drop_table('recording_schedules')
    op.drop_table('events')
    op.drop_table('camera_shares')
    op.drop_table('refresh_tokens')
    op.drop_table('password_reset_tokens')
    op.drop_table('notifications')
    op.drop_table('cameras')
    op.drop_table('users')
