"""Benchmark per-camera radiometry: CPU per frame of each conversion, with its baseline in the same run.

    .venv/bin/python bench/radiometry.py [--repeat 30]

Prints the best-of-``repeat`` wall time per frame (ms) of:
  1. the emissivity/reflected correction of a linear °C source (sim, Lepton, TC001), 640x512
     and 160x120: the grid-and-interpolate path used on large frames against the exact
     per-pixel formula (the baseline), and the largest difference between them (°C);
  2. re-converting a real FLIR frame (flirpy's frame_000000.fff, 640x512) with user object
     parameters (Planck + atmosphere), against the plain conversion the source already does;
  3. a user calibration of Lepton 3 counts (160x120).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tests.samples import flirpy_samples  # noqa: E402
from thermalstream.frame import Frame, Radiometry  # noqa: E402
from thermalstream.radiometry import (  # noqa: E402
    DEFAULT_ATMOSPHERE,
    LWIR_B,
    Calibration,
    RadiometrySettings,
    _correct,
    apply,
    correct_linear,
)
from thermalstream.sources.flir import FlirSeqSource  # noqa: E402
from thermalstream.sources.planck import PlanckParams, atmospheric_transmission, raw_to_celsius  # noqa: E402
from thermalstream.sources.url import parse_camera_url  # noqa: E402


def best_ms(fn, repeat: int) -> float:
    fn()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times) * 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=30)
    a = ap.parse_args()
    rng = np.random.default_rng(0)
    kw = {"emissivity": 0.9, "reflected_c": 15.0, "distance_m": 10.0}
    print("linear °C source, emissivity 0.9, reflected 15 °C, 10 m")
    for h, w in ((512, 640), (120, 160)):
        c = rng.uniform(-10, 60, (h, w)).astype(np.float32)
        tau = atmospheric_transmission(PlanckParams(1, 1, LWIR_B, 1, 0, atmosphere=DEFAULT_ATMOSPHERE), 10.0)
        exact = _correct(c, 0.9, 15.0, 20.0, tau)
        diff = float(np.abs(correct_linear(c, **kw) - exact).max())
        base = best_ms(lambda c=c: _correct(c, 0.9, 15.0, 20.0, tau), a.repeat)
        ours = best_ms(lambda c=c: correct_linear(c, **kw), a.repeat)
        print(f"  {w}x{h}: product {ours:.2f} ms/frame, baseline exact formula {base:.2f} ms/frame, "
              f"max difference {diff:.2e} °C")
    src = FlirSeqSource(parse_camera_url(str(flirpy_samples()["frame_000000.fff"])))
    src.open()
    f = src.read()
    src.close()
    s = RadiometrySettings(emissivity=0.8, reflected_c=30.0, humidity=0.6)
    plain = best_ms(lambda: raw_to_celsius(f.raw, f.radiometry.law), a.repeat)
    user = best_ms(lambda: apply(f, s), a.repeat)
    print(f"FLIR 640x512 with user object parameters: {user:.2f} ms/frame "
          f"(baseline: the file's own conversion {plain:.2f} ms/frame)")
    raw = rng.integers(2000, 3000, (120, 160)).astype(np.uint16)
    counts = Frame(image=np.zeros((120, 160), np.uint8), raw=raw, radiometry=Radiometry(calibrated=False))
    cal = RadiometrySettings(calibration=Calibration(a=0.04, b=-70.0))
    print(f"Lepton 3 counts 160x120 with a user calibration: {best_ms(lambda: apply(counts, cal), a.repeat):.3f} ms/frame")


if __name__ == "__main__":
    main()
