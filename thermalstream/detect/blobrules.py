"""Blobs, blob tracks and the rules that link them, for :mod:`thermalstream.detect.blobtracks`.

A :class:`BlobTrack` keeps the object's *own* size (:meth:`BlobTrack.resize`: it follows the boxes
seen at most 15 % a frame, at once at the frame's sides), so a blob that swells because the
object touches another one never makes the object big. The functions say, for one blob and one
track, whether they are alike (:func:`unlike`), whether a blob is a part of a track's object
(:func:`part_of`, :func:`companions`), how fast a partly seen box moves (:func:`side_speed`) and
whether a blob at the frame's side is another object coming in where a track leaves
(:func:`grows_in`).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field


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
    hidden_since: float | None = None  # coasting inside a merged blob since then
    box: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)  # last box seen for it alone
    own: tuple[float, float] = (0.0, 0.0)  # the object's own size (see resize)
    owns: deque = field(default_factory=lambda: deque(maxlen=5))  # its own size at its last sightings
    buddy: int = 0  # id of an older track this one moves along with ...
    buddy_n: int = 0  # ... for this many frames in a row

    def size(self) -> tuple[float, float]:
        """The object's own box size (not that of merged blobs)."""
        return self.own

    def recent_size(self) -> tuple[float, float]:
        """The largest own width and height of its last 5 sightings (a part of it may be missing now)."""
        return (max(o[0] for o in self.owns), max(o[1] for o in self.owns)) if self.owns else self.own

    def resize(self, w: float, h: float, free: bool) -> None:
        """Follow a box of ``w`` x ``h``: at once when ``free`` (new, or at the frame's side where
        objects enter and leave), else by at most 15 % a frame (a blob that swells by touching
        something else never makes the object big)."""
        self.sizes.append((w, h))
        if free or self.own == (0.0, 0.0):
            self.own = (w, h)
        else:
            ow, oh = self.own
            self.own = (ow * min(max(w / ow, 1 / 1.15), 1.15), oh * min(max(h / oh, 1 / 1.15), 1.15))
        self.owns.append(self.own)

    def leaving(self, frame_w: int, frame_h: int) -> bool:
        """Its last box touched a side of the frame while it moved out through that side."""
        (cx, cy), (w, h), (vx, vy) = self.center, self.size(), self.velocity
        mx, my = 0.02 * frame_w, 0.02 * frame_h
        return ((cx - w / 2 <= mx and vx < 0) or (cx + w / 2 >= frame_w - mx and vx > 0)
                or (cy - h / 2 <= my and vy < 0) or (cy + h / 2 >= frame_h - my and vy > 0))

    def still_for(self, t: float) -> float:
        """Seconds since the centre last moved notably (``BlobTracker.min_move``)."""
        return t - self.anchor_t

    def predict(self, t: float, cap_s: float = 1.0) -> tuple[float, float]:
        """Where the centre should be at ``t`` (constant velocity, for at most ``cap_s`` seconds)."""
        dt = min(max(t - self.last_t, 0.0), cap_s)
        return self.center[0] + self.velocity[0] * dt, self.center[1] + self.velocity[1] * dt


def at_edge(b: Blob, frame_w: int, frame_h: int) -> bool:
    """Whether a box touches a side of the frame (within 2 %), where objects enter and leave."""
    x1, y1, x2, y2 = b.box
    mx, my = 0.02 * frame_w, 0.02 * frame_h
    return x1 <= mx or y1 <= my or x2 >= frame_w - mx or y2 >= frame_h - my


def part_of(b: Blob, host: Blob, tr: BlobTrack) -> bool:
    """Whether blob ``b`` is part of the object of ``tr``, seen this frame as ``host``. For a confirmed
    track, the box of both must stay within 1.25 times the object's own size of its last sightings
    (:meth:`BlobTrack.recent_size`: a walker's head comes back apart from the body after its
    shoulders were lost for a moment): a part fills in the object, it never makes it bigger (a
    walker passing by is no part of a car). For a young track,
    whose size is not known yet, a smaller blob touching the host's box grown by a quarter."""
    x1, y1 = min(host.box[0], b.box[0]), min(host.box[1], b.box[1])
    x2, y2 = max(host.box[2], b.box[2]), max(host.box[3], b.box[3])
    if tr.confirmed:
        w, h = tr.recent_size()
        return x2 - x1 <= 1.25 * w and y2 - y1 <= 1.25 * h
    hx1, hy1, hx2, hy2 = host.box
    gx, gy = 0.25 * (hx2 - hx1), 0.25 * (hy2 - hy1)
    touching = b.box[0] < hx2 + gx and b.box[2] > hx1 - gx and b.box[1] < hy2 + gy and b.box[3] > hy1 - gy
    return touching and b.area <= host.area


def side_speed(lo: float, hi: float, new_lo: float, new_hi: float, v: float, dt: float, limit: float) -> float:
    """Speed along one axis from a box's low side, centre or high side, the one closest to ``v``; a
    side at the frame's border (0 or ``limit``) is cut off there and says nothing."""
    m = 0.02 * limit
    moves = [(new_lo + new_hi - lo - hi) / 2]
    if lo > m and new_lo > m:
        moves.append(new_lo - lo)
    if hi < limit - m and new_hi < limit - m:
        moves.append(new_hi - hi)
    return min((d / dt for d in moves), key=lambda s: abs(s - v))


