"""Offline hygiene for ultralytics/OpenVINO, and finding and checking YOLO weights.

Call :func:`prepare_offline` before anything imports ``ultralytics`` or ``openvino``
(:func:`import_ultralytics` does both). It

* sets ``YOLO_OFFLINE=1``: ultralytics skips its DNS probe at import (``ONLINE`` is False,
  so its analytics and hub calls stay off); it does *not* stop an explicit asset download,
  which is what :func:`resolve_weights` relies on where a network exists;
* sets ``YOLO_AUTOINSTALL=0``: ultralytics never runs ``pip install`` behind our back;
* sets ``YOLO_CONFIG_DIR`` to ``settings.cache_dir / "ultralytics"`` so its settings file and
  font cache stay under the data directory instead of ``~/.config/Ultralytics``;
* sets ``YOLO_VERBOSE=False`` unless the variable is already set (no log line per frame);
* turns OpenVINO telemetry off. openvino_telemetry 2025.2 has no environment switch (its only
  knobs are the ``opt_in_out --opt_out`` script, which writes ``~/intel/openvino_telemetry``,
  and CI variables). OpenVINO's model converter imports it inside ``try/except ImportError``
  and falls back to a no-op stub, so we make that import fail for this process by putting
  ``None`` in ``sys.modules["openvino_telemetry"]``: nothing is sent and nothing is written in
  the home directory. If it was imported already, its ``Telemetry`` class is swapped for the stub;
* sets ``ORT_DISABLE_TELEMETRY=1``: ONNX Runtime 1.32 on Linux otherwise keeps a device id and a
  telemetry store in ``~/.cache/Microsoft/DeveloperTools/.onnxruntime`` (read when a session starts).

Weights come from ``Settings.model`` (``THERMALSTREAM_MODEL``, default ``data/models/yolov8n.pt``).
A missing file is downloaded through ultralytics only when its name is one of ultralytics'
release assets and a short (bounded) network probe succeeds; otherwise :class:`WeightsProblem`
says what to do. Corrupt files and checkpoints for other tasks (classify, segment, pose, obb)
are reported, never raised past the detector.
"""

from __future__ import annotations

import logging
import os
import socket
import ssl
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

from thermalstream.config import Settings
from thermalstream.detect.types import DEFAULT_CLASSES

log = logging.getLogger(__name__)

NETWORK_PROBE = ("github.com", 443)  # where ultralytics downloads its release assets from

_prepared_config_dir: str | None = None


def prepare_offline(settings: Settings | None = None) -> dict[str, str]:
    """Set the environment for offline, quiet, non-installing ultralytics/OpenVINO.

    Returns the variables it set. Call before importing ultralytics: the module reads them once
    at import, so the first call in a process decides the config directory.
    """
    global _prepared_config_dir
    settings = settings or Settings()
    config_dir = (settings.cache_dir / "ultralytics").resolve()
    config_dir.mkdir(parents=True, exist_ok=True)
    env = {"YOLO_OFFLINE": "1", "YOLO_AUTOINSTALL": "0", "YOLO_CONFIG_DIR": str(config_dir),
           "ORT_DISABLE_TELEMETRY": "1"}  # fmt: skip
    if "ultralytics" in sys.modules and _prepared_config_dir is None:
        log.warning("ultralytics was imported before prepare_offline(); its config dir and "
                    "auto-install setting were read already")  # fmt: skip
    if "ultralytics" in sys.modules and _prepared_config_dir:
        env["YOLO_CONFIG_DIR"] = _prepared_config_dir  # keep what the imported module uses
    os.environ.update(env)
    os.environ.setdefault("YOLO_VERBOSE", "False")
    _prepared_config_dir = env["YOLO_CONFIG_DIR"]
    disable_runtime_telemetry()
    return env


def disable_runtime_telemetry() -> None:
    """OpenVINO and ONNX Runtime telemetry off for this process (see the module docstring); also what a
    process that only runs exports (:mod:`thermalstream.detect.exported`) needs."""
    os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
    mod = sys.modules.get("openvino_telemetry", False)
    if mod is False:
        sys.modules["openvino_telemetry"] = None  # type: ignore[assignment]  # import -> ImportError -> stub
    elif mod is not None:
        try:
            from openvino.tools.ovc import telemetry_stub

            mod.Telemetry = telemetry_stub.Telemetry
        except Exception:  # pragma: no cover - openvino layout changed
            log.warning("could not turn OpenVINO telemetry off", exc_info=True)


