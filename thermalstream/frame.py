"""The frame model: one image from a camera, with temperatures when the source is radiometric.

Units: a frame's per-pixel values are either °C (``celsius``) or, for an uncalibrated sensor,
raw counts (``raw`` with ``celsius is None``). :attr:`Frame.temperature_unit` says which, and
:meth:`Frame.measurement` gives the array in that unit. Counts are never labelled °C.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from enum import Enum
from fractions import Fraction
from typing import Any

import numpy as np

CELSIUS = "°C"
COUNTS = "counts"


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

    ``calibrated`` is False when the sensor gives raw counts with no known law to °C (e.g.
    old Lepton 3 CPTV files): the frame then has ``celsius=None`` and its counts in ``raw``.
    ``unit_scale`` and ``unit_offset`` describe a linear raw → °C mapping:
    ``celsius = raw * unit_scale + unit_offset``  (None when a non-linear law such as
    Planck was used, or when there is no law). ``description`` says in words how the °C
    were obtained (e.g. "user linear calibration a=0.01, b=-273.15"). ``law`` is the source's
    own non-linear raw → °C law when it has one (FLIR ``PlanckParams``), kept so that per-camera
    object parameters can re-convert the raw counts (see :mod:`thermalstream.radiometry`).
    """

    calibrated: bool = True
    unit_scale: float | None = None
    unit_offset: float | None = None
    ffc_state: FFCState = FFCState.UNKNOWN
    sensor: str = ""
    extra: dict = field(default_factory=dict)
    description: str = ""
    law: Any = field(default=None, compare=False, repr=False)


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
    give pictures and for uncalibrated sensors. ``raw`` keeps the sensor's 16-bit counts
    when there are any (the only measurement of an uncalibrated sensor).
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
        if self.raw is not None and self.celsius is None and self.raw.shape[:2] != self.image.shape[:2]:
            raise ValueError(f"raw shape {self.raw.shape} != image shape {self.image.shape[:2]}")

    @property
    def is_radiometric(self) -> bool:
        """Whether the frame carries per-pixel measurements (°C or counts), not only a picture."""
        return self.celsius is not None or self.raw is not None

    @property
    def temperature_unit(self) -> str | None:
        """Unit of :meth:`measurement`: "°C", "counts" (uncalibrated sensor) or None (picture only)."""
        if self.celsius is not None:
            return CELSIUS
        return COUNTS if self.raw is not None else None

    def measurement(self) -> np.ndarray | None:
        """Per-pixel values in :attr:`temperature_unit`: °C when known, else the raw counts as
        float32, else None."""
        if self.celsius is not None:
            return self.celsius
        return None if self.raw is None else self.raw.astype(np.float32)

    def value_at(self, x: int, y: int) -> float:
        """The value at pixel (x, y) in :attr:`temperature_unit`; raises for picture-only frames."""
        if self.celsius is not None:
            return float(self.celsius[y, x])
        if self.raw is not None:
            return float(self.raw[y, x])
        raise ValueError("this source is not radiometric: it gives no temperatures")

    @property
    def shape(self) -> tuple[int, int]:
        """(height, width)."""
        return self.image.shape[:2]

    def temperature_at(self, x: int, y: int) -> float:
        """°C at pixel (x, y); raises for picture-only sources and uncalibrated (counts) frames."""
        if self.celsius is None:
            if self.raw is not None:
                raise ValueError("this source gives uncalibrated counts, not °C (see value_at / temperature_unit)")
            raise ValueError("this source is not radiometric: it gives no temperatures")
        return float(self.celsius[y, x])
