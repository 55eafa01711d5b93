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


def open_source(url: str, *, pace: bool = False, loop: bool = False):
    """Open ``url`` as a plain blocking source: ``for frame in src`` (or ``src.read()``) gives every
    frame in order, with no thread and no frame skipping. Files are read as fast as you ask and once
    (``pace=True`` plays them at their own frame rate, ``loop=True`` starts again at the end); a
    recording folder or segment ``.h5`` opens as :func:`open_recording` does."""
    from dataclasses import replace
    from pathlib import Path

    from thermalstream.sources import make_source, parse_camera_url

    p = Path(str(url)).expanduser()
    if p.suffix == ".h5" or (p.is_dir() and any(p.glob("*.h5"))):
        return open_recording(p)
    cu = parse_camera_url(url)
    if cu.is_file:  # the caller's options; a URL's own ?loop=/?pace= still wins
        opts = {"pace": pace, "realtime": pace, "loop": loop}
        cu = replace(cu, params={**{k: "1" if v else "0" for k, v in opts.items()}, **cu.params})
    src = make_source(cu)
    src.open()
    return src


def detections(camera=None, label=None, since=None, until=None, min_confidence=None, limit: int = 10000,
               *, frames: bool = True, data_dir=None, database_url: str | None = None):
    """Detections as a pandas DataFrame (oldest first, UTC timestamps) from the server's database,
    found as the server finds it (``THERMALSTREAM_DATA_DIR`` / ``THERMALSTREAM_DATABASE_URL``, or the
    arguments; see :mod:`thermalstream.datasets.locate`). Nothing is created when there is none.

    ``frames`` (default): ``recording_id`` and ``frame`` columns give the recorded frame that shows each
    detection (``ts.open_recording(recording_id)[frame]``), <NA> where nothing was recorded.

    >>> df = ts.detections(camera=1, label="person", since="2026-11-24T00:00:00Z")
    """
    from thermalstream.datasets.tables import attach_frames
    from thermalstream.detect.queries import detections_dataframe

    with _database(data_dir, database_url) as (settings, db):
        df = detections_dataframe(db, camera=camera, label=label, since=since, until=until,
                                  min_confidence=min_confidence, limit=limit)
        return attach_frames(db, settings.recordings_dir, df) if frames else df


def events(camera=None, label=None, since=None, until=None, *, data_dir=None, database_url: str | None = None):
    """Events (one row per tracked object) as a DataFrame, oldest first."""
    from thermalstream.datasets.tables import events_dataframe

    with _database(data_dir, database_url) as (_settings, db):
        return events_dataframe(db, camera=camera, label=label, since=since, until=until)


def roi_series(roi, since=None, until=None, resolution: str = "auto", *, data_dir=None,
               database_url: str | None = None):
    """A measurement region's series as a DataFrame (timestamp UTC, min, max, mean, std, samples, unit,
    resolution), oldest first. ``roi`` is an ROI id or its name; ``resolution`` "raw" (1 Hz samples),
    "minute" (aggregates, kept longer) or "auto" (raw where kept, minutes before).

    >>> df = ts.roi_series("bearing", since="2026-11-24T00:00:00Z")
    """
    from thermalstream.measure.series import series_dataframe
    from thermalstream.measure.store import find_roi

    with _database(data_dir, database_url) as (_settings, db):
        return series_dataframe(db, find_roi(db, roi), since, until, resolution)


def recordings(camera=None, since=None, until=None, *, data_dir=None, database_url: str | None = None):
    """Recordings overlapping [since, until] as a DataFrame, oldest first."""
    from thermalstream.datasets.tables import recordings_dataframe

    with _database(data_dir, database_url) as (_settings, db):
        return recordings_dataframe(db, camera=camera, since=since, until=until)


def open_recording(id_or_path, *, data_dir=None, database_url: str | None = None):
    """A recording as data (:class:`~thermalstream.datasets.RecordingData`): ``len()``, iteration and
    indexing over its frames across every segment, ``.to_xarray()``. Give a recording id (looked up in
    the server's database) or a recording folder / segment ``.h5`` path."""
    from thermalstream.datasets import RecordingData
    from thermalstream.datasets.tables import recording_folder

    if isinstance(id_or_path, int) or (isinstance(id_or_path, str) and id_or_path.isdigit()):
        with _database(data_dir, database_url) as (settings, db):
            folder, info = recording_folder(db, settings.recordings_dir, int(id_or_path))
        return RecordingData.from_path(folder, info)
    return RecordingData.from_path(id_or_path)


def connect(url: str, token: str | None = None, **kwargs):
    """A served ThermalStream (``https://host:5006``) with the same calls (``detections``, ``events``,
    ``recordings``, ``open_recording``, ``export``) through its JWT API; ``token=`` an access token, or
    ``username=``/``password=``. See :mod:`thermalstream.datasets.remote`."""
    from thermalstream.datasets.remote import connect as _connect

    return _connect(url, token, **kwargs)


def notebook(inline: bool = True) -> None:
    """Load the JavaScript of ThermalStream's views and of HoloViews/hvPlot plots (Bokeh) into this
    notebook (JupyterLab, Notebook 7, VS Code). Run it once, in a cell of its own, before showing a view or
    a plot, instead of ``hv.extension``/``pn.extension``. ``inline`` (default) embeds every script and
    stylesheet in the notebook, so views and plots work on a lab network with no internet
    (:mod:`thermalstream.views.notebook`)."""
    from thermalstream.views.notebook import load

    load(inline)


def __getattr__(name: str):
    """``ts.CameraView``: imported on first use, so ``import thermalstream`` never imports Panel."""
    if name == "CameraView":
        from thermalstream.views.camera_view import CameraView

        return CameraView
    raise AttributeError(f"module 'thermalstream' has no attribute {name!r}")


class _database:
    """``with _database(...) as (settings, db)``: an existing database, disposed afterwards."""

    def __init__(self, data_dir, database_url) -> None:
        self.args = (data_dir, database_url)

    def __enter__(self):
        from thermalstream.datasets.locate import open_database

        self.settings, self.db = open_database(*self.args)
        return self.settings, self.db

    def __exit__(self, *exc) -> None:
        self.db.dispose()


__all__ = ["FFCState", "Frame", "Radiometry", "__version__", "connect", "detections", "events", "open_camera",
           "open_recording", "open_source", "recordings", "roi_series"]
