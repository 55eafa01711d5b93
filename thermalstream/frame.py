"""The frame model: one image from a camera, with temperatures when the source is radiometric."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from enum import Enum
from fractions import Fraction

import numpy as np


class FFCState(str, Enum):
    """Flat-field correction (shutter) state reported by the sensor."""

    UNKNOWN = "unknown"
    IDLE = "idle"
    IMMINENT = "imminent"
    IN_PROGRESS = "in_progress"
    DONE = "done"


@dataclass(frozen=True)
class Radiometry:
    """How the per-pixel temperatures of a frame were obtained.

    ``calibrated`` is False when the sensor gives raw counts that were mapped with
    a nominal formula only (e.g. old Lepton 3 CPTV files); °C values are then relative.
    ``unit_scale`` and ``unit_offset`` describe the raw → °C mapping:
    ``celsius = raw * unit_scale + unit_offset``  (None when a non-linear law such as
    Planck was used).
    """

    calibrated: bool = True
    unit_scale: float | None = None
    unit_offset: float | None = None
    ffc_state: FFCState = FFCState.UNKNOWN
    sensor: str = ""
    extra: dict = field(default_factory=dict)


@dataclass(frozen=True)
class EncodedPacket:
    """The compressed packet a frame was decoded from (e.g. H.264 from an RTSP camera), so a
    recorder can remux it instead of re-encoding. ``data`` is the packet as the demuxer gave it
    (Annex B for RTSP); ``pts``/``dts`` are in ``time_base`` units (None when unknown);
    ``extradata`` holds the stream's parameter sets (SPS/PPS) when known."""

    data: bytes
    pts: int | None
    dts: int | None
    keyframe: bool
    time_base: Fraction
    codec: str
    extradata: bytes | None
    width: int
    height: int


@dataclass
class Frame:
    """A captured frame.

    ``image`` is the display image: uint8, HxW (grey) or HxWx3 (BGR).
    ``celsius`` is a float32 HxW array of temperatures, or None for sources that only
    give pictures. ``raw`` keeps the sensor's 16-bit counts when there are any.
    """

    image: np.ndarray
    seq: int = 0
    timestamp: float = field(default_factory=time.time)
    celsius: np.ndarray | None = None
    raw: np.ndarray | None = None
    radiometry: Radiometry | None = None
    packet: EncodedPacket | None = None  # the compressed source packet, for recording by remux

    def __post_init__(self) -> None:
        if self.image.dtype != np.uint8:
            raise TypeError(f"Frame.image must be uint8, got {self.image.dtype}")
        if self.celsius is not None:
            if self.celsius.dtype != np.float32:
                self.celsius = self.celsius.astype(np.float32)
            if self.celsius.shape != self.image.shape[:2]:
                raise ValueError(
                    f"celsius shape {self.celsius.shape} != image shape {self.image.shape[:2]}"
                )

    @property
    def is_radiometric(self) -> bool:
        return self.celsius is not None

    @property
    def shape(self) -> tuple[int, int]:
        """(height, width)."""
        return self.image.shape[:2]

    def temperature_at(self, x: int, y: int) -> float:
        """°C at pixel (x, y); raises for picture-only sources."""
        if self.celsius is None:
            raise ValueError("this source is not radiometric: it gives no temperatures")
        return float(self.celsius[y, x])