def installed(name: str) -> bool:
    """True when ``import name`` would find the package (without importing it)."""
    import importlib.util

    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):  # sys.modules[name] = None, or a broken entry
        return False


def import_ultralytics(settings: Settings | None = None):
    """``prepare_offline`` (first time) then ``import ultralytics``, configured by :func:`configure_ultralytics`."""
    if settings is not None or _prepared_config_dir is None:
        prepare_offline(settings)
    try:
        import ultralytics
    except ImportError:
        raise WeightsProblem("unavailable", "YOLO needs the optional detection packages: "
                             "pip install 'thermalstream[yolo]' (or THERMALSTREAM_DETECTOR=hotspot for the "
                             "weightless thermal detector)") from None

    configure_ultralytics()
    return ultralytics


_configured = False


def configure_ultralytics() -> None:
    """Once per process: ultralytics' analytics off (``sync``) and its weights/datasets/runs folders
    under its config dir instead of the current directory."""
    global _configured
    if _configured:
        return
    _configured = True
    try:
        from ultralytics.utils import SETTINGS

        base = Path(SETTINGS.file).parent
        want = {"sync": False, "weights_dir": str(base / "weights"), "datasets_dir": str(base / "datasets"),
                "runs_dir": str(base / "runs")}  # fmt: skip
        if any(SETTINGS.get(k) != v for k, v in want.items()):
            SETTINGS.update(**want)
    except Exception:  # pragma: no cover - read-only config dir
        log.debug("could not update ultralytics settings", exc_info=True)


def network_available(timeout: float = 1.5, address: tuple[str, int] = NETWORK_PROBE) -> bool:
    """True when a TLS handshake with ``address`` (certificate checked) completes within ``timeout``.

    A TLS handshake, not just a TCP connect: sandboxes and captive networks often accept any TCP
    connection locally. Runs in a daemon thread and waits at most ``timeout + 0.5`` s in all, so
    a resolver that hangs (no network, unreachable DNS server) never blocks the caller for long.
    """
    result: list[bool] = []

    def probe() -> None:
        try:
            ctx = ssl.create_default_context()
            with socket.create_connection(address, timeout=timeout) as sock, \
                    ctx.wrap_socket(sock, server_hostname=address[0]):
                result.append(True)
        except (OSError, ssl.SSLError, ValueError):
            result.append(False)

    t = threading.Thread(target=probe, name="network-probe", daemon=True)
    t.start()
    t.join(timeout + 0.5)
    return bool(result and result[0])


class WeightsProblem(Exception):
    """Weights cannot be used. ``state`` is ``unavailable`` (missing) or ``error`` (bad file);
    the message says what is wrong and what to do."""

    def __init__(self, state: str, message: str):
        super().__init__(message)
        self.state = state
        self.message = message


def _what_to_do(path: Path) -> str:
    return (f"Put a YOLO detection checkpoint (.pt) at {path}, or set THERMALSTREAM_MODEL to one, "
            f"then run `thermalstream models export` to prepare the fast OpenVINO/ONNX versions; "
            f"or set THERMALSTREAM_DETECTOR=hotspot to use the weightless detector.")  # fmt: skip


def is_exported(path: Path) -> bool:
    """True for an exported model (``.onnx``, ``*_openvino_model/``), run by :mod:`~thermalstream.detect.exported`."""
    return path.suffix == ".onnx" or path.name.endswith("_openvino_model")


