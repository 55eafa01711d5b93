"""Benchmark the simulated camera: CPU per frame and many paced cameras at once.

    .venv/bin/python bench/sim.py [--cameras 16] [--seconds 10] [--fps 25] [--size 640x512]

Prints
  1. CPU time (time.process_time, all threads) per SimSource.render() frame, against a naive
     renderer (fresh np.random.normal noise per frame + a full-frame float pipeline with
     palettes.to_grey) as baseline;
  2. N paced sims, each read() in its own thread for the given time: achieved fps per camera
     and the process CPU % (100 % = one core), again against the naive renderer paced the
     same way.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import threading
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from thermalstream.frame import Frame, Radiometry  # noqa: E402
from thermalstream.palettes import to_grey  # noqa: E402
from thermalstream.sources.sim import SimSource  # noqa: E402


class NaiveSim:
    """What a straightforward simulator would do per frame (the baseline)."""

    def __init__(self, width: int, height: int, fps: float, seed: int = 0):
        self.w, self.h, self.fps = width, height, fps
        self.rng = np.random.default_rng(seed)
        ys = np.linspace(0, 1, height)[:, None]
        self.bg = 12.0 + 5.0 * ys + np.zeros((1, width))  # float64, like most quick code
        self._next = 0
        self._t0 = time.monotonic()

    def render(self, index: int) -> Frame:
        c = self.bg + self.rng.normal(0, 0.05, (self.h, self.w)) + 0.01 * (index % 7)
        c = c.astype(np.float32)
        raw = np.round((c + 273.15) * 100).astype(np.uint16)
        return Frame(image=to_grey(c, 5.0, 40.0), seq=index, celsius=c, raw=raw,
                     radiometry=Radiometry(sensor="naive"))

    def read(self) -> Frame:
        period = 1.0 / self.fps
        n = self._next
        due = self._t0 + n * period
        now = time.monotonic()
        if now < due:
            time.sleep(due - now)
        elif now - due >= period:
            n = int((now - self._t0) * self.fps)
        self._next = n + 1
        return self.render(n)


def cpu_seconds() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def per_frame_cpu(render, frames: int) -> float:
    render(0)
    t0 = time.process_time()
    for n in range(frames):
        render(n)
    return (time.process_time() - t0) / frames * 1e3


def run_paced(make, cameras: int, seconds: float) -> tuple[list[float], float]:
    sources = [make(i) for i in range(cameras)]
    counts = [0] * cameras
    stop = threading.Event()

    def worker(i: int) -> None:
        src = sources[i]
        while not stop.is_set():
            src.read()
            counts[i] += 1

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(cameras)]
    c0, w0 = cpu_seconds(), time.monotonic()
    for t in threads:
        t.start()
    time.sleep(seconds)
    stop.set()
    for t in threads:
        t.join(5)
    wall = time.monotonic() - w0
    cpu = cpu_seconds() - c0
    for s in sources:
        if hasattr(s, "close"):
            s.close()
    return [c / wall for c in counts], 100.0 * cpu / wall


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cameras", type=int, default=16)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--fps", type=float, default=25.0)
    ap.add_argument("--size", default="640x512")
    ap.add_argument("--frames", type=int, default=500, help="frames for the per-frame CPU figure")
    ap.add_argument("--skip-baseline", action="store_true")
    a = ap.parse_args(argv)
    w, h = (int(v) for v in a.size.lower().split("x"))
    url = f"sim://?width={w}&height={h}&fps={a.fps:g}&people=3&vehicle=1&animal=1"
    print(f"cores: {os.cpu_count()}  size: {w}x{h}  fps: {a.fps:g}  cameras: {a.cameras}")

    t0 = time.perf_counter()
    sim = SimSource(url + "&pace=0")
    sim.open()
    print(f"SimSource.open() (precompute): {1e3 * (time.perf_counter() - t0):.0f} ms")
    ms = per_frame_cpu(sim.render, a.frames)
    print(f"SimSource.render      CPU per frame: {ms:.3f} ms")
    if not a.skip_baseline:
        naive = NaiveSim(w, h, a.fps)
        ms_naive = per_frame_cpu(naive.render, max(a.frames // 5, 20))
        print(f"naive render baseline CPU per frame: {ms_naive:.3f} ms  ({ms_naive / ms:.1f}x)")

    fps, cpu = run_paced(lambda i: _open(SimSource(url + f"&seed={i}")), a.cameras, a.seconds)
    print(
        f"{a.cameras} paced SimSources, {a.seconds:g} s: fps per camera min {min(fps):.1f} "
        f"mean {np.mean(fps):.1f} max {max(fps):.1f}; process CPU {cpu:.1f} % of one core "
        f"({cpu / (os.cpu_count() or 1):.1f} % of the machine)"
    )
    print("  per camera fps: " + " ".join(f"{f:.1f}" for f in fps))
    if not a.skip_baseline:
        fps, cpu = run_paced(lambda i: NaiveSim(w, h, a.fps, seed=i), a.cameras, a.seconds)
        print(
            f"{a.cameras} paced naive sims,  {a.seconds:g} s: fps per camera min {min(fps):.1f} "
            f"mean {np.mean(fps):.1f} max {max(fps):.1f}; process CPU {cpu:.1f} % of one core "
            f"({cpu / (os.cpu_count() or 1):.1f} % of the machine)"
        )


def _open(src: SimSource) -> SimSource:
    src.open()
    return src


if __name__ == "__main__":
    main()
