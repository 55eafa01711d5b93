"""Measurement core: ROI statistics against numpy, line profiles, alarm rules (hysteresis, minimum
duration, FFC) on scripted sequences."""

from __future__ import annotations

import numpy as np
import pytest

from thermalstream.frame import FFCState, Frame, Radiometry
from thermalstream.measure import AlarmEngine, FFCGuard, Roi, RoiError, RoiSet, Rule, RuleError, frame_stats, validate
from thermalstream.measure.geometry import RoiStats


def known_frame(h: int = 512, w: int = 640) -> np.ndarray:
    rng = np.random.default_rng(7)
    c = (20 + rng.normal(0, 0.5, (h, w))).astype(np.float32)
    c[100:120, 200:230] = 60.0  # a hot block
    c[110, 215] = 75.5  # its hottest pixel
    c[400, 50] = -5.0  # a cold pixel
    return c


def test_box_statistics_match_numpy():
    c = known_frame()
    # x 0.3..0.4 -> columns 192..255, y 0.18..0.25 -> rows 92..127 (512 rows)
    stats = RoiSet([Roi(1, "box", [[0.4, 0.25], [0.3, 0.18]])]).measure(c)[1]
    ref = c[92:128, 192:256]
    assert stats.min == pytest.approx(float(ref.min()))
    assert stats.max == pytest.approx(75.5)
    assert stats.mean == pytest.approx(float(ref.mean(dtype=np.float64)), rel=1e-6)
    assert stats.std == pytest.approx(float(ref.std(dtype=np.float64)), rel=1e-5)
    assert stats.hot == (215, 110)
    assert c[stats.cold[1], stats.cold[0]] == ref.min()


def test_spot_polygon_and_whole_frame():
    c = known_frame()
    rs = RoiSet([Roi("s", "spot", [[215.5 / 640, 110.5 / 512]]),
                 Roi("p", "polygon", [[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]])])
    out = rs.measure(c)
    assert out["s"].min == out["s"].max == pytest.approx(75.5) and out["s"].std == 0
    # the triangle above the diagonal: pixel centres with x/w + y/h < 1
    yy, xx = np.mgrid[0:512, 0:640]
    inside = (xx + 0.5) / 640 + (yy + 0.5) / 512 < 1
    ref = c[inside]
    assert out["p"].mean == pytest.approx(float(ref.mean(dtype=np.float64)), abs=0.01)
    assert out["p"].max == pytest.approx(75.5)  # (215, 110) is inside
    assert out["p"].min == pytest.approx(float(ref.min()), abs=1e-5)
    whole = frame_stats(c)
    assert (whole.min, whole.max, whole.hot, whole.cold) == (-5.0, 75.5, (215, 110), (50, 400))


def test_line_profile_follows_the_pixels():
    c = np.tile(np.arange(640, dtype=np.float32), (512, 1))  # value = column
    prof = RoiSet([Roi(1, "line", [[0.0, 0.5], [1.0, 0.5]])]).measure(c)[1]
    assert prof.profile is not None and len(prof.profile) == 640
    np.testing.assert_array_equal(prof.profile, np.arange(640, dtype=np.float32))
    diag = RoiSet([Roi(2, "line", [[0.0, 0.0], [1.0, 1.0]])]).measure(c)[2]
    assert len(diag.profile) == 640 and diag.profile[0] == 0 and diag.profile[-1] == 639
    assert np.all(np.diff(diag.profile) >= 0)
    assert diag.hot == (639, 511)


def test_masks_follow_the_frame_shape():
    rs = RoiSet([Roi(1, "box", [[0.0, 0.0], [0.5, 0.5]])])
    assert rs.measure(np.ones((100, 100), np.float32))[1].max == 1
    small = np.zeros((10, 20), np.float32)
    small[4, 9] = 3
    assert rs.measure(small)[1].hot == (9, 4)


@pytest.mark.parametrize("kind, points, words", [
    ("circle", [[0, 0]], "kind"), ("box", [[0.1, 0.1]], "needs 2"), ("box", [[0.1, 0.1], [0.1, 0.1]], "differ"),
    ("spot", [[1.5, 0.2]], "0 to 1"), ("polygon", [[0, 0], [1, 1]], "3 to"), ("line", [[0, "a"], [1, 1]], "two numbers"),
    ("spot", [[float("nan"), 0.2]], "0 to 1"),
])
def test_bad_rois_are_refused_with_a_reason(kind, points, words):
    with pytest.raises(RoiError, match=words):
        validate(kind, points)


def values(v: float, other: float | None = None) -> dict:
    out = {1: RoiStats(v, v, v, 0.0, (0, 0), (0, 0))}
    if other is not None:
        out[2] = RoiStats(other, other, other, 0.0, (0, 0), (0, 0))
    return out


def run(engine: AlarmEngine, seq, dt: float = 1.0, ffc_at=()):
    out = []
    for i, v in enumerate(seq):
        vals = values(*v) if isinstance(v, tuple) else values(v)
        for ch in engine.update(i * dt, vals, ffc=i in ffc_at):
            out.append((i, ch.state, round(ch.value, 3)))
    return out


