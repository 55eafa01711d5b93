"""Blob tracks for the weightless thermal detector: which warm blobs are objects worth reporting.

:class:`BlobTracker` links one frame's blobs to the blobs of earlier frames and keeps a blob back
until its track has shown it is an object. A track is *confirmed* once, at the same time:

* it has ``min_hits`` sightings spanning at least ``min_track_s`` seconds (too short: a blip);
* it was seen in at least ``min_fill`` of the frames since it started (flicker: noise, a leaf);
* its centre moved at least ``min_move`` (a fraction of the frame's diagonal, and at least
  ``min_move_px`` pixels) from where it started (static: a lamp switched on, a heater).

Only blobs of confirmed tracks are reported. Per frame (rules in :mod:`.blobrules`):

0. **Newcomers**: a blob that holds where one confirmed track should be, reaches the frame's side
   and goes beyond that object's box on that side by ``newcomer`` times its size (a car entering
   right behind a walker: one warm blob) is cut there, so the newcomer gets a track of its own.
1. **Match**: greedy, best pairs first; a blob must be near where the track should be (constant
   velocity) and alike in shape to the object's own size. A track that has left the frame matches
   nothing; one leaving it does not take a blob that grows inwards (another object coming in).
2. **Revive**: a confirmed track lost up to ``revive_s`` ago (not leaving, not inside a matched
   blob) takes an unmatched blob of about its size where it should be: same id, same event.
3. **Parts**: unmatched blobs, and blobs of young tracks, that are parts of a matched object (a car's
   wheels and engine; a head apart from the body for a moment: both within the size the object had
   at its last sightings) join its box; a young track that stays beside an older one and moves alike
   for ``join_frames`` frames is joined to it.
4. **Merged blobs**: a blob that holds where other confirmed tracks should be (objects touching or
   passing each other) keeps them all: they coast at their own velocity, kept inside the blob, for at
   most ``occlude_s``, and take their own blobs again when they part; the blob is reported once,
   under the track it matched. A blob that swells to half as big again as its object (away from the
   frame's sides) makes the track coast too; its own size follows only slowly.
5. A track unseen for ``max_gap_s`` ends (confirmed ones can be revived), at once if it was leaving
   the frame. :meth:`BlobTrack.still_for` says how long a track has not moved (the detector stops
   shielding the pixels of an object that stands still, so it fades into the background).

Label hint (a heuristic, not a classifier): from the track's median box and, with °C, its peak
temperature. ``vehicle-sized``: at least 1.6 times wider than tall and at least 1.5 % of the
frame, or a peak of ``HOT_ENGINE_C`` or more (engines, exhausts); ``person-sized``: at least
1.3 times taller than wide; ``animal-sized``: the rest (small or squat). It says what the box
*looks like*; a crouching person is "animal-sized", a dog seen end-on "person-sized".
"""

from __future__ import annotations

import itertools
import math
import statistics

from thermalstream.detect.blobrules import (
    Blob,
    BlobTrack,
    at_edge,
    companions,
    grows_in,
    newcomer_cut,
    part_of,
    side_speed,
    unlike,
)
from thermalstream.detect.types import TIME_EPS_S

HOT_ENGINE_C = 55.0
HINTS = ("person-sized", "animal-sized", "vehicle-sized")


def label_hint(sizes, frame_w: int, frame_h: int, peak_c: float | None) -> str:
    """``person-sized``, ``animal-sized`` or ``vehicle-sized`` from box sizes (see module docstring)."""
    w = statistics.median(s[0] for s in sizes) if sizes else 0.0  # (a few dozen numbers: faster than numpy)
    h = statistics.median(s[1] for s in sizes) if sizes else 0.0
    if peak_c is not None and peak_c >= HOT_ENGINE_C:
        return "vehicle-sized"
    if w >= 1.6 * h and w * h >= 0.015 * frame_w * frame_h:
        return "vehicle-sized"
    if h >= 1.3 * w:
        return "person-sized"
    return "animal-sized"


