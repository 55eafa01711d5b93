"""``thermalstream models export``: prepare the fast OpenVINO/ONNX versions of the configured weights.

    models_export(settings, backends=("openvino", "onnx"), imgsz="256x320") -> [Path, ...]

``imgsz`` is ``(h, w)``, ``"HxW"`` or an int (the longest side, aspect of ``frame_shape``, default
512x640 -> 256x320). Exports go next to the weights (``data/models/yolov8n_256x320_openvino_model/``,
``data/models/yolov8n_256x320.onnx``) and are reused by ``YoloDetector`` at that input shape.
Missing or unusable weights raise :class:`ModelsError` whose message says what to do; a CLI
prints it and exits non-zero.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from thermalstream.config import Settings
from thermalstream.detect.export import EXPORT_BACKENDS, ensure_export, parse_imgsz
from thermalstream.detect.weights import (
    WeightsProblem,
    is_exported,
    load_model,
    prepare_offline,
    resolve_weights,
)


class ModelsError(RuntimeError):
    """The export could not run; the message is meant for the user."""


def models_export(
    settings: Settings,
    backends: Iterable[str] | str = EXPORT_BACKENDS,
    imgsz: int | tuple[int, int] | str = 320,
    *,
    frame_shape: tuple[int, int] = (512, 640),
    force: bool = False,
    allow_download: bool = True,
) -> list[Path]:
    """Export ``settings.model`` for each backend at ``imgsz``; returns the cached export paths."""
    if isinstance(backends, str):
        backends = [b.strip() for b in backends.split(",") if b.strip()]
    backends = list(dict.fromkeys(backends))
    bad = [b for b in backends if b not in EXPORT_BACKENDS]
    if bad or not backends:
        raise ValueError(f"unknown export backend(s) {', '.join(bad) or '(none given)'}; "
                         f"choose from {', '.join(EXPORT_BACKENDS)}")  # fmt: skip
    shape = parse_imgsz(imgsz, frame_shape)
    prepare_offline(settings)
    try:
        weights = resolve_weights(settings.model, allow_download=allow_download)
        if is_exported(weights):
            raise WeightsProblem("error", f"{weights} is already an exported model; set THERMALSTREAM_MODEL "
                                          f"to the .pt checkpoint to export it")  # fmt: skip
        load_model(weights)
    except WeightsProblem as exc:
        raise ModelsError(exc.message) from exc
    out = []
    for backend in backends:
        try:
            out.append(ensure_export(weights, backend, shape, cache_dir=settings.cache_dir / "models", force=force))
        except (RuntimeError, WeightsProblem) as exc:
            raise ModelsError(str(exc)) from exc
    return out
