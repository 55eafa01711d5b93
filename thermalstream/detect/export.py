"""Export a YOLO checkpoint to OpenVINO / ONNX at a camera's frame shape, cached next to the weights.

Cache layout for ``data/models/yolov8n.pt`` at input 256x320 (height x width)::

    data/models/yolov8n_256x320_openvino_model/      (yolov8n.xml, yolov8n.bin, metadata.yaml,
                                                      thermalstream-export.json)
    data/models/yolov8n_256x320.onnx
    data/models/yolov8n_256x320.onnx.json             (the ONNX file's stamp)

The stamp records the SHA-256 of the weights, the ultralytics version and the input shape; an
export whose stamp does not match is redone, so replacing ``yolov8n.pt`` never runs a stale model.
Checking a ready export (:func:`is_current`, :func:`ensure_export` when nothing is stale) reads files
only; ultralytics is imported only to make an export. Exports are written in a temporary folder and renamed into place (atomic; a half-written export is
never seen), under an ``fcntl`` lock so two processes starting together export once. When the
weights' folder is read-only the cache goes to ``<cache_dir>/models`` instead.

Shapes: :func:`frame_imgsz` keeps the frame's aspect and rounds each side up to a multiple of 32
(512x640 -> 256x320 at max side 320; 240x320 -> 256x320). Exported models are static, batch 1:
on a 2-core CPU a static batch-N model only pays off when N frames are always ready, and it costs
N times the work when only one is; the shared worker runs exported models one frame at a time
(``YoloDetector.max_batch`` is 1) and batches only the PyTorch backend.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import math
import os
import shutil
import tempfile
import warnings
from pathlib import Path

log = logging.getLogger(__name__)

EXPORT_BACKENDS = ("openvino", "onnx")
BACKENDS = ("openvino", "onnx", "torch")  # fastest first (measured in bench/detect.py)
STAMP = "thermalstream-export.json"
STRIDE = 32


def frame_imgsz(frame_shape: tuple[int, int], max_side: int = 320) -> tuple[int, int]:
    """Model input (height, width) for a frame of ``frame_shape`` (height, width): aspect kept,
    longest side ``max_side``, both sides rounded up to a multiple of 32."""
    h, w = int(frame_shape[0]), int(frame_shape[1])
    if h <= 0 or w <= 0:
        raise ValueError(f"frame shape must be positive, got {frame_shape}")
    if max_side < STRIDE:
        raise ValueError(f"max_side must be at least {STRIDE}, got {max_side}")
    scale = max_side / max(h, w)
    return (STRIDE * max(1, math.ceil(h * scale / STRIDE - 1e-6)),
            STRIDE * max(1, math.ceil(w * scale / STRIDE - 1e-6)))  # fmt: skip


def parse_imgsz(value, frame_shape: tuple[int, int] = (512, 640)) -> tuple[int, int]:
    """``(h, w)``, ``"256x320"`` or an int (the longest side, aspect of ``frame_shape``) -> (h, w)."""
    if isinstance(value, str):
        text = value.lower().strip()
        if "x" in text:
            h, _, w = text.partition("x")
            value = (int(h), int(w))
        else:
            value = int(text)
    if isinstance(value, int):
        return frame_imgsz(frame_shape, value)
    h, w = (int(v) for v in value)
    if h <= 0 or w <= 0 or h % STRIDE or w % STRIDE:
        raise ValueError(f"input shape {h}x{w} must be positive multiples of {STRIDE}")
    return h, w


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _writable(folder: Path) -> bool:
    """True when ``folder`` is, or could be created, writable (creates nothing)."""
    p = folder.resolve()
    while not p.exists() and p != p.parent:
        p = p.parent
    return p.is_dir() and os.access(p, os.W_OK)


def cache_folder(weights: Path, cache_dir: Path | None = None) -> Path:
    """Where exports of ``weights`` live: next to them, or ``cache_dir/models`` if that is read-only."""
    if _writable(weights.parent) or cache_dir is None:
        return weights.parent
    return cache_dir / "models"


def export_path(weights: Path, backend: str, imgsz: tuple[int, int], cache_dir: Path | None = None) -> Path:
    """Path of the cached export (a ``.onnx`` file or an ``*_openvino_model`` folder)."""
    folder = cache_folder(Path(weights), cache_dir)
    tag = f"{Path(weights).stem}_{imgsz[0]}x{imgsz[1]}"
    if backend == "openvino":
        return folder / f"{tag}_openvino_model"
    if backend == "onnx":
        return folder / f"{tag}.onnx"
    raise ValueError(f"no export for backend {backend!r}; exported backends: {', '.join(EXPORT_BACKENDS)}")


def _stamp_path(target: Path) -> Path:
    return target / STAMP if target.suffix != ".onnx" else target.with_name(target.name + ".json")


def _stamp(weights_sha: str, backend: str, imgsz: tuple[int, int]) -> dict:
    """What an export is checked against (no ultralytics import: a ready export is checked without it)."""
    return {"weights_sha256": weights_sha, "backend": backend, "imgsz": list(imgsz), "batch": 1}


def is_current(target: Path, weights_sha: str, backend: str, imgsz: tuple[int, int]) -> bool:
    """True when ``target`` is a complete export of these weights at this shape (reads files only)."""
    stamp = _stamp_path(target)
    if not stamp.is_file():
        return False
    if backend == "onnx" and not target.is_file():
        return False
    if backend == "openvino" and not (target.is_dir() and any(target.glob("*.xml")) and any(target.glob("*.bin"))):
        return False
    try:
        got = json.loads(stamp.read_text())
    except (OSError, ValueError):
        return False
    want = _stamp(weights_sha, backend, imgsz)
    return all(got.get(k) == want[k] for k in ("weights_sha256", "backend", "imgsz", "batch"))


@contextlib.contextmanager
def _lock(path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    elif path.exists() or path.is_symlink():
        path.unlink(missing_ok=True)


def ensure_export(weights: Path | str, backend: str, imgsz: tuple[int, int], *,
                  cache_dir: Path | None = None, force: bool = False) -> Path:  # fmt: skip
    """The cached export of ``weights`` for ``backend`` at ``imgsz`` (h, w), exporting it if missing
    or stale. Raises ``RuntimeError`` with the exporter's message when the export fails."""
    from thermalstream.detect.weights import prepare_offline_if_needed

    prepare_offline_if_needed()
    weights = Path(weights)
    imgsz = (int(imgsz[0]), int(imgsz[1]))
    if backend not in EXPORT_BACKENDS:
        raise ValueError(f"no export for backend {backend!r}; exported backends: {', '.join(EXPORT_BACKENDS)}")
    target = export_path(weights, backend, imgsz, cache_dir)
    digest = sha256_file(weights)
    if not force and is_current(target, digest, backend, imgsz):
        return target
    with _lock(target.parent / f".{target.name}.lock"):
        if not force and is_current(target, digest, backend, imgsz):
            return target  # another process exported it while we waited
        _export(weights, backend, imgsz, target, digest)
    return target