class BlobTracker:
    """Tracks of blobs with the filters of the module docstring; one per camera."""

    def __init__(self, *, min_hits: int = 2, min_track_s: float = 0.2, min_fill: float = 0.6,
                 min_move: float = 0.01, min_move_px: float = 2.0, max_gap_s: float = 1.5,
                 max_tracks: int = 50, revive_s: float = 4.0, occlude_s: float = 5.0, join_frames: int = 3,
                 newcomer: float = 0.75) -> None:
        self.min_hits, self.min_track_s, self.min_fill = min_hits, min_track_s, min_fill
        self.min_move, self.min_move_px, self.max_gap_s = min_move, min_move_px, max_gap_s
        self.max_tracks, self.revive_s, self.occlude_s = max_tracks, revive_s, occlude_s
        self.join_frames, self.newcomer = join_frames, newcomer
        self.tracks: list[BlobTrack] = []
        self._lost: list[BlobTrack] = []
        self._ids = itertools.count(1)

    def reset(self) -> None:
        self.tracks.clear()
        self._lost.clear()

    def update(self, blobs: list[Blob], t: float, frame_w: int, frame_h: int) -> list[tuple[Blob, BlobTrack]]:
        """Link this frame's blobs; returns (blob, track) for the blobs of confirmed tracks."""
        self._expire(t, frame_w, frame_h)
        for tr in self.tracks:
            tr.frames += 1
        blobs = self._split_newcomers(blobs, t, frame_w, frame_h)
        matched = self._match(blobs, t, frame_w, frame_h)
        revived = self._revive_all(blobs, matched, t, frame_w, frame_h)
        blobs = self._absorb_parts(blobs, matched, revived, t)
        blobs = self._joincompanions(blobs, matched)
        merged = self._merged(blobs, matched, t, frame_w, frame_h)
        min_move = max(self.min_move_px, self.min_move * math.hypot(frame_w, frame_h))
        out = []
        for j, b in enumerate(blobs):
            tr = matched.get(j)
            if tr is None:
                if len(self.tracks) >= self.max_tracks:
                    continue
                tr = BlobTrack(next(self._ids), t, t, b.center, b.center, anchor=b.center, anchor_t=t, box=b.box)
                self.tracks.append(tr)
                tr.resize(b.box[2] - b.box[0], b.box[3] - b.box[1], True)
            elif j in merged:
                for other in merged[j]:
                    self._coast(other, b, t)
            elif self._swollen(tr, b, t, frame_w, frame_h):
                self._coast(tr, b, t)
                tr.resize(b.box[2] - b.box[0], b.box[3] - b.box[1], False)  # slowly: it may really have grown
            else:
                self._extend(tr, b, t, (frame_w, frame_h))
            if math.hypot(tr.center[0] - tr.anchor[0], tr.center[1] - tr.anchor[1]) >= min_move:
                tr.anchor, tr.anchor_t = tr.center, t
            tr.peak = max(tr.peak, b.peak)
            if not tr.confirmed:
                tr.confirmed = (tr.hits >= self.min_hits and tr.last_t - tr.first_t >= self.min_track_s - TIME_EPS_S
                                and tr.hits >= self.min_fill * tr.frames and tr.moved >= min_move)
            if tr.confirmed:
                out.append((b, tr))
        self._drop_exits(matched, t, frame_w, frame_h)
        return out

    def _split_newcomers(self, blobs: list[Blob], t: float, frame_w: int, frame_h: int) -> list[Blob]:
        """A blob that holds where one confirmed track should be but reaches beyond its box on one side,
        by at least ``newcomer`` times its size there, holds an object new to the tracker (a car
        entering the frame beside a walker): it is cut in two there, so the newcomer gets a track of
        its own and the known object keeps its own. Not on a side where the known object itself
        touches the frame's border (it may still be entering there). A blob that holds several
        tracks is left whole (they coast through it: rule 4)."""
        known = [(tr.predict(t), tr.size()) for tr in self.tracks if tr.confirmed and tr.sizes]
        if not known:
            return blobs
        out = []
        for b in blobs:
            x1, y1, x2, y2 = b.box
            inside = [(p, s) for p, s in known if x1 <= p[0] <= x2 and y1 <= p[1] <= y2]
            cut = newcomer_cut(b, *inside[0], self.newcomer, frame_w, frame_h) if len(inside) == 1 else None
            out.extend(cut or (b,))
        return out

    def _expire(self, t: float, frame_w: int, frame_h: int) -> None:
        """Tracks unseen for ``max_gap_s`` end; confirmed ones that did not leave the frame wait
        ``revive_s`` for a blob where they should be."""
        gone = [tr for tr in self.tracks if t - tr.last_t > self.max_gap_s + TIME_EPS_S]
        self.tracks = [tr for tr in self.tracks if t - tr.last_t <= self.max_gap_s + TIME_EPS_S]
        self._lost += [g for g in gone if g.confirmed and not g.leaving(frame_w, frame_h)]
        self._lost = [tr for tr in self._lost if t - tr.last_t <= self.revive_s + TIME_EPS_S]

    def _drop_exits(self, matched: dict[int, BlobTrack], t: float, frame_w: int, frame_h: int) -> None:
        """Unseen tracks that were leaving the frame end now: a later blob there is a new appearance."""
        seen = {id(tr) for tr in matched.values()}
        self.tracks = [tr for tr in self.tracks
                       if id(tr) in seen or tr.last_t == t or not tr.leaving(frame_w, frame_h)]

    def _joincompanions(self, blobs: list[Blob], matched: dict[int, BlobTrack]) -> list[Blob]:
        """Two tracks whose blobs stay side by side and move alike for ``join_frames`` frames are one
        object seen in parts (a car's cold body between its warm wheels and engine): the younger
        track's blob joins the older one's, and the younger track ends."""
        by_track = {id(tr): j for j, tr in matched.items()}
        drop = set()
        for j, tr in matched.items():
            older = [o for o in matched.values() if o.id < tr.id and o.confirmed and companions(blobs[j], tr,
                     blobs[by_track[id(o)]], o)]  # fmt: skip
            best = min(older, key=lambda o: o.id, default=None)
            if best is None or best.id != tr.buddy:
                tr.buddy, tr.buddy_n = (best.id, 1) if best is not None else (0, 0)
                continue
            tr.buddy_n += 1
            if tr.buddy_n < self.join_frames or by_track[id(best)] in drop:
                continue
            i = by_track[id(best)]
            a, b = blobs[i], blobs[j]
            union = Blob((min(a.box[0], b.box[0]), min(a.box[1], b.box[1]), max(a.box[2], b.box[2]),
                          max(a.box[3], b.box[3])), a.area + b.area, max(a.peak, b.peak), a.mean)
            shift = (union.center[0] - a.center[0], union.center[1] - a.center[1])
            best.center = (best.center[0] + shift[0], best.center[1] + shift[1])  # not a jump in velocity
            best.resize(union.box[2] - union.box[0], union.box[3] - union.box[1], True)
            blobs[i] = union
            drop.add(j)
        if not drop:
            return blobs
        self.tracks = [tr for tr in self.tracks if not any(tr is matched[j] for j in drop)]
        keep = [j for j in range(len(blobs)) if j not in drop]
        rekeyed = {k: matched[j] for k, j in enumerate(keep) if j in matched}
        matched.clear()
        matched.update(rekeyed)
        return [blobs[j] for j in keep]

    def _merged(self, blobs: list[Blob], matched: dict[int, BlobTrack], t: float, frame_w: int,
                frame_h: int) -> dict[int, list[BlobTrack]]:
        """Blobs that hold several objects (they touch or pass each other): each blob whose box holds
        where an unmatched confirmed track should be (an unmatched blob becomes the oldest such
        track's). Returns blob index -> the tracks in it; they all coast (predicted, kept inside the
        blob) until they part, at most ``occlude_s``."""
        used = {id(tr) for tr in matched.values()}
        free = [tr for tr in self.tracks if tr.confirmed and id(tr) not in used
                and t - (tr.hidden_since if tr.hidden_since is not None else t) <= self.occlude_s + TIME_EPS_S]
        out: dict[int, list[BlobTrack]] = {}
        for j in sorted(range(len(blobs)), key=lambda j: j not in matched):  # matched blobs first
            x1, y1, x2, y2 = blobs[j].box
            inside = [o for o in free if x1 <= o.predict(t)[0] <= x2 and y1 <= o.predict(t)[1] <= y2]
            if j not in matched:  # only a blob that can hold the whole object (or looks like it), not leaving
                inside = [o for o in inside if not o.leaving(frame_w, frame_h) and (unlike(blobs[j], o) <= 1.0 or (
                    x2 - x1 >= 0.8 * o.size()[0] and y2 - y1 >= 0.8 * o.size()[1]))]
            if not inside:
                continue
            if j not in matched:  # a blob unlike any one track, where tracks should be: theirs
                matched[j] = min(inside, key=lambda o: o.id)
            out[j] = [matched[j], *(o for o in inside if o is not matched[j])]
            free = [o for o in free if o not in inside]
        return out

    def _swollen(self, tr: BlobTrack, b: Blob, t: float, frame_w: int, frame_h: int) -> bool:
        """A confirmed track's blob half as wide or tall again as the object (away from the frame's
        sides, where objects enter): the object touches something new to the tracker (a walker that
        just came out from behind it, a cold ghost). The track coasts instead of taking that box, for
        at most ``occlude_s``; then the box is taken as the object's new size."""
        if not tr.confirmed or (tr.hidden_since is not None and t - tr.hidden_since > self.occlude_s + TIME_EPS_S):
            return False
        (tw, th), (x1, y1, x2, y2) = tr.size(), b.box
        return not at_edge(b, frame_w, frame_h) and (x2 - x1 > 1.5 * tw or y2 - y1 > 1.5 * th)

    def _coast(self, tr: BlobTrack, b: Blob, t: float) -> None:
        """A track inside a merged blob: where it should be (its own velocity), kept inside the blob."""
        px, py = tr.predict(t)
        x1, y1, x2, y2 = b.box
        w, h = tr.size()
        hx, hy = min(w, x2 - x1) / 2, min(h, y2 - y1) / 2  # its whole box inside the blob
        tr.center = (min(max(px, x1 + hx), x2 - hx), min(max(py, y1 + hy), y2 - hy))
        tr.last_t = t
        tr.hits += 1
        if tr.hidden_since is None:
            tr.hidden_since = t
        tr.moved = max(tr.moved, math.hypot(tr.center[0] - tr.start[0], tr.center[1] - tr.start[1]))

    def _revive_all(self, blobs: list[Blob], matched: dict[int, BlobTrack], t: float, frame_w: int,
                    frame_h: int) -> set[int]:
        """Unmatched blobs where an unmatched confirmed track should be (hidden behind or merged with
        another object, lost up to ``revive_s`` ago): that track continues, same id, same event. Not
        a track that was leaving the frame (unseen, it has left: a blob near there is another object,
        such as a walker the leaving car had passed), and not a blob that is a part of a confirmed
        object matched now (:func:`part_of`). Adds them to ``matched``; returns their indexes."""
        used = {id(tr) for tr in matched.values()}
        held = [blobs[j].box for j in matched]  # a track where a matched blob is: still in it, merged
        waiting = [tr for tr in self.tracks if tr.confirmed and id(tr) not in used and not tr.leaving(frame_w, frame_h)
                   and not any(x1 <= tr.predict(t)[0] <= x2 and y1 <= tr.predict(t)[1] <= y2 for x1, y1, x2, y2 in held)
                   ] + self._lost
        hosts = [(blobs[i], tr) for i, tr in matched.items() if tr.confirmed]
        pairs = []
        for j, b in enumerate(blobs):
            if j in matched or any(part_of(b, hb, ht) for hb, ht in hosts):
                continue  # a part of an object seen now (a head apart from the body): it joins it (rule 3)
            for k, tr in enumerate(waiting):
                px, py = tr.predict(t, self.revive_s)  # where it should be by now, gone or hidden
                if not (0 <= px <= frame_w and 0 <= py <= frame_h):
                    continue  # it has left the frame
                d = math.hypot(b.center[0] - px, b.center[1] - py)
                td = max(math.hypot(*tr.size()), 1.0)
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

    def _extend(self, tr: BlobTrack, b: Blob, t: float, frame: tuple[int, int]) -> None:
        """A blob seen for the track: centre, velocity, size. The velocity is that of the box's centre,
        left/top or right/bottom side, whichever agrees best with the track's velocity so far: a box
        that grows or shrinks on one side (entering the frame, a part going cold) still moves with
        its other side. Back from a merged blob, the velocity is kept."""
        c = b.center
        dt = t - tr.last_t
        if dt > 1e-6 and tr.hidden_since is None:
            if tr.hits == 1:
                tr.velocity = ((c[0] - tr.center[0]) / dt, (c[1] - tr.center[1]) / dt)
            else:
                v = tuple(side_speed(tr.box[k], tr.box[k + 2], b.box[k], b.box[k + 2], tr.velocity[k], dt, lim)
                          for k, lim in ((0, frame[0]), (1, frame[1])))
                tr.velocity = (0.5 * v[0] + 0.5 * tr.velocity[0], 0.5 * v[1] + 0.5 * tr.velocity[1])
        entering = at_edge(b, *frame) and at_edge(Blob(tr.box, 0, 0.0, 0.0), *frame)  # was and is at a side
        tr.center, tr.last_t, tr.hidden_since, tr.box = c, t, None, b.box
        tr.hits += 1
        tr.resize(b.box[2] - b.box[0], b.box[3] - b.box[1], entering)
        tr.moved = max(tr.moved, math.hypot(c[0] - tr.start[0], c[1] - tr.start[1]))

    def _absorb_parts(self, blobs: list[Blob], matched: dict[int, BlobTrack], revived: set[int],
                      t: float) -> list[Blob]:
        """Unmatched blobs that are parts of a matched blob's object (:func:`_part_of`: a car's wheels
        and engine, a person's head) join it: one box, one track. So do the blobs of young
        (unconfirmed) tracks that are parts of a confirmed track's object: the young track ends."""
        if not matched:
            return blobs
        hosts = [j for j in matched if j not in revived]
        kept = {j: blobs[j] for j in matched}
        gone = []
        for j, b in enumerate(blobs):
            young = matched.get(j)
            if young is not None and (young.confirmed or j in revived):
                continue
            for i in hosts:
                if i == j or (young is not None and not matched[i].confirmed) or i not in kept:
                    continue
                if part_of(b, kept[i], matched[i]):
                    x1, y1, x2, y2 = kept[i].box
                    kept[i] = Blob((min(x1, b.box[0]), min(y1, b.box[1]), max(x2, b.box[2]), max(y2, b.box[3])),
                                   kept[i].area + b.area, max(kept[i].peak, b.peak), kept[i].mean)
                    kept.pop(j, None)
                    if young is not None:
                        gone.append(young)
                    break
            else:
                kept[j] = b
        if gone:
            self.tracks = [tr for tr in self.tracks if not any(tr is g for g in gone)]
        order = sorted(kept)
        rekeyed = {k: matched[j] for k, j in enumerate(order) if j in matched}
        matched.clear()
        matched.update(rekeyed)
        return [kept[j] for j in order]

    def _match(self, blobs: list[Blob], t: float, frame_w: int, frame_h: int) -> dict[int, BlobTrack]:
        """Greedy: best (track, blob) pairs first. A pair needs centres closer than the smaller box
        diagonal and boxes alike in shape (:func:`_unlike`; not for a track at a side of the frame
        and a blob there: objects enter and leave in part); the cost adds both."""
        if not self.tracks or not blobs:
            return {}
        pairs = []
        for i, tr in enumerate(self.tracks):
            px, py = tr.predict(t)
            if not (0 <= px <= frame_w and 0 <= py <= frame_h):
                continue  # it has left the frame
            tw, th = tr.size()
            edge = at_edge(Blob((px - tw / 2, py - th / 2, px + tw / 2, py + th / 2), 0, 0.0, 0.0), frame_w, frame_h)
            leaving = tr.confirmed and tr.leaving(frame_w, frame_h)
            for j, b in enumerate(blobs):
                cx, cy = b.center
                dist = math.hypot(cx - px, cy - py)
                gate = max(min(b.diag, math.hypot(tw, th)), 4.0)  # a small part never pulls a big track away
                shape = 0.0 if edge and at_edge(b, frame_w, frame_h) else unlike(b, tr)
                if dist <= gate and shape <= 1.0 and not (leaving and grows_in(b, tr, t, frame_w, frame_h)):
                    pairs.append((dist / gate + shape, i, j))
        pairs.sort()
        used_t, out = set(), {}
        for _, i, j in pairs:
            if i in used_t or j in out:
                continue
            used_t.add(i)
            out[j] = self.tracks[i]
        return out

__all__ = ["HINTS", "Blob", "BlobTrack", "BlobTracker", "label_hint"]
