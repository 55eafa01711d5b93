"""FLIR Lepton on a PureThermal board: UVC Y16 frames, TLinear kelvin x 100.

OpenCV V4L2 with FOURCC ``Y16 `` and ``CAP_PROP_CONVERT_RGB=0`` gives 16-bit frames:
160x120 (Lepton 3.x) or 80x60 (Lepton 2.x), plus 2 (resp. 3) telemetry rows when telemetry
is enabled (PureThermal puts them at the bottom, as flirpy assumes). ``°C = raw/100 - 273.15``
(TLinear, 0.01 K resolution). The shared UVC plumbing used by the Topdon source lives here.
"""

from __future__ import annotations

import abc
import os
import re
import sys
import threading
from dataclasses import dataclass

import cv2
import numpy as np

from thermalstream.frame import FFCState, Frame, Radiometry
from thermalstream.palettes import to_grey
from thermalstream.sources.base import CorruptData, Source, SourceClosed, SourceError, SourceInfo
from thermalstream.sources.url import CameraURL

KELVIN = 273.15
TLINEAR_SCALE = 0.01
LEPTON_FPS = 8.7
# width -> (image rows, telemetry rows)
LEPTON_LAYOUTS = {160: (120, 2), 80: (60, 3)}
_FFC_BITS = {0: FFCState.IDLE, 1: FFCState.IMMINENT, 2: FFCState.IN_PROGRESS, 3: FFCState.DONE}


@dataclass(frozen=True)
class LeptonTelemetry:
    """The telemetry fields we use (row A of the Lepton telemetry block)."""

    ffc_state: FFCState
    fpa_temp_c: float | None
    frame_counter: int


def _y16_array(buf: np.ndarray | bytes) -> np.ndarray:
    """A Y16 frame as an (H, W) uint16 array, whatever shape OpenCV handed over."""
    a = np.asarray(bytearray(buf) if isinstance(buf, (bytes, bytearray, memoryview)) else buf)
    if a.dtype == np.uint16 and a.ndim == 2:
        return a
    if a.dtype == np.uint16 and a.ndim == 3 and a.shape[2] == 1:
        return a[:, :, 0]
    if a.dtype != np.uint8:
        raise ValueError(f"unexpected Y16 frame dtype {a.dtype} shape {a.shape}")
    words = np.ascontiguousarray(a).reshape(-1).view("<u2").astype(np.uint16)
    for width, (rows, tele) in LEPTON_LAYOUTS.items():
        for h in (rows, rows + tele):
            if words.size == width * h:
                return words.reshape(h, width)
    raise ValueError(f"unexpected Y16 frame size: {a.size} bytes (shape {a.shape}) is no Lepton layout")


