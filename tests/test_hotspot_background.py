"""Unit tests of the weightless detector's background on synthetic frames: cold imprints heal, an
FFC does not take an untracked object into the background, passing traffic is not learnt, and an
object that stops still fades in. Whole-scene effects are measured on the simulator's scenes
(bench/sim_scenes.py) and on real clips (test_hotspot_real.py)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.test_hotspot_units import FPS, run, scene
from thermalstream.detect.hotspot import HotspotDetector
from thermalstream.frame import FFCState, Frame

NEVER = 1e9  # a heal_s or rebase_k that switches the rule off


def off_by(det: HotspotDetector, frame: Frame, rows: slice, cols: slice) -> float:
    """Largest |frame - background| in a region, in cutoffs (the work grid is the frame here)."""
    st = det.state_of()
    return float(np.abs(frame.celsius[rows, cols] - st.bg[rows, cols]).max()) / (det.k * st.sigma)


def healed_share(det: HotspotDetector, frame: Frame, rows: slice, cols: slice) -> float:
    """Share of a region's pixels within one cutoff of their background."""
    st = det.state_of()
    return float((np.abs(frame.celsius[rows, cols] - st.bg[rows, cols]) < det.k * st.sigma).mean())


def warmed(f: Frame, *regions: tuple[slice, slice], by: float) -> Frame:
    """The frame with objects ``by`` °C off the scene over some regions (negative: a car's cold
    body reflecting the sky)."""
    c = f.celsius.copy()
    for rows, cols in regions:
        c[rows, cols] += by
    return Frame(image=f.image, seq=f.seq, timestamp=f.timestamp, celsius=c, radiometry=f.radiometry)


def test_the_cold_imprint_of_an_object_that_stood_at_the_start_heals():
    """An object standing in view during the first second is in the background (the warmest values
    seen). Once it walks off, its spot reads colder than that background but does not change: the
    background there heals about ``heal_s`` later (a pixel whose noise jumps by more than 3 standard
    deviations waits longer). Without the rule it stays wrong for many seconds (and then learns
    everything that passes it)."""
    def frames():
        out = [scene(i, counts=False, blob_x=20) for i in range(12)]  # 1.3 s standing at x=20
        return out + [scene(12 + i, counts=False, blob_x=23 + 3 * i) for i in range(40)]  # walks off

    spot = (slice(60, 68), slice(20, 28))
    healed, kept = HotspotDetector(), HotspotDetector(heal_s=NEVER)
    fs = frames()
    for f in fs:
        healed.detect_one(f)
        kept.detect_one(f)
    # the object left the spot at frame ~15 (1.7 s); 36 frames (4 s) later
    assert healed_share(healed, fs[-1], *spot) >= 0.9
    assert healed_share(kept, fs[-1], *spot) == 0.0  # the old rule: still a 3 °C imprint


def test_an_ffc_does_not_take_an_untracked_object_into_the_background():
    """The first frame after an FFC re-takes the background, since every pixel's offset changed a
    little, but not where a pixel is farther off than that: an object no track holds yet (a car's
    cold body coming in during the FFC) would stay in the background as a ghost once it moved on.
    The old rule re-took every pixel outside tracked objects."""
    rows, cols = slice(30, 50), slice(60, 100)
    det = HotspotDetector()
    run(det, [scene(i, counts=False) for i in range(20)])
    run(det, [scene(20 + i, counts=False, ffc=FFCState.IN_PROGRESS) for i in range(3)])
    after = [warmed(scene(23 + i, counts=False, pattern=0.1, ffc=FFCState.DONE), (rows, cols), by=-3.0)
             for i in range(6)]  # through the hold after the FFC (0.4 s) and the frame after it
    assert run(det, after)[:4] == [[]] * 4 and det.state_of().ffc_frames >= 4
    empty = scene(29, counts=False, pattern=0.1, ffc=FFCState.DONE)
    assert healed_share(det, empty, rows, cols) >= 0.95  # the cold body is not background
    assert healed_share(det, empty, slice(80, 120), slice(0, 160)) >= 0.95  # the FFC's new offsets are


def test_passing_traffic_is_not_learnt_even_where_it_passes_most_of_the_time():
    """Warm objects 8 px long, 4 px apart, pass a row without end: every pixel there is covered two
    thirds of the time but never still. The background of that row stays the scene's."""
    det = HotspotDetector()
    run(det, [scene(i, counts=False) for i in range(20)])
    frames = [warmed(scene(20 + i, counts=False), *((slice(90, 96), slice(max(x0, 0), max(x0 + 8, 0)))
                                                     for x0 in range((3 * i) % 12 - 12, 160, 12)), by=3.0)
              for i in range(int(20 * FPS))]  # 20 s of traffic, 3 px per frame
    run(det, frames)
    assert off_by(det, scene(20 + len(frames), counts=False), slice(90, 96), slice(0, 160)) < 1.0


def test_an_object_that_stops_is_found_while_it_moves_then_fades_into_the_background():
    det = HotspotDetector()
    frames = [scene(i, counts=False) for i in range(20)]
    frames += [scene(20 + i, counts=False, blob_x=10 + 3 * i) for i in range(20)]  # walks in
    frames += [scene(40 + i, counts=False, blob_x=67) for i in range(int(30 * FPS))]  # stands 30 s
    out = run(det, frames)
    assert sum(1 for dets in out[24:40] if dets) >= 12
    assert out[-1] == []
    assert off_by(det, frames[-1], slice(60, 68), slice(67, 75)) < 1.0  # it is background now


def test_background_settings_are_checked():
    for kw in ({"heal_s": 0}, {"heal_tau_s": -1.0}, {"rebase_k": 0}, {"heal_s": float("nan")}):
        with pytest.raises(ValueError, match=next(iter(kw))):
            HotspotDetector(**kw)
