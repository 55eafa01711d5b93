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

__all__ = ["FFCState", "Frame", "Radiometry", "__version__"]