def companions(a: Blob, ta: BlobTrack, b: Blob, tb: BlobTrack) -> bool:
    """Whether young track ``ta``'s blob ``a`` looks like a part of older track ``tb``'s object (blob
    ``b``): no bigger, within its height (give or take a quarter), apart by less than its width, and
    moving alike (velocities within 35 % of the faster speed)."""
    (ax1, ay1, ax2, ay2), (bx1, by1, bx2, by2) = a.box, b.box
    bh = by2 - by1
    if (ax2 - ax1) * (ay2 - ay1) > (bx2 - bx1) * bh or ay1 < by1 - 0.25 * bh or ay2 > by2 + 0.25 * bh:
        return False
    if max(ax1 - bx2, bx1 - ax2, 0.0) > bx2 - bx1:
        return False
    speed = max(math.hypot(*ta.velocity), math.hypot(*tb.velocity))
    dv = math.hypot(ta.velocity[0] - tb.velocity[0], ta.velocity[1] - tb.velocity[1])
    return speed > 1.0 and dv <= 0.35 * speed


def grows_in(b: Blob, tr: BlobTrack, t: float, frame_w: int, frame_h: int) -> bool:
    """For a track leaving the frame: whether blob ``b`` reaches further into the frame than the track's
    box would (by more than half its size) from the side it leaves through. A leaving object's
    box only shrinks; a blob growing inwards is another object coming in there."""
    (px, py), (w, h), (vx, vy) = tr.predict(t), tr.size(), tr.velocity
    x1, y1, x2, y2 = b.box
    mx, my = 0.02 * frame_w, 0.02 * frame_h
    return ((vx > 0 and px + w / 2 >= frame_w - mx and x1 < px - w) or (vx < 0 and px - w / 2 <= mx and x2 > px + w)
            or (vy > 0 and py + h / 2 >= frame_h - my and y1 < py - h) or (vy < 0 and py - h / 2 <= my and y2 > py + h))


def newcomer_cut(b: Blob, center: tuple[float, float], size: tuple[float, float], ratio: float,
                 frame_w: int, frame_h: int) -> tuple[Blob, Blob] | None:
    """Blob ``b`` cut in two where it reaches beyond the known object's box (``size`` around its
    predicted ``center``) by at least ``ratio`` times that size along that axis (and 6 px), on the
    side where it reaches furthest, when the blob touches the frame's border there (the newcomer is
    entering): (known part, newcomer). None otherwise, and when the known box touches the border on
    that side itself."""
    x1, y1, x2, y2 = b.box
    (cx, cy), (mw, mh) = center, size
    ux1, uy1, ux2, uy2 = cx - mw / 2, cy - mh / 2, cx + mw / 2, cy + mh / 2
    mx, my = 0.02 * frame_w, 0.02 * frame_h
    sides = [(ux1 - x1, mw, ux1 <= mx, 0), (x2 - ux2, mw, ux2 >= frame_w - mx, 1),
             (uy1 - y1, mh, uy1 <= my, 2), (y2 - uy2, mh, uy2 >= frame_h - my, 3)]
    reach, size, border, side = max(sides, key=lambda v: v[0] / max(v[1], 1.0))
    enters = (x1 <= mx, x2 >= frame_w - mx, y1 <= my, y2 >= frame_h - my)[side]
    if border or not enters or reach < max(ratio * size, 6.0):
        return None
    at = (ux1, ux2, uy1, uy2)[side]
    boxes = {0: ((at, y1, x2, y2), (x1, y1, at, y2)), 1: ((x1, y1, at, y2), (at, y1, x2, y2)),
             2: ((x1, at, x2, y2), (x1, y1, x2, at)), 3: ((x1, y1, x2, at), (x1, at, x2, y2))}[side]
    span = (x2 - x1) if side < 2 else (y2 - y1)
    share = reach / max(span, 1.0)
    known = Blob(boxes[0], max(1, round(b.area * (1 - share))), b.peak, b.mean)
    return known, Blob(boxes[1], max(1, round(b.area * share)), b.peak, b.mean)


def unlike(b: Blob, tr: BlobTrack) -> float:
    """How unlike a blob's box is to a track's own size: log ratios of widths and of heights, summed,
    in units of log 3 (0 = the same size; 1 = three times as wide, or 1.7 times in both ways)."""
    tw, th = tr.size()
    if tw <= 0 or th <= 0:
        return 0.0
    bw, bh = b.box[2] - b.box[0], b.box[3] - b.box[1]
    return (abs(math.log(max(bw, 1.0) / max(tw, 1.0))) + abs(math.log(max(bh, 1.0) / max(th, 1.0)))) / math.log(3.0)


__all__ = ["Blob", "BlobTrack", "at_edge", "companions", "grows_in", "newcomer_cut", "part_of", "side_speed",
           "unlike"]
