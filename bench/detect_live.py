"""Parts 3 and 4 of bench/detect.py: the motion gate (detector calls per second) and live fps with
detection on, through the real Runtime and a server process. Run them with ``bench/detect.py``
(``--skip-gate`` / ``--skip-live`` leave them out); its ``main`` also runs the child processes."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from thermalstream.config import Settings

BENCH_CACHE = ROOT / "data" / "cache" / "bench-detect"  # git-ignored; exports are cached next to the .pt


def scene_urls(n: int, width: int, height: int, fps: float) -> list[str]:
    """Camera 0: one walker; the others: static scenes (no people, cars or dogs; noise and FFC stay)."""
    common = f"width={width}&height={height}&fps={fps:g}"
    return [f"sim://?people=1&vehicle=0&animal=0&seed=10&{common}"] + [
        f"sim://?people=0&vehicle=0&animal=0&seed={20 + i}&{common}" for i in range(1, n)
    ]


def fall_model() -> Path:
    """The real fall checkpoint copied to a persistent bench folder (so exports are reused between runs)."""
    from tests.weights import fall_weights

    dest = BENCH_CACHE / "fall.pt"
    src = fall_weights()
    if not dest.exists() or dest.stat().st_size != src.stat().st_size:
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(src.read_bytes())
    return dest


def detect_settings(data_dir: Path, detector: str, backend: str, **kw) -> Settings:
    extra = {"model": fall_model(), "detect_backend": backend} if detector == "yolo" else {}
    return Settings(data_dir=data_dir, default_camera="", detector=detector, admin_password="bench-password-123",
                    bcrypt_rounds=4, **extra, **kw)  # fmt: skip


def wait_detector(runtime, timeout: float = 600) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        h = runtime.detection.health()
        if h["status"] in ("ready", "error", "unavailable"):
            return h
        time.sleep(0.2)
    raise TimeoutError("detector still loading")


def _slot_counts(runtime, ids: list[int]) -> dict[int, dict]:
    out = {}
    for cid in ids:
        s = runtime.detection.worker.slot(cid)
        out[cid] = {"sampled": s.sampled, "gated": s.gated, "replaced": s.replaced, "detected": s.detected} if s else {}
    return out


def gate_bench(n: int, seconds: float, warmup: float, size: str, fps: float, backend: str, work: Path) -> dict:
    """Detector calls/s across ``n`` sims (1 walker, n-1 static) through the real Runtime ->
    DetectionService -> DetectorWorker -> YOLO, motion gate on, then the same cameras with bypass_gate."""
    import psutil

    from thermalstream.runtime import Runtime

    width, height = (int(v) for v in size.split("x"))
    runtime = Runtime.create(detect_settings(work / "gate", "yolo", backend)).start()
    me = psutil.Process()
    try:
        ids = [runtime.cameras.connect(u, f"sim {i}")["id"] for i, u in enumerate(scene_urls(n, width, height, fps))]
        h = wait_detector(runtime)
        if h["status"] != "ready":
            raise SystemExit(f"detector not ready: {h}")
        print(f"\n== Motion gate: detector calls/s, {n} sims {size} at {fps:g} fps (camera 0: one walker, "
              f"{n - 1} static), detect 5 fps per camera; real Runtime/DetectionService/DetectorWorker; "
              f"detector: fall YOLOv8s (real weights) on {h['backend']} ({h['model']}); {seconds:g} s each "
              f"after {warmup:g} s warm-up")  # fmt: skip
        for cid in ids:
            runtime.detection.configure(cid, enabled=True, fps=5, bypass_gate=False)
        rows = {}
        for mode, bypass in (("gate on", False), ("gate off (bypass_gate)", True)):
            for cid in ids:
                runtime.detection.configure(cid, bypass_gate=bypass)
            time.sleep(warmup)
            w0, s0, c0 = dict(runtime.detection.worker.stats()), _slot_counts(runtime, ids), me.cpu_times()
            psutil.cpu_percent()
            t0 = time.perf_counter()
            time.sleep(seconds)
            dt = time.perf_counter() - t0
            w1, s1, c1 = dict(runtime.detection.worker.stats()), _slot_counts(runtime, ids), me.cpu_times()
            host = psutil.cpu_percent()

            def d(cid, k, s0=s0, s1=s1):
                return s1[cid][k] - s0[cid][k]

            sampled = sum(d(c, "sampled") for c in ids)
            gated = sum(d(c, "gated") for c in ids)
            rows[mode] = {
                "calls": (w1["calls"] - w0["calls"]) / dt,
                "frames": (w1["frames"] - w0["frames"]) / dt,
                "sampled": sampled / dt,
                "passed": (sampled - gated) / dt,
                "walker": d(ids[0], "detected") / dt,
                "static": sum(d(c, "detected") for c in ids[1:]) / dt,
                "cpu": 100 * ((c1.user + c1.system) - (c0.user + c0.system)) / dt,
                "host": host,
            }
        print(f"{'mode':<24} {'calls/s':>8} {'frames/s':>9} {'sampled/s':>9} {'passed gate/s':>13} "
              f"{'walker cam/s':>12} {'static cams/s':>13} {'proc CPU%':>9} {'host%':>6}")  # fmt: skip
        for mode, r in rows.items():
            print(f"{mode:<24} {r['calls']:8.1f} {r['frames']:9.1f} {r['sampled']:9.1f} {r['passed']:13.1f} "
                  f"{r['walker']:12.1f} {r['static']:13.1f} {r['cpu']:9.0f} {r['host']:6.0f}")  # fmt: skip
        on, off = rows["gate on"], rows["gate off (bypass_gate)"]
        red = off["calls"] / on["calls"] if on["calls"] else float("inf")
        red_passed = off["passed"] / on["passed"] if on["passed"] else float("inf")
        print(f"reduction by the gate: {red:.1f}x fewer detector calls ({red_passed:.1f}x fewer frames wanted by "
              f"the detector); target >= 5x: {'MET' if red >= 5 else 'NOT MET'}")  # fmt: skip
        if off["frames"] < 0.95 * off["passed"]:
            print(f"  note: with the gate off the detector could not keep up ({off['frames']:.1f} of "
                  f"{off['passed']:.1f} frames/s wanted were detected; the rest were replaced by newer ones), "
                  f"so the call reduction is a lower bound of the demand reduction")  # fmt: skip
        return rows
    finally:
        runtime.shutdown()


def run_live_server(args) -> None:
    """Server process for the live part: Runtime + n scene sims, detection on/off; prints
    'READY <ids> <token>', answers 'stats', stops at stdin EOF."""
    import json
    import logging

    logging.basicConfig(level=logging.WARNING)
    from app.server import make_server
    from bench.serving import bench_token, serve_stats
    from thermalstream.runtime import Runtime

    width, height = (int(v) for v in args.size.split("x"))
    detector = "yolo" if args.detect != "off" else "none"
    settings = detect_settings(Path(args.data_dir), detector, args.backend, port=args.port, live_fps=args.fps)
    runtime = Runtime.create(settings).start()
    ids = [runtime.cameras.connect(u, f"sim {i}")["id"] for i, u in
           enumerate(scene_urls(args.n, width, height, args.fps))]  # fmt: skip
    model = "-"
    if detector != "none":
        h = wait_detector(runtime)
        model = f"{h['backend']} {h['status']}"
        for cid in ids:
            runtime.detection.configure(cid, enabled=True, fps=args.detect_fps, bypass_gate=args.detect == "bypass")
    server = make_server(runtime, port=args.port, threaded=True)

    def stats() -> dict:
        out = {}
        for cid in ids:
            cam = runtime.manager.get(cid)
            out[cid] = {"frames": cam.stats().frames if cam else 0}
        w = runtime.detection.worker.stats()
        return {"cams": out, "calls": w["calls"], "frames": w["frames"]}

    serve_stats(runtime, server, args.port,
                [json.dumps(ids, separators=(",", ":")), bench_token(runtime), json.dumps(model)], stats)


def live_measure(mode: str, n: int, seconds: float, warmup: float, size: str, fps: float, detect_fps: float,
                 backend: str, work: Path) -> dict:  # fmt: skip
    import json

    import psutil

    from bench.serving import Proc, free_port, tree_cpu

    me = [sys.executable, str(Path(__file__).with_name("detect.py"))]  # its main() runs the children
    port = free_port()
    server = Proc(me + ["_server", "--detect", mode, "--n", str(n), "--port", str(port), "--data-dir",
                        str(work / f"live-{mode}-{n}"), "--fps", str(fps), "--size", size,
                        "--detect-fps", str(detect_fps), "--backend", backend], "server")  # fmt: skip
    client = None
    try:
        ready = server.expect("READY", 600).split(" ", 2)
        ids, token, model = json.loads(ready[0]), ready[1], json.loads(ready[2])
        os.environ["BENCH_TOKEN"] = token  # inherited by the client process (not on its command line)
        client = Proc(me + ["_wsclient", "--port", str(port), "--ids", ",".join(map(str, ids))], "ws client")
        client.expect("READY", 120)
        time.sleep(warmup)
        sp = psutil.Process(server.p.pid)
        server.send("stats")
        s0 = json.loads(server.expect("STATS", 30))
        psutil.cpu_percent()
        t0, c0 = time.time(), tree_cpu(sp)
        time.sleep(seconds)
        t1, c1 = time.time(), tree_cpu(sp)
        host = psutil.cpu_percent()
        server.send("stats")
        s1 = json.loads(server.expect("STATS", 30))
        client.send(f"{t0!r} {t1!r}")
        res = json.loads(client.expect("RESULT", 60))
        dt = t1 - t0
        captured = sum(s1["cams"][k]["frames"] - s0["cams"][k]["frames"] for k in s1["cams"])
        return {"mode": mode, "model": model, "seconds": dt, "cpu_pct": 100 * (c1 - c0) / dt, "host_pct": host,
                "capt_fps": captured / dt / n, "calls": (s1["calls"] - s0["calls"]) / dt, **res}  # fmt: skip
    finally:
        if client is not None:
            client.close()
        server.close()


def live_bench(n: int, seconds: float, warmup: float, size: str, fps: float, detect_fps: float, backend: str,
               work: Path, bypass: bool) -> list[dict]:  # fmt: skip
    import statistics

    print(f"\n== Live fps with detection: {n} sims {size} at {fps:g} fps (camera 0: one walker, {n - 1} static), "
          f"one WebSocket viewer per camera (bench/live.py's client), server in its own process; {seconds:g} s "
          f"each after {warmup:g} s warm-up; detection at {detect_fps:g} fps per camera", flush=True)  # fmt: skip
    modes = [("off", "detection off (baseline)"), ("gate", "detection on, motion gate")]
    if bypass:
        modes.append(("bypass", "detection on, bypass_gate"))
    rows = []
    for mode, label in modes:
        try:
            r = live_measure(mode, n, seconds, warmup, size, fps, detect_fps, backend, work)
        except Exception as exc:  # noqa: BLE001 - report and go on
            print(f"  {label} failed: {exc}", flush=True)
            continue
        r["label"] = label
        rows.append(r)
    print(f"{'run':<28} {'detector':<14} {'fps/cam min':>11} {'mean':>6} {'capt fps':>8} {'p50 ms':>7} "
          f"{'p95 ms':>7} {'det calls/s':>11} {'srv CPU%':>8} {'host%':>6} {'drop':>7}")  # fmt: skip
    base = rows[0] if rows and rows[0]["mode"] == "off" else None
    for r in rows:
        mean = statistics.mean(r["fps"]) if r["fps"] else 0.0
        drop = "" if base is None or r is base else f"{100 * (1 - mean / statistics.mean(base['fps'])):6.1f}%"
        print(f"{r['label']:<28} {r['model']:<14} {min(r['fps'] or [0]):11.1f} {mean:6.1f} {r['capt_fps']:8.1f} "
              f"{r['p50'] or 0:7.0f} {r['p95'] or 0:7.0f} {r['calls']:11.1f} {r['cpu_pct']:8.0f} "
              f"{r['host_pct']:6.0f} {drop:>7}")  # fmt: skip
    if base is not None:
        for r in rows[1:]:
            drop = 100 * (1 - statistics.mean(r["fps"]) / statistics.mean(base["fps"]))
            print(f"{r['label']}: mean live fps drop {drop:.1f}% vs baseline "
                  f"(target <= 10% at 8 cameras: {'MET' if drop <= 10 else 'NOT MET'})")  # fmt: skip
    return rows
