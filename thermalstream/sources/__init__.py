"""Camera sources: URL parsing and one driver module per kind of camera or file."""

from __future__ import annotations

from importlib import import_module

from thermalstream.sources.base import CorruptData, Source, SourceClosed, SourceError, SourceInfo
from thermalstream.sources.url import CameraURL, CameraURLError, mask_credentials, parse_camera_url

# kind -> "module:Class"; every class takes a CameraURL. Imported lazily so a notebook that
# only reads a CPTV file does not pay for OpenCV capture backends and vice versa.
DRIVERS: dict[str, str] = {
    "sim": "thermalstream.sources.sim:SimSource",
    "usb": "thermalstream.sources.opencv_capture:OpenCVSource",
    "rtsp": "thermalstream.sources.pyav_rtsp:rtsp_source",  # PyAV + packets; ?backend=opencv for OpenCV
    "file": "thermalstream.sources.opencv_capture:OpenCVSource",
    "http": "thermalstream.sources.http:HTTPSource",
    "lepton": "thermalstream.sources.lepton:LeptonSource",
    "topdon": "thermalstream.sources.topdon:TopdonSource",
    "cptv": "thermalstream.sources.cptv_file:CPTVSource",
    "flir": "thermalstream.sources.flir:FlirSeqSource",
}


def make_source(url: str | CameraURL) -> Source:
    """Build (but do not open) the driver for ``url``."""
    cu = url if isinstance(url, CameraURL) else parse_camera_url(url)
    module, _, name = DRIVERS[cu.kind].partition(":")
    return getattr(import_module(module), name)(cu)


__all__ = [
    "CameraURL",
    "CameraURLError",
    "CorruptData",
    "DRIVERS",
    "Source",
    "SourceClosed",
    "SourceError",
    "SourceInfo",
    "make_source",
    "mask_credentials",
    "parse_camera_url",
]
