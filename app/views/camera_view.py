"""The live pane lives in the core (``thermalstream.views.camera_view``) so notebooks get it without
the app; the app's views import it from here as before."""

from thermalstream.views.camera_view import CameraView, Probe, colour_bar, format_reading

__all__ = ["CameraView", "Probe", "colour_bar", "format_reading"]
