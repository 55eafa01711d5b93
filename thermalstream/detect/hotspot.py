"""Weightless thermal detector: warm moving things, from the sensor's own numbers.

One :class:`HotspotDetector` per camera; call :meth:`HotspotDetector.detect_one` with the
camera's frames in order (the detection service keeps one state per camera through
:meth:`HotspotDetector.detect_keyed`). It works on °C frames and on raw-counts frames (an
uncalibrated source: ``celsius is None``, ``raw`` set); the unit only changes what the
detections carry: ``max_celsius``/``mean_celsius`` for °C, ``max_counts`` for counts.

Per frame (on a grid downscaled to at most ``work_px`` on the long side, ``INTER_AREA``):

1. **Level.** The median difference between the frame and the background (on a 1/4 grid), plus a
   smooth field over ``level_cells`` cells (mean difference of the pixels near their background and
   outside tracked objects), is the frame's level change (drift, a flat-field correction, a
   Lepton's edges after one): the background follows it at once, so a level jump of the whole
   frame is never an object.
2. **Noise.** The sensor's temporal noise sigma is estimated per camera from frame-to-frame
   differences (90th percentile of their absolute deviation from the median, robust to moving
   objects and to integer counts), smoothed over ``noise_tau_s``; never below half the data's
   quantisation step.
3. **FFC.** Frames whose ``radiometry.ffc_state`` is ``IN_PROGRESS``, the first frame of a new
   ``DONE`` period, and frames whose level jumped by more than ``jump_k`` sigma start an FFC hold
   of ``ffc_hold_s`` seconds: no detections, no background learning (the level still follows). The
   first frame after it re-takes the background outside tracked objects where it is no farther off
   than the FFC moved pixels' offsets (5 robust spreads of the difference, at least 3 sigma, at most
   ``rebase_k`` cutoffs): an object that no track holds yet, such as a car's cold body, would
   become a ghost. On a counts source a jump that one affine map of the previous frame explains
   within ``gain_k`` sigma is an automatic gain change (8-bit camera video does this every few
   frames), not an FFC: the background is mapped the same way and detection goes on; pixels that
   kept their value under the map (on-screen text drawn after the gain, saturation) keep their
   background (:mod:`thermalstream.detect.levels`).
4. **Warm pixels.** A pixel is warm when it is more than ``k`` sigma above its own background
   (and, when set and the frame is in °C, more than ``delta_c`` above it and above ``threshold_c``
   absolute). Cooler-than-background pixels are never detections on their own.
5. **Background.** The first ``warmup_s`` take the warmest value seen (nothing is reported).
   Then, per pixel, an exponential average of the levelled frame with time constant ``bg_tau_s``;
   pixels more than the cutoff off their background learn at ``hot_tau_s`` unless they were off
   most of the last ``still_s`` seconds and have not changed for ``heal_s`` (by more than the
   noise, 3 standard deviations, from frame to frame). A passing object leaves no trail (warm or
   cold parts), even on a busy road, while warm static structures (windows, roads, parked cars,
   sun-warmed walls) and objects that stay put become background. A pixel colder than its
   background that has not changed for ``heal_s`` shows the scene itself: the background was wrong
   there (the imprint of a warm object that stood there at the start or at an FFC), so it learns
   with the short time constant ``heal_tau_s``. Without this, such a pixel stays "off" for tens of
   seconds, and then learns every object that passes it at the full rate, leaving warm ghosts.
6. **Objects**: connected regions (8-connected, gaps of ``merge_px`` closed) of warm pixels and of
   pixels cold for a moment only (at most ``ghost_s``: a car's cold body joins its warm wheels; pixels
   already cold when the warm start ends are an object's imprint, not a moment), with ``min_area`` to
   ``max_area`` warm pixels, no one-pixel lines (sensor rows/columns). They go to a
   :class:`~thermalstream.detect.blobtracks.BlobTracker`, which reports only blobs of tracks that
   lasted, were steady and moved, with a label hint (person-, animal-, vehicle-sized; a heuristic).

Detections are labelled ``hotspot``, confidence 1.0, ``track_id`` = the detector's track
(``tracks_objects``: the service uses it instead of its own tracker; ``min_event_s``: an event
needs that much track). ``extra`` holds ``hint``, ``track``, ``area`` (warm pixels), ``sigma`` and
``cutoff`` (frame units above the background) and ``unit``. Picture-only frames give none
(:meth:`camera_note` says why). Time constants use ``Frame.timestamp``, so any detection rate
works. Cost: a median of 1.4 ms CPU per 640x512 frame on this 2-core machine at rest with the
product's one OpenCV thread (2.1 ms with OpenCV's pool), 0.35 of the old per-frame median threshold's
in the same run (bench/thermal_detect.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import cv2
import numpy as np

from thermalstream.detect.blobfind import warm_blobs
from thermalstream.detect.blobtracks import BlobTracker, label_hint
from thermalstream.detect.levels import calm_since, frame_noise, gain_map, level_field, robust_sd
from thermalstream.detect.types import TIME_EPS_S, Box, Detection, Detector, DetectorStatus
from thermalstream.frame import FFCState, Frame


@dataclass
class _State:
    """What the detector has learnt about one camera."""

    bg: np.ndarray | None = None  # background on the work grid (frame units)
    prev: np.ndarray | None = None  # previous work-grid frame, for the noise
    shape: tuple[int, int] | None = None
    unit: str = ""
    sigma: float | None = None
    t: float = 0.0
    age: float = 0.0  # seconds of learning
    hold_until: float = -math.inf
    off_frac: np.ndarray | None = None  # per pixel: recent fraction of time more than the cutoff off its background
    cold_since: np.ndarray | None = None  # per pixel: since when it has been cold without a break
    calm_since: np.ndarray | None = None  # per pixel: since when its value has not changed (noise aside)
    rebase: bool = False  # re-take the background outside objects on the next frame (after an FFC)
    ffc_prev: FFCState | None = None
    frames: int = 0
    ffc_frames: int = 0
    gain_changes: int = 0  # jumps an automatic gain change explained (followed, no hold)
    pictures: int = 0  # picture-only frames seen (no °C, no counts): nothing can be detected
    tracker: BlobTracker = field(default_factory=BlobTracker)


def frame_values(frame: Frame) -> tuple[np.ndarray | None, str, float]:
    """(values, unit, quantisation step): °C when known, else raw counts; (None, "", 0) for pictures."""
    if frame.celsius is not None:
        rad = frame.radiometry
        step = abs(rad.unit_scale) if rad is not None and rad.unit_scale else 0.0
        return frame.celsius, "°C", step
    if frame.raw is not None:
        return frame.raw, "counts", 1.0
    return None, "", 0.0


class HotspotDetector(Detector):
    """Warm moving things above a learnt background (see the module docstring)."""

    name = "hotspot"
    stateful = True  # wants every sampled frame of a camera, in order (the worker skips the motion gate)
    tracks_objects = True  # detections carry the detector's own track ids
    min_event_s = 1.0  # the service makes an event of a track that lasted this long (shorter: a blip)

    def __init__(
        self,
        *,
        k: float = 16.0,
        threshold_c: float | None = None,
        delta_c: float | None = None,
        min_area: int = 4,
        max_area: int | None = None,
        max_blobs: int = 50,
        merge_px: int = 2,
        bg_tau_s: float = 5.0,
        hot_tau_s: float = 300.0,
        noise_tau_s: float = 10.0,
        ffc_hold_s: float = 0.4,
        jump_k: float = 8.0,
        gain_k: float = 3.0,
        work_px: int = 160,
        level_cells: tuple[int, int] = (6, 8),
        warmup_s: float = 1.0,
        still_s: float = 10.0,
        ghost_s: float = 0.6,
        heal_s: float = 1.8,
        heal_tau_s: float = 0.1,
        rebase_k: float = 2.0,
        tracks: BlobTracker | None = None,
        label: str = "hotspot",
    ) -> None:
        for name, v in (("k", k), ("threshold_c", threshold_c), ("delta_c", delta_c)):
            if v is not None and not math.isfinite(float(v)):
                raise ValueError(f"{name} must be a finite number, got {v!r}")
        if not k > 0:
            raise ValueError(f"k (noise multiples above the background) must be > 0, got {k}")
        if delta_c is not None and delta_c <= 0:
            raise ValueError(f"delta_c must be > 0 °C, got {delta_c}")
        if min_area < 1:
            raise ValueError(f"min_area must be at least 1 pixel, got {min_area}")
        if max_area is not None and max_area < min_area:
            raise ValueError(f"max_area ({max_area}) must be >= min_area ({min_area})")
        if merge_px < 0:
            raise ValueError(f"merge_px must be >= 0, got {merge_px}")
        if max_blobs < 1:
            raise ValueError(f"max_blobs must be at least 1, got {max_blobs}")
        for name, v in (("bg_tau_s", bg_tau_s), ("hot_tau_s", hot_tau_s), ("noise_tau_s", noise_tau_s),
                        ("heal_s", heal_s), ("heal_tau_s", heal_tau_s)):
            if not v > 0:
                raise ValueError(f"{name} must be > 0 seconds, got {v}")
        if not rebase_k > 0:
            raise ValueError(f"rebase_k (cutoffs) must be > 0, got {rebase_k}")
        if work_px < 32:
            raise ValueError(f"work_px must be at least 32, got {work_px}")
        self.k = float(k)
        self.threshold_c = None if threshold_c is None else float(threshold_c)
        self.delta_c = None if delta_c is None else float(delta_c)
        self.min_area, self.max_area, self.max_blobs = int(min_area), max_area, int(max_blobs)
        self.merge_px = int(merge_px)
        self.bg_tau_s, self.hot_tau_s, self.noise_tau_s = float(bg_tau_s), float(hot_tau_s), float(noise_tau_s)
        self.ffc_hold_s, self.jump_k, self.work_px = float(ffc_hold_s), float(jump_k), int(work_px)
        self.gain_k = float(gain_k)
        self.warmup_s, self.still_s, self.ghost_s = float(warmup_s), float(still_s), float(ghost_s)
        self.heal_s, self.heal_tau_s, self.rebase_k = float(heal_s), float(heal_tau_s), float(rebase_k)
        self.level_cells = (max(1, int(level_cells[0])), max(1, int(level_cells[1])))
        self._tracker_proto = tracks
        self.label = label
        self._state = self._new_state()
        self._states: dict[object, _State] = {}

    # ----- configuration and status
    @staticmethod
    def check_source(radiometric: bool, what: str = "this camera") -> None:
        """Raise ``ValueError`` when the hotspot detector is configured for a picture-only source."""
        if not radiometric:
            raise ValueError(f"the hotspot detector needs temperatures or sensor counts, and {what} gives pictures only")

    def status(self) -> DetectorStatus:
        extra = []
        if self.delta_c is not None:
            extra.append(f"and > {self.delta_c:g} °C")
        if self.threshold_c is not None:
            extra.append(f"and > {self.threshold_c:g} °C absolute")
        return DetectorStatus("ready", backend="numpy", model=self.name,
                              message=f"warm moving blobs: > {self.k:g} x sensor noise above a learnt background "
                                      f"{' '.join(extra)}".strip())  # fmt: skip

    @property
    def max_batch(self) -> int:
        return 16  # no model: a batch is a loop

    def _new_state(self) -> _State:
        p = self._tracker_proto
        tr = BlobTracker() if p is None else BlobTracker(
            min_hits=p.min_hits, min_track_s=p.min_track_s, min_fill=p.min_fill, min_move=p.min_move,
            min_move_px=p.min_move_px, max_gap_s=p.max_gap_s, max_tracks=p.max_tracks, revive_s=p.revive_s,
            occlude_s=p.occlude_s, join_frames=p.join_frames, newcomer=p.newcomer)
        return _State(tracker=tr)

    def reset(self) -> None:
        """Forget everything learnt (background, noise, tracks)."""
        self._state = self._new_state()
        self._states.clear()

    def forget(self, key: object) -> None:
        self._states.pop(key, None)

    def camera_note(self, key: object) -> str | None:
        """Why a camera can give no detections (shown in the service status), or None."""
        st = self._states.get(key)
        if st is not None and st.pictures and st.bg is None:
            return "this camera gives pictures only: the hotspot detector needs temperatures or sensor counts"
        return None

    def state_of(self, key: object | None = None) -> _State:
        return self._state if key is None else self._states.setdefault(key, self._new_state())

    # ----- detection
    def detect(self, frames: list[Frame]) -> list[list[Detection]]:
        return [self.detect_one(f) for f in frames]

    def detect_keyed(self, keys: list, frames: list[Frame]) -> list[list[Detection]]:
        return [self._detect(self.state_of(k), f) for k, f in zip(keys, frames)]

    def detect_one(self, frame: Frame) -> list[Detection]:
        return self._detect(self._state, frame)

    def _detect(self, st: _State, frame: Frame) -> list[Detection]:
        values, unit, step = frame_values(frame)
        if values is None:
            st.pictures += 1
            return []
        h, w = values.shape
        scale = max(1, math.ceil(max(h, w) / self.work_px))
        small = values.astype(np.float32, copy=False)
        if scale > 1:
            small = cv2.resize(small, (w // scale, h // scale), interpolation=cv2.INTER_AREA)
        t = float(frame.timestamp)
        if st.bg is None or st.shape != (h, w) or st.unit != unit:
            self._restart(st, small, (h, w), unit, t)
            return []
        dt = min(max(t - st.t, 1.0 / 60.0), 2.0)
        st.t = t
        st.frames += 1
        diff = small - st.bg
        shift = float(np.median(diff[::4, ::4]))
        known = max(st.sigma, 0.5 * step, 1e-6) if st.sigma is not None else None  # the noise learnt so far
        jumped = known is not None and abs(shift) > self.jump_k * known
        if jumped and unit == "counts" and not self._ffc_flagged(st, frame) and self._follow_gain(st, small, known):
            diff = small - st.bg  # an automatic gain change, followed: no hold
            shift, jumped = float(np.median(diff[::4, ::4])), False
        st.bg += shift  # the whole frame's level: never an object
        diff -= shift
        objects = self._object_mask(st, diff.shape, scale, t)
        sigma_now = frame_noise(small, st.prev)
        st.calm_since = calm_since(st.calm_since, small, st.prev, st.sigma, t)
        st.prev = small
        sigma = max(st.sigma if st.sigma is not None else sigma_now, 0.5 * step, 1e-6)
        if st.sigma is not None:  # smooth, uneven drift (a Lepton's edges after an FFC): follow it too
            level = level_field(diff, self.k * sigma, objects, self.level_cells)
            st.bg += level
            diff -= level
        if self._ffc(st, frame, jumped, t):
            st.ffc_frames += 1
            st.rebase = True
            return []
        if st.rebase:  # first frame after an FFC: the pixels' offsets changed, except where objects are
            st.rebase = False
            moved = robust_sd(diff[::2, ::2])  # how far the FFC moved the pixels' offsets
            far = min(self.rebase_k * self.k * sigma, max(5.0 * moved, 3.0 * sigma))
            keep = objects | (np.abs(diff) > far)
            st.bg = np.where(keep, st.bg, small)
            diff = np.where(keep, diff, np.float32(0.0))
        st.sigma = sigma_now if st.sigma is None else \
            st.sigma + (sigma_now - st.sigma) * min(1.0, dt / self.noise_tau_s)  # fmt: skip
        cutoff = self.k * sigma
        if st.age < self.warmup_s - TIME_EPS_S:  # first second: the background is the warmest seen, nothing reported
            st.age += dt  # (a warm object passing leaves a cold imprint, healed once calm; a cold one none)
            st.bg += np.maximum(diff, np.float32(0.0))
            return []
        warm = diff > cutoff
        if unit == "°C" and self.delta_c is not None:
            warm &= diff > self.delta_c
        if unit == "°C" and self.threshold_c is not None:
            warm &= small > self.threshold_c
        cold = diff < -cutoff  # a moving object's cold parts: cold for a moment only (not a lasting cold ghost)
        if st.cold_since is None or st.cold_since.shape != cold.shape:
            st.cold_since = np.full(cold.shape, t - self.ghost_s, np.float64)  # cold from the start: a ghost
        st.cold_since[~cold] = t
        cold &= (t - st.cold_since) <= self.ghost_s + TIME_EPS_S
        changed = (warm | cold).view(np.uint8)
        blobs = warm_blobs(warm.view(np.uint8), changed, small, values, scale, (h, w), min_area=self.min_area,
                           max_area=self.max_area, max_blobs=self.max_blobs, merge_px=self.merge_px)
        kept = st.tracker.update(blobs, t, w, h)
        self._learn(st, diff, cutoff, dt, t)
        return self._detections(kept, unit, sigma, cutoff, w, h)

    def _restart(self, st: _State, small: np.ndarray, shape: tuple[int, int], unit: str, t: float) -> None:
        st.bg, st.prev, st.shape, st.unit = small.copy(), small, shape, unit
        st.sigma, st.t, st.age, st.hold_until = None, t, 0.0, -math.inf
        st.tracker.reset()

    def _follow_gain(self, st: _State, small: np.ndarray, sigma: float) -> bool:
        """After a jump: True (and the background and previous frame mapped) when one affine map of
        the previous frame explains it within ``gain_k`` sigma, as an automatic gain change does."""
        if st.prev is None:
            return False
        a, b, spread = gain_map(st.prev, small, sigma)
        if not (spread <= self.gain_k * sigma and 0.5 <= a <= 2.0):
            return False
        mapped = st.prev * np.float32(a) + np.float32(b)
        # pixels that kept their value though the map moved them: drawn over the picture after the
        # gain (a camera's on-screen text, marks) or saturated; their background stays as it was
        fixed = (np.abs(mapped - st.prev) > 3.0 * sigma) & (np.abs(small - st.prev) < np.abs(small - mapped))
        st.bg = np.where(fixed, st.bg, st.bg * np.float32(a) + np.float32(b))
        st.prev = np.where(fixed, st.prev, mapped)
        st.gain_changes += 1
        return True

    @staticmethod
    def _ffc_flagged(st: _State, frame: Frame) -> bool:
        """The camera itself says this frame is in, or starts, a flat-field correction."""
        state = frame.radiometry.ffc_state if frame.radiometry is not None else FFCState.UNKNOWN
        return state == FFCState.IN_PROGRESS or (state == FFCState.DONE and st.ffc_prev not in (None, FFCState.DONE))

    def _ffc(self, st: _State, frame: Frame, jumped: bool, t: float) -> bool:
        """True when this frame is in or just after a flat-field correction (see step 3)."""
        started = self._ffc_flagged(st, frame) or jumped
        st.ffc_prev = frame.radiometry.ffc_state if frame.radiometry is not None else FFCState.UNKNOWN
        if started:
            st.hold_until = t + self.ffc_hold_s
            return True
        return t < st.hold_until - TIME_EPS_S

    @staticmethod
    def _object_mask(st: _State, shape: tuple[int, int], scale: int, t: float) -> np.ndarray:
        """Work-grid mask of the boxes of the confirmed tracks, moved to where they should be at ``t``."""
        keep = np.zeros(shape, bool)
        for tr in st.tracker.tracks:
            if not tr.confirmed or not tr.sizes:
                continue
            (cx, cy), (bw, bh) = tr.predict(t), tr.sizes[-1]
            x1, y1 = max(0, int((cx - bw) / scale)), max(0, int((cy - bh) / scale))
            keep[y1:int((cy + bh) / scale) + 1, x1:int((cx + bw) / scale) + 1] = True
        return keep

    def _learn(self, st: _State, diff: np.ndarray, cutoff: float, dt: float, t: float) -> None:
        """Background += rate * difference, per pixel. A pixel more than ``cutoff`` off its background
        (warm or cold) learns at ``hot_tau_s`` unless it has been off most of the last ``still_s``
        seconds and unchanged for ``heal_s``: a passing object, warm parts and cold ones alike (a
        car's windows reflecting the sky), leaves no trail, even where objects pass most of the time.
        Every other pixel learns at ``bg_tau_s``: warm static structures, a wrong background and
        anything that stays put become background. A cold pixel unchanged for ``heal_s`` learns at
        ``heal_tau_s`` (a cold imprint, see the module docstring)."""
        st.age += dt
        a = np.float32(min(1.0, dt / min(self.bg_tau_s, max(st.age, dt))))  # learn fast while young
        a_hot = np.float32(min(1.0, dt / self.hot_tau_s))
        off = np.abs(diff) > cutoff
        if st.off_frac is None or st.off_frac.shape != diff.shape:
            st.off_frac = np.zeros(diff.shape, np.float32)
        st.off_frac += (off - st.off_frac) * np.float32(min(1.0, dt / self.still_s))
        calm = st.calm_since <= t - self.heal_s + TIME_EPS_S  # unchanged (noise aside) for heal_s
        rate = np.where(off & ((st.off_frac < 0.5) | ~calm), a_hot, a)  # passing objects, a busy road
        healed = (diff < -cutoff) & calm  # cold and unchanged: the scene itself, a wrong background
        rate = np.where(healed, np.float32(1.0 - math.exp(-dt / self.heal_tau_s)), rate)
        st.bg += rate * diff

    def _detections(self, kept, unit: str, sigma: float, cutoff: float, w: int, h: int) -> list[Detection]:
        out = []
        for b, tr in kept:
            celsius = unit == "°C"
            hint = label_hint(tr.sizes, w, h, tr.peak if celsius else None)
            out.append(Detection(
                label=self.label, confidence=1.0, box=Box(*b.box), track_id=tr.id,
                max_celsius=b.peak if celsius else None, mean_celsius=b.mean if celsius else None,
                max_counts=None if celsius else b.peak,
                extra={"hint": hint, "track": tr.id, "area": b.area, "sigma": round(sigma, 4),
                       "cutoff": round(cutoff, 4), "unit": unit},
            ))  # fmt: skip
        return out