def test_above_with_hysteresis_raises_once_and_clears_once():
    eng = AlarmEngine([Rule(1, "hot", "above", roi=1, high=50.0, hysteresis=2.0)])
    seq = [40, 49, 51, 49.5, 50.5, 48.5, 51, 47.9, 47, 52]
    assert run(eng, seq) == [(2, "raised", 51.0), (7, "cleared", 47.9), (9, "raised", 52.0)]


def test_minimum_duration_ignores_short_peaks():
    eng = AlarmEngine([Rule(1, "hot", "above", roi=1, high=50.0, hysteresis=0.0, min_duration_s=3.0)])
    seq = [51, 52, 40, 51, 51, 51, 51, 40]
    assert run(eng, seq) == [(6, "raised", 51.0), (7, "cleared", 40.0)]


def test_below_outside_and_difference():
    below = AlarmEngine([Rule(1, "cold", "below", roi=1, low=5.0, hysteresis=1.0)])
    assert run(below, [10, 4, 5.5, 6.5]) == [(1, "raised", 4.0), (3, "cleared", 6.5)]
    band = AlarmEngine([Rule(1, "band", "outside", roi=1, low=10.0, high=20.0, hysteresis=1.0)])
    assert run(band, [15, 21, 19.5, 18.5, 9, 12]) == [(1, "raised", 21.0), (3, "cleared", 18.5),
                                                      (4, "raised", 9.0), (5, "cleared", 12.0)]
    diff = AlarmEngine([Rule(1, "bearing", "difference", roi=1, other=2, high=5.0, hysteresis=1.0)])
    assert run(diff, [(30, 28), (36, 30), (34.5, 30), (33, 30)]) == [(1, "raised", 6.0), (3, "cleared", 3.0)]


def test_rate_of_rise_per_minute():
    eng = AlarmEngine([Rule(1, "heating", "rise", roi=1, high=6.0, hysteresis=1.0)], rate_window_s=10)
    steady = [20.0] * 12
    rising = [20 + 0.2 * k for k in range(1, 16)]  # 0.2 per s = 12 per minute
    flat = [rising[-1]] * 15
    changes = [ch for i, v in enumerate(steady + rising + flat) for ch in eng.update(float(i), values(v))]
    assert [ch.state for ch in changes] == ["raised", "cleared"]
    assert changes[0].value > 6.0 and changes[1].value < 5.0
    assert changes[1].peak == pytest.approx(12.0, abs=0.01)  # the slope at its steepest


def test_ffc_raises_nothing_and_holds_state():
    eng = AlarmEngine([Rule(1, "hot", "above", roi=1, high=50.0, hysteresis=0.0, min_duration_s=2.0)])
    # a spike during the FFC (frames 2-4) and frames right after it would have raised without the guard
    seq = [40, 40, 60, 60, 60, 41, 40]
    assert run(eng, seq, ffc_at={2, 3, 4}) == []
    assert run(AlarmEngine([Rule(1, "hot", "above", roi=1, high=50.0, min_duration_s=2.0)]), seq) == [(4, "raised", 60.0),
                                                                                             (5, "cleared", 41.0)]


def frame_at(t: float, level: float, ffc: FFCState = FFCState.IDLE) -> tuple[Frame, np.ndarray]:
    c = np.full((64, 80), level, np.float32)
    return Frame(np.zeros((64, 80), np.uint8), timestamp=t, celsius=c, radiometry=Radiometry(ffc_state=ffc)), c


def test_ffc_guard_sees_the_shutter_and_level_jumps_and_holds():
    g = FFCGuard(hold_s=1.0, jump=0.5)
    assert g(*frame_at(0.0, 20.0)) is False
    assert g(*frame_at(0.1, 20.1)) is False  # a small change is no jump
    assert g(*frame_at(0.2, 20.1, FFCState.IN_PROGRESS)) is True
    assert g(*frame_at(1.1, 20.1, FFCState.DONE)) is True  # within the hold
    assert g(*frame_at(1.3, 20.1, FFCState.DONE)) is False
    assert g(*frame_at(1.4, 21.0, FFCState.DONE)) is True  # whole-frame level jump of 0.9
    assert g(*frame_at(2.5, 21.0)) is False
    assert g.events == 2


@pytest.mark.parametrize("rule, words", [
    (Rule(1, "x", "above", roi=1), "needs 'high'"), (Rule(1, "x", "outside", roi=1, low=5, high=1), "below"),
    (Rule(1, "x", "difference", roi=1, other=1, high=1), "two different"), (Rule(1, "x", "boil", high=1), "kind"),
    (Rule(1, "x", "above", high=1, hysteresis=-1), "hysteresis"),
])
def test_bad_rules_are_refused(rule, words):
    with pytest.raises(RuleError, match=words):
        rule.check()
