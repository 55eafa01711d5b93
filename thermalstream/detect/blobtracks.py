"""Blob tracks for the weightless thermal detector: which warm blobs are objects worth reporting.

:class:`BlobTracker` links one frame's blobs to the blobs of earlier frames (greedy, by centre
distance against the box size, predicted with the track's velocity) and keeps a blob back until
its track has shown it is an object. A track is *confirmed* once, at the same time:

* it has ``min_hits`` sightings spanning at least ``min_track_s`` seconds (too short: a blip);
* it was seen in at least ``min_fill`` of the frames since it started (flicker: noise, a leaf);
* its centre moved at least ``min_move`` (a fraction of the frame's diagonal, and at least
  ``min_move_px`` pixels) from where it started (static: a lamp switched on, a heater).

Only blobs of confirmed tracks are reported; a confirmed track stays confirmed until it has not
been seen for ``max_gap_s`` seconds (then it ends; a later blob starts a new track).
:meth:`BlobTrack.still_for` says how long a track has not moved (the detector stops shielding
the pixels of an object that stands still, so it fades into the background like a parked car).

Label hint (a heuristic, not a classifier): from the track's median box and, with °C, its peak
temperature. ``vehicle-sized``: at least 1.6 times wider than tall and at least 1.5 % of the
frame, or a peak of ``HOT_ENGINE_C`` or more (engines, exhausts); ``person-sized``: at least
1.3 times taller than wide; ``animal-sized``: the rest (small or squat). It says what the box
*looks like*; a crouching person is "animal-sized", a dog seen end-on "person-sized".
"""

from __future__ import annotations

import itertools
import math
from collections import deque
from dataclasses import dataclass, field

import numpy as np

HOT_ENGINE_C = 55.0
HINTS = ("person-sized", "animal-sized", "vehicle-sized")


@dataclass
class Blob:
    """One warm blob in one frame (full-frame pixel box, x2/y2 exclusive)."""

    box: tuple[float, float, float, float]
    area: int  # warm pixels, full-frame scale
    peak: float  # the highest value inside (frame units)
    mean: float  # mean of the warm pixels (frame units)

    @property
    def center(self) -> tuple[float, float]:
        x1, y1, x2, y2 = self.box
        return (x1 + x2) / 2, (y1 + y2) / 2

    @property
    def diag(self) -> float:
        x1, y1, x2, y2 = self.box
        return math.hypot(x2 - x1, y2 - y1)


@dataclass
class BlobTrack:
    id: int
    first_t: float
    last_t: float
    start: tuple[float, float]
    center: tuple[float, float]
    velocity: tuple[float, float] = (0.0, 0.0)  # px/s
    hits: int = 1
    frames: int = 1  # frames seen by the tracker since the track started
    moved: float = 0.0  # largest distance of the centre from its start
    confirmed: bool = False
    sizes: deque = field(default_factory=lambda: deque(maxlen=25))  # (w, h) of recent boxes
    peak: float = -math.inf
    anchor: tuple[float, float] = (0.0, 0.0)  # centre at its last notable move ...
    anchor_t: float = 0.0  # ... and when that was

    def still_for(self, t: float) -> float:
        """Seconds since the centre last moved notably (``BlobTracker.min_move``)."""
        return t - self.anchor_t

    def predict(self, t: float) -> tuple[float, float]:
        dt = min(max(t - self.last_t, 0.0), 1.0)
        return self.center[0] + self.velocity[0] * dt, self.center[1] + self.velocity[1] * dt


def label_hint(sizes, frame_w: int, frame_h: int, peak_c: float | None) -> str:
    """``person-sized``, ``animal-sized`` or ``vehicle-sized`` from box sizes (see module docstring)."""
    w = float(np.median([s[0] for s in sizes])) if sizes else 0.0
    h = float(np.median([s[1] for s in sizes])) if sizes else 0.0
    if peak_c is not None and peak_c >= HOT_ENGINE_C:
        return "vehicle-sized"
    if w >= 1.6 * h and w * h >= 0.015 * frame_w * frame_h:
        return "vehicle-sized"
    if h >= 1.3 * w:
        return "person-sized"
    return "animal-sized"


