"""Run an exported YOLO detection model on OpenVINO or ONNX Runtime directly: no ultralytics, no torch.

    model = ExportedModel.load(Path("data/models/yolov8n_256x320_openvino_model"))   # or a .onnx file
    model.backend, model.imgsz, model.names          # "openvino", (256, 320), {0: "person", ...}
    [pred] = model.predict([bgr_image], conf=0.4, iou=0.5, classes=[0, 2])
    pred.xyxy, pred.conf, pred.cls                   # boxes in the image's own pixels, clipped

A process that only runs ready exports pays for the runtime (ONNX Runtime or OpenVINO, 160-200 MB)
instead of ``import ultralytics`` (about 750 MB with torch); ultralytics is needed only to load ``.pt``
weights and make the exports (:mod:`thermalstream.detect.export`).

* **Metadata** comes from the export itself, as ultralytics wrote it: ``metadata.yaml`` in the
  ``*_openvino_model`` folder, the ``metadata_props`` of the ``.onnx`` file (``names``, ``imgsz``,
  ``task``, ``end2end``). A model without class names, or for another task, raises
  :class:`ExportProblem`. The input shape is the model's static input (the metadata's ``imgsz``
  when the input is dynamic).
* **Preprocessing** is ultralytics' for static exports: letterbox into the input shape (aspect kept,
  scaled up or down, linear interpolation, centred, padding value 114), BGR to RGB, /255, NCHW float32.
* **Decoding**: the ``(1, 4 + nc, N)`` output (centre x, y, width, height, one score per class) keeps
  each anchor's best class above ``conf`` (strictly), then the class filter, then per-class greedy NMS
  (a box goes when its IoU with a better one of its class is above ``iou``), at most ``max_det``
  boxes, best first. End-to-end exports (``(1, N, 6)``: x1, y1, x2, y2, score, class; no NMS) are
  filtered the same way. Boxes are mapped back through the letterbox and clipped to the image.
* **Threads**: ONNX Runtime gets one intra-op thread per CPU this process may use (no spinning
  between runs: the CPU is shared with capture and encoding); OpenVINO compiles with the latency
  hint ultralytics uses and its own thread choice; ``threads`` sets either.
"""

from __future__ import annotations

import ast
import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from thermalstream.detect.devices import CUDA_EP, onnx_providers

PAD_VALUE = 114
MAX_WH = 7680  # class offset for per-class NMS (larger than any box coordinate)
MAX_NMS = 30000  # candidates kept for NMS, best first
IOU = 0.7  # ultralytics' defaults
MAX_DET = 300


class ExportProblem(RuntimeError):
    """The export cannot be run; the message says what is wrong with it."""


@dataclass(frozen=True)
class Predictions:
    """One image's detections: ``xyxy`` (n, 4) float32 in its pixels, ``conf`` (n,), ``cls`` (n,) int."""

    xyxy: np.ndarray
    conf: np.ndarray
    cls: np.ndarray

    def __len__(self) -> int:
        return len(self.conf)


@dataclass(frozen=True)
class Letterbox:
    """How an image of ``shape`` (h, w) sits in the model input: ``gain`` (x, y), ``pad`` (left, top)."""

    shape: tuple[int, int]
    size: tuple[int, int]  # resized (w, h)
    gain: tuple[float, float]
    pad: tuple[int, int]
    border: tuple[int, int, int, int]  # top, bottom, left, right

    @classmethod
    def fit(cls, shape: tuple[int, int], imgsz: tuple[int, int]) -> Letterbox:
        h, w = shape
        r = min(imgsz[0] / h, imgsz[1] / w)
        nw, nh = max(round(w * r), 1), max(round(h * r), 1)
        dw, dh = (imgsz[1] - nw) / 2, (imgsz[0] - nh) / 2
        top, bottom, left, right = round(dh - 0.1), round(dh + 0.1), round(dw - 0.1), round(dw + 0.1)
        return cls((h, w), (nw, nh), (nw / w, nh / h), (left, top), (top, bottom, left, right))

    def apply(self, image: np.ndarray) -> np.ndarray:
        if image.shape[1::-1] != self.size:
            image = cv2.resize(image, self.size, interpolation=cv2.INTER_LINEAR)
        if any(self.border):
            image = cv2.copyMakeBorder(image, *self.border, cv2.BORDER_CONSTANT, value=(PAD_VALUE,) * 3)
        return image

    def unmap(self, xyxy: np.ndarray) -> np.ndarray:
        """Input-pixel boxes -> image pixels, clipped to the image."""
        out = xyxy.astype(np.float32, copy=True)
        out[:, [0, 2]] = ((out[:, [0, 2]] - self.pad[0]) / self.gain[0]).clip(0, self.shape[1])
        out[:, [1, 3]] = ((out[:, [1, 3]] - self.pad[1]) / self.gain[1]).clip(0, self.shape[0])
        return out