def split_telemetry(a: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """(image rows, telemetry rows or None) of an (H, W) Lepton frame."""
    rows, tele = LEPTON_LAYOUTS.get(a.shape[1], (a.shape[0], 0))
    if tele and a.shape[0] == rows + tele:
        return a[:rows], a[rows:]
    if a.shape[0] != rows:
        raise ValueError(f"unexpected Lepton frame shape {a.shape}")
    return a, None


def decode_y16(buf: np.ndarray | bytes) -> tuple[np.ndarray, np.ndarray]:
    """(raw uint16 (H, W), °C float32) from a Y16 frame; telemetry rows are stripped."""
    raw, _ = split_telemetry(_y16_array(buf))
    raw = np.ascontiguousarray(raw, dtype=np.uint16)
    celsius = raw.astype(np.float32) * np.float32(TLINEAR_SCALE) - np.float32(KELVIN)
    return raw, celsius.astype(np.float32)


def decode_telemetry(rows: np.ndarray) -> LeptonTelemetry:
    """Decode telemetry row A. Words 3-4 (status) and 20-21 (frame counter) are read
    low word first, as flirpy does; FFC state = status bits 4-5; FPA temp = word 24 (K x 100)."""
    w = np.asarray(rows, dtype=np.uint16).reshape(-1).astype(np.uint32)
    if w.size < 32:
        raise ValueError(f"telemetry too short ({w.size} words)")
    status = int(w[3] | (w[4] << 16))
    fpa = int(w[24])
    return LeptonTelemetry(
        ffc_state=_FFC_BITS[(status >> 4) & 3],
        fpa_temp_c=fpa * TLINEAR_SCALE - KELVIN if fpa else None,
        frame_counter=int(w[20] | (w[21] << 16)),
    )


# ---------------------------------------------------------------- UVC plumbing


def device_path(device: int | str | None) -> str:
    """``/dev/videoN`` for an index or a path."""
    if device is None:
        device = 0
    return device if isinstance(device, str) else f"/dev/video{device}"


def open_uvc(device: int | str | None, fourcc: str | None = None) -> cv2.VideoCapture:
    """Open a V4L2 device for raw frames (CONVERT_RGB=0); SourceError fast when it is missing."""
    path = device_path(device)
    m = re.fullmatch(r"/dev/video(\d+)", path)
    if sys.platform.startswith("linux"):
        if not os.path.exists(path):
            raise SourceError(f"cannot open {path}: no such device")
        if not os.access(path, os.R_OK | os.W_OK):
            raise SourceError(f"cannot open {path}: permission denied (is the user in the 'video' group?)")
        cap = cv2.VideoCapture(int(m.group(1)) if m else path, cv2.CAP_V4L2)
    else:
        cap = cv2.VideoCapture(int(m.group(1)) if m else path)
    if not cap.isOpened():
        cap.release()
        raise SourceError(f"cannot open {path}: not a video capture device, or busy")
    if fourcc:
        cap.set(cv2.CAP_PROP_FOURCC, cv2.VideoWriter_fourcc(*fourcc))
    cap.set(cv2.CAP_PROP_CONVERT_RGB, 0)
    return cap


class UVCRadiometricSource(Source):
    """A radiometric USB camera read raw through OpenCV; subclasses decode frames."""

    kind = "uvc"
    fourcc: str | None = None
    default_fps = 9.0

    def __init__(self, camera_url: CameraURL) -> None:
        self.url = camera_url
        self.path = device_path(camera_url.device)
        self._cap: cv2.VideoCapture | None = None
        self._seq = 0
        self._lock = threading.Lock()

    @abc.abstractmethod
    def decode(self, buf: np.ndarray) -> Frame:
        """Turn one raw OpenCV frame into a Frame; ValueError when it is not the expected layout."""

    def open(self) -> SourceInfo:
        cap = open_uvc(self.url.device, self.fourcc)
        ok, buf = cap.read()
        try:
            if not ok or buf is None:
                raise SourceError(f"{self.path}: opened but no frame arrived")
            first = self.decode(buf)
        except ValueError as exc:
            cap.release()
            raise SourceError(f"{self.path}: not a {self.kind} camera in raw mode: {exc}") from None
        except SourceError:
            cap.release()
            raise
        self._cap = cap
        h, w = first.shape
        fps = cap.get(cv2.CAP_PROP_FPS) or self.default_fps
        self.info = SourceInfo(kind=self.kind, width=w, height=h, fps=fps, radiometric=True,
                               description=f"{self.kind} on {self.path}")  # fmt: skip
        return self.info

    def read(self) -> Frame:
        with self._lock:
            if self._cap is None:
                raise SourceClosed(f"{self.path} is closed")
            ok, buf = self._cap.read()
        if not ok or buf is None:
            raise SourceError(f"{self.path}: no frame (camera unplugged?)")
        try:
            return self.decode(buf)
        except ValueError as exc:
            raise CorruptData(f"{self.path}: {exc}") from None

    def close(self) -> None:
        with self._lock:
            if self._cap is not None:
                self._cap.release()
                self._cap = None


class LeptonSource(UVCRadiometricSource):
    """FLIR Lepton (2.5/3.5, TLinear on) on a PureThermal board: ``lepton://0``."""

    kind = "lepton"
    fourcc = "Y16 "
    default_fps = LEPTON_FPS

    def decode(self, buf: np.ndarray) -> Frame:
        full = _y16_array(buf)
        image_rows, tele_rows = split_telemetry(full)
        raw, celsius = decode_y16(image_rows)
        tele = decode_telemetry(tele_rows) if tele_rows is not None else None
        extra = {"fpa_temp_c": tele.fpa_temp_c, "frame_counter": tele.frame_counter} if tele else {}
        rad = Radiometry(
            calibrated=True, unit_scale=TLINEAR_SCALE, unit_offset=-KELVIN,
            ffc_state=tele.ffc_state if tele else FFCState.UNKNOWN, sensor="FLIR Lepton", extra=extra,
            description="Lepton TLinear (kelvin x 100)",
        )  # fmt: skip
        self._seq += 1
        return Frame(image=to_grey(celsius), seq=self._seq, celsius=celsius, raw=raw, radiometry=rad)
