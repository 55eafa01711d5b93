"""The weightless detector on many simulated street scenes, not only the default one.

    .venv/bin/python bench/sim_scenes.py [--seeds 0-29] [--jobs 2] [--no-baseline]

``sim://?seed=N`` draws another street for each N (where the building stands, how many walkers
and where they walk, the car's and dog's paths and speeds), with the same 60 s, 640x512, FFC every
30 s. Each scene goes through the real detection service (tests/sim_scoring.py: detect rate 5 fps,
the detector's tracker, events, a SQLite database) and is scored against the simulator's actor
placements:

* ``ok``: appearances (an actor's visit of 2 s or more) with exactly one event; ``missed``: with
  none; ``split``: with more than one;
* ``false rows``: stored detections whose box overlaps no actor (a static structure or a ghost of
  the background); ``stray``: events that are no appearance of their actor.

Baseline in the same run: ``HotspotDetector(heal_s=1e9)``, the detector whose background never
heals a cold imprint (and, since "unchanged for ``heal_s``" never holds, never learns a pixel
that is off its background at the full rate). The tests check the default scene (seed 0,
tests/test_hotspot_sim.py) and seeds 1-8 in aggregate; this shows whether a change helps scenes
it was not tuned on. It asserts nothing.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

NEVER = 1e9
DETECTORS = {"default": {}, "no healing (baseline)": {"heal_s": NEVER}}


def one(job: tuple[str, int]) -> tuple[str, int, dict]:
    """Score one scene with one detector set-up, in a fresh SQLite database."""
    from tests.sim_scoring import score_scene
    from thermalstream.detect.hotspot import HotspotDetector

    name, seed = job
    with tempfile.TemporaryDirectory() as tmp:
        s = score_scene(f"sim://?pace=0&seed={seed}", Path(tmp), HotspotDetector(**DETECTORS[name]))
    return name, seed, {"checked": len(s.per_visit), "ok": s.ok, "missed": s.missed, "split": s.split,
                        "false": len(s.false_rows), "rows": s.rows, "stray": len(s.stray)}


def seeds_of(text: str) -> list[int]:
    out = []
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        out += list(range(int(lo), int(hi or lo) + 1))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", default="0-29", help="scenes, e.g. 0-29 or 0,3,7 (default 0-29)")
    ap.add_argument("--jobs", type=int, default=2, help="processes (default 2)")
    ap.add_argument("--no-baseline", action="store_true", help="only the default detector")
    args = ap.parse_args()
    names = ["default"] if args.no_baseline else list(DETECTORS)
    jobs = [(n, s) for s in seeds_of(args.seeds) for n in names]
    results: dict[str, dict[int, dict]] = {n: {} for n in names}
    t0 = time.perf_counter()
    with ProcessPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        for k, (name, seed, r) in enumerate(pool.map(one, jobs), 1):
            results[name][seed] = r
            print(f"[{k}/{len(jobs)} {time.perf_counter() - t0:5.0f} s] seed {seed:3d} {name:<22} "
                  f"ok {r['ok']:2d}/{r['checked']:2d}  missed {r['missed']:2d}  split {r['split']:2d}  "
                  f"false rows {r['false']:3d}/{r['rows']:3d}  stray {r['stray']}", flush=True)
    print(f"\n{'detector':<22} {'scenes':>6} {'ok':>15} {'missed':>6} {'split':>6} {'false rows':>17} "
          f"{'stray events':>12} {'scenes w/o false':>17}")
    for name in names:
        rs = list(results[name].values())
        tot = {key: sum(r[key] for r in rs) for key in rs[0]}
        clean = sum(1 for r in rs if r["false"] == 0)
        print(f"{name:<22} {len(rs):>6} {tot['ok']:>5}/{tot['checked']:<4} {tot['ok'] / tot['checked']:>4.0%} "
              f"{tot['missed']:>6} {tot['split']:>6} {tot['false']:>6}/{tot['rows']:<5} "
              f"{tot['false'] / max(tot['rows'], 1):>4.1%} {tot['stray']:>12} {clean:>14}/{len(rs)}")


if __name__ == "__main__":
    main()
