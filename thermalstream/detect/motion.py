"""Motion gate (Frigate's key idea): run the detector only where something moves.

One :class:`MotionGate` per camera. Each call to :meth:`MotionGate.update` downsizes the frame
(default 160x128, ``cv2.INTER_LINEAR``), compares it with a running-average background and
returns the moving regions as boxes in full-frame pixels.

* Radiometric frames are compared in °C (``threshold_c``, default 0.8 °C); picture-only frames
  in grey levels (``threshold_grey``, default 12 of 255).
* **Flat-field corrections are not motion.** A thermal core's shutter (FFC) freezes the picture
  and then shifts the whole frame's level by a few tenths of a degree; cameras with automatic
  gain do the same on a grey picture. Three defences:

  1. frames whose ``radiometry.ffc_state`` is ``IN_PROGRESS`` are never motion (the picture is
     frozen) and the background is not learned from them;
  2. the median difference between the frame and the background (sampled on a 1/16 grid, so it
     costs ~20 µs) is the global level shift; it is subtracted before thresholding, and when it
     is larger than ``level_jump`` the background is re-baselined by that shift (``level_jumps``
     counts these);
  3. if, even after that, more than ``rebaseline_fraction`` of the frame changed (a gain change
     that is not a pure offset, a camera knocked around), the background is replaced by the
     frame and no motion is reported (``rebaselines`` counts these).

* **Masks** (:class:`~thermalstream.detect.zones.ZoneConfig`): changes inside a mask are ignored
  and do not count towards the global shift.
* Cost: ~0.1-0.2 ms per 640x512 frame on one core here (``bench`` figure in the module test).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import cv2
import numpy as np

from thermalstream.detect.types import Box
from thermalstream.detect.zones import ZoneConfig
from thermalstream.frame import FFCState, Frame


@dataclass(frozen=True)
class MotionResult:
    """``motion``: something moved in this frame; ``boxes``: where (full-frame pixels);
    ``active``: motion seen within the gate's ``hold_s`` (what the worker uses); ``ffc``: the
    frame was an FFC freeze or a level jump that was re-baselined; ``changed``: fraction of the
    (unmasked) small frame above threshold."""

    motion: bool
    boxes: tuple[Box, ...] = ()
    active: bool = False
    ffc: bool = False
    changed: float = 0.0
    shift: float = 0.0


@dataclass
class MotionStats:
    frames: int = 0
    motion_frames: int = 0
    ffc_frames: int = 0
    level_jumps: int = 0
    rebaselines: int = 0

    def as_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass
class MotionGate:
    size: tuple[int, int] = (160, 128)  # (width, height) of the comparison image
    threshold_c: float = 0.8  # °C change that counts (radiometric frames)
    threshold_grey: float = 12.0  # grey-level change that counts (picture-only frames)
    alpha: float = 0.1  # background learning rate per update (0.1 at 5 updates/s: ~2 s memory)
    min_area: int = 6  # smallest moving blob, in small-image pixels
    level_jump: float | None = None  # shift treated as an FFC/level jump; None: half the threshold
    rebaseline_fraction: float = 0.5
    hold_s: float = 1.0  # ``active`` stays true this long after the last motion
    zones: ZoneConfig | None = None
    stats: MotionStats = field(default_factory=MotionStats)

    def __post_init__(self) -> None:
        self._bg: np.ndarray | None = None
        self._mode: str | None = None  # "c" or "grey"
        self._full: tuple[int, int] | None = None
        self._keep: np.ndarray | None = None  # uint8 1 where not masked (small size)
        self._sample_idx: np.ndarray | None = None
        self._last_motion = -1e18
        self._kernel = np.ones((3, 3), np.uint8)

    # ----- configuration
    def set_zones(self, zones: ZoneConfig | None) -> None:
        """New masks: the keep-image is rebuilt on the next frame; the background stays."""
        self.zones = zones
        self._keep = None
        self._sample_idx = None

    def reset(self) -> None:
        """Forget the background (the next frame becomes it)."""
        self._bg = None

    # ----- per frame
    def update(self, frame: Frame, now: float | None = None) -> MotionResult:
        now = time.monotonic() if now is None else now
        st = self.stats
        st.frames += 1
        small, mode = self._small(frame)
        if self._bg is None or mode != self._mode or self._full != frame.shape or self._bg.shape != small.shape:
            self._bg, self._mode, self._full = small.copy(), mode, frame.shape
            self._keep = None
            self._sample_idx = None
            return MotionResult(False, active=self._active(now))
        if self._sample_idx is None:
            self._build_keep(small.shape)
        rad = frame.radiometry
        if rad is not None and rad.ffc_state is FFCState.IN_PROGRESS:
            st.ffc_frames += 1
            return MotionResult(False, active=self._active(now), ffc=True)

        diff = small - self._bg
        sample = diff.ravel()[self._sample_idx]
        shift = float(np.median(sample)) if sample.size else 0.0
        thr = self.threshold_c if mode == "c" else self.threshold_grey
        jump = self.level_jump if self.level_jump is not None else thr * 0.5
        ffc = abs(shift) > jump
        if ffc:
            st.level_jumps += 1
        if shift:
            # re-baseline: the background follows the sensor's global level (FFC, gain drift)
            self._bg += shift
            diff -= shift
        moving = cv2.compare(np.abs(diff), thr, cv2.CMP_GT)  # uint8 0/255
        if self._keep is not None:
            moving &= self._keep
        changed_px = cv2.countNonZero(moving)
        total = self._keep_count
        changed = changed_px / total if total else 0.0
        if changed > self.rebaseline_fraction:
            self._bg = small.copy()
            st.rebaselines += 1
            return MotionResult(False, active=self._active(now), ffc=True, changed=changed, shift=shift)

        boxes: list[Box] = []
        if changed_px >= self.min_area:
            moving = cv2.dilate(moving, self._kernel)
            # findContours is ~30x cheaper than connectedComponentsWithStats on this size here
            contours, _ = cv2.findContours(moving, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
            H, W = frame.shape
            sx, sy = W / small.shape[1], H / small.shape[0]
            for c in contours:
                x, y, w, h = cv2.boundingRect(c)
                if w * h < self.min_area:
                    continue
                boxes.append(Box(float(x * sx), float(y * sy), float(min((x + w) * sx, W)), float(min((y + h) * sy, H))))
        # learn the background; where things move, learn 10x slower so a walker does not smear in
        if boxes:
            rate = np.where(moving > 0, self.alpha * 0.1, self.alpha).astype(np.float32)
            self._bg += rate * (small - self._bg)
        else:
            cv2.accumulateWeighted(small, self._bg, self.alpha)
        motion = bool(boxes)
        if motion:
            st.motion_frames += 1
            self._last_motion = now
        return MotionResult(motion, tuple(boxes), self._active(now), ffc, changed, shift)

    # ----- internals
    def _active(self, now: float) -> bool:
        return now - self._last_motion <= self.hold_s

    def _small(self, frame: Frame) -> tuple[np.ndarray, str]:
        if frame.celsius is not None:
            src, mode = frame.celsius, "c"
        else:
            src, mode = frame.image, "grey"
            if src.ndim == 3:
                src = cv2.cvtColor(src, cv2.COLOR_BGR2GRAY)
        # INTER_LINEAR averages 2x2 source pixels per output pixel: it reads about half the frame
        # (INTER_AREA reads all of it) and is ~3x cheaper on a cold 640x512 float32 frame; with
        # thresholds ~15x the sensor noise the lesser averaging does not matter.
        small = cv2.resize(src, self.size, interpolation=cv2.INTER_LINEAR)
        if small.dtype != np.float32:
            small = small.astype(np.float32)
        return small, mode

    def _build_keep(self, shape: tuple[int, int]) -> None:
        h, w = shape
        masked = self.zones.mask_image(w, h) if self.zones is not None else None
        if masked is None:
            self._keep = None
            keep_flat = np.ones(h * w, bool)
        else:
            self._keep = cv2.bitwise_not(masked)
            keep_flat = self._keep.ravel() > 0
        grid = np.zeros((h, w), bool)
        grid[::4, ::4] = True
        self._sample_idx = np.flatnonzero(grid.ravel() & keep_flat)
        self._keep_count = int(keep_flat.sum())


__all__ = ["MotionGate", "MotionResult", "MotionStats"]