def _export(weights: Path, backend: str, imgsz: tuple[int, int], target: Path, digest: str) -> None:
    from ultralytics import YOLO

    from thermalstream.detect.weights import load_model

    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=f".export-{target.name}-") as tmp:
        tmp = Path(tmp)
        src = tmp / weights.name
        try:
            os.link(weights, src)
        except OSError:
            shutil.copy2(weights, src)
        load_model(src)  # clear error for a non-detection or corrupt checkpoint
        model = YOLO(str(src))
        kwargs = {"format": backend, "imgsz": imgsz, "batch": 1, "dynamic": False, "device": "cpu", "verbose": False}
        if backend == "onnx":
            kwargs["simplify"] = False  # onnxslim is not installed; the simplifier gains nothing at runtime
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # torch.jit.trace / TorchScript ONNX deprecations, tracer warnings
                out = Path(model.export(**kwargs))
        except Exception as exc:
            raise RuntimeError(f"{backend} export of {weights} at {imgsz[0]}x{imgsz[1]} failed: {exc}") from exc
        finally:
            from thermalstream.detect.yolo import restore_torch_threads

            restore_torch_threads()
        if not out.is_absolute():
            out = tmp / out.name if (tmp / out.name).exists() else out.resolve()
        if not out.exists():
            raise RuntimeError(f"{backend} export of {weights} produced nothing at {out}")
        import ultralytics

        stamp = _stamp(digest, backend, imgsz) | {"ultralytics": ultralytics.__version__}
        if backend == "openvino":
            (out / STAMP).write_text(json.dumps(stamp, indent=1))
            _remove(target)
            os.replace(out, target)
        else:
            tmp_stamp = tmp / "stamp.json"
            tmp_stamp.write_text(json.dumps(stamp, indent=1))
            os.replace(out, target)
            os.replace(tmp_stamp, _stamp_path(target))  # stamp last: a crash in between means re-export
    log.info("exported %s to %s", weights, target)


def available_backends() -> list[str]:
    """Backends whose runtime is installed, fastest first (torch needs ultralytics too)."""
    from thermalstream.detect.weights import installed

    out = [b for b, mod in (("openvino", "openvino"), ("onnx", "onnxruntime")) if installed(mod)]
    if installed("torch") and installed("ultralytics"):
        out.append("torch")
    return out
