"""Unit tests of the weightless detector's blob tracker (thermalstream.detect.blobtracks) on boxes."""

from __future__ import annotations

from thermalstream.detect.blobrules import Blob, newcomer_cut
from thermalstream.detect.blobtracks import BlobTracker

W, H, DT = 320, 240, 0.2  # frame size; detection every 0.2 s (the service's default 5 fps)


def blob(x1: float, y1: float, x2: float, y2: float) -> Blob:
    return Blob((x1, y1, x2, min(y2, H)), int((x2 - x1) * (y2 - y1) * 0.6), 30.0, 28.0)


def test_a_car_entering_merged_with_a_walker_gets_its_own_track():
    """A walker well inside the frame, then a car coming in at the frame's side right behind it, so
    that both are one warm blob reaching the border: the car gets a track of its own (reported,
    on the car's side of the blob), and the walker keeps its track and about its own box."""
    tr = BlobTracker()
    walker = lambda k: (250 - 4 * k, 100, 262 - 4 * k, 140)  # 12 x 40, 20 px/s to the left
    out = [tr.update([blob(*walker(k))], k * DT, W, H) for k in range(8)]
    (_, known), = out[-1]
    for k in range(8, 16):
        wx1, _, wx2, _ = walker(k)
        car_x1 = min(wx2 - 2, 300 - 14 * (k - 8))  # comes in touching the walker, 70 px/s
        out.append(tr.update([blob(min(wx1, car_x1), 100, W, 140)], k * DT, W, H))
    ids = {t.id for frame in out[8:] for _, t in frame}
    assert known.id in ids and len(ids) == 2, ids  # the walker's own track, and one for the car
    car = [(b, t) for frame in out[8:] for b, t in frame if t.id != known.id]
    assert len(car) >= 4 and all(b.box[2] >= W - 7 for b, _ in car)  # confirmed within a few frames, at the side
    for frame in out[8:]:
        for b, t in frame:
            if t.id == known.id:
                assert b.box[2] - b.box[0] <= 2 * 12, b.box  # never the car's box


def test_newcomer_cut_needs_the_border_and_a_clear_excess():
    known = ((200.0, 120.0), (12.0, 40.0))  # (predicted centre, own size)
    cut = newcomer_cut(blob(194, 100, W, 140), *known, 0.75, W, H)
    assert cut is not None
    a, b = cut
    assert a.box[2] == b.box[0] == 206 and b.box[2] == W
    assert newcomer_cut(blob(194, 100, 290, 140), *known, 0.75, W, H) is None  # inside the frame: a part, a shadow
    assert newcomer_cut(blob(194, 100, 212, 140), *known, 0.75, W, H) is None  # a little bigger: not a newcomer
    at_side = ((W - 6.0, 120.0), (12.0, 40.0))  # the known object is itself at the side (still entering)
    assert newcomer_cut(blob(250, 100, W, 140), *at_side, 0.75, W, H) is None


def test_a_part_cut_off_for_a_moment_joins_the_object_again():
    """A walker whose upper part goes missing for a few frames (its shoulders pass over a warm
    background: the blob is shorter), then whose head comes back as a blob of its own above the
    body: the head is a part of the walker (the size it had a moment ago), not a new object."""
    tr = BlobTracker()
    x = lambda k: 250 - 4 * k  # 12 px wide, 20 px/s to the left
    out = [tr.update([blob(x(k), 100, x(k) + 12, 140)], k * DT, W, H) for k in range(8)]  # 12 x 40
    out += [tr.update([blob(x(k), 112, x(k) + 12, 140)], k * DT, W, H) for k in range(8, 11)]  # top gone
    out += [tr.update([blob(x(k) + 2, 100, x(k) + 10, 108), blob(x(k), 112, x(k) + 12, 140)], k * DT, W, H)
            for k in range(11, 17)]  # the head, apart from the body
    ids = {t.id for frame in out for _, t in frame}
    assert len(ids) == 1, ids
    for frame in out[12:]:
        (b, _), = frame
        assert b.box[1] == 100 and b.box[3] == 140, b.box  # the whole walker, head and body


def test_a_lost_track_never_revives_on_a_part_of_an_object_tracked_now():
    """A small object is lost (hidden, gone); a walker then passes where it should be, its head apart
    from its body for a moment: the head is the walker's part, not the small object come back."""
    tr = BlobTracker()
    out = [tr.update([blob(100 + k, 83, 110 + k, 93)], k * DT, W, H) for k in range(5)]  # 10 x 10, 5 px/s
    (_, small), = out[-1]
    x = lambda k: 124 - 4 * (k - 8)  # a walker, 12 x 40, 20 px/s to the left, from t = 1.6 s
    out = [tr.update([blob(x(k), 95, x(k) + 12, 135)], k * DT, W, H) for k in range(8, 12)]
    out += [tr.update([blob(x(k) + 2, 95, x(k) + 10, 103), blob(x(k), 107, x(k) + 12, 135)], k * DT, W, H)
            for k in range(12, 17)]  # the small object is lost by now (> max_gap_s), the head is near it
    ids = {t.id for frame in out for _, t in frame}
    assert small.id not in ids and len(ids) == 1, ids
    for frame in out[4:]:
        (b, _), = frame
        assert b.box[1] == 95 and b.box[3] == 135, b.box  # head and body, one box


def test_a_track_leaving_the_frame_is_not_revived_on_an_object_it_passed():
    """A car drives out through the frame's left side over a walker it hid until then (as in the
    simulator's street: one warm blob while they overlap). Once the car is gone, the walker is a new
    track, not the car's track come back: the car's event would otherwise go on as the walker's."""
    tr = BlobTracker()
    car = lambda k: (150 - 14 * k, 100, 210 - 14 * k, 130)  # 60 x 30, 70 px/s to the left; gone at k = 15
    walker = lambda k: (60 - 2 * k, 95, 74 - 2 * k, 139)  # 14 x 44, 10 px/s to the left, unseen until the car

    def seen(k):
        (cx1, _, cx2, _), (wx1, _, wx2, _) = car(k), walker(k)
        if cx2 <= 0:  # the car has gone
            return [blob(*walker(k))]
        if cx1 > wx2 + 8:  # not there yet (the walker is hidden in the background until then)
            return [blob(*car(k))]
        if cx2 < wx1 - 8:  # past it
            return [blob(max(cx1, 0), 100, cx2, 130), blob(*walker(k))]
        return [blob(max(min(cx1, wx1), 0), 95, max(cx2, wx2), 139)]  # one blob

    out = [tr.update(seen(k), k * DT, W, H) for k in range(15)]
    (_, car_track), = out[-1]
    after = [tr.update(seen(k), k * DT, W, H) for k in range(15, 23)]
    ids = {t.id for frame in after for _, t in frame}
    assert car_track.id not in ids, ids
    assert len(ids) == 1 and sum(map(len, after)) >= 4  # the walker: confirmed within a few frames
