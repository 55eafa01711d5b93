"""Camera leases: which worker runs each camera, in the database (``worker_leases``), for
operators and for other servers. The backend's placement is the truth; this mirrors it."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import delete, select

from thermalstream.db import Database
from thermalstream.db.models import WorkerLease
from thermalstream.db.outage import log_failure
from thermalstream.db.types import utcnow

log = logging.getLogger(__name__)


class Leases:
    def __init__(self, db: Database, backend: str) -> None:
        self.db = db
        self.backend = backend

    def clear(self) -> None:
        """Forget the leases of this server's previous run (its workers are gone)."""
        with self.db.session() as s:
            s.execute(delete(WorkerLease))

    def record(self, camera_id: int, worker_id: str | None, pid: int | None = None) -> None:
        """The camera now runs on ``worker_id`` (None: on no worker); a change of worker counts a move."""
        try:
            with self.db.session() as s:
                row = s.get(WorkerLease, camera_id)
                if worker_id is None:
                    if row is not None:
                        s.delete(row)
                    return
                if row is None:
                    s.add(WorkerLease(camera_id=camera_id, worker_id=worker_id, backend=self.backend, pid=pid,
                                      acquired_at=utcnow(), moves=0))
                elif row.worker_id != worker_id:
                    row.worker_id, row.pid, row.acquired_at, row.moves = worker_id, pid, utcnow(), row.moves + 1
        except Exception:  # noqa: BLE001 - placement goes on; the next change writes it again
            log_failure(log, "camera %s: its lease could not be saved", camera_id)

    def list(self) -> list[dict[str, Any]]:
        with self.db.session() as s:
            return [{"camera_id": r.camera_id, "worker_id": r.worker_id, "backend": r.backend, "pid": r.pid,
                     "acquired_at": r.acquired_at.isoformat(), "moves": r.moves}
                    for r in s.scalars(select(WorkerLease).order_by(WorkerLease.camera_id))]
