"""Benchmark ROI statistics and alarms per frame, against the frame pipeline without them (same run).

    .venv/bin/python bench/roi.py [--frames 500] [--rois 10] [--size 640x512]

Frames come from the simulated camera (``SimSource.render``, people walking, FFC every 30 s). Rows:

  * ``pipeline (baseline)``: rendering the frame, what a camera costs with no ROI;
  * ``pipeline + ROIs + alarms``: the same plus ``MeasureService.process`` (the code the server runs
    per frame: ROI statistics, FFC guard, one alarm rule per ROI, the 1 Hz sample queue), and its
    difference to the baseline;
  * ``ROI statistics only`` for N boxes, polygons and lines (``RoiSet.measure``).

Prints mean and median CPU ms per frame (this thread's CPU time: other load on the machine does not
count). The goal is <= 0.3 ms per frame for 10 box ROIs.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from thermalstream.bus import EventBus  # noqa: E402
from thermalstream.measure import AlarmEngine, Roi, RoiSet, Rule  # noqa: E402
from thermalstream.measure.service import MeasureService, _Cam  # noqa: E402
from thermalstream.sources.sim import SimSource  # noqa: E402
from thermalstream.sources.url import parse_camera_url  # noqa: E402


def rois(kind: str, n: int) -> list[Roi]:
    out = []
    for i in range(n):
        x, y = 0.05 + 0.09 * (i % 10), 0.1 + 0.4 * (i // 10 % 2)
        pts = {"box": [[x, y], [x + 0.08, y + 0.3]], "line": [[x, y], [x + 0.08, y + 0.3]],
               "polygon": [[x, y], [x + 0.08, y], [x + 0.04, y + 0.3]]}[kind]
        out.append(Roi(i + 1, kind, pts, f"{kind} {i + 1}"))
    return out


def timed(fn, frames) -> list[float]:
    out = []
    for f in frames:
        t = time.thread_time_ns()
        fn(f)
        out.append((time.thread_time_ns() - t) / 1e6)
    return out


def row(name: str, ms: list[float], base: list[float] | None = None) -> None:
    mean, med = statistics.fmean(ms), statistics.median(ms)
    extra = (f"   (+{mean - statistics.fmean(base):.3f} mean, +{med - statistics.median(base):.3f} median "
             "over the baseline)") if base is not None else ""
    print(f"{name:<34} mean {mean:7.3f} ms   median {med:7.3f} ms{extra}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=500)
    ap.add_argument("--rois", type=int, default=10)
    ap.add_argument("--size", default="640x512")
    a = ap.parse_args()
    w, h = (int(v) for v in a.size.split("x"))
    src = SimSource(parse_camera_url(f"sim://?width={w}&height={h}&people=3&seed=1&pace=0"))
    src.open()
    src.render(0)
    idx = list(range(a.frames))
    svc = MeasureService(None, None, EventBus(), None, sample_hz=1.0)
    boxes = rois("box", a.rois)
    rules = [Rule(r.id, f"rule {r.id}", "above", roi=r.id, high=1000.0) for r in boxes]
    cam = _Cam(1, RoiSet(boxes), {r.id: r.name for r in boxes}, AlarmEngine(rules), {}, False)
    print(f"{a.frames} frames of {w}x{h}, {a.rois} ROIs; CPU time per frame")
    base, both = [], []
    for n in idx:  # interleaved, so that the other load on the machine hits both alike
        base += timed(src.render, [n])
        both += timed(lambda k: svc.process(cam, src.render(k)), [n])
    row("pipeline (baseline)", base)
    row(f"pipeline + {a.rois} box ROIs + alarms", both, base)
    frames = [src.render(n).measurement() for n in range(0, a.frames, max(1, a.frames // 50))]
    for kind in ("box", "polygon", "line"):
        rs = RoiSet(rois(kind, a.rois))
        row(f"{a.rois} {kind} ROI statistics only", timed(rs.measure, frames * 10))
    print(f"samples queued: {svc.writer.pending()} (1 Hz of frame time)")


if __name__ == "__main__":
    main()