def to_blob(image: np.ndarray) -> np.ndarray:
    """A letterboxed BGR uint8 image -> (1, 3, h, w) RGB float32 in 0..1."""
    rgb = np.ascontiguousarray(image[..., ::-1].transpose(2, 0, 1))
    return rgb[None].astype(np.float32) / 255.0


def nms(boxes: np.ndarray, scores: np.ndarray, iou: float) -> np.ndarray:
    """Indices of the boxes kept by greedy NMS, best score first (IoU above ``iou`` suppresses)."""
    x1, y1, x2, y2 = boxes.T
    areas = (x2 - x1) * (y2 - y1)
    order = np.argsort(-scores, kind="stable")
    keep = []
    while order.size:
        i, rest = order[0], order[1:]
        keep.append(i)
        w = (np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest])).clip(0)
        h = (np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest])).clip(0)
        inter = w * h
        union = areas[i] + areas[rest] - inter
        overlap = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
        order = rest[overlap <= iou]
    return np.asarray(keep, dtype=np.int64)


def decode(out: np.ndarray, conf: float, iou: float = IOU, classes: list[int] | None = None,
           max_det: int = MAX_DET, end2end: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    """One image's raw output -> (xyxy in input pixels, conf, cls), best first."""
    if end2end:
        rows = out.reshape(-1, out.shape[-1])
        xyxy, score, cls = rows[:, :4], rows[:, 4], rows[:, 5].astype(np.int64)
        keep = score > conf
        if classes is not None:
            keep &= np.isin(cls, classes)
        idx = np.flatnonzero(keep)[:max_det]
        return xyxy[idx].astype(np.float32), score[idx].astype(np.float32), cls[idx]
    pred = out.reshape(out.shape[-2], out.shape[-1]).T  # (N, 4 + nc)
    scores = pred[:, 4:]
    cls = scores.argmax(1)
    score = scores[np.arange(len(cls)), cls]
    keep = score > conf
    if classes is not None:
        keep &= np.isin(cls, classes)
    pred, score, cls = pred[keep], score[keep], cls[keep]
    if len(score) > MAX_NMS:
        top = np.argsort(-score, kind="stable")[:MAX_NMS]
        pred, score, cls = pred[top], score[top], cls[top]
    cx, cy, w, h = pred[:, 0], pred[:, 1], pred[:, 2], pred[:, 3]
    xyxy = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
    idx = nms(xyxy + (cls * MAX_WH)[:, None], score, iou)[:max_det]
    return xyxy[idx].astype(np.float32), score[idx].astype(np.float32), cls[idx].astype(np.int64)


def available_threads() -> int:
    """CPUs this process may run on (its affinity mask, not the machine's count)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def _metadata_onnx(meta: dict[str, str]) -> dict:
    out = {}
    for key, value in meta.items():
        try:
            out[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            out[key] = value  # plain strings (author, task, ...)
    return out


def _metadata_openvino(folder: Path) -> dict:
    import yaml

    path = folder / "metadata.yaml"
    if not path.is_file():
        return {}
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ExportProblem(f"{path} cannot be read: {exc}") from exc
    return data if isinstance(data, dict) else {}


def _names(meta: dict, where: Path) -> dict[int, str]:
    names = meta.get("names")
    if not isinstance(names, dict) or not names:
        raise ExportProblem(f"{where} has no class names in its metadata; export it again from the .pt "
                            f"(thermalstream models export)")  # fmt: skip
    try:
        return {int(k): str(v) for k, v in names.items()}
    except (TypeError, ValueError) as exc:
        raise ExportProblem(f"{where}: class names {names!r} are not id: name pairs") from exc


def _imgsz(static: list, meta: dict, where: Path) -> tuple[int, int]:
    if len(static) == 4 and all(isinstance(d, int) and d > 0 for d in static[2:]):
        return int(static[2]), int(static[3])
    sz = meta.get("imgsz")
    if isinstance(sz, (list, tuple)) and len(sz) == 2:
        return int(sz[0]), int(sz[1])
    raise ExportProblem(f"{where} has a dynamic input and no imgsz in its metadata")


class ExportedModel:
    """An exported YOLO detection model on its own runtime (see the module docstring)."""

    def __init__(self, path: Path, backend: str, names: dict[int, str], imgsz: tuple[int, int],
                 end2end: bool, run) -> None:  # fmt: skip
        self.path = path
        self.backend = backend
        self.names = names
        self.imgsz = imgsz
        self.end2end = end2end
        self._run = run  # blob -> raw output array
        self.device = "cpu"  # where it computes: "cpu" or "cuda" (ONNX Runtime's CUDA provider)

    @classmethod
    def load(cls, path: Path | str, *, threads: int | None = None, device: str = "auto") -> ExportedModel:
        """Open a ``.onnx`` file or an OpenVINO folder (``*_openvino_model``) or ``.xml`` file; ``device``
        (:mod:`~thermalstream.detect.devices`) lets ONNX Runtime use CUDA. Raises :class:`ExportProblem`
        for what is not a usable detection export."""
        path = Path(path)
        if not path.exists():
            raise ExportProblem(f"{path} does not exist")
        if path.suffix == ".onnx":
            return cls._load_onnx(path, threads, device)
        if path.is_dir() or path.suffix == ".xml":
            return cls._load_openvino(path, threads)
        raise ExportProblem(f"{path} is neither a .onnx file nor an OpenVINO model folder")

    @classmethod
    def _check(cls, path: Path, meta: dict, static: list, backend: str, run) -> ExportedModel:
        task = meta.get("task", "detect")
        if task != "detect":
            raise ExportProblem(f"{path} is a YOLO {task} model, not a detection model")
        names, imgsz = _names(meta, path), _imgsz(static, meta, path)
        return cls(path, backend, names, imgsz, bool(meta.get("end2end", False)), run)

    @classmethod
    def _load_onnx(cls, path: Path, threads: int | None, device: str = "auto") -> ExportedModel:
        os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads or available_threads()
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        opts.log_severity_level = 3
        try:
            providers = onnx_providers(device, list(ort.get_available_providers()))
            session = ort.InferenceSession(str(path), opts, providers=providers)
        except Exception as exc:  # protobuf/graph errors of all kinds
            raise ExportProblem(f"{path} is not a loadable ONNX model ({type(exc).__name__}: "
                                f"{str(exc).strip()[:300]})") from exc  # fmt: skip
        meta = _metadata_onnx(session.get_modelmeta().custom_metadata_map)
        inp = session.get_inputs()[0]
        name = inp.name

        def run(blob: np.ndarray) -> np.ndarray:
            return session.run(None, {name: blob})[0]

        model = cls._check(path, meta, list(inp.shape), "onnx", run)
        model.device = "cuda" if session.get_providers()[0] == CUDA_EP else "cpu"
        return model

    @classmethod
    def _load_openvino(cls, path: Path, threads: int | None) -> ExportedModel:
        from thermalstream.detect.weights import disable_runtime_telemetry

        disable_runtime_telemetry()
        import openvino as ov

        folder = path if path.is_dir() else path.parent
        xml = path if path.suffix == ".xml" else next(iter(sorted(folder.glob("*.xml"))), None)
        if xml is None or not xml.with_suffix(".bin").is_file():
            raise ExportProblem(f"{folder} holds no OpenVINO model (.xml and .bin)")
        meta = _metadata_openvino(folder)
        config = {"PERFORMANCE_HINT": "LATENCY"}
        if threads:
            config["INFERENCE_NUM_THREADS"] = int(threads)
        try:
            core = ov.Core()
            model = core.read_model(model=str(xml), weights=str(xml.with_suffix(".bin")))
            static = [d.get_length() if d.is_static else -1 for d in model.input(0).get_partial_shape()]
            compiled = core.compile_model(model, "CPU", config)
        except Exception as exc:  # OpenVINO raises RuntimeError for everything
            raise ExportProblem(f"{xml} is not a loadable OpenVINO model ({type(exc).__name__}: "
                                f"{str(exc).strip()[:300]})") from exc  # fmt: skip
        request = compiled.create_infer_request()

        def run(blob: np.ndarray) -> np.ndarray:
            request.infer({0: blob})
            return request.get_output_tensor(0).data.copy()

        return cls._check(path, meta, static, "openvino", run)

    def predict(self, images: list[np.ndarray], conf: float = 0.25, iou: float = IOU,
                classes: list[int] | None = None, max_det: int = MAX_DET) -> list[Predictions]:  # fmt: skip
        """Detections for BGR uint8 images (grey images are taken as BGR), one run per image."""
        out = []
        for image in images:
            if image.ndim == 2:
                image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
            box = Letterbox.fit(image.shape[:2], self.imgsz)
            raw = self._run(to_blob(box.apply(image)))
            xyxy, score, cls = decode(raw, conf, iou, classes, max_det, self.end2end)
            out.append(Predictions(box.unmap(xyxy), score, cls))
        return out
