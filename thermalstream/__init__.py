"""ThermalStream: thermal camera monitoring, detection and recording.

Notebook use::

    import thermalstream as ts
    cam = ts.open_camera("sim://?people=3")
    f = cam.read()
    f.celsius.max()
"""

from __future__ import annotations

__version__ = "0.1.0"

from thermalstream.frame import FFCState, Frame, Radiometry  # noqa: E402


def open_camera(url: str, name: str = ""):
    """Start capturing from ``url`` in a background thread and return the :class:`Camera`.

    ``cam.read()`` waits for the next frame; ``cam.latest()`` returns the newest one;
    ``cam.stop()`` (or a ``with`` block) releases the device.
    """
    from thermalstream.capture.camera import Camera

    return Camera(url, name=name).start()


def open_source(url: str):
    """Open ``url`` as a plain blocking source: every ``read()`` returns the next frame, no thread
    and no frame skipping (use it to walk through a recording frame by frame)."""
    from thermalstream.sources import make_source

    src = make_source(url)
    src.open()
    return src


def detections(camera=None, label=None, since=None, until=None, min_confidence=None, limit: int = 10000,
               *, data_dir=None, database_url: str | None = None):
    """Detections as a pandas DataFrame (oldest first, UTC timestamps) from the server's database
    (``THERMALSTREAM_DATA_DIR`` / ``THERMALSTREAM_DATABASE_URL``, or the arguments).

    >>> df = ts.detections(camera=1, label="person", since="2026-11-24T00:00:00Z")
    """
    from thermalstream.config import Settings
    from thermalstream.db import Database
    from thermalstream.detect.store import detections_dataframe

    overrides = {k: v for k, v in {"data_dir": data_dir, "database_url": database_url}.items() if v is not None}
    db = Database(Settings(**overrides).db_url)
    try:
        return detections_dataframe(db, camera=camera, label=label, since=since, until=until,
                                    min_confidence=min_confidence, limit=limit)
    finally:
        db.dispose()


__all__ = ["FFCState", "Frame", "Radiometry", "__version__", "detections", "open_camera", "open_source"]
