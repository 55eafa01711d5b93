"""Persistence: SQLAlchemy models, engines/sessions, alembic migrations and small repositories.

>>> from thermalstream.db import Database, repo
>>> db = Database.create(settings)
>>> with db.session() as s:
...     cam = repo.add_camera(s, "yard", "sim://?people=3")
"""

from __future__ import annotations

from thermalstream.db import repo
from thermalstream.db.engine import (
    Database,
    alembic_config,
    current_revision,
    downgrade,
    head_revision,
    make_engine,
    session_factory,
    upgrade,
)
from thermalstream.db.models import (
    Base,
    Camera,
    CameraShare,
    Detection,
    Event,
    Notification,
    PasswordResetToken,
    Recording,
    RecordingSchedule,
    RecordingSegment,
    RefreshToken,
    User,
    metadata,
)
from thermalstream.db.types import UTCDateTime, as_utc, utcnow

__all__ = [
    "Base", "Camera", "CameraShare", "Database", "Detection", "Event", "Notification", "PasswordResetToken",
    "Recording", "RecordingSchedule", "RecordingSegment", "RefreshToken", "UTCDateTime", "User",
    "alembic_config", "as_utc", "current_revision", "downgrade", "head_revision", "make_engine", "metadata",
    "repo", "session_factory", "upgrade", "utcnow",
]
