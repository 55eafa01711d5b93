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


__all__ = ["FFCState", "Frame", "Radiometry", "__version__", "open_camera", "open_source"]
