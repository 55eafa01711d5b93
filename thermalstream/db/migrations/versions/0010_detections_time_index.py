"""Detections page over the whole period: an index on the timestamp alone (the table's newest rows of
all cameras) and ``detection_minutes``, counts per minute, camera and class kept by database triggers
on ``detections`` (the timeline reads minutes instead of every row).

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0010'
down_revision: str | Sequence[str] | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Every insert or delete of detection rows, by any writer, updates the minute counts in the same
# transaction. max_confidence is not lowered by deletes (an upper bound after one). n05 ... n95 count the
# rows with a confidence of at least 0.05 ... 0.95 (the Detections page's minimum confidence, in 0.05 steps).
STEPS = [f"n{k:02d}" for k in range(5, 100, 5)]
NCOLS = ", ".join(STEPS)


def _ge(value: str) -> str:
    return ", ".join(f"CASE WHEN {value} >= {k / 100:.2f} THEN 1 ELSE 0 END" for k in range(5, 100, 5))


def _sums(value: str) -> str:
    return ", ".join(f"sum(CASE WHEN {value} >= {k / 100:.2f} THEN 1 ELSE 0 END)" for k in range(5, 100, 5))


_ADD = ", ".join(f"{c} = {{t}}{c} + excluded.{c}" for c in STEPS)
_SUB = ", ".join(f"{c} = {{t}}{c} - {{d}}{c}" for c in STEPS)
SQLITE = [
    f"""CREATE TRIGGER tr_detections_minutes_insert AFTER INSERT ON detections BEGIN
  INSERT INTO detection_minutes (minute, camera_id, label, count, max_confidence, {NCOLS})
  VALUES (CAST(strftime('%s', NEW.timestamp) AS INTEGER) / 60, NEW.camera_id, NEW.label, 1, NEW.confidence,
    {_ge('NEW.confidence')})
  ON CONFLICT (minute, camera_id, label) DO UPDATE SET count = count + 1,
    max_confidence = max(max_confidence, excluded.max_confidence), {_ADD.format(t='')};
END""",
    f"""CREATE TRIGGER tr_detections_minutes_delete AFTER DELETE ON detections BEGIN
  UPDATE detection_minutes SET count = count - 1, {', '.join(f"{c} = {c} - (OLD.confidence >= {int(c[1:]) / 100:.2f})"
                                                            for c in STEPS)}
  WHERE minute = CAST(strftime('%s', OLD.timestamp) AS INTEGER) / 60
    AND camera_id = OLD.camera_id AND label = OLD.label;
  DELETE FROM detection_minutes WHERE minute = CAST(strftime('%s', OLD.timestamp) AS INTEGER) / 60
    AND camera_id = OLD.camera_id AND label = OLD.label AND count <= 0;
END""",
]
SQLITE_BACKFILL = f"""INSERT INTO detection_minutes (minute, camera_id, label, count, max_confidence, {NCOLS})
SELECT CAST(strftime('%s', timestamp) AS INTEGER) / 60, camera_id, label, count(*), max(confidence), {_sums('confidence')}
FROM detections GROUP BY 1, 2, 3"""

PG_MINUTE = "floor(extract(epoch FROM timestamp) / 60)::bigint"
POSTGRESQL = [
    f"""CREATE FUNCTION detection_minutes_add() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO detection_minutes (minute, camera_id, label, count, max_confidence, {NCOLS})
  SELECT {PG_MINUTE}, camera_id, label, count(*), max(confidence), {_sums('confidence')}
  FROM new_rows GROUP BY 1, 2, 3
  ON CONFLICT (minute, camera_id, label) DO UPDATE SET count = detection_minutes.count + excluded.count,
    max_confidence = greatest(detection_minutes.max_confidence, excluded.max_confidence),
    {_ADD.format(t='detection_minutes.')};
  RETURN NULL;
END $$""",
    f"""CREATE FUNCTION detection_minutes_remove() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE detection_minutes m SET count = m.count - d.n, {_SUB.format(t='m.', d='d.')}
  FROM (SELECT {PG_MINUTE} AS minute, camera_id, label, count(*) AS n,
        {', '.join(f"sum(CASE WHEN confidence >= {int(c[1:]) / 100:.2f} THEN 1 ELSE 0 END) AS {c}" for c in STEPS)}
        FROM old_rows GROUP BY 1, 2, 3) d
  WHERE m.minute = d.minute AND m.camera_id = d.camera_id AND m.label = d.label;
  DELETE FROM detection_minutes m USING (SELECT DISTINCT {PG_MINUTE} AS minute, camera_id, label FROM old_rows) d
  WHERE m.minute = d.minute AND m.camera_id = d.camera_id AND m.label = d.label AND m.count <= 0;
  RETURN NULL;
END $$""",
    """CREATE TRIGGER tr_detections_minutes_insert AFTER INSERT ON detections
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION detection_minutes_add()""",
    """CREATE TRIGGER tr_detections_minutes_delete AFTER DELETE ON detections
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION detection_minutes_remove()""",
]
PG_BACKFILL = f"""INSERT INTO detection_minutes (minute, camera_id, label, count, max_confidence, {NCOLS})
SELECT {PG_MINUTE}, camera_id, label, count(*), max(confidence), {_sums('confidence')}
FROM detections GROUP BY 1, 2, 3"""


def upgrade() -> None:
    op.create_index(op.f('ix_detections_timestamp'), 'detections', ['timestamp'])
    op.create_table(
        'detection_minutes',
        sa.Column('minute', sa.BigInteger(), nullable=False),
        sa.Column('camera_id', sa.Integer(), nullable=False),
        sa.Column('label', sa.String(length=64), nullable=False),
        sa.Column('count', sa.Integer(), nullable=False),
        sa.Column('max_confidence', sa.Float(), nullable=False),
        *[sa.Column(c, sa.Integer(), nullable=False) for c in STEPS],
        sa.ForeignKeyConstraint(['camera_id'], ['cameras.id'], name=op.f('fk_detection_minutes_camera_id_cameras'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('minute', 'camera_id', 'label', name=op.f('pk_detection_minutes')),
    )
    for statement in SQLITE if _sqlite() else POSTGRESQL:
        op.execute(statement)
    op.execute(SQLITE_BACKFILL if _sqlite() else PG_BACKFILL)


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS tr_detections_minutes_insert" + ("" if _sqlite() else " ON detections"))
    op.execute("DROP TRIGGER IF EXISTS tr_detections_minutes_delete" + ("" if _sqlite() else " ON detections"))
    if not _sqlite():
        op.execute("DROP FUNCTION IF EXISTS detection_minutes_add()")
        op.execute("DROP FUNCTION IF EXISTS detection_minutes_remove()")
    op.drop_table('detection_minutes')
    op.drop_index(op.f('ix_detections_timestamp'), table_name='detections')


def _sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"
