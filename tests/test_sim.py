"""The simulated thermal camera (sim://)."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from thermalstream.frame import FFCState
from thermalstream.sources import SourceClosed, SourceError, make_source
from thermalstream.sources.sim import DISPLAY_HI, DISPLAY_LO, SimSource


def sim(query: str = "") -> SimSource:
    src = SimSource(f"sim://?pace=0&{query}" if query else "sim://?pace=0")
    src.open()
    return src


def test_make_source_builds_sim():
    src = make_source("sim://?people=2&seed=3")
    assert isinstance(src, SimSource)
    info = src.open()
    assert (info.kind, info.width, info.height, info.fps, info.radiometric) == ("sim", 640, 512, 25.0, True)
    src.close()


def test_frame_layout_and_radiometry():
    src = sim("seed=1")
    f = src.render(7)
    assert f.image.shape == (512, 640) and f.image.dtype == np.uint8
    assert f.celsius.shape == (512, 640) and f.celsius.dtype == np.float32
    assert f.raw.shape == (512, 640) and f.raw.dtype == np.uint16
    r = f.radiometry
    assert r.calibrated and r.sensor == "sim"
    assert r.unit_scale == 0.01 and r.unit_offset == -273.15
    # raw is Kelvin x 100 of the same temperatures
    back = f.raw.astype(np.float32) * r.unit_scale + r.unit_offset
    assert np.abs(back - f.celsius).max() < 0.011
    # the display image uses a fixed span
    lo, hi = DISPLAY_LO, DISPLAY_HI
    expect = np.clip((f.celsius - lo) * (255.0 / (hi - lo)), 0, 255)
    assert np.abs(expect - f.image.astype(np.float32)).max() <= 1.0
    assert f.seq == 7


def test_deterministic_from_seed():
    a, b, c = sim("seed=5"), sim("seed=5"), sim("seed=6")
    for n in (0, 1, 123, 4000):
        fa, fb = a.render(n), b.render(n)
        assert np.array_equal(fa.celsius, fb.celsius)
        assert np.array_equal(fa.raw, fb.raw)
        assert a.objects(n) == b.objects(n)
    assert not np.array_equal(a.render(10).celsius, c.render(10).celsius)
    # order of rendering does not matter: frame N depends on N only
    x = a.render(321).celsius.copy()
    a.render(5)
    a.render(9999)
    assert np.array_equal(a.render(321).celsius, x)
    # consecutive frames differ (noise and motion)
    assert not np.array_equal(a.render(11).celsius, a.render(12).celsius)


def test_read_unpaced_matches_render():
    a = sim("seed=2")
    b = SimSource("sim://?pace=0&seed=2")
    frames = [a.read() for _ in range(3)]
    assert [f.seq for f in frames] == [0, 1, 2]
    for f in frames:
        assert np.array_equal(f.celsius, b.render(f.seq).celsius)


def test_temperatures_plausible():
    src = sim("seed=1&people=3&vehicle=1&animal=1")
    for n in (0, 40, 300):
        f = src.render(n)
        c = f.celsius
        assert -20 < float(c.min()) and float(c.max()) < 80
        ground = float(np.median(c[int(0.75 * 512):, :]))
        assert 8 < ground < 22
        sky = float(np.median(c[:40, :]))
        assert sky < ground
        for label, x1, y1, x2, y2 in src.objects(n):
            patch = c[y1:y2, x1:x2]
            if label in ("person", "dog"):
                # warm bodies stand out from the background
                assert float(patch.max()) > ground + 8, (label, float(patch.max()), ground)
                assert 27 < float(patch.max()) < 40
            if label == "car":
                assert float(patch.max()) > 35  # engine / exhaust


def test_params_reflected():
    src = sim("width=320&height=240&fps=9&people=5&vehicle=0&animal=0&seed=4")
    assert (src.info.width, src.info.height, src.info.fps) == (320, 240, 9.0)
    f = src.render(0)
    assert f.celsius.shape == (240, 320)
    labels = [o[0] for o in src.objects(0)]
    assert set(labels) <= {"person"}
    # people wrap around the frame; over a few minutes each shows up
    counts = [len(src.objects(n)) for n in range(0, 9 * 300, 9)]
    assert max(counts) >= 3
    assert all(c <= 5 for c in counts)
    for n in range(0, 200, 20):
        for _, x1, y1, x2, y2 in src.objects(n):
            assert 0 <= x1 < x2 <= 320 and 0 <= y1 < y2 <= 240

    full = sim("people=2&vehicle=1&animal=1&seed=3")
    seen = set()
    for n in range(0, 25 * 120, 25):
        seen.update(o[0] for o in full.objects(n))
    assert seen == {"person", "car", "dog"}

    empty = sim("people=0&vehicle=0&animal=0")
    assert all(empty.objects(n) == [] for n in range(0, 500, 50))


def test_ffc_jump_and_state():
    fps = 10
    src = sim(f"people=0&vehicle=0&animal=0&fps={fps}&ffc=5&seed=8&noise=0.05")
    every = 5 * fps
    states = [src.render(n).radiometry.ffc_state for n in range(0, 3 * every + 10)]
    assert states[0] == FFCState.IDLE
    assert FFCState.IMMINENT in states
    ip = [n for n, s in enumerate(states) if s == FFCState.IN_PROGRESS]
    assert ip and ip[0] == every  # first FFC after 5 s of sim time
    assert states[ip[-1] + 1] == FFCState.DONE
    # the picture is frozen during the FFC
    before = src.render(every - 1).celsius
    assert np.array_equal(src.render(every).celsius, before)
    # and the level jumps afterwards
    after_n = max(n for n in ip if n < 2 * every) + 1
    jump = float(np.median(src.render(after_n).celsius - before))
    assert 0.2 <= abs(jump) <= 1.2, jump
    # no jump between ordinary consecutive frames
    drift = float(np.median(src.render(20).celsius - src.render(19).celsius))
    assert abs(drift) < 0.05


def test_no_ffc_when_disabled():
    src = sim("ffc=0&fps=100")
    assert {src.render(n).radiometry.ffc_state for n in range(0, 20000, 997)} == {FFCState.IDLE}


def test_pacing_roughly_respected():
    src = SimSource("sim://?fps=50&people=1")
    src.open()
    t0 = time.monotonic()
    frames = [src.read() for _ in range(10)]
    elapsed = time.monotonic() - t0
    assert elapsed >= 0.15
    seqs = [f.seq for f in frames]
    assert seqs == sorted(seqs) and len(set(seqs)) == 10
    ts = [f.timestamp for f in frames]
    assert ts == sorted(ts)
    assert abs(ts[0] - time.time()) < 5
    src.close()


def test_paced_skips_ahead_when_behind():
    src = SimSource("sim://?fps=50")
    src.open()
    src.read()
    time.sleep(0.3)  # a slow consumer
    t0 = time.monotonic()
    f = src.read()
    assert time.monotonic() - t0 < 0.1  # no waiting ...
    assert f.seq >= 10  # ... and no burst of stale frames: it jumped ahead
    g = src.read()
    assert g.seq == f.seq + 1
    src.close()


def test_close_wakes_reader_and_read_after_close():
    src = SimSource("sim://?fps=0.5")
    src.open()
    src.read()  # frame 0 is due immediately
    errors = []

    def reader():
        try:
            src.read()
        except SourceClosed as exc:
            errors.append(exc)

    t = threading.Thread(target=reader)
    t.start()
    time.sleep(0.1)
    src.close()
    t.join(2)
    assert not t.is_alive() and errors
    with pytest.raises(SourceClosed):
        src.read()


@pytest.mark.parametrize(
    "query, words",
    [
        ("width=abc", ["width", "abc"]),
        ("people=-1", ["people", "-1"]),
        ("fps=0", ["fps"]),
        ("noise=nan", ["noise"]),
        ("height=10", ["height", "range"]),
        ("pace=maybe", ["pace"]),
        ("peple=3", ["unknown", "peple"]),
    ],
)
def test_bad_params(query, words):
    with pytest.raises(SourceError) as info:
        SimSource(f"sim://?{query}")
    msg = str(info.value)
    for w in words:
        assert w in msg


def test_render_is_cheap():
    src = sim("seed=1")
    src.render(0)
    t0 = time.process_time()
    for n in range(50):
        src.render(n)
    per_frame = (time.process_time() - t0) / 50
    assert per_frame < 0.02  # ~0.3 ms normally; generous for a loaded CI machine
