"""YOLO on OpenVINO or ONNX Runtime (run directly, no ultralytics) or on PyTorch (through ultralytics).

    det = YoloDetector.from_settings(settings, frame_shape=(512, 640))
    det.status()            # DetectorStatus(state="ready", backend="openvino", ...)
    det.detect([frame])     # [[Detection(label="person", confidence=0.81, box=Box(...), max_celsius=34.2, ...)]]

* **Weights**: ``Settings.model`` (``THERMALSTREAM_MODEL``), default ``data/models/yolov8n.pt``; an
  exported ``.onnx`` file or ``*_openvino_model`` folder works too (its backend is then fixed; its class
  names and input shape come from its own metadata).
  Missing, corrupt or non-detection weights leave the detector in state ``unavailable`` or
  ``error`` with a message saying what to do; ``detect`` then returns no detections and never raises.
* **Backend**: ``auto`` (default) takes the fastest that works: openvino > onnx > torch
  (bench/detect.py: YOLOv8n 256x320 about 8 ms on OpenVINO, 13 ms on ONNX Runtime, 20-28 ms on
  PyTorch on this 2-core machine). The ``.pt`` is exported at the input shape on first load (only
  the backend in use; ``thermalstream models export`` prepares both) and cached next to it
  (:mod:`thermalstream.detect.export`).
* **Runtimes**: OpenVINO and ONNX exports run on :class:`~thermalstream.detect.exported.ExportedModel`
  (the runtime alone, 160-200 MB, instead of ~750 MB for ``import ultralytics``). ultralytics (and
  torch) are imported only to check and export a ``.pt`` whose export is missing or stale, and for the
  torch backend. With a ready export and no ultralytics installed, the detector runs; with neither it
  is ``unavailable`` and says what to install.
* **Device** (``device``, ``THERMALSTREAM_DETECT_DEVICE``): ``auto`` uses a GPU where ONNX Runtime
  (``onnxruntime-gpu``) or torch can, ``cpu`` never, ``gpu`` only (:mod:`thermalstream.detect.devices`).
* **Input shape**: ``imgsz`` is the longest side (default 320) applied to ``frame_shape`` (aspect
  kept, multiples of 32: 512x640 -> 256x320), or an explicit ``(h, w)``. Frames of another shape are
  letterboxed into it (as ultralytics does); boxes always come back in the frame's own pixels.
* **Batching**: PyTorch runs a list of frames as one batch (``max_batch`` 8); the exported models are
  static batch-1 (see export.py for why) and run frame by frame (``max_batch`` 1).
* **Classes**: names come from the model. COCO models keep DEFAULT_CLASSES unless ``classes`` says
  otherwise; other models (e.g. the 2-class Normal/Fall one) keep all their classes. An unknown name
  raises ``ValueError`` listing the known ones (when the model is loaded; with unloadable weights the
  filter cannot be checked and the detector reports the weights problem instead).
* **Threads**: ultralytics sets torch to ``min(8, cpus - 1)`` threads (1 on 2 cores) whenever it picks
  a device (first predict, export); :func:`restore_torch_threads` puts it back afterwards (only where
  torch is already imported). The exported runtimes' threads: see exported.py.
* **Thermal frames** go through :class:`~thermalstream.detect.thermal_input.ThermalInput` (white-hot,
  three channels; see that module for the measured choice). ``max_celsius``/``mean_celsius`` are
  filled for radiometric frames.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from thermalstream.config import Settings
from thermalstream.detect.devices import (
    CUDA_EP,
    backend_order,
    check_device,
    no_gpu_message,
    onnx_available,
    torch_device,
)
from thermalstream.detect.export import (
    BACKENDS,
    available_backends,
    ensure_export,
    export_path,
    is_current,
    parse_imgsz,
    sha256_file,
)
from thermalstream.detect.exported import ExportedModel, ExportProblem, Predictions
from thermalstream.detect.thermal_input import ThermalInput
from thermalstream.detect.types import Box, Detection, Detector, DetectorStatus, box_temperatures
from thermalstream.detect.weights import (
    WeightsProblem,
    class_ids,
    import_ultralytics,
    installed,
    is_exported,
    load_model,
    prepare_offline,
    resolve_weights,
)
from thermalstream.frame import Frame

log = logging.getLogger(__name__)

TORCH_MAX_BATCH = 8
_torch_threads: int | None = None


def restore_torch_threads(n: int | None = None) -> None:
    """Set torch's intra-op threads to ``n`` (default: the last value asked for, else all CPUs).

    ultralytics' ``select_device`` sets ``min(8, cpus - 1)`` at every first predict/export. Does nothing
    (and imports nothing) in a process that has not imported torch."""
    global _torch_threads
    if n is not None:
        _torch_threads = n
    torch = sys.modules.get("torch")
    if torch is None:
        return
    want = _torch_threads or os.cpu_count() or 1
    if torch.get_num_threads() != want:
        torch.set_num_threads(want)


def _backend_of(path: Path) -> str:
    return "onnx" if path.suffix == ".onnx" else "openvino"


class YoloDetector(Detector):
    """Detector over a YOLO model: an export on its runtime, or a .pt through ultralytics (module docstring)."""

    name = "yolo"

    def __init__(
        self,
        weights: Path | str = Path("data/models/yolov8n.pt"),
        *,
        backend: str = "auto",
        device: str = "auto",
        frame_shape: tuple[int, int] = (512, 640),
        imgsz: int | tuple[int, int] | str = 320,
        conf: float = 0.4,
        iou: float = 0.5,
        classes: Iterable[str | int] | str | None = None,
        thermal_input: ThermalInput | str | None = None,
        settings: Settings | None = None,
        allow_download: bool = True,
        torch_threads: int | None = None,
        warmup: bool = True,
        lazy: bool = False,
    ) -> None:
        if backend not in ("auto", *BACKENDS):
            raise ValueError(f"unknown backend {backend!r}; choose auto or one of {', '.join(BACKENDS)}")
        for name, value in (("confidence threshold", conf), ("IoU threshold", iou)):
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0.0 <= float(value) <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, got {value!r}")
        self.settings = settings or Settings()
        prepare_offline(self.settings)
        self.weights = Path(weights)
        self.requested_backend = backend
        self.device = check_device(device)  # asked for: auto | cpu | gpu (devices.py)
        self.torch_device = "cpu"  # the torch backend's device once chosen
        self.frame_shape = (int(frame_shape[0]), int(frame_shape[1]))
        self.imgsz = parse_imgsz(imgsz, self.frame_shape)
        self.conf = float(conf)
        self.iou = float(iou)
        self.classes = classes
        if isinstance(thermal_input, str):
            thermal_input = ThermalInput(thermal_input)
        self.thermal_input = thermal_input or ThermalInput()
        self.allow_download = allow_download
        self.warmup = warmup
        if torch_threads is not None:
            restore_torch_threads(torch_threads)
        self.backend = ""
        self.names: dict[int, str] = {}
        self.class_ids: list[int] | None = None
        self.model_path: Path | None = None  # what actually runs (.pt, .onnx or *_openvino_model folder)
        self._model = None
        self._warm = False
        self._status = DetectorStatus("loading", model=str(self.weights), message="not loaded yet")
        self._lock = threading.RLock()
        self._notes: list[str] = []
        if not lazy:
            self.load()

    @classmethod
    def from_settings(cls, settings: Settings, **kwargs) -> YoloDetector:
        """A detector over ``settings.model``, with the export cache fallback under ``settings.cache_dir``."""
        return cls(settings.model, settings=settings, **kwargs)

    # ------------------------------------------------------------------ loading

    def load(self) -> DetectorStatus:
        """Load (exporting if needed). Weight problems go to ``status()``; a bad class filter raises
        ``ValueError``. Safe to call again (e.g. after the weights file was put in place)."""
        with self._lock:
            self._model = None
            self._warm = False
            self._notes = []
            self._status = DetectorStatus("loading", model=str(self.weights), message="loading")
            try:
                self._load()
                if self.warmup:  # the first predict builds the predictor and compiles: not on a live frame
                    self.predict_images([np.zeros((*self.frame_shape, 3), np.uint8)])
            except WeightsProblem as exc:
                self._status = DetectorStatus(exc.state, model=str(self.weights), message=exc.message)
            except ValueError:
                self._status = DetectorStatus("error", model=str(self.weights), message="bad class filter")
                raise
            except Exception as exc:  # never let a model problem take the server down
                log.exception("loading %s failed", self.weights)
                self._status = DetectorStatus("error", model=str(self.weights),
                                              message=f"loading {self.weights} failed: {type(exc).__name__}: {exc}")  # fmt: skip
            finally:
                restore_torch_threads()
            return self._status

    def _load(self) -> None:
        path = resolve_weights(self.weights, allow_download=self.allow_download)
        if is_exported(path):
            backend = _backend_of(path)
            if self.requested_backend not in ("auto", backend):
                raise WeightsProblem("error", f"{path} is an exported {backend} model; it cannot run on "
                                              f"{self.requested_backend}. Configure the .pt weights instead.")  # fmt: skip
            model = _open_export(path, self.device)
            if self.device == "gpu" and model.device == "cpu":
                raise WeightsProblem("unavailable", no_gpu_message([f"{backend}: runs on the CPU"]))
            self._use(model, path, backend)
            return
        self._load_checkpoint(path)

    def _load_checkpoint(self, path: Path) -> None:
        """The first backend (in order) that runs: a ready export directly, else export it (ultralytics)."""
        onnx_gpu = self.device != "cpu" and CUDA_EP in onnx_available()
        order = backend_order(self.device, self.requested_backend, BACKENDS, onnx_gpu)
        have, can_export = available_backends(), installed("ultralytics")
        cache = self.settings.cache_dir / "models"
        digest = sha256_file(path) if path.is_file() else ""
        checked = None  # the .pt through ultralytics, loaded once when needed
        for backend in order:
            if backend not in have:
                self._notes.append(f"{backend}: runtime not installed")
                continue
            if backend != "torch" and is_current(export_path(path, backend, self.imgsz, cache), digest, backend,
                                                 self.imgsz):  # fmt: skip
                ready = True
            elif can_export:  # checks the checkpoint first: a bad .pt is its own error, not a backend's
                checked = checked or load_model(path)
                ready = False
            else:
                self._notes.append(f"{backend}: no ready export at {self.imgsz[0]}x{self.imgsz[1]} (making one "
                                   f"needs ultralytics)")  # fmt: skip
                continue
            if backend == "torch":
                self.torch_device = torch_device(self.device)
                if self.device == "gpu" and self.torch_device == "cpu":
                    self._notes.append("torch: no CUDA device")
                    continue
                self._use(checked, path, "torch")
                return
            try:
                target = ensure_export(path, backend, self.imgsz, cache_dir=cache)
                model = _open_export(target, self.device)
            except Exception as exc:  # noqa: BLE001 - fall through to the next backend
                log.warning("%s backend unavailable for %s: %s", backend, path, exc)
                self._notes.append(f"{backend}: {exc}")
                continue
            if ready:
                log.info("%s: running the ready %s export %s without ultralytics", path, backend, target)
            self._use(model, target, backend)
            return
        if self.device == "gpu":
            raise WeightsProblem("unavailable", no_gpu_message(self._notes))
        if not can_export:
            try:
                import_ultralytics()  # raises 'unavailable' saying what to install
            except WeightsProblem as exc:
                raise WeightsProblem(exc.state, f"{exc.message} ({'; '.join(self._notes)})") from None
        raise WeightsProblem("error", f"no backend could run {path}: {'; '.join(self._notes)}")

    def _use(self, model, path: Path, backend: str) -> None:
        names = dict(model.names)
        ids = class_ids(self.classes, names)  # ValueError for an unknown class: raised, not a backend failure
        self._model = model
        self.model_path = path
        self.backend = backend
        self.names = names
        self.class_ids = ids
        if isinstance(model, ExportedModel):
            self.imgsz = model.imgsz
        runs_on = model.device if isinstance(model, ExportedModel) else self.torch_device
        msg = f"{backend} on {runs_on} at {self.imgsz[0]}x{self.imgsz[1]}, classes: " + ", ".join(
            self.names[i] for i in (self.class_ids if self.class_ids is not None else sorted(self.names)))
        if self._notes:
            msg += " (" + "; ".join(self._notes) + ")"
        self._status = DetectorStatus("ready", backend=backend, model=str(path), message=msg)

    # ------------------------------------------------------------------ Detector

    def status(self) -> DetectorStatus:
        return self._status

    @property
    def max_batch(self) -> int:
        return TORCH_MAX_BATCH if self.backend == "torch" else 1

    @property
    def ready(self) -> bool:
        return self._status.state == "ready"

    def detect(self, frames: list[Frame]) -> list[list[Detection]]:
        """One list of detections per frame; ``[]`` for every frame while the model is not ready."""
        frames = list(frames)
        if not frames:
            return []
        with self._lock:
            if self._model is None and self._status.state == "loading":
                try:
                    self.load()
                except ValueError as exc:
                    self._status = DetectorStatus("error", model=str(self.weights), message=str(exc))
            if self._model is None or self._status.state != "ready":
                return [[] for _ in frames]
            try:
                out: list[list[Detection]] = []
                step = self.max_batch
                for i in range(0, len(frames), step):
                    out.extend(self._run(frames[i:i + step]))
                return out
            except Exception as exc:
                log.exception("YOLO inference failed")
                self._status = DetectorStatus("error", backend=self.backend, model=str(self.model_path),
                                              message=f"inference failed: {type(exc).__name__}: {exc}")  # fmt: skip
                return [[] for _ in frames]

    def predict_images(self, images: list[np.ndarray]) -> list[Predictions]:
        """Boxes, confidences and class ids for BGR uint8 images, in each image's pixels (benchmarks, tests)."""
        with self._lock:
            model = self._model
            if isinstance(model, ExportedModel):
                return model.predict(images, conf=self.conf, iou=self.iou, classes=self.class_ids)
            res = model.predict(images, imgsz=self.imgsz, conf=self.conf, iou=self.iou,
                                classes=self.class_ids, device=self.torch_device, verbose=False)  # fmt: skip
            if not self._warm:
                self._warm = True
                restore_torch_threads()
            return [Predictions(r.boxes.xyxy.cpu().numpy(), r.boxes.conf.cpu().numpy(),
                                r.boxes.cls.cpu().numpy().astype(int)) for r in res]  # fmt: skip

    def _run(self, frames: list[Frame]) -> list[list[Detection]]:
        images = [self.thermal_input(f) for f in frames]
        out = []
        for frame, p in zip(frames, self.predict_images(images), strict=True):
            h, w = frame.shape
            dets = []
            for (x1, y1, x2, y2), c, k in zip(p.xyxy, p.conf, p.cls, strict=True):
                box = Box(float(max(0.0, x1)), float(max(0.0, y1)), float(min(w, x2)), float(min(h, y2)))
                tmax, tmean = box_temperatures(frame.celsius, box)
                dets.append(Detection(label=self.names.get(int(k), str(k)), confidence=float(c), box=box,
                                      class_id=int(k), max_celsius=tmax, mean_celsius=tmean))  # fmt: skip
            out.append(dets)
        return out

    def timed_detect(self, frames: list[Frame]) -> tuple[list[list[Detection]], float]:
        t = time.perf_counter()
        dets = self.detect(frames)
        return dets, (time.perf_counter() - t) * 1000


def _open_export(path: Path, device: str = "auto") -> ExportedModel:
    """The export on its own runtime; an unusable export is a :class:`WeightsProblem` (state ``error``)."""
    try:
        return ExportedModel.load(path, device=device)
    except ExportProblem as exc:
        raise WeightsProblem("error", f"{exc}. Configure the .pt weights (THERMALSTREAM_MODEL) and run "
                                      f"`thermalstream models export` to make it again.") from exc  # fmt: skip
