"""Topdon TC001 / InfiRay P2 Pro: UVC YUYV 256x384 read raw (CONVERT_RGB=0).

The top 256x192 half is the camera's AGC picture; the bottom half holds one little-endian
uint16 per pixel: ``°C = raw / 64 - 273.15``.
"""

from __future__ import annotations

import numpy as np

from thermalstream.frame import FFCState, Frame, Radiometry
from thermalstream.palettes import to_grey
from thermalstream.sources.lepton import UVCRadiometricSource

WIDTH, HEIGHT = 256, 192
KELVIN = 273.15
SCALE = 1 / 64
FRAME_BYTES = WIDTH * HEIGHT * 2 * 2  # two halves, 2 bytes per pixel


def decode_tc001(buf: np.ndarray | bytes) -> tuple[np.ndarray, np.ndarray]:
    """(raw uint16 (192, 256), °C float32) from a TC001 frame: (384, 256, 2) uint8, flat, or bytes."""
    a = np.asarray(bytearray(buf) if isinstance(buf, (bytes, bytearray, memoryview)) else buf)
    if a.dtype != np.uint8:
        raise ValueError(f"unexpected TC001 frame dtype {a.dtype} (shape {a.shape})")
    if a.ndim == 3 and a.shape[2] == 3:
        raise ValueError("got a BGR frame: this OpenCV build ignored CAP_PROP_CONVERT_RGB=0")
    if a.size != FRAME_BYTES:
        raise ValueError(f"unexpected TC001 frame size {a.size} bytes (shape {a.shape}); need {FRAME_BYTES}")
    halves = np.ascontiguousarray(a).reshape(2 * HEIGHT, WIDTH, 2)
    raw = halves[HEIGHT:].reshape(-1).view("<u2").reshape(HEIGHT, WIDTH).astype(np.uint16)
    celsius = raw.astype(np.float32) * np.float32(SCALE) - np.float32(KELVIN)
    return raw, celsius.astype(np.float32)


class TopdonSource(UVCRadiometricSource):
    """Topdon TC001 / InfiRay P2 Pro: ``tc001://0``."""

    kind = "topdon"
    fourcc = None  # the camera's default YUYV mode
    default_fps = 25.0

    def decode(self, buf: np.ndarray) -> Frame:
        raw, celsius = decode_tc001(buf)
        rad = Radiometry(calibrated=True, unit_scale=SCALE, unit_offset=-KELVIN,
                         ffc_state=FFCState.UNKNOWN, sensor="Topdon TC001 / InfiRay P2 Pro",
                         description="TC001 thermal rows, raw / 64 - 273.15")  # fmt: skip
        self._seq += 1
        return Frame(image=to_grey(celsius), seq=self._seq, celsius=celsius, raw=raw, radiometry=rad)