class BlobTracker:
    """Tracks of blobs with the filters of the module docstring; one per camera."""

    def __init__(self, *, min_hits: int = 3, min_track_s: float = 0.2, min_fill: float = 0.6,
                 min_move: float = 0.01, min_move_px: float = 2.0, max_gap_s: float = 1.5,
                 max_tracks: int = 50, revive_s: float = 4.0) -> None:
        self.min_hits, self.min_track_s, self.min_fill = min_hits, min_track_s, min_fill
        self.min_move, self.min_move_px, self.max_gap_s = min_move, min_move_px, max_gap_s
        self.max_tracks, self.revive_s = max_tracks, revive_s
        self.tracks: list[BlobTrack] = []
        self._lost: list[BlobTrack] = []
        self._ids = itertools.count(1)

    def reset(self) -> None:
        self.tracks.clear()
        self._lost.clear()

    def update(self, blobs: list[Blob], t: float, frame_w: int, frame_h: int) -> list[tuple[Blob, BlobTrack]]:
        """Link this frame's blobs; returns (blob, track) for the blobs of confirmed tracks."""
        gone = [tr for tr in self.tracks if t - tr.last_t > self.max_gap_s]
        self.tracks = [tr for tr in self.tracks if t - tr.last_t <= self.max_gap_s]
        self._lost = [tr for tr in self._lost + [g for g in gone if g.confirmed] if t - tr.last_t <= self.revive_s]
        for tr in self.tracks:
            tr.frames += 1
        matched = self._match(blobs, t)
        revived = self._revive_all(blobs, matched, t)
        blobs = self._absorb_parts(blobs, matched, revived)
        min_move = max(self.min_move_px, self.min_move * math.hypot(frame_w, frame_h))
        out = []
        for j, b in enumerate(blobs):
            tr = matched.get(j)
            if tr is None:
                if len(self.tracks) >= self.max_tracks:
                    continue
                tr = BlobTrack(next(self._ids), t, t, b.center, b.center, anchor=b.center, anchor_t=t)
                self.tracks.append(tr)
            else:
                self._extend(tr, b, t)
                if math.hypot(tr.center[0] - tr.anchor[0], tr.center[1] - tr.anchor[1]) >= min_move:
                    tr.anchor, tr.anchor_t = tr.center, t
            tr.sizes.append((b.box[2] - b.box[0], b.box[3] - b.box[1]))
            tr.peak = max(tr.peak, b.peak)
            if not tr.confirmed:
                tr.confirmed = (tr.hits >= self.min_hits and tr.last_t - tr.first_t >= self.min_track_s
                                and tr.hits >= self.min_fill * tr.frames and tr.moved >= min_move)
            if tr.confirmed:
                out.append((b, tr))
        return out

    def _revive_all(self, blobs: list[Blob], matched: dict[int, BlobTrack], t: float) -> set[int]:
        """Unmatched blobs where an unmatched confirmed track should be (hidden behind or merged with
        another object, lost up to ``revive_s`` ago): that track continues, same id, same event.
        Adds them to ``matched``; returns their indexes."""
        used = {id(tr) for tr in matched.values()}
        waiting = [tr for tr in self.tracks if tr.confirmed and id(tr) not in used] + self._lost
        pairs = []
        for j, b in enumerate(blobs):
            if j in matched:
                continue
            for k, tr in enumerate(waiting):
                px, py = tr.predict(t)
                tw, th = tr.sizes[-1] if tr.sizes else (0.0, 0.0)
                d = math.hypot(b.center[0] - px, b.center[1] - py)
                td = max(math.hypot(tw, th), 1.0)
                if d <= 1.5 * max(min(b.diag, td), 4.0) and 0.5 <= b.diag / td <= 2.0:  # near, and alike in size
                    pairs.append((d, j, k))
        out = set()
        taken = set()
        for _, j, k in sorted(pairs):
            if j in out or k in taken:
                continue
            tr = waiting[k]
            out.add(j)
            taken.add(k)
            matched[j] = tr
            if tr in self._lost:
                self._lost.remove(tr)
                self.tracks.append(tr)
        return out

    def _extend(self, tr: BlobTrack, b: Blob, t: float) -> None:
        c = b.center
        dt = t - tr.last_t
        if dt > 1e-6:
            v = ((c[0] - tr.center[0]) / dt, (c[1] - tr.center[1]) / dt)
            tr.velocity = v if tr.hits == 1 else (0.5 * v[0] + 0.5 * tr.velocity[0], 0.5 * v[1] + 0.5 * tr.velocity[1])
        tr.center, tr.last_t = c, t
        tr.hits += 1
        tr.moved = max(tr.moved, math.hypot(c[0] - tr.start[0], c[1] - tr.start[1]))

    @staticmethod
    def _absorb_parts(blobs: list[Blob], matched: dict[int, BlobTrack], revived: set[int]) -> list[Blob]:
        """Unmatched blobs inside (or touching) a matched blob's box, grown by a quarter of its size, are
        parts of that object (a car's wheels and engine, a person's head): one box, one track."""
        if len(matched) == len(blobs) or not matched:
            return blobs
        merged = {j: blobs[j] for j in matched if j not in revived}
        kept = {j: blobs[j] for j in matched}
        for j, b in enumerate(blobs):
            if j in matched:
                continue
            for i, m in merged.items():
                x1, y1, x2, y2 = kept[i].box
                gx, gy = 0.25 * (x2 - x1), 0.25 * (y2 - y1)
                if b.box[0] < x2 + gx and b.box[2] > x1 - gx and b.box[1] < y2 + gy and b.box[3] > y1 - gy:
                    kept[i] = Blob((min(x1, b.box[0]), min(y1, b.box[1]), max(x2, b.box[2]), max(y2, b.box[3])),
                                   kept[i].area + b.area, max(kept[i].peak, b.peak), kept[i].mean)
                    break
            else:
                kept[j] = b
        order = sorted(kept)
        rekeyed = {k: matched[j] for k, j in enumerate(order) if j in matched}
        matched.clear()
        matched.update(rekeyed)
        return [kept[j] for j in order]

    def _match(self, blobs: list[Blob], t: float) -> dict[int, BlobTrack]:
        """Greedy: closest (track, blob) pairs first, centres closer than the larger box diagonal."""
        if not self.tracks or not blobs:
            return {}
        pairs = []
        for i, tr in enumerate(self.tracks):
            px, py = tr.predict(t)
            tw, th = tr.sizes[-1] if tr.sizes else (0.0, 0.0)
            for j, b in enumerate(blobs):
                cx, cy = b.center
                dist = math.hypot(cx - px, cy - py)
                gate = max(min(b.diag, math.hypot(tw, th)), 4.0)  # a small part never pulls a big track away
                if dist <= gate:
                    pairs.append((dist / gate, i, j))
        pairs.sort()
        used_t, out = set(), {}
        for _, i, j in pairs:
            if i in used_t or j in out:
                continue
            used_t.add(i)
            out[j] = self.tracks[i]
        return out


__all__ = ["HINTS", "Blob", "BlobTrack", "BlobTracker", "label_hint"]