def resolve_weights(path: Path | str, *, allow_download: bool = True, probe_timeout: float = 1.5) -> Path:
    """The weights file to load, downloading ultralytics' own assets (``yolov8n.pt``...) when missing
    and a network is there. Raises :class:`WeightsProblem` (state ``unavailable``) otherwise."""
    path = Path(path).expanduser()
    if path.is_dir() and not path.name.endswith("_openvino_model"):
        raise WeightsProblem("error", f"{path} is a directory, not a weights file. {_what_to_do(path)}")
    if path.exists():
        return path
    if not allow_download:
        raise WeightsProblem("unavailable", f"YOLO weights not found at {path}. {_what_to_do(path)}")
    import_ultralytics()
    from ultralytics.utils.downloads import GITHUB_ASSETS_NAMES

    if path.name not in GITHUB_ASSETS_NAMES:
        raise WeightsProblem("unavailable",
                             f"YOLO weights not found at {path} (and {path.name} is not an ultralytics "
                             f"release asset that could be downloaded). {_what_to_do(path)}")  # fmt: skip
    if not network_available(probe_timeout):
        raise WeightsProblem("unavailable",
                             f"YOLO weights not found at {path} and there is no network to download "
                             f"{path.name}. {_what_to_do(path)}")  # fmt: skip
    from ultralytics.utils.downloads import attempt_download_asset

    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        got = Path(attempt_download_asset(path))
    except Exception as exc:  # any download failure is reported, not raised
        raise WeightsProblem("unavailable", f"downloading {path.name} failed ({exc}). {_what_to_do(path)}") from exc
    if not got.is_file():
        raise WeightsProblem("unavailable", f"downloading {path.name} failed. {_what_to_do(path)}")
    return got


def prepare_offline_if_needed() -> None:
    if _prepared_config_dir is None:
        prepare_offline()


@dataclass(frozen=True)
class WeightsInfo:
    path: Path
    task: str
    names: dict[int, str]


def load_model(path: Path, task: str = "detect"):
    """``ultralytics.YOLO(path)`` checked to be a ``task`` model; raises :class:`WeightsProblem`
    (state ``error``) for corrupt files, non-checkpoints and models for other tasks."""
    import_ultralytics()
    from ultralytics import YOLO

    path = Path(path)
    if path.is_file() and path.stat().st_size == 0:
        raise WeightsProblem("error", f"{path} is empty (0 bytes). {_what_to_do(path)}")
    try:
        model = YOLO(str(path), task=task) if is_exported(path) else YOLO(str(path))
    except Exception as exc:  # torch.load/pickle/zip errors of all kinds
        detail = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
        raise WeightsProblem("error",
                             f"{path} is not a usable YOLO checkpoint ({type(exc).__name__}: {detail}). "
                             f"{_what_to_do(path)}") from exc  # fmt: skip
    got = getattr(model, "task", None)
    if got != task:
        raise WeightsProblem("error",
                             f"{path} is a YOLO {got or 'unknown-task'} model, not a {task} model; the "
                             f"detector needs a detection checkpoint (e.g. yolov8n.pt, not yolov8n-cls.pt or "
                             f"yolov8n-seg.pt). {_what_to_do(path)}")  # fmt: skip
    names = getattr(model, "names", None)
    if not isinstance(names, dict) or not names:
        raise WeightsProblem("error", f"{path} has no class names. {_what_to_do(path)}")
    return model


def is_coco(names: dict[int, str]) -> bool:
    """True when ``names`` are the 80 COCO classes with ultralytics' ids (yolov8n.pt and friends)."""
    return len(names) == 80 and all(names.get(i) == n for i, n in DEFAULT_CLASSES.items())


def default_class_ids(names: dict[int, str]) -> list[int] | None:
    """COCO models keep the product's DEFAULT_CLASSES; other models (e.g. Normal/Fall) keep all (None)."""
    return sorted(DEFAULT_CLASSES) if is_coco(names) else None


def class_ids(classes, names: dict[int, str]) -> list[int] | None:
    """Model class ids for a filter given by name (case-insensitive) or id.

    ``None`` means the default (:func:`default_class_ids`). Unknown names raise ``ValueError``
    listing the known ones.
    """
    if classes is None:
        return default_class_ids(names)
    if isinstance(classes, str):
        classes = [c for c in (s.strip() for s in classes.split(",")) if c]
    by_name = {n.lower(): i for i, n in names.items()}
    ids: list[int] = []
    unknown: list[str] = []
    for c in classes:
        if isinstance(c, int) and not isinstance(c, bool):
            (ids.append(c) if c in names else unknown.append(str(c)))
        elif isinstance(c, str) and c.strip().lower() in by_name:
            ids.append(by_name[c.strip().lower()])
        else:
            unknown.append(repr(c))
    if unknown:
        raise ValueError(f"unknown class name(s) {', '.join(unknown)}; this model knows: "
                         f"{', '.join(names[i] for i in sorted(names))}")  # fmt: skip
    if not ids:
        raise ValueError("the class filter is empty; leave it unset to use the default classes")
    return sorted(set(ids))
